"""Forms that check themselves while a division fills them: each rule of `[[fields]]` and
`[[contact]]` as a spreadsheet formula, and as its Python twin.

Each rule's formula, pointed at the task sheet, fills a very hidden sheet of flags (one
1 or 0 at each input cell's address). An input cell turns red (a conditional format)
while its flag is 1, and the check line sums the flags; a test reads them back after an
office suite has recalculated.

The formulas use only functions that Excel 2010, WPS and LibreOffice all compute (IF, OR,
AND, NOT, LEN, TRIM, CLEAN, ASC, LOWER, SUBSTITUTE, VALUE, ISNUMBER, ISERROR, ISNA, MATCH,
INT, ROUND, LEFT, RIGHT, CELL, DATEVALUE, SUM) and no array formulas. `breaks` says in Python what each
formula says, for the values the form is written with (the cached results a reader that
does not recalculate sees); tests/test_selfcheck.py holds both to `collect`'s verdicts.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from ..config import Field, Settings
from ..values import DIGITS, PHONE_EXTRAS, phone_ok, to_number

CHECK_SHEET = "_xlflow_check"
COMPLETE = "已填写完整，可以保存后报送"


_REMAINING = "还有 {} 处需要填写或修改（标红的单元格）"


def remaining(count: int) -> str:
    return _REMAINING.format(count)


def check_line_formula(flags: str) -> str:
    """The check line: `flags` is the range of the flag cells."""
    before, after = _REMAINING.split("{}")
    count = f"SUM({flags})"
    return f'=IF({count}=0,"{COMPLETE}","{before}"&{count}&"{after}")'


# --- the formulas ---


def _strip(expr: str, pieces: tuple[str, ...] | str) -> str:
    for piece in pieces:
        expr = f'SUBSTITUTE({expr},"{piece}","")'
    return expr


def _blank(x: str) -> str:
    # whitespace only is empty, as collect reads it: CLEAN takes line breaks, TRIM spaces
    return f'LEN(TRIM(CLEAN(SUBSTITUTE({x},"\u3000",""))))=0'


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _list(values: tuple[str, ...]) -> str:
    return "{" + ",".join(_quote(v) for v in values) + "}"


def _number(x: str) -> str:
    """The number a cell holds, as collect reads it (an error where it is none): commas
    dropped, a % at the end taken off."""
    t = f'SUBSTITUTE(ASC(TRIM({x})),",","")'
    core = f'IF(RIGHT({t},1)="%",TRIM(LEFT({t},LEN({t})-1)),{t})'
    return f"IF(ISNUMBER({x}),{x},VALUE({core}))"


def _percent(x: str, n: str, status: str | None, done: str) -> str:
    """A percent as collect scales it: 0.8 in a % cell or alone is 80; 1 of a done task 100."""
    sign = f'AND(NOT(ISNUMBER({x})),RIGHT(ASC(TRIM({x})),1)="%")'
    formatted = f'LEFT(CELL("format",{x}),1)="P"'
    done_one = f"AND({n}=1,TRIM({status})={_quote(done)})" if status and done else "FALSE"
    return (
        f"IF({sign},{n},IF(AND({formatted},OR({n}<10,{n}<>INT({n}))),{n}*100,"
        f"IF(AND({n}>0,{n}<1),{n}*100,IF({done_one},100,{n}))))"
    )


def _out_of_range(f: Field, value: str) -> str:
    tests = []
    if f.min is not None:
        tests.append(f"{value}<{f.min:g}")
    if f.max is not None:
        tests.append(f"{value}>{f.max:g}")
    return f"OR({','.join(tests)})" if tests else "FALSE"


def number_formula(x: str) -> str:
    """The number a cell holds, as its own formula: a flag cell refers to it instead of
    repeating it a dozen times (XlsxWriter's formula preparation costs by the character)."""
    return "=" + _number(x)


def _filled_breaks(
    f: Field, x: str, refs: Mapping[str, str], settings: Settings, number: str | None
) -> str:
    """The rule of a cell that holds something; `number`, where given, is a cell holding
    the number it holds (or an error)."""
    if f.type == "choice":
        return f"ISNA(MATCH(ASC(TRIM({x})),{_list(f.choices)},0))"
    if f.type in ("percent", "number"):
        n = number or _number(x)
        if f.type == "percent":
            done = settings.status_order[0] if settings.status_order else ""
            value = _percent(x, n, refs.get(settings.status.field), done)
        else:
            value = n
        # collect compares the number rounded to six places
        return f"IF(ISERROR({n}),TRUE,{_out_of_range(f, f'ROUND({value},6)')})"
    if f.type == "date":
        return f"IF(ISNUMBER({x}),OR({x}<20000,{x}>80000),ISERROR(DATEVALUE(TRIM({x}))))"
    if f.type == "phone":
        lower = f"LOWER(TRIM(CLEAN({x})))"
        no_digits = _strip(lower, tuple(DIGITS))
        digits = f"LEN({lower})-LEN({no_digits})"
        rest = _strip(no_digits, PHONE_EXTRAS)
        return f"OR({digits}<7,{digits}>20,LEN({rest})>0)"
    if f.max_length:
        return f"LEN({x})>{f.max_length}"
    return "FALSE"


def _when_empty(f: Field, refs: Mapping[str, str]) -> str:
    """Whether an empty cell breaks a rule: it is required, or required now."""
    if f.required:
        return "TRUE"
    cond = f.required_when
    if cond is None or cond.field not in refs:
        return "FALSE"
    other = refs[cond.field]
    return "OR(" + ",".join(f"TRIM({other})={_quote(v)}" for v in cond.values) + ")"


def breaks_formula(
    f: Field, x: str, refs: Mapping[str, str], settings: Settings, number: str | None = None
) -> str:
    """TRUE while the cell `x` breaks a rule of `f`; `refs` are the same row's other input
    cells by field key (for required_when, and the status a percent of 1 depends on);
    `number` a cell holding `number_formula(x)`, for a number or percent field."""
    rule = _filled_breaks(f, x, refs, settings, number)
    return f"IF({_blank(x)},{_when_empty(f, refs)},{rule})"


# --- the same rules in Python ---


def _blank_value(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not re.sub(r"[\x00-\x1f\u3000 ]", "", value)
    return False


def breaks(
    f: Field,
    value: Any,
    row: Mapping[str, Any],
    settings: Settings,
    percent_format: bool = False,
) -> bool:
    """What `breaks_formula` computes, for a cell holding `value` in a row holding `row`
    (field key -> value)."""
    if _blank_value(value):
        if f.required:
            return True
        cond = f.required_when
        if cond is None or cond.field not in row:
            return False
        other = row[cond.field]
        return isinstance(other, str) and other.strip() in cond.values
    if f.type == "choice":
        return unicodedata.normalize("NFKC", str(value)).strip() not in f.choices
    if f.type in ("percent", "number"):
        n, sign = to_number(value)
        if n is None:
            return True
        if f.type == "percent" and not sign:
            status = row.get(settings.status.field)
            done = settings.status_order[0] if settings.status_order else ""
            if (percent_format and (n < 10 or not n.is_integer())) or 0 < n < 1:
                n *= 100
            elif n == 1 and isinstance(status, str) and status.strip() == done and done:
                n = 100.0
        n = round(n, 6)
        return (f.min is not None and n < f.min) or (f.max is not None and n > f.max)
    if f.type == "date":
        if isinstance(value, dt.date):
            return False
        if isinstance(value, int | float):
            return not 20000 <= value <= 80000
        try:
            dt.date.fromisoformat(str(value).strip())
        except ValueError:
            return True
        return False
    if f.type == "phone":
        return not phone_ok(str(value))
    return bool(f.max_length and len(str(value)) > f.max_length)
