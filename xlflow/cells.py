"""Cell references, one way everywhere: 0-based (row, column) and 'C7' both ways, and
column letters. Plain Python, so that the reader of returned files, the writers and the
checks agree on every cell without loading a workbook library."""

from __future__ import annotations

import functools
import re

_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")


def col_letter(col: int) -> str:
    """0-based column -> 'A', 'Z', 'AA'."""
    letters = ""
    n = col + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def col_number(letters: bytes | str) -> int:
    """'A' -> 1, 'AA' -> 27: a 1-based column from its letters (upper case)."""
    n = 0
    for ch in letters.encode() if isinstance(letters, str) else letters:
        n = n * 26 + (ch - 64)
    return n


@functools.lru_cache(maxsize=65536)  # the checks name the same cells again and again
def cell_ref(row: int, col: int) -> str:
    """0-based (row, col) -> 'C7'."""
    return f"{col_letter(col)}{row + 1}"


def row_col(ref: str) -> tuple[int, int]:
    """'C7' (or '$C$7') -> 0-based (row, col)."""
    found = _REF.fullmatch(ref.strip())
    if found is None:
        raise ValueError(f"not a cell reference: {ref!r}")
    return int(found.group(2)) - 1, col_number(found.group(1).upper()) - 1


__all__ = ["cell_ref", "col_letter", "col_number", "row_col"]
