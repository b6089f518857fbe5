"""eddsa-rdfc-2022 and Ed25519Signature2020 against the W3C vc-di-eddsa vectors and the OB 3.0
vector, byte for byte: canonical forms, hashes, signatures, signed documents."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from protocol.di import sign, verify_proofs
from protocol.did import Resolver, key_pair_as_did_key
from protocol.encoding import base58btc_encode, multicodec_wrap
from protocol.jsonld.canonicalize import canonicalize
from protocol.keys import KeyPair, key_pair_from_multibase
from protocol.timeutil import parse_datetime
from tests.conftest import load_vector

NOW = datetime(2025, 1, 1, tzinfo=UTC)

PIPELINES = [
    # (folder, suffix, unsigned input, suite)
    ("eddsa-rdfc-2022", "DataInt", "unsigned.json", "eddsa-rdfc-2022"),
    ("eddsa-rdfc-2022/employ", "DataInt", "employmentAuth.json", "eddsa-rdfc-2022"),
    ("Ed25519Signature2020", "EdSig", "unsigned.json", "Ed25519Signature2020"),
]


def _w3c_key() -> KeyPair:
    pair = load_vector("vc-di-eddsa", "keyPair.json")
    return key_pair_as_did_key(
        key_pair_from_multibase(pair["publicKeyMultibase"], pair["privateKeyMultibase"])
    )


def _proofs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    proof = doc["proof"]
    return proof if isinstance(proof, list) else [proof]


@pytest.mark.parametrize(("folder", "suffix", "unsigned", "suite"), PIPELINES)
def test_pipeline_byte_for_byte(
    folder: str, suffix: str, unsigned: str, suite: str, test_loader: Any
) -> None:
    base = ("vc-di-eddsa", *folder.split("/"))
    document = load_vector("vc-di-eddsa", unsigned)
    proof_config = load_vector(*base, f"proofConfig{suffix}.json")
    canon_doc = canonicalize(document, loader=test_loader)
    assert canon_doc == load_vector(*base, f"canonDoc{suffix}.txt")
    canon_proof = canonicalize(proof_config, loader=test_loader)
    assert canon_proof == load_vector(*base, f"proofCanon{suffix}.txt")
    doc_hash = hashlib.sha256(canon_doc.encode()).hexdigest()
    proof_hash = hashlib.sha256(canon_proof.encode()).hexdigest()
    assert doc_hash == load_vector(*base, f"docHash{suffix}.txt").strip()
    assert proof_hash == load_vector(*base, f"proofHash{suffix}.txt").strip()
    assert proof_hash + doc_hash == load_vector(*base, f"combinedHash{suffix}.txt").strip()

    key = _w3c_key()
    signature = key.sign(bytes.fromhex(proof_hash + doc_hash))
    assert signature.hex() == load_vector(*base, f"sigHex{suffix}.txt").strip()
    assert base58btc_encode(signature) == load_vector(*base, f"sigBTC58{suffix}.txt").strip()

    created = parse_datetime(proof_config["created"])
    signed = sign(document, key=key, suite=suite, created=created, loader=test_loader)
    assert signed == load_vector(*base, f"signed{suffix}.json")
    results = verify_proofs(signed, resolver=Resolver(), now=NOW, loader=test_loader)
    assert [r.verified for r in results] == [True], results


def _multi_keys() -> dict[str, KeyPair]:
    pairs = load_vector("vc-di-eddsa", "proof-set-chain", "multiKeyPairs.json")
    return {
        name: key_pair_as_did_key(
            key_pair_from_multibase(p["publicKeyMultibase"], p["privateKeyMultibase"])
        )
        for name, p in pairs.items()
    }


@pytest.mark.parametrize(
    "name",
    [
        "signedProofSet1.json",
        "signedProofSet2.json",
        "signedProofChain1.json",
        "signedProofChain2.json",
    ],
)
def test_proof_sets_and_chains_verify(name: str, test_loader: Any) -> None:
    document = load_vector("vc-di-eddsa", "proof-set-chain", name)
    results = verify_proofs(document, resolver=Resolver(), now=NOW, loader=test_loader)
    assert results and all(r.verified for r in results), results


def test_proof_set_and_chain_reproduced(test_loader: Any) -> None:
    folder = ("vc-di-eddsa", "proof-set-chain")
    keys = _multi_keys()
    by_vm = {k.id: k for k in keys.values()}
    document = load_vector(*folder, "unsigned.json")
    steps = [
        ("proofSetConfig1.json", "signedProofSet1.json"),
        ("proofSetConfig2.json", "signedProofSet2.json"),
        ("proofChainConfig1.json", "signedProofChain1.json"),
        ("proofChainConfig2.json", "signedProofChain2.json"),
    ]
    for config_name, expected_name in steps:
        config = load_vector(*folder, config_name)
        document = sign(
            document,
            key=by_vm[config["verificationMethod"]],
            created=parse_datetime(config["created"]),
            proof_id=config.get("id"),
            previous_proof=config.get("previousProof"),
            loader=test_loader,
        )
        expected = load_vector(*folder, expected_name)
        assert _proofs(document) == _proofs(expected), config_name


def test_broken_chain_fails(test_loader: Any) -> None:
    document = load_vector("vc-di-eddsa", "proof-set-chain", "signedProofChain2.json")
    broken = copy.deepcopy(document)
    del broken["proof"][2]  # the proof that the last one chains to
    results = verify_proofs(broken, resolver=Resolver(), now=NOW, loader=test_loader)
    assert not results[-1].verified
    assert "previousProof" in results[-1].error.message  # type: ignore[union-attr]


def _ob_vector_key() -> tuple[KeyPair, dict[str, Any]]:
    data = load_vector("ob3-examples", "ob-ldp-test-vector", "linked-data-proof-ob.EXTRACTED.json")
    seed = bytes.fromhex(data["keyPair"]["privateKeyHex"])[:32]
    pair = key_pair_from_multibase(
        data["keyPair"]["publicKeyMultibase"], base58btc_encode(multicodec_wrap(0x1300, seed))
    )
    vm = data["keyPair"]["verificationMethod"]
    controller = vm.split("#")[0]
    return pair.with_controller(controller, vm), data


def controller_document(vm_id: str, public_multibase: str) -> dict[str, Any]:
    """A controller document at an https URL, handed to the resolver as a trust input."""
    controller = vm_id.split("#")[0]
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": controller,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "Multikey",
                "controller": controller,
                "publicKeyMultibase": public_multibase,
            }
        ],
        "assertionMethod": [vm_id],
    }


def test_open_badges_vector(test_loader: Any) -> None:
    key, data = _ob_vector_key()
    unsigned = data["unsignedCredential"]
    canon = canonicalize(unsigned, loader=test_loader)
    assert canon == load_vector("ob3-examples", "ob-ldp-test-vector", "document-canon.txt")
    assert hashlib.sha256(canon.encode()).hexdigest() == data["documentHashHex"]
    options = dict(data["proofOptions"], **{"@context": unsigned["@context"]})
    proof_canon = canonicalize(options, loader=test_loader)
    assert proof_canon == load_vector("ob3-examples", "ob-ldp-test-vector", "proof-canon.txt")
    assert hashlib.sha256(proof_canon.encode()).hexdigest() == data["proofHashHex"]
    assert key.sign(bytes.fromhex(data["dataToSignHex"])).hex() == data["signatureHex"]
    signed = sign(
        unsigned,
        key=key,
        created=parse_datetime(data["proofOptions"]["created"]),
        loader=test_loader,
    )
    assert _proofs(signed)[0]["proofValue"] == data["proofValue"]
    assert _proofs(signed) == _proofs(data["signedCredential"])
    resolver = Resolver({key.controller: controller_document(key.id, key.public.multibase)})  # type: ignore[arg-type,dict-item]
    assert all(r.verified for r in verify_proofs(signed, resolver=resolver, now=NOW))


@pytest.mark.parametrize(
    "name", ["simple.json", "simple-did-key-method.json", "complete.json", "endorsement-valid.json"]
)
def test_1edtech_examples_verify(name: str) -> None:
    document = load_vector("ob3-examples", name)
    documents = {}
    for proof in _proofs(document):
        vm = proof["verificationMethod"]
        if not vm.startswith("did:"):
            # The examples' keys sit at example.com URLs; the trust input is a controller
            # document naming the key, never the fragment alone.
            documents[vm.split("#")[0]] = controller_document(vm, vm.split("#")[1])
    results = verify_proofs(document, resolver=Resolver(documents), now=NOW)
    assert results and all(r.verified for r in results), results


def test_fragment_key_is_not_trusted_without_a_controller_document() -> None:
    document = load_vector("ob3-examples", "simple.json")
    results = verify_proofs(document, resolver=Resolver(), now=NOW)
    assert not results[0].verified
