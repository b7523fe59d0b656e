"""Scopes: which deployment a run acts on (production, a branch, a pull request, a tag).

A scope turns the FDL's names into AWS resource names and gives the tags that mark a resource
as scar-ci's and as the scope's. Production keeps the FDL's names; any other scope appends its
stage name (`thumbs--pr-42`). Every name satisfies its service's rules for any branch or tag
name; whenever a name had to be changed or cut, a short hash of the original keeps different
inputs apart. docs/scopes.md describes the scheme.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from scar_ci.errors import UsageError
from scar_ci.github.context import GitHubContext
from scar_ci.scopes.tags import (
    TAG_CREATED,
    TAG_FUNCTION,
    TAG_KIND,
    TAG_MANAGED,
    TAG_REF,
    TAG_REF_EXACT,
    TAG_SCOPE,
    TAG_SCOPE_ID,
    TAG_SOURCE,
    TAG_VALUE_MAX,
    same_identity,
    scope_label,
    tag_value,
)

HASH_LEN = 8  # in resource names: production's names must not move, so it stays 8
STAGE_HASH_LEN = 12  # in stage names: 48 bits (the scope-id tag is what tells scopes apart)
STAGE_MAX = 28
IDENTITY_LEN = 32
PRODUCTION = "production"
LOG_GROUP_PREFIX = "/aws/lambda/"  # where Lambda writes a function's logs

_STAGE_BODY = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_HASH_TAIL = re.compile(rf"(?:^|-)[0-9a-f]{{{STAGE_HASH_LEN}}}$")
_PR_NUMBER = re.compile(r"[1-9][0-9]{0,9}")


class ScopeKind(StrEnum):
    """What a scope deploys: each kind but production has its own stage-name prefix."""

    PRODUCTION = "production"
    BRANCH = "branch"
    PR = "pr"
    TAG = "tag"
    MANUAL = "manual"


_PREFIX = {ScopeKind.BRANCH: "br", ScopeKind.PR: "pr", ScopeKind.TAG: "tag",
           ScopeKind.MANUAL: "mn"}
_KIND_OF_PREFIX = {prefix: kind for kind, prefix in _PREFIX.items()}


def _digest(text: str, width: int = HASH_LEN) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:width]


def _hashed(raw: str, budget: int, *, lower: bool, banned_start: re.Pattern[str] | None,
            width: int = HASH_LEN) -> str:
    """`raw` reduced to ASCII letters, digits and single hyphens, cut, plus a hash of `raw`
    (`width` hex digits)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", raw.lower() if lower else raw).strip("-")
    kept = slug[: budget - width - 1].rstrip("-")
    name = f"{kept}-{_digest(raw, width)}" if kept else _digest(raw, width)
    return banned_start.sub("", name) if banned_start else name


@dataclass(frozen=True)
class _Rule:
    """What one kind of AWS name allows, and how a scope's stage is attached to it."""

    max_len: int
    pattern: re.Pattern[str]
    min_len: int = 1
    lower: bool = False
    sep: str = "--"
    banned_start: re.Pattern[str] | None = None  # removed from a sanitised name's start

    def accepts(self, name: str) -> bool:
        return self.min_len <= len(name) <= self.max_len and bool(self.pattern.fullmatch(name))

    def hashed(self, raw: str, budget: int) -> str:
        return _hashed(raw, budget, lower=self.lower, banned_start=self.banned_start)


_LAMBDA_CHARS = re.compile(r"[A-Za-z0-9_-]+")
_S3_RESERVED = (r"(?!xn--|sthree-|amzn-s3-demo-)", r"(?<!-s3alias)(?<!--ol-s3)(?<!--x-s3)"
                r"(?<!--table-s3)(?<!\.mrap)")
_FUNCTION = _Rule(64, _LAMBDA_CHARS)
_LAYER = _Rule(140, _LAMBDA_CHARS)
_BATCH = _Rule(128, re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*"))
# IAM names are unique regardless of case: lowercase-only names cannot collide that way.
_ROLE = _Rule(64, re.compile(r"[a-z0-9_+=,.@-]+"), lower=True)
_API = _Rule(128, re.compile(r"[ -~]+"))  # printable ASCII
# OSCAR services are Kubernetes objects: a DNS-1123 label, and OSCAR's own limit of 39.
_OSCAR = _Rule(39, re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"), lower=True)
_ECR = _Rule(256, re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"),
            min_len=2, lower=True, sep="/")
# Buckets scar-ci names: no dots, so virtual-hosted HTTPS works for every name.
_BUCKET = _Rule(63, re.compile(rf"{_S3_RESERVED[0]}[a-z0-9][a-z0-9-]*[a-z0-9]{_S3_RESERVED[1]}"),
               min_len=3, lower=True, banned_start=re.compile(r"^(?:(?:sthree|amzn-s3-demo)-)+"))
# A production bucket named in the FDL is kept whenever S3 itself accepts it.
_BUCKET_AS_GIVEN = replace(_BUCKET, pattern=re.compile(
    rf"{_S3_RESERVED[0]}(?!.*\.\.)(?![0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$)"
    rf"[a-z0-9][a-z0-9.-]*[a-z0-9]{_S3_RESERVED[1]}"))


def _stage(kind: ScopeKind, raw: str) -> str:
    """The stage name of a scope: its kind's prefix, then `raw` itself or its hashed form.

    `raw` is kept only when it is already lowercase letters, digits and single hyphens and
    cannot be mistaken for a hashed form; two different hashed `raw`s share a stage only if
    their 48-bit hashes collide, and the scope-id tag still tells them apart.
    """
    prefix = _PREFIX[kind]
    budget = STAGE_MAX - len(prefix) - 1
    kept = (len(raw) <= budget and _STAGE_BODY.fullmatch(raw) and not _HASH_TAIL.search(raw)
            and not f"-{raw}".endswith("-s3alias"))
    body = raw if kept else _hashed(raw, budget, lower=True, banned_start=None,
                                    width=STAGE_HASH_LEN)
    return f"{prefix}-{body}"


def _is_stage(text: str) -> bool:
    prefix, _, body = text.partition("-")
    if prefix not in _KIND_OF_PREFIX or len(text) > STAGE_MAX or text.endswith("-s3alias"):
        return False
    if prefix == _PREFIX[ScopeKind.PR]:
        return bool(_PR_NUMBER.fullmatch(body))
    return bool(_STAGE_BODY.fullmatch(body))


def _printable(text: str, limit: int = 80) -> str:
    """`text` safe to print on one log line: control and format characters escaped, cut."""
    shown = "".join(
        ch if unicodedata.category(ch)[0] not in "CZ" or ch == " "
        else ascii(ch)[1:-1] for ch in text
    )
    return shown if len(shown) <= limit else f"{shown[: limit - 1]}…"


@dataclass(frozen=True)
class Scope:
    """One deployment of an FDL: production, a branch, a pull request, a tag or a named one.

    Build it with the class methods, never directly: they derive the stage from the kind and
    the identifier.
    """

    kind: ScopeKind
    stage: str  # "" for production
    ident: str | None = None  # branch, tag or label as given; PR number; None if unknown
    source: str | None = None  # owner/name of the repository deploying, when known
    branch: str | None = None  # a pull request's head branch, for descriptions
    created: str | None = None  # when first deployed (TAG_CREATED), set by the deploy

    # -- building --------------------------------------------------------------------------

    @classmethod
    def production(cls, source: str | None = None) -> Scope:
        return cls(ScopeKind.PRODUCTION, "", None, source)

    @classmethod
    def pull_request(cls, number: int, *, branch: str | None = None,
                     source: str | None = None) -> Scope:
        return cls(ScopeKind.PR, f"pr-{number}", str(number), source, branch)

    @classmethod
    def named(cls, kind: ScopeKind, ident: str, source: str | None = None) -> Scope:
        """A branch, tag or manual scope from its name, which may be any text."""
        return cls(kind, _stage(kind, ident), ident, source)

    @classmethod
    def parse(cls, text: str, source: str | None = None) -> Scope:
        """A scope from the `--scope` syntax (see docs/scopes.md); UsageError if malformed."""
        kind_word, colon, rest = text.partition(":")
        if text == PRODUCTION:
            return cls.production(source)
        if colon and kind_word in (ScopeKind.BRANCH, ScopeKind.TAG, ScopeKind.MANUAL) and rest:
            return cls.named(ScopeKind(kind_word), rest, source)
        if colon and kind_word == ScopeKind.PR:
            return cls._parse_pr(text, rest, source)
        if _is_stage(text):
            kind = _KIND_OF_PREFIX[text.partition("-")[0]]
            if kind is ScopeKind.PR:
                return cls.pull_request(int(text[3:]), source=source)
            return cls(kind, text, None, source)
        if text.startswith("pr-"):
            return cls._parse_pr(text, text[3:], source)
        if colon and kind_word in (ScopeKind.BRANCH, ScopeKind.TAG, ScopeKind.MANUAL):
            raise _scope_error(text, f"'{kind_word}:' needs a name after the colon")
        if text.lower() == PRODUCTION:
            raise _scope_error(text, f"write '{PRODUCTION}' in lowercase")
        hint = f"; for a branch of that name, write 'branch:{_printable(text)}'" if text else ""
        raise _scope_error(text, "not a scope" + hint)

    @classmethod
    def _parse_pr(cls, text: str, number: str, source: str | None) -> Scope:
        if not _PR_NUMBER.fullmatch(number):
            raise _scope_error(text, "a pull request number is a whole number from 1")
        return cls.pull_request(int(number), source=source)

    @classmethod
    def from_context(cls, context: GitHubContext) -> Scope:
        """The scope a GitHub event deploys to (see docs/scopes.md)."""
        source = context.repository or None
        if context.pull_request:
            pr = context.pull_request
            return cls.pull_request(pr.number, branch=pr.head_ref, source=source)
        if context.tag:
            return cls.named(ScopeKind.TAG, context.tag, source)
        branch = context.branch
        # scheduled runs run on the default branch, and their payload does not name it
        if branch and (branch == context.default_branch or context.event_name == "schedule"):
            return cls.production(source)
        if branch:
            return cls.named(ScopeKind.BRANCH, branch, source)
        raise UsageError(
            f"cannot tell which scope the GitHub event '{_printable(context.event_name)}' "
            f"(ref '{_printable(context.ref)}') deploys to: it names no branch, tag or pull "
            "request; pass --scope (e.g. --scope production)"
        )

    # -- naming ----------------------------------------------------------------------------

    @property
    def is_production(self) -> bool:
        return self.kind is ScopeKind.PRODUCTION

    @property
    def label(self) -> str:
        """The stage name, or `production`."""
        return self.stage or PRODUCTION

    def _name(self, rule: _Rule, base: str, as_given: _Rule | None = None) -> str:
        if self.is_production:
            return base if (as_given or rule).accepts(base) else rule.hashed(base, rule.max_len)
        scoped = f"{base}{rule.sep}{self.stage}"
        if rule.accepts(scoped):
            return scoped
        budget = rule.max_len - len(rule.sep) - len(self.stage)
        return f"{rule.hashed(base, budget)}{rule.sep}{self.stage}"

    def function_name(self, base: str) -> str:
        """Lambda function name for the FDL function `base` (1-64 of [A-Za-z0-9_-])."""
        return self._name(_FUNCTION, base)

    def log_group(self, base: str) -> str:
        """CloudWatch log group of the FDL function `base`."""
        return log_group_of(self.function_name(base))

    def api_name(self, base: str) -> str:
        """API Gateway REST API name for the FDL API (or function) name `base`."""
        return self._name(_API, base)

    def bucket(self, base: str) -> str:
        """S3 bucket name for the FDL bucket `base` (DNS-safe, no dots once scoped)."""
        return self._name(_BUCKET, base, _BUCKET_AS_GIVEN)

    def ecr_repository(self, base: str) -> str:
        """ECR repository name for `base`; the stage is a last path component (`base/pr-42`)."""
        return self._name(_ECR, base)

    def role_name(self, base: str) -> str:
        """IAM role name for `base` (lowercase: IAM names are unique regardless of case)."""
        return self._name(_ROLE, base)

    def batch_name(self, base: str) -> str:
        """AWS Batch job definition, compute environment or job queue name for `base`."""
        return self._name(_BATCH, base)

    def oscar_service(self, base: str) -> str:
        """OSCAR service name for the FDL service `base` (1-39 of [a-z0-9-], DNS-1123)."""
        return self._name(_OSCAR, base)

    def layer_name(self, base: str) -> str:
        """Lambda layer name for `base`."""
        return self._name(_LAYER, base)

    # -- tags ------------------------------------------------------------------------------

    @property
    def identity(self) -> str | None:
        """128 bits of SHA-256 of the kind and the identifier as given: what tells apart two
        scopes whose stage names are the same (None when the scope is known by its stage)."""
        if self.ident is None:
            return None
        return _digest(f"{self.kind.value}\0{self.ident}", IDENTITY_LEN)

    def tags(self, fdl_function: str | None = None) -> dict[str, str]:
        """Tags marking a resource as scar-ci's, this scope's and (optionally) a function's."""
        tags = {TAG_MANAGED: "true", TAG_SCOPE: self.label, TAG_KIND: self.kind.value}
        if self.ident is not None:
            tags[TAG_REF] = tag_value(self.ident)
            tags[TAG_SCOPE_ID] = self.identity or ""
            if tags[TAG_REF] != self.ident:
                tags[TAG_REF_EXACT] = base64.b64encode(self.ident.encode()).decode()[
                    :TAG_VALUE_MAX]
        if self.created:
            tags[TAG_CREATED] = self.created
        if self.source:
            tags[TAG_SOURCE] = tag_value(self.source)
        if fdl_function is not None:
            tags[TAG_FUNCTION] = tag_value(fdl_function)
        return tags

    def owns(self, tags: Mapping[str, str]) -> bool:
        """True when a live resource with these tags was deployed by scar-ci for this scope.

        When the scope knows its repository, resources deployed from other repositories into
        the same account are not its own, even under the same stage name.
        """
        if scope_label(tags) != self.label:
            return False
        if self.source is not None and tags.get(TAG_SOURCE) != tag_value(self.source):
            return False
        return same_identity(self.tags(), tags)

    @property
    def origin(self) -> str:
        """What the scope deploys, printable: `pull request #42`, `branch feature/x`."""
        if self.kind is ScopeKind.PR:
            return f"pull request #{self.ident}"
        if self.is_production:
            return PRODUCTION
        return f"{self.kind.value} {_printable(self.ident) if self.ident else '(name unknown)'}"

    def describe(self) -> str:
        """One line for plan headers: `scope pr-42 (pull request #42, branch feature/x)`."""
        if self.is_production:
            return "production (names as in the FDL)"
        ident = None if self.ident is None else _printable(self.ident)
        match self.kind, ident:
            case ScopeKind.PR, _ if self.branch:
                what = f"pull request #{ident}, branch {_printable(self.branch)}"
            case ScopeKind.PR, _:
                what = f"pull request #{ident}"
            case ScopeKind.MANUAL, str():
                what = f"named '{ident}' on the command line"
            case _, str():
                what = f"{self.kind.value} {ident}"
            case _:
                what = f"{self.kind.value}, given by its stage name"
        return f"scope {self.stage} ({what})"


def log_group_of(function: str) -> str:
    """The CloudWatch log group of the deployed function `function`."""
    return f"{LOG_GROUP_PREFIX}{function}"


def _scope_error(text: str, problem: str) -> UsageError:
    return UsageError(
        f"--scope '{_printable(text)}': {problem}. Use production, pr-<number>, "
        "branch:<name>, tag:<name>, manual:<label>, or a stage name as `scar-ci plan` "
        "prints it (br-..., tag-..., mn-...)."
    )


def created_now() -> str:
    """The TAG_CREATED value for a scope deployed now."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def created_at(scope: Scope) -> datetime | None:
    """When `scope` was first deployed, from its TAG_CREATED (None: unknown or unreadable)."""
    try:
        return datetime.strptime(scope.created or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def scope_from_tags(tags: Mapping[str, str]) -> Scope | None:
    """The scope a resource scar-ci deployed belongs to, rebuilt from its tags: its branch,
    tag or label only when the tags give it exactly (it must name the same stage), so a
    name cut or changed to fit a tag is never taken for another branch's."""
    label = scope_label(tags)
    try:
        scope = Scope.parse(label or "", tags.get(TAG_SOURCE))
    except UsageError:
        return None
    scope = replace(scope, created=tags.get(TAG_CREATED))
    if scope.kind in (ScopeKind.PRODUCTION, ScopeKind.PR):
        return scope
    ref = tags.get(TAG_REF)
    if TAG_REF_EXACT in tags:
        try:
            ref = base64.b64decode(tags[TAG_REF_EXACT], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            ref = None
    if ref and Scope.named(scope.kind, ref).stage == scope.stage:
        return replace(scope, ident=ref)
    return scope


def resolve_scope(flag: str | None, context: GitHubContext | None) -> Scope:
    """The scope of a run: the `--scope` flag, else the GitHub event, else production."""
    source = (context.repository or None) if context else None
    if flag is None:
        return Scope.from_context(context) if context else Scope.production()
    scope = Scope.parse(flag, source)
    pr = context.pull_request if context else None
    if pr and scope.kind is ScopeKind.PR and scope.ident == str(pr.number):
        return replace(scope, branch=pr.head_ref)
    return scope
