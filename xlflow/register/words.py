"""A task's own words: its name and content columns, as revisions compare them.

Its id, group, units, leader, deadline, progress and targets say what changed, never how
alike two tasks are; unit names inside the text, spaces and punctuation are left out, and
for likeness also figures and the text a task shares with its siblings.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

from ..model import Register, Task

# headers of columns that are not a task's words: its units, people, times and progress
_NOT_WORDS = re.compile(
    r"单位|处室|部门|科室|责任|领导|负责人|联系人|时限|时间|日期|期限|节点|进展|进度|备注|完成情况|序号|编号"
)


def word_columns(task: Task, skip: Iterable[str] = ()) -> list[tuple[str, str]]:
    """A task's name and content columns: not its id, units, people, times, progress or
    targets (`skip` names more columns that are units)."""
    left_out = set(skip)
    targets = {text for _, text in task.targets}
    return [
        (header, text)
        for header, text in task.columns
        if header not in left_out
        and not _NOT_WORDS.search(header)
        and text not in targets
        and text != task.id
    ]


def words_of(
    task: Task, skip: Iterable[str] = (), units: Iterable[str] = (), shared: Iterable[str] = ()
) -> str:
    """A task's own words, normalised: its word columns without unit names, spaces or
    punctuation (and without the `shared` texts, when given)."""
    left_out = set(shared)
    kept = [t for _, t in word_columns(task, skip) if t not in left_out]
    text = unicodedata.normalize("NFKC", "".join(kept))
    for unit in units:
        text = text.replace(unit, "")
    return "".join(ch for ch in text if not _is_space_or_mark(ch))


def units_of(old: Register, new: Register) -> list[str]:
    found = {u for r in (old, new) for t in r.tasks for u in (*t.divisions, *_collectives(t))}
    return sorted(found, key=len, reverse=True)


def words_by_id(
    old: Register, new: Register, skip: tuple[str, ...] = ()
) -> tuple[dict[str, str], dict[str, str]]:
    """Every task's words in both versions, by id; the units of either are left out.

    One `register --update` asks for the same pair's words up to four times (matching,
    the changes in words, the mapping read back, the pairs confirmed), 2.5 s each at
    12,000 tasks: the last pair's are kept, for the very same two registers (held here,
    so that neither can be freed and its id taken by another). Callers only read them."""
    for was, now, skipped, words in _last_words:
        if was is old and now is new and skipped == skip:
            return words
    units = units_of(old, new)
    words = (
        {t.id: words_of(t, skip, units) for t in old.tasks},
        {t.id: words_of(t, skip, units) for t in new.tasks},
    )
    _last_words[:] = [(old, new, skip, words)]
    return words


_Words = tuple[dict[str, str], dict[str, str]]
_last_words: list[tuple[Register, Register, tuple[str, ...], _Words]] = []


def likeness_keys(register: Register, skip: tuple[str, ...], units: list[str]) -> dict[str, str]:
    """What two tasks are compared by when their words differ: the words that are a
    task's own, without the texts it shares with other tasks of its register (the name of
    the project a sub-row belongs to) and without figures."""
    seen: dict[str, int] = {}
    for t in register.tasks:
        for _, text in word_columns(t, skip):
            seen[text] = seen.get(text, 0) + 1
    shared = {text for text, n in seen.items() if n > 1}
    out = {}
    for t in register.tasks:
        own = words_of(t, skip, units, shared) or words_of(t, skip, units)
        out[t.id] = _figures_out(own)
    return out


def _is_space_or_mark(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] in "PZ" or ch.isspace()


def likeness(a: str, b: str) -> float:
    """How alike two tasks' words are, 0 to 1: the characters in common, in order."""
    if not a and not b:
        return 1.0
    return round(difflib.SequenceMatcher(None, a, b, autojunk=False).ratio(), 3)


def contained(part: str, whole: str) -> float:
    """How much of `part` is found in `whole`, in order (1: all of it)."""
    if not part:
        return 0.0
    blocks = difflib.SequenceMatcher(None, part, whole, autojunk=False).get_matching_blocks()
    return round(sum(b.size for b in blocks) / len(part), 3)


def _figures_out(words: str) -> str:
    """Words without their figures: a target's number changes while the task stays (新增
    学位1080个 → 1200个), and a shared number is no likeness of two tasks."""
    return re.sub(r"[0-9.%]+", "", words) or words


def _collectives(task: Task) -> tuple[str, ...]:
    return tuple(name for name, _ in task.collectives)


__all__ = [
    "contained",
    "likeness",
    "likeness_keys",
    "units_of",
    "word_columns",
    "words_by_id",
    "words_of",
]
