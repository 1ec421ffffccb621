"""The package's shape, as docs/architecture.md draws it: stages in the order data flows
through them, each module importing only what comes before it, no import between sibling
stages, and no import hidden in a function except the CLI's, which loads each command's
step when it runs (and each command's group only when it is asked for).

Stages, in order: the core (names and values), the infrastructure, reading, the register,
then the three steps of a round, generate, intake (collect) and reporting (merge), which
never import one another, then the surfaces. A subpackage is a stage of its own; inside it,
and inside the flat core and infrastructure, modules come in the order listed here.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "xlflow"
ARCHITECTURE = (PACKAGE.parent / "docs" / "architecture.md").read_text("utf-8")

# (stage, its modules in order); a stage is a list of top-level modules or one subpackage
STAGES: list[tuple[str, list[str]]] = [
    ("core", ["errors", "text", "issues", "units",
              "config.model", "config.checker", "config.fields", "config.sections", "config.load", "config.writing",
              "model", "wording", "values", "cells", "plausibility"]),
    ("infrastructure", ["windows", "files", "excel", "pool", "signing",
                        "ledger.schema", "ledger.codec", "ledger.connection", "ledger.readers", "ledger.rounds",
                        "ledger.files", "ledger.registers", "ledger.versions", "ledger.extensions",
                        "ledger.decisions", "ledger.mail", "ledger.book", "standing", "workspace"]),
    ("reading", ["zipnames", "workbook", "package", "ooxml", "ods", "oleprops", "biff", "reader", "containers"]),
    ("register", ["paragraphs", "parse", "directory", "directory_file", "load", "detect", "init", "words", "lineage", "matching", "revise", "mapping", "update"]),
    ("generate", ["selfcheck", "specs", "formats", "validations", "flags", "identity", "instructions", "sheets", "forms"]),
    ("intake", ["locate", "identify", "validate", "receipts", "upload", "scan", "unpack", "compare", "judge", "collect", "decisions", "extensions", "remind"]),
    ("reporting", ["status", "tasks", "scorecard", "explanations",
                   "workbook.figures", "workbook.look", "workbook.overview", "workbook.detail", "workbook.history",
                   "workbook.missing", "workbook.problems", "workbook.sources", "workbook.explanations",
                   "workbook.assessment", "workbook.collectives", "workbook.passes", "workbook.book",
                   "history", "bulletin", "data"]),
    ("relay", ["forward", "rollup"]),
    ("mail", ["account", "structure", "fetch", "send"]),
    ("web", ["outputs", "jobs", "console", "guard", "rounds", "board", "downloads", "mailbox", "tasks", "revision", "feed", "app"]),
    ("surfaces", ["demo", "launcher", "cli.shared", "cli.setup", "cli.rounds", "cli.decisions", "cli.organisation",
                  "cli.year", "cli.data", "cli.mail", "cli.console", "cli.main", "__main__", "__init__"]),
]  # fmt: skip
SUBPACKAGES = {"reading", "register", "generate", "intake", "reporting", "relay", "mail", "web"}
# stages that stand side by side: none imports another
SIBLINGS = {"generate", "intake", "reporting"}
LAYER = {stage: n for n, (stage, _) in enumerate(STAGES)}
for sibling in SIBLINGS:
    LAYER[sibling] = LAYER["generate"]


def _place(module: str) -> tuple[str, int]:
    """(stage, position inside it) of a module named as 'config', 'ledger.book' or
    'intake.collect'; -1 for a package itself (its __init__)."""
    head, _, rest = module.partition(".")
    if head in SUBPACKAGES:
        stage, inner = head, rest
    else:
        stage = next((st for st, names in STAGES if st not in SUBPACKAGES and any(
            n == head or n.startswith(head + ".") for n in names)), "")  # fmt: skip
        inner = module
    if not stage:
        raise AssertionError(f"{module} has no place in STAGES")
    names = dict(STAGES)[stage]
    if inner in names:
        return stage, names.index(inner)
    if not inner or any(n.startswith(inner + ".") for n in names):
        return stage, -1  # a package's own __init__
    raise AssertionError(f"{module} has no place in STAGES")


def _dotted(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _known(parts: list[str]) -> str:
    """The module a dotted name lies in: its longest prefix that is a module or package."""
    for k in range(len(parts), 0, -1):
        name = ".".join(parts[:k])
        if name in MODULES or name in SUBPACKAGES:
            return name
    return parts[0]


def imports_of(source: str, module: str) -> tuple[set[str], list[tuple[int, str]]]:
    """The xlflow modules a module imports (as 'config' or 'intake.collect', relative and
    absolute imports alike, nested ones too), and the imports inside functions, each as its
    line and the module it imports ('?' for one outside xlflow)."""
    tree = ast.parse(source)
    package = module.split(".")[:-1] if "." in module else []
    if module in SUBPACKAGES or module in PACKAGES:  # a package's __init__
        package = module.split(".")
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = [[*target, a.name] for a in node.names]
            elif node.module and node.module.split(".")[0] == "xlflow":
                target = node.module.split(".")[1:]
                names = [[*target, a.name] for a in node.names]
            else:
                continue
            for parts in names:
                if parts:
                    found.add(_known(parts))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "xlflow" and len(parts) > 1:
                    found.add(_known(parts[1:]))
    nested = [
        (inner.lineno, name)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(fn)
        if isinstance(inner, ast.Import | ast.ImportFrom)
        for name in imports_of(ast.unparse(inner), module)[0] or {"?"}
    ]
    return found, nested


def violations(module: str, imported: set[str]) -> list[str]:
    """What a module may not import: anything in a later stage, a sibling stage, or later
    in its own stage."""
    stage, at = _place(module)
    out = []
    for other in sorted(imported):
        if other in SUBPACKAGES and other != stage:
            other_stage, other_at = other, -1
        else:
            other_stage, other_at = _place(other)
        if other_stage == stage:
            if module.endswith("__init__") or at == -1:
                continue  # a package's own __init__ may name its modules
            if other_at >= at:
                out.append(f"{other} (later in {stage})")
        elif other_stage in SIBLINGS and stage in SIBLINGS:
            out.append(f"{other} (a sibling stage, {other_stage})")
        elif LAYER[other_stage] > LAYER[stage]:
            out.append(f"{other} (a later stage, {other_stage})")
    return out


def _modules() -> list[tuple[Path, str]]:
    return [(p, _dotted(p)) for p in sorted(PACKAGE.rglob("*.py"))]


MODULES = {m for _, m in _modules()}
# every package below xlflow (its __init__), the stages' and those inside a stage
PACKAGES = {_dotted(p) for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE}


def test_every_module_has_its_place() -> None:
    listed = {
        (f"{stage}.{name}" if stage in SUBPACKAGES else name)
        for stage, names in STAGES
        for name in names
    }
    found = {m for _, m in _modules() if m not in PACKAGES}
    assert found == listed
    for _, module in _modules():
        name = module.rpartition(".")[2]
        if not name.startswith("__"):
            assert f"`{name}`" in ARCHITECTURE or f"`{name}/`" in ARCHITECTURE, module


@pytest.mark.parametrize("path", [p for p, _ in _modules()], ids=lambda p: _dotted(p))
def test_a_module_imports_only_what_comes_before_it(path: Path) -> None:
    module = _dotted(path)
    imported, nested = imports_of(path.read_text("utf-8"), module)
    imported.discard(module)
    assert violations(module, imported) == [], f"{module} imports what comes after it"
    if not module.startswith("cli."):
        deferred = [line for line, name in nested if (module, name) not in DEFERRED]
        assert deferred == [], f"{module} imports inside a function at lines {deferred}"


# The imports a module may make inside a function, each for a command that must start
# fast; every other module imports at its top, where a reader sees what it depends on.
DEFERRED = {
    # the worker pool brings multiprocessing (some 20 ms); a register already parsed is
    # read from the ledger, so `status` never needs it
    ("register.load", "pool"),
}


@pytest.mark.parametrize(
    ("module", "source", "said"),
    [
        # a step importing a sibling step: intake (collect) reading the merge's workbook
        ("intake.receipts", "from ..reporting.consolidate import merge\n", "sibling"),
        ("reporting.history", "from xlflow.generate import forms\n", "sibling"),
        ("generate.forms", "import xlflow.intake.collect\n", "sibling"),
        # an earlier stage importing a later one
        ("reading.reader", "from ..register.parse import read_register\n", "later stage"),
        ("workspace", "from .register.load import load_register\n", "later stage"),
        # inside a subpackage: a module importing one listed after it
        ("intake.locate", "from .validate import validate_form\n", "later in intake"),
        ("reading.zipnames", "from . import containers\n", "later in reading"),
    ],
)
def test_the_rule_catches_what_it_forbids(module: str, source: str, said: str) -> None:
    """The checker is not vacuous: each of these imports is refused, and says why."""
    imported, _ = imports_of(source, module)
    assert any(said in v for v in violations(module, imported)), (imported, said)


COMMAND_GROUPS = {"status": "rounds", "history": "year", "register": "setup"}


def test_the_steps_of_a_round_load_no_matching() -> None:
    """generate, collect and merge follow a revision's lineage but never match one: the
    matching (and numpy, some 10 MiB) loads only for `register --update`."""
    probe = (
        "import sys\n"
        "import xlflow.generate.forms, xlflow.intake.collect, xlflow.reporting.workbook.book\n"
        "print(sorted(m for m in ('numpy', 'xlflow.register.matching') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_a_cheap_command_loads_no_workbook_reader_or_writer(tmp_path: Path) -> None:
    """`status`, `history`, `register` (the register already in the ledger) and `--help`
    load neither a workbook writer nor a reader, in a fresh interpreter; and a command
    loads the module of its own group and of no other."""

    from .conftest import DEFAULT_ROUND, run

    root = tmp_path / "w"
    run(["init", str(root)])
    run(["generate", "-w", str(root), "--round", DEFAULT_ROUND])
    heavy = ("xlsxwriter", "openpyxl", "python_calamine", "docx", "docxtpl", "olefile", "lxml", "pandas", "py7zr", "numpy")  # fmt: skip
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from xlflow.cli.main import main\n"
        "result = CliRunner().invoke(main, sys.argv[1:])\n"
        "assert result.exit_code == 0, result.output\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
        "print(sorted(m for m in sys.modules if m.startswith('xlflow.cli.')))\n"
    )
    for args in (
        ["--help"],
        ["status", "-w", str(root), "--round", DEFAULT_ROUND],
        ["status", "-w", str(root), "--round", DEFAULT_ROUND, "--json"],
        ["history", "-w", str(root)],
        ["register", "-w", str(root)],
    ):
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        heavy_loaded, groups = done.stdout.strip().splitlines()[-2:]
        assert heavy_loaded == "[]", (args, done.stdout)
        # a command loads its own group's module and no other (click's lazy group)
        if args[0] in COMMAND_GROUPS:
            wanted = [
                "xlflow.cli.main",
                "xlflow.cli.shared",
                f"xlflow.cli.{COMMAND_GROUPS[args[0]]}",
            ]
            assert groups == repr(sorted(wanted)), (args, groups)


def test_every_error_raised_has_a_kind() -> None:
    """No bare XlflowError or WorkspaceError is raised: each is NotFound, Invalid, Busy or
    DiskError (or a subclass), so that the console answers it by kind."""
    from xlflow import errors

    kinds = errors.KINDS
    assert set(kinds) == {errors.NotFound, errors.Invalid, errors.Busy, errors.DiskError}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                name = getattr(node.exc.func, "id", "")
                cls = getattr(errors, name, None)
                if isinstance(cls, type) and issubclass(cls, errors.XlflowError):
                    assert issubclass(cls, kinds), f"{path.name}:{node.lineno} raises {name}"


def test_the_public_api_lists_agree() -> None:
    """`_EXPORTS`, `__all__` and the TYPE_CHECKING imports of xlflow/__init__.py name the
    same things, each from the module that defines it, and each loads."""
    import importlib

    import xlflow

    tree = ast.parse((PACKAGE / "__init__.py").read_text("utf-8"))
    typed: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.level == 1 and stmt.module
                for alias in stmt.names:
                    typed[alias.name] = stmt.module
    exports = dict(xlflow._EXPORTS)
    assert typed == exports
    assert sorted(xlflow.__all__) == sorted([*exports, "__version__"])
    for name, module in exports.items():
        value = getattr(importlib.import_module(f"xlflow.{module}"), name)
        public = getattr(xlflow, name)
        # a function of a working folder is the same function, taking the folder's path too
        assert public is value or public.__wrapped__ is value, name
        # defined there, not imported from elsewhere
        defined_in = getattr(value, "__module__", f"xlflow.{module}")
        assert defined_in == f"xlflow.{module}", (name, defined_in)


# modules whose words are a register's vocabulary (what xlflow recognises in a register
# another office wrote), not labels it shows: 牵头 and 配合 are words to find there
VOCABULARY = {"units", "register.parse", "register.detect", "register.paragraphs"}


def test_no_module_defines_a_label_that_wording_defines() -> None:
    """Every label a person reads (a verdict, a standing, a role, 逾期, a sheet's name)
    lives in wording, once: no other module writes the same text as a literal."""
    from xlflow import wording

    labels = {
        *wording.VERDICT_LABELS.values(),
        *wording.STANDING_LABELS.values(),
        *wording.ROLE_LABELS.values(),
        wording.OVERDUE_LABEL,
        wording.OVERVIEW,
        wording.DETAIL,
        wording.MISSING,
        wording.PROBLEMS,
        wording.SOURCES,
        wording.HISTORY,
        wording.COLLECTIVES,
        wording.ASSESSMENT,
    }
    for path, module in _modules():
        if module == "wording" or module.startswith("config.") or module in VOCABULARY:
            continue  # config: the default missing_label is a setting an office may change
        tree = ast.parse(path.read_text("utf-8"))
        # a label's text inside a sentence (an f-string) is a sentence, not the label
        in_sentences = {
            id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
            for part in node.values
        }  # fmt: skip
        said = {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in in_sentences
        }
        assert not (said & labels), f"{module} writes {sorted(said & labels)} itself"


def test_the_code_fingerprint_covers_every_subpackage(tmp_path: Path) -> None:
    """A change to a module deep in a stage (intake/collect.py, web/app.py) is a change of
    xlflow's code: what was derived under the old code is derived again. An unchanged tree
    keeps its fingerprint, and a compiled file beside a module is not code."""
    import shutil

    from xlflow.ledger import codec

    copy = tmp_path / "xlflow"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    fake = copy / "ledger" / "codec.py"

    def fingerprint() -> str:
        codec.code_fingerprint.cache_clear()  # kept for the life of a process
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(codec, "__file__", str(fake))
            return codec.code_fingerprint()

    try:
        before = fingerprint()
        assert fingerprint() == before
        (copy / "intake" / "__pycache__").mkdir(exist_ok=True)
        (copy / "intake" / "__pycache__" / "collect.cpython-311.pyc").write_bytes(b"x")
        assert fingerprint() == before
        for deep in ("intake/collect.py", "web/app.py", "reading/reader.py"):
            target = copy / deep
            stat = target.stat()
            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
            after = fingerprint()
            assert after != before, deep
            before = after
        app = copy / "web" / "app.py"
        stat = app.stat()
        with app.open("a", encoding="utf-8") as out:
            out.write("# changed, its time kept\n")
        os.utime(app, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert fingerprint() != before  # its size says so
    finally:
        codec.code_fingerprint.cache_clear()


def test_the_architecture_page_names_nothing_that_does_not_exist() -> None:
    """Every name in backticks on docs/architecture.md is a module, a package, or a
    function, class or constant defined somewhere in xlflow."""
    import re

    source = "\n".join(p.read_text("utf-8") for p in PACKAGE.rglob("*.py"))
    modules = {p.stem for p in PACKAGE.rglob("*.py")} | {p.name for p in PACKAGE.rglob("*")}
    others = {"C7", "xlflow", "xlflow.toml", "make_registers.py"}  # a cell, the package, files
    for name in set(re.findall(r"`([A-Za-z_][\w.]*)(?:\(\))?`", ARCHITECTURE)) - others:
        last = name.split(".")[-1]
        defined = re.search(rf"^\s*(def|class)\s+{re.escape(last)}\b|^\s*{re.escape(last)}\s*[:=]", source, re.M)  # fmt: skip
        assert defined or last in modules, name


# the hot loops over every cell of a returned file, where a call per part would cost a
# call per cell (pyproject.toml's mccabe note names them too)
LONG_ALLOWED = {"reading.ooxml._scan_sheet", "reading.ods._scan_ods"}


def room_problems(source: str, module: str, package_init: bool) -> list[str]:
    """What makes a module too large to hold in your head: over 800 lines, a function over
    80 but the named hot loops, or a package __init__ that holds more than its docstring."""
    out = []
    lines = len(source.splitlines())
    if lines > 800:
        out.append(f"{module} has {lines} lines")
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > 80 and f"{module}.{node.name}" not in LONG_ALLOWED:
                out.append(f"{module}.{node.name} has {length} lines")
    if package_init and not (
        len(tree.body) <= 1
        and all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in tree.body)
    ):
        out.append(f"{module}/__init__.py holds more than its docstring")
    return out


@pytest.mark.parametrize("path", [p for p, _ in _modules()], ids=lambda p: _dotted(p))
def test_a_room_small_enough_to_hold_in_your_head(path: Path) -> None:
    """No module over 800 lines, no function over 80 but the named hot loops, and a
    package's __init__ says what the package holds and nothing else."""
    package_init = path.name == "__init__.py" and path.parent != PACKAGE
    assert room_problems(path.read_text("utf-8"), _dotted(path), package_init) == []


def test_the_room_limits_are_not_vacuous() -> None:
    """The limits refuse what they forbid: a long module, a long function, a re-export."""
    long_function = "def f():\n" + "    x = 1\n" * 81
    assert room_problems(long_function, "m", False) == ["m.f has 82 lines"]
    assert room_problems("x = 1\n" * 801, "m", False) == ["m has 801 lines"]
    shim = '"""doc"""\nfrom .app import serve\n'
    assert room_problems(shim, "web", True) == ["web/__init__.py holds more than its docstring"]
    assert room_problems('"""doc"""\n', "web", True) == []
