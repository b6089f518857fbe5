"""ecdsa-rdfc-2019 (P-256 and P-384) against the W3C vc-di-ecdsa vectors, byte for byte.

The vectors' ECDSA signatures are deterministic (RFC 6979), so signing reproduces them exactly.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from protocol.di import sign, verify_proofs
from protocol.did import Resolver, key_pair_as_did_key
from protocol.encoding import base58btc_encode
from protocol.jsonld.canonicalize import canonicalize
from protocol.keys import key_pair_from_multibase
from protocol.timeutil import parse_datetime
from tests.conftest import load_vector

NOW = datetime(2025, 1, 1, tzinfo=UTC)

CASES = [
    ("ecdsa-rdfc-2019-p256", "ECDSAP256", "unsigned.json", "p256KeyPair.json", "sha256"),
    (
        "ecdsa-rdfc-2019-p256/employ",
        "ECDSAP256",
        "employmentAuth.json",
        "p256KeyPair.json",
        "sha256",
    ),
    ("ecdsa-rdfc-2019-p384", "ECDSAP384", "unsigned.json", "p384KeyPair.json", "sha384"),
    (
        "ecdsa-rdfc-2019-p384/employ",
        "ECDSAP384",
        "employmentAuth.json",
        "p384KeyPair.json",
        "sha384",
    ),
]


@pytest.mark.parametrize(("folder", "suffix", "unsigned", "keys", "hash_name"), CASES)
def test_ecdsa_rdfc_2019_byte_for_byte(
    folder: str, suffix: str, unsigned: str, keys: str, hash_name: str, test_loader: Any
) -> None:
    base = ("vc-di-ecdsa", *folder.split("/"))
    # The input is the signed vector without its proof. For three cases that is exactly the
    # published unsigned file; the P-384 employ vector was made from a variant (another issuer),
    # which the canonical forms and hashes below pin down.
    document = {k: v for k, v in load_vector(*base, f"signed{suffix}.json").items() if k != "proof"}
    if folder != "ecdsa-rdfc-2019-p384/employ":
        assert document == load_vector("vc-di-ecdsa", unsigned)
    config = load_vector(*base, f"proofConfig{suffix}.json")
    # RDFC-1.0 runs with the suite's hash: SHA-384 for P-384.
    canon_doc = canonicalize(document, loader=test_loader, hash_name=hash_name)
    canon_proof = canonicalize(config, loader=test_loader, hash_name=hash_name)
    assert canon_doc == load_vector(*base, f"canonDoc{suffix}.txt")
    assert canon_proof == load_vector(*base, f"proofCanon{suffix}.txt")
    doc_hash = hashlib.new(hash_name, canon_doc.encode()).hexdigest()
    proof_hash = hashlib.new(hash_name, canon_proof.encode()).hexdigest()
    assert doc_hash == load_vector(*base, f"docHash{suffix}.txt").strip()
    assert proof_hash == load_vector(*base, f"proofHash{suffix}.txt").strip()
    assert proof_hash + doc_hash == load_vector(*base, f"combinedHash{suffix}.txt").strip()

    pair = load_vector("vc-di-ecdsa", keys)
    key = key_pair_as_did_key(
        key_pair_from_multibase(pair["publicKeyMultibase"], pair["secretKeyMultibase"])
    )
    signature = key.sign(bytes.fromhex(proof_hash + doc_hash))
    assert signature.hex() == load_vector(*base, f"sigHex{suffix}.txt").strip()
    assert base58btc_encode(signature) == load_vector(*base, f"sigBTC58{suffix}.txt").strip()

    signed = sign(
        document,
        key=key,
        suite="ecdsa-rdfc-2019",
        created=parse_datetime(config["created"]),
        loader=test_loader,
    )
    assert signed == load_vector(*base, f"signed{suffix}.json")
    results = verify_proofs(signed, resolver=Resolver(), now=NOW, loader=test_loader)
    assert [r.verified for r in results] == [True]

    # A flipped signature byte fails.
    tampered = dict(signed, proof=dict(signed["proof"]))
    sig = bytearray(signature)
    sig[5] ^= 1
    tampered["proof"]["proofValue"] = base58btc_encode(bytes(sig))
    results = verify_proofs(tampered, resolver=Resolver(), now=NOW, loader=test_loader)
    assert [r.verified for r in results] == [False]
