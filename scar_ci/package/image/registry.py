"""A daemonless registry client: the OCI distribution API over HTTP(S) on one requests
Session (connections kept alive across blobs).

Blobs (exists, upload monolithic or chunked, cross-repository mount, download), manifests
(Docker v2 schema 2 and OCI media types), Basic and Bearer-token authentication. A 429, a 5xx
or a dropped connection is retried with backoff (Retry-After honoured); answers that mean
"no" (401, 403, 404, ...) are not. Every failure is a `RegistryError` saying what failed,
where, and how to fix it; credentials and tokens never appear in messages.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from scar_ci.errors import UserError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
CHUNK_SIZE = 8 * 1024 * 1024
RETRIES = 3  # after the first try; sleeps 0, 1, 2 s unless the registry says Retry-After
BACKOFF = 0.5
# A chunk's PATCH is not retried: the registry may have taken part of it.
RETRIED_METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE"})
_ANY = ""
FIX_LOGIN = ("check the username and password or token; for Amazon ECR use user 'AWS' and a "
             "fresh token from ecr get-authorization-token (tokens last 12 hours)")


class RegistryError(UserError):
    """A registry operation failed."""


class RegistryAuthError(RegistryError):
    """The registry wants a login, refused it, or denied the operation."""


class RegistryUnreachable(RegistryError):
    """No HTTP answer from the registry at all."""


class ImageNotFound(RegistryError):
    """The manifest or blob asked for does not exist."""


class InvalidReference(RegistryError):
    """A repository name, tag or digest that the distribution spec does not allow."""


@dataclass(frozen=True)
class Credentials:
    """A registry login; the password (or token) is kept out of `repr`."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Manifest:
    """A manifest as stored: its exact bytes, media type and digest."""

    content: bytes
    media_type: str
    digest: str

    def json(self) -> dict[str, object]:
        """The manifest parsed."""
        parsed: dict[str, object] = json.loads(self.content)
        return parsed


@dataclass
class PushReport:
    """What a push did with each blob, and how many bytes went over the wire."""

    uploaded: list[str] = field(default_factory=list)
    mounted: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    manifest_digest: str = ""


def sha256_digest(data: bytes) -> str:
    """`sha256:<hex>` of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_repository(name: str) -> str:
    """`name` if it is a valid repository path, else InvalidReference."""
    if len(name) > 255 or not _REPOSITORY.fullmatch(name):
        raise InvalidReference(
            f"invalid repository name {name!r}: use lowercase letters, digits and . _ - "
            "separators, with / between path components (at most 255 characters)")
    return name


def check_reference(reference: str) -> str:
    """`reference` if it is a valid tag or sha256 digest, else InvalidReference."""
    if not (_TAG.fullmatch(reference) or _DIGEST.fullmatch(reference)):
        raise InvalidReference(
            f"invalid tag or digest {reference!r}: a tag is 1-128 of letters, digits, _ . - "
            "(not starting with . or -), a digest is sha256: and 64 hex digits")
    return reference


def check_digest(digest: str) -> str:
    """`digest` if it is a sha256 digest, else InvalidReference."""
    if not _DIGEST.fullmatch(digest):
        raise InvalidReference(f"invalid digest {digest!r}: expected sha256: and 64 hex digits")
    return digest


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`WWW-Authenticate: Bearer realm="..",service=".."` -> ("bearer", {realm, service})."""
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(params))


def _registry_errors(body: bytes) -> str:
    """The `errors` of a distribution-spec error body, as `CODE: message; ...`."""
    try:
        errors = json.loads(body)["errors"]
        return "; ".join(f"{e.get('code', '?')}: {e.get('message', '')}" for e in errors)
    except (ValueError, KeyError, TypeError, AttributeError):
        return body[:200].decode(errors="replace").strip()


def _session() -> requests.Session:
    """A Session retrying 429, 5xx and connection failures with backoff. On a redirect to
    another host (blob downloads go to storage) requests drops the Authorization header."""
    retry = Retry(total=RETRIES, backoff_factor=BACKOFF, allowed_methods=RETRIED_METHODS,
                  status_forcelist=(429, 500, 502, 503, 504), raise_on_status=False,
                  respect_retry_after_header=True)
    session = requests.Session()
    session.trust_env = False  # no ~/.netrc login sent along, no proxy variables' surprises
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


class RegistryClient:
    """One registry, e.g. `https://123456789012.dkr.ecr.us-east-1.amazonaws.com` or
    `http://127.0.0.1:5000` (plain HTTP only when the URL says so; no scheme means https)."""

    def __init__(self, url: str, credentials: Credentials | None = None,
                 *, timeout: float = 60) -> None:
        if "://" not in url:
            url = "https://" + url
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RegistryError(f"invalid registry address {url!r}: use host[:port], "
                                "https://host[:port] or http://host:port for a plain-HTTP one")
        self.url = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.netloc
        self.credentials = credentials
        self.timeout = timeout
        self._session = _session()
        # Authorization header per repository (Bearer tokens are scoped), or for any (Basic)
        self._authorization: dict[str, str] = {}

    # -- blobs ----------------------------------------------------------------------------

    def blob_exists(self, repository: str, digest: str) -> bool:
        """Whether `repository` already has blob `digest` (HEAD)."""
        path = f"/v2/{check_repository(repository)}/blobs/{check_digest(digest)}"
        response = self._request("HEAD", path, repository, ok=(200, 404),
                                 doing=f"checking blob {digest[:19]} in {repository}")
        return response.status == 200

    def mount_blob(self, repository: str, digest: str, source_repository: str) -> bool:
        """Try to mount `digest` from `source_repository` of the same registry into
        `repository` (no bytes sent); False when the registry declines."""
        check_repository(source_repository)
        mounted, location = self._start_upload(repository, digest, source_repository)
        if not mounted:
            self._cancel_upload(location, repository)
        return mounted

    def upload_blob(self, repository: str, blob: bytes | Path,
                    *, chunk_size: int | None = None) -> str:
        """Upload `blob` (bytes or a file) to `repository`; returns its digest. Monolithic
        (POST + PUT ?digest=) unless `chunk_size` is given (POST + PATCH... + PUT)."""
        digest = _digest_of(blob)
        _, location = self._start_upload(repository, None, None)
        doing = f"uploading blob {digest[:19]} to {repository}"
        if chunk_size is None:
            with _open(blob) as stream:
                self._request("PUT", _with_digest(location, digest), repository, ok=(201,),
                              body=stream, size=_size(blob), doing=doing,
                              content_type="application/octet-stream")
            return digest
        offset = 0
        with _open(blob) as stream:
            for chunk in iter(lambda: stream.read(chunk_size), b""):
                response = self._request(
                    "PATCH", location, repository, ok=(202,), body=chunk, size=len(chunk),
                    doing=doing, content_type="application/octet-stream",
                    headers={"Content-Range": f"{offset}-{offset + len(chunk) - 1}"})
                location = self._location(response, doing)
                offset += len(chunk)
        self._request("PUT", _with_digest(location, digest), repository, ok=(201,),
                      body=b"", size=0, doing=doing)
        return digest

    def get_blob(self, repository: str, digest: str) -> bytes:
        """Download blob `digest` and check that its content matches the digest."""
        path = f"/v2/{check_repository(repository)}/blobs/{check_digest(digest)}"
        doing = f"downloading blob {digest[:19]} from {repository}"
        body = self._request("GET", path, repository, ok=(200,), doing=doing).body
        if sha256_digest(body) != digest:
            raise RegistryError(f"{doing} at {self.host}: the content does not match its "
                                "digest; the registry or a proxy altered it, try again")
        return body

    def download_blob(self, repository: str, digest: str, dest: Path) -> int:
        """Stream blob `digest` into file `dest` (never whole in memory), check its digest;
        returns its size."""
        path = f"/v2/{check_repository(repository)}/blobs/{check_digest(digest)}"
        doing = f"downloading blob {digest[:19]} from {repository}"
        with dest.open("wb") as sink:
            self._request("GET", path, repository, ok=(200,), doing=doing, sink=sink)
        if _digest_of(dest) != digest:
            raise RegistryError(f"{doing} at {self.host}: the content does not match its "
                                "digest; the registry or a proxy altered it, try again")
        return dest.stat().st_size

    # -- manifests ------------------------------------------------------------------------

    def put_manifest(self, repository: str, reference: str, manifest: bytes,
                     media_type: str) -> str:
        """Store `manifest` under tag or digest `reference`; returns the manifest's digest."""
        path = f"/v2/{check_repository(repository)}/manifests/{check_reference(reference)}"
        self._request("PUT", path, repository, ok=(201,), body=manifest, size=len(manifest),
                      content_type=media_type,
                      doing=f"storing manifest {repository}:{reference}")
        return sha256_digest(manifest)

    def get_manifest(self, repository: str, reference: str,
                     accept: Sequence[str] = MANIFEST_TYPES) -> Manifest:
        """Fetch the manifest of tag or digest `reference` (exact bytes, type, digest)."""
        path = f"/v2/{check_repository(repository)}/manifests/{check_reference(reference)}"
        response = self._request("GET", path, repository, ok=(200,),
                                 headers={"Accept": ", ".join(accept)},
                                 doing=f"fetching manifest {repository}:{reference}")
        digest = sha256_digest(response.body)
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(f"manifest {repository}@{reference} from {self.host} does not "
                                "match its digest; the registry or a proxy altered it")
        media_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
        return Manifest(response.body, media_type, digest)

    # -- images ---------------------------------------------------------------------------

    def push_image(
        self,
        repository: str,
        reference: str,
        manifest: bytes,
        media_type: str,
        blobs: Mapping[str, bytes | Path],
        *,
        mount_from: Sequence[str] = (),
        chunk_size: int | None = None,
        progress: Callable[[PushReport, int], None] | None = None,
    ) -> PushReport:
        """Push an image: each blob the manifest names is skipped when present, mounted from
        one of `mount_from` when possible, else uploaded; then the manifest is stored.
        `progress` gets the report so far and the number of blobs after each blob."""
        report = PushReport()
        digests = _manifest_blobs(manifest)
        for digest in digests:
            if self.blob_exists(repository, digest):
                report.present.append(digest)
            elif any(self.mount_blob(repository, digest, source) for source in mount_from):
                report.mounted.append(digest)
            else:
                if digest not in blobs:
                    raise RegistryError(f"cannot push {repository}:{reference}: blob {digest} "
                                        "is named by the manifest but was not given")
                self.upload_blob(repository, blobs[digest], chunk_size=chunk_size)
                report.uploaded.append(digest)
                report.bytes_sent += _size(blobs[digest])
            if progress:
                progress(report, len(digests))
        report.manifest_digest = self.put_manifest(repository, reference, manifest, media_type)
        return report

    # -- HTTP -----------------------------------------------------------------------------

    def _start_upload(self, repository: str, digest: str | None,
                      source: str | None) -> tuple[bool, str]:
        query = f"?mount={check_digest(digest)}&from={source}" if digest and source else ""
        doing = (f"mounting blob {digest[:19]} from {source} into {repository}" if query
                 else f"starting a blob upload to {repository}")
        response = self._request("POST", f"/v2/{check_repository(repository)}/blobs/uploads/"
                                 + query, repository, ok=(201, 202), body=b"", size=0,
                                 doing=doing)
        return response.status == 201, self._location(response, doing)

    def _cancel_upload(self, location: str, repository: str) -> None:
        self._request("DELETE", location, repository, ok=(204, 404, 405),
                      doing=f"cancelling an upload to {repository}")

    def _location(self, response: _Response, doing: str) -> str:
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"{doing} at {self.host}: the registry sent no Location "
                                "header; it does not follow the distribution API")
        return urllib.parse.urljoin(self.url + "/", location)

    def _request(
        self,
        method: str,
        path_or_url: str,
        repository: str,
        *,
        ok: Sequence[int],
        doing: str,
        body: bytes | BinaryIO | None = None,
        size: int | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        sink: BinaryIO | None = None,
    ) -> _Response:
        url = urllib.parse.urljoin(self.url + "/", path_or_url)
        if urllib.parse.urlsplit(url).netloc != self.host:
            raise RegistryError(f"{doing}: {self.host} sent the upload to another host "
                                f"({urllib.parse.urlsplit(url).netloc}); not following it")
        all_headers = dict(headers or {})
        if content_type:
            all_headers["Content-Type"] = content_type
        if size is not None:
            all_headers["Content-Length"] = str(size)
        for attempt in range(2):
            known = self._authorization.get(repository) or self._authorization.get(_ANY)
            if known:
                all_headers["Authorization"] = known
            response = self._send(method, url, all_headers, body, doing, sink)
            if response.status != 401 or attempt == 1:
                break
            header = self._login(response, repository, doing)
            self._authorization[_ANY if header.startswith("Basic ") else repository] = header
            if body is not None and not isinstance(body, bytes):
                body.seek(0)
        if response.status in ok:
            return response
        raise self._error(response, doing)

    def _send(self, method: str, url: str, headers: Mapping[str, str],
              body: bytes | BinaryIO | None, doing: str,
              sink: BinaryIO | None = None) -> _Response:
        """One HTTP exchange; with `sink`, a 200 answer's body is copied there, not kept."""
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise RegistryError(f"{doing}: refusing the non-HTTP address {url!r}")
        try:
            with self._session.request(method, url, data=body, headers=dict(headers),
                                       timeout=self.timeout, stream=True) as answer:
                if sink is not None and answer.status_code == 200:  # the bytes as stored
                    for chunk in answer.raw.stream(CHUNK_SIZE, decode_content=False):
                        sink.write(chunk)
                    return _Response(answer.status_code, answer.headers, b"")
                return _Response(answer.status_code, answer.headers, answer.content)
        except requests.RequestException as error:
            raise RegistryUnreachable(
                f"cannot reach registry {self.url} ({_reason(error)}) while {doing}: check "
                "the address and that the registry runs; a plain-HTTP registry needs an "
                "http:// address") from None

    def _login(self, challenge: _Response, repository: str, doing: str) -> str:
        """The Authorization header that answers the registry's 401 challenge."""
        scheme, params = parse_challenge(challenge.headers.get("WWW-Authenticate") or "")
        if scheme == "bearer" and params.get("realm"):
            return "Bearer " + self._token(params, repository, doing)
        if scheme == "basic":
            return self._basic(f"for {repository} (while {doing})")
        raise RegistryAuthError(f"registry {self.host} asks for an unsupported login scheme "
                                f"{scheme!r} for {repository} (while {doing}); only Basic "
                                "and Bearer tokens are supported")

    def _token(self, params: Mapping[str, str], repository: str, doing: str) -> str:
        realm = params["realm"]
        if urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryAuthError(f"registry {self.host} names an invalid token service "
                                    f"{realm!r}; it is misconfigured")
        scopes = (params.get("scope") or f"repository:{repository}:pull,push").split()
        query = [("scope", scope) for scope in scopes]
        if params.get("service"):
            query.append(("service", params["service"]))
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        headers = {"Authorization": self._basic(f"at {realm}")} if self.credentials else {}
        answer = self._send("GET", url, headers, None, f"getting a token for {repository}")
        if answer.status in (401, 403):
            raise RegistryAuthError(f"token service {realm} refused the login"
                                    f"{self._as_user()} for {repository}: {FIX_LOGIN}")
        try:
            data = json.loads(answer.body)
            token = data.get("token") or data.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if answer.status != 200 or not isinstance(token, str) or not token:
            raise RegistryAuthError(f"token service {realm} gave no token for {repository} "
                                    f"(HTTP {answer.status}) while {doing}")
        return token

    def _basic(self, where: str) -> str:
        if self.credentials is None:
            raise RegistryAuthError(
                f"registry {self.host} requires a login {where}: pass credentials; for "
                "Amazon ECR the user 'AWS' and the token from ecr get-authorization-token")
        pair = f"{self.credentials.username}:{self.credentials.password}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    def _as_user(self) -> str:
        return f" of user {self.credentials.username!r}" if self.credentials else ""

    def _error(self, response: _Response, doing: str) -> RegistryError:
        detail = _registry_errors(response.body)
        where = f"registry {self.host} answered HTTP {response.status} while {doing}"
        if response.status == 401:
            return RegistryAuthError(f"{where}: the login{self._as_user()} was refused "
                                     f"({detail}); {FIX_LOGIN}")
        if response.status == 403:
            return RegistryAuthError(f"{where}: the login{self._as_user()} is not allowed to "
                                     f"do this ({detail}); check the repository exists and "
                                     "the user's permissions on it")
        if response.status == 404:
            return ImageNotFound(f"{where}: not found ({detail}); check the repository name, "
                                 "tag or digest")
        return RegistryError(f"{where}: {detail or 'no details'}; check the registry's state "
                             "and try again")


def _reason(error: requests.RequestException) -> str:
    """What went wrong underneath requests' wrapping (refused, reset, timed out, ...)."""
    cause: BaseException = error
    while cause.__context__ is not None and not isinstance(cause, OSError):
        cause = cause.__context__
    reason = getattr(cause, "reason", None) or cause
    return str(reason).split(": ", 1)[-1][:200]


def _manifest_blobs(manifest: bytes) -> list[str]:
    """Digests of the config and layers an image manifest names."""
    try:
        parsed = json.loads(manifest)
        return [check_digest(d["digest"]) for d in [parsed["config"], *parsed["layers"]]]
    except (ValueError, KeyError, TypeError) as error:
        raise RegistryError(f"not an image manifest (config and layers): {error}") from None


def _with_digest(location: str, digest: str) -> str:
    return location + ("&" if "?" in location else "?") + urllib.parse.urlencode(
        {"digest": digest})


def _digest_of(blob: bytes | Path) -> str:
    if isinstance(blob, bytes):
        return sha256_digest(blob)
    hasher = hashlib.sha256()
    with blob.open("rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK_SIZE), b""):
            hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def _size(blob: bytes | Path) -> int:
    return len(blob) if isinstance(blob, bytes) else blob.stat().st_size


@contextlib.contextmanager
def _open(blob: bytes | Path) -> Iterator[BinaryIO]:
    """A binary stream over bytes or a file."""
    with io.BytesIO(blob) if isinstance(blob, bytes) else blob.open("rb") as stream:
        yield stream
