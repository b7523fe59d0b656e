"""The Docker Engine's JSON streams (pull, build, push), as the `docker` SDK decodes them:
errors arrive as items, not exceptions; progress as per-layer states and build steps.

Docker and podman's compatible service word them differently (`Step 2/7 :` / `STEP 2/7:`,
`Pull complete` / `Download complete`) and podman sends no layer states for a push.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from scar_ci.errors import UserError

Item = Mapping[str, Any]
_STEP = re.compile(r"step \d+/\d+ ?:", re.IGNORECASE)
PULL_DONE = ("Pull complete", "Already exists", "Download complete")
PULL_STATES = ("Pulling fs layer", "Waiting", "Downloading", "Verifying Checksum",
               "Extracting", *PULL_DONE)
PUSH_DONE = ("Pushed", "Layer already exists", "Mounted from")
PUSH_STATES = ("Preparing", "Waiting", "Pushing", *PUSH_DONE)


def checked(items: Iterable[Item], failed: str, fix: str = "") -> Iterator[Item]:
    """The stream's items; the first carrying `error` ends it as one UserError:
    `<failed>: <the daemon's reason><fix>`."""
    for item in items:
        if "error" in item:
            detail = (item.get("errorDetail") or {}).get("message") or item["error"]
            raise UserError(f"{failed}: {str(detail).strip()}{fix}")
        yield item


def build_step(item: Item, width: int = 100) -> str | None:
    """A build stream's `Step n/m : INSTRUCTION` line (cut to `width`), None for its other
    output."""
    text = str(item.get("stream", "")).strip()
    if not _STEP.match(text):
        return None
    return text if len(text) <= width else text[:width - 1] + "…"


@dataclass
class Layers:
    """The layers a pull or push stream names, those it finished, and their sizes."""

    states: tuple[str, ...]
    done_states: tuple[str, ...]
    seen: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)
    sizes: dict[str, int] = field(default_factory=dict)

    def finished(self, item: Item) -> bool:
        """Note `item`; True when it finishes a layer for the first time."""
        status, layer = str(item.get("status", "")), str(item.get("id", ""))
        if not layer or not status.startswith(self.states):
            return False
        self.seen.add(layer)
        total = (item.get("progressDetail") or {}).get("total")
        if total:
            self.sizes[layer] = int(total)
        if status.startswith(self.done_states) and layer not in self.done:
            self.done.add(layer)
            return True
        return False

    @property
    def bytes(self) -> int:
        """The sizes the daemon reported for the layers it moved."""
        return sum(self.sizes.values())

    def line(self, verb: str) -> str:
        """`pushed 2/4 layers, 41 MB`."""
        return f"{verb} {len(self.done)}/{len(self.seen)} layers, {self.bytes / 1e6:.0f} MB"
