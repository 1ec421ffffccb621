"""A round's board: who has returned what, the upload and the collect it starts, a
division's and a file's page, and the coordinator's decisions."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers.response import Response as BaseResponse

from ..errors import Invalid
from ..intake.collect import collect
from ..intake.decisions import decide, review_explanations, undo
from ..intake.extensions import extend, undo_extension
from ..intake.upload import MAX_FILES, Upload, receive
from ..ledger.book import Ledger
from ..model import parse_date
from ..register.load import load_register
from ..reporting.explanations import Flag, flags_of
from ..reporting.status import round_status
from ..standing import RoundStatus
from ..workspace import Workspace
from .console import console, sent_name
from .jobs import Job
from .outputs import round_outputs

pages = Blueprint("board", __name__)


def _flags(ws: Workspace, status: RoundStatus) -> dict[str, list[Flag]]:
    """Each division's 需说明事项, in its counted return, with the coordinator's word."""
    with Ledger(ws.ledger_path) as ledger:
        reviews = ledger.reviews(status.round.id)
    counted = [d.counted for d in status.divisions if d.counted is not None and d.accepted]
    out: dict[str, list[Flag]] = {}
    for flag in flags_of(counted, reviews):
        out.setdefault(flag.division, []).append(flag)
    return out


@pages.get("/r/<round_id>")
def board(round_id: str) -> str:
    ws = console().ws
    status = round_status(ws, round_id)
    job = console().jobs.get(request.args.get("job", ""))
    return render_template(
        "board.html",
        status=status,
        counts=status.counts(),
        outputs=round_outputs(ws, status),
        flags=_flags(ws, status),
        job=job if job and job.finished and job.round_id == status.round.id else None,
        max_files=MAX_FILES,
        max_mb=console().limits.max_uncompressed_mb,
    )


def _start_collect(round_id: str, label: str, received: dict[str, Any]) -> Job:
    ws = console().ws

    def work(job: Job) -> dict[str, Any]:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        report = collect(ws, round_id, progress=progress)
        status = round_status(ws, round_id)
        return received | {
            "files": len(report.files),
            "counts": status.counts(),
            "missing": report.missing,
        }

    return console().jobs.start(round_id, label, work)


def job_response(job: Job) -> BaseResponse | str:
    if request.headers.get("HX-Request"):
        return render_template("job.html", job=job, fragment=True)
    return redirect(url_for("board.job_page", job_id=job.id), 303)


@pages.post("/r/<round_id>/upload")
def upload(round_id: str) -> BaseResponse | str:
    ws = console().ws
    rnd = round_status(ws, round_id).round  # an unknown round is refused before saving
    files = [f for f in request.files.getlist("files") if f.filename or f.content_length]
    if not files:
        raise Invalid("没有选择文件。请把收到的表格、邮件或压缩包拖到框里，或点“选择文件”。")
    result = receive(ws, [Upload(sent_name(f), f.stream) for f in files])
    job = _start_collect(rnd.id, "核验收到的文件", {"received": result.to_dict()})
    return job_response(job)


@pages.post("/r/<round_id>/collect")
def recollect(round_id: str) -> BaseResponse | str:
    rnd = round_status(console().ws, round_id).round
    return job_response(_start_collect(rnd.id, "重新核验 inbox 中的文件", {}))


@pages.get("/jobs/<job_id>")
def job_page(job_id: str) -> BaseResponse | str:
    job = console().jobs.get(job_id)
    if job is None:
        abort(404)
    if job.finished and not job.error:
        target = job.target or url_for("board.board", round_id=job.round_id)
        target += ("&" if "?" in target else "?") + f"job={job.id}"
        if request.headers.get("HX-Request"):
            response = Response("", 204)
            response.headers["HX-Redirect"] = target
            return response
        return redirect(target, 303)
    return render_template("job.html", job=job, fragment=bool(request.headers.get("HX-Request")))


@pages.get("/r/<round_id>/d/<division>")
def division(round_id: str, division: str) -> str:
    ws = console().ws
    status = round_status(ws, round_id)
    if division not in [d.division for d in status.divisions]:
        abort(404)
    state = status.state.of(division)
    return render_template(
        "division.html",
        status=status,
        d=state,
        overdue=status.overdue(state),
        outputs=round_outputs(ws, status),
        flags=_flags(ws, status).get(division, []),
        fields=ws.settings.fields,
        contact_fields=ws.settings.contact,
        register=load_register(ws),
    )


@pages.get("/r/<round_id>/f/<sha256>")
def unidentified(round_id: str, sha256: str) -> str:
    ws = console().ws
    status = round_status(ws, round_id)
    record = next((f for f in status.state.files if f.sha256 == sha256), None)
    if record is None:
        abort(404)
    return render_template("file.html", status=status, f=record, outputs=round_outputs(ws, status))


@pages.post("/r/<round_id>/extend")
def extension(round_id: str) -> BaseResponse:
    """A division's own deadline, or its end: the same as xlflow extend [--undo]."""
    ws, form = console().ws, request.form
    division = form.get("division", "")
    by = form.get("by", "").strip() or None
    if form.get("action") == "undo":
        result = undo_extension(ws, round_id, division, by)
        flash(f"已撤销{division}的延期。")
    else:
        until = parse_date(form.get("until", ""))
        if until is None:
            raise Invalid("请选择延期后的报送时限。")
        result = extend(ws, round_id, division, until, form.get("reason", ""), by)
        flash(
            f"已同意{division}延期至 {result.extension.until.isoformat()}。理由：{result.extension.reason}"
        )
    return redirect(url_for("board.division", round_id=round_id, division=division), 303)


@pages.post("/r/<round_id>/review")
def review(round_id: str) -> BaseResponse:
    """Accept a division's 说明 or ask again: the same as xlflow accept --division --task."""
    ws, form = console().ws, request.form
    division = form.get("division", "")
    verdict = "ask_again" if form.get("action") == "ask_again" else "accepted"
    result = review_explanations(
        ws, round_id, division, (form.get("task_id", ""),), verdict, form.get("note", ""),
        form.get("by", "").strip() or None, form.get("rule", ""),
    )  # fmt: skip
    done = "、".join(f"序号 {r.task_id}" for r in result.reviews)
    flash(
        f"已请{division}再说明（{done}），追问已写入其回执。"
        if verdict == "ask_again"
        else f"已认可{division}的说明（{done}）。"
    )
    return redirect(url_for("board.division", round_id=round_id, division=division), 303)


@pages.post("/r/<round_id>/decide")
def decision(round_id: str) -> BaseResponse:
    ws, form = console().ws, request.form
    action, sha = form.get("action", ""), form.get("sha256", "")
    by = form.get("by", "").strip() or None
    if action == "undo":
        result = undo(ws, round_id, sha, by)
    else:
        result = decide(ws, round_id, sha, action, form.get("reason", ""), by)
    verb = {"accept": "采用", "exclude": "不采用"}[result.decision.action]
    flash(
        f"已撤销对“{result.file.path}”的{verb}决定。"
        if result.undone
        else f"已记录：{verb}“{result.file.path}”。理由：{result.decision.reason}"
    )
    back = form.get("back", "")
    # only back to a page of this console: browsers read "/\\host" as "//host"
    if back.startswith("/r/") and "\\" not in back and "//" not in back:
        return redirect(back, 303)
    return redirect(url_for("board.board", round_id=round_id), 303)
