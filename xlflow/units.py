"""Responsible units as registers write them: roles inside one cell, names as people type them.

A register names a task's units in many ways: `A、B`, `A（牵头）、B`, `A牵头，B、C配合`,
`牵头：A；配合：B`, `A、B等有关部门负责，排在第一位的部门为牵头部门`. `parse_units` reads
them all into leads and co-operating units, with clean names: trailing punctuation and
wrapping spaces removed, brackets in one form, `等部门` tails dropped (the list is open).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

LEAD_RULES = ("first_unit", "first_group")
"""How a cell without explicit roles names its lead: the first unit (default), or every
unit before the first `，`/`；` (where 、 joins units of one group)."""

# 、 joins units; these separate groups of units (and, by default, units too)
_GROUP_SEPARATORS = ("，", ",", "；", ";", "\n")
_LEAD_WORDS = ("牵头负责", "牵头", "主责", "主办")
_COOP_WORDS = ("协同配合", "配合", "协办", "参与", "协同")
_NEUTRAL_WORDS = ("负责落实", "共同负责", "负责")
_ROLE_LABEL = re.compile(
    r"(牵头|主责|主办|配合|协办|参与|协同配合|协同|责任)(单位|部门|处室|科室)?[：:]"
)
_RULE_NOTE = re.compile(
    r"[，,]?\s*(排在|列)第一位的(部门|单位)?(为|是)牵头(部门|单位)?[^，,）)]*"
    r"|[，,]?\s*下同"
    r"|[，,]?\s*分别负责"
)
_OPEN = re.compile(r"等(有关|相关|各)?(部门|单位|机构|处室|科室)?$")
_TRAILING = "。；;，,、.．：: \t"
_COLLECTIVE = re.compile(
    r"^各|各(部门|单位|街道|乡镇|区县|县区|镇街|处室|科室)|^(有关|相关)(部门|单位)|(有关|相关)(部门|单位)$"
)


@dataclass(frozen=True)
class ParsedUnits:
    lead: tuple[str, ...]
    cooperating: tuple[str, ...]
    open_list: bool = False  # the cell ended in 等部门 / 等有关部门: more units may be meant
    explicit: bool = False  # roles were written in the cell (牵头 / 配合 / labels)

    @property
    def units(self) -> tuple[str, ...]:
        return self.lead + self.cooperating


def normalise_unit(name: str) -> tuple[str, bool]:
    """A unit name as one form: (name, whether an `等部门` tail was removed).

    `区商务局。`, ` 区商务局 ` and `区商务局等部门` are all `区商务局`; `(` and `)` become
    `（` and `）`; full-width letters and digits become half-width.
    """
    text = unicodedata.normalize("NFKC", name)
    text = text.replace("(", "（").replace(")", "）")
    text = re.sub(r"\s+", "", text).strip(_TRAILING)
    open_list = False
    m = _OPEN.search(text)
    if m and len(text) > len(m.group(0)):
        text = text[: m.start()].strip(_TRAILING)
        open_list = True
    return text, open_list


def is_collective(name: str) -> bool:
    """`各街道`, `区直各部门`, `各相关单位`: one name that stands for many units."""
    return bool(_COLLECTIVE.search(name))


def _split(text: str, separators: Iterable[str]) -> list[str]:
    seps = sorted({s for s in separators if s}, key=len, reverse=True)
    if not seps:
        return [text]
    return re.split("|".join(re.escape(s) for s in seps), text)


def _strip_word(clause: str, words: Iterable[str]) -> tuple[str, bool]:
    for w in words:
        for form in (f"（{w}）", f"({w})", w):
            if clause.endswith(form) and len(clause) > len(form):
                return clause[: -len(form)], True
    return clause, False


def _names(clause: str, separators: Iterable[str]) -> tuple[list[tuple[str, str]], bool]:
    """The units of one clause, each with a role marker ('lead', 'coop' or '').

    A marker at the end of the clause applies to all of it; one in brackets after a unit
    inside the clause (`A（牵头）、B`) to that unit only.
    """
    clause = clause.strip(_TRAILING)
    clause_role = ""
    # a marker that ends the clause (`B、C配合`, `A、B（牵头）`) applies to all of it
    for words, role in ((_LEAD_WORDS, "lead"), (_COOP_WORDS, "coop"), (_NEUTRAL_WORDS, "")):
        stripped, found = _strip_word(clause, words)
        if found:
            clause, clause_role = stripped, role
            break
    out: list[tuple[str, str]] = []
    open_list = False
    for part in _split(clause, separators):
        role = clause_role
        part = part.strip(_TRAILING)
        for words, r in ((_LEAD_WORDS, "lead"), (_COOP_WORDS, "coop"), (_NEUTRAL_WORDS, "")):
            for w in words:
                for form in (f"（{w}）", f"({w})"):
                    if part.endswith(form):
                        part, role = part[: -len(form)], r
        # 'A、B负责' inside a clause: the neutral word trails the last unit
        part, _ = _strip_word(part, _NEUTRAL_WORDS)
        name, more = normalise_unit(part)
        open_list |= more
        if name:
            out.append((name, role))
    return out, open_list


def parse_units(
    text: str,
    separators: Iterable[str] = ("\n", "、", "，", ",", "；", ";", "/"),
    lead_rule: str = "first_unit",
) -> ParsedUnits:
    """Leads and co-operating units named in one cell or one bracket of text."""
    text = unicodedata.normalize("NFKC", text).replace("(", "（").replace(")", "）")
    text = _RULE_NOTE.sub("", text).strip()
    if not text:
        return ParsedUnits((), ())
    seps = tuple(separators)
    labelled = list(_ROLE_LABEL.finditer(text))
    marked: list[tuple[str, str, int]] = []  # (unit, role, clause number)
    open_list = False
    explicit = False
    if labelled and labelled[0].start() == 0:
        # 牵头单位：A；配合单位：B
        explicit = True
        for i, m in enumerate(labelled):
            end = labelled[i + 1].start() if i + 1 < len(labelled) else len(text)
            word = m.group(1)
            role = "lead" if word in ("牵头", "主责", "主办") else "coop"
            if word == "责任":
                role = ""  # 责任单位 beside 牵头单位 co-operates; alone, the rule decides
            names, more = _names(text[m.end() : end], seps)
            open_list |= more
            marked += [(n, r or role, i) for n, r in names]
        if any(r == "lead" for _, r, _ in marked):
            marked = [(n, r or "coop", k) for n, r, k in marked]
    else:
        clauses = _split(text, _GROUP_SEPARATORS)
        for k, clause in enumerate(clauses):
            names, more = _names(clause, [s for s in seps if s not in _GROUP_SEPARATORS] or ["、"])
            open_list |= more
            marked += [(n, r, k) for n, r in names]
        explicit = any(r for _, r, _ in marked)
    seen: dict[str, str] = {}
    order: list[str] = []
    clause_of: dict[str, int] = {}
    for name, role, k in marked:
        if name not in seen:
            order.append(name)
            seen[name] = role
            clause_of[name] = k
        elif role == "lead":
            seen[name] = "lead"
    if any(role == "lead" for role in seen.values()):
        lead = [n for n in order if seen[n] == "lead"]
    elif lead_rule == "first_group" and order:
        candidates = [n for n in order if seen[n] != "coop"] or order
        first = clause_of[candidates[0]]
        lead = [n for n in candidates if clause_of[n] == first]
    else:
        lead = [n for n in order if seen[n] != "coop"][:1] or order[:1]
    coop = [n for n in order if n not in lead]
    return ParsedUnits(tuple(lead), tuple(coop), open_list, explicit)


def units_of(text: str, separators: Iterable[str]) -> tuple[list[str], bool]:
    """Every unit named in a cell, in order, with no roles (a lead or co-operating column)."""
    parsed = parse_units(text, separators, "first_unit")
    return list(parsed.units), parsed.open_list


def open_list_note(task_ids: Iterable[str]) -> str:
    """What init says about tasks whose units end in 等部门: the list is not complete."""
    return (
        f"序号 {'、'.join(task_ids)} 的责任单位写有“等部门”“等有关部门”，名单没有列全："
        "只给列出的单位生成填报表；如需其他单位填报，请在清单中写明。"
    )
