"""The office's mailbox from the browser: fetch what arrived (then collect it), and send
forms, receipts or reminders after a page that lists every recipient."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from ..intake.collect import collect
from ..mail.account import require
from ..mail.fetch import fetch_mail
from ..mail.send import WHAT, plan, send_mail
from ..reporting.status import round_status
from .board import job_response
from .console import console
from .jobs import Job

pages = Blueprint("mailbox", __name__)


@pages.get("/r/<round_id>/mail")
def mailbox(round_id: str) -> str:
    ws = console().ws
    status = round_status(ws, round_id)
    job = console().jobs.get(request.args.get("job", ""))
    return render_template(
        "mail.html",
        status=status,
        account=ws.settings.mail,
        what=WHAT,
        job=job if job and job.finished and job.round_id == status.round.id else None,
    )


@pages.post("/r/<round_id>/mail/fetch")
def fetch(round_id: str) -> BaseResponse | str:
    ws = console().ws
    rnd = round_status(ws, round_id).round

    def work(job: Job) -> dict[str, Any]:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        fetched = fetch_mail(ws, rnd.id, progress=progress)
        job.label, job.done, job.total = "核验收到的文件", 0, 0
        report = collect(ws, rnd.id, progress=progress)
        status = round_status(ws, rnd.id)
        return {
            "fetched": fetched.to_dict(),
            "files": len(report.files),
            "counts": status.counts(),
        }

    target = url_for("mailbox.mailbox", round_id=rnd.id)
    return job_response(console().jobs.start(rnd.id, "从邮箱收取", work, target))


@pages.get("/r/<round_id>/mail/send/<what>")
def confirm(round_id: str, what: str) -> str:
    if what not in WHAT:
        abort(404)
    ws = console().ws
    require(ws.settings.mail)
    rnd, planned = plan(ws, round_id, what)
    return render_template(
        "mail_send.html", round=rnd, what=what, label=WHAT[what], planned=planned
    )


@pages.post("/r/<round_id>/mail/send/<what>")
def send(round_id: str, what: str) -> BaseResponse | str:
    if what not in WHAT:
        abort(404)
    ws = console().ws
    rnd = round_status(ws, round_id).round
    only = tuple(request.form.getlist("division"))

    def work(job: Job) -> dict[str, Any]:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        result = send_mail(ws, rnd.id, what, only, send=True, progress=progress)
        return {"sent": result.to_dict()}

    target = url_for("mailbox.mailbox", round_id=rnd.id)
    job = console().jobs.start(rnd.id, f"发送{WHAT[what]}", work, target)
    return job_response(job)
