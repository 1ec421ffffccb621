"""The live feed (数据接口): every answer and every task as CSV or JSON, read-only, for
Excel's 数据 → 自网站 (Power Query) and WPS's 数据导入 to load and refresh.

GET only, under the console's rules (127.0.0.1 by default, the token when bound
elsewhere); a round filter is matched against the ledger's rounds, and nothing from the
request reaches the file system.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request

from ..reporting.data import answers, csv_bytes, json_bytes, tasks
from .console import console

pages = Blueprint("feed", __name__)

_KINDS = {"answers": answers, "tasks": tasks}
_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8"}


@pages.get("/feed/<kind>.<ext>")
def feed(kind: str, ext: str) -> Response:
    """`/feed/answers.csv`, `/feed/tasks.json`, with `?round=2019-H1` (repeatable, or
    separated by commas) for some rounds only."""
    if kind not in _KINDS or ext not in _TYPES:
        abort(404)
    wanted = [r for value in request.args.getlist("round") for r in value.split(",") if r]
    frame = _KINDS[kind](console().ws, wanted or None)
    data = csv_bytes(frame) if ext == "csv" else json_bytes(frame)
    response = Response(data, mimetype=_TYPES[ext].split(";")[0])
    response.headers["Content-Type"] = _TYPES[ext]
    response.headers["Cache-Control"] = "no-store"  # a refresh always reads the ledger again
    return response
