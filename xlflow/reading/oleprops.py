"""Who saved an .xls or .et: the program named in its summary, and the user-defined
properties WPS表格 writes there (KSOProductBuildVer), which olefile does not read.

olefile reads the first property set of a stream only; the user-defined properties are the
second set of DocumentSummaryInformation ([MS-OLEPS] 2.20 and 2.21): a dictionary
(property 0) of names, then each value. Only string values are read, and a stream that
does not follow the layout gives no properties rather than an error: this is a label on
the receipt, never a reason to refuse a return.
"""

from __future__ import annotations

import olefile

_DOCUMENT_SUMMARY = "\x05DocumentSummaryInformation"
_SUMMARY = "\x05SummaryInformation"
_APP_NAME = 0x12  # PIDSI_APPNAME
_VT_LPSTR = 0x1E
_VT_LPWSTR = 0x1F
_CODEPAGE = 1
_UTF16 = 1200
_MAX_PROPERTIES = 1000


def _u32(data: bytes, at: int) -> int:
    if at < 0 or at + 4 > len(data):
        raise ValueError("past the end")
    return int.from_bytes(data[at : at + 4], "little")


def _codec(codepage: int) -> str:
    if codepage == _UTF16:
        return "utf-16-le"
    try:
        "".encode(f"cp{codepage}")
        return f"cp{codepage}"
    except LookupError:
        return "latin-1"


def _string(section: bytes, at: int, codec: str) -> str:
    kind = _u32(section, at) & 0xFFFF
    count = _u32(section, at + 4)
    if kind == _VT_LPWSTR:
        raw = section[at + 8 : at + 8 + 2 * count]
        return raw.decode("utf-16-le", "replace").split("\0", 1)[0]
    if kind == _VT_LPSTR:
        raw = section[at + 8 : at + 8 + count]
        return raw.decode(codec, "replace").split("\0", 1)[0]
    return ""


def _dictionary(section: bytes, at: int, codec: str) -> dict[int, str]:
    names: dict[int, str] = {}
    count = min(_u32(section, at), _MAX_PROPERTIES)
    pos = at + 4
    for _ in range(count):
        ident, length = _u32(section, pos), _u32(section, pos + 4)
        pos += 8
        if codec == "utf-16-le":
            names[ident] = (
                section[pos : pos + 2 * length].decode(codec, "replace").split("\0", 1)[0]
            )
            pos += 2 * length
            pos += (4 - pos % 4) % 4  # Unicode names are padded to 4 bytes
        else:
            names[ident] = section[pos : pos + length].decode(codec, "replace").split("\0", 1)[0]
            pos += length
    return names


def _section(stream: bytes, index: int) -> tuple[bytes, dict[int, int], str]:
    """Property set `index` of a property stream: its bytes, each property's offset by id,
    and the codec its strings are in (empty for a stream without that set)."""
    if _u32(stream, 24) <= index:
        return b"", {}, "latin-1"
    start = _u32(stream, 28 + 20 * index + 16)  # that set's (FMTID, offset) pair's offset
    section = stream[start : start + _u32(stream, start)]
    count = min(_u32(section, 4), _MAX_PROPERTIES)
    offsets = {_u32(section, 8 + 8 * i): _u32(section, 12 + 8 * i) for i in range(count)}
    codec = "latin-1"
    if _CODEPAGE in offsets:
        at = offsets[_CODEPAGE] + 4
        codec = _codec(int.from_bytes(section[at : at + 2], "little"))
    return section, offsets, codec


def _user_defined(stream: bytes) -> dict[str, str]:
    section, offsets, codec = _section(stream, 1)
    if 0 not in offsets:
        return {}
    names = _dictionary(section, offsets[0], codec)
    return {
        name: _string(section, offsets[ident], codec)
        for ident, name in names.items()
        if ident in offsets and ident > 1
    }


def custom_properties(ole: olefile.OleFileIO) -> dict[str, str]:
    """The user-defined string properties of an OLE document ({} for none, or for a
    stream that does not follow [MS-OLEPS])."""
    try:
        if not ole.exists(_DOCUMENT_SUMMARY):
            return {}
        stream = ole.openstream(_DOCUMENT_SUMMARY).read()
        return _user_defined(stream)
    except Exception:  # a damaged or hostile property stream says nothing
        return {}


def creating_application(ole: olefile.OleFileIO) -> str:
    """The program the summary names ("Microsoft Excel"), or "". Read here, not through
    olefile's get_metadata, which a damaged summary can keep busy for minutes."""
    try:
        if not ole.exists(_SUMMARY):
            return ""
        section, offsets, codec = _section(ole.openstream(_SUMMARY).read(), 0)
        if _APP_NAME not in offsets:
            return ""
        return _string(section, offsets[_APP_NAME], codec).strip()
    except Exception:  # a damaged or hostile summary says nothing
        return ""


__all__ = ["creating_application", "custom_properties"]
