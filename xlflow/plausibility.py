"""核实性审核 (plausibility review): values that may be true and still need a word of
explanation. A rule flags a row; the division explains it in the 说明 column, or the
office hears about it (severity explain/warning), or the return goes back (error).

`hits` is the rules in Python, over a row's values as collect reads them. The form
computes the same rules with formulas (generate.selfcheck.plausibility_formulas) over
the previous values `generate` signs into it; tests hold the two and LibreOffice to the
same verdicts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config.model import PlausibilityRule, Settings

RULE_LABELS = {
    "percent_fell": "进度下降",
    "percent_jump": "进度大幅上升",
    "done_below_full": "已完成但进度不足",
    "overdue": "逾期未完成",
    "progress_copied": "进展与上次相同",
    "lagging_without_problems": "滞后未写原因",
}
"""Each rule in two to eight characters: a column of the 需说明事项 sheet, a chip on the board."""

EXPLAINED_MARK = "。已说明："
"""How collect's explained message gives the 说明: what the value is, this, then the 说明."""


def explanation_in(message: str) -> str:
    """The 说明 an explained message quotes ("" in any other message)."""
    return message.partition(EXPLAINED_MARK)[2].strip()


@dataclass(frozen=True)
class Hit:
    """One rule a row breaks: which, the field its value is in, and the value in words."""

    rule: str
    field: str
    said: str

    @property
    def label(self) -> str:
        return RULE_LABELS[self.rule]


def previous_fields(settings: Settings) -> dict[str, str]:
    """role (status, percent, progress) -> the field key that has it, for those that exist."""
    s = settings.status
    pairs = {"status": s.field, "percent": s.percent_field, "progress": s.progress_field}
    return {role: key for role, key in pairs.items() if key and settings.field_by_key(key)}


def norm_text(value: Any) -> str:
    """A text as the form's formula compares it: control characters out, an ideographic
    space a space, runs of spaces one, none at either end (what CLEAN and TRIM do)."""
    text = re.sub(r"[\x00-\x1f]", "", str(value).replace("\u3000", " "))
    return re.sub(" +", " ", text).strip(" ")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not norm_text(value))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(float(value), 6)


def _points(x: float) -> str:
    return f"{x:g}"


def describe_rule(rule: PlausibilityRule, settings: Settings) -> str:
    """One line in Chinese: when a row is flagged, for the form's 填报说明 and the docs."""
    roles = previous_fields(settings)

    def label(role: str, fallback: str) -> str:
        f = settings.field_by_key(roles.get(role, ""))
        return f.label if f else fallback

    def label_of(key: str) -> str:
        f = settings.field_by_key(key)
        return f.label if f else key

    percent, progress = label("percent", "完成进度"), label("progress", "进展情况")
    done = settings.status_order[0] if settings.status_order else "已完成"
    t = _points(rule.threshold)
    text = {
        "percent_fell": f"{percent}比本单位上一轮次报送的低"
        + (f" {t} 个百分点以上" if rule.threshold else ""),
        "percent_jump": f"{percent}比本单位上一轮次报送的高出 {t} 个百分点及以上",
        "done_below_full": f"完成状态为“{done}”，{percent}不足 100",
        "overdue": f"任务的完成时限已过，完成状态不是“{done}”",
        "progress_copied": f"{progress}与本单位上一轮次报送的完全相同，任务尚未{done}",
        "lagging_without_problems": f"完成状态为“{'、'.join(rule.statuses)}”，"
        f"{label_of(rule.field)}未填写",
    }[rule.name]
    return f"{RULE_LABELS[rule.name]}：{text}"


def applies(rule: PlausibilityRule, settings: Settings) -> bool:
    """Whether a rule can judge anything with these fields (and is not already an error
    by a required_when of the same statuses)."""
    roles = previous_fields(settings)
    if rule.severity == "off" or "status" not in roles:
        return False
    if rule.name in ("percent_fell", "percent_jump", "done_below_full"):
        return "percent" in roles
    if rule.name == "progress_copied":
        return "progress" in roles
    if rule.name == "lagging_without_problems":
        reason = settings.field_by_key(rule.field)
        if reason is None or not rule.statuses:
            return False
        cond = reason.required_when
        already = reason.required or (
            cond is not None
            and cond.field == settings.status.field
            and set(rule.statuses) <= set(cond.values)
        )
        return not already
    return True


def rules_in_use(settings: Settings) -> tuple[PlausibilityRule, ...]:
    return tuple(r for r in settings.plausibility.active if applies(r, settings))


def asked_rules(settings: Settings) -> tuple[PlausibilityRule, ...]:
    """The rules a form flags amber and asks a 说明 for: explain and error, where the form
    has a 说明 column."""
    if settings.explanation_field is None:
        return ()
    return tuple(r for r in rules_in_use(settings) if r.asks)


def hits(
    settings: Settings,
    values: Mapping[str, Any],
    before: Mapping[str, Any],
    due: str = "",
    rules: Sequence[PlausibilityRule] | None = None,
    then: str = "",
) -> list[Hit]:
    """The rules a row's values break: `values` by field key as collect reads them,
    `before` the division's previous answer by field key (from the round titled `then`,
    which the words name where given), `due` the task's deadline where it has passed
    (ISO date)."""
    last = f"上次（{then}）" if then else "上次 "
    roles = previous_fields(settings)
    status_key = roles.get("status", "")
    status = values.get(status_key)
    status = status.strip() if isinstance(status, str) else status
    done = settings.status_order[0] if settings.status_order else ""
    percent_key = roles.get("percent", "")
    percent = _number(values.get(percent_key)) if percent_key else None
    earlier = _number(before.get(percent_key)) if percent_key else None
    out: list[Hit] = []
    for rule in rules if rules is not None else rules_in_use(settings):
        hit: tuple[str, str] | None = None
        if rule.name == "percent_fell" and percent is not None and earlier is not None:
            if round(earlier - percent, 6) > rule.threshold:
                hit = (percent_key, f"{_points(percent)}，{last}{_points(earlier)}，"
                       f"下降 {_points(round(earlier - percent, 6))} 个百分点")  # fmt: skip
        elif rule.name == "percent_jump" and percent is not None and earlier is not None:
            if round(percent - earlier, 6) >= rule.threshold:
                hit = (percent_key, f"{_points(percent)}，{last}{_points(earlier)}，"
                       f"上升 {_points(round(percent - earlier, 6))} 个百分点")  # fmt: skip
        elif rule.name == "done_below_full" and percent is not None and status == done:
            f = settings.field_by_key(percent_key)
            full = f.max if f is not None and f.max is not None else 100.0
            if percent < full:
                hit = (percent_key, f"状态为“{done}”，进度 {_points(percent)}")
        elif rule.name == "overdue" and due and not _blank(status) and status != done:
            hit = (status_key, f"完成时限 {due} 已过，状态为“{status}”")
        elif rule.name == "progress_copied" and status != done:
            key = roles["progress"]
            text, said = values.get(key), before.get(key)
            if not _blank(text) and not _blank(said) and norm_text(text) == norm_text(said):
                hit = (key, f"与{last.strip()}报送的完全相同")
        elif (
            rule.name == "lagging_without_problems"
            and status in rule.statuses
            and _blank(values.get(rule.field))
        ):
            reason = settings.field_by_key(rule.field)
            hit = (rule.field, f"状态为“{status}”，{reason.label if reason else rule.field}未填")
        if hit is not None:
            out.append(Hit(rule.name, *hit))
    return out


# --- a task's deadline ---

_YEAR_END = re.compile(r"(\d{4})\s*年\s*(?:(\d{1,2})\s*月)?\s*(?:(\d{1,2})\s*日)?")
_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?")


def parse_deadline(value: Any) -> dt.date | None:
    """A register's 完成时限 as a date: a date, 2019-06-30, 2019年6月底, 2019年底 (the end
    of the month or year named); text with no year (长期坚持, 持续推进) is none."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value or "").strip()
    if not text:
        return None
    found = _ISO.search(text) or _YEAR_END.search(text)
    if found is None:
        return None
    year = int(found.group(1))
    month = int(found.group(2)) if found.group(2) else 12
    if not 1 <= month <= 12 or not 1900 < year < 2200:
        return None
    if found.group(3):
        try:
            return dt.date(year, month, int(found.group(3)))
        except ValueError:
            return None
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def task_deadline(
    column_value: Any, targets: Sequence[tuple[int, str]], has_target: Mapping[int, bool]
) -> dt.date | None:
    """A task's deadline: its 完成时限 column where the register has one, else the end of
    the last milestone year it has a target for."""
    named = parse_deadline(column_value)
    if named is not None:
        return named
    years = [year for year, _ in targets if has_target.get(year)]
    return dt.date(max(years), 12, 31) if years else None
