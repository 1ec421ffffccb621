"""The hidden flag sheet: for each task row, which of its cells break a rule (the
self-check), the plausibility rules it trips and whether it is explained; for each contact
cell, whether it breaks a rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
    wanting_count,
)


def sheet_ref(sheet: str, ref: str) -> str:
    return "'" + sheet.replace("'", "''") + "'!" + ref


@dataclass(frozen=True)
class FlagColumns:
    """Where a task row's flags are on the flag sheet. How many of its cells break a rule
    is in column A, inside the area the check line sums (with the contact cells' flags,
    below the rows, at their own addresses); the rest is right of the task sheet's columns,
    outside it."""

    count: int
    mask: int  # the row's cells that break a rule, as bits (bits: field key -> bit)
    number: dict[str, int]  # a number or percent field -> the number it holds
    value: dict[str, int]  # a percent field -> the percent as collect scales it
    explain: int  # where the plausibility rules' columns begin
    bits: dict[str, int]
    inputs: dict[str, str]  # a field -> its cell on the task sheet, the row left as ROW


# Every task row's formulas are the same but for the row's number: each is made once per
# form with this in its place, and the row's number put in for each row.
ROW = "\x00"


def flag_columns(settings: Settings, layout: Layout) -> FlagColumns:
    percent_role = previous_fields(settings).get("percent")
    numeric = [f for f in settings.fields if f.type in ("percent", "number")]
    scaled = [f.key for f in numeric if f.type == "percent" or f.key == percent_role]
    mask = layout.last_col + 2
    number = {f.key: mask + 1 + k for k, f in enumerate(numeric)}
    value = {key: mask + 1 + len(numeric) + k for k, key in enumerate(scaled)}
    # exact in a spreadsheet's doubles up to bit 52: config.fields.MAX_FIELDS keeps below
    bits = {f.key: 1 << k for k, f in enumerate(settings.fields)}
    assert len(bits) <= 53, "more fields than a row's mask can hold exactly"
    inputs = {
        k: sheet_ref(settings.form.sheet, col_letter(c) + ROW) for k, c in layout.field_cols.items()
    }
    explain = mask + 1 + len(numeric) + len(scaled)
    return FlagColumns(0, mask, number, value, explain, bits, inputs)


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
    and the check line counting both. Returns where the flags are (the metadata sheet
    keeps it as "checks").

    A task row's rules, from the same [[fields]] collect applies (selfcheck's formulas),
    make one number on the flag sheet: each of its cells that breaks a rule adds that
    field's bit. Each input column turns red while its bit is set, and a second cell counts
    the bits for the check line. One cell for all of a row's cells, not one each: writing
    cells is most of generate's time (docs/performance.md). Right of them, the plausibility
    rules (`write_explain_flags`).
    """
    columns = flag_columns(settings, layout)
    broken, bits = _row_flags(ws, flags, fmt, spec, settings, layout, columns)
    broken += _contact_flags(ws, flags, fmt, spec, settings, contact_spans)
    explain, to_explain = write_explain_flags(ws, flags, fmt, spec, settings, layout, columns)
    _check_line(
        ws, fmt, settings, layout, explain, bottom, _remaining_text(broken, to_explain, settings)
    )
    flags.very_hidden()
    if settings.form.protect:
        flags.protect(settings.form.password)
    mine = {"count": col_letter(columns.count), "mask": col_letter(columns.mask), "bits": bits}
    return {**mine, **explain}


def _remaining_text(broken: int, to_explain: int, settings: Settings) -> str:
    label = settings.explanation_field.label if settings.explanation_field else ""
    return remaining(broken, to_explain, label)


def _on_row(template: str, r: int) -> str:
    return template.replace(ROW, str(r + 1))


def _bit_set(at: str, bit: int) -> str:
    return f"MOD({at},2)" if bit == 1 else f"MOD(INT({at}/{bit}),2)"


def _row_flags(
    ws: Any,
    flags: Any,
    fmt: Formats,
    spec: FormSpec,
    settings: Settings,
    layout: Layout,
    columns: FlagColumns,
) -> tuple[int, dict[str, int]]:
    """The task rows' flags, and the red of each input cell while its bit is set; how many
    cells break a rule as the form is made, and the bit of each field that can break one."""
    refs = columns.inputs
    numbers = {key: col_letter(col) + ROW for key, col in columns.number.items()}
    status = refs.get(settings.status.field)
    helpers = [
        *((col, key, 0, number_formula(refs[key])) for key, col in columns.number.items()),
        *(
            (col, key, "", percent_value_formula(refs[key], numbers[key], status, settings))
            for key, col in columns.value.items()
        ),
    ]
    terms, bits = [], {}
    for f in settings.fields:
        scaled = col_letter(columns.value[f.key]) + ROW if f.key in columns.value else None
        rule = breaks_formula(f, refs[f.key], refs, settings, numbers.get(f.key), scaled)
        if rule != "FALSE":  # an optional cell with no rule never breaks one
            bits[f.key] = columns.bits[f.key]
            terms.append(f"IF({rule},{bits[f.key]},0)")
    mask_at = col_letter(columns.mask) + ROW
    mask_formula = "=" + "+".join(terms)
    count_formula = "=" + "+".join(_bit_set(mask_at, bit) for bit in bits.values())
    checked = [f for f in settings.fields if f.key in bits]
    broken = 0
    for n, row in enumerate(spec.rows):
        r = layout.first + n
        values = dict(row.prefill)
        for col, key, otherwise, template in helpers:
            value = values.get(key)
            cached = value if isinstance(value, int | float) else otherwise
            flags.write_formula(r, col, _on_row(template, r), fmt.flag, cached)
        if not bits:
            continue
        mask = sum(bits[f.key] for f in checked if breaks(f, values.get(f.key), values, settings))
        flags.write_formula(r, columns.mask, _on_row(mask_formula, r), fmt.flag, mask)
        flags.write_formula(r, columns.count, _on_row(count_formula, r), fmt.flag, mask.bit_count())
        broken += mask.bit_count()
    if spec.rows:
        # the red is the bit: a cell of the flag sheet, on the same row (Excel 2010 and
        # later, WPS and LibreOffice take a reference to another sheet in a rule)
        at = sheet_ref(CHECK_SHEET, f"${col_letter(columns.mask)}{layout.first + 1}")
        for key, bit in bits.items():
            c = layout.field_cols[key]
            _red_while(ws, fmt, (layout.first, c, layout.last, c), _bit_set(at, bit) + "=1")
    return broken, bits


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
        _red_while(ws, fmt, (r, c, r, end), f"{flag}=1")
    return broken


def _red_while(ws: Any, fmt: Formats, area: tuple[int, int, int, int], holds: str) -> None:
    """The cells of `area` red while `holds` (of a cell of the flag sheet) says they break
    a rule."""
    ws.conditional_format(*area, {"type": "formula", "criteria": f"={holds}", "format": fmt.broken})


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
    hits = ""
    if places:
        letter = places["hit"]
        hits = sheet_ref(CHECK_SHEET, f"${letter}${layout.first + 1}:${letter}${layout.last + 1}")
    label = settings.explanation_field.label if settings.explanation_field else ""
    line = layout.check_row
    ws.merge_range(line, 0, line, layout.last_col, "", fmt.check_line)
    ws.write_formula(line, 0, check_line_formula(area, hits, label), fmt.check_line, cached)
    if hits:
        # amber while only explanations are wanting
        ws.conditional_format(
            line, 0, line, layout.last_col,
            {"type": "formula", "criteria": f"=AND(SUM({area})=0,{wanting_count(hits)}>0)",
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
    columns: FlagColumns,
) -> tuple[dict[str, Any], int]:
    """The plausibility rules on the flag sheet, from column `columns.explain`: per row the
    division's previous answer (what generate signed into the form), and the rules that
    hold as one number (hit: rule k adds 2**k, so 0 where none holds), negative while the
    row still lacks its 说明. Whether the deadline has passed is no cell: a rule about it is
    only in the formula of a row whose deadline has. The row turns amber while it needs one
    and green once explained. Returns the columns' letters, each rule's bit, and the rows to
    explain.

    One cell for every rule, and for whether the row is explained, not one each: a form
    carries a formula per rule per row, and writing them was most of generate's time
    (docs/performance.md)."""
    rules = asked_rules(settings)
    explanation = settings.explanation_field
    if not rules or explanation is None or not spec.rows:
        return {}, 0
    roles = previous_fields(settings)
    keys = list(roles.values())
    before_col = {k: columns.explain + i for i, k in enumerate(keys)}
    bit = {rule.name: 1 << i for i, rule in enumerate(rules)}
    hit_col = columns.explain + len(keys)
    refs = columns.inputs
    percent = roles.get("percent", "")
    value = col_letter(columns.value[percent]) + ROW if percent in columns.value else ""
    wanting = f"IF({explained_formula(refs[explanation.key])},1,-1)"
    # a row's rules differ by the previous answers it has and whether its deadline passed
    made: dict[tuple[tuple[str, ...], bool], str] = {}
    to_explain = 0
    for n, row in enumerate(spec.rows):
        r = layout.first + n
        values = dict(row.prefill)
        before = dict(row.before)
        given = _write_before(flags, fmt, r, before, before_col)
        found = {h.rule for h in hits(settings, values, before, row.due, rules)}
        asked = bool(found) and blank_cell(values.get(explanation.key))
        to_explain += asked
        shape = (tuple(given), bool(row.due))
        if shape not in made:
            cells = {k: col_letter(before_col[k]) + ROW for k in given}
            formulas = plausibility_formulas(rules, settings, refs, value, cells, shape[1])
            held = "+".join(f"IF({f},{bit[name]},0)" for name, f in formulas.items())
            made[shape] = f"=({held})*{wanting}" if held else ""
        if not made[shape]:
            continue  # no rule can hold on this row: it never asks for a 说明
        hit = sum(bit[name] for name in found)
        flags.write_formula(r, hit_col, _on_row(made[shape], r), fmt.flag, -hit if asked else hit)
    _explain_colours(ws, fmt, layout, hit_col)
    places = {
        "value": col_letter(columns.value[percent]) if percent in columns.value else "",
        "before": {k: col_letter(c) for k, c in before_col.items()},
        "rules": bit,
        "hit": col_letter(hit_col),
    }
    return places, to_explain


def _write_before(
    flags: Any,
    fmt: Formats,
    r: int,
    before: Mapping[str, Any],
    before_col: Mapping[str, int],
) -> list[str]:
    """A row's previous answers, as generate signed them; the keys of those it gave."""
    given = []
    for key, col in before_col.items():
        said = before.get(key)
        if isinstance(said, int | float) and not isinstance(said, bool):
            flags.write_number(r, col, said, fmt.flag)
        elif said not in (None, ""):
            flags.write_string(r, col, str(said), fmt.flag)
        else:
            continue
        given.append(key)
    return given


def _explain_colours(ws: Any, fmt: Formats, layout: Layout, hit_col: int) -> None:
    """A task row amber while it needs a 说明, green once it has one."""
    hit = sheet_ref(CHECK_SHEET, f"${col_letter(hit_col)}{layout.first + 1}")
    ws.conditional_format(
        layout.first, 0, layout.last, layout.last_col,
        {"type": "formula", "criteria": f"={hit}<0", "format": fmt.to_explain},
    )  # fmt: skip
    ws.conditional_format(
        layout.first, 0, layout.last, layout.last_col,
        {"type": "formula", "criteria": f"={hit}>0", "format": fmt.explained},
    )  # fmt: skip
