"""Mails and archives made as the programs people use make them, for the tests and the
fuzz harness: a zip with GBK names as Windows' own zip writes one, a 7z, a stored RAR 5,
an .eml and an Outlook .msg."""

from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile
import zlib
from email.message import EmailMessage
from email.utils import format_datetime

import py7zr
from msgforge import Message as OutlookMessage


def gbk_zip(members: list[tuple[str, bytes]]) -> bytes:
    """A zip whose member names are GBK bytes without the UTF-8 flag, as Windows' own
    'send to compressed folder' writes Chinese names (zipfile itself always writes UTF-8)."""
    buf = io.BytesIO()
    stand_ins = [str(i).rjust(len(name.encode("gbk")), "P") for i, (name, _) in enumerate(members)]
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for stand_in, (_, data) in zip(stand_ins, members, strict=True):
            zf.writestr(stand_in, data)
    raw = buf.getvalue()
    for stand_in, (name, _) in zip(stand_ins, members, strict=True):
        raw = raw.replace(stand_in.encode(), name.encode("gbk"))
    return raw


def mail(
    attachments: list[tuple[str, bytes, str]],
    when: dt.datetime,
    sender: str = "高新处 <gx@example.gov.cn>",
    subject: str = "回复：关于报送2019年上半年重点任务进展情况的通知",
) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "office@example.gov.cn", subject
    msg["Date"] = format_datetime(when.astimezone())
    msg.set_content("见附件。")
    for name, data, mime in attachments:
        main, sub = mime.split("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return bytes(msg)


def outlook(attachments: list[tuple[str, bytes]], when: dt.datetime) -> bytes:
    """An Outlook .msg, as Outlook saves a mail dragged out of it."""
    msg = OutlookMessage(
        subject="回复：关于报送2019年上半年重点任务进展情况的通知",
        text_body="见附件。",
        to=[("office@example.gov.cn", "办公室")],
        sender=("wz@example.gov.cn", "外专局"),
        sent=when.astimezone(),
    )
    for name, data in attachments:
        msg.attach_bytes(name, data)
    return bytes(msg.as_bytes())


def stored_rar(members: list[tuple[str, bytes]]) -> bytes:
    """A RAR 5 archive with its members stored, not compressed (the one kind any machine can
    read without unrar). No library writes RAR, so the few headers are written here, from
    the RAR 5.0 archive format's technical note: each header is its CRC32, its size and
    type as variable-length integers, then its fields."""

    def vint(n: int) -> bytes:
        out = bytearray()
        while True:
            low, n = n & 0x7F, n >> 7
            out.append(low | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def header(kind: int, flags: int, body: bytes, data_size: int | None = None) -> bytes:
        fields = vint(kind) + vint(flags) + (vint(data_size) if data_size is not None else b"")
        fields += body
        size = vint(len(fields))
        return struct.pack("<I", zlib.crc32(size + fields)) + size + fields

    out = b"Rar!\x1a\x07\x01\x00" + header(1, 0, vint(0))  # signature, main header
    for name, data in members:
        raw = name.encode("utf-8")
        # file flags: CRC32 present; attributes 0x20; compression 0 (store); host Windows
        body = vint(0x4) + vint(len(data)) + vint(0x20) + struct.pack("<I", zlib.crc32(data))
        body += vint(0) + vint(0) + vint(len(raw)) + raw
        out += header(2, 0x2, body, len(data)) + data
    return out + header(5, 0, vint(0))  # end of archive


def seven_zip(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as archive:
        for name, data in members:
            archive.writestr(data, name)
    return buf.getvalue()


def forwarded_mail(inner: bytes, when: dt.datetime, name: str = "转发.eml") -> bytes:
    """A mail carrying another mail as an attachment (message/rfc822) encoded in base64, as
    some clients forward one. The email package will not write that encoding for an
    attached mail, so the few lines are written here as such a client writes them."""
    import base64

    head = (
        "From: 办公室 <office@example.gov.cn>\r\nTo: coordinator@example.gov.cn\r\n"
        "Subject: =?utf-8?b?" + base64.b64encode("转发：填报表".encode()).decode() + "?=\r\n"
        f"Date: {format_datetime(when.astimezone())}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="xlflow-b1"\r\n\r\n'
        "--xlflow-b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nforwarded\r\n"
        "--xlflow-b1\r\nContent-Type: message/rfc822\r\n"
        f"Content-Disposition: attachment; filename*=utf-8''{_quoted(name)}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode()
    return head + base64.encodebytes(inner).replace(b"\n", b"\r\n") + b"--xlflow-b1--\r\n"


def _quoted(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
