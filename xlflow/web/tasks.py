"""The register's pages: every task, and one task across the rounds."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, render_template, request

from ..errors import NotFound
from ..register.load import directory_report, load_register
from ..reporting.history import task_history
from ..reporting.scorecard import scorecard
from .console import console

pages = Blueprint("tasks", __name__)


@pages.get("/register")
def register() -> str:
    ws = console().ws
    reg = load_register(ws)
    years = sorted({year for t in reg.tasks for year, _ in t.targets})
    source = Path(reg.source)
    shown = source.relative_to(ws.root) if source.is_relative_to(ws.root) else source
    return render_template("register.html", register=reg, years=years, source=shown)


@pages.get("/directory")
def directory() -> str:
    """The unit directory: units, their other names, the collectives and their members,
    contacts, and each problem with its row."""
    ws = console().ws
    try:
        found = directory_report(ws)
    except NotFound as exc:
        return render_template("directory.html", report=None, missing=str(exc))
    source = Path(found.path)
    shown = source.relative_to(ws.root) if source.is_relative_to(ws.root) else source
    return render_template("directory.html", report=found, source=shown, missing="")


@pages.get("/scorecard")
def assessment() -> str:
    """The year's scorecard per division (xlflow scorecard)."""
    ws = console().ws
    year = request.args.get("year", type=int)
    card = scorecard(ws, year)
    return render_template("scorecard.html", card=card)


@pages.get("/register/<task_id>")
def task(task_id: str) -> str:
    ws = console().ws
    reg = load_register(ws)
    if reg.task(task_id) is None:
        abort(404)
    data = task_history(ws, task_id)
    return render_template("task.html", task=reg.task(task_id), history=data.tasks[0])
