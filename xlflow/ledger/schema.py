"""The ledger's tables, every one in one place, and the columns added since a ledger was
first made, in the order they were added: a ledger of any earlier release opens."""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    title TEXT NOT NULL,
    year INTEGER,
    deadline TEXT,
    prefill_from TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    generated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS forms (
    round TEXT NOT NULL,
    division TEXT NOT NULL,
    spec TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (round, division)
);
CREATE TABLE IF NOT EXISTS files (
    round TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    verdict TEXT NOT NULL,
    division TEXT NOT NULL DEFAULT '',
    identified_round TEXT NOT NULL DEFAULT '',
    issues TEXT NOT NULL DEFAULT '[]',
    vals TEXT NOT NULL DEFAULT '{}',
    contact TEXT NOT NULL DEFAULT '{}',
    format TEXT NOT NULL DEFAULT '',
    application TEXT NOT NULL DEFAULT '',
    superseded_by TEXT NOT NULL DEFAULT '',
    first_seen TEXT NOT NULL,
    present INTEGER NOT NULL DEFAULT 1,
    context TEXT NOT NULL DEFAULT '',
    late INTEGER NOT NULL DEFAULT 0,
    origin TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (round, path, sha256)
);
CREATE INDEX IF NOT EXISTS files_by_division ON files(round, division);
CREATE TABLE IF NOT EXISTS receipts (
    round TEXT NOT NULL,
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (round, name)
);
CREATE TABLE IF NOT EXISTS register_heads (
    key TEXT PRIMARY KEY,
    head TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS register_tasks (
    key TEXT NOT NULL,
    pos INTEGER NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (key, pos)
);
-- the same tasks in one blob that Python reads back several times faster (see
-- RegisterTables.cached_register); `python` names the interpreter and format that wrote it
CREATE TABLE IF NOT EXISTS register_packed (
    key TEXT PRIMARY KEY,
    python TEXT NOT NULL,
    tasks BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS register_roles (
    key TEXT NOT NULL,
    division TEXT NOT NULL,
    pos INTEGER NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (key, division, pos, role)
);
CREATE TABLE IF NOT EXISTS round_units (
    round TEXT NOT NULL,
    name TEXT NOT NULL,
    unit TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (round, name, unit)
);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    round TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    by TEXT NOT NULL,
    at TEXT NOT NULL,
    path TEXT NOT NULL,
    undone_by TEXT NOT NULL DEFAULT '',
    undone_at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS register_versions (
    version INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    source TEXT NOT NULL,
    at TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS version_tasks (
    version INTEGER NOT NULL,
    pos INTEGER NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (version, pos)
);
CREATE TABLE IF NOT EXISTS lineage (
    from_version INTEGER NOT NULL,
    from_id TEXT NOT NULL,
    to_version INTEGER NOT NULL,
    to_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    score REAL NOT NULL DEFAULT 1,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS round_versions (
    round TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS extensions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    round TEXT NOT NULL,
    division TEXT NOT NULL,
    until TEXT NOT NULL,
    reason TEXT NOT NULL,
    by TEXT NOT NULL,
    at TEXT NOT NULL,
    undone_by TEXT NOT NULL DEFAULT '',
    undone_at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS explanation_reviews (
    round TEXT NOT NULL,
    division TEXT NOT NULL,
    task_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    said TEXT NOT NULL,
    verdict TEXT NOT NULL,
    note TEXT NOT NULL,
    by TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (round, division, task_id, rule)
);
CREATE TABLE IF NOT EXISTS mail_fetched (
    message_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    path TEXT NOT NULL,
    account TEXT NOT NULL,
    folder TEXT NOT NULL,
    uid TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mail_fetched_by_id ON mail_fetched(message_id);
CREATE TABLE IF NOT EXISTS mail_sent (
    round TEXT NOT NULL,
    what TEXT NOT NULL,
    division TEXT NOT NULL,
    message_id TEXT NOT NULL,
    recipients TEXT NOT NULL,
    attachment TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    round TEXT NOT NULL,
    kind TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    files INTEGER NOT NULL,
    changed INTEGER NOT NULL
);
"""
LEDGER_VERSION = "1"
# SQLite's Unix file layer opens a database by its full path, up to 512 bytes with the
# suffix of its journal: about 165 Chinese characters
MAX_PATH_BYTES = 500


# columns added after a ledger was first made: (table, column, definition)
ADDED_COLUMNS = (("files", "origin", "TEXT NOT NULL DEFAULT ''"),)
