"""scar_ci's rooms import only downwards: every import of every module (those inside functions
included) is read from its syntax tree and checked against the layer order below."""

from __future__ import annotations

import ast
from pathlib import Path

import scar_ci

PACKAGE = Path(scar_ci.__file__).parent

# Highest first: a room may import its own modules and any room of a lower layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__main__", "cli", "commands", "steps", "local"),  # the CLI, the action, local mode
    ("deploy",),  # desired state, build, plan, apply
    ("aws", "oscar"),  # the platforms' adapters and their resources
    ("scopes",),  # scopes, names and tags
    ("fdl", "package", "github"),
    ("supervisor",),  # what package/ ships in the layer and the images
    ("__init__", "errors", "cache", "lazy", "secret_sinks", "process_exit"),
)
# Shipped alone (the supervisor into functions, the executor into LocalStack's venv): they
# import nothing of scar_ci but themselves.
STANDALONE = ("scar_ci.supervisor", "scar_ci.local.executor")


def _module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str, root: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every scar_ci import in `path` (`module`), at any depth."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            # `from scar_ci import cli` imports the module scar_ci.cli
            names = [f"{target}.{a.name}" for a in node.names if target == "scar_ci" and (
                (root / a.name).is_dir() or (root / f"{a.name}.py").is_file())]
            found.extend((node.lineno, name) for name in names or [target])
    return [(line, name) for line, name in found if name.split(".")[0] == "scar_ci"]


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(room: str) -> int:
    for depth, rooms in enumerate(LAYERS):
        if room in rooms:
            return depth
    raise AssertionError(f"room scar_ci.{room} is in no layer of {__name__}.LAYERS")


def _violations(root: Path = PACKAGE) -> list[str]:
    """Every import of a module under `root` (scar_ci's folder) that breaks the order."""
    found = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        for line, target in _imports(path, module, root):
            where = f"{path.relative_to(root.parent)}:{line}: {module} imports {target}"
            alone = next((s for s in STANDALONE if f"{module}.".startswith(f"{s}.")), None)
            if alone:
                if not f"{target}.".startswith(f"{alone}."):
                    found.append(f"{where} ({alone} ships alone)")
            elif _layer(_room(target)) < _layer(_room(module)):
                found.append(f"{where} (a lower layer importing a higher one)")
    return found


def test_no_room_imports_a_higher_layer() -> None:
    assert _violations() == []


def test_every_room_has_a_layer() -> None:
    rooms = {_room(_module_name(p)) for p in PACKAGE.rglob("*.py")}
    for room in rooms:
        _layer(room)


def test_the_walk_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    root = tmp_path / "scar_ci"
    (root / "aws").mkdir(parents=True)
    (root / "aws" / "probe.py").write_text(
        "import scar_ci.errors\n\ndef f():\n    from scar_ci.deploy import engine\n",
        encoding="utf-8")
    (root / "scopes").mkdir()
    (root / "scopes" / "probe.py").write_text("from ..aws import probe\n", encoding="utf-8")
    (root / "supervisor").mkdir()
    (root / "supervisor" / "probe.py").write_text("from scar_ci import errors\n",
                                                  encoding="utf-8")
    assert [v.split(": ")[0] for v in _violations(root)] == [
        "scar_ci/aws/probe.py:4", "scar_ci/scopes/probe.py:1", "scar_ci/supervisor/probe.py:1"]
