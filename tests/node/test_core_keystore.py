"""Signing keys at rest: sealed under the master key, refusals for a bad master key file."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from node.keystore import (
    ENVELOPE_VERSION,
    MASTER_KEY_BYTES,
    Keystore,
    KeystoreError,
    create_master_key,
    read_master_key,
)
from node.storage import migrate, open_db
from protocol.keys import generate

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _store(tmp_path: Path) -> Keystore:
    db = open_db(tmp_path / "node.db")
    migrate(db)
    return Keystore(db, tmp_path / "master.key")


def _all_bytes(folder: Path) -> bytes:
    """The database with its WAL: everything SQLite wrote."""
    return b"".join(p.read_bytes() for p in sorted(folder.glob("node.db*")))


def test_master_key_is_created_private(tmp_path):
    key = create_master_key(tmp_path / "master.key")
    assert len(key) == MASTER_KEY_BYTES
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600
    assert read_master_key(tmp_path / "master.key") == key
    with pytest.raises(KeystoreError, match="already exists"):
        create_master_key(tmp_path / "master.key")


def test_keys_on_disk_are_not_plaintext(tmp_path):
    store = _store(tmp_path)
    pair = generate("Ed25519")
    p256 = generate("P-256")
    record = store.add("did:web", pair, now=NOW)
    store.add("did:web", p256, now=NOW)
    on_disk = _all_bytes(tmp_path)
    assert pair.public.multibase.encode() in on_disk  # the public key is kept in clear
    for secret in (pair.secret_multibase, p256.secret_multibase):
        assert secret.encode() not in on_disk
    assert pair._secret not in on_disk and p256._secret not in on_disk
    sealed = store._db.execute("SELECT sealed FROM node_keys WHERE id = ?", [record.id]).fetchone()
    assert sealed[0][0] == ENVELOPE_VERSION
    # A fresh keystore over the same files opens the keys again.
    again = Keystore(open_db(tmp_path / "node.db"), tmp_path / "master.key")
    assert again.key_pair(record.id) == pair
    assert "secret" not in repr(again.key_pair(record.id)).lower()


def test_wrong_master_key_is_refused_clearly(tmp_path):
    store = _store(tmp_path)
    store.generate("did:web", "Ed25519", now=NOW)
    (tmp_path / "master.key").unlink()
    fd = os.open(tmp_path / "master.key", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, os.urandom(MASTER_KEY_BYTES))
    os.close(fd)
    fresh = Keystore(open_db(tmp_path / "node.db"), tmp_path / "master.key")
    with pytest.raises(KeystoreError, match="does not open the stored signing keys"):
        fresh.check()


def test_missing_master_key_with_stored_keys_is_refused(tmp_path):
    store = _store(tmp_path)
    store.generate("did:web", "Ed25519", now=NOW)
    (tmp_path / "master.key").unlink()
    fresh = Keystore(open_db(tmp_path / "node.db"), tmp_path / "master.key")
    with pytest.raises(KeystoreError, match="missing but the database holds sealed keys"):
        fresh.check()
    assert not (tmp_path / "master.key").exists()  # never silently replaced


@pytest.mark.parametrize("mode", [0o644, 0o606, 0o602])
def test_master_key_open_to_others_is_refused(tmp_path, mode):
    create_master_key(tmp_path / "master.key")
    os.chmod(tmp_path / "master.key", mode)
    with pytest.raises(KeystoreError, match="readable or writable by other users"):
        read_master_key(tmp_path / "master.key")


def test_master_key_of_the_wrong_size_is_refused(tmp_path):
    path = tmp_path / "master.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"short")
    os.close(fd)
    with pytest.raises(KeystoreError, match="must hold 32 bytes, found 5"):
        read_master_key(path)


def test_tampered_or_swapped_envelopes_are_refused(tmp_path):
    store = _store(tmp_path)
    first = store.generate("did:web", "Ed25519", now=NOW)
    second = store.generate("did:web", "Ed25519", now=NOW)
    db = store._db
    sealed = db.execute("SELECT sealed FROM node_keys WHERE id = ?", [first.id]).fetchone()[0]
    # Swap: the second row gets the first row's envelope.
    db.execute("UPDATE node_keys SET sealed = ? WHERE id = ?", [sealed, second.id])
    with pytest.raises(KeystoreError, match="does not match its public key"):
        Keystore(db, tmp_path / "master.key").key_pair(second.id)
    flipped = bytes([sealed[0]]) + bytes([sealed[1] ^ 1]) + sealed[2:]
    db.execute("UPDATE node_keys SET sealed = ? WHERE id = ?", [flipped, first.id])
    with pytest.raises(KeystoreError, match="does not open"):
        Keystore(db, tmp_path / "master.key").key_pair(first.id)
    db.execute("UPDATE node_keys SET sealed = ? WHERE id = ?", [b"\x09" + sealed[1:], first.id])
    with pytest.raises(KeystoreError, match="unknown envelope version 9"):
        Keystore(db, tmp_path / "master.key").key_pair(first.id)


def test_rotation_order_and_retirement(tmp_path):
    store = _store(tmp_path)
    a = store.generate("did:web", "Ed25519", now=NOW)
    b = store.generate("did:web", "P-256", now=NOW)
    assert (a.key_index, b.key_index) == (1, 2)
    assert store.current("did:web", "Ed25519") == a
    c = store.generate("did:web", "Ed25519", now=NOW)
    store.retire(a.id, now=NOW)
    assert store.current("did:web", "Ed25519").id == c.id
    assert [r.key_index for r in store.records("did:web")] == [1, 2, 3]
    assert not store.records("did:web")[0].active
