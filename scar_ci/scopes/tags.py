"""The tags that mark a resource as scar-ci's, its scope's and its function's, and the
conversions between AWS's tag shapes. Every tag scar-ci writes starts with `scar-ci:`."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping

TAG_PREFIX = "scar-ci:"
TAG_MANAGED = "scar-ci:managed"
TAG_SCOPE = "scar-ci:scope"
TAG_KIND = "scar-ci:kind"
TAG_REF = "scar-ci:ref"
TAG_SCOPE_ID = "scar-ci:scope-id"  # 128-bit digest of the scope's kind and identifier
TAG_REF_EXACT = "scar-ci:ref-base64"  # the ref itself, when TAG_REF had to change it
TAG_CREATED = "scar-ci:created"  # when the scope was first deployed (ISO 8601, UTC)
TAG_SOURCE = "scar-ci:source"
TAG_FUNCTION = "scar-ci:fdl-function"
TAG_LAMBDA = "scar-ci:lambda"  # the deployed function an API or log group belongs to
TAG_STAGE = "scar-ci:api-stage"
TAG_SERVICES = "scar-ci:services"  # on functions: where else the function's resources are
TAG_API_PATH = "scar-ci:api-path"  # the URL's last segment when path_part is not a parameter
TAG_FDL = "scar-ci:fdl"
TAG_IMAGE = "scar-ci:image"
TAG_SUPERVISOR = "scar-ci:supervisor"
TAG_DELETE_IMAGES = "scar-ci:delete-images"  # what teardown does with a repository's images
TAG_VALUE_MAX = 256


def tag_value(text: str) -> str:
    """`text` as a value every AWS service accepts in a tag (letters, digits, ` _.:/=+-`)."""
    cleaned = "".join(
        ch if unicodedata.category(ch)[0] in "LN" or ch in " _.:/=+-" else "_" for ch in text
    )
    if cleaned[:4].lower() == "aws:":
        cleaned = f"_{cleaned}"
    return cleaned[:TAG_VALUE_MAX]


def scope_label(tags: Mapping[str, str]) -> str | None:
    """The label of the scope a resource was deployed for, if scar-ci manages it."""
    return tags.get(TAG_SCOPE) if tags.get(TAG_MANAGED) == "true" else None


def same_identity(wanted: Mapping[str, str], live: Mapping[str, str]) -> bool:
    """True when `live` tags were written for the scope identity `wanted` tags name: by the
    scope-id tag, or for a resource tagged before it existed, by the ref tag. A scope known
    only by its stage name (no scope-id) accepts any."""
    if TAG_SCOPE_ID not in wanted:
        return True
    if TAG_SCOPE_ID in live:
        return live[TAG_SCOPE_ID] == wanted[TAG_SCOPE_ID]
    return live.get(TAG_REF) == wanted.get(TAG_REF)


def our_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    """Only scar-ci's own tags (others may be added by users or policies; they are left alone)."""
    return {k: v for k, v in (tags or {}).items() if k.startswith(TAG_PREFIX)}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """Tags in the `[{"Key": k, "Value": v}]` form most AWS APIs take."""
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tag_dict(pairs: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    """Tags from the `[{"Key": k, "Value": v}]` form most AWS APIs answer with."""
    return {p["Key"]: p["Value"] for p in pairs or ()}
