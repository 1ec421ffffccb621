"""Text helpers for Chinese office documents: normalising, splitting and measuring."""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable

_WHITESPACE = re.compile(r"\s+")
# Characters that XML 1.0 cannot carry, so no workbook can hold them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

DEFAULT_SEPARATORS: tuple[str, ...] = ("\n", "、", "，", ",", "；", ";", "/")

CELL_TEXT_LIMIT = 32767  # in UTF-16 code units, as Excel counts


# Characters that change how a terminal or a text runs, besides the C0 and C1 controls:
# the bidirectional marks, embeddings, overrides and isolates (Trojan Source).
_BIDI = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_ANY_BIDI = re.compile("[" + "".join(chr(c) for c in sorted(_BIDI)) + "]")


def visible(text: str, keep: str = "") -> str:
    """Text with every control character shown, never acted on: C0 as its Control
    Picture (NUL as ␀, ESC as ␛), DEL as ␡, C1, bidirectional and other format or
    unassigned-control characters as <U+XXXX>. `keep` names controls left as they are (a
    message's newlines). A name from outside passes here before it is printed or stored,
    so an escape sequence in a file name never reaches a terminal."""
    rest = text
    for ch in keep:
        rest = rest.replace(ch, "")
    if rest.isprintable() and not _ANY_BIDI.search(rest):
        return text  # the common case (a whole table of lines too), at C speed
    out = []
    for ch in text:
        code = ord(ch)
        if ch in keep:
            out.append(ch)
        elif code < 0x20:
            out.append(chr(0x2400 + code))  # the Control Pictures block: ␀ ␁ … ␟
        elif code == 0x7F:
            out.append("␡")
        elif code in _BIDI or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co"):
            out.append(f"<U+{code:04X}>")
        else:
            out.append(ch)
    return "".join(out)


def json_text(data: object, encoding: str = "utf-8") -> str:
    """Data as JSON a terminal can show, in `encoding`: what `visible` would change, and
    what the encoding cannot hold (GBK has no ␀ and no rare CJK), is written as a \\u
    escape, so the text is safe to print and still reads back to exactly the data."""
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if visible(text, keep="\n") == text and _encodes(text, encoding):
        return text
    return "".join(
        ch if visible(ch, "\n") == ch and _encodes(ch, encoding) else json.dumps(ch)[1:-1]
        for ch in text
    )


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def cell_length(text: str) -> int:
    """Length as a workbook cell counts it: UTF-16 code units, so an emoji or a rare CJK
    character outside the BMP counts 2."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def cut_to_cell(text: str, room: int) -> str:
    """The longest start of `text` that takes at most `room` UTF-16 code units."""
    if cell_length(text) <= room:
        return text
    encoded = text.encode("utf-16-le", "surrogatepass")[: 2 * room]
    return encoded.decode("utf-16-le", "ignore")  # a pair cut in half is dropped whole


def squash(text: str) -> str:
    """Remove every kind of whitespace, including line breaks inside headers."""
    return _WHITESPACE.sub("", text)


def header_key(text: object) -> str:
    """A comparison key for header labels: NFKC, no whitespace, lower case.

    `2019年\\n目标`, `2019年 目标` and `２０１９年目标` all give the same key.
    """
    if text is None:
        return ""
    text = str(text)
    if len(text) > 64:
        return _header_key(text)
    return _cached_header_key(text)


def _header_key(text: str) -> str:
    return squash(unicodedata.normalize("NFKC", text)).lower()


# Headers and labels repeat in every returned file; caching them keeps collect fast.
_cached_header_key = functools.lru_cache(maxsize=8192)(_header_key)


def clean_cell(value: object) -> str:
    """The text of a register cell: stripped, with Windows line ends and trailing
    empty lines removed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    if "\n" not in text and "\r" not in text:
        return text.strip()
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip()


def split_names(text: str, separators: Iterable[str] = DEFAULT_SEPARATORS) -> list[str]:
    """Split a cell naming several divisions; drop empties and stray spaces, keep order."""
    seps = [s for s in separators if s]
    if not seps:
        parts = [text]
    else:
        pattern = "|".join(re.escape(s) for s in sorted(seps, key=len, reverse=True))
        parts = re.split(pattern, text)
    names: list[str] = []
    for part in parts:
        name = squash(part)
        if name and name not in names:
            names.append(name)
    return names


def task_id_text(value: object) -> str:
    """A task id as text: 3, 3.0 and ' 3 ' are all '3'."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFKC", str(value)).strip()


def line_width(line: str) -> int:
    """Display width of one line: CJK characters and full-width punctuation count 2.

    From the UTF-8 length, which is 1 byte for ASCII and 3 for CJK and the curly quotes
    and full-width punctuation of Chinese text, all of which a CJK font draws wide.
    """
    return (len(line.encode("utf-8", "surrogatepass")) + len(line)) // 2


def display_width(text: str) -> int:
    """Width of the longest line, counting CJK characters as 2."""
    if not text:
        return 0
    return max(line_width(line) for line in text.split("\n"))


@functools.lru_cache(maxsize=4096)  # a register repeats its groups, divisions and targets
def wrapped_lines(text: str, width: float) -> int:
    """How many lines `text` takes in a column `width` characters wide."""
    if not text:
        return 1
    usable = int(max(width - 1.0, 2.0))
    return sum(max(1, -(-line_width(line) // usable)) for line in text.split("\n"))


def invalid_xml_chars(text: str) -> list[str]:
    """The characters in `text` that a workbook cannot store."""
    return sorted(set(_XML_INVALID.findall(text)))


def without_invalid_xml(text: str) -> str:
    """`text` without the characters XML cannot carry (see invalid_xml_chars)."""
    return _XML_INVALID.sub("", text)


_UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
_WINDOWS_DEVICE = re.compile(r"(?i)(con|prn|aux|nul|com\d|lpt\d)")


def name_part(text: str) -> str:
    """`text` with what Windows, macOS or Linux refuse in a file name made `_`, and without
    the leading and trailing dots and spaces Windows drops."""
    return _UNSAFE_IN_NAME.sub("_", text).strip(" .")


def not_a_device(stem: str) -> str:
    """A name Windows keeps for a device (CON, NUL, COM1) is no file's name: `_CON`."""
    return f"_{stem}" if _WINDOWS_DEVICE.fullmatch(stem) else stem


def safe_filename(name: str, limit: int = 80) -> str:
    """A file name part that Windows, macOS and Linux all accept."""
    return not_a_device(name_part(name)[:limit]) or "_"


_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９．％－＋", "0123456789.%-+")


def to_halfwidth_number(text: str) -> str:
    """'８０％' -> '80%'; keeps everything else."""
    return text.translate(_FULLWIDTH_DIGITS)


_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def decode_ooxml_escapes(text: str) -> str:
    """OOXML's `_xHHHH_` escapes (ECMA-376 ST_Xstring) as the characters they stand for:
    `_x0022_` is a quote, and `_x005F_` escapes an underscore that begins one."""
    if "_x" not in text:
        return text
    return _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def repair_mojibake(text: str) -> str:
    """Text that was UTF-8 read as Latin-1 (`é«\x98æ\x96°` for 高新), as some writers
    rewrite document properties, turned back into what was written; other text as it is."""
    if not text or text.isascii() or any(ord(ch) > 0xFF for ch in text):
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return text


def normalise_text(text: str) -> str:
    """Read-only text as compared: line ends unified, outer whitespace dropped.

    Office programs re-encode line breaks and may trim a trailing space when saving.
    """
    if "\n" not in text and "\r" not in text:  # most cells: one line, the same result sooner
        return text.strip()
    return "\n".join(
        line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    ).strip()
