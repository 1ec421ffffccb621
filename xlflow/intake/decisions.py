"""The coordinator's last word: accept a return the rules refuse, exclude one, undo either.

A decision is about a file's content (its sha256), so it survives a rename and every
re-run of collect; it records who, when and why in the ledger and never touches inbox/.
Recording one runs collect again, which applies it: the verdicts, the receipts and, at the
next merge, the consolidated workbook all show it.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Invalid, NotFound
from ..issues import IssueCode, Verdict
from ..ledger.book import Ledger
from ..ledger.codec import now_text
from ..model import REVIEW_VERDICTS, Decision, FileRecord, Review
from ..plausibility import explanation_in
from ..standing import DivisionState, round_state
from ..wording import VERDICT_LABELS
from ..workspace import Workspace
from .collect import CollectReport, collect

ACTIONS = ("accept", "exclude")


@dataclass(frozen=True)
class DecisionResult:
    decision: Decision
    file: FileRecord  # as collect now records it
    standing: DivisionState | None  # the division's, after the decision
    undone: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision.to_dict(),
            "undone": self.undone,
            "file": {
                "path": self.file.path,
                "sha256": self.file.sha256,
                "division": self.file.division,
                "verdict": str(self.file.verdict),
                "in_inbox": self.file.present,
            },
            "division": self.standing.to_dict() if self.standing else None,
        }


def who() -> str:
    """The person at the keyboard, as the system knows them."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return os.environ.get("USERNAME") or os.environ.get("USER") or "未知"


def find_file(files: list[FileRecord], token: str) -> FileRecord:
    """A recorded file by its path under inbox/ (as status shows it), a path on disk, its
    name alone where that is unique, or the start of its sha256."""
    wanted = token.strip().replace("\\", "/")
    for f in reversed(files):
        if f.path == wanted:
            return f
    on_disk = Path(token)
    if on_disk.is_file():
        sha = hashlib.sha256(on_disk.read_bytes()).hexdigest()
        hits = [f for f in files if f.sha256 == sha]
        if hits:
            return hits[-1]
    named = [f for f in files if f.name == Path(wanted).name]
    if len({f.sha256 for f in named}) == 1:
        return named[-1]
    if re.fullmatch(r"[0-9a-fA-F]{8,64}", wanted):
        hits = [f for f in files if f.sha256.startswith(wanted.lower())]
        if len({f.sha256 for f in hits}) == 1:
            return hits[-1]
    if len(named) > 1:
        listed = "、".join(f.path for f in named)
        raise Invalid(f"有多个文件名为“{Path(wanted).name}”：{listed}；请写出 inbox 下的完整路径。")
    raise NotFound(
        f"本轮次没有收到过“{token}”。请先运行 collect，再用 status 中显示的文件名（inbox 下的路径）。"
    )


def _check(file: FileRecord, action: str) -> None:
    if file.verdict is Verdict.SKIPPED:
        raise Invalid(f"“{file.path}”不是报送的表格（{VERDICT_LABELS[file.verdict]}），无需决定。")
    if action == "accept":
        if not file.division or not file.values:
            raise Invalid(
                f"“{file.path}”无法确定是哪个处室的填报表，或没有读到任何填报内容，不能采用。"
                "请让该处室用下发的原表重新报送。"
            )
        if file.verdict is not Verdict.REJECTED and not any(
            i.code is IssueCode.ACCEPTED_BY_COORDINATOR for i in file.issues
        ):
            raise Invalid(f"“{file.path}”本来就{VERDICT_LABELS[file.verdict]}，不需要采用决定。")


def _apply(
    ws: Workspace, round_id: str, file: FileRecord
) -> tuple[FileRecord, DivisionState | None]:
    report: CollectReport = collect(ws, round_id)
    now = next((f for f in report.files if f.sha256 == file.sha256), file)
    with Ledger(ws.ledger_path) as ledger:
        state = round_state(ledger, report.round, with_values=False)
    return now, state.of(now.division) if now.division else None


def decide(
    ws: Workspace, round_id: str, token: str, action: str, reason: str, by: str | None = None
) -> DecisionResult:
    """Accept (despite its errors) or exclude one recorded file of a round."""
    if action not in ACTIONS:
        raise Invalid(f"决定只能是 {' 或 '.join(ACTIONS)}，不是 {action!r}")
    if not reason.strip():
        # said to the console's users as well as the command's, so in no one's words
        raise Invalid(
            "请写明理由，如“处长电话确认，联系电话稍后补报”；理由记入台账，并显示在回执和汇总表中。"
        )
    with Ledger(ws.ledger_path) as ledger:
        rnd = ledger.load_round(round_id)
        file = find_file(ledger.files(rnd.id, with_values=True), token)
        _check(file, action)
        decision = Decision(
            round=rnd.id,
            sha256=file.sha256,
            action=action,
            reason=reason.strip(),
            by=by or who(),
            at=now_text(),
            path=file.path,
        )
        ledger.record_decision(decision)
    now, standing = _apply(ws, round_id, file)
    return DecisionResult(decision, now, standing)


@dataclass(frozen=True)
class ReviewResult:
    reviews: tuple[Review, ...]
    file: FileRecord  # the division's counted return, as collect now records it

    def to_dict(self) -> dict[str, Any]:
        return {
            "reviews": [r.to_dict() for r in self.reviews],
            "file": {"path": self.file.path, "division": self.file.division},
        }


def review_explanations(
    ws: Workspace,
    round_id: str,
    division: str,
    task_ids: tuple[str, ...],
    verdict: str,
    note: str = "",
    by: str | None = None,
    rule: str = "",
) -> ReviewResult:
    """Accept the 说明 a division wrote on these tasks' flagged rows, or ask again (with
    `note`, what to explain): asking again puts the row back on its next receipt."""
    if verdict not in REVIEW_VERDICTS:
        raise Invalid(f"意见只能是 {' 或 '.join(REVIEW_VERDICTS)}，不是 {verdict!r}")
    if verdict == "ask_again" and not note.strip():
        raise Invalid(
            "请写明还需要说明什么，如“请说明进度下降的具体原因和补救措施”；这句话会写进该处室的回执。"
        )
    with Ledger(ws.ledger_path) as ledger:
        rnd = ledger.load_round(round_id)
        state = round_state(ledger, rnd, with_values=False)
        counted = state.accepted.get(division)
        if counted is None:
            known = "、".join(state.accepted) or "（无）"
            raise NotFound(f"本轮次没有“{division}”已采用的报送；已采用的有：{known}")
        explained = [
            i
            for i in counted.issues
            if i.code is IssueCode.EXPLAINED and (not rule or i.rule == rule)
        ]
        wanted = set(task_ids) or {i.task_id for i in explained}
        chosen = [i for i in explained if i.task_id in wanted]
        missing = sorted(wanted - {i.task_id for i in chosen})
        if missing or not chosen:
            have = "、".join(sorted({i.task_id for i in explained}, key=lambda t: t.zfill(6)))
            raise Invalid(
                f"“{division}”的报送中，序号 {'、'.join(missing) or '（无）'} 没有已写说明的事项"
                f"{'（规则 ' + rule + '）' if rule else ''}；有说明的序号：{have or '（无）'}。"
                "未写说明的行无需认可，可在回执中提醒该处室补充。"
            )
        at, person = now_text(), by or who()
        reviews = tuple(
            Review(
                rnd.id,
                division,
                i.task_id,
                i.rule,
                explanation_in(i.message),
                verdict,
                note.strip(),
                person,
                at,
            )
            for i in chosen
        )
        for review in reviews:
            ledger.record_review(review)
    now, _ = _apply(ws, round_id, counted)
    return ReviewResult(reviews, now)


def undo(ws: Workspace, round_id: str, token: str, by: str | None = None) -> DecisionResult:
    """End the decision in force on a file: the rules alone judge it again."""
    with Ledger(ws.ledger_path) as ledger:
        rnd = ledger.load_round(round_id)
        file = find_file(ledger.files(rnd.id, with_values=False), token)
        ended = ledger.undo_decision(rnd.id, file.sha256, by or who(), now_text())
    if ended is None:
        raise Invalid(f"“{file.path}”没有生效中的决定，无需撤销。")
    now, standing = _apply(ws, round_id, file)
    return DecisionResult(ended, now, standing, undone=True)
