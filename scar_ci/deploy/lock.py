"""One deploy or teardown of a scope at a time: a lease in SSM Parameter Store.

The lock of a scope is a series of parameters `/scar-ci-locks/<stage>/<generation>`; the
highest generation is the holder, and a run takes the lock by creating the next generation
with `Overwrite=False`, which SSM grants to one caller only. A holder renews its lease while it
runs and deletes its generation when done; a run that crashed leaves a lease that expires, and
the next run takes over from it (docs/deploy.md).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from scar_ci.aws.errors import error_code
from scar_ci.aws.resource import absent_ok, paginate
from scar_ci.aws.session import Aws
from scar_ci.errors import UserError
from scar_ci.scopes.scope import Scope

ROOT = "/scar-ci-locks"
LEASE_S = 300.0  # how long a crashed run keeps its scope
RENEW_S = 60.0


class ScopeBusy(UserError):
    """Another run holds the scope's lease."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a generation of the lock, and until when."""

    run: str
    command: str
    since: float
    expires: float

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def parse(cls, text: str) -> Holder:
        try:
            value = json.loads(text)
            return cls(str(value["run"]), str(value["command"]), float(value["since"]),
                       float(value["expires"]))
        except (ValueError, KeyError, TypeError):
            return cls("(unreadable lock)", "?", 0.0, 0.0)  # an expired lease


def this_run() -> str:
    """How this run is named in a busy message: the Actions run, else user@host and pid."""
    if run_id := os.environ.get("GITHUB_RUN_ID"):
        attempt = os.environ.get("GITHUB_RUN_ATTEMPT", "1")
        repository = os.environ.get("GITHUB_REPOSITORY", "")
        return f"GitHub Actions run {run_id} (attempt {attempt}) of {repository}"
    return f"{getpass.getuser()}@{socket.gethostname()} (pid {os.getpid()})"


@contextmanager
def scope_lock(aws: Aws, scope: Scope, command: str,
               clock: Callable[[], float] = time.time) -> Iterator[None]:
    """Hold `scope`'s lease while inside; ScopeBusy at once when another run holds it."""
    lock = _Lock(aws.unlogged_client("ssm"), f"{ROOT}/{scope.label}", scope, command, clock)
    try:
        lock.acquire()
    except ClientError as error:
        raise UserError(
            f"cannot take the lock of scope {scope.label} in SSM Parameter Store ({error}); "
            "the credentials need ssm:PutParameter, ssm:GetParametersByPath and "
            f"ssm:DeleteParameter on parameter{ROOT}/*") from None
    stop = threading.Event()
    renewer = threading.Thread(target=lock.renew_until, args=(stop,), daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        lock.release()


class _Lock:
    def __init__(self, ssm: Any, path: str, scope: Scope, command: str,
                 clock: Callable[[], float]) -> None:
        self.ssm, self.path, self.scope, self.clock = ssm, path, scope, clock
        now = clock()
        self.holder = Holder(this_run(), command, now, now + LEASE_S)
        self.generation = 0

    def _name(self, generation: int) -> str:
        return f"{self.path}/{generation:010d}"

    def _generations(self) -> dict[int, Holder]:
        found = {}
        for parameter in paginate(self.ssm, "get_parameters_by_path", "Parameters",
                                  Path=self.path):
            tail = parameter["Name"].rpartition("/")[2]
            if tail.isdigit():
                found[int(tail)] = Holder.parse(parameter["Value"])
        return found

    def _busy(self, holder: Holder) -> ScopeBusy:
        return ScopeBusy(
            f"scope {self.scope.label} is busy since {_clock(holder.since)} by {holder.run} "
            f"({holder.command}); its lease ends at {_clock(holder.expires)} unless that run "
            "renews it (it does while it runs): wait for it to finish, then run this again")

    def acquire(self) -> None:
        generations = self._generations()
        top = max(generations, default=0)
        if top and generations[top].expires > self.clock():
            raise self._busy(generations[top])
        self.generation = top + 1
        try:
            self.ssm.put_parameter(Name=self._name(self.generation), Type="String",
                                   Value=self.holder.to_json(), Overwrite=False)
        except ClientError as error:
            if error_code(error) != "ParameterAlreadyExists":
                raise
            taken = self._generations().get(self.generation, self.holder)
            raise self._busy(taken) from None
        generations = self._generations()
        later = [g for g in generations if g > self.generation
                 and generations[g].expires > self.clock()]
        if later:
            self._delete(self.generation)
            raise self._busy(generations[max(later)])
        for generation in generations:
            if generation < self.generation:  # expired leases (crashed runs), and released ones
                self._delete(generation)

    def renew_until(self, stop: threading.Event) -> None:
        while not stop.wait(RENEW_S):
            self.holder = Holder(self.holder.run, self.holder.command, self.holder.since,
                                 self.clock() + LEASE_S)
            try:
                self.ssm.put_parameter(Name=self._name(self.generation), Type="String",
                                       Value=self.holder.to_json(), Overwrite=True)
            except ClientError:
                continue  # the next renewal may succeed; the lease is long enough for two

    def release(self) -> None:
        self._delete(self.generation)

    def _delete(self, generation: int) -> None:
        absent_ok(self.ssm.delete_parameter, Name=self._name(generation))


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
