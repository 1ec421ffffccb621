"""Reading a typed value as a number or a phone number: one rule, which the self-checking
form's formulas (`generate.selfcheck`) and collect's checks (`collect.validate`) share."""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from .text import to_halfwidth_number

DIGITS = "0123456789０１２３４５６７８９"
# what a phone number may hold besides digits, lower-cased
PHONE_EXTRAS = (
    " ",
    "\u3000",
    "-",
    "(",
    ")",
    "（",
    "）",
    "－",
    "—",
    "+",
    "＋",
    "转",
    "分机",
    "ext",
    ".",
)


def to_number(value: Any) -> tuple[float | None, bool]:
    """(number, had a % sign) from a cell value, as collect reads it; (None, False) if it is
    not a number. Commas are dropped and full-width digits read; inf and nan are no one's
    answer."""
    if isinstance(value, bool):
        return None, False
    if isinstance(value, int | float):
        return (float(value), False) if math.isfinite(value) else (None, False)
    text = to_halfwidth_number(unicodedata.normalize("NFKC", str(value))).strip().replace(",", "")
    sign = text.endswith("%")
    try:
        number = float(text.rstrip("%").strip())
    except ValueError:
        return None, False
    return (number, sign) if math.isfinite(number) else (None, False)


def phone_ok(text: str) -> bool:
    """A phone number as both collect and the form read one: 7 to 20 digits, and nothing
    else but spaces, - ( ) + . and an extension (转, 分机, ext). One rule, so that the form
    and collect never disagree; it is the formula of `selfcheck._filled_breaks`, in Python."""
    lower = re.sub(r"[\x00-\x1f]", "", text).strip(" ").lower()
    no_digits = "".join(ch for ch in lower if ch not in DIGITS)
    digits = len(lower) - len(no_digits)
    rest = no_digits
    for piece in PHONE_EXTRAS:
        rest = rest.replace(piece, "")
    return 7 <= digits <= 20 and not rest


__all__ = ["DIGITS", "PHONE_EXTRAS", "phone_ok", "to_number"]
