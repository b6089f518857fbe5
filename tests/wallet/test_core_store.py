"""The wallet file: create/open/save, dedupe, passphrase change, backup/restore, plain export,
wrong passphrase and damaged files (nothing lost), locking, identities."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from protocol.did import did_key_for
from protocol.verify import verify
from tests.wallet.conftest import FAST_KDF, NOW, PASSPHRASE, Issuer
from wallet.errors import (
    BadPassphrase,
    NotFound,
    WalletCorrupt,
    WalletExists,
    WalletLocked,
    WalletMissing,
)
from wallet.importing import import_bytes
from wallet.organise import tag
from wallet.store import Wallet


def _add(wallet: Wallet, issuer: Issuer, **kwargs: object) -> str:
    credential = issuer.credential(**kwargs)  # type: ignore[arg-type]
    report = verify(credential, now=NOW).to_dict()
    return wallet.add_credential(credential, source="test", verification=report).local_id


def _snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def test_create_open_and_reopen(wallet: Wallet, wallet_path: Path, issuer: Issuer) -> None:
    assert wallet_path.exists()
    assert oct(wallet_path.stat().st_mode & 0o777) == "0o600"
    assert len(wallet.identities()) == 1
    lid = _add(wallet, issuer, name="Teamwork")
    record = wallet.get(lid)
    assert record.status == "valid"
    wallet.save()
    wallet.close()
    with Wallet.open(wallet_path, PASSPHRASE) as again:
        assert len(again) == 1
        stored = again.get(lid)
        assert stored.text == record.text
        assert stored.document == record.document
        assert stored.verification == record.verification
        assert stored.summary["name"] == "Teamwork"
        assert set(again.open_timings) == {"kdf", "decrypt", "load"}


def test_the_credential_text_is_kept_verbatim(wallet: Wallet, issuer: Issuer) -> None:
    credential = issuer.credential()
    text = json.dumps(credential, indent=4, sort_keys=True) + "\n"
    report = verify(credential, now=NOW).to_dict()
    record = wallet.add_credential(text, source="file", verification=report)
    wallet.save()
    wallet.close()
    with Wallet.open(wallet.path, PASSPHRASE) as again:
        assert again.get(record.local_id).text == text


def test_create_refuses_an_existing_file(wallet_path: Path, wallet: Wallet) -> None:
    with pytest.raises(WalletExists):
        Wallet.create(wallet_path, "other", kdf=FAST_KDF)


def test_open_missing(tmp_path: Path) -> None:
    with pytest.raises(WalletMissing, match="no wallet here"):
        Wallet.open(tmp_path / "nope.ppw", "x")


def test_dedupe_by_issuer_and_id_newer_valid_from_wins(wallet: Wallet, issuer: Issuer) -> None:
    first = issuer.credential(credential_id="urn:uuid:same", valid_from=NOW - timedelta(days=9))
    newer = issuer.credential(credential_id="urn:uuid:same", valid_from=NOW - timedelta(days=1))
    record, outcome = wallet.put(first, source="a", verification={"verdict": "valid"})
    assert outcome == "added"
    tag(wallet, record.local_id, add=["keep me"])
    again, outcome = wallet.put(first, source="b", verification={"verdict": "valid"})
    assert (again.local_id, outcome) == (record.local_id, "duplicate")
    replaced, outcome = wallet.put(newer, source="c", verification={"verdict": "valid"})
    assert (replaced.local_id, outcome) == (record.local_id, "replaced")
    assert replaced.document["validFrom"] == newer["validFrom"]
    assert replaced.tags == ["keep me"]
    older, outcome = wallet.put(first, source="d", verification={"verdict": "valid"})
    assert outcome == "duplicate"
    assert older.document["validFrom"] == newer["validFrom"]
    assert len(wallet) == 1


def test_equality_unescapes_and_trims(wallet: Wallet, issuer: Issuer) -> None:
    a = issuer.credential(credential_id="https://academy.example/c/a%20b")
    wallet.put(a, source="a", verification={"verdict": "valid"})
    b = dict(a, id="https://academy.example/c/a b ")
    _, outcome = wallet.put(b, source="b", verification={"verdict": "valid"})
    assert outcome == "duplicate"


def test_get_by_prefix_credential_id_and_errors(wallet: Wallet, issuer: Issuer) -> None:
    lid = _add(wallet, issuer, credential_id="urn:uuid:lookup-me")
    assert wallet.get(lid[:6]).local_id == lid
    assert wallet.get("urn:uuid:lookup-me").local_id == lid
    with pytest.raises(NotFound):
        wallet.get("urn:uuid:absent")
    with pytest.raises(NotFound):
        wallet.get("")


def test_remove(wallet: Wallet, issuer: Issuer) -> None:
    lid = _add(wallet, issuer)
    wallet.remove(lid)
    assert len(wallet) == 0
    with pytest.raises(NotFound):
        wallet.get(lid)


def test_wrong_passphrase_leaves_the_file_untouched(wallet: Wallet, wallet_path: Path) -> None:
    wallet.close()
    before = _snapshot(wallet_path)
    with pytest.raises(BadPassphrase, match="wrong passphrase"):
        Wallet.open(wallet_path, "not the passphrase")
    assert _snapshot(wallet_path) == before
    with Wallet.open(wallet_path, PASSPHRASE) as again:
        assert len(again.identities()) == 1


@pytest.mark.parametrize("damage", ["truncate", "flip-body", "flip-header", "garbage", "empty"])
def test_damaged_file_is_a_clear_error_and_untouched(
    wallet: Wallet, wallet_path: Path, issuer: Issuer, damage: str
) -> None:
    _add(wallet, issuer)
    wallet.save()
    wallet.close()
    data = bytearray(wallet_path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip-body":
        data[len(data) // 2] ^= 0x01
    elif damage == "flip-header":
        data[8] ^= 0x01
    elif damage == "garbage":
        data = bytearray(b"this is not a wallet at all" * 10)
    else:
        data = bytearray()
    wallet_path.write_bytes(bytes(data))
    before = _snapshot(wallet_path)
    with pytest.raises(WalletCorrupt) as caught:
        Wallet.open(wallet_path, PASSPHRASE)
    assert "\n" not in caught.value.message
    assert _snapshot(wallet_path) == before


def test_change_passphrase(wallet: Wallet, wallet_path: Path, issuer: Issuer) -> None:
    lid = _add(wallet, issuer)
    wallet.save()
    with pytest.raises(BadPassphrase):
        wallet.change_passphrase("wrong", "new one", kdf=FAST_KDF)
    wallet.change_passphrase(PASSPHRASE, "new one", kdf=FAST_KDF)
    wallet.close()
    with pytest.raises(BadPassphrase):
        Wallet.open(wallet_path, PASSPHRASE)
    with Wallet.open(wallet_path, "new one") as again:
        assert again.get(lid).status == "valid"


def test_backup_restore_on_a_fresh_folder_yields_identical_credentials(
    wallet: Wallet, tmp_path: Path, issuer: Issuer
) -> None:
    for n in range(5):
        _add(wallet, issuer, name=f"Skill {n}")
    tag(wallet, wallet.credentials()[0].local_id, add=["first"])
    data = (Path(__file__).parents[1] / "vectors/baked/ob20/simple-badge.png").read_bytes()
    import_bytes(wallet, data, source="legacy.png", now=NOW)
    wallet.new_identity("P-256", "pairwise", now=NOW)
    wallet.save()
    backup = tmp_path / "backups" / "earner.backup"
    wallet.backup(backup, "backup secret", kdf=FAST_KDF)
    with pytest.raises(BadPassphrase):
        Wallet.restore(backup, tmp_path / "x.ppw", "p", backup_passphrase="nope", kdf=FAST_KDF)
    fresh = tmp_path / "fresh-machine" / "restored.ppw"
    restored = Wallet.restore(
        backup, fresh, "restored pass", backup_passphrase="backup secret", kdf=FAST_KDF
    )
    restored.close()
    with Wallet.open(fresh, "restored pass") as copy:
        original = {r.local_id: r for r in wallet}
        assert {r.local_id for r in copy} == set(original)
        for record in copy:
            source = original[record.local_id]
            assert record.text == source.text
            assert record.verification == source.verification
            assert record.tags == source.tags
            assert record.status == source.status
            assert record.legacy == source.legacy
        assert [i.did for i in copy.identities()] == [i.did for i in wallet.identities()]
        # The keys themselves came across: the same DID signs.
        assert copy.identity("pairwise").public == wallet.identity("pairwise").public
    with pytest.raises(WalletExists):
        Wallet.restore(backup, fresh, "x", backup_passphrase="backup secret", kdf=FAST_KDF)


def test_a_copied_wallet_file_restores_too(wallet: Wallet, tmp_path: Path, issuer: Issuer) -> None:
    _add(wallet, issuer)
    wallet.save()
    copied = tmp_path / "usb" / "copy.ppw"
    copied.parent.mkdir()
    copied.write_bytes(wallet.path.read_bytes())
    with Wallet.restore(copied, tmp_path / "r.ppw", PASSPHRASE, kdf=FAST_KDF) as restored:
        assert len(restored) == 1


def test_plain_export_is_a_json_array_of_the_credentials_verbatim(
    wallet: Wallet, tmp_path: Path, issuer: Issuer, make_issuer: type[Issuer]
) -> None:
    for n in range(3):
        _add(wallet, issuer, name=f"Skill {n}")
    jwt = (Path(__file__).parents[1] / "vectors/baked/ob20/simple.jwt").read_bytes()
    import_bytes(wallet, jwt, source="legacy.jwt", now=NOW)
    out = tmp_path / "export.json"
    meta = tmp_path / "export.meta.json"
    assert wallet.export_plain(out, metadata=meta) == 4
    exported = json.loads(out.read_text("utf-8"))
    assert isinstance(exported, list) and len(exported) == 4
    by_text = {r.text.strip(): r for r in wallet}
    for item in exported:
        key = item if isinstance(item, str) else None
        if key is None:
            matches = [r for r in wallet if r.format == "json" and r.document == item]
            assert len(matches) == 1
        else:
            assert key in by_text
    info = json.loads(meta.read_text("utf-8"))
    assert info["format"] == "passeport-wallet-export-metadata"
    assert len(info["credentials"]) == 4
    assert "secretKeyMultibase" not in meta.read_text("utf-8")
    assert "secretKeyMultibase" not in out.read_text("utf-8")
    # The export imports back into another wallet: the same credentials.
    other = Wallet.create(tmp_path / "other.ppw", "x", kdf=FAST_KDF)
    outcomes = import_bytes(other, out.read_bytes(), source="export.json", now=NOW)
    assert [o.outcome for o in outcomes] == ["added"] * 4
    assert {r.local_id for r in other} == {r.local_id for r in wallet}
    assert {r.status for r in other} == {r.status for r in wallet}
    other.close()


def test_second_writer_is_refused_while_open(wallet: Wallet, wallet_path: Path) -> None:
    with pytest.raises(WalletLocked, match="in use by another process"):
        Wallet.open(wallet_path, PASSPHRASE, lock_timeout=0.1)
    with pytest.raises(WalletLocked):
        Wallet.open(wallet_path, PASSPHRASE, readonly=True, lock_timeout=0.1)
    wallet.close()
    with Wallet.open(wallet_path, PASSPHRASE, readonly=True) as reader:
        with Wallet.open(wallet_path, PASSPHRASE, readonly=True) as second_reader:
            assert len(second_reader) == len(reader)
        with pytest.raises(WalletLocked):
            Wallet.open(wallet_path, PASSPHRASE, lock_timeout=0.1)


def test_readonly_wallet_refuses_to_save(wallet: Wallet, wallet_path: Path) -> None:
    wallet.close()
    with (
        Wallet.open(wallet_path, PASSPHRASE, readonly=True) as reader,
        pytest.raises(Exception, match="read-only"),
    ):
        reader.save()


def test_stale_temp_files_are_removed_at_open(wallet: Wallet, wallet_path: Path) -> None:
    wallet.close()
    stale = wallet_path.with_name(f".{wallet_path.name}.deadbeef0000.tmp")
    stale.write_bytes(b"half a write")
    with Wallet.open(wallet_path, PASSPHRASE):
        assert not stale.exists()


def test_identities(wallet: Wallet) -> None:
    default = wallet.default_identity
    assert default.algorithm == "Ed25519" and default.label == "default"
    assert default.did.startswith("did:key:z6Mk")
    pairwise = wallet.new_identity("Ed25519", "for verifier A", now=NOW)
    p256 = wallet.new_identity("P-256", "ecdsa", now=NOW)
    assert p256.did.startswith("did:key:zDn")
    assert len({default.did, pairwise.did, p256.did}) == 3
    key = wallet.identity("for verifier A")
    assert key.controller == pairwise.did
    assert key.id == f"{pairwise.did}#{pairwise.public_multibase}"
    assert did_key_for(key.public) == pairwise.did
    assert wallet.identity().controller == default.did
    assert wallet.identity(p256.did).algorithm == "P-256"
    with pytest.raises(ValueError):
        wallet.new_identity("Ed25519", "for verifier A", now=NOW)
    wallet.set_default_identity("ecdsa")
    assert wallet.identities()[0].did == p256.did
    assert "secret" not in repr(pairwise).lower()
    wallet.save()
    wallet.close()
    with Wallet.open(wallet.path, PASSPHRASE) as again:
        assert again.default_identity.did == p256.did
        assert again.identity(pairwise.did).public == key.public
        with pytest.raises(NotFound):
            again.get_identity("nobody")


def test_changes_are_lost_without_save(wallet: Wallet, wallet_path: Path, issuer: Issuer) -> None:
    _add(wallet, issuer)
    assert wallet.changed
    wallet.close()
    with Wallet.open(wallet_path, PASSPHRASE) as again:
        assert len(again) == 0


def test_atomic_write_leaves_no_temp_file(wallet: Wallet, wallet_path: Path) -> None:
    wallet.save()
    leftovers = [n for n in os.listdir(wallet_path.parent) if n.endswith(".tmp")]
    assert leftovers == []


def test_saves_reuse_segments_and_compact(
    wallet: Wallet, wallet_path: Path, issuer: Issuer
) -> None:
    from wallet.store import MAX_SEGMENTS

    ids = [
        _add(wallet, issuer, name=f"Badge {n}", credential_id=f"urn:uuid:b{n}") for n in range(20)
    ]
    wallet.save()
    assert len(wallet._segments) == 1
    first = wallet._segments[0]
    _add(wallet, issuer, name="One more")
    wallet.save()
    assert len(wallet._segments) == 2 and wallet._segments[0] is first  # not rewritten
    texts = {r.local_id: (r.text, r.verification) for r in wallet}
    wallet.close()
    with Wallet.open(wallet_path, PASSPHRASE) as again:
        assert {r.local_id: (r.text, r.verification) for r in again} == texts
        # Replacing most credentials leaves mostly dead bytes: the next save compacts.
        for n in range(15):
            newer = issuer.credential(
                name=f"Badge {n} v2",
                credential_id=f"urn:uuid:b{n}",
                valid_from=NOW - timedelta(days=1),
            )
            _, outcome = again.put(newer, source="v2", verification={"verdict": "valid"})
            assert outcome == "replaced"
        again.save()
        assert len(again._segments) == 1
        texts = {r.local_id: r.text for r in again}
    with Wallet.open(wallet_path, PASSPHRASE) as third:
        assert {r.local_id: r.text for r in third} == texts
        assert third.get(ids[0]).name == "Badge 0 v2"
        for n in range(MAX_SEGMENTS + 3):
            _add(third, issuer, name=f"Extra {n}")
            third.save()
            assert len(third._segments) <= MAX_SEGMENTS
        count = len(third)
    with Wallet.open(wallet_path, PASSPHRASE) as fourth:
        assert len(fourth) == count
        assert all(r.document["name"] == r.name for r in fourth)
