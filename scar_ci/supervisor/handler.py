"""Lambda's entry point: `scar_ci.supervisor.handler.lambda_handler`. Light to import."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

_supervisor: Any = None


def lambda_handler(event: Any, context: Any) -> Any:
    """Handle one invocation; the supervisor (config, clients, container) lives while warm."""
    return _get_supervisor().handle(event, context)


def _get_supervisor() -> Any:
    global _supervisor  # one per sandbox, by design
    if _supervisor is None:
        configure_logging()
        from scar_ci.supervisor.config import Settings, config_path, load_config
        from scar_ci.supervisor.invocation import Supervisor
        from scar_ci.supervisor.runtimes import make_runtime
        from scar_ci.supervisor.storage import Storage

        config = load_config(config_path())
        settings = Settings.from_environment()
        storage = Storage(config)
        _supervisor = Supervisor(config, settings, storage, make_runtime(config, settings, storage))
    return _supervisor


def configure_logging() -> None:
    """The supervisor's lines at SCAR_LOG_LEVEL, to stdout where no runtime took the logs."""
    logger = logging.getLogger("scar.supervisor")
    logger.setLevel(os.environ.get("SCAR_LOG_LEVEL", "INFO").upper())
    if not logging.getLogger().handlers:  # outside Lambda's runtime, which installs its own
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("[scar] %(levelname)s %(message)s"))
        logger.addHandler(handler)
