"""What a cell of the form accepts: its data validation, by field type, and the red-cell
rules of the task sheet."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..cells import col_letter
from ..config.fields import describe_field
from ..config.model import Field, Settings
from ..model import FormSpec
from ..signing import (
    NAME_PREFIX,
)
from .formats import LISTS_SHEET, Formats, Layout, plain_number


def validation_of(f: Field, list_name: str) -> dict[str, Any]:
    """Data validation with a Chinese prompt and error message for one field."""
    prompt = (f.prompt or describe_field(f))[:250]
    v: dict[str, Any] = {
        "input_title": f.label[:30],
        "input_message": prompt,
        "error_title": "填写内容不符合要求",
        "error_type": "stop",
        "ignore_blank": True,
    }
    if f.type == "choice":
        v.update(validate="list", source=f"={list_name}")
        v["error_message"] = f"请从下拉列表中选择：{'、'.join(f.choices)}"[:250]
    elif f.type in ("percent", "number"):
        lo = plain_number(f.min if f.min is not None else -1e15)
        hi = plain_number(f.max if f.max is not None else 1e15)
        v.update(validate="decimal", criteria="between", minimum=lo, maximum=hi)
        v["error_message"] = (
            f"请填写 {f.min:g} 到 {f.max:g} 之间的数字，不要带 % 号或文字。"
            if f.min is not None and f.max is not None
            else "请填写数字。"
        )
    elif f.type == "date":
        v.update(
            validate="date",
            criteria="between",
            minimum=dt.date(2000, 1, 1),
            maximum=dt.date(2099, 12, 31),
        )
        v["error_message"] = "请填写日期，如 2019-06-30。"
    elif f.max_length:
        v.update(validate="length", criteria="<=", value=f.max_length)
        v["error_message"] = f"内容不能超过 {f.max_length} 字，请精简。"
    else:
        v.update(validate="any")
        v.pop("error_title")
        v.pop("error_type")
    return v


def input_rules(
    wb: Any,
    ws: Any,
    lists: Any,
    fmt: Formats,
    spec: FormSpec,
    settings: Settings,
    layout: Layout,
) -> None:
    """Dropdowns (from the hidden list sheet), ranges, dates and lengths, each with a prompt."""
    field_cols = layout.field_cols
    for f in settings.fields:
        col = field_cols[f.key]
        list_name = f"{NAME_PREFIX}list_{f.key}"
        if f.type == "choice":
            lc = list(field_cols).index(f.key)
            lists.write_string(0, lc, f.label, fmt.meta)
            for k, choice in enumerate(f.choices):
                lists.write_string(k + 1, lc, choice, fmt.meta)
            letter = col_letter(lc)
            wb.define_name(
                list_name, f"='{LISTS_SHEET}'!${letter}$2:${letter}${len(f.choices) + 1}"
            )
        if spec.rows:
            ws.data_validation(layout.first, col, layout.last, col, validation_of(f, list_name))
