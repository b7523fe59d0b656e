"""The supervisor ships alone in its layer: it may import nothing from the rest of scar_ci."""

import ast
from pathlib import Path

import scar_ci.supervisor

SUPERVISOR = Path(scar_ci.supervisor.__file__).parent


def _imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
    return names


def test_supervisor_imports_only_itself_from_scar_ci():
    files = sorted(SUPERVISOR.rglob("*.py"))
    assert len(files) > 5
    offending = [
        f"{path.name}: {name}"
        for path in files
        for name in _imported_modules(path)
        if name.startswith(".")
        or (name.split(".")[0] == "scar_ci" and not name.startswith("scar_ci.supervisor"))
    ]
    assert offending == []


def test_the_handler_module_does_not_import_boto3_or_the_rest_eagerly():
    tree = ast.parse((SUPERVISOR / "handler.py").read_text())
    top_level = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    modules = {getattr(node, "module", None) or node.names[0].name for node in top_level}
    assert modules <= {"__future__", "logging", "os", "sys", "typing"}
