"""`register --update` scored against registers revised by hand (tests/data/revisions/,
written by its make_revisions.py, each with the truth written first).

Every edit is one of: paired right and sure (exact), paired right but only proposed,
paired wrong (any pair it makes that the truth does not have), or missed (the truth's
pair not found). A wrong pair marked sure is the worst outcome: it goes into the
ledger's lineage and puts one task's answers under another, so none is allowed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import run, run_json

DATA = Path(__file__).parent / "data"
REVISIONS = sorted((DATA / "revisions").glob("*.json"))


def _scored(truth: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    pairs = {(o, n) for o, n in truth["pairs"]}
    sure = {(x["old"], x["new"]) for x in result["lineage"] if x["kind"] != "retired"}
    proposed = {(x["old"], x["new"]) for x in result["uncertain"]}
    edits: dict[str, list[str]] = {"exact": [], "proposed": [], "wrong": [], "missed": []}
    for edit in truth["edits"]:
        olds, news = set(edit["old"]), set(edit["new"])
        its = {p for p in pairs if p[0] in olds and p[1] in news}
        made = {p for p in sure | proposed if p[0] in olds or p[1] in news}
        if made - pairs:
            kind = "wrong"
        elif its <= sure:
            kind = "exact"
        elif its <= sure | proposed:
            kind = "proposed"
        else:
            kind = "missed"
        edits[kind].append(edit["what"])
    return {
        "edits": edits,
        "wrong_sure": sorted(sure - pairs),
        "sure": len(sure),
        "sure_right": len(sure & pairs),
        "proposed": len(proposed),
        "proposed_right": len(proposed & pairs),
        "pairs": len(pairs),
        "found": len((sure | proposed) & pairs),
    }


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = {}
    for path in REVISIONS:
        truth = json.loads(path.read_text("utf-8"))
        root = tmp_path_factory.mktemp("w") / "w"
        run(["init", str(root), "--register", str(DATA / "registers" / truth["base"])])
        revised = path.with_suffix("")
        result = run_json(["register", "-w", str(root), "--update", str(revised)])
        out[revised.name] = _scored(truth, result)
    return out


def test_the_corpus_is_five_registers_and_forty_edits() -> None:
    edits = [json.loads(p.read_text("utf-8"))["edits"] for p in REVISIONS]
    words = [p for p in REVISIONS if p.name.endswith(".docx.json")]
    assert len(REVISIONS) >= 5 and len(words) >= 3
    assert all(len(e) >= 8 for e in edits) and sum(map(len, edits)) >= 40


@pytest.mark.parametrize("path", REVISIONS, ids=[p.name[:-5] for p in REVISIONS])
def test_no_wrong_pair_is_sure(scores: dict[str, dict[str, Any]], path: Path) -> None:
    assert scores[path.name[:-5]]["wrong_sure"] == []


def test_at_least_39_of_40_edits_are_paired_right(scores: dict[str, dict[str, Any]]) -> None:
    counts = {
        k: sum(len(s["edits"][k]) for s in scores.values())
        for k in ("exact", "proposed", "wrong", "missed")
    }
    total = sum(counts.values())
    right = counts["exact"] + counts["proposed"]
    shown = {
        name: {k: v for k, v in s["edits"].items() if k in ("wrong", "missed") and v}
        for name, s in scores.items()
    }
    assert right * 40 >= 39 * total, (counts, shown)
    # most are sure: a coordinator confirms a few, not every one
    assert counts["exact"] * 4 >= total * 3, counts


def test_precision_and_recall_as_docs_rounds_says(scores: dict[str, dict[str, Any]]) -> None:
    """The figures docs/rounds.md gives for the corpus are these."""
    sure = sum(s["sure"] for s in scores.values())
    sure_right = sum(s["sure_right"] for s in scores.values())
    proposed = sum(s["proposed"] for s in scores.values())
    proposed_right = sum(s["proposed_right"] for s in scores.values())
    pairs = sum(s["pairs"] for s in scores.values())
    found = sum(s["found"] for s in scores.values())
    line = (
        f"sure pairs: {sure_right} of {sure} right; proposed: {proposed_right} of {proposed} "
        f"right; true pairs found: {found} of {pairs}"
    )
    doc = (Path(__file__).parents[1] / "docs" / "rounds.md").read_text("utf-8")
    assert line in doc, line


def test_a_pair_s_words_are_made_once_for_the_same_two_registers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One `register --update --mapping` asks for the same pair's words four times
    (2.5 s each at 12,000 tasks): the last pair's are kept for the very same two
    registers, and made again for any other pair, an equal copy included."""
    import dataclasses

    from xlflow.register import words
    from xlflow.register.init import check_register
    from xlflow.register.load import load_register
    from xlflow.workspace import Workspace

    root = tmp_path / "w"
    run(["init", str(root)])
    ws = Workspace.open(root)
    old = load_register(ws)
    new = check_register(DATA / "revisions" / "bundled-revised.xlsx", "").register
    made: list[int] = []
    real = words.words_of
    monkeypatch.setattr(words, "words_of", lambda *args: made.append(1) or real(*args))
    first = words.words_by_id(old, new, ())
    assert len(made) == len(old.tasks) + len(new.tasks)
    assert words.words_by_id(old, new, ()) is first and len(made) == len(old.tasks) + len(new.tasks)
    assert words.words_by_id(old, new, ("责任处室",)) is not first
    copy = dataclasses.replace(new)
    again = words.words_by_id(old, copy, ())
    assert again == first and again is not first
