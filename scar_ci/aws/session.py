"""boto3 sessions with the SDK's retry modes, and a record of every AWS call made through them.

Credentials and endpoints come from boto3's own chain (profiles, env vars, OIDC web identity,
`AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>`), so LocalStack needs no special code path.
`$SCAR_CI_CONCURRENCY` (default 16) bounds the requests in flight at once through one `Aws`,
whichever threads make them. Every `Aws` of a process shares botocore's loader of service
models: a session of its own would read and decode the same JSON again for each client.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from scar_ci import __version__
from scar_ci.errors import UsageError

CONCURRENCY_VARIABLE = "SCAR_CI_CONCURRENCY"
DEFAULT_CONCURRENCY = 16
READ_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup", "Search", "BatchGet", "Filter")
T = TypeVar("T")
_LOADERS: dict[str, Any] = {}  # botocore data path -> the loader of the first session with it
_LOADERS_LOCK = threading.Lock()


def concurrency() -> int:
    """The bound: `$SCAR_CI_CONCURRENCY`, else 16."""
    text = os.environ.get(CONCURRENCY_VARIABLE, "").strip()
    if not text:
        return DEFAULT_CONCURRENCY
    if not text.isdigit() or not 1 <= int(text) <= 256:
        raise UsageError(f"{CONCURRENCY_VARIABLE}={text[:20]!r}: give a whole number from 1 "
                         f"to 256 (requests in flight at once; default {DEFAULT_CONCURRENCY})")
    return int(text)


@dataclass(frozen=True)
class Account:
    """Where resources are deployed: what ARNs are made of."""

    region: str
    account_id: str


@dataclass
class CallLog:
    """Every AWS operation made through an `Aws`, in order, as (service, operation)."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def record(self, model: Any, **_: Any) -> None:
        """botocore `before-call` handler."""
        self.calls.append((model.service_model.service_id.hyphenize(), model.name))

    @property
    def mutating(self) -> list[tuple[str, str]]:
        """The calls that may change something (anything not a read)."""
        return [c for c in self.calls if not c[1].startswith(READ_PREFIXES)]


def _shared_loader(core: Any) -> Any:
    """The process's loader for `core`'s data path (searching the first session's paths,
    with boto3's own): service models are decoded once (about 0.1 s a client), not once per
    session, and found without listing every service (scar_ci/aws/models.py)."""
    from scar_ci.aws.models import model_loader

    key = str(core.get_config_variable("data_path"))
    with _LOADERS_LOCK:
        if key not in _LOADERS:
            _LOADERS[key] = model_loader(core.get_component("data_loader").search_paths)
        return _LOADERS[key]


class Aws:
    """Clients for one profile and region, created lazily and shared, all logged in `calls`."""

    def __init__(self, region: str | None = None, profile: str | None = None) -> None:
        import boto3
        import botocore.session
        from botocore.config import Config

        core = botocore.session.Session()
        self.session = boto3.Session(botocore_session=core, profile_name=profile or None,
                                     region_name=region or None)
        core.register_component("data_loader", _shared_loader(core))
        self.region = self.session.region_name or "us-east-1"
        self.calls = CallLog()
        self._hooks: list[Callable[..., Any]] = [self.calls.record]
        self._config = Config(
            region_name=self.region,
            retries={"mode": "standard", "max_attempts": 8},
            user_agent_extra=f"scar-ci/{__version__}",
        )
        self._clients: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._facts: dict[Hashable, Future[Any]] | None = None
        # waits of resources this session created, by key, that other changes join (a
        # function becoming Active, which its bucket notifications need)
        self.waits: dict[Hashable, Callable[[], None]] = {}
        # requests in flight: discoveries that read side by side within a parallel step
        # stay within the bound too
        self._slots = threading.BoundedSemaphore(concurrency())
        self._holding = threading.local()

    def client(self, service: str, *, once_within: int | None = None) -> Any:
        """The shared client for `service` (clients are thread-safe; making one is not);
        `once_within`: one that tries each call once, waiting up to that many seconds for the
        answer (an invocation must not run twice)."""
        key = f"{service}/{once_within}" if once_within else service
        if (made := self._clients.get(key)) is not None:
            return made  # no lock: threads need not wait while another client is made
        from botocore.config import Config

        with self._lock:
            if key not in self._clients:
                config = self._config if not once_within else self._config.merge(Config(
                    read_timeout=once_within, retries={"total_max_attempts": 1}))
                client = self.session.client(service, config=config)
                for hook in self._hooks:
                    client.meta.events.register("before-call", hook)
                client.meta.events.register("before-send", self._take_slot)
                client.meta.events.register("response-received", self._give_slot)
                self._clients[key] = client
            return self._clients[key]

    def _take_slot(self, **_: Any) -> None:
        """botocore `before-send`: wait while `concurrency()` requests are in flight."""
        self._slots.acquire()
        self._holding.slot = True

    def _give_slot(self, **_: Any) -> None:
        """botocore `response-received` (answered or failed) of the request this thread sent."""
        if getattr(self._holding, "slot", False):
            self._holding.slot = False
            self._slots.release()

    @contextmanager
    def planning(self) -> Iterator[None]:
        """While a plan is made (reads only), `fact` reads each fact once."""
        self._facts = {}
        try:
            yield
        finally:
            self._facts = None

    def fact(self, key: Hashable, read: Callable[[], T]) -> T:
        """`read()`, or while planning the answer it gave the first time for `key` (a
        bucket's notifications, a function's policy: read by the discovery and by several
        resources); outside planning every call reads, since the apply changes things."""
        facts = self._facts
        if facts is None:
            return read()
        with self._lock:
            known = facts.get(key)
            if known is None:
                known = facts[key] = Future()
                mine = True
            else:
                mine = False
        if mine:
            try:
                known.set_result(read())
            except Exception as error:
                known.set_exception(error)
        return known.result()

    def unlogged_client(self, service: str) -> Any:
        """A new client for `service` outside `calls` and the hooks: for scar-ci's own
        bookkeeping (the scope lock), which is no change to the deployment."""
        return self.session.client(service, config=self._config)

    def add_hook(self, hook: Callable[..., Any]) -> None:
        """Register a botocore `before-call` handler on every client, present and future."""
        self._hooks.append(hook)
        for client in self._clients.values():
            client.meta.events.register("before-call", hook)

    @cached_property
    def account_id(self) -> str:
        """The account the credentials act in (sts:GetCallerIdentity: works for any principal)."""
        return self.client("sts").get_caller_identity()["Account"]

    @property
    def account(self) -> Account:
        return Account(self.region, self.account_id)

    def endpoint(self, service: str) -> str:
        """The endpoint URL the client for `service` talks to."""
        return self.client(service).meta.endpoint_url
