"""Delivery storage: offers, OID4VCI access tokens and nonces (migration set ``node.delivery``).

All functions run on the event loop's thread with the node's one connection; the ones that
change state in several steps do so inside ``with db.atomic():`` and check the row they update
(``rowcount``) so that a code, token or nonce works exactly once even when two requests race.

Secrets: access tokens are stored as SHA-256 digests (they are bearer secrets that live for
minutes); the pre-authorized code and offer id are stored as issued because the offer link and
QR code must be rendered again while the offer is open (the data folder is the trust boundary).
The optional transaction code (PIN) is stored as a salted digest and locks after
:data:`MAX_TX_CODE_FAILURES` wrong attempts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from ..storage import register

__all__ = [
    "MAX_TX_CODE_FAILURES",
    "Offer",
    "consume_nonce",
    "get_offer",
    "migrations",
]

migrations = register("node.delivery")

#: Wrong transaction codes tolerated before an offer is locked (a 6-digit PIN has 10**6 values).
MAX_TX_CODE_FAILURES = 5


@migrations()
def m001_offers(db: Database) -> None:
    """Offers, access tokens and nonces."""
    db.table("delivery_offers").create(
        {
            "id": str,
            "code": str,
            "state": str,
            "kind": str,
            "credential_id": str,
            "issue_params": str,
            "configurations": str,
            "delivered": str,
            "holder_did": str,
            "tx_code_digest": str,
            "tx_code_failures": int,
            "code_used": int,
            "challenge": str,
            "created_at": int,
            "expires_at": int,
            "claimed_at": int,
            "created_by": str,
            "request_id": str,
            "label": str,
        },
        pk="id",
        not_null={
            "code",
            "state",
            "kind",
            "configurations",
            "delivered",
            "created_at",
            "expires_at",
        },
        defaults={"tx_code_failures": 0, "code_used": 0, "delivered": "[]"},
    )
    db.table("delivery_offers").create_index(["code"], unique=True)
    db.table("delivery_offers").create_index(["credential_id"])
    db.table("delivery_offers").create_index(["request_id"])
    db.table("delivery_tokens").create(
        {"digest": str, "offer_id": str, "created_at": int, "expires_at": int},
        pk="digest",
        not_null={"offer_id", "created_at", "expires_at"},
        foreign_keys=[("offer_id", "delivery_offers", "id")],
    )
    db.table("delivery_nonces").create(
        {"nonce": str, "expires_at": int}, pk="nonce", not_null={"expires_at"}
    )
    db.table("delivery_nonces").create_index(["expires_at"])


def epoch(moment: datetime) -> int:
    """Seconds since the epoch (the columns' unit)."""
    return int(moment.timestamp())


def from_epoch(value: int | None) -> datetime | None:
    """The aware UTC datetime of an epoch column."""
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def digest(secret: str) -> str:
    """SHA-256 hex digest of a bearer secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _tx_digest(offer_id: str, tx_code: str) -> str:
    return hashlib.sha256(f"{offer_id}\x00{tx_code}".encode()).hexdigest()


@dataclass(frozen=True)
class Offer:
    """A one-time credential offer."""

    id: str
    code: str
    state: str
    kind: str
    credential_id: str | None
    issue_params: dict[str, Any] | None
    configurations: tuple[str, ...]
    delivered: tuple[str, ...]
    holder_did: str | None
    has_tx_code: bool
    tx_code_failures: int
    code_used: bool
    challenge: str | None
    created_at: datetime
    expires_at: datetime
    claimed_at: datetime | None
    created_by: str | None
    request_id: str | None
    label: str | None

    def status(self, now: datetime) -> str:
        """``offered``, ``claimed``, ``cancelled``, ``expired`` or ``locked`` at ``now``."""
        if self.state != "offered":
            return self.state
        if self.tx_code_failures >= MAX_TX_CODE_FAILURES:
            return "locked"
        if now >= self.expires_at:
            return "expired"
        return "offered"

    def check_tx_code(self, tx_code: str) -> bool:
        """Whether ``tx_code`` is this offer's transaction code (constant time)."""
        return self._tx_digest is not None and hmac.compare_digest(
            self._tx_digest, _tx_digest(self.id, tx_code)
        )

    _tx_digest: str | None = field(default=None, repr=False, compare=False)

    def summary(self, now: datetime) -> dict[str, Any]:
        """The staff-facing JSON form (no secrets)."""
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status(now),
            "kind": self.kind,
            "credentialConfigurationIds": list(self.configurations),
            "delivered": list(self.delivered),
            "createdAt": _iso(self.created_at),
            "expiresAt": _iso(self.expires_at),
            "txCodeRequired": self.has_tx_code,
        }
        if self.credential_id:
            out["credentialId"] = self.credential_id
        if self.holder_did:
            out["holder"] = self.holder_did
        if self.claimed_at:
            out["claimedAt"] = _iso(self.claimed_at)
        if self.request_id:
            out["requestId"] = self.request_id
        if self.label:
            out["label"] = self.label
        return out


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _offer(row: dict[str, Any]) -> Offer:
    created = from_epoch(row["created_at"])
    expires = from_epoch(row["expires_at"])
    assert created is not None and expires is not None
    return Offer(
        id=row["id"],
        code=row["code"],
        state=row["state"],
        kind=row["kind"],
        credential_id=row["credential_id"],
        issue_params=json.loads(row["issue_params"]) if row["issue_params"] else None,
        configurations=tuple(json.loads(row["configurations"])),
        delivered=tuple(json.loads(row["delivered"] or "[]")),
        holder_did=row["holder_did"],
        has_tx_code=row["tx_code_digest"] is not None,
        tx_code_failures=row["tx_code_failures"] or 0,
        code_used=bool(row["code_used"]),
        challenge=row["challenge"],
        created_at=created,
        expires_at=expires,
        claimed_at=from_epoch(row["claimed_at"]),
        created_by=row["created_by"],
        request_id=row["request_id"],
        label=row["label"],
        _tx_digest=row["tx_code_digest"],
    )


def insert_offer(
    db: Database,
    *,
    kind: str,
    configurations: list[str],
    now: datetime,
    expires_at: datetime,
    credential_id: str | None = None,
    issue_params: dict[str, Any] | None = None,
    holder_did: str | None = None,
    tx_code: str | None = None,
    created_by: str | None = None,
    request_id: str | None = None,
    label: str | None = None,
) -> Offer:
    """Create an offer with fresh random identifiers."""
    offer_id = secrets.token_urlsafe(16)
    row = {
        "id": offer_id,
        "code": secrets.token_urlsafe(32),
        "state": "offered",
        "kind": kind,
        "credential_id": credential_id,
        "issue_params": json.dumps(issue_params) if issue_params is not None else None,
        "configurations": json.dumps(configurations),
        "delivered": "[]",
        "holder_did": holder_did,
        "tx_code_digest": _tx_digest(offer_id, tx_code) if tx_code is not None else None,
        "tx_code_failures": 0,
        "code_used": 0,
        "challenge": None,
        "created_at": epoch(now),
        "expires_at": epoch(expires_at),
        "claimed_at": None,
        "created_by": created_by,
        "request_id": request_id,
        "label": label,
    }
    db.table("delivery_offers").insert(row)
    return _offer(row)


def get_offer(db: Database, offer_id: str) -> Offer | None:
    """The offer called ``offer_id``, or ``None``."""
    rows = list(db.query("select * from delivery_offers where id = ?", [offer_id]))
    return _offer(rows[0]) if rows else None


def offer_by_code(db: Database, code: str) -> Offer | None:
    """The offer whose pre-authorized code is ``code``, or ``None``."""
    rows = list(db.query("select * from delivery_offers where code = ?", [code]))
    return _offer(rows[0]) if rows else None


def list_offers(
    db: Database, *, state: str | None = None, limit: int = 100, offset: int = 0
) -> list[Offer]:
    """Offers, newest first."""
    where, args = ("where state = ?", [state]) if state else ("", [])
    rows = db.query(
        f"select * from delivery_offers {where} order by created_at desc, id limit ? offset ?",  # noqa: S608
        [*args, limit, offset],
    )
    return [_offer(r) for r in rows]


def offers_for_request(db: Database, request_id: str) -> list[Offer]:
    """Offers created for a badge request, newest first."""
    rows = db.query(
        "select * from delivery_offers where request_id = ? order by created_at desc",
        [request_id],
    )
    return [_offer(r) for r in rows]


def record_tx_failure(db: Database, offer_id: str) -> None:
    """Count one wrong transaction code."""
    db.execute(
        "update delivery_offers set tx_code_failures = tx_code_failures + 1 where id = ?",
        [offer_id],
    )


def redeem_code(db: Database, offer: Offer, *, now: datetime, ttl: int) -> str | None:
    """Exchange the pre-authorized code for an access token, once. ``None`` if already used."""
    token = secrets.token_urlsafe(32)
    with db.atomic():
        cursor = db.execute(
            "update delivery_offers set code_used = 1 where id = ? and code_used = 0 "
            "and state = 'offered'",
            [offer.id],
        )
        if cursor.rowcount != 1:
            return None
        db.execute("delete from delivery_tokens where expires_at <= ?", [epoch(now)])
        db.table("delivery_tokens").insert(
            {
                "digest": digest(token),
                "offer_id": offer.id,
                "created_at": epoch(now),
                "expires_at": epoch(now) + ttl,
            }
        )
    return token


def offer_for_token(db: Database, token: str, *, now: datetime) -> Offer | None:
    """The offer an unexpired access token was issued for, or ``None``."""
    rows = list(
        db.query(
            "select offer_id from delivery_tokens where digest = ? and expires_at > ?",
            [digest(token), epoch(now)],
        )
    )
    return get_offer(db, rows[0]["offer_id"]) if rows else None


def revoke_tokens(db: Database, offer_id: str) -> None:
    """Forget every access token of an offer."""
    db.execute("delete from delivery_tokens where offer_id = ?", [offer_id])


def new_nonce(db: Database, *, now: datetime, ttl: int) -> str:
    """A fresh single-use nonce; expired nonces are purged on the way."""
    nonce = secrets.token_urlsafe(24)
    with db.atomic():
        db.execute("delete from delivery_nonces where expires_at <= ?", [epoch(now)])
        db.table("delivery_nonces").insert({"nonce": nonce, "expires_at": epoch(now) + ttl})
    return nonce


def consume_nonce(db: Database, nonce: str, *, now: datetime) -> bool:
    """Use ``nonce`` once: ``True`` if it existed and had not expired (it is gone afterwards)."""
    with db.atomic():
        rows = list(db.query("select expires_at from delivery_nonces where nonce = ?", [nonce]))
        if not rows:
            return False
        db.execute("delete from delivery_nonces where nonce = ?", [nonce])
    return bool(rows[0]["expires_at"] > epoch(now))


def bind_holder(db: Database, offer_id: str, holder: str) -> bool:
    """Bind the offer to ``holder`` unless it is bound to another DID. ``True`` on success."""
    with db.atomic():
        cursor = db.execute(
            "update delivery_offers set holder_did = ? where id = ? and state = 'offered' "
            "and (holder_did is null or holder_did = ?)",
            [holder, offer_id, holder],
        )
    return cursor.rowcount == 1


def unbind_holder(db: Database, offer_id: str) -> None:
    """Undo :func:`bind_holder` when nothing was delivered (issuing failed)."""
    db.execute(
        "update delivery_offers set holder_did = null where id = ? and state = 'offered' "
        "and delivered = '[]' and kind = 'deferred' and credential_id is null",
        [offer_id],
    )


def set_credential(db: Database, offer_id: str, credential_id: str) -> None:
    """Record the credential issued for a deferred offer."""
    db.execute(
        "update delivery_offers set credential_id = ? where id = ?", [credential_id, offer_id]
    )


def mark_delivered(db: Database, offer_id: str, configuration: str, *, now: datetime) -> bool:
    """Record that ``configuration`` was delivered; the offer becomes ``claimed``.

    Returns ``False`` when that configuration was already delivered (a replay).
    """
    with db.atomic():
        offer = get_offer(db, offer_id)
        if offer is None or configuration in offer.delivered:
            return False
        if offer.state not in ("offered", "claimed"):
            return False
        delivered = [*offer.delivered, configuration]
        db.execute(
            "update delivery_offers set delivered = ?, state = 'claimed', "
            "claimed_at = coalesce(claimed_at, ?) where id = ?",
            [json.dumps(delivered), epoch(now), offer_id],
        )
    return True


def set_challenge(db: Database, offer_id: str, challenge: str) -> None:
    """Remember the VC API exchange challenge of an offer."""
    db.execute("update delivery_offers set challenge = ? where id = ?", [challenge, offer_id])


def take_challenge(db: Database, offer_id: str, challenge: str) -> bool:
    """Use up the pending exchange challenge ``challenge``, once. ``False`` if it is not pending."""
    with db.atomic():
        cursor = db.execute(
            "update delivery_offers set challenge = null where id = ? and challenge = ?",
            [offer_id, challenge],
        )
    return cursor.rowcount == 1


def cancel_offer(db: Database, offer_id: str) -> bool:
    """Cancel an offer that was not claimed. ``True`` if it was cancelled now."""
    with db.atomic():
        cursor = db.execute(
            "update delivery_offers set state = 'cancelled' where id = ? and state = 'offered'",
            [offer_id],
        )
        revoke_tokens(db, offer_id)
    return cursor.rowcount == 1
