"""The data beyond the workbook: every answer as a pandas DataFrame, and exports in the
formats analysts use.

`answers(ws)` is the long form, one row per round × task × division × field; `tasks(ws)`
the wide one, one row per round × task, as the detail sheet shows it. Both read the
ledger and nothing else (no workbook is opened again), and each round's tasks as the
register version its forms were made from. Their columns and dtypes:

answers: round (category), round_title (string), task_id (string), task_name (string),
group (category), division (category), role (category: 牵头, 配合), field (category: the
field's key), field_label (category), value (object: the value as the field's type has it,
a float, a datetime64 date, or a string), number (Float64: numbers and percents),
date (datetime64[ns]: dates), choice (category: choices), text (string: texts), status
(category: the division's own status for the task), percent (Float64: its own percent),
file (string), sha256 (string), received (datetime64[ns]), late (bool), decision
(category: 协调办公室确认采用 where the coordinator accepted the file despite its errors,
else empty).

tasks: round (category), round_title (string), task_id (string), task_name (string), group
(category), lead (string), cooperating (string), target (string), status (category),
percent (Float64), one string column per text field (by its label, every division's
words labelled 【division】 as the detail sheet has them), note (string), conflict (bool).

This module imports pandas: only `xlflow export`, the console's feed and a caller who
asks load it (`xlflow.answers`, PEP 562).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config.model import Field, Settings
from ..errors import Invalid, NotFound
from ..files import atomic_path, atomic_write
from ..issues import IssueCode
from ..ledger.book import Ledger
from ..model import FileRecord, Register, Round
from ..register.lineage import Versions
from ..register.load import load_register
from ..standing import round_state
from ..wording import role_label, task_label
from ..workspace import Workspace
from .tasks import task_states

FORMATS = ("csv", "xlsx", "json", "parquet", "sqlite")
DECIDED = "协调办公室确认采用"
_FIXED_TIME = dt.datetime(2000, 1, 1)  # an export's own time: the same ledger, the same bytes

ANSWER_COLUMNS = {
    "round": "category",
    "round_title": "string",
    "task_id": "string",
    "task_name": "string",
    "group": "category",
    "division": "category",
    "role": "category",
    "field": "category",
    "field_label": "category",
    "value": "object",
    "number": "Float64",
    "date": "datetime64[ns]",
    "choice": "category",
    "text": "string",
    "status": "category",
    "percent": "Float64",
    "file": "string",
    "sha256": "string",
    "received": "datetime64[ns]",
    "late": "bool",
    "decision": "category",
}


@dataclass(frozen=True)
class _Round:
    round: Round
    register: Register
    accepted: dict[str, FileRecord]  # division -> its counted file, with its values


def _rounds(ws: Workspace, wanted: Iterable[str] | None) -> Iterator[_Round]:
    """Each round asked for (all, by default), oldest first, with the register it was made
    from and its counted files, values and all, from the ledger alone."""
    current = load_register(ws)
    with Ledger(ws.ledger_path) as ledger:
        every = ledger.rounds()
        names = {r.id for r in every}
        chosen = list(wanted) if wanted is not None else [r.id for r in every]
        unknown = [r for r in chosen if r not in names]
        if unknown:
            raise NotFound(
                f"没有轮次 {'、'.join(unknown)}；已有轮次：{'、'.join(r.id for r in every) or '（无）'}"
            )
        versions = Versions(ledger, current)
        for rnd in every:
            if rnd.id not in chosen:
                continue
            register = versions.register(versions.of_round(rnd.id))
            accepted = round_state(ledger, rnd, register.divisions).accepted
            yield _Round(rnd, register, accepted)


def _typed(f: Field, value: Any) -> tuple[Any, Any, Any, Any, Any]:
    """(value, number, date, choice, text) of one answer, as its field's type has it."""
    if value in (None, ""):
        return None, None, None, None, None
    if f.type in ("number", "percent"):
        n = float(value) if isinstance(value, int | float) else None
        return n, n, None, None, None
    if f.type == "date":
        day = pd.Timestamp(value) if isinstance(value, str | dt.date) else None
        return day, None, day, None, None
    if f.type == "choice":
        return str(value), None, None, str(value), None
    return str(value), None, None, None, str(value)


def answers(ws: Workspace, rounds: Sequence[str] | None = None) -> pd.DataFrame:
    """Every answer of the counted returns, one row per round × task × division × field."""
    return _answer_frame(_answer_batches(ws, rounds), ws.settings)


def _answer_frame(batches: Iterable[list[tuple[Any, ...]]], settings: Settings) -> pd.DataFrame:
    """Rows of ANSWER_COLUMNS as the frame answers() gives, typed as documented."""
    columns = _Columns(list(ANSWER_COLUMNS))
    for batch in batches:
        columns.extend(batch)
    return _dtypes(columns.frame(), ANSWER_COLUMNS, settings)


# answers a batch: some 20 MB of rows, and few enough batches that each costs little
_BATCH = 32_768


def _answer_batches(ws: Workspace, rounds: Sequence[str] | None) -> Iterator[list[tuple[Any, ...]]]:
    """The answers as rows of ANSWER_COLUMNS, a batch at a time: at 10,000 returns a round
    has millions, and a tuple per row held at once was several times the table."""
    settings = ws.settings
    status_key, percent_key = settings.status.field, settings.status.percent_field
    batch: list[tuple[Any, ...]] = []
    for r in _rounds(ws, rounds):
        rnd = r.round
        # what every row of one file says of it, made once and shared by its rows
        files = {
            division: (
                Path(record.path).name,
                record.sha256,
                dt.datetime.fromtimestamp(record.mtime).replace(microsecond=0),
                record.late,
                DECIDED
                if any(i.code is IssueCode.ACCEPTED_BY_COORDINATOR for i in record.issues)
                else "",
            )
            for division, record in r.accepted.items()
        }
        for task in r.register.tasks:
            name = task_label(task, settings.register)
            for division in task.divisions:
                record = r.accepted.get(division)
                said = record.values.get(task.id) if record else None
                if record is None or said is None:
                    continue
                role = role_label(task.role_of(division) or "cooperating")
                status = said.get(status_key)
                percent = said.get(percent_key)
                head = (rnd.id, rnd.title, task.id, name, task.group, division, role)
                tail = (
                    str(status) if status not in (None, "") else None,
                    float(percent) if isinstance(percent, int | float) else None,
                    *files[division],
                )
                for f in settings.fields:
                    batch.append((*head, f.key, f.label, *_typed(f, said.get(f.key)), *tail))
                if len(batch) >= _BATCH:
                    yield batch
                    batch = []
    if batch:
        yield batch


class _Columns:
    """Rows kept as columns, a batch at a time, and made into a frame a column at a time."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.columns: list[list[Any]] = [[] for _ in names]

    def extend(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        for column, values in zip(self.columns, zip(*rows, strict=True), strict=True):
            column.extend(values)

    def frame(self) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for name in self.names:
            # each list goes as its column is made, and with it the references it held
            data[name] = np.array(self.columns.pop(0), dtype=object)
        return pd.DataFrame(data, columns=self.names)


def _answers_csv(ws: Workspace, rounds: Sequence[str] | None, path: Path, encoding: str) -> int:
    """The answers' CSV, written a batch at a time: the text `answers(...).to_csv` gives,
    byte for byte, without the table of a whole year in memory. Returns the rows written."""
    options = _csv_options(encoding)
    codec = options.pop("encoding")  # the file's, once: a BOM at its start only
    rows = 0
    with open(path, "w", encoding=codec, newline="") as fh:
        for batch in _answer_batches(ws, rounds):
            _answer_frame([batch], ws.settings).to_csv(fh, header=rows == 0, **options)
            rows += len(batch)
        if rows == 0:
            _answer_frame([], ws.settings).to_csv(fh, **options)
    return rows


def _dtypes(frame: pd.DataFrame, dtypes: dict[str, str], settings: Settings) -> pd.DataFrame:
    for column, dtype in dtypes.items():
        if dtype == "object":
            continue
        if dtype == "category":
            order = _order(column, frame[column], settings)
            frame[column] = pd.Categorical(frame[column], categories=order)
        elif dtype == "datetime64[ns]":
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
        else:
            frame[column] = frame[column].astype(dtype)  # type: ignore[call-overload]
    return frame


def _order(column: str, values: pd.Series, settings: Settings) -> list[Any]:
    """A categorical's categories in a meaningful order: rounds as they ran, statuses as
    the choices list them, everything else as it first appears."""
    seen = list(pd.unique(values.dropna()))
    if column == "status":
        known = [*settings.status_order, settings.status.missing_label]
        return [
            *[s for s in known if s in seen or s in settings.status_order],
            *[s for s in seen if s not in known],
        ]
    return seen


TASK_COLUMNS = {
    "round": "category",
    "round_title": "string",
    "task_id": "string",
    "task_name": "string",
    "group": "category",
    "lead": "string",
    "cooperating": "string",
    "target": "string",
    "status": "category",
    "percent": "Float64",
}


def tasks(ws: Workspace, rounds: Sequence[str] | None = None) -> pd.DataFrame:
    """Each task in each round as the detail sheet shows it: one row per round × task."""
    settings = ws.settings
    texts = [
        f
        for f in settings.fields
        if f.key not in (settings.status.field, settings.status.percent_field)
    ]
    rows: list[dict[str, Any]] = []
    for r in _rounds(ws, rounds):
        states, _ = task_states(r.register, settings, r.round, r.accepted)
        for state in states:
            t = state.task
            row: dict[str, Any] = {
                "round": r.round.id,
                "round_title": r.round.title,
                "task_id": t.id,
                "task_name": task_label(t, settings.register),
                "group": t.group,
                "lead": "、".join(t.lead),
                "cooperating": "、".join(t.cooperating),
                "target": state.target,
                "status": state.status,
                "percent": state.percent if isinstance(state.percent, int | float) else None,
            }
            for f in texts:
                row[f.label] = state.texts.get(f.key, "") or None
            row["note"] = state.note or None
            row["conflict"] = state.conflict
            rows.append(row)
    columns = [*TASK_COLUMNS, *(f.label for f in texts), "note", "conflict"]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    dtypes = {
        **TASK_COLUMNS,
        **{f.label: "string" for f in texts},
        "note": "string",
        "conflict": "bool",
    }
    return _dtypes(frame, dtypes, settings)


# --- exports ---


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    rows: int
    wide: bool

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": self.format, "rows": self.rows, "wide": self.wide}


def export(
    ws: Workspace,
    fmt: str,
    output: Path,
    rounds: Sequence[str] | None = None,
    wide: bool = False,
    encoding: str = "utf-8",
) -> ExportResult:
    """Write the answers (or, `wide`, the tasks) as csv, xlsx, json, parquet or sqlite;
    the same ledger gives the same bytes. SQLite holds both tables and the views."""
    if fmt not in FORMATS:
        raise Invalid(f"导出格式只能是 {'、'.join(FORMATS)}，不是 {fmt!r}")
    if fmt == "csv" and not wide:
        # the answers written as they are made, a batch at a time: a year's table, its
        # text and its bytes, held at once, were gigabytes at a province's scale
        with atomic_path(output) as tmp:
            rows = _answers_csv(ws, rounds, tmp, encoding)
        return ExportResult(output, fmt, rows, wide)
    frame = tasks(ws, rounds) if wide else answers(ws, rounds)
    if fmt == "csv":
        with atomic_path(output) as tmp:
            frame.to_csv(tmp, **_csv_options(encoding))
        return ExportResult(output, fmt, len(frame), wide)
    if fmt == "json":
        data = json_bytes(frame)
    elif fmt == "xlsx":
        data = xlsx_bytes(frame, "tasks" if wide else "answers")
    elif fmt == "parquet":
        data = parquet_bytes(frame)
    else:
        data = sqlite_bytes(answers(ws, rounds), tasks(ws, rounds))
    atomic_write(output, data)
    return ExportResult(output, fmt, len(frame), wide)


def _csv_options(encoding: str) -> dict[str, Any]:
    """UTF-8 with a BOM, so that Excel on Chinese Windows opens it as it is; or GBK (written
    as GB18030, GBK's superset, so that no character is lost)."""
    chinese = encoding.lower().replace("-", "") in ("gbk", "gb18030", "gb2312")
    return {
        "index": False,
        "date_format": "%Y-%m-%d %H:%M:%S",
        "lineterminator": "\r\n",
        "encoding": "gb18030" if chinese else "utf-8-sig",
    }


def csv_bytes(frame: pd.DataFrame, encoding: str = "utf-8") -> bytes:
    """The CSV `export` writes, as bytes (the console sends them)."""
    buffer = io.BytesIO()
    frame.to_csv(buffer, **_csv_options(encoding))
    return buffer.getvalue()


def json_bytes(frame: pd.DataFrame) -> bytes:
    records = json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))
    return json.dumps(records, ensure_ascii=False, indent=1).encode("utf-8")


def xlsx_bytes(frame: pd.DataFrame, sheet: str) -> bytes:
    buffer = io.BytesIO()
    options = {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    plain = frame.copy()
    if "value" in plain:
        plain["value"] = plain["value"].map(_cell)
    with pd.ExcelWriter(
        buffer,
        engine="xlsxwriter",
        datetime_format="yyyy-mm-dd hh:mm:ss",
        date_format="yyyy-mm-dd",
        engine_kwargs={"options": options},
    ) as writer:
        writer.book.set_properties({"created": _FIXED_TIME, "title": f"xlflow {sheet}"})
        plain.to_excel(writer, sheet_name=sheet, index=False)
        sheet_ws = writer.sheets[sheet]
        sheet_ws.freeze_panes(1, 0)
        sheet_ws.autofilter(0, 0, len(plain), len(plain.columns) - 1)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    if importlib.util.find_spec("pyarrow") is None:
        raise Invalid("导出 Parquet 需要可选组件 pyarrow：pip install 'xlflow[parquet]'")
    plain = frame.copy()
    if "value" in plain:
        # one column holds numbers, dates and texts: Parquet keeps it as their text
        plain["value"] = plain["value"].map(lambda v: None if v is None else str(v))
    buffer = io.BytesIO()
    plain.to_parquet(buffer, engine="pyarrow", index=False)
    return buffer.getvalue()


SQLITE_SCHEMA = """
CREATE TABLE answers (
    round TEXT NOT NULL, round_title TEXT NOT NULL, task_id TEXT NOT NULL, task_name TEXT,
    "group" TEXT, division TEXT NOT NULL, role TEXT, field TEXT NOT NULL, field_label TEXT,
    value TEXT, number REAL, date TEXT, choice TEXT, text TEXT, status TEXT, percent REAL,
    file TEXT, sha256 TEXT, received TEXT, late INTEGER, decision TEXT
);
CREATE TABLE tasks (
    round TEXT NOT NULL, round_title TEXT NOT NULL, task_id TEXT NOT NULL, task_name TEXT,
    "group" TEXT, lead TEXT, cooperating TEXT, target TEXT, status TEXT, percent REAL,
    texts TEXT, note TEXT, conflict INTEGER
);
CREATE INDEX answers_by_task ON answers(round, task_id);
CREATE INDEX tasks_by_round ON tasks(round, task_id);
-- each group's average progress in each round
CREATE VIEW progress_by_group AS
    SELECT round, "group", COUNT(*) AS tasks, ROUND(AVG(percent), 1) AS average_percent
    FROM tasks GROUP BY round, "group";
-- each division's returns: the rounds it answered, and how many of those were late
CREATE VIEW returns_by_division AS
    SELECT division, COUNT(DISTINCT round) AS rounds_answered,
           COUNT(DISTINCT CASE WHEN late THEN round END) AS rounds_late
    FROM answers GROUP BY division;
-- each division's own status and percent of each task in each round
CREATE VIEW division_progress AS
    SELECT round, task_id, division, role, MAX(status) AS status, MAX(percent) AS percent
    FROM answers GROUP BY round, task_id, division, role;
"""


def sqlite_bytes(answers_frame: pd.DataFrame, tasks_frame: pd.DataFrame) -> bytes:
    """Both tables and the views of SQLITE_SCHEMA, as a file another database imports.
    The texts of a task (one column per text field in the frame) are one JSON object."""
    fixed = list(TASK_COLUMNS)
    texts = [c for c in tasks_frame.columns if c not in (*fixed, "note", "conflict")]
    with tempfile.TemporaryDirectory(prefix="xlflow-export-") as tmp:
        path = Path(tmp) / "export.sqlite"
        db = sqlite3.connect(path)
        try:
            db.executescript(SQLITE_SCHEMA)
            db.executemany(
                f"INSERT INTO answers VALUES ({','.join('?' * len(ANSWER_COLUMNS))})",
                (_sql_row(row) for row in answers_frame.itertuples(index=False, name=None)),
            )
            db.executemany(
                "INSERT INTO tasks VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    (
                        *_sql_row([row[c] for c in fixed]),
                        json.dumps({c: _plain(row[c]) for c in texts}, ensure_ascii=False),
                        _plain(row["note"]),
                        int(bool(row["conflict"])),
                    )
                    for row in tasks_frame.to_dict("records")
                ),
            )
            db.commit()
            db.execute("VACUUM")
        finally:
            db.close()
        return path.read_bytes()


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat(sep=" ")
    if isinstance(value, bool):
        return int(value)
    return value


def _sql_row(row: Sequence[Any]) -> tuple[Any, ...]:
    out = []
    for value in row:
        plain = _plain(value)
        out.append(plain if isinstance(plain, int | float | str) or plain is None else str(plain))
    return tuple(out)


__all__ = [
    "ANSWER_COLUMNS",
    "FORMATS",
    "SQLITE_SCHEMA",
    "TASK_COLUMNS",
    "ExportResult",
    "answers",
    "csv_bytes",
    "export",
    "json_bytes",
    "tasks",
]
