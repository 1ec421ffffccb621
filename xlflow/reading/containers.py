"""Returns that arrive inside mail files and archives: `.eml`, `.msg`, `.zip`, `.7z` and
`.rar`, unpacked in memory under the same limits as any hostile file.

Staff save the mail itself, or the zip a division sent, into inbox/. Each spreadsheet
inside is a return of its own, named by where it came from (`回复.eml!附件.zip!高新处.xlsx`);
a mail's Date is when it was received, and its From, Subject and Date go with every
return it carried. Nothing is ever unpacked into inbox/.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import io
import lzma
import quopri
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path, PurePosixPath
from typing import Any

from ..config.model import Limits
from ..issues import Issue, IssueCode, damage_words, error, warning
from ..text import visible
from .package import SPREADSHEET_SUFFIXES, unlisted
from .zipnames import NameProblem, decoded_name, first_problem, text_problem

CONTAINERS = (".eml", ".msg", ".zip", ".7z", ".rar")
MAX_DEPTH = 2  # a mail holding an archive holding a return; no deeper
SEPARATOR = "!"
_JUNK = ("__MACOSX/", "~$", ".~lock.", ".")


@dataclass(frozen=True)
class Inner:
    """A spreadsheet found inside a container, or one it lists that was not read.

    Every spreadsheet and every nested container a container lists ends as an `Inner`: with
    its bytes, or with `refused` saying why it was not read. Nothing listed vanishes."""

    name: str  # its place inside, levels joined by "!": "附件.zip!高新处.xlsx"
    data: bytes
    received: float | None = None  # the carrying mail's Date, as a timestamp
    origin: str = ""  # 邮件：发件人…；主题…；日期…
    refused: Issue | None = None  # why a listed member was not read (data is then empty)


@dataclass(frozen=True)
class _Member:
    """What one container lists: a name, and its bytes or why they were not taken."""

    name: str
    data: bytes = b""
    refused: Issue | None = None


@dataclass
class _Budget:
    """What a container and everything inside it may still take."""

    limits: Limits
    members: int = 0
    total: int = 0

    def allowance(self) -> int:
        """How many bytes the next member may inflate to: a member is read no further than
        this, whatever its header claims (a lying size must not cost memory)."""
        left = int(self.limits.max_uncompressed_mb * 1024 * 1024) - self.total
        return max(0, min(int(self.limits.max_file_mb * 1024 * 1024), left))

    def take(self, where: str, size: int) -> Issue | None:
        self.members += 1
        self.total += size
        limits = self.limits
        if self.members > limits.max_zip_members:
            return _limit(f"文件数超过 {limits.max_zip_members} 个")
        if self.total > limits.max_uncompressed_mb * 1024 * 1024:
            return _limit(f"解压后超过 {limits.max_uncompressed_mb:g} MB")
        return None


def _limit(what: str) -> Issue:
    return error(
        IssueCode.LIMIT_EXCEEDED,
        f"压缩包或邮件{what}，为安全起见未解开。请把其中的填报表单独放入 inbox/ 后重新运行 collect。",
    )


def _library(name: str) -> Any:
    """A reader library, imported the first time a file needs it (as xlflow's own names
    are, PEP 562 style): most rounds hold no .7z, .rar or .msg, and py7zr, rarfile and
    python-oxmsg together would add some 90 ms to the start of every collect."""
    return importlib.import_module(name)


def is_container(name: str) -> bool:
    return name.lower().endswith(CONTAINERS)


def unpack(name: str, data: bytes | Path, limits: Limits) -> tuple[list[Inner], list[Issue]]:
    """Every spreadsheet inside a container (or why a listed one was not read), and what is
    wrong with the container itself. A top-level mail given as a path is parsed from the
    file, so the whole mail is never held twice in memory."""
    budget = _Budget(limits)
    inner, issues = _unpack(name, data, budget, depth=1, origin="", received=None)
    if not inner and not issues:
        issues.append(_nothing_inside())
    return inner, issues


def _nothing_inside() -> Issue:
    return warning(
        IssueCode.SKIPPED_NOT_SPREADSHEET,
        "其中没有表格文件（.xlsx .xls .et .ods），已跳过。如附件是填报表，请另存后放入 inbox/。",
    )


def _unpack(
    name: str,
    data: bytes | Path,
    budget: _Budget,
    depth: int,
    origin: str,
    received: float | None,
) -> tuple[list[Inner], list[Issue]]:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".eml":
        members, issues, origin, received = _mail(data, origin, received, budget)
    else:
        if isinstance(data, Path):
            data = data.read_bytes()
        if suffix == ".msg":
            members, issues, origin, received = _outlook(data, origin, received, budget)
        elif suffix == ".zip":
            members, issues = _zip(data, budget)
        elif suffix == ".rar":
            members, issues = _rar(data, budget)
        else:
            members, issues = _seven_zip(data, budget)
    if suffix in (".eml", ".msg"):
        # a mail's attachments are decoded with the mail; an archive's members were
        # counted as they were read
        for member in members:
            if member.refused is None and (issue := budget.take(member.name, len(member.data))):
                return [], [issue]
    found: list[Inner] = []
    for member in members:
        if member.refused is not None:
            found.append(Inner(member.name, b"", received, origin, member.refused))
        elif member.name.lower().endswith(SPREADSHEET_SUFFIXES):
            found.append(Inner(member.name, member.data, received, origin))
        elif member.name.lower().endswith(CONTAINERS):
            found += _nested(member, budget, depth, origin, received)
    return found, issues


def _nested(
    member: _Member, budget: _Budget, depth: int, origin: str, received: float | None
) -> list[Inner]:
    """What a container inside a container holds, each named by its path; a nested
    container that cannot be read, or holds no spreadsheet, is named as one refused member
    so the coordinator learns a return inside it was not read."""
    if depth >= MAX_DEPTH:
        too_deep = error(
            IssueCode.LIMIT_EXCEEDED,
            f"“{member.name}”套在第 {depth + 1} 层压缩包或邮件中（最多 {MAX_DEPTH} 层），未解开。"
            "请把其中的填报表取出后放入 inbox/。",
        )
        return [Inner(member.name, b"", received, origin, too_deep)]
    deeper, problems = _unpack(member.name, member.data, budget, depth + 1, origin, received)
    found = [
        Inner(f"{member.name}{SEPARATOR}{d.name}", d.data, d.received, d.origin, d.refused)
        for d in deeper
    ]
    if problems:
        found.append(Inner(member.name, b"", received, origin, problems[0]))
    elif not deeper:
        empty = error(
            IssueCode.CONTAINER_EMPTY,
            f"“{PurePosixPath(member.name).name}”中没有表格文件，其中的内容未读取。"
            "如果它本就是填报表而被改了扩展名（.xlsx 文件也是 zip 格式），请改回 .xlsx 后放入 inbox/。",
        )
        found.append(Inner(member.name, b"", received, origin, empty))
    return found


def _member(name: str, data: bytes, budget: _Budget) -> _Member:
    """A member whose bytes were taken, counted against the container's budget; one over
    the size of a single file is refused alone (it costs only itself)."""
    if len(data) > budget.limits.max_file_mb * 1024 * 1024:
        return _Member(name, refused=_too_big_member(name, budget.limits))
    return _Member(name, data)


def _too_big_member(name: str, limits: Limits) -> Issue:
    return error(
        IssueCode.LIMIT_EXCEEDED,
        f"“{name}”大于 {limits.max_file_mb:g} MB，为安全起见未读取（max_file_mb）。"
        "填报表不会这么大；请让报送单位用下发的原表重新填写后发送。",
    )


def _listed_name(raw: str) -> tuple[str, Issue | None]:
    """A name a mail or an archive gives a member, checked as a zip member's name is: a
    trailing NUL is a C string's terminator and is dropped; any other control character
    refuses the member, shown visibly (never raw on a terminal)."""
    name = raw.rstrip("\0")
    problem = text_problem(name)
    if problem is not None and problem.code is not IssueCode.UNSAFE_ZIP_MEMBER:
        return _clean_name(name), _bad_member_name(problem)
    return _clean_name(name), None


def _bad_member_name(problem: NameProblem) -> Issue:
    return error(
        problem.code,
        f"附件名“{problem.shown}”{problem.what}，正常的邮件程序不会这样，为安全起见未读取。"
        "请让报送单位把填报表改个普通的文件名重新发送。",
    )


# --- mail ---


def _mail(
    data: bytes | Path, origin: str, received: float | None, budget: _Budget
) -> tuple[list[_Member], list[Issue], str, float | None]:
    """The attachments of a mail (RFC 822, as Foxmail, Thunderbird and Outlook save one),
    and its From, Subject and Date."""
    try:
        if isinstance(data, Path):
            # parsed from the file in chunks: the mail's bytes are never held whole beside
            # its parsed parts (a 130 MB mail read whole took its worker past 1 GiB)
            with data.open("rb") as fh:
                message = BytesParser(policy=policy.default).parse(fh)
        else:
            message = BytesParser(policy=policy.default).parsebytes(data)
    except Exception as exc:  # the email package raises many kinds on broken input
        return [], [_broken("邮件", exc)], origin, received
    assert isinstance(message, EmailMessage)
    sender = _header(message, "From")
    subject = _header(message, "Subject")
    date_text = _header(message, "Date")
    when: dt.datetime | None = None
    try:
        when = parsedate_to_datetime(date_text) if date_text else None
    except (TypeError, ValueError, IndexError, OverflowError):
        when = None
    origin, received = _said(origin, received, sender, subject, when, date_text)
    members: list[_Member] = []
    issues: list[Issue] = []
    for part in _parts_of(message, issues):
        member = _attachment(part, budget, issues, len(members) + 1)
        if member is not None:
            members.append(member)
    return members, issues, origin, received


def _attachment(part: Any, budget: _Budget, issues: list[Issue], number: int) -> _Member | None:
    """One part of a mail as a member: a spreadsheet, an archive or an attached mail, with
    its bytes or why they were not taken; None for a part that is not one (the text, a
    picture). Its size is judged from its encoded length before anything is decoded."""
    attached_mail = _encoded_mail(part)
    if part.get_content_type() == "message/rfc822" and not attached_mail:
        return None  # a plain attached mail: its parts are walked as this mail's own
    try:
        filename = part.get_filename()
    except Exception as exc:  # a Content-Disposition cut short breaks the header parser
        issues.append(_broken("邮件中一个附件的名称", exc))
        return None
    if attached_mail and not str(filename or "").lower().endswith(".eml"):
        filename = f"{filename or f'附件邮件{number}'}.eml"
    if not filename:
        if part.get_content_type() in _SUFFIX_OF_TYPE:
            return _nameless(number, lambda: part.get_payload(decode=True))
        return None
    name, refused = _listed_name(_typed(str(filename), part.get_content_type()))
    if not _wanted(name):
        return None  # not a return: never decoded, never counted
    if refused is not None:
        return _Member(name, refused=refused)
    try:
        encoded = _encoded_length(part)
        if encoded * 3 // 4 > budget.limits.max_file_mb * 1024 * 1024:
            return _Member(name, refused=_too_big_member(name, budget.limits))
        body = _body(part) if attached_mail else part.get_payload(decode=True)
    except Exception as exc:
        return _Member(name, refused=_broken(f"附件“{name}”", exc))
    if not isinstance(body, bytes):
        return _Member(name, refused=_broken(f"附件“{name}”", "内容不是文件"))
    return _member(name, body, budget)


_SUFFIX_OF_TYPE = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/vnd.ms-excel.sheet.macroenabled.12": ".xlsm",
}


def _typed(name: str, mime: str) -> str:
    """An attachment's name, with the suffix its type says where the name has none a
    spreadsheet has (a web mail that dropped it, a name cut short): the mail says it is a
    workbook, so it is read as one, never skipped."""
    suffix = _SUFFIX_OF_TYPE.get(mime.lower().split(";")[0].strip())
    if suffix and not _wanted(name.rstrip("\0")):
        return name.rstrip("\0") + suffix
    return name


def _nameless(number: int, body: Any) -> _Member | None:
    """An attachment with no name: one that is a spreadsheet by its type or its first bytes
    (a zip package, an OLE file), or whose bytes cannot be read, is named as not read,
    never skipped; anything else (a picture in the signature) is not a return."""
    try:
        head = body()
    except Exception:  # a damaged storage: its bytes cannot be had either
        head = None
    spreadsheet = isinstance(head, bytes) and head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0"))
    if isinstance(head, bytes) and not spreadsheet:
        return None  # a picture, a text: not a return
    # no name, and content that is a spreadsheet or cannot be had at all: damage, named
    name = f"（第 {number} 个附件，无名）"
    refused = error(
        IssueCode.CONTAINER_DAMAGED,
        f"邮件的第 {number} 个附件没有文件名（邮件已损坏），可能是表格文件，未读取。"
        "请让报送单位把填报表作为附件重新发送，或把它另存后放入 inbox/。",
    )
    return _Member(name, refused=refused)


def _encoded_mail(part: Any) -> bool:
    """An attached mail (message/rfc822) whose text is base64 or quoted-printable, as some
    clients write it: the email package parses such text as if it were a mail, so it is
    taken back and decoded here instead."""
    cte = str(part.get("Content-Transfer-Encoding", "") or "").strip().lower()
    return part.get_content_type() == "message/rfc822" and cte in ("base64", "quoted-printable")


def _encoded_length(part: Any) -> int:
    """How long a part's body is as it stands in the mail, before any decoding."""
    if part.is_multipart():
        return sum(_encoded_length(sub) for sub in part.get_payload())
    payload = part.get_payload(decode=False)
    return len(payload) if isinstance(payload, str | bytes) else 0


def _body(part: Any) -> bytes:
    """The bytes of an encoded attached mail, from the text the parser kept."""
    inner = part.get_payload(0)
    text = inner.as_bytes(policy=policy.compat32)
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if cte == "base64":
        return base64.b64decode(b"".join(text.split()))
    return quopri.decodestring(text)


def _parts_of(message: EmailMessage, issues: list[Issue]) -> Iterator[Any]:
    """Every part of a mail, as far as its structure can be read: a part the email package
    cannot walk past ends the walk, and is said, while what came before it is kept."""
    parts = _walk(message)
    while True:
        try:
            part = next(parts)
        except StopIteration:
            return
        except Exception as exc:  # the email package raises many kinds on broken input
            issues.append(_broken("邮件的结构", exc))
            return
        yield part


def _walk(part: Any) -> Iterator[Any]:
    """Every part, as `Message.walk` gives them, but never inside an encoded attached mail
    (whose parsed text is not a mail: it is decoded whole as a member instead)."""
    yield part
    if part.is_multipart() and not _encoded_mail(part):
        for sub in part.get_payload():
            yield from _walk(sub)


def _header(message: EmailMessage, name: str) -> str:
    """A header as the mail says it; as written where the email package cannot parse it
    (a From cut short after "<" raises IndexError deep inside it)."""
    try:
        return str(message.get(name, "") or "")
    except Exception:  # the header parser raises many kinds on broken input
        raw = next((v for k, v in message.raw_items() if k.lower() == name.lower()), "")
        return " ".join(str(raw).split())


def _said(
    origin: str,
    received: float | None,
    sender: str,
    subject: str,
    when: dt.datetime | None,
    date_text: str = "",
) -> tuple[str, float | None]:
    """A mail's From, Subject and Date as one line, and its Date as the time received."""
    if when is not None:
        try:
            # a Date with no zone is local time, as the mail client showed it
            stamp = (when if when.tzinfo else when.astimezone()).timestamp()
            date_text = when.astimezone().strftime("%Y-%m-%d %H:%M")
            dt.datetime.fromtimestamp(stamp)  # every later step reads it back so
            received = stamp
        except (OverflowError, ValueError, OSError):
            # a date no clock can hold (year 9999 in a zone west of UTC): shown as written,
            # and the file's own time counts as received
            pass
    sender, subject, date_text = visible(sender), visible(subject), visible(date_text)
    parts = [f"发件人 {sender}" if sender else "", f"主题 {subject}" if subject else ""]
    parts.append(f"日期 {date_text}" if date_text else "")
    said = "邮件：" + "；".join(p for p in parts if p)
    return (f"{origin}；{said}" if origin else said), received


def _outlook(
    data: bytes, origin: str, received: float | None, budget: _Budget
) -> tuple[list[_Member], list[Issue], str, float | None]:
    """The attachments of an Outlook .msg, and its sender, subject and sent date."""
    try:
        message = _library("oxmsg").Message.load(data)
        sender = str(message.sender or "")
        subject = str(message.subject or "")
        # a damaged property can hold another type where the date belongs
        when = message.sent_date if isinstance(message.sent_date, dt.datetime) else None
        listed = [(a, a.file_name) for a in message.attachments]
        counted = int(message.attachment_count)
    except Exception as exc:  # python-oxmsg and olefile raise many kinds on broken input
        return [], [_broken("Outlook 邮件", exc)], origin, received
    if counted != len(listed):
        # the header counts the attachment storages the directory should hold: one missing
        # is a damaged directory, and a return in it would vanish without a word
        gap = f"邮件说有 {counted} 个附件，只找到 {len(listed)} 个"
        return [], [_broken("Outlook 邮件", gap)], origin, received
    origin, received = _said(origin, received, sender, subject, when)
    members: list[_Member] = []
    for number, (attachment, file_name) in enumerate(listed, start=1):
        if not file_name:
            if (nameless := _nameless(number, lambda a=attachment: a.file_bytes)) is not None:
                members.append(nameless)
            continue
        try:
            mime = str(attachment.mime_type or "")
        except Exception:  # a damaged property: the name alone decides
            mime = ""
        name, refused = _listed_name(_typed(str(file_name), mime))
        if not _wanted(name):
            continue
        if refused is not None:
            members.append(_Member(name, refused=refused))
            continue
        try:
            by_value = attachment.attached_by_value
            body = attachment.file_bytes if by_value else None
        except Exception as exc:  # a damaged attachment storage
            members.append(_Member(name, refused=_broken(f"附件“{name}”", exc)))
            continue
        if not isinstance(body, bytes):
            not_by_value = error(
                IssueCode.CONTAINER_DAMAGED,
                f"Outlook 邮件中的附件“{name}”没有随邮件保存内容（以链接或嵌入对象附加），未读取。"
                "请让报送单位把填报表作为普通附件重新发送，或把它另存后放入 inbox/。",
            )
            members.append(_Member(name, refused=not_by_value))
            continue
        members.append(_member(name, body, budget))
    return members, [], origin, received


# --- archives ---


def _clean_name(name: str) -> str:
    """A member's path without a leading slash or parent steps, its control and
    bidirectional characters shown (nothing is written to disk, but the name is shown and
    stored)."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return visible("/".join(parts)) or "（无名）"


# what zipfile and the decompressors under it raise on a damaged or crafted archive
_ZIP_DAMAGE = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    OSError,  # bz2's "invalid data stream" among them
    EOFError,
    ValueError,
    OverflowError,  # a zip64 offset of 2**63
    struct.error,
    IndexError,
)


def _zip(data: bytes, budget: _Budget) -> tuple[list[_Member], list[Issue]]:
    limits = budget.limits
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except UnicodeDecodeError:  # a name flagged UTF-8 that is not
        return [], [
            _bad_name(NameProblem(IssueCode.MEMBER_NAME_ENCODING, "", "名称不是有效的 UTF-8"))
        ]
    except NotImplementedError as exc:  # a "version needed" above what zipfile reads
        return [], [_unsupported(exc)]
    except _ZIP_DAMAGE as exc:
        return [], [_broken("压缩包", exc)]
    bad = first_problem(infos)
    if bad is not None:
        return [], [_bad_name(bad)]
    if gap := unlisted(archive):
        return [], [_broken("压缩包", gap)]
    members: list[_Member] = []
    with archive:
        for info in infos:
            name = _clean_name(decoded_name(info) or info.filename)
            if info.is_dir() or _junk(name) or not _wanted(name):
                continue
            if info.flag_bits & 0x1:
                return [], [_encrypted(name)]
            if (
                info.compress_size
                and info.file_size / info.compress_size > limits.max_compression_ratio
            ):
                return [], [
                    _limit(f"中的“{name}”压缩比异常（超过 {limits.max_compression_ratio:g} 倍）")
                ]
            allowance = budget.allowance()
            try:
                with archive.open(info) as fh:
                    body = fh.read(allowance + 1)  # the header's size may lie
            except NotImplementedError as exc:
                return [], [_unsupported(exc)]
            except _ZIP_DAMAGE as exc:
                return [], [_broken(f"压缩包中的“{name}”", exc)]
            if (issue := budget.take(name, len(body))) is not None:
                return [], [issue]
            members.append(_member(name, body, budget))
    return members, []


def _bad_name(problem: NameProblem) -> Issue:
    shown = f"“{problem.shown}”" if problem.shown else ""
    return error(
        problem.code,
        f"压缩包中有一个文件{shown}{problem.what}，正常的压缩软件不会这样，压缩包已损坏或是特意构造的；"
        "其中的文件都未读取。请让报送单位把填报表直接作为附件重新发送，或把其中的填报表取出放入 inbox/。",
    )


def _unsupported(exc: BaseException) -> Issue:
    return error(
        IssueCode.ZIP_UNSUPPORTED,
        f"压缩包{damage_words(exc)}，xlflow 解不开。请用 Windows 自带的压缩功能、WinRAR 或 7-Zip "
        "重新压缩为普通 .zip 后发送，或把其中的填报表取出放入 inbox/。",
    )


def _seven_zip(data: bytes, budget: _Budget) -> tuple[list[_Member], list[Issue]]:
    limits = budget.limits
    ceiling = int(limits.max_uncompressed_mb * 1024 * 1024)
    py7zr = _library("py7zr")
    try:
        with py7zr.SevenZipFile(io.BytesIO(data), mode="r", max_extract_size=ceiling) as archive:
            if archive.needs_password():
                return [], [_encrypted("7z")]
            listed = archive.list()
            bad = next((p for p in (text_problem(e.filename or "") for e in listed) if p), None)
            if bad is not None:
                return [], [_bad_name(bad)]
            wanted = [
                e.filename
                for e in listed
                if not e.is_directory and _wanted(e.filename) and not _junk(_clean_name(e.filename))
            ]
            if len(wanted) > limits.max_zip_members:
                return [], [_limit(f"文件数超过 {limits.max_zip_members} 个")]
            if sum(e.uncompressed or 0 for e in listed if e.filename in set(wanted)) > ceiling:
                return [], [_limit(f"解压后超过 {limits.max_uncompressed_mb:g} MB")]
            if not wanted:
                return [], []
            factory = _in_order_factory(int(limits.max_file_mb * 1024 * 1024) + 1)
            archive.extract(targets=wanted, factory=factory)
    except _library("py7zr.exceptions").PasswordRequired:
        return [], [_encrypted("7z")]
    except Exception as exc:  # py7zr raises many kinds on a damaged archive
        return [], [_broken("7z 压缩包", exc)]
    members: list[_Member] = []
    # py7zr names what it writes by the path it would extract to (`./a.xlsx` becomes
    # `a.xlsx`), so products are matched to the listed members by order, never by name
    products = factory.made if len(factory.made) == len(wanted) else []
    for k, listed_name in enumerate(wanted):
        name = _clean_name(listed_name)
        if not products:
            missing = error(
                IssueCode.CONTAINER_DAMAGED,
                f"7z 压缩包列出了“{name}”，但解压时没有得到它的内容，未读取。"
                "请让报送单位把填报表直接作为附件重新发送，或把它解压出来放入 inbox/。",
            )
            members.append(_Member(name, refused=missing))
            continue
        products[k].seek(0)
        body = products[k].read()
        if (issue := budget.take(name, len(body))) is not None:
            return [], [issue]
        members.append(_member(name, body, budget))
    return members, []


def _in_order_factory(limit: int) -> Any:
    """A py7zr writer factory that keeps what it makes in the order py7zr asks: the order
    of the archive's listing, restricted to the targets."""
    io7 = _library("py7zr.io")

    class InOrder(io7.BytesIOFactory):  # type: ignore[misc, name-defined]
        def __init__(self, limit: int) -> None:
            super().__init__(limit)
            self.made: list[Any] = []

        def create(self, filename: str) -> Any:
            product = super().create(filename)
            self.made.append(product)
            return product

    return InOrder(limit)


def _rar(data: bytes, budget: _Budget) -> tuple[list[_Member], list[Issue]]:
    """A RAR archive: stored members are read by rarfile itself; compressed ones need
    unrar, 7-Zip or bsdtar on the machine, and without one the message says so."""
    limits = budget.limits
    ceiling = int(limits.max_file_mb * 1024 * 1024)
    members: list[_Member] = []
    rarfile = _library("rarfile")
    try:
        archive = rarfile.RarFile(io.BytesIO(data))
        if archive.needs_password():
            return [], [_encrypted("rar")]
        infos = archive.infolist()
        bad = next((p for p in (text_problem(i.filename or "") for i in infos) if p), None)
        if bad is not None:
            return [], [_bad_name(bad)]
        for info in infos:
            name = _clean_name(info.filename or "")
            if info.is_dir() or _junk(name) or not _wanted(name):
                continue
            if info.needs_password():
                return [], [_encrypted(name)]
            if (info.file_size or 0) > ceiling:
                members.append(_Member(name, refused=_too_big_member(name, limits)))
                continue
            with archive.open(info) as fh:
                body = fh.read(budget.allowance() + 1)
            if (issue := budget.take(name, len(body))) is not None:
                return [], [issue]
            members.append(_member(name, body, budget))
    except rarfile.RarCannotExec:
        return [], [
            error(
                IssueCode.CORRUPT_FILE,
                "这个 .rar 压缩包需要解压程序（unrar、7-Zip 或 bsdtar），本机没有找到。"
                "请把其中的填报表解压出来放入 inbox/，或安装其中一个程序后重新运行 collect。",
            )
        ]
    except Exception as exc:  # rarfile raises many kinds on a damaged archive
        return [], [_broken("rar 压缩包", exc)]
    return members, []


def _wanted(name: str) -> bool:
    return name.lower().endswith(SPREADSHEET_SUFFIXES + CONTAINERS)


def _junk(name: str) -> bool:
    base = PurePosixPath(name).name
    return name.startswith("__MACOSX/") or base.startswith(("~$", ".~lock.", "."))


def _encrypted(name: str) -> Issue:
    return error(
        IssueCode.ENCRYPTED,
        f"压缩包（{name}）设有密码，无法解开。请发送不加密的压缩包，或把其中的填报表单独放入 inbox/。",
    )


def _broken(what: str, exc: BaseException | str) -> Issue:
    return error(
        IssueCode.CONTAINER_DAMAGED,
        f"{what}已损坏或不完整，无法读取（{damage_words(exc)}）；其中的文件都未读取。"
        "请让报送单位把填报表直接作为附件重新发送，或把其中的填报表取出放入 inbox/。",
    )
