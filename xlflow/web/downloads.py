"""What a round gives to take away: the consolidated workbook, the 通报, reminder drafts,
the forms and receipts zipped, and any file of outbox/."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, send_file, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from ..files import zip_folder
from ..intake.remind import write_reminders
from ..reporting.bulletin import write_report
from ..reporting.status import round_status
from ..reporting.workbook.book import merge
from .console import console, outbox_link
from .outputs import round_outputs

pages = Blueprint("downloads", __name__)


@pages.post("/r/<round_id>/merge")
def merged(round_id: str) -> BaseResponse:
    merged = merge(console().ws, round_id)
    if merged.note:
        flash(merged.note)  # shown on the next page, once the download has started
    return redirect(outbox_link(merged.path) or "/", 303)


@pages.post("/r/<round_id>/report")
def notice(round_id: str) -> BaseResponse:
    result = write_report(console().ws, round_id)
    return redirect(outbox_link(result.path) or "/", 303)


@pages.post("/r/<round_id>/remind")
def remind(round_id: str) -> BaseResponse:
    written = write_reminders(console().ws, round_id)
    drafts, notes = written.drafts, written.notes
    flash(
        f"已生成 {len(drafts)} 份催报邮件草稿（未发送）。"
        if drafts
        else "所有处室均已采用，无需催报。"
    )
    for note in notes:
        flash(note)
    return redirect(url_for("downloads.reminders", round_id=round_id), 303)


@pages.get("/r/<round_id>/reminders")
def reminders(round_id: str) -> str:
    ws = console().ws
    status = round_status(ws, round_id)
    return render_template("reminders.html", status=status, outputs=round_outputs(ws, status))


@pages.get("/r/<round_id>/<any(forms, receipts, reminders):kind>.zip")
def zipped(round_id: str, kind: str) -> BaseResponse:
    ws = console().ws
    status = round_status(ws, round_id)
    folder = ws.round_dir(status.round) / kind
    pattern = "*.eml" if kind == "reminders" else "*.xlsx"
    name = {"forms": "填报表", "receipts": "回执", "reminders": "催报邮件草稿"}[kind]
    return send_file(
        io.BytesIO(zip_folder(folder, pattern)),
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"{status.round.slug}-{name}.zip",
    )


@pages.get("/files/<path:rel>")
def download(rel: str) -> BaseResponse:
    parts = rel.replace("\\", "/").split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        abort(404)
    outbox = console().ws.outbox.resolve()
    path = (outbox / Path(*parts)).resolve()
    if not path.is_relative_to(outbox) or not path.is_file():
        abort(404)
    return send_file(path, as_attachment=True, download_name=path.name, max_age=0)
