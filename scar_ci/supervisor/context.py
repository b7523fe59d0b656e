"""A Lambda-like context for runs outside Lambda (AWS Batch jobs, local runs, the benchmark)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field


@dataclass
class LocalContext:
    """What the supervisor reads from Lambda's context, with a deadline `seconds` from now."""

    seconds: float = 300
    function_name: str = "local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.seconds

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the deadline (never negative)."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))
