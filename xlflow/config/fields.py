"""The [[fields]] and [[contact]] sections: each field a division fills in, checked key by
key, the 说明 column the plausibility rules add, and a field said in words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from .checker import Checker, number_of, str_list
from .model import (
    EXPLANATION_KEY,
    FIELD_TYPES,
    KEY_PATTERN,
    Condition,
    Field,
    FieldType,
    PlausibilitySettings,
)


def read_field(c: Checker, raw: Any, where: str, allowed_types: tuple[str, ...]) -> Field | None:
    if not isinstance(raw, dict):
        c.problems.append(f"{where}: 应为一个表（键 = 值），实际是 {raw!r}")
        return None
    allowed = {
        "key", "label", "type", "required", "choices", "min", "max",
        "max_length", "required_when", "prompt", "width",
    }  # fmt: skip
    c.unknown(raw, where + ".", allowed)
    key = c.get(raw, where + ".", "key", str, "", "文本")
    label = c.get(raw, where + ".", "label", str, "", "文本")
    ftype = c.get(raw, where + ".", "type", str, "text", "文本")
    ok = True
    if not key or not KEY_PATTERN.match(key):
        c.problems.append(
            f'{where}.key: 应为小写英文字母开头、只含 a-z 0-9 _ 的键名，如 "status"，实际是 {key!r}'
        )
        ok = False
    if not label.strip():
        c.problems.append(f'{where}.label: 不能为空，应为表头文字，如 "完成状态"')
        ok = False
    if ftype not in allowed_types:
        c.problems.append(f"{where}.type: {ftype!r} 不可用；可用的有 {', '.join(allowed_types)}")
        ok = False
    choices = str_list(c, raw, where + ".", "choices") or ()
    if ftype == "choice" and not choices:
        c.problems.append(f'{where}.choices: type = "choice" 时必须给出选项列表')
        ok = False
    if choices and ftype != "choice":
        c.problems.append(f'{where}.choices: 只有 type = "choice" 才能设置选项')
    lo = number_of(c, raw, where + ".", "min")
    hi = number_of(c, raw, where + ".", "max")
    if ftype == "percent":
        lo = 0.0 if lo is None else lo
        hi = 100.0 if hi is None else hi
    if lo is not None and hi is not None and lo > hi:
        c.problems.append(f"{where}: min ({lo:g}) 大于 max ({hi:g})")
    max_length = c.get(raw, where + ".", "max_length", int, 0, "正整数") or None
    if max_length is not None and not 0 < max_length <= 32767:
        c.problems.append(f"{where}.max_length: 应在 1 到 32767 之间，实际是 {max_length}")
    condition = None
    if "required_when" in raw:
        rw = raw["required_when"]
        if (
            not isinstance(rw, dict)
            or not isinstance(rw.get("field"), str)
            or not isinstance(rw.get("equals"), str | list)
        ):
            c.problems.append(
                f'{where}.required_when: 应写成 {{ field = "status", equals = "进度滞后" }}，'
                f"实际是 {rw!r}"
            )
        else:
            eq = rw["equals"]
            values = (eq,) if isinstance(eq, str) else tuple(str(v) for v in eq)
            condition = Condition(rw["field"], values)
    width = number_of(c, raw, where + ".", "width")
    if not ok:
        return None
    return Field(
        key=key,
        label=label.strip(),
        type=cast(FieldType, ftype),
        required=c.get(raw, where + ".", "required", bool, False, "true 或 false"),
        choices=choices,
        min=lo,
        max=hi,
        max_length=max_length,
        required_when=condition,
        prompt=c.get(raw, where + ".", "prompt", str, "", "文本"),
        width=width,
    )


def explanation_prompt(label: str) -> str:
    return f"本行标为橙色时必填：写明原因（如进度下降、提前完成、逾期未完成的原因）。其余情况不用填写{label}。"


def with_explanation(
    c: Checker,
    fields: tuple[Field, ...],
    contact: tuple[Field, ...],
    plausibility: PlausibilitySettings,
) -> tuple[Field, ...]:
    """The fields, with the 说明 column last unless [[fields]] declares it (key explanation)."""
    label = plausibility.explanation
    if not label or not fields or any(f.key == EXPLANATION_KEY for f in fields):
        return fields
    if any(f.label == label for f in (*fields, *contact)):
        c.problems.append(
            f"plausibility.explanation: 表头 {label!r} 已被其他填报项使用；请换一个，"
            f'或把它声明为 key = "{EXPLANATION_KEY}" 的填报项'
        )
        return fields
    return (
        *fields,
        Field(
            key=EXPLANATION_KEY,
            label=label,
            type="text",
            max_length=500,
            prompt=explanation_prompt(label),
            width=20.0,
        ),
    )


def read_field_section(
    c: Checker, data: dict[str, Any]
) -> tuple[tuple[Field, ...], tuple[Field, ...]]:
    problems = c.problems
    fields = read_fields(c, data, "fields", tuple(t for t in FIELD_TYPES if t != "phone"))
    contact = read_fields(c, data, "contact", ("text", "phone", "date", "number", "choice"))
    keys = [fl.key for fl in fields] + [fl.key for fl in contact]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"fields/contact: 键 {key!r} 重复；每个填报项的 key 必须唯一")
    labels = [fl.label for fl in fields] + [fl.label for fl in contact]
    for label in sorted({lb for lb in labels if labels.count(lb) > 1}):
        problems.append(f"fields/contact: 表头 {label!r} 重复；每个填报项的 label 必须唯一")
    by_key = {fl.key: fl for fl in fields}
    for fl in fields:
        cond = fl.required_when
        if cond is None:
            continue
        other = by_key.get(cond.field)
        if other is None:
            problems.append(
                f"fields ({fl.key}).required_when.field: 没有 key 为 {cond.field!r} 的填报项；"
                f"可用的有 {', '.join(by_key)}"
            )
        elif other.choices:
            for v in cond.values:
                if v not in other.choices:
                    problems.append(
                        f"fields ({fl.key}).required_when.equals: {v!r} 不是 {other.label} 的选项；"
                        f"可用的有 {'、'.join(other.choices)}"
                    )
    if not fields:
        problems.append("[[fields]]: 至少需要一个填报项")
    elif len(fields) > MAX_FIELDS:
        problems.append(
            f"[[fields]]: 填报项最多 {MAX_FIELDS} 个，现有 {len(fields)} 个；请合并或删去一些，"
            "或拆成两张填报表"
        )
    return fields, contact


# A form's self-check keeps a row's broken cells as the bits of one number, and a
# spreadsheet's number holds an integer exactly only to 2**53 (generate.flags); with the
# 说明 column added, 50 leaves room, and no form a division could fill has so many.
MAX_FIELDS = 50


def read_fields(
    c: Checker, data: dict[str, Any], name: str, types: tuple[str, ...]
) -> tuple[Field, ...]:
    raw = data.get(name, [])
    if not isinstance(raw, list):
        c.problems.append(f"[[{name}]]: 应为表数组（每项以 [[{name}]] 开头），实际是 {raw!r}")
        return ()
    out: list[Field] = []
    for i, item in enumerate(raw, start=1):
        label = item.get("label", "") if isinstance(item, dict) else ""
        fl = read_field(c, item, f"[[{name}]] 第 {i} 项{f'（{label}）' if label else ''}", types)
        if fl is not None:
            out.append(fl)
    return tuple(out)


def describe_field(f: Field, by_key: Callable[[str], Field | None] | None = None) -> str:
    """One line in Chinese: what a division must write in this field."""
    parts: list[str] = []
    if f.type == "choice":
        parts.append("从下拉列表选择：" + "、".join(f.choices))
    elif f.type == "percent":
        parts.append(f"填 {f.min:g}–{f.max:g} 之间的数字（不带 % 号）")
    elif f.type == "number":
        rng = []
        if f.min is not None:
            rng.append(f"不小于 {f.min:g}")
        if f.max is not None:
            rng.append(f"不大于 {f.max:g}")
        parts.append("填数字" + (f"，{'，'.join(rng)}" if rng else ""))
    elif f.type == "date":
        parts.append("填日期，如 2019-06-30")
    elif f.type == "phone":
        parts.append("填电话号码，如 0574-87654321 或 13800000000")
    else:
        parts.append("填文字")
        if f.max_length:
            parts.append(f"不超过 {f.max_length} 字")
    if f.required:
        parts.append("必填")
    elif f.required_when:
        other = by_key(f.required_when.field) if by_key else None
        name = other.label if other else f.required_when.field
        parts.append(f"{name}为“{'、'.join(f.required_when.values)}”时必填")
    else:
        parts.append("选填")
    return "；".join(parts)
