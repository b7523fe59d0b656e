"""LocalStack's runtime listening on 127.0.0.1 only (run as a script on the Python of
LocalStack's venv, with `-P` so that this folder's `localstack.py` does not shadow LocalStack):

    python -P scar_ci/local/localstack_loopback.py

LocalStack 2026.3's twisted gateway listens on GATEWAY_LISTEN's port on every interface and
drops its host (`TCP4ServerEndpoint(reactor, port)` in localstack/runtime/server/twisted.py). On
a laptop in a shared network that would offer anyone an AWS without credentials whose functions
run their code on this machine, so the endpoint's default interface becomes the loopback.
"""

from __future__ import annotations

import runpy
from typing import Any

from twisted.internet import endpoints

HOST = "127.0.0.1"


class LoopbackTCP4ServerEndpoint(endpoints.TCP4ServerEndpoint):
    """A TCP server endpoint on 127.0.0.1 unless an interface is named."""

    def __init__(self, reactor: Any, port: int, backlog: int = 50, interface: str = "") -> None:
        super().__init__(reactor, port, backlog, interface or HOST)


if __name__ == "__main__":
    endpoints.TCP4ServerEndpoint = LoopbackTCP4ServerEndpoint  # type: ignore[misc]
    runpy.run_module("localstack.runtime.main", run_name="__main__", alter_sys=True)
