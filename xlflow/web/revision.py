"""The 清单修订 page: a revised register uploaded, every pair with both texts, confirmed
pair by pair, then taken (as `xlflow register --update … --mapping … --apply` does)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from ..errors import Invalid
from ..files import atomic_write
from ..register.mapping import COLUMNS, mapping_csv
from ..register.parse import MAX_REGISTER_MB, SUFFIXES
from ..register.revise import KINDS
from ..register.update import UpdateResult, update_register
from ..text import safe_filename
from ..workspace import Workspace
from .console import console, sent_name

pages = Blueprint("revision", __name__)


def _folder(ws: Workspace) -> Path:
    """Where uploaded revisions wait (never templates/, which --apply writes to)."""
    return ws.state / "revisions"


def _saved(ws: Workspace, name: str) -> Path:
    path = _folder(ws) / name
    if not name or Path(name).name != name or not path.is_file():
        abort(404)
    return path


@pages.get("/register/revision")
def revision() -> str:
    ws = console().ws
    name = request.args.get("file", "")
    if not name:
        return render_template("revision.html", result=None, file="")
    # compared as the mapping its choices make: the register in use, uploaded again to
    # correct its pairs, with the version before it
    result = update_register(ws, _saved(ws, name), pairing=True)
    return render_template("revision.html", result=result, file=name, **_shown(result))


def _shown(result: UpdateResult) -> dict[str, object]:
    """The page's rows: each pair (with its place in the table, the name of its choice),
    each retired task with the added ones it may be instead."""
    rows = list(enumerate(result.table[1:]))
    pairs = [(k, row) for k, row in rows if row[0] and row[2]]
    retired = [(k, row) for k, row in rows if row[0] and not row[2]]
    added = [row for _, row in rows if row[2] and not row[0]]
    return {"pairs": pairs, "retired": retired, "added": added}


@pages.post("/register/revision")
def upload() -> BaseResponse:
    ws = console().ws
    sent = request.files.get("register")
    if sent is None or not sent.filename:
        raise Invalid("没有选择文件。请选择修订后的任务清单（.xlsx、.xls、.docx、.csv 等）。")
    name = safe_filename(Path(sent_name(sent)).name)
    if Path(name).suffix.lower() not in SUFFIXES:
        raise Invalid(f"“{name}”不是任务清单的格式；可用 .xlsx .xls .ods .csv .docx。")
    data = sent.stream.read(MAX_REGISTER_MB * 1024 * 1024 + 1)
    if len(data) > MAX_REGISTER_MB * 1024 * 1024:
        raise Invalid(f"“{name}”超过任务清单的上限 {MAX_REGISTER_MB} MB，没有保存。")
    _folder(ws).mkdir(parents=True, exist_ok=True)
    atomic_write(_folder(ws) / name, data)
    return redirect(url_for("revision.revision", file=name), 303)


@pages.post("/register/revision/apply")
def apply() -> BaseResponse:
    """The coordinator's choices as a mapping file, then taken: every pair 是 or 否, each
    retired task kept retired or paired with an added one."""
    ws = console().ws
    name = request.form.get("file", "")
    path = _saved(ws, name)
    result = update_register(ws, path, pairing=True)
    rows: list[list[str]] = [list(COLUMNS)]
    for k, row in enumerate(result.table[1:]):
        old, new = row[0], row[2]
        if old and new:
            choice = request.form.get(f"c{k}", "")
            if choice not in ("是", "否"):
                raise Invalid(
                    f"原序号 {old} → 新序号 {new} 还没有确认：请选“是”或“否”，再点“采用”。未做任何改动。"
                )
            rows.append([*row[:8], choice])
        elif old:
            into = request.form.get(f"r{k}", "")
            if into:
                rows.append([old, "", into, "", KINDS["renamed"], "", "", "", "是"])
            else:
                rows.append([*row[:8], "是"])
    mapping = _folder(ws) / f"{Path(name).stem}-对照.csv"
    atomic_write(mapping, mapping_csv(rows))
    done = update_register(ws, path, mapping=mapping, apply=True, proposed=result.proposal)
    if done.corrects:
        flash(f"已更正任务清单第 {done.version} 版的对应关系，历次进展照此贯通。")
    else:
        flash(f"已采用，记为任务清单第 {done.version} 版。下一轮生成的填报表按新清单。")
    return redirect(url_for("tasks.register"), 303)
