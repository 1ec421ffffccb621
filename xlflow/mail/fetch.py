"""`xlflow mail fetch`: the returns in the office's mailbox, saved whole into the inbox.

The account is opened read-only (IMAP EXAMINE): no message is ever deleted, moved or
marked read. Each message since the round's forms were made is described by the server
first; only one with a part that `collect` reads (a workbook, an archive, a mail) is
fetched, and saved as it came, an `.eml` that collect reads as any saved mail. Each one
saved is recorded by its Message-ID and sha256, so no re-run fetches it twice; one cut off
mid-way has saved nothing half (every file is written whole, then recorded)."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import imaplib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Any

from ..config.model import MailSettings
from ..errors import MailError
from ..files import atomic_write, folder_lock, sha256_bytes, sha256_file
from ..ledger.book import Ledger
from ..text import safe_filename, visible
from ..workspace import Workspace
from .account import account_name, close_imap, open_imap, password, require
from .structure import HEADER_ITEM, Summary, summaries

BATCH = 50  # messages described per FETCH
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Saved:
    path: Path
    sender: str
    subject: str
    attachments: tuple[str, ...]


@dataclass(frozen=True)
class Passed:
    """A message left in the mailbox, and why. `kind`: not_a_return (its attachments are
    not returns), too_large, broken (its structure unreadable), unreadable (the server
    would not give it): all but the first may be a return that still waits."""

    sender: str
    subject: str
    why: str
    kind: str = "not_a_return"

    @property
    def may_be_a_return(self) -> bool:
        return self.kind != "not_a_return"


@dataclass
class FetchResult:
    folder: str
    since: dt.date
    examined: int = 0
    already: int = 0
    saved: list[Saved] = field(default_factory=list)
    passed: list[Passed] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "since": self.since.isoformat(),
            "examined": self.examined,
            "already_fetched": self.already,
            "saved": [
                {
                    "path": str(s.path),
                    "from": s.sender,
                    "subject": s.subject,
                    "attachments": list(s.attachments),
                }
                for s in self.saved
            ],
            "passed": [
                {"from": p.sender, "subject": p.subject, "why": p.why, "kind": p.kind}
                for p in self.passed
            ],
        }


Progress = Callable[[int, int], None]


def imap_date(day: dt.date) -> str:
    """IMAP's date (RFC 3501): English month names whatever the machine's language."""
    return f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year}"


def fetch_mail(
    ws: Workspace,
    round_id: str | None = None,
    since: dt.date | None = None,
    folder: str | None = None,
    secret: str | None = None,
    progress: Progress = lambda done, total: None,
) -> FetchResult:
    """Every message since `since` (else since the round's forms were made, else the
    newest round's) with a part collect reads, saved into the inbox once."""
    settings = require(ws.settings.mail)
    box = folder or settings.folder
    with Ledger(ws.ledger_path) as ledger:
        day = since or _round_day(ledger, round_id)
        known = ledger.fetched_ids()
    result = FetchResult(box, day)
    conn = open_imap(settings, password(settings, secret))
    try:
        uids = _search(conn, box, day)
        result.examined = len(uids)
        done = 0
        for start in range(0, len(uids), BATCH):
            batch = uids[start : start + BATCH]
            for summary in _describe(conn, batch):
                _take(ws, settings, conn, box, summary, known, result)
            done += len(batch)
            progress(done, len(uids))
    except (OSError, imaplib.IMAP4.abort) as exc:  # a server that stalled or hung up
        raise MailError(
            f"与收信服务器的连接中断（{_reason(exc)}）：已收取 {len(result.saved)} 封，都已完整保存并登记；"
            "重新运行 xlflow mail fetch 即可接着收取，不会重复。"
        ) from None
    finally:
        close_imap(conn)
    return result


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "服务器长时间无响应"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _round_day(ledger: Ledger, round_id: str | None) -> dt.date:
    if round_id is not None:
        rnd = ledger.load_round(round_id)
        made = ledger.round_created_at(rnd.id)
    else:
        rounds = ledger.rounds()
        if not rounds:
            raise MailError(
                "还没有任何轮次：请用 --since 指定从哪一天起收取（如 --since 2026-06-01）。"
            )
        made = ledger.round_created_at(rounds[-1].id)
    return made.date() if made else dt.date.today()


def _search(conn: imaplib.IMAP4, box: str, day: dt.date) -> list[str]:
    try:
        status, said = conn.select(_quoted(box), readonly=True)  # EXAMINE: nothing changes
    except imaplib.IMAP4.error as exc:
        status, said = "NO", [str(exc).encode()]
    if status != "OK":
        raise MailError(
            f"邮箱中没有文件夹 {box!r}（服务器说：{_text(said)}）；可用的有："
            f"{'、'.join(_folders(conn)) or '（无）'}。请用 --folder 或 [mail] folder 指定。"
        )
    status, found = conn.uid("SEARCH", "SINCE", imap_date(day))
    if status != "OK":
        raise MailError(f"邮件服务器无法按日期查找邮件（{_text(found)}）。")
    return [uid.decode() for uid in b" ".join(x for x in found if x).split()]


def _describe(conn: imaplib.IMAP4, uids: list[str]) -> list[Summary]:
    items = f"(UID RFC822.SIZE BODYSTRUCTURE {HEADER_ITEM})"
    status, data = conn.uid("FETCH", ",".join(uids), items)
    if status != "OK":
        raise MailError(f"邮件服务器无法列出邮件的结构（{_text(data)}）。")
    return summaries(data)


def _take(
    ws: Workspace,
    settings: MailSettings,
    conn: imaplib.IMAP4,
    box: str,
    summary: Summary,
    known: set[str],
    result: FetchResult,
) -> None:
    said = BytesHeaderParser(policy=compat32).parsebytes(summary.header.encode("utf-8", "replace"))
    if not summary.attachments:
        # nothing collect reads; a message with an attachment is named all the same, so
        # that no return is left behind unseen
        kind = "broken" if summary.broken else "not_a_return"
        if summary.broken:
            why = "邮件的结构服务器无法识别，未收取：请在邮箱中打开查看，必要时请对方重新发送"
        elif summary.others:
            shown = "、".join(summary.others[:5]) + ("等" if len(summary.others) > 5 else "")
            why = f"附件 {shown} 不是报送文件（表格、压缩包或邮件），未收取"
        else:
            return  # a message without an attachment: not a return
        result.passed.append(Passed(_sender(said), _subject(said), why, kind))
        return
    if summary.message_id and summary.message_id in known:
        result.already += 1
        return
    limit = ws.settings.limits.max_file_mb * 1024 * 1024
    if summary.size > limit:
        result.passed.append(
            Passed(
                _sender(said),
                _subject(said),
                f"邮件 {summary.size / 1048576:.1f} MB，超过单个文件上限 "
                f"{ws.settings.limits.max_file_mb:g} MB（[limits] max_file_mb），未收取；"
                "请对方压缩或分开发送",
                "too_large",
            )
        )
        return
    status, data = conn.uid("FETCH", summary.uid, "(BODY.PEEK[])")
    raw = next((part[1] for part in data if isinstance(part, tuple)), None)
    if status != "OK" or not isinstance(raw, bytes):
        why = f"邮件 UID {summary.uid} 无法下载（{_text(data)}）"
        result.passed.append(Passed("", "", why, "unreadable"))
        return
    sha = sha256_bytes(raw)
    if sha in known:
        result.already += 1
        return
    head = BytesHeaderParser(policy=compat32).parsebytes(raw)
    with folder_lock(ws.lock_path, "收取邮件", wait_seconds=30):
        path = _free(ws.inbox, head, sha)
        if not path.is_file():
            atomic_write(path, raw)
        with Ledger(ws.ledger_path) as ledger:
            ledger.record_fetched(
                summary.message_id, sha, path.name, account_name(settings), box, summary.uid
            )
    known.update({summary.message_id, sha} - {""})
    result.saved.append(Saved(path, _sender(head), _subject(head), summary.attachments))


def _free(inbox: Path, head: Any, sha: str) -> Path:
    """Where the message goes: its name, or the same file already there (a fetch cut off
    before it was recorded); a file of that name with other bytes is never written over,
    the name takes more of the hash instead."""
    for length in (8, 16, 64):
        path = inbox / _name(head, sha, length)
        if not path.exists() or (path.is_file() and sha256_file(path) == sha):
            return path
    raise MailError(f"inbox/ 中已有与 {path.name} 同名的其他文件，无法保存这封邮件。")


def _name(head: Any, sha: str, length: int = 8) -> str:
    """date_sender_hash.eml: in the order received, whose, and never two alike."""
    try:
        when = email.utils.parsedate_to_datetime(head.get("Date", ""))
        stamp = when.astimezone().strftime("%Y%m%d-%H%M%S")
    except (TypeError, ValueError, IndexError):
        stamp = "00000000-000000"
    name, address = email.utils.parseaddr(_decode(head.get("From", "")))
    who = safe_filename(name or address.split("@")[0] or "未知发件人", 30)
    return f"{stamp}_{who}_{sha[:length]}.eml"


def _sender(head: Any) -> str:
    name, address = email.utils.parseaddr(_decode(head.get("From", "")))
    return visible(f"{name} <{address}>" if name else address)


def _subject(head: Any) -> str:
    return visible(_decode(head.get("Subject", "")))


def _decode(value: Any) -> str:
    try:
        return str(make_header(decode_header(str(value or ""))))
    except (LookupError, ValueError, UnicodeDecodeError):
        return str(value or "")


def _folders(conn: imaplib.IMAP4) -> list[str]:
    try:
        status, listed = conn.list()
    except imaplib.IMAP4.error:
        return []
    out = []
    for line in listed if status == "OK" else []:
        if isinstance(line, bytes):
            text = line.decode("utf-8", "replace")
            out.append(from_imap_utf7(text.rsplit(" ", 1)[-1].strip('"')))
    return out


def _quoted(box: str) -> str:
    name = imap_utf7(box)
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_utf7(text: str) -> str:
    """A folder's name as IMAP writes it (RFC 3501's modified UTF-7): 已发送 is &XfJT0ZAB-."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            coded = base64.b64encode("".join(run).encode("utf-16-be")).decode()
            out.append("&" + coded.rstrip("=").replace("/", ",") + "-")
            run.clear()

    for ch in text:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def from_imap_utf7(name: str) -> str:
    def one(match: re.Match[str]) -> str:
        coded = match.group(1)
        if not coded:
            return "&"
        coded = coded.replace(",", "/")
        return base64.b64decode(coded + "=" * (-len(coded) % 4)).decode("utf-16-be", "replace")

    return re.sub(r"&([^-]*)-", one, name)


def _text(said: Any) -> str:
    parts = said if isinstance(said, list) else [said]
    return " ".join(
        p.decode("utf-8", "replace") if isinstance(p, bytes) else str(p) for p in parts if p
    )
