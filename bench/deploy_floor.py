"""The floor of a deploy, a no-op redeploy and a teardown: how many requests must follow one
another even if everything independent ran at once, measured on the deploy core itself.

One in-process run of each step (through the latency proxy, to count the scope lock's
requests) counts the requests of every resource's read, create, the wait it returns, update
and delete, of every discovery and of the main thread, each as the requests that follow one
another: a `parallel_map` inside (a discovery's tag reads, the triggers' reads after the
functions' listing, a bucket's folder markers) weighs its longest item, not their sum. Then
the floor of a step is

    the scope lock's requests + the main thread's (account, tagging pass, kept buckets' reads)
    + the longest discovery (they run side by side)
    + the longest read of a desired resource (they run side by side)
    + the longest path through the plan's changes along their needs (`Change.needs`, made
      from the resources' `depends_on()`), each change weighing the requests it made, and
      its wait when its dependents wait for it (`Change.dependents_wait`)
    + the longest of the other waits, which the apply runs once everything else is done.

So the floor follows the code: a request added to a create, a dependency added to a
resource, a listing made twice, each shows in it.
"""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from scar_ci.aws import parallel
from scar_ci.aws.resource import Resource
from scar_ci.aws.session import Aws
from scar_ci.deploy import discovery, engine
from scar_ci.deploy.plan import Plan
from scar_ci.fdl import load_fdl
from scar_ci.scopes.scope import Scope
from scar_testbed.latency_proxy import LatencyProxy

Key = tuple[str, str, str]  # (read, create, wait, update, delete, discover; kind; name)
METHODS = ("read", "create", "update", "delete")


class Chains:
    """Requests counted by the resource method or discovery that made them, on its thread."""

    def __init__(self) -> None:
        self.requests: dict[Key, int] = {}
        self.main = 0  # requests of the main thread outside any counted call
        self._local = threading.local()
        self._lock = threading.Lock()

    def hook(self, **_: Any) -> None:
        """botocore `before-call` on every client of the run's Aws."""
        if getattr(self._local, "key", None) is not None:
            self._local.n += 1
        elif threading.current_thread() is threading.main_thread():
            with self._lock:
                self.main += 1

    @contextmanager
    def counting(self, key: Key) -> Iterator[None]:
        """Count the requests made inside under `key` (and under the call it is part of)."""
        outer, outer_n = getattr(self._local, "key", None), getattr(self._local, "n", 0)
        self._local.key, self._local.n = key, 0
        try:
            yield
        finally:
            made = self._local.n
            if outer != key:  # a method calling its base class's counts once
                with self._lock:
                    self.requests[key] = self.requests.get(key, 0) + made
            self._local.key, self._local.n = outer, outer_n + made if outer else 0

    def mapped(self, function: Callable[[Any], Any], items: Iterable[Any],
               original: Callable[..., list[Any]]) -> list[Any]:
        """`parallel_map` inside a counted call: each item counted on its own thread, the
        call weighing the longest item (side by side, not one after another)."""
        key = getattr(self._local, "key", None)
        if key is None:
            return original(function, items)
        counts: list[int] = []

        def item(value: Any) -> Any:
            outer = getattr(self._local, "key", None), getattr(self._local, "n", 0)
            self._local.key, self._local.n = key, 0
            try:
                return function(value)
            finally:
                with self._lock:
                    counts.append(self._local.n)
                self._local.key, self._local.n = outer

        result = original(item, items)
        self._local.n += max(counts, default=0)
        return result

    def longest(self, what: str) -> int:
        return max((n for (w, _, _), n in self.requests.items() if w == what), default=0)

    def of(self, what: str, kind: str, name: str) -> int:
        return self.requests.get((what, kind, name), 0)


@contextmanager
def counted(chains: Chains) -> Iterator[None]:
    """Every Resource method and discovery counts its requests while inside."""
    patched: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str, key_of: Callable[..., Key]) -> None:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)

        def counted_call(*args: Any, **kwargs: Any) -> Any:
            key = key_of(*args)
            with chains.counting(key):
                result = original(*args, **kwargs)
                if inspect.isgenerator(result):  # its requests are made as it is read
                    result = iter(list(result))
            if key[0] == "create" and callable(result):  # the wait: counted on its own
                return lambda: _counted_wait(chains, ("wait", *key[1:]), result)
            return result

        patched.append((owner, name, original))
        setattr(owner, name, counted_call)

    for cls in _subclasses(Resource):
        for method in METHODS:
            if method in cls.__dict__:
                wrap(cls, method, lambda self, *_, m=method: (m, self.kind, self.name))
    original_map = parallel.parallel_map
    mapped = partial(chains.mapped, original=original_map)
    for module in [m for m in sys.modules.values() if m is not None]:
        if getattr(module, "parallel_map", None) is original_map:
            patched.append((module, "parallel_map", original_map))
            module.parallel_map = mapped
    entries = list(discovery.DISCOVERIES)
    discovery.DISCOVERIES[:] = [(service, _counted_discovery(chains, service, find))
                                for service, find in entries]
    wrap(discovery, "discover_triggers", lambda aws, name: ("discover", "triggers", name))
    wrap(discovery, "function_answer", lambda aws, name: ("discover", "function", name))
    try:
        yield
    finally:
        discovery.DISCOVERIES[:] = entries
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)


def _counted_wait(chains: Chains, key: Key, wait: Callable[[], object]) -> object:
    with chains.counting(key):
        return wait()


def _counted_discovery(chains: Chains, service: str,
                       find: discovery.Discovery) -> discovery.Discovery:
    def counted_find(aws: Aws, scope: Scope, known: Any) -> list[Resource]:
        with chains.counting(("discover", service, "")):
            return list(find(aws, scope, known))
    return counted_find


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _apply_path(plan: Plan, chains: Chains) -> int:
    """The longest path through the plan's changes along their needs (positions before),
    then the waits no dependent waited for (the apply runs them last, side by side)."""
    usable: list[int] = []  # when each change's dependents may start
    ends, last = [0], [0]
    for change in plan.changes:
        applied = max((usable[n] for n in change.needs), default=0)
        settled = 0
        if change.apply is not None:
            applied += chains.of(change.verb.value, change.kind, change.name)
            settled = chains.of("wait", change.kind, change.name)
        usable.append(applied + settled if change.dependents_wait else applied)
        ends.append(usable[-1])
        last.append(0 if change.dependents_wait else settled)
    return max(ends) + max(last)


def _floor(plan: Plan, chains: Chains, lock: int) -> int:
    return (lock + chains.main + chains.longest("discover") + chains.longest("read")
            + _apply_path(plan, chains))


def floors(proxy: LatencyProxy, fdl_path: Path, label: str) -> dict[str, int]:
    """The floor of each step (cold deploy, no-op redeploy, teardown) of `fdl_path` in a
    fresh scope `label`, in requests, from one in-process run of each at the proxy."""
    fdl, scope = load_fdl(fdl_path), Scope.parse(f"manual:{label}")
    result: dict[str, int] = {}
    steps: dict[str, Callable[[Aws], Plan]] = {
        "cold deploy": lambda aws: engine.deploy(fdl, scope, aws, say=_quiet)[0],
        "no-op redeploy": lambda aws: engine.deploy(fdl, scope, aws, say=_quiet)[0],
        "teardown": lambda aws: engine.teardown(scope, aws, delete_data=True, say=_quiet),
    }
    for step, run in steps.items():
        chains, aws = Chains(), Aws()
        aws.add_hook(chains.hook)
        proxy.reset()
        with counted(chains):
            plan = run(aws)
        result[step] = _floor(plan, chains, proxy.counts().lock)
    return result


def _quiet(_: str) -> None:
    pass
