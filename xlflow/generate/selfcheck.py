"""Forms that check themselves while a division fills them: each rule of `[[fields]]` and
`[[contact]]` as a spreadsheet formula, and as its Python twin.

Each rule's formula, pointed at the task sheet, fills a very hidden sheet of flags: for a
task row, one number whose bits are its cells that break a rule, and how many they are;
for a contact cell, a 1 or 0 at its address. An input cell turns red (a conditional
format) while its bit or flag is set, and the check line sums the counts; a test reads
them back after an office suite has recalculated.

The formulas use only functions that Excel 2010, WPS and LibreOffice all compute (IF, OR,
AND, NOT, LEN, TRIM, CLEAN, ASC, LOWER, SUBSTITUTE, VALUE, ISNUMBER, ISERROR, ISNA, MATCH,
INT, MOD, ROUND, LEFT, RIGHT, EXACT, CELL, DATEVALUE, SUM, COUNTIF) and no array formulas.
`breaks` says in Python what each formula says, for the values the form is written with (the cached results a reader that
does not recalculate sees); tests/test_selfcheck.py holds both to `collect`'s verdicts.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from ..config.model import Field, PlausibilityRule, Settings
from ..plausibility import previous_fields
from ..values import DIGITS, PHONE_EXTRAS, phone_ok, to_number

CHECK_SHEET = "_xlflow_check"
COMPLETE = "已填写完整，可以保存后报送"


_REMAINING = "还有 {} 处需要填写或修改（标红的单元格）"
_TO_EXPLAIN = "还有 {} 处需要说明（标橙的行，请在“{}”栏写明原因）"
_BOTH = "还有 {} 处需要修改，{} 处需要说明"


def remaining(count: int, to_explain: int = 0, explanation: str = "说明") -> str:
    """The check line's text: what is still to fix (red) and to explain (amber)."""
    if count and to_explain:
        return _BOTH.format(count, to_explain)
    if to_explain:
        return _TO_EXPLAIN.format(to_explain, explanation)
    return _REMAINING.format(count) if count else COMPLETE


def wanting_count(hits: str) -> str:
    """How many rows still want their 说明: `hits` is the range of the rows' hit cells,
    negative while one does."""
    return f'COUNTIF({hits},"<0")'


def check_line_formula(flags: str, hits: str = "", explanation: str = "说明") -> str:
    """The check line: `flags` is the range of the flag cells, `hits` that of the rows'
    plausibility hits (see wanting_count)."""
    before, after = _REMAINING.split("{}")
    count = f"SUM({flags})"
    if not hits:
        return f'=IF({count}=0,"{COMPLETE}","{before}"&{count}&"{after}")'
    asked = wanting_count(hits)
    e_before, e_after = _TO_EXPLAIN.format("{}", explanation).split("{}")
    b1, b2, b3 = _BOTH.split("{}")
    return (
        f'=IF({count}+{asked}=0,"{COMPLETE}",IF({asked}=0,"{before}"&{count}&"{after}",'
        f'IF({count}=0,"{e_before}"&{asked}&"{e_after}","{b1}"&{count}&"{b2}"&{asked}&"{b3}")))'
    )


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
    # CELL is not in every client (Excel for the web, Excel Mobile, Excel Starter): there the
    # format is taken as not a percent, and the check goes on with what the value says
    formatted = f'IFERROR(LEFT(CELL("format",{x}),1)="P",FALSE)'
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
    f: Field,
    x: str,
    refs: Mapping[str, str],
    settings: Settings,
    number: str | None,
    value: str | None,
) -> str:
    """The rule of a cell that holds something; `number`, where given, is a cell holding
    the number it holds (or an error), and `value`, for a percent, one holding the percent
    as collect scales and rounds it ("" where it is no number: percent_value_formula)."""
    if f.type == "choice":
        return f"ISNA(MATCH(ASC(TRIM({x})),{_list(f.choices)},0))"
    if f.type == "percent" and value:
        return f"IF(ISNUMBER({value}),{_out_of_range(f, value)},TRUE)"
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
    f: Field,
    x: str,
    refs: Mapping[str, str],
    settings: Settings,
    number: str | None = None,
    value: str | None = None,
) -> str:
    """TRUE while the cell `x` breaks a rule of `f`; `refs` are the same row's other input
    cells by field key (for required_when, and the status a percent of 1 depends on);
    `number` a cell holding `number_formula(x)`, for a number or percent field, and `value`
    one holding `percent_value_formula`, for a percent."""
    rule = _filled_breaks(f, x, refs, settings, number, value)
    empty = _when_empty(f, refs)
    if rule == empty == "FALSE":
        return "FALSE"  # an optional cell with no rule: it never breaks one
    return f"IF({_blank(x)},{empty},{rule})"


# --- plausibility: the rows to explain (xlflow.plausibility's rules as formulas) ---


def percent_value_formula(x: str, n: str, status: str | None, settings: Settings) -> str:
    """The percent a cell holds as collect scales it, rounded as collect compares it; ""
    where it holds none (empty, or not a number)."""
    done = settings.status_order[0] if settings.status_order else ""
    value = _percent(x, n, status, done)
    return f'=IF({_blank(x)},"",IF(ISERROR({n}),"",ROUND({value},6)))'


def _norm(x: str) -> str:
    return f'TRIM(CLEAN(SUBSTITUTE({x},"\u3000"," ")))'


def plausibility_formulas(
    rules: tuple[PlausibilityRule, ...],
    settings: Settings,
    refs: Mapping[str, str],
    value: str,
    before: Mapping[str, str],
    due: bool,
) -> dict[str, str]:
    """The formula of each rule that can hold on this row, TRUE while the row breaks it:
    `refs` the row's input cells by field key, `value` the cell of its percent as collect
    reads it (percent_value_formula), `before` the cells of the division's previous answer
    by field key (those it gave), `due` whether the task's deadline has passed. A rule that
    compares with an answer not given, or asks after a deadline not passed, cannot hold
    (plausibility.hits says the same) and has no formula."""
    roles = previous_fields(settings)
    s = refs[roles["status"]]
    choices = settings.status_order
    done = _quote(choices[0]) if choices else '""'
    status = f"ASC(TRIM({s}))"
    chosen = f"NOT(ISNA(MATCH({status},{_list(choices)},0)))"
    percent = roles.get("percent", "")
    out: dict[str, str] = {}
    for rule in rules:
        t = f"{rule.threshold:g}"
        bp = before.get(percent, "")
        if rule.name in ("percent_fell", "percent_jump") and not (bp and value):
            continue
        if rule.name == "percent_fell":
            # AND computes every argument, so a blank value would make it an error: IF
            both = f"AND(ISNUMBER({value}),ISNUMBER({bp}))"
            out[rule.name] = f"IF({both},ROUND({bp}-{value},6)>{t},FALSE)"
        elif rule.name == "percent_jump":
            both = f"AND(ISNUMBER({value}),ISNUMBER({bp}))"
            out[rule.name] = f"IF({both},ROUND({value}-{bp},6)>={t},FALSE)"
        elif rule.name == "done_below_full":
            if not value:
                continue
            f = settings.field_by_key(percent)
            full = f"{f.max:g}" if f is not None and f.max is not None else "100"
            out[rule.name] = f"AND({status}={done},IF(ISNUMBER({value}),{value}<{full},FALSE))"
        elif rule.name == "overdue":
            if due:
                out[rule.name] = f"AND({chosen},{status}<>{done})"
        elif rule.name == "progress_copied":
            if roles.get("progress", "") not in before:
                continue
            x, bt = refs[roles["progress"]], before[roles["progress"]]
            out[rule.name] = (
                f"AND({status}<>{done},NOT({_blank(x)}),NOT({_blank(bt)}),"
                f"EXACT({_norm(x)},{_norm(bt)}))"
            )
        elif rule.name == "lagging_without_problems":
            lagging = ",".join(f"{status}={_quote(v)}" for v in rule.statuses)
            out[rule.name] = f"AND(OR({lagging}),{_blank(refs[rule.field])})"
    return out


def explained_formula(x: str) -> str:
    return f"NOT({_blank(x)})"


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
