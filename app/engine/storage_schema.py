"""The database's tables and the steps that bring an older file up to them (``PRAGMA user_version``)."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable

SCHEMA_VERSION = 4

MIGRATIONS: dict[int, str | Callable[[sqlite3.Connection], None]] = {
    1: """
    CREATE TABLE collections (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        name        TEXT NOT NULL UNIQUE,
        schema      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        next_doc_id INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE documents (
        label         INTEGER PRIMARY KEY AUTOINCREMENT,
        collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        doc_id        TEXT NOT NULL,
        body          TEXT NOT NULL,
        seq           INTEGER NOT NULL,
        UNIQUE (collection_id, doc_id)
    );
    CREATE INDEX documents_by_seq ON documents (collection_id, seq);
    CREATE TABLE vectors (
        label  INTEGER NOT NULL REFERENCES documents(label) ON DELETE CASCADE,
        field  TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (label, field)
    ) WITHOUT ROWID;
    CREATE TABLE tombstones (
        collection_id INTEGER NOT NULL,
        label         INTEGER NOT NULL,
        seq           INTEGER NOT NULL
    );
    CREATE INDEX tombstones_by_seq ON tombstones (collection_id, seq);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO counters VALUES ('seq', 0);
    """,
    # Folders a collection follows (kept in step with the disk by app.engine.folders).
    2: """
    CREATE TABLE sources (
        collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        path          TEXT NOT NULL,
        added_at      INTEGER NOT NULL,
        last_scan     INTEGER,
        status        TEXT NOT NULL DEFAULT 'new',
        reason        TEXT NOT NULL DEFAULT '',
        device        INTEGER,
        mounts        TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (collection_id, path)
    );
    CREATE TABLE file_failures (
        collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        path          TEXT NOT NULL,
        file_size     INTEGER NOT NULL,
        file_mtime    REAL NOT NULL,
        error         TEXT NOT NULL,
        PRIMARY KEY (collection_id, path)
    );
    """,
    # Bodies with NaN or Infinity (older versions wrote them) made SQLite's json functions fail.
    3: lambda conn: _repair_bodies(conn),
    # Perceptual hashes of photos' files, cached by app.engine.duplicate_evidence (keyed by file size+mtime).
    # IF NOT EXISTS: a file whose user_version was set back (an older Photoseek's repair) already has it.
    4: """
    CREATE TABLE IF NOT EXISTS picture_hashes (
        label      INTEGER PRIMARY KEY REFERENCES documents(label) ON DELETE CASCADE,
        file_size  INTEGER NOT NULL,
        file_mtime REAL NOT NULL,
        phash      TEXT NOT NULL,
        dhash      TEXT NOT NULL,
        pixels     BLOB NOT NULL
    );
    """,
}


def encode(body: dict) -> str:
    """A document body as stored. allow_nan=False: Python would write NaN, which is not JSON, and SQLite's
    json functions then fail on the row (documents.check_storable names the field before it gets here)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _repair_bodies(conn: sqlite3.Connection) -> None:
    """Schema 3: bodies older versions wrote with NaN or Infinity (invalid JSON) get null there instead."""
    rows = conn.execute("SELECT label, body FROM documents WHERE NOT json_valid(body)").fetchall()
    for label, text in rows:
        try:
            body = _finite(json.loads(text))
            if not isinstance(body, dict):
                continue
            fixed = encode(body)
        except (ValueError, TypeError, RecursionError):
            continue  # really damaged: the readers skip and report it
        conn.execute("UPDATE documents SET body = ? WHERE label = ?", (fixed, label))


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def split_sql(script: str) -> list[str]:
    # executescript() would COMMIT our migration transaction behind our back, so run statements one by one.
    return [s.strip() for s in script.split(";") if s.strip()]
