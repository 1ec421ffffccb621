"""The package's shape, as docs/architecture.md draws it: modules in the order data flows
through them, each importing only modules before it, and no import hidden in a function
except the CLI's, which loads each command's step when it runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "xlflow"
ARCHITECTURE = (PACKAGE.parent / "docs" / "architecture.md").read_text("utf-8")

# the order of docs/architecture.md: names and values, services, the steps, the surfaces
ORDER = [
    "errors", "issues", "text", "units", "config", "model", "wording", "values",
    "files", "excel", "zipnames", "pool", "signing", "ledger", "standing", "reader", "containers",
    "workspace", "paragraphs", "register", "layout", "load", "init",
    "selfcheck", "forms",
    "table", "identify", "validate", "receipts", "receive", "intake", "decisions",
    "status", "remind",
    "tasks", "consolidate", "history", "report", "outputs",
    "demo", "web", "cli", "__main__", "__init__",
]  # fmt: skip


def _imports(path: Path, level: int = 1) -> tuple[set[str], list[int]]:
    """The xlflow modules a module imports, and the lines of imports inside functions;
    `level` is how deep the module lies in the package (2 in a sub-package)."""
    tree = ast.parse(path.read_text("utf-8"))
    modules = {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == level and node.module
    }
    nested = [
        inner.lineno
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(fn)
        if isinstance(inner, ast.Import | ast.ImportFrom)
    ]
    return modules, nested


def _sources(name: str) -> list[tuple[Path, int]]:
    """A module's file, or every file of a sub-package, with its depth."""
    package = PACKAGE / name
    if package.is_dir():
        return [(p, 2) for p in sorted(package.glob("*.py"))]
    return [(PACKAGE / f"{name}.py", 1)]


def test_every_module_has_its_place() -> None:
    packages = [p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()]
    assert sorted(ORDER) == sorted([*(p.stem for p in PACKAGE.glob("*.py")), *packages])
    for name in ORDER:
        if not name.startswith("__"):
            assert f"`{name}`" in ARCHITECTURE, name


@pytest.mark.parametrize("name", ORDER)
def test_a_module_imports_only_what_comes_before_it(name: str) -> None:
    for path, level in _sources(name):
        modules, nested = _imports(path, level)
        later = sorted(m for m in modules if ORDER.index(m) >= ORDER.index(name))
        assert later == [], f"{path.name} imports {later}, which come after it"
        if name != "cli":
            assert nested == [], f"{path.name} imports inside a function at lines {nested}"
