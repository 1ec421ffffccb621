"""What an IMAP server says of a message before it is fetched: its size, its Message-ID
and its BODYSTRUCTURE, read into nested lists; and whether any of its parts is one that
`collect` reads (a workbook, an archive, a mail)."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from typing import Any

from ..reading.containers import CONTAINERS
from ..reading.package import SPREADSHEET_SUFFIXES

WANTED_SUFFIXES = (*SPREADSHEET_SUFFIXES, *CONTAINERS)
# the types a part without a usable name is known by
WANTED_TYPES = {
    ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("application", "vnd.ms-excel"),
    ("application", "vnd.ms-excel.sheet.macroenabled.12"),
    ("application", "vnd.oasis.opendocument.spreadsheet"),
    ("application", "zip"),
    ("application", "x-zip-compressed"),
    ("application", "x-7z-compressed"),
    ("application", "x-rar-compressed"),
    ("application", "vnd.rar"),
    ("application", "vnd.ms-outlook"),
    ("message", "rfc822"),
}
_TOKEN = re.compile(rb'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|\{(\d+)\+?\}$|([^\s()"]+))', re.S)


@dataclass(frozen=True)
class Summary:
    """One message as the server describes it."""

    uid: str
    size: int
    message_id: str
    header: str  # its From and Subject, as the server gave them
    attachments: tuple[str, ...]  # the names (or types) of the parts collect reads
    others: tuple[str, ...] = ()  # the attached parts collect does not read
    broken: bool = False  # a structure the server could not make out


def parse_fetch(data: Sequence[Any]) -> list[list[Any]]:
    """imaplib's FETCH answer (bytes, and (text, literal) pairs for each literal) as one
    list per message: ['1', 'FETCH', [...items...]]. Strings are str, NIL is None."""
    messages: list[list[Any]] = []
    for chunk in _messages(data):
        tokens = list(_tokens(chunk))
        parsed, _ = _list(tokens, 0)
        if parsed:
            messages.append(parsed)
    return messages


def _messages(data: Sequence[Any]) -> Iterator[list[bytes | tuple[bytes]]]:
    """Each message's pieces: plain text, and literals (as 1-tuples)."""
    current: list[bytes | tuple[bytes]] = []
    for part in data:
        if isinstance(part, tuple):
            head, literal = part
            if not current:
                current = []
            current.append(head)
            current.append((literal,))
        elif isinstance(part, bytes):
            current.append(part)
            if _balanced(current):
                yield current
                current = []
    if current:
        yield current


def _balanced(pieces: list[bytes | tuple[bytes]]) -> bool:
    depth = 0
    for piece in pieces:
        if isinstance(piece, tuple):
            continue
        text = re.sub(rb'"(?:[^"\\]|\\.)*"', b"", piece)
        depth += text.count(b"(") - text.count(b")")
    return depth <= 0


def _tokens(pieces: list[bytes | tuple[bytes]]) -> Iterator[Any]:
    for piece in pieces:
        if isinstance(piece, tuple):
            yield ("str", piece[0].decode("utf-8", "replace"))
            continue
        pos = 0
        while pos < len(piece):
            match = _TOKEN.match(piece, pos)
            if match is None or match.end() == pos:
                break
            pos = match.end()
            opened, closed, quoted, literal, atom = match.groups()
            if opened:
                yield "("
            elif closed:
                yield ")"
            elif quoted is not None:
                text = re.sub(rb"\\(.)", rb"\1", quoted)
                yield ("str", text.decode("utf-8", "replace"))
            elif literal is not None:
                continue  # its bytes are the next piece
            elif atom is not None:
                word = atom.decode("ascii", "replace")
                yield ("str", None) if word.upper() == "NIL" else ("atom", word)


def _list(tokens: list[Any], at: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    while at < len(tokens):
        token = tokens[at]
        at += 1
        if token == "(":
            inner, at = _list(tokens, at)
            out.append(inner)
        elif token == ")":
            return out, at
        else:
            out.append(token[1])
    return out, at


HEADER_ITEM = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID FROM SUBJECT)]"


def summaries(data: Sequence[Any]) -> list[Summary]:
    """Each message of a FETCH of (UID RFC822.SIZE BODYSTRUCTURE HEADER_ITEM)."""
    out = []
    for message in parse_fetch(data):
        items = next((x for x in message if isinstance(x, list)), [])
        found = dict(_pairs(items))
        header = str(found.get("BODY[HEADER]") or "")
        match = re.search(r"(?im)^message-id:\s*(<[^>\r\n]*>|\S+)", header)
        wanted: list[str] = []
        others: list[str] = []
        structure = found.get("BODYSTRUCTURE")
        for name, takes in attached_parts(structure):
            (wanted if takes else others).append(name)
        out.append(
            Summary(
                uid=str(found.get("UID", "")),
                size=int(found.get("RFC822.SIZE") or 0),
                message_id=match.group(1).strip() if match else "",
                header=header,
                attachments=tuple(wanted),
                others=tuple(others),
                broken=_broken(structure),
            )
        )
    return out


def _broken(structure: Any) -> bool:
    """No structure at all, or a multipart whose parts were not found (its boundary
    missing or wrong): pymap describes it with no part, Dovecot with one empty text part."""
    if not isinstance(structure, list) or not structure:
        return True
    if isinstance(structure[0], list):
        leaves = list(_leaves(structure))
        return not leaves or all(_size(leaf) == 0 for leaf in leaves)
    if len(structure) < 2 or not isinstance(structure[1], str):
        return True  # a subtype alone: a multipart with no part in it
    return str(structure[0]).lower() == "multipart"


def _leaves(structure: list[Any]) -> Iterator[list[Any]]:
    for part in structure:
        if isinstance(part, list) and part and isinstance(part[0], list):
            yield from _leaves(part)
        elif isinstance(part, list) and len(part) > 6 and isinstance(part[0], str):
            yield part


def _size(part: list[Any]) -> int:
    try:
        return int(part[6])
    except (TypeError, ValueError):
        return -1


def _pairs(items: list[Any]) -> Iterator[tuple[str, Any]]:
    """FETCH items as (name, value); a BODY[HEADER.FIELDS (…)] name comes as the atom
    BODY[HEADER.FIELDS, a list, and the atom ], then the value: it is BODY[HEADER] here."""
    i = 0
    while i < len(items):
        name = items[i]
        if isinstance(name, str) and name.upper().startswith("BODY[") and not name.endswith("]"):
            j = i + 1
            while j < len(items) and not (isinstance(items[j], str) and items[j].endswith("]")):
                j += 1
            yield "BODY[HEADER]", items[j + 1] if j + 1 < len(items) else ""
            i = j + 2
            continue
        yield (
            (name.upper() if isinstance(name, str) else str(name)),
            (items[i + 1] if i + 1 < len(items) else None),
        )
        i += 2


def attached_parts(structure: Any) -> Iterator[tuple[str, bool]]:
    """Every attached part of a BODYSTRUCTURE as (its name, or its type; whether collect
    reads it): a part with a name, or of a type collect reads, or any application/* part."""
    if not isinstance(structure, list) or not structure:
        return
    if isinstance(structure[0], list):  # multipart: its parts, then its subtype
        for part in structure:
            if isinstance(part, list):
                yield from attached_parts(part)
        return
    kind = (str(structure[0] or "").lower(), str(structure[1] or "").lower())
    names = list(_names(structure))
    named = [n for n in names if n.lower().endswith(WANTED_SUFFIXES)]
    if named:
        yield named[0], True
    elif kind in WANTED_TYPES:
        yield (names[0] if names else "/".join(kind)), True
    elif names or kind[0] == "application":
        yield (names[0] if names else "/".join(kind)), False


def _names(part: list[Any]) -> Iterator[str]:
    """The name and filename parameters anywhere in one part's description (its type's
    parameters, its disposition's), decoded from RFC 2047 and RFC 2231."""
    for value in part:
        if (
            isinstance(value, list)
            and value
            and all(isinstance(v, str) or v is None for v in value)
            and len(value) % 2 == 0
        ):
            for key, text in zip(value[::2], value[1::2], strict=True):
                if isinstance(key, str) and text and key.lower() in (
                    "name", "filename", "name*", "filename*"
                ):  # fmt: skip
                    yield _decoded(key, text)
        elif isinstance(value, list):
            yield from (n for n in _names(value) if n)
        elif isinstance(value, str) and "name" in value.lower() and "=" in value:
            # a disposition some servers give whole, as its header's text
            holder = Message()
            holder["Content-Disposition"] = value
            name = holder.get_filename()
            if name:
                yield _decoded("filename", name)


def _decoded(key: str, text: str) -> str:
    if key.endswith("*") and "''" in text:  # RFC 2231: charset'language'percent-encoded
        charset, _, rest = text.split("'", 2)
        try:
            return urllib.parse.unquote(rest, encoding=charset or "utf-8", errors="replace")
        except LookupError:
            return urllib.parse.unquote(rest)
    try:
        return str(make_header(decode_header(text)))
    except (LookupError, ValueError, UnicodeDecodeError):
        return text
