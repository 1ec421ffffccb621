"""需说明事项: every row a plausibility rule flagged in the counted returns, explained or
not, with the coordinator's word on it. Read from the issues collect recorded, so the
consolidated workbook, the 通报, the console and `xlflow accept` all say the same."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..issues import IssueCode
from ..model import FileRecord, Review
from ..plausibility import RULE_LABELS, explanation_in

STATE_LABELS = {
    "explained": "已说明",
    "unexplained": "未说明",
    "asked_again": "请再说明",
    "noted": "提醒",
}


@dataclass(frozen=True)
class Flag:
    """One flagged row of one division's counted return."""

    division: str
    task_id: str
    rule: str
    field: str
    said: str  # the value in words: 序号 5【进度下降】“完成进度(%)”（H6）：40，上次 60 ……
    explanation: str
    state: str  # explained | unexplained | asked_again | noted (a rule set to warning)
    file: str
    review: Review | None = None

    @property
    def label(self) -> str:
        return RULE_LABELS.get(self.rule, self.rule)

    @property
    def state_label(self) -> str:
        if self.review is not None and self.review.verdict == "accepted" and self.explained:
            return "已说明（已认可）"
        return STATE_LABELS[self.state]

    @property
    def wanting(self) -> bool:
        """Whether a word is still owed: not explained, or asked again."""
        return self.state in ("unexplained", "asked_again")

    @property
    def explained(self) -> bool:
        return self.state in ("explained", "asked_again")

    @property
    def situation(self) -> str:
        """The value in words, without the task number and the rule in front."""
        return self.said.split("】", 1)[-1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "division": self.division,
            "task_id": self.task_id,
            "rule": self.rule,
            "label": self.label,
            "field": self.field,
            "said": self.said,
            "explanation": self.explanation,
            "state": self.state,
            "state_label": self.state_label,
            "file": self.file,
            "review": self.review.to_dict() if self.review else None,
        }


_CODES = {
    IssueCode.EXPLAINED: "explained",
    IssueCode.NEEDS_EXPLANATION: "unexplained",
    IssueCode.IMPLAUSIBLE: "noted",
}


def flags_of(
    files: Iterable[FileRecord],
    reviews: Mapping[tuple[str, str, str], Review] | None = None,
) -> list[Flag]:
    """The flags of these (counted) files, in file then row order; the coordinator's word
    on an explanation where it is about that explanation as it now reads."""
    out: list[Flag] = []
    for record in files:
        asked = {
            (i.task_id, i.rule)
            for i in record.issues
            if i.code is IssueCode.EXPLANATION_ASKED_AGAIN
        }
        for issue in record.issues:
            state = _CODES.get(issue.code)
            if state is None or not issue.rule:
                continue
            # the value in words is the message's first sentence; an explained one quotes
            # the 说明 after it
            said, explanation = issue.message.split("。", 1)[0], explanation_in(issue.message)
            review = (reviews or {}).get((record.division, issue.task_id, issue.rule))
            if review is not None and review.said != explanation:
                review = None  # about an earlier explanation of the row
            if (issue.task_id, issue.rule) in asked:
                state = "asked_again"
            out.append(
                Flag(
                    division=record.division,
                    task_id=issue.task_id,
                    rule=issue.rule,
                    field=issue.field,
                    said=said,
                    explanation=explanation,
                    state=state,
                    file=record.path,
                    review=review,
                )
            )
    return out


def by_task(flags: Iterable[Flag]) -> dict[str, list[Flag]]:
    out: dict[str, list[Flag]] = {}
    for f in flags:
        out.setdefault(f.task_id, []).append(f)
    return out


def flag_line(flag: Flag, with_division: bool) -> str:
    """A flag in one line, for a cell beside the value: 【规划处】已说明（进度下降）：……"""
    who = f"【{flag.division}】" if with_division else ""
    text = f"{who}{flag.state_label}（{flag.label}）"
    if flag.explanation:
        text += f"：{flag.explanation}"
    if flag.review is not None and flag.review.verdict == "ask_again":
        text += f"；汇总单位请再说明：{flag.review.note}"
    return text
