"""The holder's ecdsa-sd-2023 copy stays with its badge: across saves, re-verification and
backups, so selective disclosure keeps working."""

from __future__ import annotations

from pathlib import Path

from protocol.di.ecdsa_sd_2023 import sign_base
from protocol.ob.disclosure import mandatory_pointers
from tests.wallet.conftest import FAST_KDF, NOW, PASSPHRASE, Issuer
from wallet.importing import reverify
from wallet.present import holder_copy
from wallet.store import Wallet


def test_holder_copy_survives_save_reverify_and_backup(tmp_path: Path) -> None:
    issuer = Issuer(algorithm="P-256")
    credential = issuer.credential(subject="did:example:earner")
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    copy = sign_base(
        unsigned, key=issuer.key, created=NOW, mandatory_pointers=mandatory_pointers(unsigned)
    )
    path = tmp_path / "w.ppw"
    wallet = Wallet.create(path, PASSPHRASE, kdf=FAST_KDF, now=NOW)
    record = wallet.add_credential(credential, source="test", verification={"verdict": "valid"})
    wallet.add_holder_copy(record, copy, verification={"verdict": "valid"})
    wallet.save()
    wallet.close()

    wallet = Wallet.open(path, PASSPHRASE)
    record = wallet.get(record.local_id)
    assert holder_copy(record) == copy
    reverify(wallet, record, now=NOW)
    wallet.save()
    backup = tmp_path / "backup.ppwb"
    wallet.backup(backup, PASSPHRASE)
    wallet.close()

    restored = Wallet.restore(backup, tmp_path / "restored.ppw", PASSPHRASE)
    assert holder_copy(restored.get(record.local_id)) == copy
    assert restored.get(record.local_id).holder_copy_verification == {"verdict": "valid"}
    restored.close()
