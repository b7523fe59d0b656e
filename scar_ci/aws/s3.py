"""S3: the input and output buckets of functions, with folder markers, tagged as the scope's."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from botocore.exceptions import ClientError

from scar_ci.aws.errors import error_code
from scar_ci.aws.parallel import parallel_map
from scar_ci.aws.resource import (
    Resource,
    Settings,
    absent_ok,
    ensure_ours,
    may_belong,
    owned_of,
    paginate,
)
from scar_ci.aws.session import Aws
from scar_ci.scopes.scope import PRODUCTION, Scope
from scar_ci.scopes.tags import TAG_MANAGED, TAG_SCOPE, our_tags, tag_dict, tag_list


class Ownership(StrEnum):
    """Whose a live bucket is, as its read found out."""

    OURS = "ours"  # tagged as this scope's
    UNFINISHED = "unfinished"  # untagged, left by an earlier run of this scope: finished now
    FOREIGN = "foreign"  # someone else's: used as it is, never changed nor deleted


DELETE_BATCH = 1000
NO_TAGS_ON_CREATE = ("InvalidArgument", "MalformedXML", "NotImplemented")
MARKERS_MAX = 100  # folder markers an unfinished bucket may hold


def split_path(path: str) -> tuple[str, str]:
    """`bucket/folder/sub` -> (`bucket`, `folder/sub`)."""
    bucket, _, folder = path.strip("/").partition("/")
    return bucket, folder.strip("/")


def bucket_tags(aws: Aws, bucket: str) -> dict[str, str] | None:
    """A bucket's tags ({} when it has none), or None when the bucket does not exist."""
    def read() -> dict[str, str] | None:
        try:
            answer = aws.client("s3").get_bucket_tagging(Bucket=bucket)
        except ClientError as error:
            if error_code(error) in ("NoSuchTagSet", "NoSuchTagSetError"):
                return {}
            if error_code(error) == "NoSuchBucket":
                return None
            raise
        return tag_dict(answer["TagSet"])

    return aws.fact(("s3 tags", bucket), read)


PACKAGE_PREFIX = "scar-ci/"  # function packages scar-ci writes to a deployment bucket


@dataclass
class Bucket(Resource):
    """A bucket used by the FDL's inputs and outputs; `folders` get empty `folder/` markers.

    A bucket that exists without scar-ci's tags is someone else's: it is used, never changed;
    except one scar-ci itself named for a preview scope (`<base>--<stage>`), owned by this
    account and holding some of the folder markers scar-ci writes for it and nothing else:
    an earlier run created it and stopped before tagging it, and this run finishes it. An
    empty bucket carries no such mark (a user's bucket named in `deployment.bucket` is
    empty too): it stays someone else's. Buckets are created with their tags in the
    CreateBucket call itself, so a run of this version leaves no such bucket.
    """

    kind = "bucket"
    name: str
    folders: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    ownership: Ownership | None = None  # what the plan's read found (None: not read, or new)

    def wanted(self) -> Settings:
        return {"folders": self.folders, "tags": dict(self.tags)}

    def describe(self) -> str:
        return " ".join(f"{f}/" for f in self.folders)

    def kept_detail(self) -> str:
        return ("exists, not scar-ci's: used as it is" if self.ownership is Ownership.FOREIGN
                else "unchanged")

    def read(self, aws: Aws) -> Settings | None:
        """The folders and tags, and whose the bucket is (`ownership`): someone else's is
        read as wanted, so the plan keeps it unchanged."""
        tags = bucket_tags(aws, self.name)
        if tags is None:
            return None
        if tags.get(TAG_MANAGED) != "true":
            markers = self._markers_left_by_an_earlier_run(aws, tags)
            if markers is None:
                return {**self.wanted(), "ownership": Ownership.FOREIGN}
            return {"folders": tuple(f for f in self.folders if f"{f}/" in markers),
                    "tags": {}, "ownership": Ownership.UNFINISHED}
        ensure_ours(self, tags, self.tags)
        return {"folders": self._present_folders(aws), "tags": our_tags(tags),
                "ownership": Ownership.OURS}

    def _present_folders(self, aws: Aws) -> tuple[str, ...]:
        """The folders that exist (their marker, or anything under them): with two or more,
        from one listing of the bucket's root (a folder is there when its first part is a
        common prefix), each folder not settled by it (a root of over 1000 entries, a
        nested folder under a present first part) with a HeadObject of its marker."""
        s3 = aws.client("s3")
        roots: set[str] | None = None
        if len(self.folders) > 1:
            answer = s3.list_objects_v2(Bucket=self.name, Delimiter="/")
            if not answer.get("IsTruncated"):
                roots = {p["Prefix"].rstrip("/") for p in answer.get("CommonPrefixes", ())}

        def present(folder: str) -> bool:
            first, slash, _ = folder.partition("/")
            if roots is not None and (first not in roots or not slash):
                return first in roots
            return absent_ok(s3.head_object, Bucket=self.name, Key=f"{folder}/") is not None

        return tuple(f for f in self.folders if present(f))

    def found(self, live: Settings) -> None:
        self.ownership = live["ownership"]

    def _markers_left_by_an_earlier_run(self, aws: Aws, tags: Mapping[str, str]
                                        ) -> set[str] | None:
        """The objects of a bucket an earlier run left untagged, or None when it is not
        one: it must be named by scar-ci for this preview scope, be this account's (checked
        with ExpectedBucketOwner) and hold at least one of this bucket's folder markers and
        nothing else."""
        label = self.tags.get(TAG_SCOPE, PRODUCTION)
        if tags or label == PRODUCTION or not self.name.endswith(f"--{label}"):
            return None
        try:
            answer = aws.client("s3").list_objects_v2(
                Bucket=self.name, MaxKeys=MARKERS_MAX, ExpectedBucketOwner=aws.account_id)
        except ClientError:
            return None  # another account's bucket (403), or gone
        keys = {item["Key"] for item in answer.get("Contents", ())}
        markers = {f"{folder}/" for folder in self.folders}
        return keys if not answer.get("IsTruncated") and keys and keys <= markers else None

    def create(self, aws: Aws) -> None:
        s3 = aws.client("s3")
        configuration: dict[str, object] = {"Tags": tag_list(self.tags)}
        if aws.region != "us-east-1":
            configuration["LocationConstraint"] = aws.region
        try:
            s3.create_bucket(Bucket=self.name, CreateBucketConfiguration=configuration)
        except ClientError as error:
            if error_code(error) not in NO_TAGS_ON_CREATE:
                raise
            del configuration["Tags"]  # an S3 API without tags at creation: tagged just after
            s3.create_bucket(Bucket=self.name, **(
                {"CreateBucketConfiguration": configuration} if configuration else {}))
        self.update(aws, {"folders": (), "tags": {}})  # tagged again: some S3 APIs ignore Tags

    def update(self, aws: Aws, live: Settings) -> None:
        s3 = aws.client("s3")
        if live["tags"] != self.tags:
            s3.put_bucket_tagging(Bucket=self.name, Tagging={
                "TagSet": tag_list(self.tags)})
        missing = [f for f in self.folders if f not in live["folders"]]
        # side by side: one after another, 50 functions' markers took 4 s at 40 ms
        parallel_map(lambda f: s3.put_object(Bucket=self.name, Key=f"{f}/", Body=b""), missing)

    def kept_because(self, aws: Aws, delete_data: bool) -> str | None:
        if delete_data:
            return None
        keys = self._keys(aws)
        data = [k for k in keys if not k.endswith("/") and not k.startswith(PACKAGE_PREFIX)]
        if data:
            return (f"holds {len(data)} object(s) scar-ci did not write; kept "
                    "(teardown --delete-data removes them)")
        return None

    def _keys(self, aws: Aws) -> list[str]:
        s3 = aws.client("s3")
        return [o["Key"] for o in paginate(s3, "list_objects_v2", "Contents", Bucket=self.name)]

    def delete(self, aws: Aws) -> None:
        s3 = aws.client("s3")
        keys = absent_ok(self._keys, aws=aws)
        if keys is None:
            return
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start:start + DELETE_BATCH]
            s3.delete_objects(Bucket=self.name,
                              Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
        absent_ok(s3.delete_bucket, Bucket=self.name)


def discover_buckets(aws: Aws, scope: Scope) -> Iterator[Bucket]:
    """The scope's buckets (tagged as its own)."""
    names = [bucket["Name"] for bucket in aws.client("s3").list_buckets().get("Buckets", ())
             if may_belong(scope, bucket["Name"])]
    for name, _ in owned_of(scope, names, lambda name: bucket_tags(aws, name)):
        yield Bucket(name)
