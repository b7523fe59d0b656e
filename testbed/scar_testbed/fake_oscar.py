"""A stand-in OSCAR cluster: OSCAR's published REST API over plain HTTP, jobs that really run.

Routes (OSCAR's docs/api.md): `GET /health`; `GET /system/info`, `GET /system/config[/]`;
`GET|POST|PUT /system/services`, `GET|DELETE /system/services/<name>`; `POST /run/<name>`
(synchronous) and `POST /job/<name>` (asynchronous, 201); `GET|DELETE /system/logs/<name>`,
`GET|DELETE /system/logs/<name>/<job>`. `/system/*` takes HTTP basic auth (or a registered
OIDC token as a bearer); `/run` and `/job` take the service's token (or such an OIDC token).

A job runs the service's script in the service's image with udocker (the test bed's P1 with
Debian's proot), SCAR's way: `--entrypoint "/bin/sh script.sh"`, `$INPUT_FILE_PATH`,
`$TMP_OUTPUT_DIR`, `$STORAGE_OBJECT_KEY`, the service's variables. Its input is the request
body (base64, decoded) or, for a storage event, the object it names, read from the cluster's
MinIO (any S3 endpoint: LocalStack's); every file the script writes is uploaded to each output
path (the cluster's MinIO, or an S3 / MinIO provider of the service's `storage_providers`). An
upload into a service's MinIO input folder starts a job, as OSCAR's MinIO webhook does (polled
here). Images come from a catalog of `docker save` archives (`images`), not a registry.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import shutil
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from scar_testbed.fixtures_containers import STANDARD_IMAGE
from scar_testbed.http_stub import serving
from scar_testbed.udocker_env import Udocker

USER, PASSWORD = "oscar", "oscar-test-password"
NAME = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
LABEL_KEY = re.compile(r"(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*"
                       r"[A-Za-z0-9])?")
LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
OWN_MINIO = ("minio", "minio.default")
POLL_S = 0.3


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Job:
    """One execution: OSCAR's JobInfo fields and the pod's log."""

    status: str = "Pending"
    creation_time: str = field(default_factory=_now)
    start_time: str | None = None
    finish_time: str | None = None
    logs: str = ""
    output: bytes = b""

    def info(self) -> dict[str, Any]:
        return {k: v for k, v in (("status", self.status), ("creation_time", self.creation_time),
                                  ("start_time", self.start_time),
                                  ("finish_time", self.finish_time)) if v}


@dataclass
class FakeOscar:
    """The cluster's state; `calls` records (method, path, status) of every request."""

    s3_endpoint: str
    udocker: Udocker
    images: dict[str, Path] = field(default_factory=dict)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="oscar-")))
    users: dict[str, str] = field(default_factory=lambda: {USER: PASSWORD})
    oidc_tokens: set[str] = field(default_factory=set)
    url: str = ""
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Job]] = field(default_factory=dict)
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    minio_keys: tuple[str, str] = ("test", "test")
    refuse_next: list[str] = field(default_factory=list)  # methods whose next request gets 500
    _seen: dict[str, set[str]] = field(default_factory=dict)
    _loaded: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- what tests look at -----------------------------------------------------------------

    @property
    def mutating(self) -> list[tuple[str, str, int]]:
        """Requests that could change something on the cluster."""
        return [c for c in self.calls if c[0] in ("POST", "PUT", "DELETE")]

    def minio_provider(self) -> dict[str, Any]:
        return {"endpoint": self.s3_endpoint, "verify": False, "access_key": self.minio_keys[0],
                "secret_key": self.minio_keys[1], "region": "us-east-1"}

    def s3(self, provider: str = "minio.default", service: Mapping[str, Any] | None = None
           ) -> Any:
        """A client of the storage `provider` names (the cluster's MinIO by default)."""
        kind, _, ident = provider.partition(".")
        settings: Mapping[str, Any] = self.minio_provider()
        if provider not in OWN_MINIO:
            settings = ((service or {}).get("storage_providers") or {}).get(kind, {}).get(ident)
            if settings is None:
                raise KeyError(f"storage provider {provider} is not defined in the service")
        return boto3.client(
            "s3", endpoint_url=settings.get("endpoint") or self.s3_endpoint,
            region_name=settings.get("region") or "us-east-1",
            aws_access_key_id=settings["access_key"], aws_secret_access_key=settings["secret_key"],
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 2}))

    def wait_for_jobs(self, service: str, count: int = 1, timeout: float = 240) -> list[Job]:
        """The service's jobs once `count` of them have finished (fails after `timeout`: by
        default two jobs' udocker runs at their 120 s bound, which a loaded machine nears)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [j for j in self.jobs.get(service, {}).values()
                    if j.status in ("Succeeded", "Failed")]
            if len(done) >= count:
                return done
            time.sleep(0.1)
        raise AssertionError(f"{service}: fewer than {count} job(s) finished in {timeout} s: "
                             f"{self.jobs.get(service)}")

    # -- services ---------------------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> tuple[int, str]:
        problem = _invalid(body)
        if problem:
            return 400, f"The service specification is not valid: {problem}"
        name = body["name"]
        if name in self.services:
            return 409, "A service with the provided name already exists"
        self.services[name] = self._stored(body, secrets.token_hex(16))
        self._make_buckets(self.services[name])
        self._seen[name] = self._input_keys(self.services[name])
        return 201, ""

    def update(self, body: dict[str, Any]) -> tuple[int, str]:
        problem = _invalid(body)
        if problem:
            return 400, f"The service specification is not valid: {problem}"
        old = self.services.get(body["name"])
        if old is None:
            return 404, ""
        self.services[body["name"]] = self._stored(body, old["token"])
        self._make_buckets(self.services[body["name"]])
        return 204, ""

    def delete(self, name: str) -> tuple[int, str]:
        service = self.services.pop(name, None)
        if service is None:
            return 404, ""
        self.jobs.pop(name, None)
        self._seen.pop(name, None)
        for bucket in self._own_buckets(service, "input"):  # OSCAR removes its input buckets
            self._remove_bucket(bucket)
        return 204, ""

    def _stored(self, body: dict[str, Any], token: str) -> dict[str, Any]:
        """The service as OSCAR keeps and returns it: defaults filled, paths normalised."""
        name = body["name"]
        stored = {"memory": "256Mi", "cpu": "0.2", "log_level": "INFO", "alpine": False,
                  "environment": {"variables": {}}, "annotations": {},
                  "input": [], "output": [], "storage_providers": {},
                  **json.loads(json.dumps(body)), "token": token}
        stored["labels"] = {**(body.get("labels") or {}), "oscar_service": name}
        for key in ("input", "output"):
            for ref in stored[key]:
                path = str(ref.get("path", "")).strip(" /")
                if ref.get("storage_provider", "").partition(".")[0] in ("minio", "s3") and (
                        "/" not in path):
                    path = f"{name}/{path}"
                ref["path"] = path
        return stored

    def _own_buckets(self, service: Mapping[str, Any], *keys: str) -> list[str]:
        return sorted({ref["path"].partition("/")[0] for key in keys for ref in service[key]
                       if ref.get("storage_provider") in OWN_MINIO})

    def _make_buckets(self, service: Mapping[str, Any]) -> None:
        s3 = self.s3()
        for bucket in self._own_buckets(service, "input", "output"):
            try:
                s3.create_bucket(Bucket=bucket)
            except ClientError as error:
                if "BucketAlready" not in str(error):
                    raise

    def _remove_bucket(self, bucket: str) -> None:
        s3 = self.s3()
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for item in page.get("Contents", ()):
                    s3.delete_object(Bucket=bucket, Key=item["Key"])
            s3.delete_bucket(Bucket=bucket)
        except ClientError:
            pass

    # -- jobs -------------------------------------------------------------------------------

    def start_job(self, name: str, body: bytes) -> str:
        """Create a job for `body` (an event or base64 input) and run it in a thread."""
        job_name = f"{name}-{uuid.uuid4().hex[:8]}"
        self.jobs.setdefault(name, {})[job_name] = Job()
        service = self.services[name]  # as it is now: a job outlives a deleted service
        threading.Thread(target=self.execute, args=(name, job_name, body, service),
                         daemon=True).start()
        return job_name

    def execute(self, name: str, job_name: str, body: bytes,
                service: Mapping[str, Any] | None = None) -> Job:
        """Run one job (a synchronous run when not in `jobs`) to its end: its input, the
        script in the image, its outputs uploaded."""
        service = service or self.services[name]
        job = self.jobs.get(name, {}).get(job_name) or Job()
        job.status, job.start_time = "Running", _now()
        folder = self.workdir / job_name
        inputs, outputs = folder / "input", folder / "output"
        inputs.mkdir(parents=True)
        outputs.mkdir()
        lines = [f"job {job_name} of service {name}"]
        try:
            env = {"TMP_INPUT_DIR": str(inputs), "TMP_OUTPUT_DIR": str(outputs),
                   "JOB_UUID": job_name, "EVENT": body.decode(errors="replace")[:4096],
                   **(service.get("environment") or {}).get("variables", {})}
            env.update(self._input(service, body, inputs, lines))
            script = folder / "script.sh"
            script.write_text(service.get("script", ""))
            container = self._container(service["image"])
            ran = self.udocker.run(container, volumes=[folder], env=env,
                                   entrypoint=f"/bin/sh {script}", timeout=120)
            lines += [ran.stdout.rstrip(), ran.stderr.rstrip(),
                      f"script exited with code {ran.returncode}"]
            produced = sorted(p for p in outputs.rglob("*") if p.is_file())
            if ran.returncode == 0:
                self._upload(service, outputs, produced, lines)
            if len(produced) == 1:
                job.output = base64.b64encode(produced[0].read_bytes())
            else:
                job.output = ran.stdout.encode()
            job.status = "Succeeded" if ran.returncode == 0 else "Failed"
        except Exception as error:  # the job fails, the cluster goes on
            lines.append(f"job failed: {type(error).__name__}: {error}")
            job.status = "Failed"
        finally:
            job.logs = "\n".join(line for line in lines if line) + "\n"
            job.finish_time = _now()
            shutil.rmtree(folder, ignore_errors=True)
        return job

    def _input(self, service: Mapping[str, Any], body: bytes, inputs: Path,
               lines: list[str]) -> dict[str, str]:
        """Write the job's input file; the variables naming it."""
        record = _storage_record(body)
        if record:
            bucket, key = record
            target = inputs / Path(key).name
            self.s3().download_file(bucket, key, str(target))
            lines.append(f"downloaded minio.default {bucket}/{key}")
            return {"INPUT_FILE_PATH": str(target), "STORAGE_OBJECT_KEY": key}
        if not body:
            return {}
        try:
            data = base64.b64decode(body, validate=True)
        except binascii.Error:
            data = body
        target = inputs / "event-file"
        target.write_bytes(data)
        return {"INPUT_FILE_PATH": str(target)}

    def _container(self, image: str) -> str:
        """The udocker container for `image`, loaded from the catalog on first use."""
        with self._lock:
            if image not in self._loaded:
                archive = self.images.get(image)
                if archive is None:
                    raise LookupError(f"cannot pull image {image!r} (not in the stand-in's "
                                      "catalog)")
                reference = _loaded_reference(image)
                if self.udocker("inspect", reference, check=False).returncode != 0:
                    self.udocker.load(archive)  # the session's udocker may have it already
                container = f"oscar-{uuid.uuid4().hex[:12]}"
                self.udocker.create(reference, container)
                self._loaded[image] = container
            return self._loaded[image]

    def _upload(self, service: Mapping[str, Any], outputs: Path, produced: list[Path],
                lines: list[str]) -> None:
        for ref in service.get("output", ()):
            bucket, _, folder = ref["path"].partition("/")
            client = self.s3(ref["storage_provider"], service)
            for path in produced:
                if not _kept(path.name, ref):
                    continue
                key = "/".join(p for p in (folder, path.relative_to(outputs).as_posix()) if p)
                client.upload_file(str(path), bucket, key)
                lines.append(f"uploaded {ref['storage_provider']} {bucket}/{key}")

    def _input_keys(self, service: Mapping[str, Any]) -> set[str]:
        keys = set()
        for ref in service.get("input", ()):
            if ref.get("storage_provider") not in OWN_MINIO:
                continue
            bucket, _, folder = ref["path"].partition("/")
            try:
                pages = self.s3().get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=f"{folder}/" if folder else "")
                keys |= {f"{bucket}/{o['Key']}" for p in pages for o in p.get("Contents", ())
                         if not o["Key"].endswith("/")}
            except ClientError:
                continue
        return keys

    def poll_inputs(self) -> None:
        """MinIO's bucket notifications: for each object that appeared in a service's input
        folder (whoever wrote it: a user, another service, a Lambda function), the event MinIO
        sends to the webhook OSCAR registers, `POST /job/<service>` with the service's token."""
        for name, service in list(self.services.items()):
            keys = self._input_keys(service)
            new = sorted(keys - self._seen.get(name, set()))
            self._seen[name] = keys
            for full in new:
                bucket, _, key = full.partition("/")
                self.notify(name, service["token"], _minio_event(bucket, key))

    def notify(self, name: str, token: str, event: Mapping[str, Any]) -> None:
        """Deliver one MinIO event to the service's webhook, over HTTP as MinIO does."""
        requests.post(f"{self.url}/job/{name}", data=json.dumps(event), timeout=30,
                      headers={"Authorization": f"Bearer {token}",
                               "Content-Type": "application/json"}).raise_for_status()


def _loaded_reference(image: str) -> str:
    """How udocker names a loaded image (`repository:tag`)."""
    return image if ":" in image.rsplit("/", 1)[-1] else f"{image}:latest"


def _kept(file_name: str, ref: Mapping[str, Any]) -> bool:
    """OSCAR's output filters: any prefix and any suffix when given."""
    prefixes, suffixes = ref.get("prefix") or [], ref.get("suffix") or []
    return (not prefixes or any(file_name.startswith(p) for p in prefixes)) and (
        not suffixes or any(file_name.endswith(s) for s in suffixes))


def _minio_event(bucket: str, key: str) -> dict[str, Any]:
    """MinIO's notification for a new object (its object keys come URL-encoded, as S3's)."""
    encoded = urllib.parse.quote_plus(key, safe="/")
    return {"EventName": "s3:ObjectCreated:Put", "Key": f"{bucket}/{encoded}",
            "Records": [{"eventVersion": "2.0", "eventSource": "minio:s3",
                         "awsRegion": "", "eventTime": _now(),
                         "eventName": "s3:ObjectCreated:Put",
                         "userIdentity": {"principalId": "minio"},
                         "s3": {"s3SchemaVersion": "1.0", "configurationId": "Config",
                                "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}",
                                           "ownerIdentity": {"principalId": "minio"}},
                                "object": {"key": encoded}}}]}


def _storage_record(body: bytes) -> tuple[str, str] | None:
    """(bucket, key) of a MinIO/S3 event body, else None (the key decoded, as the
    faas-supervisor does)."""
    try:
        event = json.loads(body)
        s3 = event["Records"][0]["s3"]
        return s3["bucket"]["name"], urllib.parse.unquote_plus(s3["object"]["key"])
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


def _invalid(body: Any) -> str:
    """Why OSCAR (or Kubernetes behind it) would refuse this definition, or ''."""
    if not isinstance(body, dict):
        return "not a JSON object"
    name = body.get("name")
    if not isinstance(name, str) or not (1 <= len(name) <= 39) or not NAME.fullmatch(name):
        return f"name {name!r}: 1 to 39 of a-z, 0-9 and '-' (a DNS-1123 label)"
    for key in ("image", "script"):
        if not body.get(key):
            return f"'{key}' is required"
    for ref in body.get("input") or ():
        if str((ref or {}).get("storage_provider", "")).partition(".")[0] != "minio":
            return "unrecognized input (valid inputs are MinIO and dCache)"
    for key, value in (body.get("labels") or {}).items():
        if not LABEL_KEY.fullmatch(key) or not LABEL_VALUE.fullmatch(str(value)) or len(
                str(value)) > 63:
            return f"label {key}={value!r} is not a valid Kubernetes label"
    return ""


def oscar_handler(fake: FakeOscar) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: Any = b"", kind: str = "text/plain") -> None:
            if not isinstance(body, bytes):
                body, kind = (body.encode(), kind) if isinstance(body, str) else (
                    json.dumps(body).encode(), "application/json")
            fake.calls.append((self.command, self.path, status))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="OSCAR"')
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _bearer(self) -> str:
            kind, _, value = self.headers.get("Authorization", "").partition(" ")
            return value if kind == "Bearer" else ""

        def _user_ok(self) -> bool:
            kind, _, value = self.headers.get("Authorization", "").partition(" ")
            if kind == "Bearer":
                return value in fake.oidc_tokens
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return kind == "Basic" and fake.users.get(user) == password

        def _route(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/") or "/"
            body = self._body() if self.command in ("POST", "PUT") else b""
            if self.command in fake.refuse_next:  # a fault, as a busy Kubernetes answers
                fake.refuse_next.remove(self.command)
                return self._answer(500, "Internal Server Error: injected by the test")
            if path == "/health":
                return self._answer(200, "Ok")
            parts = path.strip("/").split("/")
            if parts[0] in ("run", "job") and len(parts) == 2:
                return self._invoke(parts[0], parts[1], body)
            if parts[0] != "system":
                return self._answer(404, "404 page not found")
            if not self._user_ok():
                return self._answer(401, "")
            return self._system(parts[1:], body)

        def _invoke(self, how: str, name: str, body: bytes) -> None:
            service = fake.services.get(name)
            if self.command != "POST" or service is None:
                return self._answer(404, "")
            token = self._bearer()
            if not token or token not in (service["token"], *fake.oidc_tokens):
                return self._answer(401, "")
            if how == "job":
                fake.start_job(name, body)
                return self._answer(201, "")
            job_name = f"{name}-{uuid.uuid4().hex[:8]}"
            job = fake.execute(name, job_name, body)
            return self._answer(200 if job.status == "Succeeded" else 500,
                                job.output if job.status == "Succeeded" else job.logs)

        def _system(self, parts: list[str], body: bytes) -> None:
            method, what = self.command, parts[0] if parts else ""
            if what == "info" and method == "GET":
                return self._answer(200, {"version": "stand-in", "git_commit": "",
                                          "architecture": "amd64", "kubernetes_version": "",
                                          "serverless_backend": {"name": "none"}})
            if what == "config" and method == "GET":
                return self._answer(200, {"name": "oscar", "namespace": "oscar-svc",
                                          "services_namespace": "oscar-svc",
                                          "minio_provider": fake.minio_provider()})
            if what == "services":
                return self._services(method, parts[1:], body)
            if what == "logs" and len(parts) >= 2:
                return self._logs(method, parts[1], parts[2] if len(parts) > 2 else None)
            return self._answer(404, "404 page not found")

        def _services(self, method: str, rest: list[str], body: bytes) -> None:
            if not rest and method == "GET":
                return self._answer(200, list(fake.services.values()))
            if not rest and method in ("POST", "PUT"):
                try:
                    data = json.loads(body or b"null")
                except ValueError:
                    return self._answer(400, "The service specification is not valid")
                status, text = (fake.create if method == "POST" else fake.update)(data)
                return self._answer(status, text)
            if len(rest) == 1 and method == "GET":
                found = fake.services.get(rest[0])
                return self._answer(200, found) if found else self._answer(404, "")
            if len(rest) == 1 and method == "DELETE":
                status, text = fake.delete(rest[0])
                return self._answer(status, text)
            return self._answer(405, "")

        def _logs(self, method: str, name: str, job: str | None) -> None:
            if name not in fake.services:
                return self._answer(404, "")
            jobs = fake.jobs.setdefault(name, {})
            if job is None and method == "GET":
                return self._answer(200, {"jobs": {n: j.info() for n, j in jobs.items()}})
            if job is None and method == "DELETE":
                jobs.clear()
                return self._answer(204, "")
            if job not in jobs:
                return self._answer(404, "")
            if method == "DELETE":
                del jobs[job]
                return self._answer(204, "")
            return self._answer(200, jobs[job].logs)

        do_GET = do_POST = do_PUT = do_DELETE = _route

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


def _poll(fake: FakeOscar, stop: threading.Event) -> None:
    while not stop.wait(POLL_S):
        try:
            fake.poll_inputs()
        except Exception:  # noqa: S112 - LocalStack busy: the next round tries again
            continue


@pytest.fixture
def fake_oscar(localstack: Any, udocker: Udocker, test_image_archives: dict[str, Path],
               loaded_test_image: str, tmp_path: Path) -> Iterator[FakeOscar]:
    """A fresh stand-in OSCAR cluster on a free port; its MinIO is the session's LocalStack;
    the test bed's busybox image (`scar-test/busybox:1`) is in its image catalog (and loaded
    once per session, by `loaded_test_image`, so the session's udocker loads it once)."""
    fake = FakeOscar(localstack.endpoint_url, udocker,
                     images={STANDARD_IMAGE.reference: test_image_archives["docker"]},
                     workdir=tmp_path / "oscar-jobs")
    stop = threading.Event()
    poller = threading.Thread(target=_poll, args=(fake, stop), daemon=True)
    with serving(oscar_handler(fake)) as fake.url:
        poller.start()
        try:
            yield fake
        finally:
            stop.set()
            poller.join(timeout=5)
