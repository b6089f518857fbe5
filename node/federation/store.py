"""The federation's tables (migration set ``node.federation``) and every SQL statement on them.

All calls run on the event loop's thread (one connection); multi-step writes are wrapped by the
caller in ``with db.atomic():``. Signed documents (events, registries, endorsements) are stored
as the exact text received or made: events in their RFC 8785 form, which is what their proof
signs, so serving them again never breaks a signature.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from protocol.federation import Cursor

from ..storage import register

__all__ = ["Store", "migrations"]

migrations = register("node.federation")


@migrations()
def m001_federation(db: Database) -> None:
    statements = [
        # Key/value state: network, steward, name, membership credential, role.
        """CREATE TABLE federation_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT""",
        # Every registry version this node verified (or, as steward, signed).
        """CREATE TABLE federation_registries (
            version INTEGER PRIMARY KEY,
            digest TEXT NOT NULL UNIQUE,
            document TEXT NOT NULL,
            received_at TEXT NOT NULL
        ) STRICT""",
        # Invitations the steward signed; used_at is set when redeemed (single use).
        """CREATE TABLE federation_invitations (
            nonce TEXT PRIMARY KEY,
            invitee TEXT,
            name TEXT,
            document TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT,
            used_by TEXT
        ) STRICT""",
        # This node's own feed.
        """CREATE TABLE federation_feed (
            seq INTEGER PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            time TEXT NOT NULL,
            event TEXT NOT NULL
        ) STRICT""",
        # What the feed last said about each local item (achievement, offer, status list).
        """CREATE TABLE federation_published (
            item TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            seq INTEGER NOT NULL
        ) STRICT""",
        # Pull state per source: cursor (last applied event), failures, fork evidence.
        """CREATE TABLE federation_peers (
            did TEXT PRIMARY KEY,
            cursor_seq INTEGER NOT NULL DEFAULT 0,
            cursor_hash TEXT,
            head_seq INTEGER NOT NULL DEFAULT 0,
            last_attempt_at TEXT,
            last_success_at TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            blocked TEXT
        ) STRICT""",
        # Events applied from other members (verbatim, canonical).
        """CREATE TABLE federation_events (
            source TEXT NOT NULL,
            seq INTEGER NOT NULL,
            hash TEXT NOT NULL,
            type TEXT NOT NULL,
            time TEXT NOT NULL,
            event TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (source, seq)
        ) STRICT""",
        # The network catalogue: achievements and training offers of every member.
        """CREATE TABLE federation_catalogue (
            n INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            source TEXT NOT NULL,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            skills TEXT NOT NULL DEFAULT '',
            language TEXT NOT NULL DEFAULT '',
            document TEXT NOT NULL,
            retired INTEGER NOT NULL DEFAULT 0,
            seq INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        ) STRICT""",
        "CREATE INDEX federation_catalogue_source ON federation_catalogue (source)",
        """CREATE TABLE federation_catalogue_skills (
            item INTEGER NOT NULL REFERENCES federation_catalogue (n) ON DELETE CASCADE,
            skill TEXT NOT NULL
        ) STRICT""",
        "CREATE INDEX federation_catalogue_skills_item ON federation_catalogue_skills (item)",
        "CREATE INDEX federation_catalogue_skills_skill ON federation_catalogue_skills (skill)",
        """CREATE VIRTUAL TABLE federation_catalogue_fts USING fts5(
            name, description, skills,
            content='federation_catalogue', content_rowid='n',
            tokenize='unicode61 remove_diacritics 2'
        )""",
        """CREATE TRIGGER federation_catalogue_ai AFTER INSERT ON federation_catalogue BEGIN
            INSERT INTO federation_catalogue_fts (rowid, name, description, skills)
            VALUES (new.n, new.name, new.description, new.skills);
        END""",
        """CREATE TRIGGER federation_catalogue_ad AFTER DELETE ON federation_catalogue BEGIN
            INSERT INTO federation_catalogue_fts (federation_catalogue_fts, rowid, name,
                description, skills)
            VALUES ('delete', old.n, old.name, old.description, old.skills);
        END""",
        """CREATE TRIGGER federation_catalogue_au AFTER UPDATE ON federation_catalogue BEGIN
            INSERT INTO federation_catalogue_fts (federation_catalogue_fts, rowid, name,
                description, skills)
            VALUES ('delete', old.n, old.name, old.description, old.skills);
            INSERT INTO federation_catalogue_fts (rowid, name, description, skills)
            VALUES (new.n, new.name, new.description, new.skills);
        END""",
        # Endorsements issued by members (this node's own included), verified before storing.
        """CREATE TABLE federation_endorsements (
            id TEXT PRIMARY KEY,
            endorser TEXT NOT NULL,
            subject TEXT NOT NULL,
            document TEXT NOT NULL,
            time TEXT NOT NULL
        ) STRICT""",
        "CREATE INDEX federation_endorsements_subject ON federation_endorsements (subject)",
        # This node's training offers (published in its feed).
        """CREATE TABLE federation_offers (
            id TEXT PRIMARY KEY,
            document TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            retired_at TEXT
        ) STRICT""",
        # Copies of members' DID documents and status lists, for offline bundles.
        """CREATE TABLE federation_documents (
            url TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            owner TEXT NOT NULL,
            document TEXT NOT NULL,
            retrieved_at TEXT NOT NULL
        ) STRICT""",
        # Nonces of accepted request signatures, kept until they expire (replay cache).
        """CREATE TABLE federation_nonces (
            nonce TEXT PRIMARY KEY,
            expires_at TEXT NOT NULL
        ) STRICT""",
        # Every refused message, with its reason.
        """CREATE TABLE federation_rejections (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            peer TEXT,
            channel TEXT NOT NULL,
            code TEXT NOT NULL,
            reason TEXT NOT NULL
        ) STRICT""",
    ]
    for statement in statements:
        db.execute(statement)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class Store:
    """SQL access for the federation component."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- key/value state ----------------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM federation_state WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO federation_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    # -- registries ---------------------------------------------------------------------------

    def latest_registry(self) -> tuple[int, str] | None:
        """(version, document text) of the newest registry stored."""
        row = self.db.execute(
            "SELECT version, document FROM federation_registries ORDER BY version DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def registry_version(self, version: int) -> str | None:
        row = self.db.execute(
            "SELECT document FROM federation_registries WHERE version = ?", [version]
        ).fetchone()
        return None if row is None else str(row[0])

    def add_registry(self, version: int, digest: str, text: str, now: datetime) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO federation_registries (version, digest, document, received_at) "
            "VALUES (?, ?, ?, ?)",
            [version, digest, text, _iso(now)],
        )

    # -- invitations --------------------------------------------------------------------------

    def add_invitation(
        self,
        *,
        nonce: str,
        invitee: str | None,
        name: str | None,
        text: str,
        created: datetime,
        expires: datetime,
    ) -> None:
        self.db.table("federation_invitations").insert(
            {
                "nonce": nonce,
                "invitee": invitee,
                "name": name,
                "document": text,
                "created_at": _iso(created),
                "expires_at": _iso(expires),
                "used_at": None,
                "used_by": None,
            }
        )

    def invitation_used(self, nonce: str) -> bool:
        row = self.db.execute(
            "SELECT used_at FROM federation_invitations WHERE nonce = ?", [nonce]
        ).fetchone()
        return row is not None and row[0] is not None

    def invitation_known(self, nonce: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM federation_invitations WHERE nonce = ?", [nonce]
        ).fetchone()
        return row is not None

    def use_invitation(self, nonce: str, did: str, now: datetime) -> bool:
        """Mark the invitation used; False when it was used already (a concurrent redemption)."""
        cursor = self.db.execute(
            "UPDATE federation_invitations SET used_at = ?, used_by = ? "
            "WHERE nonce = ? AND used_at IS NULL",
            [_iso(now), did, nonce],
        )
        return cursor.rowcount == 1

    def invitations(self) -> list[dict[str, Any]]:
        return [
            dict(row)
            for row in self.db.query(
                "SELECT nonce, invitee, name, created_at, expires_at, used_at, used_by "
                "FROM federation_invitations ORDER BY created_at DESC"
            )
        ]

    # -- own feed -----------------------------------------------------------------------------

    def head(self) -> Cursor:
        row = self.db.execute(
            "SELECT seq, hash FROM federation_feed ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return Cursor(0) if row is None else Cursor(int(row[0]), str(row[1]))

    def feed_hash(self, seq: int) -> str | None:
        row = self.db.execute("SELECT hash FROM federation_feed WHERE seq = ?", [seq]).fetchone()
        return None if row is None else str(row[0])

    def append_feed(self, seq: int, hash_: str, kind: str, time: str, text: str) -> None:
        self.db.execute(
            "INSERT INTO federation_feed (seq, hash, type, time, event) VALUES (?, ?, ?, ?, ?)",
            [seq, hash_, kind, time, text],
        )

    def feed_after(self, seq: int, limit: int) -> list[tuple[int, str, str]]:
        """(seq, hash, event text) of up to ``limit`` events after ``seq``, oldest first."""
        return [
            (int(r[0]), str(r[1]), str(r[2]))
            for r in self.db.execute(
                "SELECT seq, hash, event FROM federation_feed WHERE seq > ? ORDER BY seq LIMIT ?",
                [seq, limit],
            )
        ]

    def published(self, kind: str) -> dict[str, str]:
        return {
            str(r[0]): str(r[1])
            for r in self.db.execute(
                "SELECT item, state FROM federation_published WHERE kind = ?", [kind]
            )
        }

    def set_published(self, item: str, kind: str, state: str, seq: int) -> None:
        self.db.execute(
            "INSERT INTO federation_published (item, kind, state, seq) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (item) DO UPDATE SET state = excluded.state, seq = excluded.seq",
            [item, kind, state, seq],
        )

    # -- peers --------------------------------------------------------------------------------

    def cursor(self, did: str) -> Cursor:
        row = self.db.execute(
            "SELECT cursor_seq, cursor_hash FROM federation_peers WHERE did = ?", [did]
        ).fetchone()
        if row is None or not row[0]:
            return Cursor(0)
        return Cursor(int(row[0]), str(row[1]))

    def peer(self, did: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM federation_peers WHERE did = ?", [did]))
        return dict(rows[0]) if rows else None

    def peers(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.query("SELECT * FROM federation_peers ORDER BY did")]

    def ensure_peer(self, did: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO federation_peers (did) VALUES (?)", [did])

    def set_cursor(self, did: str, cursor: Cursor, now: datetime) -> None:
        self.ensure_peer(did)
        self.db.execute(
            "UPDATE federation_peers SET cursor_seq = ?, cursor_hash = ?, last_success_at = ?, "
            "failures = 0, last_error = NULL WHERE did = ?",
            [cursor.seq, cursor.hash, _iso(now), did],
        )

    def note_head(self, did: str, seq: int) -> None:
        self.ensure_peer(did)
        self.db.execute(
            "UPDATE federation_peers SET head_seq = max(head_seq, ?) WHERE did = ?", [seq, did]
        )

    def note_attempt(self, did: str, now: datetime) -> None:
        self.ensure_peer(did)
        self.db.execute(
            "UPDATE federation_peers SET last_attempt_at = ? WHERE did = ?", [_iso(now), did]
        )

    def note_success(self, did: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE federation_peers SET last_success_at = ?, failures = 0, last_error = NULL "
            "WHERE did = ?",
            [_iso(now), did],
        )

    def note_failure(self, did: str, error: str) -> int:
        self.ensure_peer(did)
        self.db.execute(
            "UPDATE federation_peers SET failures = failures + 1, last_error = ? WHERE did = ?",
            [error[:1000], did],
        )
        row = self.db.execute("SELECT failures FROM federation_peers WHERE did = ?", [did])
        return int(row.fetchone()[0])

    def block_peer(self, did: str, evidence: str) -> None:
        self.ensure_peer(did)
        self.db.execute(
            "UPDATE federation_peers SET blocked = ? WHERE did = ?", [evidence[:2000], did]
        )

    # -- peer events --------------------------------------------------------------------------

    def event_hashes(self, source: str, seqs: Iterable[int]) -> dict[int, str]:
        wanted = sorted(set(seqs))
        if not wanted:
            return {}
        marks = ", ".join("?" for _ in wanted)
        rows = self.db.execute(
            f"SELECT seq, hash FROM federation_events WHERE source = ? AND seq IN ({marks})",  # noqa: S608
            [source, *wanted],
        )
        return {int(r[0]): str(r[1]) for r in rows}

    def add_event(
        self, *, source: str, seq: int, hash_: str, kind: str, time: str, text: str, now: datetime
    ) -> None:
        self.db.execute(
            "INSERT INTO federation_events (source, seq, hash, type, time, event, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [source, seq, hash_, kind, time, text, _iso(now)],
        )

    def event_count(self, source: str | None = None) -> int:
        if source is None:
            row = self.db.execute("SELECT count(*) FROM federation_events").fetchone()
        else:
            row = self.db.execute(
                "SELECT count(*) FROM federation_events WHERE source = ?", [source]
            ).fetchone()
        return int(row[0])

    # -- catalogue ----------------------------------------------------------------------------

    def upsert_item(
        self,
        *,
        item_id: str,
        kind: str,
        source: str,
        name: str,
        description: str,
        skills: list[str],
        language: str,
        document: Mapping[str, Any],
        seq: int,
        now: datetime,
    ) -> None:
        text = json.dumps(document, ensure_ascii=False, sort_keys=True)
        row = self.db.execute(
            "INSERT INTO federation_catalogue (id, kind, source, name, description, skills, "
            "language, document, retired, seq, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, source = excluded.source, "
            "name = excluded.name, description = excluded.description, "
            "skills = excluded.skills, language = excluded.language, "
            "document = excluded.document, retired = 0, seq = excluded.seq, "
            "updated_at = excluded.updated_at RETURNING n",
            [
                item_id,
                kind,
                source,
                name,
                description,
                "\n".join(skills),
                language,
                text,
                seq,
                _iso(now),
            ],
        ).fetchone()
        number = int(row[0])
        self.db.execute("DELETE FROM federation_catalogue_skills WHERE item = ?", [number])
        self.db.conn.executemany(
            "INSERT INTO federation_catalogue_skills (item, skill) VALUES (?, ?)",
            [(number, skill) for skill in sorted({s.lower() for s in skills if s})],
        )

    def retire_item(self, item_id: str, source: str, seq: int, now: datetime) -> None:
        self.db.execute(
            "UPDATE federation_catalogue SET retired = 1, seq = ?, updated_at = ? "
            "WHERE id = ? AND source = ?",
            [seq, _iso(now), item_id, source],
        )

    def search(
        self,
        *,
        q: str | None,
        skill: str | None,
        issuers: list[str] | None,
        lang: str | None,
        kind: str | None,
        retired: bool,
        limit: int,
        offset: int,
    ) -> tuple[int, list[dict[str, Any]]]:
        where: list[str] = []
        args: list[Any] = []
        if q:
            where.append(
                "c.n IN (SELECT rowid FROM federation_catalogue_fts "
                "WHERE federation_catalogue_fts MATCH ?)"
            )
            args.append(q)
        if skill:
            where.append(
                "EXISTS (SELECT 1 FROM federation_catalogue_skills s WHERE s.item = c.n "
                "AND (s.skill = ? OR instr(s.skill, ?) > 0))"
            )
            args.extend([skill.lower(), skill.lower()])
        if issuers is not None:
            where.append("c.source IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(issuers))
        if lang:
            where.append("(c.language = ? OR c.language LIKE ?)")
            args.extend([lang, lang + "-%"])
        if kind:
            where.append("c.kind = ?")
            args.append(kind)
        if not retired:
            where.append("c.retired = 0")
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        total = int(
            self.db.execute(
                f"SELECT count(*) FROM federation_catalogue c {clause}",  # noqa: S608
                args,
            ).fetchone()[0]
        )
        rows = self.db.query(
            "SELECT c.id, c.kind, c.source, c.name, c.language, c.document, c.retired, "  # noqa: S608
            f"c.updated_at FROM federation_catalogue c {clause} "
            "ORDER BY c.name COLLATE NOCASE, c.id LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        return total, [dict(r) for r in rows]

    def item(self, item_id: str) -> dict[str, Any] | None:
        rows = list(
            self.db.query(
                "SELECT id, kind, source, name, language, document, retired, updated_at "
                "FROM federation_catalogue WHERE id = ?",
                [item_id],
            )
        )
        return dict(rows[0]) if rows else None

    def catalogue_count(self, *, retired: bool = False) -> int:
        clause = "" if retired else " WHERE retired = 0"
        row = self.db.execute(f"SELECT count(*) FROM federation_catalogue{clause}").fetchone()  # noqa: S608
        return int(row[0])

    # -- endorsements -------------------------------------------------------------------------

    def add_endorsement(
        self, *, endorsement_id: str, endorser: str, subject: str, text: str, time: str
    ) -> None:
        self.db.execute(
            "INSERT INTO federation_endorsements (id, endorser, subject, document, time) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            [endorsement_id, endorser, subject, text, time],
        )

    def endorsements_of(self, subject: str) -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self.db.query(
                "SELECT id, endorser, subject, document, time FROM federation_endorsements "
                "WHERE subject = ? ORDER BY time, id",
                [subject],
            )
        ]

    def endorsement(self, endorsement_id: str) -> dict[str, Any] | None:
        rows = list(
            self.db.query(
                "SELECT id, endorser, subject, document, time FROM federation_endorsements "
                "WHERE id = ?",
                [endorsement_id],
            )
        )
        return dict(rows[0]) if rows else None

    def endorsements_by(self, endorser: str) -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self.db.query(
                "SELECT id, endorser, subject, document, time FROM federation_endorsements "
                "WHERE endorser = ? ORDER BY time, id",
                [endorser],
            )
        ]

    # -- offers -------------------------------------------------------------------------------

    def offers(self) -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self.db.query(
                "SELECT id, document, created_at, updated_at, retired_at FROM federation_offers "
                "ORDER BY created_at"
            )
        ]

    def offer(self, offer_id: str) -> dict[str, Any] | None:
        rows = list(
            self.db.query(
                "SELECT id, document, created_at, updated_at, retired_at FROM federation_offers "
                "WHERE id = ?",
                [offer_id],
            )
        )
        return dict(rows[0]) if rows else None

    def save_offer(self, offer_id: str, document: Mapping[str, Any], now: datetime) -> None:
        text = json.dumps(document, ensure_ascii=False, sort_keys=True)
        self.db.execute(
            "INSERT INTO federation_offers (id, document, created_at, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET document = excluded.document, "
            "updated_at = excluded.updated_at",
            [offer_id, text, _iso(now), _iso(now)],
        )

    def retire_offer(self, offer_id: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE federation_offers SET retired_at = coalesce(retired_at, ?), updated_at = ? "
            "WHERE id = ?",
            [_iso(now), _iso(now), offer_id],
        )

    # -- documents kept for bundles -----------------------------------------------------------

    def save_document(
        self, url: str, kind: str, owner: str, document: Mapping[str, Any], now: datetime
    ) -> None:
        text = json.dumps(document, ensure_ascii=False, sort_keys=True)
        self.db.execute(
            "INSERT INTO federation_documents (url, kind, owner, document, retrieved_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET document = excluded.document, "
            "retrieved_at = excluded.retrieved_at, owner = excluded.owner",
            [url, kind, owner, text, _iso(now)],
        )

    def documents(self, kind: str) -> list[tuple[str, str, dict[str, Any], datetime]]:
        """(url, owner, document, retrieved_at) of the stored copies of ``kind``."""
        return [
            (str(r[0]), str(r[1]), json.loads(r[2]), datetime.fromisoformat(str(r[3])))
            for r in self.db.execute(
                "SELECT url, owner, document, retrieved_at FROM federation_documents "
                "WHERE kind = ? ORDER BY url",
                [kind],
            )
        ]

    def document_time(self, url: str) -> datetime | None:
        row = self.db.execute(
            "SELECT retrieved_at FROM federation_documents WHERE url = ?", [url]
        ).fetchone()
        return None if row is None else datetime.fromisoformat(str(row[0]))

    # -- replay cache -------------------------------------------------------------------------

    def nonce_seen(self, nonce: str) -> bool:
        row = self.db.execute(
            "SELECT expires_at FROM federation_nonces WHERE nonce = ?", [nonce]
        ).fetchone()
        return row is not None

    def add_nonce(self, nonce: str, expires: datetime) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO federation_nonces (nonce, expires_at) VALUES (?, ?)",
            [nonce, _iso(expires)],
        )

    def prune_nonces(self, now: datetime) -> int:
        cursor = self.db.execute("DELETE FROM federation_nonces WHERE expires_at < ?", [_iso(now)])
        return int(cursor.rowcount)

    # -- rejections ---------------------------------------------------------------------------

    def reject(
        self, *, now: datetime, peer: str | None, channel: str, code: str, reason: str
    ) -> None:
        self.db.execute(
            "INSERT INTO federation_rejections (at, peer, channel, code, reason) "
            "VALUES (?, ?, ?, ?, ?)",
            [_iso(now), peer, channel, code, reason[:2000]],
        )

    def rejections(self, limit: int = 100) -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self.db.query(
                "SELECT id, at, peer, channel, code, reason FROM federation_rejections "
                "ORDER BY id DESC LIMIT ?",
                [limit],
            )
        ]
