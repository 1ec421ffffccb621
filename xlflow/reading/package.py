"""A file's type by its content, and a zip package checked before any parser inflates it:
its members' names, their count and sizes, and a DTD in any XML part."""

from __future__ import annotations

import io
import pyexpat
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Container, Iterator

from ..config.model import Limits
from ..issues import Issue, IssueCode, damage_words, error
from ..text import visible
from .workbook import REFILL, Malformed, _malformed
from .zipnames import first_problem

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".et")
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.I)
_CHUNK = 1 << 16


def sniff(data: bytes) -> str:
    """The real type of a file, from its first bytes: zip, ole, html, text, empty, unknown."""
    if not data:
        return "empty"
    if data.startswith(ZIP_MAGIC) or data.startswith(b"PK\x05\x06"):
        return "zip"
    if data.startswith(OLE_MAGIC):
        return "ole"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml", b"mime-version")):
        return "html"
    if b"{\\rtf" in head[:10]:
        return "rtf"
    sample = data[:4096]
    try:
        sample.decode("utf-8")
        return "text"
    except UnicodeDecodeError as exc:
        if exc.start > len(sample) - 4:
            return "text"
    try:
        sample.decode("gb18030")
        return "text"
    except UnicodeDecodeError:
        return "unknown"


_KIND_WORDS = {
    "empty": "空文件（0 字节）",
    "html": "网页（HTML）或 XML 文本，不是 Excel 表格（有些系统导出的“xls”其实是网页）",
    "text": "纯文本（可能是 CSV 或 TXT 改了扩展名），不是 Excel 表格",
    "rtf": "RTF 文档，不是 Excel 表格",
    "unknown": "无法识别的格式，不是 Excel 表格",
}


def _ole_kind(data: bytes) -> str:
    """xls, encrypted (an OOXML workbook behind a password) or doc, from the stream names."""
    names = data[: 1 << 20]

    def has(name: str) -> bool:
        return name.encode("utf-16-le") in names

    if has("EncryptedPackage") or has("EncryptionInfo"):
        return "encrypted"
    if has("Workbook") or has("Book"):
        return "xls"
    if has("WordDocument"):
        return "doc"
    if has("PowerPoint Document"):
        return "ppt"
    return "ole"


def unlisted(zf: zipfile.ZipFile) -> str:
    """What is wrong when a zip's central directory lists fewer members than its end
    record counts, or "": a comment length changed in one entry swallows the entries after
    it, and zipfile then lists only those before, without a word (a return inside would
    vanish). The end record is read with zipfile's own reader (zip64 included)."""
    try:
        assert zf.fp is not None
        end = zipfile._EndRecData(zf.fp)  # type: ignore[attr-defined]
        declared = int(end[zipfile._ECD_ENTRIES_TOTAL])  # type: ignore[attr-defined]
    except (AttributeError, IndexError, TypeError, ValueError, OSError, AssertionError):
        return ""  # a Python without these: the other checks still stand
    found = len(zf.infolist())
    if found != declared:
        return f"目录中列出 {found} 个文件，而结尾记录说有 {declared} 个，目录已损坏"
    return ""


def _check_zip(zf: zipfile.ZipFile, limits: Limits) -> tuple[list[Issue], str]:
    """Bomb, name and DTD checks on a zip; returns the issues and the package kind."""
    infos = zf.infolist()
    if gap := unlisted(zf):
        return [_corrupt_zip(gap)], ""
    names = {i.filename for i in infos}
    if len(infos) > limits.max_zip_members:
        return [
            error(
                IssueCode.LIMIT_EXCEEDED,
                f"文件内含 {len(infos)} 个部件，超过上限 max_zip_members = {limits.max_zip_members}；"
                "这不像是正常的填报表。" + REFILL,
            )
        ], ""
    bad = first_problem(infos)
    if bad is not None:
        if bad.code is IssueCode.UNSAFE_ZIP_MEMBER:
            said = f"文件内含不安全的路径“{bad.shown}”（{bad.what}），已拒收，未解压。"
        else:
            said = (
                f"文件内的部件“{bad.shown}”{bad.what}，正常保存的文件不会这样，"
                "文件已损坏或是特意构造的；已拒收，未解压。"
            )
        return [error(bad.code, said + REFILL)], ""
    for info in infos:
        if ":" in info.filename:
            return [
                error(
                    IssueCode.UNSAFE_ZIP_MEMBER,
                    f"文件内含不安全的路径“{visible(info.filename)}”，已拒收，未解压。" + REFILL,
                )
            ], ""
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_mb * 1024 * 1024:
        return [
            error(
                IssueCode.LIMIT_EXCEEDED,
                f"文件解压后声明的大小为 {total / 1048576:.0f} MB，超过上限 max_uncompressed_mb = "
                f"{limits.max_uncompressed_mb:g}（疑似压缩炸弹），已拒收，未解压。" + REFILL,
            )
        ], ""
    for info in infos:
        if info.compress_size and info.file_size > 1 << 20:
            ratio = info.file_size / info.compress_size
            if ratio > limits.max_compression_ratio:
                return [
                    error(
                        IssueCode.LIMIT_EXCEEDED,
                        f"部件 {info.filename} 的压缩比为 {ratio:.0f}，超过上限 max_compression_ratio = "
                        f"{limits.max_compression_ratio:g}（疑似压缩炸弹），已拒收，未解压。"
                        + REFILL,
                    )
                ], ""
    return [], _package_kind(names)


def _package_kind(names: set[str]) -> str:
    if "xl/workbook.xml" in names:
        return "xlsm" if any(n.lower().endswith("vbaproject.bin") for n in names) else "xlsx"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "content.xml" in names and "mimetype" in names:
        return "ods"
    if "word/document.xml" in names:
        return "docx"
    if "ppt/presentation.xml" in names:
        return "pptx"
    return "zip"


def _corrupt_zip(what: str) -> Issue:
    return error(
        IssueCode.CORRUPT_FILE,
        f"文件已损坏（{what}）。可能是邮件附件没有下载完整；请重新保存附件，"
        "或请报送单位用 Excel/WPS 打开确认后重新发送。",
    )


# what zipfile raises on a damaged archive, and on one it cannot read at all
# (NotImplementedError: a version or method; RuntimeError: an encrypted member)
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, struct.error)
_ZIP_UNSUPPORTED = (NotImplementedError, RuntimeError)


def check_package(data: bytes, limits: Limits) -> str | None:
    """What is wrong with an Office package (a .docx, say) before any parser sees it:
    not a zip, a bomb, an unsafe member name, or a DTD in an XML part. None if fine."""
    if not data.startswith(ZIP_MAGIC):
        return "文件内容不是 Office 文档（.docx/.xlsx 是 zip 格式）"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            issues, _ = _check_zip(zf, limits)
            if issues:  # without the advice to a division: a package is not always a form
                return issues[0].message.replace(REFILL, "").rstrip("。")
            for name, head in _members(zf, lambda _: False):
                if _DTD.search(head[:4096]):
                    return f"部件 {name} 含有 DTD/实体声明（正常的 Office 文件不会有），可能是恶意构造的文件"
    except Malformed as exc:
        return exc.issue.message
    except (*_ZIP_ERRORS, *_ZIP_UNSUPPORTED) as exc:
        return f"文件已损坏或不完整（{damage_words(exc)}）"
    return None


def _members(
    zf: zipfile.ZipFile, wanted: Callable[[str], bool], done: Container[str] = ()
) -> Iterator[tuple[str, bytes]]:
    """Every part, read whole so that its CRC is checked (a return archived as accepted must
    open in an office suite, and LibreOffice refuses a part whose CRC is wrong): the parts
    xlflow parses, and every other XML part, where a DTD would have to be and which must be
    well-formed; none of those `done` already. Sizes are already bounded."""
    for info in zf.infolist():
        if info.is_dir() or info.filename in done:
            continue
        name = info.filename
        try:
            with zf.open(info) as fh:
                parts = []
                while chunk := fh.read(_CHUNK):
                    parts.append(chunk)
        except zipfile.BadZipFile as exc:
            if "CRC" in str(exc):
                raise _malformed(name, "校验和（CRC）不符，内容已被改动或损坏") from None
            raise
        if wanted(name) or name.endswith((".xml", ".rels", ".vml")):
            yield name, b"".join(parts)


def well_formed(name: str, data: bytes) -> None:
    """Refuse an XML part that is not well-formed, or that declares a DTD: Excel asks to
    repair such a file and LibreOffice will not open it, whatever the values read."""
    parser = pyexpat.ParserCreate()

    def refuse(*_: object) -> None:
        raise _malformed(name, "含有 DTD 声明")

    parser.StartDoctypeDeclHandler = refuse
    try:
        parser.Parse(data, True)
    except (pyexpat.ExpatError, LookupError, ValueError) as exc:  # an unknown encoding
        raise _malformed(name, f"XML 格式错误：{exc}") from None


_PACKAGE_WORDS = {
    "docx": "Word 文档（.docx）",
    "pptx": "PowerPoint 文档（.pptx）",
    "zip": "压缩包或其他文件",
    "xlsb": "Excel 二进制工作簿（.xlsb），xlflow 不读取此格式",
}
