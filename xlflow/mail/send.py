"""`xlflow mail send`: one message per division through the office's account: its form,
its receipt, or its reminder.

Without `send=True` nothing leaves: the plan says who gets what, and who has no address.
Each message sent is recorded (Message-ID, recipients, the attachment's sha256), so a
re-run never sends the same attachment to the same division twice unless `resend`. A
message the server refuses is named with why, and the others still go; an account the
server refuses stops the run before anything is sent.

A refusal for now (a 4xx reply: the server busy, too many messages at once, greylisting)
or a server that hangs up is tried again after a wait, on a new connection if it hung up.
A message still refused for now is left unsent for a later run, which sends what did not
go and only that. Where the refusal is the server's (it hung up, or refused the sender or
the message) or a second message in a row meets one, the messages after it are left too:
they would meet the same server."""

from __future__ import annotations

import email
import email.policy
import email.utils
import smtplib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from ..config.model import MailSettings
from ..errors import Invalid, MailError
from ..files import sha256_bytes
from ..intake.receipts import receipt_name
from ..intake.remind import XLSX, write_reminders
from ..ledger.book import Ledger
from ..model import Round
from ..register.directory import DIRECTORY_XLSX, Directory, valid_emails
from ..register.load import load_directory
from ..standing import round_state
from ..wording import deadline_text
from ..workspace import Workspace
from .account import close_smtp, open_smtp, password, require

WHAT = {"forms": "填报表", "receipts": "核验回执", "reminders": "催报"}


@dataclass(frozen=True)
class Outgoing:
    """One division's message: to whom, with what, and whether it can or need go."""

    division: str
    to: tuple[str, ...]
    subject: str
    attachment: Path | None
    size: int
    sha256: str
    message: EmailMessage | None
    sent_at: str = ""  # when this attachment was sent to this division before
    problem: str = ""  # why it cannot go

    @property
    def ready(self) -> bool:
        return self.message is not None and not self.problem


@dataclass
class SendResult:
    round: Round
    what: str
    sending: bool
    planned: list[Outgoing]
    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round.id,
            "what": self.what,
            "sent_now": self.sending,
            "messages": [
                {
                    "division": o.division,
                    "to": list(o.to),
                    "subject": o.subject,
                    "attachment": str(o.attachment) if o.attachment else None,
                    "bytes": o.size,
                    "sent_before": o.sent_at or None,
                    "problem": o.problem or None,
                    "sent": o.division in self.sent,
                    "failed": self.failed.get(o.division),
                }
                for o in self.planned
            ],
        }


Progress = Callable[[int, int], None]

# seconds to wait before each new try of a message the server refused for now
RETRY_WAITS = (5.0, 20.0)
LATER = "稍后再发送一次即可，只补发没有发出的（命令行：xlflow mail send --send）"


@dataclass(frozen=True)
class _ForNow:
    """A message the server refused for now, or could not take because it hung up."""

    why: str
    hung_up: bool
    # the server's, not one address's (a greylisted address): the rest would meet it too
    server_wide: bool = True


def send_mail(
    ws: Workspace,
    round_id: str,
    what: str,
    only: Iterable[str] = (),
    send: bool = False,
    resend: bool = False,
    secret: str | None = None,
    progress: Progress = lambda done, total: None,
) -> SendResult:
    if what not in WHAT:
        raise Invalid(f"--what 应为 {'、'.join(WHAT)} 之一，实际是 {what!r}")
    settings = require(ws.settings.mail)
    rnd, planned = plan(ws, round_id, what, tuple(only), resend)
    result = SendResult(rnd, what, send, planned)
    due = [o for o in planned if o.ready and not o.sent_at]
    if not send or not due:
        return result
    link = _Link(settings, password(settings, secret))
    in_a_row = 0  # messages refused for now one after another
    try:
        for n, outgoing in enumerate(due, 1):
            for_now = _send_trying(ws, link, rnd, what, outgoing, result)
            in_a_row = in_a_row + 1 if for_now else 0
            if for_now is not None:
                tries = len(RETRY_WAITS) + 1
                result.failed[outgoing.division] = (
                    f"服务器暂时不收（{for_now.why}），试了 {tries} 次仍未发出；{LATER}"
                )
                if for_now.server_wide or in_a_row > 1:
                    for o in due[n:]:
                        result.failed[o.division] = (
                            f"未发送：服务器暂时不收前面的邮件，本次停在那里；{LATER}"
                        )
                    break
            progress(n, len(due))
    finally:
        link.close()
    return result


class _Link:
    """The connection to the SMTP server, opened again after the server hung up."""

    def __init__(self, settings: MailSettings, secret: str) -> None:
        self.settings, self.secret = settings, secret
        self.conn: smtplib.SMTP | None = open_smtp(settings, secret)

    def open(self) -> smtplib.SMTP:
        if self.conn is None:
            self.conn = open_smtp(self.settings, self.secret)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            close_smtp(self.conn)
            self.conn = None


def _send_trying(
    ws: Workspace, link: _Link, rnd: Round, what: str, o: Outgoing, result: SendResult
) -> _ForNow | None:
    """Send one message, again after each of RETRY_WAITS while the server refuses it for
    now; what the server said the last time, if it still refused."""
    for_now = None
    for wait in (0.0, *RETRY_WAITS):
        time.sleep(wait)
        try:
            conn = link.open()
        except MailError as exc:  # it hung up, and will not take us back yet
            for_now = _ForNow(str(exc), True)
            continue
        for_now = _send_one(ws, conn, rnd, what, o, result)
        if for_now is None:
            return None
        if for_now.hung_up:
            link.close()
    return for_now


def _send_one(
    ws: Workspace, conn: smtplib.SMTP, rnd: Round, what: str, o: Outgoing, result: SendResult
) -> _ForNow | None:
    """Send one message and record what became of it, or say that the server refused it
    for now (nothing recorded: it is tried again)."""
    assert o.message is not None
    try:
        refused = conn.send_message(o.message, to_addrs=list(o.to))
    except smtplib.SMTPRecipientsRefused as exc:
        replies = list(exc.recipients.values())
        if any(_for_now(code) for code, _ in replies):  # a 421 ends the list: the rest untried
            code, said = next(r for r in replies if _for_now(r[0]))
            hung_up = any(c == 421 for c, _ in replies)
            return _ForNow(f"{code} {_said((code, said))}", hung_up, server_wide=hung_up)
        result.failed[o.division] = "收件地址全部被服务器拒绝：" + "；".join(
            f"{a}（{_said(r)}）" for a, r in exc.recipients.items()
        )
        return None
    except smtplib.SMTPSenderRefused as exc:
        if _for_now(exc.smtp_code):
            return _ForNow(f"{exc.smtp_code} {_said(exc)}", exc.smtp_code == 421)
        result.failed[o.division] = f"服务器拒绝以 {exc.sender} 的名义发信（{_said(exc)}）"
        return None
    except smtplib.SMTPDataError as exc:
        if _for_now(exc.smtp_code):
            return _ForNow(f"{exc.smtp_code} {_said(exc)}", exc.smtp_code == 421)
        too_big = exc.smtp_code == 552 or "size" in _said(exc).lower()
        result.failed[o.division] = (
            f"邮件 {o.size / 1048576:.1f} MB，超过服务器允许的大小（{_said(exc)}）"
            if too_big
            else f"服务器拒收这封邮件（{_said(exc)}）"
        )
        return None
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        return _ForNow(f"连接中断：{_said(exc)}", True)
    except smtplib.SMTPException as exc:
        result.failed[o.division] = f"发送失败（{_said(exc)}）"
        return None
    delivered = [a for a in o.to if a not in refused]
    with Ledger(ws.ledger_path) as ledger:
        ledger.record_sent(
            rnd.id,
            what,
            o.division,
            str(o.message["Message-ID"]),
            "; ".join(delivered),
            o.attachment.name if o.attachment else "",
            o.sha256,
        )
    result.sent.append(o.division)
    if refused:
        result.failed[o.division] = "部分地址被拒收：" + "；".join(
            f"{a}（{_said(r)}）" for a, r in refused.items()
        )
        if all(_for_now(code) for code, _ in refused.values()):
            result.failed[o.division] += (
                f"。这些地址是暂时不收，稍后可单独重发给该单位（命令行：--only {o.division} --resend）"
            )
    return None


def _for_now(code: int) -> bool:
    """A reply that refuses for now (RFC 5321's 4yz): the same message may go later."""
    return 400 <= code < 500


def plan(
    ws: Workspace, round_id: str, what: str, only: tuple[str, ...] = (), resend: bool = False
) -> tuple[Round, list[Outgoing]]:
    """Each division's message for `what`, built but not sent."""
    directory = load_directory(ws) or Directory(str(ws.templates / DIRECTORY_XLSX))
    items: list[tuple[str, Path | None, EmailMessage | None]]
    if what == "reminders":
        drafts = write_reminders(ws, round_id).drafts
        with Ledger(ws.ledger_path) as ledger:
            rnd = ledger.load_round(round_id)
            sent = ledger.sent(rnd.id, what)
        items = [(d.division, d.path, _draft(d.path)) for d in drafts]
    else:
        with Ledger(ws.ledger_path) as ledger:
            rnd = ledger.load_round(round_id)
            if what == "forms":
                found = [(d, ledger.form_file(rnd.id, d)) for d in ledger.form_divisions(rnd.id)]
                items = [(d, f[0] if f else None, None) for d, f in found]
            else:
                state = round_state(ledger, rnd, with_values=False)
                folder = ws.round_dir(rnd) / "receipts"
                items = [
                    (d.division, folder / receipt_name(d.division, d.counted), None)
                    for d in state.divisions
                    if d.counted is not None
                ]
            sent = ledger.sent(rnd.id, what)
    unknown = [d for d in only if d not in {i[0] for i in items}]
    if unknown:
        raise Invalid(
            f"本轮没有可发送{WHAT[what]}的单位：{'、'.join(unknown)}；"
            f"可选：{'、'.join(i[0] for i in items) or '（无）'}"
        )
    out = []
    for division, path, draft in items:
        if only and division not in only:
            continue
        outgoing = _outgoing(ws, rnd, what, division, path, draft, directory)
        before = sent.get((division, outgoing.sha256), "")
        out.append(outgoing if resend else replace(outgoing, sent_at=before))
    return rnd, out


def _outgoing(
    ws: Workspace,
    rnd: Round,
    what: str,
    division: str,
    path: Path | None,
    draft: EmailMessage | None,
    directory: Directory,
) -> Outgoing:
    settings, office = ws.settings.mail, ws.settings.office
    contact = directory.contact(division)
    to = tuple(valid_emails(contact.email))
    if path is None or not path.is_file():
        shown = path.name if path else "（无）"
        return Outgoing(
            division,
            to,
            "",
            path,
            0,
            "",
            None,
            problem=f"找不到附件 {shown}：请先运行 generate 或 collect",
        )
    data = path.read_bytes()
    sha = sha256_bytes(data)
    if draft is not None:
        msg = draft
        del msg["X-Unsent"]
        del msg["From"]
        to = tuple(a.addr_spec for a in msg["To"].addresses) if msg["To"] else to
    else:
        msg = EmailMessage()
        deadline = deadline_text(rnd.deadline) if rnd.deadline else "规定时间"
        text = settings.forms_text if what == "forms" else settings.receipts_text
        msg["Subject"] = f"【{WHAT[what]}】{rnd.title}重点任务进展情况（{division}）"
        if to:
            msg["To"] = [Address(display_name=contact.person or division, addr_spec=a) for a in to]
        msg["X-Xlflow-Round"] = rnd.id
        msg.set_content(
            text.format(division=division, round=rnd.title, deadline=deadline, office=office.name)
        )
        msg.add_attachment(data, maintype=XLSX[0], subtype=XLSX[1], filename=path.name)
    msg["From"] = Address(display_name=office.name, addr_spec=settings.from_address)
    domain = settings.from_address.rpartition("@")[2] or None
    del msg["Message-ID"], msg["Date"]
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid("xlflow", domain=domain)
    subject = str(msg["Subject"] or "")
    problem = (
        "" if to else f"单位名录中没有 {division} 的电子邮箱：请在 {DIRECTORY_XLSX} 中填写后重试"
    )
    size = len(msg.as_bytes(policy=email.policy.SMTP))
    return Outgoing(division, to, subject, path, size, sha, msg, problem=problem)


def _draft(path: Path) -> EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _said(exc: Any) -> str:
    said = getattr(exc, "smtp_error", None)
    if isinstance(exc, tuple) and len(exc) == 2:
        said = exc[1]
    if isinstance(said, bytes):
        return said.decode("utf-8", "replace")
    return str(said if said is not None else exc)
