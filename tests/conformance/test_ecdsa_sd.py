"""ecdsa-sd-2023 against the W3C vc-di-ecdsa vectors, every step byte for byte, plus rejections.

The vectors fix the issuer key, the proof-scoped key and the HMAC key
(``ecdsa-sd-2023/SDKeyMaterial.json``) and use deterministic ECDSA (RFC 6979), so the base proof
and the derived proof are reproduced exactly. Every file of ``ecdsa-sd-2023/employ`` and
``ecdsa-sd-2023/prc`` is checked by one entry of ``CHECKS``; a new file without a check fails
``test_every_vector_file_is_checked``.

The prc input is ``prc/addSignedSDBase.json`` without its proof: ``prCredUnsigned.json`` is
stale (its description differs from what every prc output was made from), which
``test_prc_unsigned_vector_is_stale`` pins down.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import cbor2
import pytest

from protocol.di import verify_proofs
from protocol.di.ecdsa_sd_2023 import (
    BASE_PROOF_FOR_HOLDER,
    DisclosureData,
    EcdsaSd2023,
    HashData,
    VerifyData,
    base_proof_configuration,
    create_disclosure_data,
    create_verify_data,
    derive,
    hash_base,
    serialize_base,
    sign_base,
    transform_base,
    verify_base,
)
from protocol.di.sd_cbor import (
    BASE_PROOF_HEADER,
    DERIVED_PROOF_HEADER,
    BaseProofValue,
    DerivedProofValue,
    compress_label_map,
    parse_base_proof_value,
    parse_derived_proof_value,
    serialize_base_proof_value,
    serialize_derived_proof_value,
)
from protocol.di.sd_primitives import (
    canonicalize_and_group,
    create_hmac_id_label_map_function,
    deskolemize_nquads,
    json_pointer_to_paths,
    relabel_blank_nodes,
    select_jsonld,
    skolemize_compact_jsonld,
    skolemize_nquads,
    sort_nquads,
)
from protocol.did import Resolver
from protocol.encoding import b64url_encode, base58btc_encode
from protocol.errors import InvalidProof, MalformedError, UnsupportedError
from protocol.jsonld.canonicalize import canonicalize
from protocol.keys import KeyPair, generate, key_pair_from_multibase
from protocol.rdfc import canonicalize as rdfc_canonicalize
from protocol.timeutil import parse_datetime
from protocol.verify import verify
from tests.conftest import VECTORS, load_vector

NOW = datetime(2025, 1, 1, tzinfo=UTC)
SD = ("vc-di-ecdsa", "ecdsa-sd-2023")
FOLDERS = ("employ", "prc")
POINTERS = {
    "employ": ("employMandatory.json", "employSelective.json"),
    "prc": ("prCredMandatory.json", "prCredSelective.json"),
}


def _multikey(public_key: bytes) -> str:
    return base58btc_encode(public_key)


def _hexes(values: Any) -> list[str]:
    return [value.hex() for value in values]


def _map(entries: dict[Any, Any]) -> dict[str, Any]:
    """The vectors' JSON form of a JS Map."""
    return {"dataType": "Map", "value": [[key, value] for key, value in entries.items()]}


@dataclass
class Run:
    """Every intermediate value of one vector folder, computed once."""

    folder: str
    loader: Any
    document: dict[str, Any]
    mandatory: list[str]
    selective: list[str]
    proof_options: dict[str, Any]
    canonical_config: str
    hash_data: HashData
    base: BaseProofValue
    signed: dict[str, Any]
    disclosure: DisclosureData
    derived: dict[str, Any]
    verify_data: VerifyData
    random_string: str


def _keys(vm: str) -> tuple[KeyPair, KeyPair, bytes]:
    material = load_vector(*SD, "SDKeyMaterial.json")
    issuer = key_pair_from_multibase(
        material["baseKeyPair"]["publicKeyMultibase"],
        material["baseKeyPair"]["secretKeyMultibase"],
        controller=vm.split("#")[0],
        id=vm,
    )
    proof_key = key_pair_from_multibase(
        material["proofKeyPair"]["publicKeyMultibase"],
        material["proofKeyPair"]["secretKeyMultibase"],
    )
    return issuer, proof_key, bytes.fromhex(material["hmacKeyString"])


def _input_document(folder: str) -> dict[str, Any]:
    if folder == "employ":
        document: dict[str, Any] = load_vector("vc-di-ecdsa", "employmentAuth.json")
    else:
        signed = load_vector(*SD, folder, "addSignedSDBase.json")
        document = {k: v for k, v in signed.items() if k != "proof"}
    return document


@pytest.fixture(scope="module", params=FOLDERS)
def run(request: pytest.FixtureRequest, test_loader: Any) -> Run:
    folder: str = request.param
    document = _input_document(folder)
    mandatory_file, selective_file = POINTERS[folder]
    mandatory = load_vector("vc-di-ecdsa", mandatory_file)
    selective = load_vector("vc-di-ecdsa", selective_file)
    options = load_vector(*SD, folder, "addProofConfig.json")
    issuer, proof_key, hmac_key = _keys(options["verificationMethod"])
    # The skolem identifiers of the vectors' run (a random UUID there) are fixed here, so the
    # intermediate group data can be compared; they never reach any output.
    group_data = load_vector(*SD, folder, "derivedAllGroupData.json")
    random_string = group_data["skolemized"]["compact"]["id"].split("_")[1]

    proof_options = {k: v for k, v in options.items() if k != "@context"}
    canonical_config = base_proof_configuration(proof_options, document, loader=test_loader)
    transform = transform_base(
        document,
        mandatory_pointers=mandatory,
        hmac_key=hmac_key,
        loader=test_loader,
        random_string=random_string,
    )
    hash_data = hash_base(transform, canonical_config)
    base = serialize_base(hash_data, key=issuer, proof_key=proof_key)
    signed = sign_base(
        document,
        key=issuer,
        created=parse_datetime(options["created"]),
        mandatory_pointers=mandatory,
        loader=test_loader,
        hmac_key=hmac_key,
        proof_key=proof_key,
    )
    disclosure = create_disclosure_data(
        document,
        signed["proof"],
        selective,
        loader=test_loader,
        random_string=random_string,
    )
    derived = derive(signed, selective_pointers=selective, loader=test_loader)
    unsecured = {k: v for k, v in derived.items() if k != "proof"}
    config = {k: v for k, v in derived["proof"].items() if k != "proofValue"}
    config["@context"] = unsecured["@context"]
    verify_data = create_verify_data(
        unsecured, config, derived["proof"]["proofValue"], loader=test_loader
    )
    return Run(
        folder,
        test_loader,
        document,
        mandatory,
        selective,
        proof_options,
        canonical_config,
        hash_data,
        base,
        signed,
        disclosure,
        derived,
        verify_data,
        random_string,
    )


# --------------------------------------------------------------------------------------------
# One check per vector file
# --------------------------------------------------------------------------------------------


def check_add_proof_config(run: Run, expected: Any) -> None:
    assert {**run.signed["proof"], "@context": run.signed["@context"]} == {
        **expected,
        "proofValue": run.signed["proof"]["proofValue"],
    }


def check_add_proof_config_canon(run: Run, expected: Any) -> None:
    assert run.canonical_config == expected


def check_add_base_doc_canon(run: Run, expected: Any) -> None:
    # The deskolemized dataset canonicalizes to the published canonical form, as does the
    # document itself.
    grouped = run.hash_data.transform.grouped
    assert rdfc_canonicalize(grouped.quads).nquads == "".join(expected)
    assert canonicalize(run.document, loader=run.loader) == "".join(expected)


def check_add_base_doc_hmac_canon(run: Run, expected: Any) -> None:
    assert run.hash_data.transform.grouped.nquads == expected


def check_add_base_transform(run: Run, expected: Any) -> None:
    transform = run.hash_data.transform
    assert {
        "mandatoryPointers": transform.mandatory_pointers,
        "mandatory": _map(transform.mandatory),
        "nonMandatory": _map(transform.non_mandatory),
        "hmacKeyString": transform.hmac_key.hex().upper(),
    } == expected


def check_add_hash_data(run: Run, expected: Any) -> None:
    assert {
        "proofHash": run.hash_data.proof_hash.hex(),
        "mandatoryHash": run.hash_data.mandatory_hash.hex(),
    } == expected


def _resolve(document: Any, pointer: str) -> Any:
    value = document
    for path in json_pointer_to_paths(pointer):
        value = value[int(path)] if isinstance(value, list) else value[str(path)]
    return value


def check_add_pointer_values(run: Run, expected: Any) -> None:
    assert [{"pointer": p, "value": _resolve(run.document, p)} for p in run.mandatory] == expected


def check_add_raw_base_signature_info(run: Run, expected: Any) -> None:
    assert {
        "baseSignature": run.base.base_signature.hex(),
        "publicKey": _multikey(run.base.public_key),
        "signatures": _hexes(run.base.signatures),
        "mandatoryPointers": list(run.base.mandatory_pointers),
    } == expected


def check_add_signed_sd_base(run: Run, expected: Any) -> None:
    assert run.signed == expected
    assert json.dumps(run.signed) == json.dumps(expected)  # member order too
    assert serialize_base_proof_value(run.base) == expected["proof"]["proofValue"]


def check_derived_recovered_base_data(run: Run, expected: Any) -> None:
    parsed = parse_base_proof_value(run.signed["proof"]["proofValue"])
    assert {
        "baseSignature": parsed.base_signature.hex(),
        "proofPublicKey": _multikey(parsed.public_key),
        "hmacKey": parsed.hmac_key.hex(),
        "signatures": _hexes(parsed.signatures),
        "mandatoryPointers": list(parsed.mandatory_pointers),
    } == expected


def check_derived_all_group_data(run: Run, expected: Any) -> None:
    grouped = run.disclosure.grouped
    groups = {
        name: {
            "matching": _map(group.matching),
            "nonMatching": _map(group.non_matching),
            "deskolemizedNQuads": group.deskolemized_nquads,
        }
        for name, group in grouped.groups.items()
    }
    assert groups == expected["groups"]
    assert grouped.deskolemized_nquads == expected["deskolemizedNQuads"]
    assert _map(grouped.label_map) == expected["labelMap"]
    assert grouped.nquads == expected["nquads"]
    # The fast path skolemized the compact document in place; the reference path (expand,
    # skolemize, compact) reproduces the published skolemized forms exactly.
    assert not grouped.skolemized.reference
    reference = skolemize_compact_jsonld(
        run.document, loader=run.loader, random_string=run.random_string
    )
    assert reference.expanded == expected["skolemized"]["expanded"]
    assert reference.compact == expected["skolemized"]["compact"]
    assert json.dumps(reference.compact) == json.dumps(expected["skolemized"]["compact"])
    # Both paths give the same skolem identifiers.
    assert grouped.skolemized.compact["id"] == reference.compact["id"]


def check_derived_group_indexes(run: Run, expected: Any) -> None:
    groups = run.disclosure.grouped.groups
    assert {
        "combinedIndexes": list(groups["combined"].matching),
        "mandatoryIndexes": list(groups["mandatory"].matching),
        "nonMandatoryIndexes": list(groups["mandatory"].non_matching),
        "selectiveIndexes": list(groups["selective"].matching),
    } == expected


def check_derived_adj_mandatory_indexes(run: Run, expected: Any) -> None:
    assert {"adjMandatoryIndexes": list(run.disclosure.mandatory_indexes)} == expected


def check_derived_adj_signatures(run: Run, expected: Any) -> None:
    assert {
        "adjSignatureIndexes": list(run.disclosure.signature_indexes),
        "filteredSignatures": _hexes(run.disclosure.signatures),
    } == expected


def check_derived_disclosure_data(run: Run, expected: Any) -> None:
    data = run.disclosure
    assert {
        "baseSignature": data.base_signature.hex(),
        "publicKey": _multikey(data.public_key),
        "signatures": _hexes(data.signatures),
        "labelMap": _map(data.label_map),
        "mandatoryIndexes": list(data.mandatory_indexes),
    } == expected


def check_derived_unsigned_reveal(run: Run, expected: Any) -> None:
    assert run.disclosure.reveal_document == expected
    assert json.dumps(run.disclosure.reveal_document) == json.dumps(expected)
    unsigned = {k: v for k, v in run.derived.items() if k != "proof"}
    assert unsigned == expected


def check_derived_reveal_document(run: Run, expected: Any) -> None:
    assert run.derived == expected
    assert json.dumps(run.derived) == json.dumps(expected)
    results = verify_proofs(expected, resolver=Resolver(), now=NOW, loader=run.loader)
    assert [(r.verified, r.error) for r in results] == [(True, None)]


def check_verify_derived_proof_value(run: Run, expected: Any) -> None:
    parsed = parse_derived_proof_value(run.derived["proof"]["proofValue"])
    assert {
        "baseSignature": parsed.base_signature.hex(),
        "publicKey": _multikey(parsed.public_key),
        "signatures": _hexes(parsed.signatures),
        "labelMap": [[k, v] for k, v in parsed.label_map.items()],
        "mandatoryIndexes": list(parsed.mandatory_indexes),
    } == expected


def check_verify_nquads(run: Run, expected: Any) -> None:
    assert run.verify_data.nquads == expected


def check_verify_create_verify_data(run: Run, expected: Any) -> None:
    data = run.verify_data
    assert {
        "baseSignature": data.base_signature.hex(),
        "proofHash": data.proof_hash.hex(),
        "publicKey": _multikey(data.public_key),
        "signatures": _hexes(data.signatures),
        "nonMandatory": data.non_mandatory,
        "mandatoryHash": data.mandatory_hash.hex(),
    } == expected


CHECKS: dict[str, Callable[[Run, Any], None]] = {
    "addProofConfig.json": check_add_proof_config,
    "addProofConfigCanon.txt": check_add_proof_config_canon,
    "addBaseDocCanon.json": check_add_base_doc_canon,
    "addBaseDocHMACCanon.json": check_add_base_doc_hmac_canon,
    "addBaseTransform.json": check_add_base_transform,
    "addHashData.json": check_add_hash_data,
    "addPointerValues.json": check_add_pointer_values,
    "addRawBaseSignatureInfo.json": check_add_raw_base_signature_info,
    "addSignedSDBase.json": check_add_signed_sd_base,
    "derivedRecoveredBaseData.json": check_derived_recovered_base_data,
    "derivedAllGroupData.json": check_derived_all_group_data,
    "derivedGroupIndexes.json": check_derived_group_indexes,
    "derivedAdjMandatoryIndexes.json": check_derived_adj_mandatory_indexes,
    "derivedAdjSignatures.json": check_derived_adj_signatures,
    "derivedDisclosureData.json": check_derived_disclosure_data,
    "derivedUnsignedReveal.json": check_derived_unsigned_reveal,
    "derivedRevealDocument.json": check_derived_reveal_document,
    "verifyDerivedProofValue.json": check_verify_derived_proof_value,
    "verifyNQuads.json": check_verify_nquads,
    "verifyCreateVerifyData.json": check_verify_create_verify_data,
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_vector_file(run: Run, name: str) -> None:
    CHECKS[name](run, load_vector(*SD, run.folder, name))


def test_every_vector_file_is_checked() -> None:
    """A vector file without a check fails here (the Wycheproof habit)."""
    for folder in FOLDERS:
        files = sorted(p.name for p in (VECTORS.joinpath(*SD, folder)).iterdir())
        assert files == sorted(CHECKS), folder
    top = sorted(p.name for p in VECTORS.joinpath(*SD).iterdir())
    assert top == ["SDKeyMaterial.json", *FOLDERS]
    assert len(CHECKS) == 20


def test_employ_input_is_the_base_documents_content() -> None:
    signed = load_vector(*SD, "employ", "addSignedSDBase.json")
    assert {k: v for k, v in signed.items() if k != "proof"} == _input_document("employ")


def test_prc_unsigned_vector_is_stale(test_loader: Any) -> None:
    stale = load_vector("vc-di-ecdsa", "prCredUnsigned.json")
    expected = "".join(load_vector(*SD, "prc", "addBaseDocCanon.json"))
    assert canonicalize(stale, loader=test_loader) != expected
    assert canonicalize(_input_document("prc"), loader=test_loader) == expected


# --------------------------------------------------------------------------------------------
# Verification: success paths and what must fail
# --------------------------------------------------------------------------------------------


def _verified(document: dict[str, Any], loader: Any) -> list[tuple[bool, str | None]]:
    results = verify_proofs(document, resolver=Resolver(), now=NOW, loader=loader)
    return [(r.verified, None if r.error is None else r.error.message) for r in results]


def test_base_proof_is_refused_by_the_verifier(run: Run) -> None:
    assert _verified(run.signed, run.loader) == [(False, BASE_PROOF_FOR_HOLDER)]


def test_holder_checks_the_base_proof(run: Run) -> None:
    verify_base(run.signed, resolver=Resolver(), loader=run.loader)
    tampered = copy.deepcopy(run.signed)
    tampered["validFrom"] = "2000-01-01T00:00:00Z"
    with pytest.raises(InvalidProof):
        verify_base(tampered, resolver=Resolver(), loader=run.loader)
    tampered = copy.deepcopy(run.signed)
    tampered["credentialSubject"]["birthCountry"] = "Utopia"  # a non-mandatory statement
    with pytest.raises(InvalidProof, match="signature"):
        verify_base(tampered, resolver=Resolver(), loader=run.loader)


def test_full_verification_of_the_derived_document(run: Run) -> None:
    # The vectors' issuer is not the signing key's controller, so only the proof check passes.
    report = verify(run.derived, now=NOW, resolver=Resolver(), loader=run.loader)
    [proof_check] = [c for c in report.checks if c.check == "proof[0] ecdsa-sd-2023"]
    assert proof_check.status == "pass", proof_check
    report = verify(run.signed, now=NOW, resolver=Resolver(), loader=run.loader)
    [proof_check] = [c for c in report.checks if c.check == "proof[0] ecdsa-sd-2023"]
    assert proof_check.status == "fail"
    assert BASE_PROOF_FOR_HOLDER in proof_check.reason


def test_derive_with_nothing_selective_reveals_the_mandatory_part(run: Run) -> None:
    derived = derive(run.signed, selective_pointers=[], loader=run.loader)
    assert set(derived) == {"@context", "type", "issuer", "proof"}
    assert _verified(derived, run.loader) == [(True, None)]


def test_derive_everything_verifies(run: Run) -> None:
    pointers = [f"/{key}" for key in run.document if key != "@context"]
    derived = derive(run.signed, selective_pointers=pointers, loader=run.loader)
    assert {k: v for k, v in derived.items() if k != "proof"} == run.document
    assert _verified(derived, run.loader) == [(True, None)]


@pytest.mark.parametrize(
    "change",
    ["value", "added", "removed", "proof-option", "proofValue"],
)
def test_tampered_derived_document_fails(run: Run, change: str) -> None:
    tampered = copy.deepcopy(run.derived)
    if change == "value":
        tampered["validUntil"] = "2099-12-31T23:59:59Z"  # selectively disclosed
    elif change == "added":
        tampered["credentialSubject"]["gender"] = "Male"  # not disclosed
    elif change == "removed":
        del tampered["validFrom"]
    elif change == "proof-option":
        tampered["proof"]["created"] = "2023-08-15T23:36:39Z"
    else:
        raw = bytearray(base64.urlsafe_b64decode(tampered["proof"]["proofValue"][1:] + "=="))
        raw[20] ^= 0x01  # inside the base signature
        tampered["proof"]["proofValue"] = "u" + b64url_encode(bytes(raw))
    [(verified, message)] = _verified(tampered, run.loader)
    assert not verified
    assert message


def test_label_map_must_be_injective_and_complete(run: Run) -> None:
    parsed = parse_derived_proof_value(run.derived["proof"]["proofValue"])
    labels = list(parsed.label_map.values())
    for label_map, reason in (
        (dict.fromkeys(parsed.label_map, labels[0]), "same label"),
        ({**parsed.label_map, "c14n9": labels[0][:-1] + "A"}, "entries for"),
        (dict(list(parsed.label_map.items())[:1]), "no entry"),
    ):
        value = DerivedProofValue(
            parsed.base_signature,
            parsed.public_key,
            parsed.signatures,
            label_map,
            parsed.mandatory_indexes,
        )
        tampered = copy.deepcopy(run.derived)
        tampered["proof"]["proofValue"] = serialize_derived_proof_value(value)
        [(verified, message)] = _verified(tampered, run.loader)
        assert not verified
        assert message is not None and reason in message


@pytest.mark.parametrize(
    ("indexes", "reason"),
    [((0, 0, 4, 5), "twice"), ((0, 4, 5, 99), "past"), ((0, 4, 5), "count")],
)
def test_mandatory_indexes_are_checked(run: Run, indexes: tuple[int, ...], reason: str) -> None:
    parsed = parse_derived_proof_value(run.derived["proof"]["proofValue"])
    value = DerivedProofValue(
        parsed.base_signature, parsed.public_key, parsed.signatures, parsed.label_map, indexes
    )
    tampered = copy.deepcopy(run.derived)
    tampered["proof"]["proofValue"] = serialize_derived_proof_value(value)
    [(verified, message)] = _verified(tampered, run.loader)
    assert not verified
    assert message is not None and reason in message


def test_suite_is_registered_and_does_not_sign(test_loader: Any) -> None:
    from protocol.di.suites import SUITES

    registered: object = SUITES[("DataIntegrityProof", "ecdsa-sd-2023")]
    assert registered is EcdsaSd2023
    with pytest.raises(UnsupportedError, match="sign_base"):
        EcdsaSd2023.create_proof_value({}, {}, generate("P-256"), test_loader)


def test_random_keys_by_default(run: Run) -> None:
    """Without fixed HMAC and proof keys, two base proofs differ and both derive and verify."""
    options = load_vector(*SD, run.folder, "addProofConfig.json")
    issuer, _, _ = _keys(options["verificationMethod"])
    proofs = []
    for _ in range(2):
        signed = sign_base(
            run.document,
            key=issuer,
            created=NOW,
            mandatory_pointers=run.mandatory,
            loader=run.loader,
        )
        verify_base(signed, resolver=Resolver(), loader=run.loader)
        derived = derive(signed, selective_pointers=run.selective, loader=run.loader)
        assert _verified(derived, run.loader) == [(True, None)]
        proofs.append(signed["proof"]["proofValue"])
    assert proofs[0] != proofs[1]


# --------------------------------------------------------------------------------------------
# Proof values: strict CBOR parsing
# --------------------------------------------------------------------------------------------


def _derived_components() -> list[Any]:
    value = load_vector(*SD, "prc", "derivedRevealDocument.json")["proof"]["proofValue"]
    raw = base64.urlsafe_b64decode(value[1:] + "=" * (-len(value[1:]) % 4))
    assert raw[:3] == DERIVED_PROOF_HEADER
    components: list[Any] = cbor2.loads(raw[3:])
    return components


def _derived(components: Any, header: bytes = DERIVED_PROOF_HEADER) -> str:
    return "u" + b64url_encode(header + cbor2.dumps(components))


def test_cbor_matches_cbor2_on_the_vectors() -> None:
    for folder in FOLDERS:
        signed = load_vector(*SD, folder, "addSignedSDBase.json")["proof"]["proofValue"]
        raw = base64.urlsafe_b64decode(signed[1:] + "=" * (-len(signed[1:]) % 4))
        assert raw[:3] == BASE_PROOF_HEADER
        components = cbor2.loads(raw[3:])
        parsed = parse_base_proof_value(signed)
        assert [
            parsed.base_signature,
            parsed.public_key,
            parsed.hmac_key,
            list(parsed.signatures),
            list(parsed.mandatory_pointers),
        ] == components
    components = _derived_components()
    parsed_derived = parse_derived_proof_value(_derived(components))
    assert compress_label_map(parsed_derived.label_map) == components[3]


def _mutations() -> list[tuple[str, str, str]]:
    good = _derived_components()
    cases: list[tuple[str, str, str]] = []

    def add(name: str, value: str, message: str) -> None:
        cases.append((name, value, message))

    add("not multibase u", "z" + _derived(good)[1:], "starting with 'u'")
    add("padding", _derived(good) + "=", "base64url without padding")
    add("bad alphabet", _derived(good)[:10] + "+" + _derived(good)[11:], "base64url")
    add("wrong header", _derived(good, b"\xd9\x5d\x07"), "header d95d01")
    add("base header", _derived(good, BASE_PROOF_HEADER), "base proof")
    short = list(good)
    short[0] = good[0][:63]
    add("short signature", _derived(short), "baseSignature must be 64 bytes, got 63")
    key36 = list(good)
    key36[1] = good[1] + b"\x00"
    add("36-byte key", _derived(key36), "publicKey must be 35 bytes, got 36")
    bad_header = list(good)
    bad_header[1] = b"\xed\x01" + good[1][2:]
    add("not a P-256 key", _derived(bad_header), "P-256 Multikey")
    bad_sig = copy.deepcopy(good)
    bad_sig[2][1] = bad_sig[2][1] + b"\x00"
    add("long per-statement signature", _derived(bad_sig), "signatures[1] must be 64 bytes")
    label = copy.deepcopy(good)
    label[3][0] = label[3][0][:31]
    add("short label", _derived(label), "labelMap[0] must be 32 bytes")
    text_key = copy.deepcopy(good)
    text_key[3] = {"c14n0": good[3][0]}
    add("text label key", _derived(text_key), "must be an unsigned integer, found a text")
    negative = copy.deepcopy(good)
    negative[4] = [-1]
    add("negative index", _derived(negative), "found a negative integer")
    add("four components", _derived(good[:4]), "5 components, it has 4")
    add("not an array", _derived({"a": 1}), "must be an array, found a map")
    tagged = "u" + b64url_encode(DERIVED_PROOF_HEADER + cbor2.dumps(cbor2.CBORTag(64, b"x")))
    add("tag", tagged, "CBOR-tagged")
    trailing = "u" + b64url_encode(DERIVED_PROOF_HEADER + cbor2.dumps(good) + b"\x00")
    add("trailing bytes", trailing, "1 bytes follow")
    truncated = "u" + b64url_encode(DERIVED_PROOF_HEADER + cbor2.dumps(good)[:-5])
    add("truncated", truncated, "CBOR ends")
    indefinite = "u" + b64url_encode(DERIVED_PROOF_HEADER + b"\x9f\xff")
    add("indefinite array", indefinite, "indefinite length")
    raw = bytearray(DERIVED_PROOF_HEADER + cbor2.dumps(good))
    # Duplicate label map key: rewrite key 1 to 0 in the encoded map {0: h'..', 1: h'..'}.
    at = raw.index(bytes([0xA2, 0x00, 0x58, 0x20])) + 4 + 32
    assert raw[at] == 0x01
    raw[at] = 0x00
    add("duplicate label key", "u" + b64url_encode(bytes(raw)), "key 0 twice")
    add("float", _derived([1.5, *good[1:]]), "found a float")
    add("empty", "u", "must start with the header d95d01")
    return cases


@pytest.mark.parametrize(("name", "value", "message"), _mutations(), ids=lambda x: str(x)[:30])
def test_malformed_derived_proof_values(name: str, value: str, message: str) -> None:
    with pytest.raises(MalformedError) as info:
        parse_derived_proof_value(value)
    assert message in info.value.message, name
    assert info.value.__cause__ is None or isinstance(info.value.__cause__, UnicodeDecodeError)


def test_malformed_base_proof_values() -> None:
    good = load_vector(*SD, "prc", "addSignedSDBase.json")["proof"]["proofValue"]
    raw = base64.urlsafe_b64decode(good[1:] + "=" * (-len(good[1:]) % 4))
    components = cbor2.loads(raw[3:])
    bad_hmac = list(components)
    bad_hmac[2] = components[2][:16]
    bad_pointer = list(components)
    bad_pointer[4] = [b"/issuer"]
    four = BASE_PROOF_HEADER + cbor2.dumps(components[:4])
    cases = [
        ("u" + b64url_encode(BASE_PROOF_HEADER + cbor2.dumps(bad_hmac)), "hmacKey must be 32"),
        ("u" + b64url_encode(BASE_PROOF_HEADER + cbor2.dumps(bad_pointer)), "text string"),
        ("u" + b64url_encode(four), "5 components, it has 4"),
        (load_vector(*SD, "prc", "derivedRevealDocument.json")["proof"]["proofValue"], "derived"),
    ]
    invalid_text = bytearray(BASE_PROOF_HEADER + cbor2.dumps(components))
    at = invalid_text.index(b"/issuer")
    invalid_text[at + 1] = 0xFF
    cases.append(("u" + b64url_encode(bytes(invalid_text)), "not valid UTF-8"))
    for value, message in cases:
        with pytest.raises(MalformedError, match=message):
            parse_base_proof_value(value)


def test_malformed_derived_proof_is_reported_by_the_verifier(run: Run) -> None:
    tampered = copy.deepcopy(run.derived)
    tampered["proof"]["proofValue"] = _derived(_derived_components()[:3])
    [(verified, message)] = _verified(tampered, run.loader)
    assert not verified
    assert message is not None and "5 components" in message


def test_serializers_refuse_wrong_lengths() -> None:
    parsed = parse_base_proof_value(
        load_vector(*SD, "prc", "addSignedSDBase.json")["proof"]["proofValue"]
    )
    with pytest.raises(ValueError, match="hmacKey"):
        serialize_base_proof_value(
            BaseProofValue(
                parsed.base_signature, parsed.public_key, b"x", (), parsed.mandatory_pointers
            )
        )
    with pytest.raises(ValueError, match="c14nN"):
        compress_label_map({"b0": "u" + b64url_encode(bytes(32))})


# --------------------------------------------------------------------------------------------
# Primitives: pointers, selection, skolemization, ordering
# --------------------------------------------------------------------------------------------


def test_json_pointer_parsing() -> None:
    assert json_pointer_to_paths("") == []
    assert json_pointer_to_paths("/") == [""]
    assert json_pointer_to_paths("/a/0/b~1c/~0d/01/10") == ["a", 0, "b/c", "~d", "01", 10]
    for bad in ("a/b", "/a~2", "/a~"):
        with pytest.raises(MalformedError, match="invalid JSON pointer"):
            json_pointer_to_paths(bad)


@pytest.mark.parametrize(
    ("pointer", "reason"),
    [
        ("/nope", "no 'nope'"),
        ("/credentialSubject/type/5", "past the end"),
        ("/credentialSubject/type/x", "not an array index"),
        ("/validFrom/0", "goes through a str"),
        ("/credentialSubject/type/01", "not an array index"),
    ],
)
def test_pointers_that_do_not_match(run: Run, pointer: str, reason: str) -> None:
    with pytest.raises(MalformedError, match=reason):
        select_jsonld(run.document, [pointer])
    with pytest.raises(MalformedError, match=reason):
        derive(run.signed, selective_pointers=[pointer], loader=run.loader)
    with pytest.raises(MalformedError, match=reason):
        sign_base(
            run.document,
            key=_keys("did:key:x#y")[0],
            created=NOW,
            mandatory_pointers=[pointer],
            loader=run.loader,
        )


def test_selection_keeps_ids_and_types_and_makes_arrays_dense() -> None:
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:x",
        "type": ["VerifiableCredential"],
        "items": [
            {"id": "_:b0", "type": "A", "name": "zero"},
            {"type": "B", "name": "one", "deep": {"id": "urn:d", "type": "D", "v": 1, "w": 2}},
            {"type": "C", "name": "two"},
        ],
    }
    selection = select_jsonld(document, ["/items/2/name", "/items/1/deep/v", "/items/0"])
    assert selection == {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:x",
        "type": ["VerifiableCredential"],
        "items": [
            {"id": "_:b0", "type": "A", "name": "zero"},
            {"type": "B", "deep": {"id": "urn:d", "type": "D", "v": 1}},
            {"type": "C", "name": "two"},
        ],
    }
    assert select_jsonld(document, []) is None
    assert select_jsonld(document, ["", "/items"]) == document
    whole = select_jsonld(document, ["/items/1", "/items"])
    assert whole is not None and whole["items"] == document["items"]
    selection = select_jsonld(document, ["/items"])
    assert selection is not None
    selection["items"][0]["name"] = "changed"  # a copy, never the document
    assert document["items"][0]["name"] == "zero"  # type: ignore[index]


def test_nquad_skolemization_round_trip() -> None:
    lines = ["_:b0 <http://ex/p> _:c14n1 .\n", '<http://ex/s> <http://ex/p> "_:not" .\n']
    skolem = skolemize_nquads(lines)
    assert skolem[0] == "<urn:bnid:b0> <http://ex/p> <urn:bnid:c14n1> .\n"
    assert skolem[1] == lines[1]  # a literal is left alone
    assert deskolemize_nquads(skolem) == lines
    assert relabel_blank_nodes(lines, {"b0": "x", "c14n1": "y"}) == [
        "_:x <http://ex/p> _:y .\n",
        lines[1],
    ]
    with pytest.raises(MalformedError, match="no entry"):
        relabel_blank_nodes(lines, {"b0": "x"})


def test_hmac_labels() -> None:
    key = bytes.fromhex(load_vector(*SD, "SDKeyMaterial.json")["hmacKeyString"])
    labels = create_hmac_id_label_map_function(key)({"x": "c14n0", "y": "c14n1"})
    assert labels == {
        "x": "u4YIOZn1MHES1Z4Ij2hWZG3R4dEYBqg5fHTyDEvYhC38",
        "y": "u3Lv2QpFgo-YAegc1cQQKWJFW2sEjQF6FfuZ0VEoMKHg",
    }
    with pytest.raises(ValueError, match="32 bytes"):
        create_hmac_id_label_map_function(b"short")


def test_nquads_sort_like_the_reference_implementation() -> None:
    # U+1F600 is a surrogate pair in UTF-16, so it sorts before U+FF21 there, after it by code
    # point.
    lines = ['<a> <b> "\uff21" .\n', '<a> <b> "\U0001f600" .\n']
    assert sort_nquads(list(lines)) == [lines[1], lines[0]]
    assert sorted(lines) == lines


def test_lists_are_signed_and_disclosed_whole(test_loader: Any) -> None:
    """RDF list nodes have no JSON object to carry a skolem id; a whole list is disclosable,
    part of one is refused at derive time."""
    issuer = _keys("did:key:x#y")[0]
    from protocol.did import key_pair_as_did_key

    key = key_pair_as_did_key(issuer)
    document = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": key.controller,
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "urn:uuid:0b4fd5a8-4d09-4ab2-8e9e-7f0c1f5a2b11",
                "type": ["Achievement"],
                "name": "Grades",
                "description": "d",
                "criteria": {"narrative": "n"},
                "resultDescription": [
                    {
                        "id": "urn:uuid:7c2f1a40-8f0d-4f1a-9b43-2d1f0e6a7c55",
                        "type": ["ResultDescription"],
                        "name": "Letter",
                        "resultType": "LetterGrade",
                        "allowedValue": ["D", "C", "B", "A"],
                    },
                    {
                        "id": "urn:uuid:5e6f7a80-1b2c-4d3e-8f90-a1b2c3d4e5f6",
                        "type": ["ResultDescription"],
                        "name": "Other",
                        "resultType": "LetterGrade",
                        "allowedValue": ["F", "E"],
                    },
                ],
            },
        },
    }
    signed = sign_base(
        document, key=key, created=NOW, mandatory_pointers=["/issuer"], loader=test_loader
    )
    verify_base(signed, resolver=Resolver(), loader=test_loader)
    for pointers in (
        ["/credentialSubject/achievement/resultDescription/1/allowedValue"],
        ["/credentialSubject/achievement/resultDescription/0"],
        ["/credentialSubject/achievement"],
    ):
        derived = derive(signed, selective_pointers=pointers, loader=test_loader)
        assert _verified(derived, test_loader) == [(True, None)], pointers
    with pytest.raises(MalformedError, match="RDF list"):
        derive(
            signed,
            selective_pointers=[
                "/credentialSubject/achievement/resultDescription/0/allowedValue/1"
            ],
            loader=test_loader,
        )


def test_reference_path_for_blank_node_ids(test_loader: Any) -> None:
    """A document with blank node identifiers takes the reference skolemization path."""
    from protocol.did import key_pair_as_did_key

    key = key_pair_as_did_key(_keys("did:key:x#y")[0])
    document = copy.deepcopy(_input_document("prc"))
    document["issuer"] = key.controller
    document["credentialSubject"]["id"] = "_:subject"
    grouped = canonicalize_and_group(
        document, create_hmac_id_label_map_function(bytes(32)), {}, loader=test_loader
    )
    assert grouped.skolemized.reference
    signed = sign_base(
        document, key=key, created=NOW, mandatory_pointers=["/issuer"], loader=test_loader
    )
    verify_base(signed, resolver=Resolver(), loader=test_loader)
    derived = derive(
        signed, selective_pointers=["/credentialSubject/birthCountry"], loader=test_loader
    )
    assert _verified(derived, test_loader) == [(True, None)]


def test_skolem_iris_in_documents_are_refused(test_loader: Any) -> None:
    from protocol.did import key_pair_as_did_key

    key = key_pair_as_did_key(_keys("did:key:x#y")[0])
    document = copy.deepcopy(_input_document("prc"))
    document["issuer"] = key.controller
    document["credentialSubject"]["id"] = "urn:bnid:_forged_0"
    with pytest.raises(MalformedError, match="reserves urn:bnid"):
        sign_base(
            document, key=key, created=NOW, mandatory_pointers=["/issuer"], loader=test_loader
        )


def test_reference_path_for_json_literals() -> None:
    """A term typed @json (VC 2.0 jsonSchema) holds a JSON literal, not a node object: the
    document takes the reference path (expand, skolemize, compact), and every selection of it
    verifies."""
    from protocol.did import key_pair_as_did_key
    from protocol.jsonld.loader import default_loader

    loader = default_loader()
    key = key_pair_as_did_key(_keys("did:key:x#y")[0])
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "JsonSchemaCredential"],
        "issuer": key.controller,
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "https://example.com/schemas/email.json",
            "type": "JsonSchema",
            "jsonSchema": {"type": "object", "properties": {"id": {"type": "string"}}},
        },
    }
    grouped = canonicalize_and_group(
        document, create_hmac_id_label_map_function(bytes(32)), {}, loader=loader
    )
    assert grouped.skolemized.reference
    signed = sign_base(
        document, key=key, created=NOW, mandatory_pointers=["/issuer"], loader=loader
    )
    verify_base(signed, resolver=Resolver(), loader=loader)
    for pointers in ([], ["/credentialSubject/jsonSchema"], ["/credentialSubject"]):
        derived = derive(signed, selective_pointers=pointers, loader=loader)
        assert _verified(derived, loader) == [(True, None)], pointers
    assert derived["credentialSubject"] == document["credentialSubject"]


def test_embedded_proof_graphs(test_loader: Any) -> None:
    """An embedded endorsement's proof lives in a named graph (a @graph container): its blank
    graph name is named after the statement linking it, so the endorsement is disclosable; two
    proofs under one endorsement cannot be told apart and are refused."""
    from protocol.did import key_pair_as_did_key
    from protocol.errors import UnsupportedError

    key = key_pair_as_did_key(_keys("did:key:x#y")[0])
    credential = {
        k: v for k, v in load_vector("ob3-examples", "complete.json").items() if k != "proof"
    }
    signed = sign_base(
        credential, key=key, created=NOW, mandatory_pointers=["/issuer"], loader=test_loader
    )
    for pointers in (["/endorsement/0"], ["/endorsement/0/proof/0/type"], []):
        derived = derive(signed, selective_pointers=pointers, loader=test_loader)
        assert _verified(derived, test_loader) == [(True, None)], pointers
    endorsement = credential["endorsement"][0]
    doubled = copy.deepcopy(credential)
    [proof] = endorsement["proof"]
    doubled["endorsement"][0]["proof"] = [proof, dict(proof)]
    doubled["endorsement"][0]["proof"][1]["created"] = "2020-01-01T00:00:00Z"
    with pytest.raises(UnsupportedError, match="cannot tell their selections apart"):
        sign_base(doubled, key=key, created=NOW, mandatory_pointers=["/issuer"], loader=test_loader)
