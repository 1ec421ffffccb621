"""The rounds page: every round with where it stands, and a new round's forms."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from ..generate.forms import generate_forms
from ..model import parse_date, parse_round
from ..reporting.status import all_rounds
from .console import console

pages = Blueprint("rounds", __name__)


@pages.get("/")
def rounds() -> str:
    return render_template("rounds.html", rounds=all_rounds(console().ws), today=dt.date.today())


@pages.post("/rounds")
def new_round() -> BaseResponse:
    form = request.form
    deadline = parse_date(form.get("deadline", ""))
    rnd = parse_round(
        form.get("round", ""), title=form.get("title", "").strip() or None, deadline=deadline
    )
    result = generate_forms(console().ws, rnd, form.get("prefill_from", "").strip())
    flash(f"已生成 {len(result.forms)} 份填报表，可以下载后发给各处室。")
    return redirect(url_for("board.board", round_id=result.round.id), 303)
