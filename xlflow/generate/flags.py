"""The hidden flag sheet: for each cell, whether it breaks a rule (the self-check), and for
each row, the plausibility rules it trips and whether it is explained."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..cells import cell_ref, col_letter
from ..config.model import Settings
from ..model import FormSpec
from ..plausibility import (
    asked_rules,
    hits,
    previous_fields,
)
from .formats import Formats, Layout, blank_cell
from .selfcheck import (
    CHECK_SHEET,
    COMPLETE,
    breaks,
    breaks_formula,
    check_line_formula,
    explained_formula,
    number_formula,
    percent_value_formula,
    plausibility_formulas,
    remaining,
)


def sheet_ref(sheet: str, ref: str) -> str:
    return "'" + sheet.replace("'", "''") + "'!" + ref


def write_self_check(
    ws: Any,
    flags: Any,
    fmt: Formats,
    spec: FormSpec,
    settings: Settings,
    layout: Layout,
    contact_spans: Mapping[str, tuple[int, int, int]],
    bottom: int,
) -> dict[str, Any]:
    """Each input cell red while it breaks a rule, each row amber while it needs a 说明,
    and the check line counting both. Returns where the plausibility flags are.

    The flag sheet holds, at each input cell's address, 1 while that cell breaks a rule
    (selfcheck's formulas, from the same [[fields]] collect applies); the check line sums
    the flags, and each input cell's conditional format turns it red while its flag is 1.
    Right of them, the plausibility rules (`write_explain_flags`).
    """
    numeric = [f for f in settings.fields if f.type in ("percent", "number")]
    # each number's value in a helper cell right of the flags (outside what is summed)
    helper_col = {f.key: layout.last_col + 2 + k for k, f in enumerate(numeric)}
    broken = _row_flags(ws, flags, fmt, spec, settings, layout, helper_col)
    broken += _contact_flags(ws, flags, fmt, spec, settings, contact_spans)
    start = layout.last_col + 3 + len(numeric)
    places, to_explain = write_explain_flags(
        ws, flags, fmt, spec, settings, layout, helper_col, start
    )
    _check_line(
        ws, fmt, settings, layout, places, bottom, _remaining_text(broken, to_explain, settings)
    )
    flags.very_hidden()
    if settings.form.protect:
        flags.protect(settings.form.password)
    return places


def _remaining_text(broken: int, to_explain: int, settings: Settings) -> str:
    label = settings.explanation_field.label if settings.explanation_field else ""
    return remaining(broken, to_explain, label)


def _row_flags(
    ws: Any,
    flags: Any,
    fmt: Formats,
    spec: FormSpec,
    settings: Settings,
    layout: Layout,
    helper_col: Mapping[str, int],
) -> int:
    """The task rows' flags, and the red of each input cell while its flag is 1; how many
    cells break a rule as the form is made."""
    task = settings.form.sheet
    broken = 0
    field_cols = layout.field_cols
    for n, row in enumerate(spec.rows):
        r = layout.first + n
        values = dict(row.prefill)
        refs = {k: sheet_ref(task, cell_ref(r, c)) for k, c in field_cols.items()}
        for f in settings.fields:
            c = field_cols[f.key]
            bad = breaks(f, values.get(f.key), values, settings)
            broken += bad
            number = None
            if f.key in helper_col:
                number = cell_ref(r, helper_col[f.key])
                value = values.get(f.key)
                cached = value if isinstance(value, int | float) else 0
                flags.write_formula(
                    r, helper_col[f.key], number_formula(refs[f.key]), fmt.flag, cached
                )
            write_flag(
                flags, r, c, breaks_formula(f, refs[f.key], refs, settings, number), bad, fmt
            )
    if spec.rows:
        # the red is the flag: a cell of the flag sheet, at the same address (Excel 2010 and
        # later, WPS and LibreOffice take a reference to another sheet in a rule)
        top = layout.first + 1
        for f in settings.fields:
            c = field_cols[f.key]
            flag = sheet_ref(CHECK_SHEET, f"{col_letter(c)}{top}")
            _red_while_flagged(ws, fmt, (layout.first, c, layout.last, c), flag)
    return broken


def _contact_flags(
    ws: Any,
    flags: Any,
    fmt: Formats,
    spec: FormSpec,
    settings: Settings,
    contact_spans: Mapping[str, tuple[int, int, int]],
) -> int:
    """The contact block's flags and red; how many of its cells break a rule now."""
    task = settings.form.sheet
    broken = 0
    carried = dict(spec.contact_prefill)
    for f in settings.contact:
        r, c, end = contact_spans[f.key]
        ref = cell_ref(r, c)
        bad = breaks(f, carried.get(f.key), carried, settings)
        broken += bad
        write_flag(flags, r, c, breaks_formula(f, sheet_ref(task, ref), {}, settings), bad, fmt)
        flag = sheet_ref(CHECK_SHEET, "$" + col_letter(c) + "$" + str(r + 1))
        _red_while_flagged(ws, fmt, (r, c, r, end), flag)
    return broken


def _red_while_flagged(ws: Any, fmt: Formats, area: tuple[int, int, int, int], flag: str) -> None:
    """The cells of `area` red while `flag` (a cell of the flag sheet) says they break a rule."""
    ws.conditional_format(
        *area, {"type": "formula", "criteria": f"={flag}=1", "format": fmt.broken}
    )


def _check_line(
    ws: Any,
    fmt: Formats,
    settings: Settings,
    layout: Layout,
    places: Mapping[str, Any],
    bottom: int,
    cached: str,
) -> None:
    """The check line: what is still to fix and to explain, red, amber, then green."""
    area = sheet_ref(CHECK_SHEET, f"$A$1:${col_letter(layout.last_col)}${bottom + 1}")
    needs = ""
    if places:
        letter = places["needs"]
        needs = sheet_ref(CHECK_SHEET, f"${letter}${layout.first + 1}:${letter}${layout.last + 1}")
    label = settings.explanation_field.label if settings.explanation_field else ""
    line = layout.check_row
    ws.merge_range(line, 0, line, layout.last_col, "", fmt.check_line)
    ws.write_formula(line, 0, check_line_formula(area, needs, label), fmt.check_line, cached)
    if needs:
        # amber while only explanations are wanting
        ws.conditional_format(
            line, 0, line, layout.last_col,
            {"type": "formula", "criteria": f"=AND(SUM({area})=0,SUM({needs})>0)",
             "format": fmt.explain_line},
        )  # fmt: skip
    ws.conditional_format(
        line, 0, line, layout.last_col,
        {"type": "formula", "criteria": f'=$A${line + 1}="{COMPLETE}"', "format": fmt.check_done},
    )  # fmt: skip
    ws.set_row(line, 24)


def write_flag(flags: Any, r: int, c: int, formula: str, bad: bool, fmt: Formats) -> None:
    """A cell's flag: 1 while `formula` holds; a plain 0 where it never can (an optional
    cell with no rule), which costs no formula."""
    if formula == "FALSE":
        flags.write_number(r, c, 0, fmt.flag)
    else:
        flags.write_formula(r, c, f"=IF({formula},1,0)", fmt.flag, int(bad))


def write_explain_flags(
    ws: Any,
    flags: Any,
    fmt: Formats,
    spec: FormSpec,
    settings: Settings,
    layout: Layout,
    helper_col: Mapping[str, int],
    start: int,
) -> tuple[dict[str, Any], int]:
    """The plausibility rules on the flag sheet, from column `start`: per row the percent
    as collect reads it, the division's previous answer and whether the deadline passed
    (what generate signed into the form), the rules that hold as one number (hit: rule k
    adds 2**k, so 0 where none holds) and whether the row still lacks its 说明 (needs).
    The row turns amber while it needs one and green once explained. Returns the columns'
    letters, each rule's bit, and the rows to explain.

    One cell for every rule, not one each: a form carries a formula per rule per row, and
    writing them was most of generate's time (docs/performance.md)."""
    rules = asked_rules(settings)
    explanation = settings.explanation_field
    if not rules or explanation is None or not spec.rows:
        return {}, 0
    task = settings.form.sheet
    roles = previous_fields(settings)
    keys = list(roles.values())
    value_col = start
    before_col = {k: start + 1 + i for i, k in enumerate(keys)}
    due_col = start + 1 + len(keys)
    bit = {rule.name: 1 << i for i, rule in enumerate(rules)}
    hit_col = due_col + 1
    need_col = hit_col + 1
    field_cols = layout.field_cols
    percent = roles.get("percent")
    to_explain = 0
    for n, row in enumerate(spec.rows):
        r = layout.first + n
        refs = {k: sheet_ref(task, cell_ref(r, c)) for k, c in field_cols.items()}
        values = dict(row.prefill)
        before = dict(row.before)
        _write_before(flags, fmt, r, before, before_col, due_col, row.due)
        value = ""
        if percent is not None and percent in helper_col:
            value = cell_ref(r, value_col)
            cached: Any = values.get(percent)
            formula = percent_value_formula(
                refs[percent], cell_ref(r, helper_col[percent]), refs.get(roles["status"]),
                settings,
            )  # fmt: skip
            flags.write_formula(
                r, value_col, formula, fmt.flag, cached if isinstance(cached, int | float) else ""
            )
        formulas = plausibility_formulas(
            rules, settings, refs, value,
            {k: cell_ref(r, c) for k, c in before_col.items()}, cell_ref(r, due_col),
        )  # fmt: skip
        found = {h.rule for h in hits(settings, values, before, row.due, rules)}
        mask = "+".join(f"IF({formulas[rule.name]},{bit[rule.name]},0)" for rule in rules)
        flags.write_formula(r, hit_col, f"={mask}", fmt.flag, sum(bit[name] for name in found))
        explained = explained_formula(refs[explanation.key])
        asked = bool(found) and blank_cell(values.get(explanation.key))
        to_explain += asked
        flags.write_formula(
            r, need_col, f"=IF(AND({col_letter(hit_col)}{r + 1}>0,NOT({explained})),1,0)",
            fmt.flag, int(asked),
        )  # fmt: skip
    _explain_colours(ws, fmt, layout, hit_col, need_col)
    places = {
        "value": col_letter(value_col),
        "before": {k: col_letter(c) for k, c in before_col.items()},
        "due": col_letter(due_col),
        "rules": bit,
        "hit": col_letter(hit_col),
        "needs": col_letter(need_col),
    }
    return places, to_explain


def _write_before(
    flags: Any,
    fmt: Formats,
    r: int,
    before: Mapping[str, Any],
    before_col: Mapping[str, int],
    due_col: int,
    due: str,
) -> None:
    """A row's previous answers and whether its deadline passed, as generate signed them."""
    for key, col in before_col.items():
        said = before.get(key)
        if isinstance(said, int | float) and not isinstance(said, bool):
            flags.write_number(r, col, said, fmt.flag)
        elif said not in (None, ""):
            flags.write_string(r, col, str(said), fmt.flag)
    flags.write_number(r, due_col, 1 if due else 0, fmt.flag)


def _explain_colours(ws: Any, fmt: Formats, layout: Layout, hit_col: int, need_col: int) -> None:
    """A task row amber while it needs a 说明, green once it has one."""
    top = layout.first + 1
    need = sheet_ref(CHECK_SHEET, f"${col_letter(need_col)}{top}")
    hit = sheet_ref(CHECK_SHEET, f"${col_letter(hit_col)}{top}")
    ws.conditional_format(
        layout.first, 0, layout.last, layout.last_col,
        {"type": "formula", "criteria": f"={need}=1", "format": fmt.to_explain},
    )  # fmt: skip
    ws.conditional_format(
        layout.first, 0, layout.last, layout.last_col,
        {"type": "formula", "criteria": f"=AND({hit}>0,{need}=0)", "format": fmt.explained},
    )  # fmt: skip
