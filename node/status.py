"""Bitstring Status Lists of the node: allocation, status changes, signed lists (``"status"``).

Each credential the node issues carries **one** ``BitstringStatusListEntry`` (OB 3.0 allows a
single ``credentialStatus`` object). The entry points into a list of the credential's issuer
(the list credential is signed by the same DID, so verifiers can trust it) and of one purpose:

* ``revocation`` (the default): the bit is set once, for good;
* ``suspension`` (asked for at issuance): the bit can be set and cleared. Revoking such a
  credential sets the bit for good and records the revocation, so it cannot be unsuspended.

A credential cannot be both revocable and suspendable on the wire, because a second entry would
break the OB 3.0 schema; ``specs/node-api.md`` ("Status lists") explains the choice.

Allocation is random and never reuses an index: :meth:`StatusService.reserve` draws a free index
of the issuer's current list in memory, and :meth:`StatusService.commit` writes it beside the
credential row **in the caller's transaction**, under a ``PRIMARY KEY (list_id, idx)``. A crash
before the commit leaves nothing behind (the credential was never issued, so the index is free
again); after it, both rows exist. A list holds ``config.status_list_entries`` (>= 131,072)
entries; when it is full the next reservation opens a new list.

Changing a status (:meth:`StatusService.set_status`) updates the entry and re-signs the list
credential (eddsa-rdfc-2022 with the issuer's Ed25519 key, ecdsa-rdfc-2019 for a P-256-only
did:key issuer) in one transaction. ``GET /status/{list_id}`` serves the stored list verbatim
with ``Cache-Control``, ``ETag`` and ``Last-Modified`` (304 on ``If-None-Match``); a list older
than :data:`RESIGN_AFTER` is re-signed when served, and each signature is valid for
:data:`LIST_VALIDITY`, so a replayed old list goes stale.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime as http_date
from email.utils import parsedate_to_datetime
from typing import Any, cast

from aiohttp import web
from sqlite_utils import Database

from protocol.di import sign
from protocol.keys import KeyPair
from protocol.status import StatusBitstring, build_status_entry, build_status_list_credential

from .appkeys import CLOCK, CONFIG, DB, SERVICES
from .auth import public
from .config import NodeConfig
from .problems import Problem
from .storage import register

__all__ = [
    "LIST_VALIDITY",
    "PURPOSES",
    "RESIGN_AFTER",
    "Reservation",
    "StatusService",
    "setup",
]

#: Status purposes the node issues entries for.
PURPOSES = ("revocation", "suspension")
#: How long one signature of a list credential is valid (``validUntil - validFrom``).
LIST_VALIDITY = timedelta(days=2)
#: A served list older than this is re-signed first (well before :data:`LIST_VALIDITY` ends).
RESIGN_AFTER = timedelta(hours=12)
#: Random draws tried before picking uniformly among the free indexes of a dense list.
_RANDOM_TRIES = 24
#: Media types a list credential is served as (the first one unless ``Accept`` names another).
_LIST_TYPES = (
    "application/ld+json",
    "application/vc",
    "application/vc+ld+json",
    "application/json",
)
#: Problem ``type`` prefix of Bitstring Status List errors (BSL 3.5, specs/status.md 7).
BSL_PROBLEM_BASE = "https://www.w3.org/ns/credentials/status-list#"
#: A list's public id: 32 lower-case hex digits (a random UUID).
_PUBLIC_ID = re.compile(r"[0-9a-f]{32}")
#: The share of a list allocated before the next issuance opens a new list (specs/status.md
#: ST-8: random draws stay cheap, and the last holders of a list are never few).
CLOSE_AT = 0.75

migrations = register("node.status")


@migrations()
def m001_status_tables(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE status_lists (
            id INTEGER PRIMARY KEY,
            issuer TEXT NOT NULL,
            purpose TEXT NOT NULL,
            size INTEGER NOT NULL,
            allocated INTEGER NOT NULL DEFAULT 0,
            full INTEGER NOT NULL DEFAULT 0,
            credential TEXT NOT NULL,
            etag TEXT NOT NULL,
            signed_at TEXT NOT NULL,
            created_at TEXT NOT NULL
        ) STRICT
        """
    )
    db.execute("CREATE INDEX status_lists_current ON status_lists (issuer, purpose, full)")
    db.execute(
        """
        CREATE TABLE status_entries (
            list_id INTEGER NOT NULL REFERENCES status_lists (id),
            idx INTEGER NOT NULL,
            credential_id TEXT NOT NULL,
            value INTEGER NOT NULL DEFAULT 0,
            final INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT,
            PRIMARY KEY (list_id, idx)
        ) STRICT
        """
    )
    db.execute("CREATE INDEX status_entries_credential ON status_entries (credential_id)")


@migrations()
def m002_public_list_ids(db: Database) -> None:
    # List URLs carry a random id (specs/status.md ST-9), not the internal counter.
    db.execute("ALTER TABLE status_lists ADD COLUMN public_id TEXT")
    for (list_id,) in db.execute("SELECT id FROM status_lists").fetchall():
        db.execute(
            "UPDATE status_lists SET public_id = ? WHERE id = ?", [uuid.uuid4().hex, list_id]
        )
    db.execute("CREATE UNIQUE INDEX status_lists_public_id ON status_lists (public_id)")


@dataclass
class _ListState:
    """In-memory allocation state of one list: which indexes are taken (committed or reserved)."""

    id: int
    issuer: str
    purpose: str
    size: int
    taken: bytearray
    count: int

    def is_taken(self, index: int) -> bool:
        return bool(self.taken[index >> 3] & (0x80 >> (index & 7)))

    def mark(self, index: int) -> None:
        self.taken[index >> 3] |= 0x80 >> (index & 7)
        self.count += 1

    def unmark(self, index: int) -> None:
        self.taken[index >> 3] &= ~(0x80 >> (index & 7)) & 0xFF
        self.count -= 1

    def nth_free(self, n: int) -> int:
        """The index of the ``n``-th free entry (0-based), scanning bytes then bits."""
        full_bytes, tail_bits = divmod(self.size, 8)
        for position in range(full_bytes + (1 if tail_bits else 0)):
            byte = self.taken[position]
            width = 8 if position < full_bytes else tail_bits
            free = width - (byte >> (8 - width)).bit_count()
            if n >= free:
                n -= free
                continue
            for bit in range(width):
                if not byte & (0x80 >> bit):
                    if n == 0:
                        return position * 8 + bit
                    n -= 1
        raise RuntimeError("no free index although the count says there is one")


@dataclass(frozen=True)
class Reservation:
    """A drawn index, not yet written: :meth:`StatusService.commit` it with the credential row."""

    list_id: int
    index: int
    purpose: str
    issuer: str
    entry: dict[str, Any] = field(repr=False)


class StatusService:
    """The node's status lists (the ``"status"`` service)."""

    def __init__(self, config: NodeConfig, db: Database, services: Mapping[str, Any]) -> None:
        self.config = config
        self.db = db
        self._services = services
        self._lists: dict[int, _ListState] = {}
        self._current: dict[tuple[str, str], int] = {}
        self._public_ids: dict[int, str] = {}

    # -- URLs ------------------------------------------------------------------------------

    def list_url(self, list_id: int) -> str:
        """The public URL of a list credential: ``<public_url>/status/<random id>``."""
        public_id = self._public_ids.get(list_id)
        if public_id is None:
            row = self.db.execute(
                "SELECT public_id FROM status_lists WHERE id = ?", [list_id]
            ).fetchone()
            if row is None:
                raise Problem(404, "not-found", "no such status list")
            public_id = self._public_ids[list_id] = str(row[0])
        return f"{self.config.base_url}/status/{public_id}"

    def list_id_for_public_id(self, public_id: str) -> int | None:
        """The internal id of the list served at ``/status/<public_id>``, or None."""
        if not _PUBLIC_ID.fullmatch(public_id):
            return None
        row = self.db.execute(
            "SELECT id FROM status_lists WHERE public_id = ?", [public_id]
        ).fetchone()
        return None if row is None else int(row[0])

    def list_id_for_url(self, url: str) -> int | None:
        """The id of this node's list at ``url``, or None when the URL is not one of ours."""
        prefix = f"{self.config.base_url}/status/"
        if not url.startswith(prefix):
            return None
        return self.list_id_for_public_id(url[len(prefix) :])

    # -- allocation ------------------------------------------------------------------------

    def _load(self, row: Mapping[str, Any]) -> _ListState:
        size = int(row["size"])
        state = _ListState(
            id=int(row["id"]),
            issuer=str(row["issuer"]),
            purpose=str(row["purpose"]),
            size=size,
            taken=bytearray(-(-size // 8)),
            count=0,
        )
        for (index,) in self.db.execute(
            "SELECT idx FROM status_entries WHERE list_id = ?", [state.id]
        ):
            state.mark(int(index))
        self._lists[state.id] = state
        return state

    def _open_list(self, issuer: str, purpose: str, now: datetime) -> _ListState:
        """The issuer's current list for ``purpose`` with room left (a new one if needed)."""
        key = (issuer, purpose)
        current = self._current.get(key)
        if current is not None:
            state = self._lists[current]
            if state.count < _capacity(state.size):
                return state
        for row in self.db.query(
            "SELECT id, issuer, purpose, size FROM status_lists "
            "WHERE issuer = ? AND purpose = ? AND full = 0 ORDER BY id",
            [issuer, purpose],
        ):
            state = self._lists.get(int(row["id"])) or self._load(row)
            if state.count < _capacity(state.size):
                self._current[key] = state.id
                return state
        state = self._create_list(issuer, purpose, now)
        self._current[key] = state.id
        return state

    def _create_list(self, issuer: str, purpose: str, now: datetime) -> _ListState:
        size = self.config.status_list_entries
        with self.db.atomic():
            cursor = self.db.execute(
                "INSERT INTO status_lists (issuer, purpose, size, credential, etag, signed_at, "
                "created_at, public_id) VALUES (?, ?, ?, '', '', '', ?, ?)",
                [issuer, purpose, size, _iso(now), uuid.uuid4().hex],
            )
            list_id = int(cursor.lastrowid or 0)
            self._resign(list_id, now)
        state = _ListState(list_id, issuer, purpose, size, bytearray(-(-size // 8)), 0)
        self._lists[list_id] = state
        return state

    def reserve(self, issuer: str, purpose: str = "revocation", *, now: datetime) -> Reservation:
        """Draw a random free index of ``issuer``'s current ``purpose`` list (in memory only).

        Creates (and signs) a new list when there is none with room. Write the reservation with
        :meth:`commit` inside the transaction that stores the credential, or :meth:`release` it.
        """
        if purpose not in PURPOSES:
            raise Problem(422, "invalid-field", f"status purpose must be one of {PURPOSES}")
        state = self._open_list(issuer, purpose, now)
        index = -1
        for _ in range(_RANDOM_TRIES):
            candidate = secrets.randbelow(state.size)
            if not state.is_taken(candidate):
                index = candidate
                break
        if index < 0:
            index = state.nth_free(secrets.randbelow(state.size - state.count))
        state.mark(index)
        url = self.list_url(state.id)
        entry = build_status_entry(list_credential_url=url, index=index, purpose=purpose)
        return Reservation(state.id, index, purpose, issuer, entry)

    def commit(self, reservation: Reservation, credential_id: str) -> None:
        """Write a reservation for ``credential_id``; call it inside the caller's transaction.

        The ``PRIMARY KEY (list_id, idx)`` refuses an index written twice.
        """
        self.db.execute(
            "INSERT INTO status_entries (list_id, idx, credential_id) VALUES (?, ?, ?)",
            [reservation.list_id, reservation.index, credential_id],
        )
        self.db.execute(
            "UPDATE status_lists SET allocated = allocated + 1, "
            "full = (allocated + 1 >= size * ?) WHERE id = ?",
            [CLOSE_AT, reservation.list_id],
        )

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation that was not committed (its credential was not issued)."""
        state = self._lists.get(reservation.list_id)
        if state is not None and state.is_taken(reservation.index):
            state.unmark(reservation.index)

    def allocate(
        self, credential_id: str, *, issuer: str, purpose: str = "revocation", now: datetime
    ) -> dict[str, Any]:
        """Reserve and commit in one step (its own transaction); return the status entry."""
        reservation = self.reserve(issuer, purpose, now=now)
        try:
            with self.db.atomic():
                self.commit(reservation, credential_id)
        except BaseException:
            self.release(reservation)
            raise
        return reservation.entry

    def reload(self) -> None:
        """Forget the in-memory allocation state (it is read again from the database)."""
        self._lists.clear()
        self._current.clear()

    # -- status changes --------------------------------------------------------------------

    def entries(self, credential_id: str) -> list[dict[str, Any]]:
        """The status entries of a credential: list id, index, purpose, value, final."""
        return [
            dict(row)
            for row in self.db.query(
                "SELECT e.list_id, e.idx, l.purpose, e.value, e.final, e.updated_at "
                "FROM status_entries e JOIN status_lists l ON l.id = e.list_id "
                "WHERE e.credential_id = ? ORDER BY e.list_id, e.idx",
                [credential_id],
            )
        ]

    def set_status(
        self,
        credential_id: str,
        purpose: str,
        value: bool,
        *,
        now: datetime,
        final: bool = False,
    ) -> int:
        """Set (or clear) the ``purpose`` bit of a credential and re-sign its list.

        ``final`` makes the change permanent (a revocation through a suspension entry).
        Clearing a revocation, or any final entry, is refused with a 409 problem. Returns the
        number of entries changed (0 when the credential has no entry of that purpose).
        """
        rows = [e for e in self.entries(credential_id) if e["purpose"] == purpose]
        if not rows:
            return 0
        if not value and any(r["value"] and (r["final"] or purpose == "revocation") for r in rows):
            raise Problem(409, "conflict", "a revocation is permanent and cannot be undone")
        changed = 0
        with self.db.atomic():
            for row in rows:
                new_final = (
                    1 if (final or row["final"] or (value and purpose == "revocation")) else 0
                )
                if row["value"] == int(value) and row["final"] == new_final:
                    continue
                self.db.execute(
                    "UPDATE status_entries SET value = ?, final = ?, updated_at = ? "
                    "WHERE list_id = ? AND idx = ?",
                    [int(value), new_final, _iso(now), row["list_id"], row["idx"]],
                )
                changed += 1
            for list_id in sorted({r["list_id"] for r in rows}):
                self._resign(list_id, now)
        fetcher = self._services.get("fetcher")
        if fetcher is not None:
            for list_id in {r["list_id"] for r in rows}:
                fetcher.forget(self.list_url(list_id))
        return changed

    # -- list credentials ------------------------------------------------------------------

    def _signing_key(self, issuer: str) -> tuple[KeyPair, str]:
        identity = self._services["identity"]
        try:
            return identity.signing_key(issuer, "Ed25519"), "eddsa-rdfc-2022"
        except Problem:
            return identity.signing_key(issuer, "P-256"), "ecdsa-rdfc-2019"

    def _resign(self, list_id: int, now: datetime) -> None:
        """Rebuild and re-sign list ``list_id`` from its entries (inside a transaction)."""
        row = self.db.execute(
            "SELECT issuer, purpose, size FROM status_lists WHERE id = ?", [list_id]
        ).fetchone()
        if row is None:
            raise Problem(404, "not-found", f"no status list {list_id}")
        issuer, purpose, size = str(row[0]), str(row[1]), int(row[2])
        bits = StatusBitstring(size)
        for index, value in self.db.execute(
            "SELECT idx, value FROM status_entries WHERE list_id = ? AND value != 0", [list_id]
        ):
            bits.set(int(index), int(value))
        signed_at = now.replace(microsecond=0)
        document = build_status_list_credential(
            list_url=self.list_url(list_id),
            issuer=issuer,
            purpose=purpose,
            bitstring=bits,
            valid_from=signed_at,
            valid_until=signed_at + LIST_VALIDITY,
            ttl_ms=self.config.status_list_max_age_seconds * 1000,
            min_entries=min(size, 131_072),
        )
        key, suite = self._signing_key(issuer)
        signed = sign(document, key=key, created=signed_at, suite=suite)
        text = json.dumps(signed, ensure_ascii=False, separators=(",", ":"))
        etag = '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'
        self.db.execute(
            "UPDATE status_lists SET credential = ?, etag = ?, signed_at = ? WHERE id = ?",
            [text, etag, _iso(signed_at), list_id],
        )

    def list_row(self, list_id: int, *, now: datetime) -> dict[str, Any]:
        """The stored list (``credential`` text, ``etag``, ``signed_at``...), re-signed first
        when older than :data:`RESIGN_AFTER`; a 404 problem when there is no such list."""
        row = self.db.execute(
            "SELECT signed_at FROM status_lists WHERE id = ?", [list_id]
        ).fetchone()
        if row is None:
            raise Problem(404, "not-found", f"no status list {list_id}")
        if datetime.fromisoformat(str(row[0])) + RESIGN_AFTER <= now:
            with self.db.atomic():
                self._resign(list_id, now)
        return dict(
            next(
                self.db.query(
                    "SELECT id, issuer, purpose, size, allocated, full, credential, etag, "
                    "signed_at, created_at FROM status_lists WHERE id = ?",
                    [list_id],
                )
            )
        )

    def list_credential(self, list_id: int, *, now: datetime) -> dict[str, Any]:
        """The signed list credential ``list_id`` (parsed)."""
        return cast(dict[str, Any], json.loads(self.list_row(list_id, now=now)["credential"]))

    def lists(self) -> list[dict[str, Any]]:
        """Every list with its counters (no credential text)."""
        return [
            dict(r)
            for r in self.db.query(
                "SELECT id, issuer, purpose, size, allocated, full, signed_at, created_at "
                "FROM status_lists ORDER BY id"
            )
        ]


def _capacity(size: int) -> int:
    """Entries a list takes before it is closed (:data:`CLOSE_AT` of its size)."""
    return max(1, math.ceil(size * CLOSE_AT))


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _service(request: web.Request) -> StatusService:
    return cast(StatusService, request.app[SERVICES]["status"])


@public("status lists are public so that anyone can check a credential's status")
async def get_status_list(request: web.Request) -> web.StreamResponse:
    """``GET /status/{list_id}``: the signed list credential, cacheable, 304 on a match."""
    service = _service(request)
    list_id = service.list_id_for_public_id(request.match_info["list_id"])
    if list_id is None:
        raise Problem(404, "not-found", "no such status list")
    if "timestamp" in request.query:
        # specs/status.md ST-14: no history is kept, so never answer with the current list.
        raise Problem(
            404,
            "status-retrieval-error",
            "this node keeps no history of its status lists (timestamp is not supported)",
            title="STATUS_RETRIEVAL_ERROR",
            type=BSL_PROBLEM_BASE + "STATUS_RETRIEVAL_ERROR",
        )
    config = request.app[CONFIG]
    row = service.list_row(list_id, now=request.app[CLOCK]())
    signed_at = datetime.fromisoformat(row["signed_at"])
    headers = {
        "Cache-Control": f"public, max-age={config.status_list_max_age_seconds}",
        "ETag": row["etag"],
        "Last-Modified": http_date(signed_at, usegmt=True),
        "Access-Control-Allow-Origin": "*",
        "Vary": "Accept",
    }
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = [t.strip() for t in if_none_match.split(",")]
        if row["etag"] in tags or "*" in tags:
            return web.Response(status=304, headers=headers)
    elif "If-Modified-Since" in request.headers:
        try:
            since = parsedate_to_datetime(request.headers["If-Modified-Since"])
        except (TypeError, ValueError):
            since = None
        if since is not None and since.tzinfo is not None and signed_at <= since:
            return web.Response(status=304, headers=headers)
    asked = [
        part.split(";", 1)[0].strip().lower()
        for part in request.headers.get("Accept", "").split(",")
    ]
    content_type = next((t for t in asked if t in _LIST_TYPES), _LIST_TYPES[0])
    return web.Response(text=row["credential"], content_type=content_type, headers=headers)


def setup(app: web.Application) -> None:
    """Publish the ``"status"`` service and ``GET /status/{list_id}``."""
    app[SERVICES]["status"] = StatusService(app[CONFIG], app[DB], app[SERVICES])
    app.router.add_get("/status/{list_id}", get_status_list)
