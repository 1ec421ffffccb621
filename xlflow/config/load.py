"""Settings: `xlflow.toml`, read into frozen dataclasses (`model`).

Every problem in the file is collected and reported at once, each naming the key, what
is wrong and the allowed values."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ..errors import SettingsError
from .checker import Checker
from .fields import read_field_section, with_explanation
from .model import SCHEMA_VERSION, Settings
from .sections import (
    read_form_section,
    read_limits_section,
    read_mail_section,
    read_office_section,
    read_plausibility_section,
    read_register_section,
    read_report_section,
    read_rollup_section,
    read_status_section,
)


def settings_from_dict(data: dict[str, Any], source: str = "xlflow.toml") -> Settings:
    """Build Settings from parsed TOML; raise SettingsError listing every problem."""
    problems: list[str] = []
    c = Checker(problems)
    c.unknown(
        data,
        "",
        {
            "schema", "office", "form", "register", "fields", "contact", "status", "report",
            "limits", "rollup", "plausibility", "mail",
        },
    )  # fmt: skip
    schema = c.get(data, "", "schema", int, SCHEMA_VERSION, "整数")
    if schema != SCHEMA_VERSION:
        problems.append(f"schema: 本版本 xlflow 只认识 schema = {SCHEMA_VERSION}，实际是 {schema}")

    office = read_office_section(c, data)
    form = read_form_section(c, data)
    register = read_register_section(c, data)
    fields, contact = read_field_section(c, data)
    status = read_status_section(c, data, fields)
    report = read_report_section(c, data, fields)
    limits = read_limits_section(c, data)
    rollup = read_rollup_section(c, data, fields, status)
    plausibility = read_plausibility_section(c, data, fields, report)
    fields = with_explanation(c, fields, contact, plausibility)
    mail = read_mail_section(c, data)
    if problems:
        raise SettingsError(source, problems)
    return Settings(
        office=office,
        form=form,
        register=register,
        fields=fields,
        contact=contact,
        status=status,
        report=report,
        limits=limits,
        rollup=rollup,
        plausibility=plausibility,
        mail=mail,
        source=source,
    )


def load_settings(path: Path) -> Settings:
    """Read and check `xlflow.toml`. Raises SettingsError naming every problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SettingsError(
            str(path), ["找不到设置文件；用 `xlflow init 文件夹` 新建一个工作文件夹"]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(str(path), [f"无法读取：{exc}"]) from None
    return settings_from_text(text, str(path))


def settings_from_text(text: str, source: str = "xlflow.toml") -> Settings:
    """Settings from the text of an `xlflow.toml`: what a command that rewrites the
    settings reads back before it writes them."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(source, [f"TOML 语法错误：{exc}"]) from None
    return settings_from_dict(data, source)
