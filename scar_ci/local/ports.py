"""Free ports for local mode's services on 127.0.0.1 (stdlib only).

A port the kernel hands out for `bind(0)` comes from its ephemeral range, the one outgoing
connections take their local ports from: between the check that a port is free and the
service's listen, any connection on the machine may take it. The ports chosen here lie outside
that range, so only another listener can take them in that moment.
"""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")  # Linux's
TRIES = 20  # random ports tried outside the ephemeral range before the kernel's choice


def bind_unused(sock: socket.socket, host: str) -> None:
    """Bind `sock` on `host` to a free port outside the ephemeral range (to the kernel's choice
    where that range covers nearly every port, or when TRIES such ports are taken)."""
    for _ in range(TRIES):
        port = _outside_ephemeral()
        if not port:
            break
        with contextlib.suppress(OSError):
            sock.bind((host, port))
            return
    sock.bind((host, 0))


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now on `host`, outside the ephemeral range."""
    with socket.socket() as probe:
        bind_unused(probe, host)
        return int(probe.getsockname()[1])


def _outside_ephemeral() -> int:
    """A random port below the ephemeral range (from half its start up), or above it when it
    starts too low; 0 when neither exists or the range is unknown (not Linux)."""
    try:
        low, high = map(int, EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        return 0
    if low // 2 >= 1024:
        return random.randrange(low // 2, low)  # noqa: S311 (a port, not a secret)
    if high < 64000:
        return random.randrange(high + 1, 65536)  # noqa: S311
    return 0
