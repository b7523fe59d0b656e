"""Which storage paths a scope renames, one rule for both sides of a chain (docs/oscar.md).

The deployment's own buckets get the scope's bucket name: those of the Lambda functions'
default `s3` provider and those of the OSCAR services' cluster MinIO (`minio`, i.e.
`minio.default`). A path on another provider is renamed too when its bucket is one of those
(an OSCAR service's `s3.<id>` output into a Lambda function's bucket, a Lambda function's
`minio.<id>` output into a service's input bucket), so a chain stays one chain in every scope;
any other path is kept as written.
"""

from __future__ import annotations

from dataclasses import dataclass

from scar_ci.fdl import Fdl
from scar_ci.scopes.scope import Scope

OWN_MINIO = ("minio", "minio.default")


def bucket_of(path: str) -> str:
    return path.strip(" /").partition("/")[0]


@dataclass(frozen=True)
class ChainedBuckets:
    """The FDL's own buckets: on the default S3 provider and on the clusters' MinIO."""

    s3: frozenset[str] = frozenset()
    minio: frozenset[str] = frozenset()

    @classmethod
    def of(cls, fdl: Fdl) -> ChainedBuckets:
        return cls(
            frozenset(bucket_of(ref.path) for function in fdl.functions
                      for ref in (*function.input, *function.output)
                      if ref.storage_provider == "s3"),
            frozenset(bucket_of(ref["path"]) for service in fdl.oscar
                      for key in ("input", "output") for ref in service.raw.get(key, ())
                      if ref["storage_provider"] in OWN_MINIO))

    def renames(self, provider: str, bucket: str) -> bool:
        """True when `bucket` of `provider` is the deployment's, so named for the scope."""
        kind = provider.partition(".")[0]
        return provider == "s3" or provider in OWN_MINIO or (
            kind == "s3" and bucket in self.s3) or (kind == "minio" and bucket in self.minio)

    def path(self, scope: Scope, provider: str, path: str) -> str:
        """`path` (`bucket/folder`) in `scope`: the bucket renamed when the deployment's."""
        bucket, sep, folder = path.strip(" /").partition("/")
        if not self.renames(provider, bucket):
            return path
        return f"{scope.bucket(bucket)}{sep}{folder.strip('/')}"


NO_CHAIN = ChainedBuckets()  # only the default providers' buckets (s3, the cluster's MinIO)
