"""Every other section of xlflow.toml, each read with its own checks: [office], [form],
[register], [status], [report], [limits], [rollup] and [plausibility]."""

from __future__ import annotations

import re
from typing import Any

from ..text import DEFAULT_SEPARATORS
from ..units import LEAD_RULES
from .checker import Checker, number_of, section_table, str_list
from .model import (
    LAYOUTS,
    MAIL_SECURITY,
    OLDER_FORMS,
    PLAINTEXT_CONSENT,
    PLAUSIBILITY_RULES,
    ROLLUP_RULES,
    RULE_KEYS,
    SEVERITIES,
    THRESHOLDS,
    Field,
    FormSettings,
    Limits,
    MailSettings,
    OfficeSettings,
    PlausibilityRule,
    PlausibilitySettings,
    RegisterSettings,
    ReportSettings,
    RollupSettings,
    StatusSettings,
)


def read_plausibility_section(
    c: Checker, data: dict[str, Any], fields: tuple[Field, ...], report: ReportSettings
) -> PlausibilitySettings:
    table = section_table(c, data, "plausibility")
    c.unknown(table, "plausibility.", {"explanation", *PLAUSIBILITY_RULES})
    explanation = c.get(table, "plausibility.", "explanation", str, "说明", "文本").strip()
    rules = []
    keys = {f.key for f in fields}
    for name in PLAUSIBILITY_RULES:
        where = f"plausibility.{name}."
        raw = table.get(name, {})
        if isinstance(raw, str):  # the short form: percent_fell = "error"
            raw = {"severity": raw}
        if not isinstance(raw, dict):
            c.problems.append(
                f'plausibility.{name}: 应写成 {{ severity = "explain" }}，实际是 {raw!r}'
            )
            raw = {}
        c.unknown(raw, where, RULE_KEYS[name])
        severity = c.get(raw, where, "severity", str, "explain", "文本")
        if severity not in SEVERITIES:
            c.problems.append(
                f"{where}severity: 应为 {'、'.join(SEVERITIES)} 之一，实际是 {severity!r}"
            )
            severity = "explain"
        threshold = number_of(c, raw, where, "threshold")
        if threshold is not None and threshold < 0:
            c.problems.append(f"{where}threshold: 应为不小于 0 的百分点数，实际是 {threshold:g}")
            threshold = None
        statuses = str_list(c, raw, where, "statuses")
        reason = c.get(raw, where, "field", str, report.problems_field, "填报项 key")
        if name == "lagging_without_problems" and fields and reason and reason not in keys:
            c.problems.append(
                f"{where}field: 没有 key 为 {reason!r} 的填报项；可用的有 {', '.join(keys)}"
            )
        rules.append(
            PlausibilityRule(
                name=name,
                severity=severity,
                threshold=THRESHOLDS.get(name, 0.0) if threshold is None else threshold,
                statuses=(report.lagging if statuses is None else statuses)
                if name == "lagging_without_problems"
                else (),
                field=reason if name == "lagging_without_problems" else "",
                column=c.get(raw, where, "column", str, "", "任务清单的列名"),
            )
        )
    return PlausibilitySettings(explanation=explanation, rules=tuple(rules))


RULE_TYPES = {
    "least_advanced": ("choice",),
    "min": ("number", "percent"),
    "mean": ("number", "percent"),
    "max": ("number", "percent"),
    "sum": ("number", "percent"),
    "joined": ("text",),
}


def read_rollup_section(
    c: Checker, data: dict[str, Any], fields: tuple[Field, ...], status: StatusSettings
) -> RollupSettings:
    table = section_table(c, data, "rollup")
    by_key = {f.key: f for f in fields}
    rules: list[tuple[str, str]] = []
    for key, rule in table.items():
        if key not in by_key:
            c.problems.append(
                f"rollup.{key}: 没有 key 为 {key!r} 的填报项；可用的有 {', '.join(by_key)}"
            )
            continue
        if rule not in ROLLUP_RULES:
            c.problems.append(f"rollup.{key}: {rule!r} 不可用；可用的有 {', '.join(ROLLUP_RULES)}")
            continue
        kinds = RULE_TYPES.get(str(rule))
        if kinds and by_key[key].type not in kinds:
            c.problems.append(
                f"rollup.{key}: {rule!r} 只适用于 type 为 {'、'.join(kinds)} 的填报项，"
                f"{key!r} 是 {by_key[key].type}"
            )
            continue
        if rule == "least_advanced" and key != status.field:
            c.problems.append(
                f"rollup.{key}: least_advanced 按完成状态的选项顺序判断，只适用于 status.field"
            )
            continue
        rules.append((key, str(rule)))
    return RollupSettings(tuple(rules))


def read_office_section(c: Checker, data: dict[str, Any]) -> OfficeSettings:
    o = section_table(c, data, "office")
    c.unknown(o, "office.", {"name", "contact", "phone", "email"})
    d_office = OfficeSettings()
    office = OfficeSettings(
        name=c.get(o, "office.", "name", str, d_office.name, "文本"),
        contact=c.get(o, "office.", "contact", str, "", "文本"),
        phone=c.get(o, "office.", "phone", str, "", "文本"),
        email=c.get(o, "office.", "email", str, "", "文本"),
    )
    return office


def read_form_section(c: Checker, data: dict[str, Any]) -> FormSettings:
    problems = c.problems
    f = section_table(c, data, "form")
    c.unknown(
        f, "form.", {"title", "sheet", "protect", "password", "font", "header_font", "older_forms"}
    )
    d_form = FormSettings()
    form = FormSettings(
        title=c.get(f, "form.", "title", str, d_form.title, "文本"),
        sheet=c.get(f, "form.", "sheet", str, d_form.sheet, "文本"),
        protect=c.get(f, "form.", "protect", bool, True, "true 或 false"),
        password=c.get(f, "form.", "password", str, "", "文本"),
        font=c.get(f, "form.", "font", str, d_form.font, "字体名称"),
        header_font=c.get(f, "form.", "header_font", str, d_form.header_font, "字体名称"),
        older_forms=c.get(f, "form.", "older_forms", str, d_form.older_forms, "文本"),
    )
    if form.older_forms not in OLDER_FORMS:
        problems.append(
            f"form.older_forms: 应为 {' 或 '.join(OLDER_FORMS)}，实际是 {form.older_forms!r}"
        )
    bad_sheet = set(form.sheet) & set("[]:*?/\\")
    if not form.sheet or len(form.sheet) > 31 or bad_sheet:
        problems.append(
            f"form.sheet: 工作表名须为 1-31 个字符，且不含 []:*?/\\，实际是 {form.sheet!r}"
        )
    try:
        form.title.format(office="", round="", division="", year="")
    except (KeyError, IndexError, ValueError) as exc:
        problems.append(
            f"form.title: 只能使用 {{office}} {{round}} {{division}} {{year}} 占位符（{exc}）"
        )
    return form


def read_register_section(c: Checker, data: dict[str, Any]) -> RegisterSettings:
    problems = c.problems
    r = section_table(c, data, "register")
    allowed_register = {
        "path", "layout", "sheet", "header_row", "id_column", "group_column", "name_column",
        "divisions_column", "lead_column", "cooperating_column", "separators", "lead_rule",
        "readonly_columns", "targets",
    }  # fmt: skip
    c.unknown(r, "register.", allowed_register)
    targets: list[tuple[int, str]] = []
    raw_targets = r.get("targets", {})
    if not isinstance(raw_targets, dict):
        problems.append(f'register.targets: 应为 年份 = "列名" 的表，实际是 {raw_targets!r}')
    else:
        for year, column in raw_targets.items():
            if not re.fullmatch(r"\d{4}", str(year)) or not isinstance(column, str):
                problems.append(
                    f'register.targets.{year}: 应写成 2019 = "2019年目标"（四位年份 = 列名）'
                )
            else:
                targets.append((int(year), column))
    targets.sort()
    d_reg = RegisterSettings()
    register = RegisterSettings(
        path=c.get(r, "register.", "path", str, d_reg.path, "文件路径"),
        layout=c.get(r, "register.", "layout", str, d_reg.layout, "文本"),
        sheet=c.get(r, "register.", "sheet", str, "", "工作表名"),
        header_row=c.get(r, "register.", "header_row", int, 0, "行号（0 表示自动识别）"),
        id_column=c.get(r, "register.", "id_column", str, d_reg.id_column, "列名"),
        group_column=c.get(r, "register.", "group_column", str, "", "列名"),
        name_column=c.get(r, "register.", "name_column", str, "", "列名"),
        divisions_column=c.get(r, "register.", "divisions_column", str, "", "列名"),
        lead_column=c.get(r, "register.", "lead_column", str, "", "列名"),
        cooperating_column=c.get(r, "register.", "cooperating_column", str, "", "列名"),
        separators=str_list(c, r, "register.", "separators") or DEFAULT_SEPARATORS,
        lead_rule=c.get(r, "register.", "lead_rule", str, d_reg.lead_rule, "文本"),
        readonly_columns=str_list(c, r, "register.", "readonly_columns") or (),
        targets=tuple(targets),
    )
    if register.header_row < 0:
        problems.append("register.header_row: 应为 0（自动识别）或正整数行号")
    if register.layout not in LAYOUTS:
        problems.append(
            f"register.layout: {register.layout!r} 不可用；可用的有 {', '.join(LAYOUTS)}"
            "（table：表格；paragraphs：Word 文档中按段落编号的任务）"
        )
    if register.lead_rule not in LEAD_RULES:
        problems.append(
            f"register.lead_rule: {register.lead_rule!r} 不可用；可用的有 {', '.join(LEAD_RULES)}"
            "（first_unit：第一个单位牵头；first_group：第一个逗号前的单位都牵头）"
        )
    # a paragraph register names its units in the paragraphs themselves
    if register.layout == "table" and not register.divisions_column and not register.lead_column:
        problems.append(
            "register: 需要 divisions_column（一列，第一个处室为牵头）"
            "或 lead_column（牵头单位列，可另设 cooperating_column）"
        )
    if register.divisions_column and register.lead_column:
        problems.append("register: divisions_column 与 lead_column 只能设置一个")
    return register


def read_status_section(
    c: Checker, data: dict[str, Any], fields: tuple[Field, ...]
) -> StatusSettings:
    problems = c.problems
    by_key = {fl.key: fl for fl in fields}
    s = section_table(c, data, "status")
    c.unknown(
        s, "status.", {"field", "percent_field", "progress_field", "colours", "missing_label"}
    )
    d_status = StatusSettings()
    colours = d_status.colours
    if "colours" in s:
        raw_colours = s["colours"]
        if not isinstance(raw_colours, dict) or not all(
            isinstance(v, str) and re.fullmatch(r"#[0-9A-Fa-f]{6}", v) for v in raw_colours.values()
        ):
            problems.append(
                'status.colours: 应写成 { "已完成" = "#C6EFCE", ... }（状态 = 六位十六进制颜色）'
            )
        else:
            colours = tuple((str(k), str(v)) for k, v in raw_colours.items())
    status = StatusSettings(
        field=c.get(s, "status.", "field", str, d_status.field, "填报项 key"),
        percent_field=c.get(s, "status.", "percent_field", str, d_status.percent_field, "key"),
        progress_field=c.get(s, "status.", "progress_field", str, d_status.progress_field, "key"),
        colours=colours,
        missing_label=c.get(s, "status.", "missing_label", str, d_status.missing_label, "文本"),
    )
    for name, key in (
        ("field", status.field),
        ("percent_field", status.percent_field),
        ("progress_field", status.progress_field),
    ):
        if fields and key and key not in by_key:
            problems.append(
                f"status.{name}: 没有 key 为 {key!r} 的填报项；可用的有 {', '.join(by_key)}"
            )
    if status.field in by_key and by_key[status.field].type != "choice":
        problems.append(f'status.field: 填报项 {status.field!r} 应为 type = "choice"')
    return status


def read_report_section(
    c: Checker, data: dict[str, Any], fields: tuple[Field, ...]
) -> ReportSettings:
    r = section_table(c, data, "report")
    d = ReportSettings()
    c.unknown(r, "report.", set(d.__dataclass_fields__))
    lagging = str_list(c, r, "report.", "lagging")
    report = ReportSettings(
        title=c.get(r, "report.", "title", str, d.title, "文本"),
        template=c.get(r, "report.", "template", str, d.template, "文件路径"),
        document_number=c.get(r, "report.", "document_number", str, d.document_number, "文本"),
        lagging=d.lagging if lagging is None else lagging,
        problems_field=c.get(r, "report.", "problems_field", str, d.problems_field, "key"),
        next_steps_field=c.get(r, "report.", "next_steps_field", str, d.next_steps_field, "key"),
    )
    keys = [fl.key for fl in fields]
    for name in ("problems_field", "next_steps_field"):
        key = getattr(report, name)
        if fields and key and key not in keys:
            c.problems.append(
                f"report.{name}: 没有 key 为 {key!r} 的填报项；可用的有 {', '.join(keys)}；"
                '不需要时写 ""'
            )
    return report


def read_limits_section(c: Checker, data: dict[str, Any]) -> Limits:
    problems = c.problems
    lim = section_table(c, data, "limits")
    d = Limits()
    c.unknown(lim, "limits.", set(d.__dataclass_fields__))
    limit_values: dict[str, Any] = {}
    for name in d.__dataclass_fields__:
        default = getattr(d, name)
        kind: type = int if isinstance(default, int) else float
        value = number_of(c, lim, "limits.", name)
        if value is None:
            continue
        if value <= 0:
            problems.append(f"limits.{name}: 应为正数，实际是 {value:g}")
            continue
        limit_values[name] = kind(value)
    limits = Limits(**limit_values)
    return limits


def read_mail_section(c: Checker, data: dict[str, Any]) -> MailSettings:
    problems = c.problems
    m = section_table(c, data, "mail")
    d = MailSettings()
    c.unknown(m, "mail.", set(d.__dataclass_fields__) | {"password"})
    if "password" in m:
        problems.append(
            "mail.password: 密码不写在 xlflow.toml 中；请删除这一行，运行 xlflow mail login "
            "把密码存入系统的凭据管理器（或设置环境变量 XLFLOW_MAIL_PASSWORD）"
        )
    texts = {
        name: c.get(m, "mail.", name, str, getattr(d, name), "文本")
        for name in (
            "host", "smtp_host", "user", "sender", "folder", "forms_text", "receipts_text",
            "ca_file", "plaintext_login",
        )
    }  # fmt: skip
    timeout = number_of(c, m, "mail.", "timeout_seconds")
    if timeout is not None and timeout <= 0:
        problems.append(f"mail.timeout_seconds: 应为正数，实际是 {timeout:g}")
        timeout = None
    ports = {}
    for name in ("imap_port", "smtp_port"):
        port = c.get(m, "mail.", name, int, 0, "整数（端口号）")
        if not 0 <= port <= 65535:
            problems.append(f"mail.{name}: 端口应在 1–65535 之间，实际是 {port}")
            port = 0
        ports[name] = port
    security = c.get(m, "mail.", "security", str, d.security, "文本")
    if security not in MAIL_SECURITY:
        problems.append(
            f"mail.security: 应为 {'、'.join(MAIL_SECURITY)} 之一（ssl：加密连接，993/465 端口；"
            f"starttls：143/587 端口），实际是 {security!r}"
        )
        security = d.security
    if texts["plaintext_login"] not in ("", PLAINTEXT_CONSENT):
        problems.append(
            f'mail.plaintext_login: 只能是 "{PLAINTEXT_CONSENT}"（security = "none" 时，'
            f"密码将以明文发送），实际是 {texts['plaintext_login']!r}"
        )
        texts["plaintext_login"] = ""
    for name in ("forms_text", "receipts_text"):
        try:
            texts[name].format(division="", round="", deadline="", office="")
        except (KeyError, IndexError, ValueError) as exc:
            problems.append(
                f"mail.{name}: 只能使用 {{division}}、{{round}}、{{deadline}}、{{office}}，"
                f"发现 {exc}"
            )
            texts[name] = getattr(d, name)
    return MailSettings(
        security=security,
        imap_port=ports["imap_port"],
        smtp_port=ports["smtp_port"],
        host=texts["host"],
        smtp_host=texts["smtp_host"],
        user=texts["user"],
        sender=texts["sender"],
        folder=texts["folder"],
        forms_text=texts["forms_text"],
        receipts_text=texts["receipts_text"],
        ca_file=texts["ca_file"],
        plaintext_login=texts["plaintext_login"],
        timeout_seconds=timeout if timeout is not None else d.timeout_seconds,
    )
