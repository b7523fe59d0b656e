"""The registry client's checks of untrusted names and of registry answers (no network)."""

from __future__ import annotations

import pytest

from scar_ci.package.image.registry import (
    Credentials,
    InvalidReference,
    RegistryClient,
    RegistryError,
    check_digest,
    check_reference,
    check_repository,
    parse_challenge,
    sha256_digest,
)


@pytest.mark.parametrize("name", ["busybox", "scar/pr-42", "a.b_c__d--e/f0", "x" * 255])
def test_valid_repository_names(name):
    assert check_repository(name) == name


@pytest.mark.parametrize("name", ["", "Upper/case", "../etc", "a//b", "a/", "-a", "a b",
                                  "a;rm -rf", "x" * 256, "a/b?mount=1"])
def test_invalid_repository_names_are_refused(name):
    with pytest.raises(InvalidReference, match="invalid repository name"):
        check_repository(name)


@pytest.mark.parametrize("reference", ["latest", "v1.2.3", "pr-42_ab", "A" * 128,
                                       sha256_digest(b"x")])
def test_valid_tags_and_digests(reference):
    assert check_reference(reference) == reference


@pytest.mark.parametrize("reference", ["", ".hidden", "-x", "a/b", "../x", "A" * 129,
                                       "feature/branch", "sha256:abc", "tag with space"])
def test_invalid_tags_are_refused(reference):
    with pytest.raises(InvalidReference):
        check_reference(reference)


def test_digest_must_be_full_sha256():
    with pytest.raises(InvalidReference, match="64 hex digits"):
        check_digest("sha256:" + "A" * 64)


def test_bearer_challenge_is_parsed():
    header = ('Bearer realm="https://auth.example/token",service="registry.example",'
              'scope="repository:a/b:pull,push repository:c:pull"')
    assert parse_challenge(header) == ("bearer", {
        "realm": "https://auth.example/token", "service": "registry.example",
        "scope": "repository:a/b:pull,push repository:c:pull"})
    assert parse_challenge('Basic realm="r"') == ("basic", {"realm": "r"})


def test_password_stays_out_of_repr():
    assert "s3cret" not in repr(Credentials("AWS", "s3cret"))


@pytest.mark.parametrize(("given", "url"), [
    ("123.dkr.ecr.us-east-1.amazonaws.com", "https://123.dkr.ecr.us-east-1.amazonaws.com"),
    ("http://127.0.0.1:5000/", "http://127.0.0.1:5000"),
    ("https://ghcr.io/v2/", "https://ghcr.io"),
])
def test_registry_address_forms(given, url):
    assert RegistryClient(given).url == url


@pytest.mark.parametrize("given", ["ftp://host", "file:///etc/passwd", "http://"])
def test_bad_registry_addresses_are_refused(given):
    with pytest.raises(RegistryError, match="invalid registry address"):
        RegistryClient(given)
