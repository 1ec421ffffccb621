"""Writing the settings: the xlflow.toml init makes for a register it recognised, and the
sections other commands rewrite (the register, the fields, roll-up, the office)."""

from __future__ import annotations

import json
from typing import Any

from ..errors import Invalid
from .model import Field, RegisterSettings, Settings

# --- writing the settings: xlflow init makes xlflow.toml for a register it recognised ---


def toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, but for DEL, which TOML forbids raw
    and JSON leaves alone. A lone surrogate (a byte that was not UTF-8 in a file name)
    cannot be written at all, and is refused by name."""
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise Invalid(
            f"“{value.encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')}”中有不是 "
            "UTF-8 的字节，无法写入 xlflow.toml；请把文件或名称改为正常的中文或英文名称后重试。"
        )
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def render_register_section(reg: RegisterSettings) -> str:
    """The [register] part of xlflow.toml, with a comment on every key."""
    if reg.layout == "paragraphs":
        return (
            "\n".join(
                [
                    "# 任务清单（the register of key tasks）",
                    "[register]",
                    f"path = {toml_string(reg.path)}",
                    'layout = "paragraphs"              # numbered paragraphs of a Word document, no table',
                    f"separators = [{', '.join(toml_string(s) for s in reg.separators)}]",
                    f"lead_rule = {toml_string(reg.lead_rule)}        # first_unit: the first unit named leads",
                    f"name_column = {toml_string(reg.name_column)}",
                    "# what a division sees on its form, read-only",
                    "readonly_columns = ["
                    + ", ".join(toml_string(c) for c in reg.readonly_columns)
                    + "]",
                    "",
                ]
            )
            + "\n"
        )
    lines = [
        "# 任务清单（the register of key tasks）",
        "[register]",
        f"path = {toml_string(reg.path)}",
        'layout = "table"                   # a table (paragraphs: numbered Word paragraphs)',
        f"sheet = {toml_string(reg.sheet)}                         # empty: the first sheet with a header row",
        f"header_row = {reg.header_row}                     # 0: find the header row by itself",
        f"id_column = {toml_string(reg.id_column)}                  # the task id",
        f"group_column = {toml_string(reg.group_column)}           # the category (empty: none or section rows)",
        f"name_column = {toml_string(reg.name_column)}            # the task's short name",
    ]  # fmt: skip
    if reg.divisions_column:
        lines += [
            "# one column where the first named division leads:",
            f"divisions_column = {toml_string(reg.divisions_column)}",
        ]
    else:
        lines += [
            "# separate lead and co-operating columns:",
            f"lead_column = {toml_string(reg.lead_column)}",
            f"cooperating_column = {toml_string(reg.cooperating_column)}",
        ]
    seps = ", ".join(toml_string(s) for s in reg.separators)
    lines += [
        f"separators = [{seps}]",
        "# first_unit: the first unit named leads; first_group: every unit before the first ，",
        f"lead_rule = {toml_string(reg.lead_rule)}",
        "# register columns a division sees on its form, read-only",
        "readonly_columns = [" + ", ".join(toml_string(c) for c in reg.readonly_columns) + "]",
        "",
        "# the target column for each milestone year",
        "[register.targets]",
    ]
    lines += [f"{year} = {toml_string(col)}" for year, col in reg.targets]
    return "\n".join(lines) + "\n\n"


def field_table(f: Field) -> dict[str, Any]:
    """A field as its [[fields]] table in xlflow.toml: what `read_field` reads back."""
    out: dict[str, Any] = {"key": f.key, "label": f.label, "type": f.type}
    if f.required:
        out["required"] = True
    if f.choices:
        out["choices"] = list(f.choices)
    if f.min is not None and not (f.type == "percent" and f.min == 0):
        out["min"] = f.min
    if f.max is not None and not (f.type == "percent" and f.max == 100):
        out["max"] = f.max
    if f.max_length:
        out["max_length"] = f.max_length
    if f.required_when is not None:
        out["required_when"] = {
            "field": f.required_when.field,
            "equals": list(f.required_when.values),
        }
    if f.prompt:
        out["prompt"] = f.prompt
    if f.width is not None:
        out["width"] = f.width
    return out


def form_settings_table(settings: Settings) -> dict[str, Any]:
    """What a form needs to be made again elsewhere, as settings tables: the office, the
    form's look, the fields and the contact block (never the sheet password)."""
    office, form, status = settings.office, settings.form, settings.status
    return {
        "office": {
            "name": office.name,
            "contact": office.contact,
            "phone": office.phone,
            "email": office.email,
        },
        "form": {
            "title": form.title,
            "sheet": form.sheet,
            "protect": form.protect,
            "font": form.font,
            "header_font": form.header_font,
        },
        "fields": [field_table(f) for f in settings.fields],
        "contact": [field_table(f) for f in settings.contact],
        "status": {
            "field": status.field,
            "percent_field": status.percent_field,
            "progress_field": status.progress_field,
            "missing_label": status.missing_label,
            "colours": dict(status.colours),
        },
    }


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return toml_string(str(value))


def render_fields_section(fields: list[dict[str, Any]], contact: list[dict[str, Any]]) -> str:
    """The [[fields]] and [[contact]] tables of xlflow.toml, as the form that carried them
    had them (`xlflow forward`)."""
    lines = [
        "# 填报项（the columns a division fills in），照上级下发的填报表，请勿改动：",
        "# 汇总后的答复要写回上级的表格。",
    ]
    for name, tables in (("fields", fields), ("contact", contact)):
        for table in tables:
            lines += ["", f"[[{name}]]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n\n"


def replace_fields_section(
    template: str, fields: list[dict[str, Any]], contact: list[dict[str, Any]]
) -> str:
    """xlflow.toml's text with its [[fields]] and [[contact]] written anew."""
    start = template.index("# 填报项")
    end = template.index("# Which fields the consolidated workbook")
    return template[:start] + render_fields_section(fields, contact) + template[end:]


def replace_rollup_section(template: str, settings: Settings) -> str:
    """xlflow.toml's text with [rollup] naming each of `settings`' fields and its rule."""
    start = template.index("# 汇总下级报送")
    end = template.index("# 通报")
    head = template[start : template.index("[rollup]", start)]
    status_key = settings.status.field
    lines = ["[rollup]"]
    lines += [
        f"{f.key} = {toml_string(settings.rollup.rule(f, status_key))}" for f in settings.fields
    ]
    return template[:start] + head + "\n".join(lines) + "\n\n" + template[end:]


def replace_register_section(template: str, reg: RegisterSettings) -> str:
    """xlflow.toml's text with its [register] section written anew."""
    start = template.index("# 任务清单")
    end = template.index("# 填报项")
    return template[:start] + render_register_section(reg) + template[end:]


def replace_office(template: str, office: str) -> str:
    """The [office] table for another office: its name, and no contact of the bundled one."""
    start = template.index("[office]")
    end = template.index("\n\n", start)
    section = "\n".join(
        [
            "[office]",
            f"name = {toml_string(office)}{' ' * max(1, 27 - len(office) * 2)}# 单位名称, used in the form title",
            'contact = ""                       # 联系人',
            'phone = ""                         # 联系电话',
            'email = ""                         # 电子邮箱（可留空）',
        ]
    )
    return template[:start] + section + template[end:]
