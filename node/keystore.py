"""Signing keys at rest: sealed with PyNaCl SecretBox under the node's master key.

The master key is 32 random bytes in ``config.master_key_path`` (mode 0600). Each signing key is
stored in the ``node_keys`` table as a *sealed envelope*::

    envelope = VERSION (1 byte, 0x01) || nonce (24 bytes) || XSalsa20-Poly1305(secret JSON)

where the secret JSON is ``{"algorithm", "public", "secret"}`` (the Multikey multibase forms).
The public key is also kept in clear beside the envelope; opening checks that the sealed public
key matches the row, so a swapped envelope is detected. Secrets never appear in logs or reprs.

Refusals (:class:`KeystoreError`, one-line messages): a master key file that is missing while
sealed keys exist, that is readable or writable by others, that does not hold 32 bytes, or that
does not open the stored keys (a wrong master key).
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.secret
import nacl.utils
from sqlite_utils import Database

from protocol.errors import ProtocolError
from protocol.keys import Algorithm, KeyPair, generate, key_pair_from_multibase

from .storage import register

__all__ = [
    "ENVELOPE_VERSION",
    "MASTER_KEY_BYTES",
    "KeyRecord",
    "Keystore",
    "KeystoreError",
    "create_master_key",
    "read_master_key",
]

#: Version byte of the sealed-key envelope (bump when the layout or cipher changes).
ENVELOPE_VERSION = 1
#: Length of the master key, in bytes (the SecretBox key size).
MASTER_KEY_BYTES = nacl.secret.SecretBox.KEY_SIZE
#: Marker used in ``node_keys.identity`` for the node's own did:web, whose DID follows the
#: configured public URL (so changing the URL does not orphan the keys).
WEB_IDENTITY = "did:web"

migrations = register("node.keystore")


@migrations()
def m001_node_keys(db: Database) -> None:
    db["node_keys"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "identity": str,
            "algorithm": str,
            "key_index": int,
            "public_multibase": str,
            "sealed": bytes,
            "created_at": str,
            "retired_at": str,
        },
        pk="id",
        not_null={"identity", "algorithm", "key_index", "public_multibase", "sealed", "created_at"},
    )
    db["node_keys"].create_index(["identity", "key_index"], unique=True)  # type: ignore[union-attr]
    db["node_keys"].create_index(["public_multibase"], unique=True)  # type: ignore[union-attr]


class KeystoreError(Exception):
    """The keystore cannot be used (one-line, user-facing message)."""


@dataclass(frozen=True)
class KeyRecord:
    """A stored key without its secret."""

    id: int
    identity: str
    algorithm: Algorithm
    key_index: int
    public_multibase: str
    created_at: str
    retired_at: str | None

    @property
    def active(self) -> bool:
        """True while the key is used for new signatures."""
        return self.retired_at is None


def create_master_key(path: Path) -> bytes:
    """Write a new random master key to ``path`` (mode 0600, never overwriting); return it."""
    key = nacl.utils.random(MASTER_KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeystoreError(f"{path}: a master key already exists; not replacing it") from None
    except OSError as exc:
        raise KeystoreError(f"{path}: cannot create the master key ({exc.strerror})") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    os.chmod(path, 0o600)
    return key


def read_master_key(path: Path) -> bytes:
    """Read and check the master key file (exists, not open to others, 32 bytes)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise KeystoreError(f"{path}: master key file is missing") from None
    except OSError as exc:
        raise KeystoreError(f"{path}: cannot read the master key ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise KeystoreError(f"{path}: master key must be a regular file")
    if info.st_mode & (stat.S_IROTH | stat.S_IWOTH):
        raise KeystoreError(
            f"{path}: master key is readable or writable by other users "
            f"(mode {stat.S_IMODE(info.st_mode):o}); run 'chmod 600 {path}'"
        )
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise KeystoreError(f"{path}: cannot read the master key ({exc.strerror})") from None
    if len(key) != MASTER_KEY_BYTES:
        raise KeystoreError(
            f"{path}: master key must hold {MASTER_KEY_BYTES} bytes, found {len(key)}"
        )
    return key


def _row_record(row: dict[str, Any]) -> KeyRecord:
    return KeyRecord(
        id=row["id"],
        identity=row["identity"],
        algorithm=row["algorithm"],
        key_index=row["key_index"],
        public_multibase=row["public_multibase"],
        created_at=row["created_at"],
        retired_at=row["retired_at"],
    )


class Keystore:
    """Sealed signing keys in the node database.

    The master key is read on first use (or by :meth:`check`) and kept in memory; decrypted
    key pairs are cached by row id.
    """

    def __init__(self, db: Database, master_key_path: Path) -> None:
        self._db = db
        self._path = master_key_path
        self._box: nacl.secret.SecretBox | None = None
        self._cache: dict[int, KeyPair] = {}

    # -- master key ---------------------------------------------------------------------------

    def has_keys(self) -> bool:
        """True when at least one sealed key is stored."""
        return bool(self._db.execute("SELECT 1 FROM node_keys LIMIT 1").fetchone())

    def _secret_box(self) -> nacl.secret.SecretBox:
        if self._box is None:
            if not self._path.exists() and not self.has_keys():
                create_master_key(self._path)
            elif not self._path.exists():
                raise KeystoreError(
                    f"{self._path}: master key file is missing but the database holds sealed "
                    "keys; restore the master key (the keys cannot be opened without it)"
                )
            self._box = nacl.secret.SecretBox(read_master_key(self._path))
        return self._box

    def check(self) -> None:
        """Refuse early: read the master key and open one stored key with it."""
        self._secret_box()
        row = self._db.execute("SELECT id FROM node_keys ORDER BY id LIMIT 1").fetchone()
        if row is not None:
            self.key_pair(row[0])

    # -- sealing ------------------------------------------------------------------------------

    def _seal(self, pair: KeyPair) -> bytes:
        plain = json.dumps(
            {
                "algorithm": pair.algorithm,
                "public": pair.public.multibase,
                "secret": pair.secret_multibase,
            }
        ).encode("utf-8")
        return bytes([ENVELOPE_VERSION]) + bytes(self._secret_box().encrypt(plain))

    def _open(self, record: KeyRecord, sealed: bytes) -> KeyPair:
        if not sealed or sealed[0] != ENVELOPE_VERSION:
            version = sealed[0] if sealed else None
            raise KeystoreError(f"key {record.id}: unknown envelope version {version}")
        try:
            plain = self._secret_box().decrypt(sealed[1:])
        except nacl.exceptions.CryptoError:
            raise KeystoreError(
                f"{self._path}: this master key does not open the stored signing keys "
                "(wrong or replaced master key file)"
            ) from None
        try:
            data = json.loads(plain)
            pair = key_pair_from_multibase(data["public"], data["secret"])
        except (ValueError, KeyError, TypeError, ProtocolError):
            raise KeystoreError(f"key {record.id}: sealed content is corrupt") from None
        if pair.public.multibase != record.public_multibase or pair.algorithm != record.algorithm:
            raise KeystoreError(f"key {record.id}: sealed key does not match its public key")
        return pair

    # -- keys ---------------------------------------------------------------------------------

    def add(self, identity: str, pair: KeyPair, *, now: datetime) -> KeyRecord:
        """Store ``pair`` for ``identity``, numbered after the identity's last key."""
        sealed = self._seal(pair)
        with self._db.atomic():
            last = self._db.execute(
                "SELECT COALESCE(MAX(key_index), 0) FROM node_keys WHERE identity = ?",
                [identity],
            ).fetchone()[0]
            table = self._db.table("node_keys")
            table.insert(
                {
                    "identity": identity,
                    "algorithm": pair.algorithm,
                    "key_index": last + 1,
                    "public_multibase": pair.public.multibase,
                    "sealed": sealed,
                    "created_at": now.isoformat(),
                    "retired_at": None,
                }
            )
            row_id = table.last_pk
        assert isinstance(row_id, int)
        return self.record(row_id)

    def generate(self, identity: str, algorithm: Algorithm, *, now: datetime) -> KeyRecord:
        """Generate and store a new key of ``algorithm`` for ``identity``."""
        return self.add(identity, generate(algorithm), now=now)

    def record(self, key_id: int) -> KeyRecord:
        """The stored key ``key_id`` (without its secret)."""
        row = self._db.execute(
            "SELECT id, identity, algorithm, key_index, public_multibase, created_at, retired_at "
            "FROM node_keys WHERE id = ?",
            [key_id],
        ).fetchone()
        if row is None:
            raise KeyError(key_id)
        return _row_record(dict(zip(_COLUMNS, row, strict=True)))

    def records(self, identity: str | None = None) -> list[KeyRecord]:
        """Every stored key (of ``identity`` when given), oldest first."""
        if identity is None:
            rows = self._db.execute(
                "SELECT id, identity, algorithm, key_index, public_multibase, created_at, "
                "retired_at FROM node_keys ORDER BY identity, key_index"
            ).fetchall()
        else:
            rows = self._db.execute(
                "SELECT id, identity, algorithm, key_index, public_multibase, created_at, "
                "retired_at FROM node_keys WHERE identity = ? ORDER BY key_index",
                [identity],
            ).fetchall()
        return [_row_record(dict(zip(_COLUMNS, row, strict=True))) for row in rows]

    def current(self, identity: str, algorithm: Algorithm) -> KeyRecord | None:
        """The newest active key of ``algorithm`` for ``identity``."""
        row = self._db.execute(
            "SELECT id, identity, algorithm, key_index, public_multibase, created_at, retired_at "
            "FROM node_keys WHERE identity = ? AND algorithm = ? AND retired_at IS NULL "
            "ORDER BY key_index DESC LIMIT 1",
            [identity, algorithm],
        ).fetchone()
        return None if row is None else _row_record(dict(zip(_COLUMNS, row, strict=True)))

    def key_pair(self, key_id: int) -> KeyPair:
        """The decrypted key pair of ``key_id`` (no controller bound)."""
        cached = self._cache.get(key_id)
        if cached is not None:
            return cached
        row = self._db.execute(
            "SELECT id, identity, algorithm, key_index, public_multibase, created_at, retired_at, "
            "sealed FROM node_keys WHERE id = ?",
            [key_id],
        ).fetchone()
        if row is None:
            raise KeyError(key_id)
        record = _row_record(dict(zip(_COLUMNS, row[:-1], strict=True)))
        pair = self._open(record, bytes(row[-1]))
        self._cache[key_id] = pair
        return pair

    def retire(self, key_id: int, *, now: datetime) -> None:
        """Stop using ``key_id`` for new signatures (it stays stored and published)."""
        self._db.execute(
            "UPDATE node_keys SET retired_at = ? WHERE id = ? AND retired_at IS NULL",
            [now.isoformat(), key_id],
        )


_COLUMNS = (
    "id",
    "identity",
    "algorithm",
    "key_index",
    "public_multibase",
    "created_at",
    "retired_at",
)
