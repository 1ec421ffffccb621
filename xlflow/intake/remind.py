"""Reminders (催报): a draft e-mail per division whose return has not been accepted.

Each reminder is a standard RFC 5322 message saved as `.eml`, which Outlook, Foxmail
and Thunderbird open as a draft. Nothing is ever sent over the network.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from ..files import atomic_write, folder_lock
from ..issues import Severity
from ..ledger.book import Ledger
from ..model import FileRecord, Register, Round
from ..register.directory import DIRECTORY_XLSX, Directory, Unit, valid_emails
from ..register.load import load_directory, load_register
from ..standing import RoundState, Standing, round_state
from ..text import safe_filename
from ..wording import days_left_text, deadline_text, role_label, short_time_text, task_label
from ..workspace import Workspace
from .receipts import receipt_name

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@dataclass(frozen=True)
class Reminder:
    division: str
    path: Path
    to: str
    attachment: str
    rejected: bool
    pending: int


def compose(
    ws: Workspace,
    rnd: Round,
    register: Register,
    division: str,
    contact: Unit,
    rejected: FileRecord | None,
    attachment: Path,
    today: dt.date,
    own_deadline: dt.date | None = None,
) -> EmailMessage:
    """The draft to one division; `own_deadline` is its extension's, where it has one."""
    office = ws.settings.office
    tasks = register.tasks_of(division)
    greeting = f"{contact.person}同志" if contact.person else f"{division}"
    due = own_deadline or rnd.deadline
    days = days_left_text((due - today).days) if due else ""
    deadline = deadline_text(due) if due else "规定时间内"
    lines = [f"{greeting}：", "", "您好！"]
    intro = f"按照{rnd.title}重点任务进展情况填报工作安排，请贵处室于{deadline}报送有关情况"
    lines.append(intro + (f"（{days}）。" if days else "。"))
    if rejected is None:
        lines.append("截至目前，我们尚未收到贵处室的报送材料，请抓紧填报。")
    else:
        when = short_time_text(rejected.received)
        lines.append(
            f"贵处室于 {when} 报送的材料（{rejected.path}）经核验需要修改，暂未采用。请按下列问题修改后重新报送："
        )
        errors = [i for i in rejected.issues if i.severity is Severity.ERROR]
        for n, issue in enumerate(errors, start=1):
            where = f"{issue.location}：" if issue.location else ""
            lines.append(f"  {n}. {where}{issue.message}")
    lines += ["", f"贵处室承担的任务共 {len(tasks)} 项："]
    for task, role in tasks:
        collective = task.collective_of(division)
        part = f"，{collective}各成员分别填报" if collective else ""
        lines.append(
            f"  {task.id}. {task_label(task, ws.settings.register)}（{role_label(role)}{part}）"
        )
    lines.append("")
    if rejected is None:
        lines.append(
            f"附件为贵处室的填报表（{attachment.name}），请在表中浅黄色单元格内填写后直接回复本邮件。"
        )
    else:
        lines.append(
            f"附件为核验回执（{attachment.name}），列出了每处需要修改的地方。请在原报送文件上修改后重新报送，不要新建文件。"
        )
    who = "，".join(x for x in (office.contact, office.phone) if x)
    if who:
        lines.append(f"如有疑问，请联系{who}。")
    lines += ["谢谢支持！", "", office.name]
    msg = EmailMessage()
    sender = office.email or "noreply@localhost"
    msg["From"] = Address(display_name=office.name, addr_spec=sender)
    addresses = valid_emails(contact.email)
    if addresses:
        msg["To"] = [
            Address(display_name=contact.person or division, addr_spec=a) for a in addresses
        ]
    subject = "【催报】" if rejected is None else "【退回修改】"
    msg["Subject"] = f"{subject}请于{deadline}报送{rnd.title}重点任务进展情况（{division}）"
    msg["X-Unsent"] = "1"  # Outlook opens the file as a draft to edit and send
    msg["X-Xlflow-Round"] = rnd.id
    msg.set_content("\n".join(lines))
    msg.add_attachment(
        attachment.read_bytes(), maintype=XLSX[0], subtype=XLSX[1], filename=attachment.name
    )
    # A boundary from the content, so the same state writes the same bytes.
    digest = hashlib.sha256(msg.get_body().as_bytes() + attachment.read_bytes()).hexdigest()[:24]  # type: ignore[union-attr]
    msg.set_boundary(f"=_xlflow_{digest}")
    return msg


@dataclass(frozen=True)
class Reminders:
    """The drafts written for a round, and what the coordinator should know about them."""

    round: Round
    drafts: tuple[Reminder, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round.id,
            "reminders": [
                {
                    "division": r.division,
                    "path": str(r.path),
                    "to": r.to,
                    "attachment": r.attachment,
                    "rejected": r.rejected,
                    "pending_tasks": r.pending,
                }
                for r in self.drafts
            ],
            "notes": list(self.notes),
        }


def write_reminders(ws: Workspace, round_id: str, today: dt.date | None = None) -> Reminders:
    """One .eml per division without an accepted return, and notes for the coordinator."""
    day = today or dt.date.today()
    register = load_register(ws)
    directory = load_directory(ws, register) or Directory(str(ws.templates / DIRECTORY_XLSX))
    notes = []
    if not any(valid_emails(u.email) for u in directory.units):
        notes.append(
            f"{directory.path} 中还没有填写各单位的电子邮箱，草稿未填收件人。"
            "在该文件中填好联系人和邮箱后重新运行 remind 即可。"
        )
    with folder_lock(ws.lock_path, "生成催报邮件"), Ledger(ws.ledger_path) as ledger:
        rnd = ledger.load_round(round_id)
        # who answered and what was wrong, never what they answered: every return's
        # answers were read and decoded for nothing
        state = round_state(ledger, rnd, register.divisions, with_values=False)
        form_files = {d.division: ledger.form_file(rnd.id, d.division) for d in state.divisions}
        return _write_all(ws, register, directory, notes, state, form_files, day)


def _write_all(
    ws: Workspace,
    register: Register,
    directory: Directory,
    notes: list[str],
    state: RoundState,
    form_files: dict[str, tuple[Path, str] | None],
    day: dt.date,
) -> Reminders:
    rnd = state.round
    out_dir = ws.round_dir(rnd) / "reminders"
    reminders = []
    for standing in state.divisions:
        if standing.standing is Standing.ACCEPTED:
            continue
        division = standing.division
        if standing.extension is not None and standing.extension.until >= day:
            notes.append(
                f"{division} 已延期至 {standing.extension.until.isoformat()}，尚未到期，不催报。"
            )
            continue
        rejected = standing.counted if standing.standing is Standing.REJECTED else None
        if rejected is not None:
            attachment = ws.round_dir(rnd) / "receipts" / receipt_name(division, rejected)
        else:
            record = form_files[division]
            attachment = record[0] if record else Path()
        if not attachment.is_file():
            notes.append(f"{division}：找不到附件 {attachment}，请先运行 generate/collect。")
            continue
        contact = directory.contact(division)
        msg = compose(
            ws, rnd, register, division, contact, rejected, attachment, day, standing.deadline(rnd)
        )
        path = out_dir / f"{safe_filename(division)}.eml"
        atomic_write(path, msg.as_bytes(policy=SMTP))
        reminders.append(
            Reminder(
                division,
                path,
                "; ".join(valid_emails(contact.email)),
                attachment.name,
                rejected is not None,
                len(register.tasks_of(division)),
            )
        )
    no_address = [r.division for r in reminders if not r.to]
    if no_address and any(valid_emails(u.email) for u in directory.units):
        notes.append(
            f"{Path(directory.path).name} 中没有这些单位的有效电子邮箱：{'、'.join(no_address)}；"
            "打开草稿后请手工填写收件人。"
        )
    return Reminders(rnd, tuple(reminders), tuple(notes))
