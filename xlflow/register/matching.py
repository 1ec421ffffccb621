"""Which task of a revised register is which task of the one before: the pairing behind
`register --update`, by a task's own words.

A task's words are its name and content columns. Its id, units, deadline, leader and
targets say what changed, never how alike two tasks are: two short tasks with the same
deadline and units are not one task. The pairing goes in steps:

1. a task whose words are unchanged is its old self, whatever its number (sure);
2. the rest are paired all together, to the best total likeness (one assignment, so an
   early wrong pair cannot push out the right one);
3. a task left over whose words come from an old task is a part of it (a split);
4. an old task left over whose words are found in a new one that grew by them was
   merged into it.

A pair is sure only when its words are unchanged, or at least `SURE` alike with no other
candidate close to it; a pair `LIKELY` alike or more is proposed for the coordinator to
confirm; below that the old task is retired and the new one added.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..model import Register
from .words import contained, likeness, likeness_keys, units_of, words_by_id

SURE = 0.8  # words this alike, with no rival close, are one task reworded or renumbered
LIKELY = 0.5  # words this alike may be one task: proposed for the coordinator
# words kept whole with a few added or taken away: one task, if this alike at least
GREW, WHOLE = 0.65, 0.95
THIN = 0.3  # words this alike are proposed only when each is the other's best by far
RIVAL = 0.15  # a rival this close to the best makes a pair unsure
PART = 0.8  # this much of a task's words found in another: a part of it, or merged in
SOME_PART = 0.6  # this much: perhaps a part, proposed


@dataclass(frozen=True)
class Link:
    """One old task's successor, as the matching found it."""

    old_id: str
    new_id: str
    kind: str  # same | renamed | split | merged
    score: float
    sure: bool
    why: str = ""  # why it is not sure, in words


def best_pairs(weights: np.ndarray) -> list[tuple[int, int]]:
    """The rows and columns paired to the greatest total weight (the Hungarian method,
    shortest augmenting paths, one row at a time over numpy vectors). SciPy's
    linear_sum_assignment does the same, but SciPy would add some 100 MB to the office
    bundle for these forty lines."""
    if weights.size == 0:
        return []
    flipped = weights.shape[0] > weights.shape[1]
    cost = -(weights.T if flipped else weights).astype(float)
    n, m = cost.shape
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=int)  # owner[j]: the row (1-based) holding column j
    way = np.zeros(m + 1, dtype=int)
    for i in range(1, n + 1):
        owner[0], j0 = i, 0
        least = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            row = owner[j0]
            reduced = cost[row - 1] - u[row] - v[1:]
            free = ~used[1:]
            better = free & (reduced < least[1:])
            least[1:][better] = reduced[better]
            way[1:][better] = j0
            masked = np.where(free, least[1:], np.inf)
            j1 = int(np.argmin(masked)) + 1
            delta = masked[j1 - 1]
            u[owner[used]] += delta
            v[used] -= delta
            least[1:][free] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    pairs = [(int(owner[j]) - 1, j - 1) for j in range(1, m + 1) if owner[j]]
    return [(b, a) for a, b in pairs] if flipped else pairs


class Matcher:
    """The matching, a step at a time (see the module's words)."""

    def __init__(self, old: Register, new: Register, skip: tuple[str, ...]) -> None:
        self.old_words, self.new_words = words_by_id(old, new, skip)
        units = units_of(old, new)
        self.old_key = likeness_keys(old, skip, units)
        self.new_key = likeness_keys(new, skip, units)
        self.links: dict[str, list[Link]] = {}  # by old id
        self.taken: set[str] = set()  # new ids with a predecessor

    def link(self, link: Link) -> None:
        self.links.setdefault(link.old_id, []).append(link)
        self.taken.add(link.new_id)

    def _old_left(self) -> list[str]:
        return [o for o in self.old_words if o not in self.links]

    def _new_left(self) -> list[str]:
        return [n for n in self.new_words if n not in self.taken]

    def unchanged(self) -> None:
        """Words unchanged: the same task, whatever its number. One old task's words found
        whole in several new ones is a split into copies (5 into 5-1 and 5-2)."""
        by_words: dict[str, list[str]] = {}
        for n, words in self.new_words.items():
            if words:
                by_words.setdefault(words, []).append(n)
        olds: dict[str, list[str]] = {}
        for o, words in self.old_words.items():
            if words in by_words:
                olds.setdefault(words, []).append(o)
        for words, old_ids in olds.items():
            new_ids = by_words[words]
            if len(old_ids) == 1 and len(new_ids) > 1:
                # copies are a split when numbered as its parts (5-1, 5-2); otherwise a
                # task added with the same words is as likely
                o = old_ids[0]
                parts = all(n == o or _is_part(n, o) for n in new_ids)
                why = "" if parts else "同样文字的新任务不止一项"
                for n in new_ids:
                    self.link(Link(o, n, "split", 1.0, parts, why))
                continue
            # the same words more than once: the same id first, then in order
            pairs = [(o, o) for o in old_ids if o in new_ids]
            rest_old = [o for o in old_ids if o not in new_ids]
            rest_new = [n for n in new_ids if n not in old_ids]
            pairs += list(zip(rest_old, rest_new, strict=False))
            # words alone cannot tell which of two tasks with the same words is which
            sure = len(old_ids) == 1 and len(new_ids) == 1
            why = "" if sure else "同样文字的任务不止一项"
            for o, n in pairs:
                self.link(Link(o, n, "same", 1.0, sure, why))

    def assigned(self) -> None:
        """The tasks left, paired all at once to the best total likeness."""
        olds, news = self._old_left(), self._new_left()
        if not olds or not news:
            return
        score = np.array([[likeness(self.old_key[o], self.new_key[n]) for n in news] for o in olds])
        weights = np.where(score >= THIN, score, 0.0)
        unsure = [x for links in self.links.values() for x in links if not x.sure]
        unsure_old = {x.old_id for x in unsure}
        unsure_new = {x.new_id for x in unsure}
        for i, j in best_pairs(weights):
            s = float(score[i, j])
            if s < THIN:
                continue
            rivals = [score[i, k] for k in range(len(news)) if k != j]
            rivals += [score[k, j] for k in range(len(olds)) if k != i]
            # a task already paired, but not surely (its words the same as another's)
            rivals += [likeness(self.old_key[olds[i]], self.new_key[n]) for n in unsure_new]
            rivals += [likeness(self.old_key[o], self.new_key[news[j]]) for o in unsure_old]
            rival = max(rivals, default=0.0)
            if s < LIKELY and rival >= s - RIVAL:
                continue  # thin, and not clearly the other's best: retired and added
            a, b = self.old_key[olds[i]], self.new_key[news[j]]
            kept_whole = s >= GREW and max(contained(a, b), contained(b, a)) >= WHOLE
            sure = (s >= SURE or kept_whole) and rival < s - RIVAL
            why = ""
            if s < LIKELY:
                why = f"文字相似只有 {s:.0%}，但两者互为最相似，其他任务都在 {rival:.0%} 以下"
            elif s < SURE and not kept_whole:
                why = f"文字相似 {s:.0%}，不足 {SURE:.0%}"
            elif not sure:
                why = f"另有相似 {rival:.0%} 的任务"
            self.link(Link(olds[i], news[j], "renamed", s, sure, why))

    def _part_of(self, n: str) -> tuple[str, float, bool] | None:
        """The old task a new task's words come from, how much of them, and whether no
        other old task holds them nearly as well."""
        found = sorted(
            ((contained(self.new_key[n], w), o) for o, w in self.old_key.items()),
            reverse=True,
        )
        if not found or found[0][0] < SOME_PART:
            return None
        best, o = found[0]
        rival = found[1][0] if len(found) > 1 else 0.0
        return o, best, rival < best - RIVAL

    def splits(self) -> None:
        """A new task left over whose words come from one old task is a part of it; an
        old task with parts is split, into them and into its own successor if that one's
        words come from it too. A number alone (9-1) never makes a part. A split is sure
        when no other task holds any part's words as well, and the parts together hold
        nearly all of the old task's."""
        parts: dict[str, list[tuple[str, float, bool]]] = {}
        for n in self._new_left():
            part = self._part_of(n)
            if part is not None:
                parts.setdefault(part[0], []).append((n, part[1], part[2]))
        for o, found in parts.items():
            own = [x for x in self.links.get(o, []) if x.kind in ("same", "renamed")]
            if own:
                successor = self._part_of(own[0].new_id)
                if successor is None or successor[0] != o:
                    continue  # its successor is another task: these are no parts of it
                found = [(own[0].new_id, successor[1], successor[2]), *found]
                self.links[o] = []
            elif len(found) == 1:
                n, c, _ = found[0]
                why = f"只是原任务的一部分（{c:.0%} 的文字见于原任务）"
                self.link(Link(o, n, "renamed", c, False, why))
                continue
            whole = contained(self.old_key[o], "".join(self.new_key[n] for n, _, _ in found))
            for n, c, unique in found:
                sure = unique and c >= PART and whole >= PART
                why = ""
                if not unique:
                    why = "别的任务也有这些文字"
                elif c < PART:
                    why = f"这一部分只有 {c:.0%} 的文字见于原任务"
                elif not sure:
                    why = f"各部分合起来只有原任务文字的 {whole:.0%}"
                self.link(Link(o, n, "split", c, sure, why))

    def merges(self) -> None:
        """An old task left over whose words are found in a new one that grew by them: a
        task new to this version, or one whose words are now longer than its own
        predecessor's by a good part of the old task's. (Tasks that share words, as the
        sub-rows of one item do, are no merge when none of them grew.)"""
        before: dict[str, str] = {}
        for o, links in self.links.items():
            for x in links:
                before[x.new_id] = before.get(x.new_id, "") + self.old_key[o]
        into: dict[str, list[tuple[str, float, bool]]] = {}
        for o in self._old_left():
            words = self.old_key[o]
            if not words:
                continue
            found = []
            for n, new_words in self.new_key.items():
                grown = len(new_words) - len(before.get(n, ""))
                if n in before and grown < len(words) / 3:
                    continue
                found.append((contained(words, new_words), n))
            found.sort(reverse=True)
            if not found or found[0][0] < PART:
                continue
            best, n = found[0]
            rival = found[1][0] if len(found) > 1 else 0.0
            into.setdefault(n, []).append((o, best, best >= SURE and rival < best - RIVAL))
        for n, olds in into.items():
            if n not in before and len(olds) == 1:
                o, c, _ = olds[0]  # one old task grown into a new one: reworded, maybe
                why = f"原任务的文字 {c:.0%} 见于此项，但此项多出许多文字"
                score = likeness(self.old_key[o], self.new_key[n])
                self.link(Link(o, n, "renamed", score, False, why))
                continue
            for o, c, sure in olds:
                why = "" if sure else f"{c:.0%} 的文字见于此项"
                self.link(Link(o, n, "merged", c, sure, why))


def _is_part(new_id: str, old_id: str) -> bool:
    return bool(re.fullmatch(re.escape(old_id) + r"(-\d+|（\d+）|\(\d+\)|\.\d+)", new_id))


def match(old: Register, new: Register, skip: Iterable[str] = ()) -> dict[str, list[Link]]:
    """Each old task's successors (none: retired), by old id."""
    m = Matcher(old, new, tuple(skip))
    m.unchanged()
    m.assigned()
    m.splits()
    m.merges()
    return m.links


__all__ = ["LIKELY", "SURE", "Link", "best_pairs", "match"]
