"""The registry client against a real docker-registry; images pulled back and run by udocker."""

from __future__ import annotations

import pytest

from scar_ci.errors import UserError
from scar_ci.package.image.registry import (
    Credentials,
    ImageNotFound,
    RegistryAuthError,
    RegistryClient,
    RegistryError,
    RegistryUnreachable,
    sha256_digest,
)
from scar_testbed.fixtures_containers import run_container
from scar_testbed.flaky_proxy import flaky_proxy
from scar_testbed.images import (
    DOCKER_MANIFEST,
    OCI_MANIFEST,
    read_docker_archive,
    read_oci_archive,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kind", ["oci", "docker"])
def test_pushed_archive_pulls_back_and_runs(kind, registry, test_image_archives, udocker,
                                            tmp_path):
    read = read_oci_archive if kind == "oci" else read_docker_archive
    manifest, media_type, blobs = read(test_image_archives[kind])
    assert media_type == (OCI_MANIFEST if kind == "oci" else DOCKER_MANIFEST)
    client = RegistryClient(registry.url)
    repository = f"scar-test/pushed-{kind}"

    first = client.push_image(repository, "v1", manifest, media_type, blobs)
    assert sorted(first.uploaded) == sorted(blobs) and first.present == []
    again = client.push_image(repository, "v1", manifest, media_type, blobs)
    assert again.uploaded == [] and again.bytes_sent == 0 and sorted(again.present) == sorted(blobs)
    stored = client.get_manifest(repository, "v1")
    assert (stored.content, stored.media_type) == (manifest, media_type)
    assert stored.digest == first.manifest_digest == sha256_digest(manifest)

    udocker.pull(f"{repository}:v1", registry.url)
    run = run_container(udocker, tmp_path, image=f"{repository}:v1", input_data=b"pulled\n")
    assert run.returncode == 0, run.result.stderr
    assert run.outputs == {"input.txt.upper": b"PULLED\n"}


def test_chunked_upload_mount_and_download(registry, test_image, tmp_path):
    client = RegistryClient(registry.url)
    layer_file = tmp_path / "layer.tar.gz"
    layer_file.write_bytes(test_image.layer_gzip)
    digest = client.upload_blob("scar-test/chunked", layer_file, chunk_size=256 * 1024)
    assert digest == sha256_digest(test_image.layer_gzip)
    assert client.blob_exists("scar-test/chunked", digest)
    assert client.get_blob("scar-test/chunked", digest) == test_image.layer_gzip

    assert not client.blob_exists("scar-test/mounted", digest)
    assert client.mount_blob("scar-test/mounted", digest, "scar-test/chunked")
    assert client.blob_exists("scar-test/mounted", digest)
    unknown = sha256_digest(b"never uploaded")
    assert not client.mount_blob("scar-test/mounted", unknown, "scar-test/chunked")

    report = client.push_image("scar-test/pushed-by-mount", "m", test_image.manifest(),
                               OCI_MANIFEST, {sha256_digest(test_image.config): test_image.config},
                               mount_from=["scar-test/nothing-here", "scar-test/chunked"])
    assert report.mounted == [digest] and report.present == []
    assert report.uploaded == [sha256_digest(test_image.config)]
    assert report.bytes_sent == len(test_image.config)


def test_missing_image_and_unknown_blob_are_clear(registry, test_image):
    client = RegistryClient(registry.url)
    with pytest.raises(ImageNotFound, match=r"scar-test/nothing:v9.*check the repository"):
        client.get_manifest("scar-test/nothing", "v9")
    with pytest.raises(UserError, match=r"MANIFEST_BLOB_UNKNOWN|BLOB_UNKNOWN"):
        client.put_manifest("scar-test/incomplete", "v1", test_image.manifest(), OCI_MANIFEST)


def test_basic_auth_with_the_right_login_pushes(auth_registry, test_image):
    login = Credentials("AWS", auth_registry.credentials.password)
    client = RegistryClient(auth_registry.url, login)
    report = client.push_image("scar-test/private", "v1", test_image.manifest(), OCI_MANIFEST,
                               test_image.blobs)
    assert report.manifest_digest == client.get_manifest("scar-test/private", "v1").digest


@pytest.mark.parametrize("credentials", [None, Credentials("AWS", "wrong-token-value")])
def test_basic_auth_refusal_says_how_to_fix_without_the_secret(auth_registry, credentials):
    client = RegistryClient(auth_registry.url, credentials)
    with pytest.raises(RegistryAuthError) as raised:
        client.blob_exists("scar-test/private", sha256_digest(b"x"))
    message = str(raised.value)
    assert auth_registry.host in message and "scar-test/private" in message
    assert "get-authorization-token" in message
    assert "wrong-token-value" not in message
    assert auth_registry.credentials.password not in message


def test_unreachable_registry_is_one_clear_error(registry):
    client = RegistryClient("http://127.0.0.1:9", timeout=5)
    with pytest.raises(RegistryUnreachable, match=r"cannot reach registry http://127\.0\.0\.1:9"):
        client.get_manifest("scar-test/any", "v1")


def test_bearer_token_login_pushes_mounts_and_downloads(token_registry, test_image):
    login = Credentials("scar", token_registry.credentials.password)
    client = RegistryClient(token_registry.url, login)
    client.push_image("scar-test/tokens", "v1", test_image.manifest(), OCI_MANIFEST,
                      test_image.blobs)
    layer = sha256_digest(test_image.layer_gzip)
    assert client.mount_blob("scar-test/tokens-copy", layer, "scar-test/tokens")
    assert client.get_blob("scar-test/tokens-copy", layer) == test_image.layer_gzip

    with pytest.raises(RegistryAuthError, match=r"token service .* refused the login"):
        RegistryClient(token_registry.url, Credentials("scar", "wrong")).get_manifest(
            "scar-test/tokens", "v1")
    with pytest.raises(RegistryAuthError, match="refused the login for scar-test/tokens"):
        RegistryClient(token_registry.url).blob_exists("scar-test/tokens", layer)


def test_a_flaky_registry_is_retried_on_one_kept_alive_connection(registry, test_image,
                                                                  tmp_path):
    """The registry behind a proxy answering 502, 429 and dropping a connection: the push and
    the pull still succeed, over a few connections; a 404 (a "no") is not retried."""
    with flaky_proxy(registry.url) as proxy:
        client = RegistryClient(proxy.url)
        proxy.fail_next(502)
        proxy.fail_next(429)
        report = client.push_image("scar-test/flaky", "v1", test_image.manifest(),
                                   OCI_MANIFEST, test_image.blobs)
        assert sorted(report.uploaded) == sorted(test_image.blobs)
        assert [status for _, _, status in proxy.requests[:3]] == [502, 429, 404]
        proxy.drop_next()
        proxy.fail_next(503)
        layer = tmp_path / "layer"
        digest = sha256_digest(test_image.layer_gzip)
        assert client.download_blob("scar-test/flaky", digest, layer) == len(
            test_image.layer_gzip)
        assert client.get_manifest("scar-test/flaky", "v1").content == test_image.manifest()
        assert len(proxy.requests) >= 3 * proxy.connections  # keep-alive across the blobs
        seen = len(proxy.requests)
        with pytest.raises(ImageNotFound):
            client.get_manifest("scar-test/flaky", "v2")
        assert len(proxy.requests) == seen + 1


def test_a_registry_failing_every_time_is_one_clear_error(registry):
    with flaky_proxy(registry.url) as proxy:
        proxy.fail_always(500)
        with pytest.raises(RegistryError, match=r"^registry 127\.0\.0\.1:\d+ answered HTTP 500 "
                                                r"while fetching manifest scar-test/any:v1: "
                                                r"UNAVAILABLE: flaky proxy; check the registry"):
            RegistryClient(proxy.url).get_manifest("scar-test/any", "v1")
        assert len(proxy.requests) == 4  # the first try and three retries
