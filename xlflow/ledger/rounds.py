"""Rounds and the forms made for them."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from ..errors import NotFound
from ..model import (
    FormSpec,
    Register,
    Round,
    parse_round,
)
from .codec import now_text, spec_from_json
from .connection import Connection
from .readers import StagedForms


class RoundTables(Connection):
    """Rounds and the forms made for them."""

    def record_round(self, rnd: Round, prefill_from: str = "") -> Round:
        """Create or update a round; a deadline or title not given now keeps its old value."""
        old = self.get_round(rnd.id)
        stamp = now_text()
        with self.transaction():
            if old is None:
                (seq,) = self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM rounds").fetchone()
                self.db.execute(
                    "INSERT INTO rounds(id, seq, title, year, deadline, prefill_from, created_at,"
                    " generated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        rnd.id,
                        seq,
                        rnd.title,
                        rnd.year,
                        rnd.deadline.isoformat() if rnd.deadline else None,
                        prefill_from,
                        stamp,
                        stamp,
                    ),
                )
                return rnd
            merged = Round(
                id=rnd.id,
                title=rnd.title,
                year=rnd.year,
                deadline=rnd.deadline or old.deadline,
            )
            self.db.execute(
                "UPDATE rounds SET title=?, year=?, deadline=?, prefill_from=?, generated_at=?"
                " WHERE id=?",
                (
                    merged.title,
                    merged.year,
                    merged.deadline.isoformat() if merged.deadline else None,
                    prefill_from,
                    stamp,
                    rnd.id,
                ),
            )
            return merged

    @staticmethod
    def _round(row: Any) -> Round:
        return Round(
            id=row[0],
            title=row[1],
            year=row[2],
            deadline=dt.date.fromisoformat(row[3]) if row[3] else None,
        )

    def find_round(self, round_id: str) -> Round | None:
        """A recorded round, by its id or as a person typed it (`2019年上半年` is `2019-H1`)."""
        return self.get_round(round_id) or self.get_round(parse_round(round_id).id)

    def load_round(self, round_id: str) -> Round:
        """A round that forms were generated for; XlflowError, naming the known ones, if none."""
        rnd = self.find_round(round_id)
        if rnd is None:
            known = "、".join(r.id for r in self.rounds()) or "（还没有）"
            raise NotFound(
                f"轮次 {round_id!r} 还没有生成过填报表；先运行 xlflow generate --round {round_id}。已有轮次：{known}"
            )
        return rnd

    def get_round(self, round_id: str) -> Round | None:
        row = self.db.execute(
            "SELECT id, title, year, deadline FROM rounds WHERE id=?", (round_id,)
        ).fetchone()
        return self._round(row) if row else None

    def rounds(self) -> list[Round]:
        rows = self.db.execute("SELECT id, title, year, deadline FROM rounds ORDER BY seq")
        return [self._round(r) for r in rows]

    def previous_round(self, round_id: str) -> Round | None:
        row = self.db.execute(
            "SELECT id, title, year, deadline FROM rounds WHERE seq < "
            "(SELECT seq FROM rounds WHERE id=?) ORDER BY seq DESC LIMIT 1",
            (round_id,),
        ).fetchone()
        return self._round(row) if row else None

    def compared_round(self, round_id: str) -> Round | None:
        """The round whose answers a round is compared with (copied text, the plausibility
        rules): the one it prefills from, else the one made before it."""
        source = self.prefill_source(round_id)
        return self.get_round(source) if source else self.previous_round(round_id)

    def prefill_source(self, round_id: str) -> str:
        row = self.db.execute("SELECT prefill_from FROM rounds WHERE id=?", (round_id,)).fetchone()
        return str(row[0]) if row else ""

    def record_units(self, round_id: str, register: Register) -> None:
        """What the unit directory made of the register's names when the round's forms
        were made: each name folded into a unit (alias), each collective's members (member)."""
        with self.transaction():
            self.db.execute("DELETE FROM round_units WHERE round=?", (round_id,))
            self.db.executemany(
                "INSERT OR IGNORE INTO round_units(round, name, unit, kind) VALUES (?, ?, ?, ?)",
                [(round_id, name, unit, "alias") for name, unit in register.folded]
                + [
                    (round_id, collective, member, "member")
                    for collective, members in register.collectives
                    for member in members
                ],
            )

    def round_units(self, round_id: str) -> dict[str, list[tuple[str, str]]]:
        """{'alias': [(name, unit)], 'member': [(collective, member)]} as recorded."""
        out: dict[str, list[tuple[str, str]]] = {"alias": [], "member": []}
        query = "SELECT name, unit, kind FROM round_units WHERE round=? ORDER BY rowid"
        for name, unit, kind in self.db.execute(query, (round_id,)):
            out.setdefault(kind, []).append((name, unit))
        return out

    def round_created_at(self, round_id: str) -> dt.datetime | None:
        row = self.db.execute("SELECT created_at FROM rounds WHERE id=?", (round_id,)).fetchone()
        return dt.datetime.fromisoformat(row[0]) if row else None

    def staged_forms(self, round_id: str) -> StagedForms:
        """A place for forms as they are written, recorded all at once by `record()`."""
        return StagedForms(self, round_id)

    def form_divisions(self, round_id: str) -> list[str]:
        """The divisions a round's forms were generated for, in the order they were made."""
        rows = self.db.execute(
            "SELECT division FROM forms WHERE round=? ORDER BY rowid", (round_id,)
        )
        return [r[0] for r in rows]

    def forms(self, rnd: Round) -> dict[str, FormSpec]:
        rows = self.db.execute(
            "SELECT division, spec FROM forms WHERE round=? ORDER BY rowid", (rnd.id,)
        )
        return {d: spec_from_json(s, rnd) for d, s in rows}

    def forms_digest(self, round_id: str) -> str:
        """A hash of the forms recorded for a round, as stored."""
        h = hashlib.sha256()
        for division, spec in self.db.execute(
            "SELECT division, spec FROM forms WHERE round=? ORDER BY division", (round_id,)
        ):
            h.update(f"{division}\x00{spec}\x00".encode())
        return h.hexdigest()

    def accepted_digest(self, round_id: str) -> str:
        """A hash of a round's accepted answers, as stored."""
        h = hashlib.sha256()
        for division, vals in self.db.execute(
            "SELECT division, vals FROM files WHERE round=? AND verdict='accepted' ORDER BY division, path",
            (round_id,),
        ):
            h.update(f"{division}\x00{vals}\x00".encode())
        return h.hexdigest()

    def form_file(self, round_id: str, division: str) -> tuple[Path, str] | None:
        row = self.db.execute(
            "SELECT path, sha256 FROM forms WHERE round=? AND division=?", (round_id, division)
        ).fetchone()
        return (Path(row[0]), row[1]) if row else None
