"""ECR: a function's image repository, the registry login, and the function image in it.

The image bytes go to the repository's registry (`<account>.dkr.ecr.<region>.amazonaws.com`),
or to the registry named by `SCAR_CI_ECR_REGISTRY` (a URL such as `http://127.0.0.1:5000`)
when the ECR API answers from somewhere that holds no images (moto's server, in tests); the
login is always ECR's `get_authorization_token`.
"""

from __future__ import annotations

import base64
import json
import os
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from scar_ci.aws.resource import (
    Key,
    Resource,
    Settings,
    absent_ok,
    ensure_ours,
    owned_of,
    paginate,
    unavailable,
)
from scar_ci.aws.session import Aws
from scar_ci.package.image.builder_choice import Builder
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import TAG_DELETE_IMAGES, our_tags, tag_dict, tag_list
from scar_ci.secret_sinks import report_secrets

if TYPE_CHECKING:  # the image builders (requests, ELF parsing) load when an image is built
    from scar_ci.package.image.build import ImageBuild
    from scar_ci.package.image.registry import Credentials
    from scar_ci.package.image.spec import BuiltImage, FunctionImageSpec

REGISTRY_VARIABLE = "SCAR_CI_ECR_REGISTRY"


def registry_host(aws: Aws) -> str:
    """Where images are pushed: ECR's registry, or `$SCAR_CI_ECR_REGISTRY`'s host."""
    override = os.environ.get(REGISTRY_VARIABLE, "").strip()
    if override:
        return urlsplit(override if "://" in override else f"https://{override}").netloc
    return f"{aws.account_id}.dkr.ecr.{aws.region}.amazonaws.com"


def login(aws: Aws) -> Credentials:
    """The registry login ECR hands out (user `AWS`, a 12-hour token), reported as secrets."""
    data = aws.client("ecr").get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    report_secrets([password, data["authorizationToken"]])
    from scar_ci.package.image.registry import Credentials

    return Credentials(user, password)


def _no_spec() -> FunctionImageSpec:
    """The spec of an image not described yet."""
    from scar_ci.package.image.spec import FunctionImageSpec

    return FunctionImageSpec("")


def lifecycle_policy(keep_images: int | None) -> str:
    """A policy expiring all but the newest `keep_images` images ('' for none)."""
    if not keep_images:
        return ""
    return json.dumps({"rules": [{
        "rulePriority": 1, "description": f"keep the newest {keep_images} images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                      "countNumber": keep_images},
        "action": {"type": "expire"}}]}, sort_keys=True)


@dataclass
class Repository(Resource):
    """A function's ECR repository; teardown deletes it (images included) only when its
    `scar-ci:delete-images` tag, written from `ecr.delete_image`, says so."""

    kind = "repository"
    name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    scan_on_push: bool = False
    lifecycle: str = ""  # a lifecycle policy's JSON text, '' for none

    def wanted(self) -> Settings:
        return {"scan_on_push": self.scan_on_push, "lifecycle": self.lifecycle,
                "tags": dict(self.tags)}

    def describe(self) -> str:
        return f"delete images on teardown: {self.tags.get(TAG_DELETE_IMAGES, 'false')}"

    def read(self, aws: Aws) -> Settings | None:
        client = aws.client("ecr")
        answer = absent_ok(client.describe_repositories, repositoryNames=[self.name])
        if answer is None:
            return None
        live = answer["repositories"][0]
        tags = _tags(client, live["repositoryArn"])
        ensure_ours(self, tags, self.tags)
        policy = absent_ok(client.get_lifecycle_policy, repositoryName=self.name)
        return {"scan_on_push": live.get("imageScanningConfiguration", {}).get("scanOnPush",
                                                                                 False),
                "lifecycle": _normal(policy["lifecyclePolicyText"]) if policy else "",
                "tags": our_tags(tags)}

    def create(self, aws: Aws) -> None:
        client = aws.client("ecr")
        client.create_repository(
            repositoryName=self.name, tags=tag_list(self.tags),
            imageScanningConfiguration={"scanOnPush": self.scan_on_push})
        if self.lifecycle:
            client.put_lifecycle_policy(repositoryName=self.name,
                                        lifecyclePolicyText=self.lifecycle)

    def update(self, aws: Aws, live: Settings) -> None:
        client = aws.client("ecr")
        if live["scan_on_push"] != self.scan_on_push:
            client.put_image_scanning_configuration(
                repositoryName=self.name,
                imageScanningConfiguration={"scanOnPush": self.scan_on_push})
        if live["lifecycle"] != self.lifecycle:
            if self.lifecycle:
                client.put_lifecycle_policy(repositoryName=self.name,
                                            lifecyclePolicyText=self.lifecycle)
            else:
                absent_ok(client.delete_lifecycle_policy, repositoryName=self.name)
        if live["tags"] != self.tags:
            arn = client.describe_repositories(
                repositoryNames=[self.name])["repositories"][0]["repositoryArn"]
            stale = [k for k in live["tags"] if k not in self.tags]
            if stale:
                client.untag_resource(resourceArn=arn, tagKeys=stale)
            client.tag_resource(resourceArn=arn,
                                tags=tag_list(self.tags))

    def delete(self, aws: Aws) -> None:
        absent_ok(aws.client("ecr").delete_repository, repositoryName=self.name, force=True)

    def kept_because(self, aws: Aws, delete_data: bool) -> str | None:
        if delete_data or self.tags.get(TAG_DELETE_IMAGES) == "true":
            return None
        return "kept with its images (ecr.delete_image is not true; --delete-data deletes it)"


def _tags(client: Any, arn: str) -> dict[str, str]:
    answer = client.list_tags_for_resource(resourceArn=arn)
    return tag_dict(answer.get("tags"))


def _normal(policy: str) -> str:
    """A policy's JSON text in the form `lifecycle_policy` writes."""
    return json.dumps(json.loads(policy), sort_keys=True)


def discover_repositories(aws: Aws, scope: Scope) -> Iterator[Repository]:
    """The scope's repositories (none where ECR is not available to these credentials)."""
    client = aws.client("ecr")
    try:
        repositories = list(paginate(client, "describe_repositories", "repositories"))
    except ClientError as error:
        if unavailable(error):
            return
        raise
    candidates = [live for live in repositories if scope.is_production
                  or live["repositoryName"].endswith(f"/{scope.stage}")]
    for live, tags in owned_of(scope, candidates,
                               lambda live: _tags(client, live["repositoryArn"])):
        yield Repository(live["repositoryName"], tags)


@dataclass(frozen=True)
class ImageOptions:
    """How the deploy engine makes function images: the builder, and where progress goes."""

    builder: Builder = "auto"
    say: Callable[[str], None] = field(default=lambda _: None, compare=False)


class RegistryImage(Resource):
    """An image in a repository, named by its tag (`ref`): created means pushed, and it is
    compared on that tag. Images go with their repository: teardown deletes the repository,
    or keeps it with its images; this resource never deletes one."""

    built: BuiltImage | None

    @property
    @abstractmethod
    def ref(self) -> str:
        """`host/repo:tag`."""

    @property
    def uri(self) -> str:
        """What a function or job definition names: pinned by digest once known."""
        return self.built.pinned if self.built else self.ref

    def wanted(self) -> Settings:
        return {"image": self.ref}

    def found(self, live: Settings) -> None:
        self.built = live["built"]

    def kept_detail(self) -> str:
        return f"{self.ref} already in the registry"

    def update(self, aws: Aws, live: Settings) -> None:
        self.create(aws)

    def delete(self, aws: Aws) -> None:
        """Never on its own (see the class)."""


@dataclass
class FunctionImage(RegistryImage):
    """The function's image, named by its content tag: created means built and pushed.

    The build stage (`prepare`) logs in and prepares the build with the chosen builder
    (layers, base, tag); `read` asks the registry for the tag, so the plan shows the image and
    an unchanged function pushes nothing; `create` builds and pushes that prepared build.
    """

    kind = "image"
    name: str  # the repository
    spec: FunctionImageSpec = field(repr=False, default_factory=_no_spec)
    builder: Builder = "auto"
    built: BuiltImage | None = None
    _build: ImageBuild | None = field(default=None, repr=False)

    @property
    def ref(self) -> str:
        """`host/repo:scar-<tag>` (the given image with `create_image: false`) once read."""
        if self._build:
            return str(self._build.target)
        return self.built.ref if self.built else self.spec.base or self.name

    def describe(self) -> str:
        used = f" ({self._build.builder} builder)" if self._build else ""
        return f"build and push {self.ref}{used}"

    def depends_on(self) -> tuple[Key, ...]:
        return (("repository", self.name),) if self.spec.create_image else ()

    def prepare(self, aws: Aws) -> None:
        """Log in to the registry and prepare the build (layers, base, content tag); with
        `create_image: false`, only the login the user's image may need."""
        host = registry_host(aws)
        if not self.spec.create_image:
            if self._base_host() == host:
                self.spec = replace(self.spec, base_credentials=login(aws))
            return
        credentials = login(aws)
        self.spec = replace(self.spec, target=f"{host}/{self.name}",
                            target_credentials=credentials,
                            base_credentials=credentials if self._base_host() == host else None)
        from scar_ci.package.image.build import prepare_build

        self._build = prepare_build(self.spec, self.builder)

    def read(self, aws: Aws) -> Settings | None:
        """Whether the registry has the image's tag (`create_image: false`: the given image,
        which must exist)."""
        from scar_ci.package.image.build import find_pushed, prepared_image

        if not self.spec.create_image:
            return {**self.wanted(), "built": prepared_image(self.spec)}
        built = find_pushed(self._prepared())
        return {**self.wanted(), "built": built} if built else None

    def _prepared(self) -> ImageBuild:
        if self._build is None:
            raise RuntimeError(f"image {self.name}: the build stage did not prepare it")
        return self._build

    def _base_host(self) -> str:
        """The registry of the user's image (a base in the account's ECR needs its login)."""
        from scar_ci.package.image.spec import parse_reference

        return parse_reference(self.spec.base, what="container.image").host

    def create(self, aws: Aws) -> None:
        self.built = self._prepared().push()
