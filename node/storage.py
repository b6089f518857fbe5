"""SQLite storage through sqlite-utils: one database file per node, WAL, migrations.

Each component declares its own :class:`Migrations` set (``node.core``, ``node.issuing``...);
:func:`migrate` applies them in a fixed order. Signed credentials are stored verbatim as the
exact text issued, beside indexed columns, and never re-serialised.

All database calls run on the event loop's thread (one connection per process), so every
write is serialised; multi-step writes use ``with db.atomic():``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

__all__ = ["MIGRATION_SETS", "Database", "Migrations", "migrate", "open_db", "register"]

#: Migration sets in the order they apply. Components register theirs with :func:`register`.
MIGRATION_SETS: list[Migrations] = []


def register(name: str) -> Migrations:
    """Create (once) and return the migration set called ``name``."""
    for existing in MIGRATION_SETS:
        if existing.name == name:
            return existing
    migrations = Migrations(name)
    MIGRATION_SETS.append(migrations)
    return migrations


def open_db(path: Path) -> Database:
    """Open (creating if needed) the node database: WAL, foreign keys, a busy timeout."""
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    db = Database(conn, strict=True)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def migrate(db: Database, sets: Sequence[Migrations] | None = None) -> None:
    """Apply every pending migration (running it twice is safe)."""
    for migrations in sets if sets is not None else MIGRATION_SETS:
        migrations.apply(db)
