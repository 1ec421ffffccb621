"""LibreOffice as a division's office suite, for the `office` tests.

These helpers need only soffice, Debian's python3-uno and poppler-utils; a clone without
../shared/ runs them wherever those are installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SOFFICE = shutil.which("soffice")
SYSTEM_PYTHON = "/usr/bin/python3"
HERE = Path(__file__).resolve().parent
INSTALL = (
    "apt-get install -y --no-install-recommends libreoffice-calc libreoffice-writer "
    "python3-uno poppler-utils fonts-noto-cjk"
)


def _uno_available() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], capture_output=True)
    return probe.returncode == 0


def _writer_available() -> bool:
    """Writer, which opens .docx: a separate Debian package from Calc."""
    if SOFFICE is None:
        return False
    program = Path(os.path.realpath(SOFFICE)).parent
    return any(program.glob("libswlo.so")) or any(program.glob("swriter*"))


OFFICE_READY = (
    SOFFICE is not None
    and shutil.which("pdftoppm") is not None
    and _uno_available()
    and _writer_available()
)
needs_office = [
    pytest.mark.office,
    pytest.mark.skipif(
        not OFFICE_READY, reason=f"LibreOffice, python3-uno or poppler missing; install: {INSTALL}"
    ),
]


@dataclass
class Job:
    source: Path
    out: Path
    cells: list[dict[str, Any]] = field(default_factory=list)
    force: bool = False
    recalculate: bool = False  # every formula after the edits, as on a full recalculation


def run_batch(jobs: list[Job], timeout: float = 600) -> list[dict[str, Any]]:
    """Fill, save or print every job in one LibreOffice start."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(
            [
                {
                    "in": str(j.source),
                    "out": str(j.out),
                    "cells": j.cells,
                    "force": j.force,
                    "recalculate": j.recalculate,
                }
                for j in jobs
            ],
            fh,
            ensure_ascii=False,
        )
        spec = fh.name
    try:
        env = {**os.environ, "OFFICE_TIMEOUT": str(timeout)}
        done = subprocess.run(
            [SYSTEM_PYTHON, str(HERE / "office_uno.py"), spec],
            capture_output=True,
            text=True,
            timeout=timeout + 30,
            env=env,
        )
    finally:
        os.unlink(spec)
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(jobs), done.stderr
    return results


def to_pdf(document: Path, out_dir: Path, timeout: float = 180) -> Path:
    """A document printed to PDF by LibreOffice, in a profile of its own."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        subprocess.run(
            [
                str(SOFFICE),
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                str(out_dir),
                str(document),
            ],
            capture_output=True,
            timeout=timeout,
            check=True,
        )
    pdf = out_dir / (document.stem + ".pdf")
    assert pdf.is_file(), f"LibreOffice made no PDF of {document}"
    return pdf


def pdf_pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


def page_text(pdf: Path, page: int) -> str:
    return subprocess.run(
        ["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def to_png(pdf: Path, out_dir: Path, dpi: int = 80) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / pdf.stem
    for old in out_dir.glob(f"{pdf.stem}-*.png"):  # of an earlier run, with other pages
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), str(pdf), str(stem)], check=True)
    return sorted(out_dir.glob(f"{pdf.stem}-*.png"))


def artifacts_dir() -> Path:
    """Where rendered pages are kept for people (and CI) to look at."""
    root = os.environ.get("XLFLOW_ARTIFACTS")
    path = Path(root) if root else HERE.parent / "outbox" / "test-renders"
    path.mkdir(parents=True, exist_ok=True)
    return path
