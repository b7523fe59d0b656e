"""FDL, SCAR's function definition language: schema, loader with positions, defaults, model."""

from scar_ci.fdl.errors import FDLError, Problem
from scar_ci.fdl.loader import load_fdl
from scar_ci.fdl.located import Position
from scar_ci.fdl.model import (
    ApiGateway,
    Batch,
    Container,
    Fdl,
    FileSystem,
    Function,
    OscarService,
    StorageProvider,
    StorageRef,
)

__all__ = [
    "ApiGateway",
    "Batch",
    "Container",
    "FDLError",
    "Fdl",
    "FileSystem",
    "Function",
    "OscarService",
    "Position",
    "Problem",
    "StorageProvider",
    "StorageRef",
    "load_fdl",
]
