"""The service's own records in SQLite beside the index (index/qa.sqlite3): readers' feedback and
upload jobs.

One `connect` opens the database (WAL mode, so readers never wait for the writer) and brings its
schema up to date: the schema version is SQLite's `user_version`, and each entry of MIGRATIONS
takes the database one version further. A new table is a new entry at the end.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

DB_FILE = "qa.sqlite3"
BUSY_TIMEOUT_SECONDS = 10

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: readers' verdicts on answers (qa.feedback); IF NOT EXISTS: databases made before this module.
    (
        """CREATE TABLE IF NOT EXISTS feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('useful', 'wrong')),
        question TEXT NOT NULL,
        resolved_question TEXT,
        answer TEXT,
        article_id TEXT,
        article_title TEXT,
        source TEXT,
        answer_start INTEGER,
        answer_end INTEGER,
        confidence REAL,
        build_id TEXT,
        note TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created_at)",
    ),
    # 2: upload jobs (qa.jobs); params and result are JSON, so a job can be run again after a restart.
    (
        """CREATE TABLE jobs (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
        description TEXT NOT NULL DEFAULT '',
        params      TEXT NOT NULL DEFAULT '{}',
        created_at  TEXT NOT NULL,
        started_at  TEXT,
        finished_at TEXT,
        result      TEXT,
        error       TEXT,
        error_code  TEXT,
        attempts    INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX jobs_by_status ON jobs (status, created_at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def db_path(index_dir: Path) -> Path:
    return index_dir / DB_FILE


def connect(index_dir: Path) -> sqlite3.Connection:
    """Open the database, creating it and migrating its schema as needed; rows are sqlite3.Row. The
    connection may be used from several threads if the caller serialises its use (qa.jobs holds a lock).

    Raises sqlite3.Error or OSError when the index directory cannot hold it; a database written by a
    newer version (schema ahead of this code) is refused rather than misread."""
    index_dir.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(db_path(index_dir), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                                 check_same_thread=False)
    try:
        connection.row_factory = sqlite3.Row
        if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable at each checkpoint, never corrupt
        if _version(connection) != SCHEMA_VERSION:
            _migrate(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def _version(connection: sqlite3.Connection) -> int:
    return connection.execute("PRAGMA user_version").fetchone()[0]


def _migrate(connection: sqlite3.Connection) -> None:
    """Each step in its own write transaction, re-reading the version inside it: two processes
    opening a new database at once migrate it once."""
    for number, statements in enumerate(MIGRATIONS, start=1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = _version(connection)
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"{DB_FILE} 的结构版本是 {version}，本程序只认识到 {SCHEMA_VERSION}：请升级 qa"
                )
            if version < number:
                for statement in statements:
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {number}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
