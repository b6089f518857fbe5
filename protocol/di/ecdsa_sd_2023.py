"""The ecdsa-sd-2023 cryptosuite (W3C Data Integrity ECDSA, P-256): issue, derive, verify.

https://www.w3.org/TR/vc-di-ecdsa/#ecdsa-sd-2023. Three roles:

* the issuer adds a **base proof** (:func:`sign_base`): every non-mandatory statement is signed
  with a proof-scoped P-256 key, and the issuer key signs the proof options, that key and the
  hash of the mandatory statements. The base proof carries the HMAC key that randomises blank
  node labels, so it goes to the holder only;
* the holder checks it on receipt (:func:`verify_base`) and **derives** disclosures
  (:func:`derive`): a document with the mandatory and the chosen statements only, and a derived
  proof with just their signatures;
* the verifier checks a derived proof through the generic Data Integrity algorithms
  (``protocol.di.verify_proofs``, with the suite object :data:`EcdsaSd2023` registered in
  ``protocol.di.suites.SUITES``). A base proof presented to a verifier is refused.

Randomness (the HMAC key, the proof-scoped key) is drawn here unless the caller passes it; the
W3C vectors fix both, and the ECDSA signatures are deterministic (RFC 6979), so a base proof is
reproducible byte for byte from the same inputs.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from protocol.did import Resolver
from protocol.errors import InvalidProof, MalformedError, UnsupportedError
from protocol.jsonld.canonicalize import canonicalize
from protocol.jsonld.loader import StaticDocumentLoader, default_loader
from protocol.keys import KeyPair, PublicKey, generate
from protocol.limits import MAX_PROOFS, MAX_SD_POINTERS
from protocol.rdfc import canonicalize as rdfc_canonicalize
from protocol.timeutil import format_datetime, parse_datetime

from .sd_cbor import (
    P256_MULTIKEY_HEADER,
    BaseProofValue,
    DerivedProofValue,
    parse_base_proof_value,
    parse_derived_proof_value,
    proof_value_kind,
    serialize_base_proof_value,
    serialize_derived_proof_value,
)
from .sd_primitives import (
    Grouped,
    canonicalize_and_group,
    create_hmac_id_label_map_function,
    create_label_map_function,
    hash_mandatory_nquads,
    json_copy,
    label_replacement_canonicalize_jsonld,
    select_jsonld,
)

__all__ = [
    "BASE_PROOF_FOR_HOLDER",
    "CRYPTOSUITE",
    "BaseTransform",
    "DisclosureData",
    "EcdsaSd2023",
    "HashData",
    "VerifyData",
    "base_proof_configuration",
    "create_disclosure_data",
    "create_verify_data",
    "derive",
    "hash_base",
    "serialize_base",
    "sign_base",
    "transform_base",
    "verify_base",
]

CRYPTOSUITE = "ecdsa-sd-2023"
PROOF_TYPE = "DataIntegrityProof"
CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"

#: Why a verifier refuses a base proof.
BASE_PROOF_FOR_HOLDER = (
    "an ecdsa-sd-2023 base proof is for the holder: derive a disclosure to present it"
)


def _check_pointers(pointers: Sequence[str], what: str) -> list[str]:
    if isinstance(pointers, str) or not isinstance(pointers, Sequence):
        raise TypeError(f"{what} must be a sequence of JSON pointer strings")
    if not all(isinstance(p, str) for p in pointers):
        raise TypeError(f"{what} must hold strings only")
    if len(pointers) > MAX_SD_POINTERS:
        raise MalformedError(f"{what}: more than {MAX_SD_POINTERS} JSON pointers")
    return list(pointers)


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _check_p256(key: PublicKey, role: str) -> None:
    if key.algorithm != "P-256":
        raise UnsupportedError(f"ecdsa-sd-2023 needs a P-256 {role}, got a {key.algorithm} key")


def _not_in_canonical_form(unmatched: list[str], what: str) -> MalformedError:
    return MalformedError(
        f"{what} select statements that are not in the document's canonical form (part of an "
        f"RDF list, or a value taken out of its value object), e.g. {unmatched[0].strip()!r}; "
        "point at the whole value instead"
    )


# --------------------------------------------------------------------------------------------
# Issuer: Create Base Proof
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseTransform:
    """The output of Base Proof Transformation (ecdsa-sd-2023)."""

    mandatory_pointers: list[str]
    #: Mandatory canonical N-Quads by their index in the canonical N-Quads.
    mandatory: dict[int, str]
    #: Non-mandatory canonical N-Quads by their index.
    non_mandatory: dict[int, str]
    hmac_key: bytes
    #: The canonicalize-and-group result it came from.
    grouped: Grouped


def transform_base(
    document: Mapping[str, Any],
    *,
    mandatory_pointers: Sequence[str],
    hmac_key: bytes,
    loader: StaticDocumentLoader,
    random_string: str | None = None,
) -> BaseTransform:
    """Base Proof Transformation (https://www.w3.org/TR/vc-di-ecdsa/#base-proof-transformation-ecdsa-sd-2023).

    ``random_string`` fixes the skolem identifiers (vector tests only; they never reach the
    output).
    """
    pointers = _check_pointers(mandatory_pointers, "mandatory pointers")
    # 1. An HMAC with the (32-byte) key; 2. the label map factory function over it.
    factory = create_hmac_id_label_map_function(hmac_key)
    # 3. Group definitions: "mandatory" -> the mandatory pointers.
    # 4. canonicalizeAndGroup.
    grouped = canonicalize_and_group(
        document, factory, {"mandatory": pointers}, loader=loader, random_string=random_string
    )
    group = grouped.groups["mandatory"]
    if group.unmatched:
        raise _not_in_canonical_form(group.unmatched, "the mandatory pointers")
    # 5. mandatory, 6. nonMandatory, 7. the exported HMAC key, 8. the result.
    return BaseTransform(pointers, group.matching, group.non_matching, hmac_key, grouped)


def base_proof_configuration(
    options: Mapping[str, Any], document: Mapping[str, Any], *, loader: StaticDocumentLoader
) -> str:
    """Base Proof Configuration: the canonical N-Quads of the proof options."""
    # 1. A copy of the options.
    config = {k: v for k, v in options.items() if k != "proofValue"}
    # 2. The type and cryptosuite must be ours.
    if config.get("type") != PROOF_TYPE or config.get("cryptosuite") != CRYPTOSUITE:
        raise MalformedError(
            f"proof options must have type {PROOF_TYPE} and cryptosuite {CRYPTOSUITE}"
        )
    # 3. created, if present, must be a dateTimeStamp.
    if "created" in config:
        parse_datetime(config["created"], what="proof created", require_timezone=False)
    # 4. The document's @context; 5. RDFC-1.0.
    config["@context"] = document["@context"]
    return canonicalize(config, loader=loader)


@dataclass(frozen=True)
class HashData:
    """The output of Base Proof Hashing: the transform plus the two hashes."""

    transform: BaseTransform
    proof_hash: bytes
    mandatory_hash: bytes


def hash_base(transform: BaseTransform, canonical_proof_config: str) -> HashData:
    """Base Proof Hashing (https://www.w3.org/TR/vc-di-ecdsa/#base-proof-hashing-ecdsa-sd-2023)."""
    # 1. proofHash: SHA-256 of the canonical proof configuration.
    proof_hash = _sha256(canonical_proof_config.encode("utf-8"))
    # 2. mandatoryHash: hashMandatoryNQuads of the mandatory N-Quads.
    mandatory_hash = hash_mandatory_nquads(transform.mandatory.values())
    # 3.-4. Hash data.
    return HashData(transform, proof_hash, mandatory_hash)


def serialize_base(hash_data: HashData, *, key: KeyPair, proof_key: KeyPair) -> BaseProofValue:
    """Base Proof Serialization: the per-statement signatures and the base signature."""
    _check_p256(key.public, "issuer key")
    _check_p256(proof_key.public, "proof-scoped key")
    # 1. proofHash, mandatoryPointers, mandatoryHash, nonMandatory, hmacKey.
    transform = hash_data.transform
    # 2. proofScopedKeyPair (given). 3. Sign every non-mandatory N-Quad (ES256, UTF-8).
    signatures = tuple(
        proof_key.sign(line.encode("utf-8")) for line in transform.non_mandatory.values()
    )
    # 4. publicKey: the Multikey bytes (0x80 0x24 + compressed point).
    public_key = P256_MULTIKEY_HEADER + proof_key.public.raw
    # 5. toSign = serializeSignData(proofHash, publicKey, mandatoryHash).
    to_sign = hash_data.proof_hash + public_key + hash_data.mandatory_hash
    # 6. baseSignature with the issuer key.
    base_signature = key.sign(to_sign)
    # 7. serializeBaseProofValue (by the caller: see sd_cbor).
    return BaseProofValue(
        base_signature, public_key, transform.hmac_key, signatures,
        tuple(transform.mandatory_pointers),
    )  # fmt: skip


def _with_context(document: Mapping[str, Any]) -> dict[str, Any]:
    secured: dict[str, Any] = json_copy(dict(document))
    context = secured.get("@context")
    if context is None:
        raise MalformedError("document has no @context")
    contexts = list(context) if isinstance(context, list) else [context]
    # Data Integrity "Context Injection": the proof terms must be defined.
    if CREDENTIALS_V2 not in contexts and DATA_INTEGRITY_V2 not in contexts:
        contexts.append(DATA_INTEGRITY_V2)
        secured["@context"] = contexts
    return secured


def sign_base(
    document: Mapping[str, Any],
    *,
    key: KeyPair,
    created: datetime,
    mandatory_pointers: Sequence[str],
    loader: StaticDocumentLoader | None = None,
    hmac_key: bytes | None = None,
    proof_key: KeyPair | None = None,
    verification_method: str | None = None,
) -> dict[str, Any]:
    """Add an ecdsa-sd-2023 base proof (Create Base Proof) and return the secured copy.

    ``key`` is the issuer's P-256 key; ``verification_method`` defaults to ``key.id``.
    ``hmac_key`` (32 bytes) and ``proof_key`` (P-256) are fresh random values unless given.
    The base proof is for the holder only.
    """
    method = verification_method if verification_method is not None else key.id
    if method is None:
        raise ValueError("a verification method id is needed (verification_method or KeyPair.id)")
    _check_p256(key.public, "issuer key")
    if hmac_key is None:
        hmac_key = secrets.token_bytes(32)
    if proof_key is None:
        proof_key = generate("P-256")
    loader = loader or default_loader()
    if "proof" in document:
        raise MalformedError("the document already carries a proof; sign the unsecured document")
    secured = _with_context(document)
    # 1. proof: a clone of the options.
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": format_datetime(created),
        "verificationMethod": method,
        "proofPurpose": "assertionMethod",
    }
    # 2. proofConfig (canonical).
    canonical_config = base_proof_configuration(proof, secured, loader=loader)
    # 3. transformedData.
    transform = transform_base(
        secured, mandatory_pointers=mandatory_pointers, hmac_key=hmac_key, loader=loader
    )
    # 4. hashData.
    hash_data = hash_base(transform, canonical_config)
    # 5. proofBytes; 6. proof.proofValue (multibase base64url).
    proof["proofValue"] = serialize_base_proof_value(
        serialize_base(hash_data, key=key, proof_key=proof_key)
    )
    # 7. The proof, attached.
    secured["proof"] = proof
    return secured


# --------------------------------------------------------------------------------------------
# Holder: find and check the base proof, derive a disclosure
# --------------------------------------------------------------------------------------------


def _sd_proofs(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    proof = document.get("proof")
    if proof is None:
        raise MalformedError("the document carries no proof")
    proofs = proof if isinstance(proof, list) else [proof]
    if len(proofs) > MAX_PROOFS:
        raise MalformedError(f"document carries {len(proofs)} proofs, more than {MAX_PROOFS}")
    return [
        p
        for p in proofs
        if isinstance(p, Mapping)
        and p.get("type") == PROOF_TYPE
        and p.get("cryptosuite") == CRYPTOSUITE
    ]


def _base_proof(document: Mapping[str, Any], proof_id: str | None) -> Mapping[str, Any]:
    candidates = _sd_proofs(document)
    if proof_id is not None:
        candidates = [p for p in candidates if p.get("id") == proof_id]
    candidates = [p for p in candidates if proof_value_kind(p.get("proofValue")) == "base"]
    if not candidates:
        raise MalformedError("the document carries no ecdsa-sd-2023 base proof")
    if len(candidates) > 1:
        raise MalformedError("the document carries several ecdsa-sd-2023 base proofs; name one")
    return candidates[0]


def _unsecured(document: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "proof"}


def _proof_config(proof: Mapping[str, Any], unsecured: Mapping[str, Any]) -> dict[str, Any]:
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    config["@context"] = unsecured["@context"]
    return config


def verify_base(
    document: Mapping[str, Any],
    *,
    resolver: Resolver,
    loader: StaticDocumentLoader | None = None,
    expected_purpose: str = "assertionMethod",
    proof_id: str | None = None,
) -> None:
    """Check a base proof on receipt (holder side); raise unless it verifies.

    Re-runs the issuer's computation with the HMAC key from the proof and checks the base
    signature (issuer key, from ``resolver``) and every per-statement signature. Raises
    :class:`InvalidProof`, :class:`MalformedError` or a resolver error; returns ``None``.
    """
    loader = loader or default_loader()
    proof = _base_proof(document, proof_id)
    for member in ("verificationMethod", "proofPurpose"):
        if not isinstance(proof.get(member), str):
            raise MalformedError(f"proof is missing {member!r} (a string)")
    if proof["proofPurpose"] != expected_purpose:
        raise InvalidProof(
            f"proofPurpose is {proof['proofPurpose']!r}, expected {expected_purpose!r}"
        )
    base = parse_base_proof_value(proof["proofValue"])
    method = resolver.verification_method(
        proof["verificationMethod"], relationship=expected_purpose
    )
    _check_p256(method.public_key, "issuer key")
    unsecured = _unsecured(document)
    canonical_config = base_proof_configuration(
        _proof_config(proof, unsecured), unsecured, loader=loader
    )
    transform = transform_base(
        unsecured,
        mandatory_pointers=base.mandatory_pointers,
        hmac_key=base.hmac_key,
        loader=loader,
    )
    hash_data = hash_base(transform, canonical_config)
    if len(base.signatures) != len(transform.non_mandatory):
        raise InvalidProof(
            f"the base proof has {len(base.signatures)} signatures for "
            f"{len(transform.non_mandatory)} non-mandatory statements"
        )
    proof_public = PublicKey("P-256", base.public_key[len(P256_MULTIKEY_HEADER) :])
    method.public_key.verify(
        base.base_signature, hash_data.proof_hash + base.public_key + hash_data.mandatory_hash
    )
    for index, (signature, line) in enumerate(
        zip(base.signatures, transform.non_mandatory.values(), strict=True)
    ):
        try:
            proof_public.verify(signature, line.encode("utf-8"))
        except InvalidProof as exc:
            raise InvalidProof(f"signature {index} of the base proof does not verify") from exc


@dataclass(frozen=True)
class DisclosureData:
    """The output of createDisclosureData."""

    base_signature: bytes
    public_key: bytes
    #: The signatures of the selectively disclosed (non-mandatory) statements.
    signatures: tuple[bytes, ...]
    #: Verifier canonical label (``c14nN``) -> HMAC label.
    label_map: dict[str, str]
    #: Positions of the mandatory statements among the disclosed ones.
    mandatory_indexes: tuple[int, ...]
    reveal_document: dict[str, Any]
    #: The canonicalize-and-group result (mandatory, selective and combined groups).
    grouped: Grouped
    #: Positions (among the non-mandatory statements) of the signatures kept.
    signature_indexes: tuple[int, ...]


def create_disclosure_data(
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    selective_pointers: Sequence[str],
    *,
    loader: StaticDocumentLoader,
    random_string: str | None = None,
) -> DisclosureData:
    """createDisclosureData (https://www.w3.org/TR/vc-di-ecdsa/#createdisclosuredata).

    ``document`` is the credential without its proof. ``random_string`` fixes the skolem
    identifiers (vector tests only).
    """
    selective = _check_pointers(selective_pointers, "selective pointers")
    # 1. Parse the base proof value.
    base = parse_base_proof_value(proof.get("proofValue"))
    mandatory = list(base.mandatory_pointers)
    if not mandatory and not selective:
        raise ValueError("nothing selected for disclosure (no mandatory or selective pointers)")
    # 2.-3. The HMAC and its label map factory function.
    factory = create_hmac_id_label_map_function(base.hmac_key)
    # 4.-5. combinedPointers and the group definitions; 6. canonicalizeAndGroup.
    combined = mandatory + selective
    grouped = canonicalize_and_group(
        document,
        factory,
        {"mandatory": mandatory, "selective": selective, "combined": combined},
        loader=loader,
        random_string=random_string,
    )
    mandatory_group = grouped.groups["mandatory"]
    selective_group = grouped.groups["selective"]
    combined_group = grouped.groups["combined"]
    if combined_group.unmatched:
        raise _not_in_canonical_form(combined_group.unmatched, "the pointers")
    if len(base.signatures) != len(mandatory_group.non_matching):
        raise MalformedError(
            f"the base proof has {len(base.signatures)} signatures but the document has "
            f"{len(mandatory_group.non_matching)} non-mandatory statements: the proof does not "
            "belong to this document"
        )
    # 7.-8. mandatoryIndexes, relative to the combined (revealed) statements.
    mandatory_indexes = tuple(
        relative
        for relative, absolute in enumerate(combined_group.matching)
        if absolute in mandatory_group.matching
    )
    # 9.-10. The signatures of the selected non-mandatory statements: walk the signatures
    #        alongside the canonical indexes, skipping the mandatory ones.
    kept: list[bytes] = []
    kept_indexes: list[int] = []
    for position, absolute in enumerate(mandatory_group.non_matching):
        if absolute in selective_group.matching:
            kept.append(base.signatures[position])
            kept_indexes.append(position)
    # 11. The reveal document, from the original document and the combined pointers.
    reveal = select_jsonld(document, combined)
    if reveal is None:  # pragma: no cover - combined is not empty
        raise ValueError("nothing selected for disclosure")
    # 12. Canonicalize the combined group's deskolemized N-Quads: the verifier's labels.
    canonical_id_map = rdfc_canonicalize(combined_group.quads).issued
    # 13.-14. verifierLabelMap: verifier label -> the HMAC label signed in the base proof.
    label_map = {
        verifier: grouped.label_map[input_label]
        for input_label, verifier in canonical_id_map.items()
    }
    # 15. The disclosure data.
    return DisclosureData(
        base.base_signature,
        base.public_key,
        tuple(kept),
        label_map,
        mandatory_indexes,
        reveal,
        grouped,
        tuple(kept_indexes),
    )


def derive(
    document: Mapping[str, Any],
    *,
    selective_pointers: Sequence[str],
    loader: StaticDocumentLoader | None = None,
    proof_id: str | None = None,
) -> dict[str, Any]:
    """Add Derived Proof: the disclosed document with its derived proof (holder side).

    ``document`` carries the ecdsa-sd-2023 base proof (``proof_id`` picks one when several do).
    The result reveals the mandatory statements and those ``selective_pointers`` select.
    Raises :class:`MalformedError` for a pointer that does not match the document.
    """
    loader = loader or default_loader()
    proof = _base_proof(document, proof_id)
    # 1. createDisclosureData.
    data = create_disclosure_data(_unsecured(document), proof, selective_pointers, loader=loader)
    # 2. newProof: a shallow copy of the base proof (without any @context).
    new_proof = {k: v for k, v in proof.items() if k != "@context"}
    # 3. Its proofValue: serializeDerivedProofValue.
    new_proof["proofValue"] = serialize_derived_proof_value(
        DerivedProofValue(
            data.base_signature,
            data.public_key,
            data.signatures,
            data.label_map,
            data.mandatory_indexes,
        )
    )
    # 4. The proof on the reveal document; 5. the reveal document.
    revealed = data.reveal_document
    revealed["proof"] = new_proof
    return revealed


# --------------------------------------------------------------------------------------------
# Verifier: Verify Derived Proof
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyData:
    """The output of createVerifyData."""

    base_signature: bytes
    proof_hash: bytes
    public_key: bytes
    signatures: tuple[bytes, ...]
    non_mandatory: list[str]
    mandatory_hash: bytes
    #: The revealed document's canonical N-Quads, relabelled with the proof's label map.
    nquads: list[str]


def create_verify_data(
    unsecured: Mapping[str, Any],
    proof_config: Mapping[str, Any],
    proof_value: str,
    *,
    loader: StaticDocumentLoader,
) -> VerifyData:
    """createVerifyData (https://www.w3.org/TR/vc-di-ecdsa/#createverifydata).

    ``proof_config`` is the proof without ``proofValue``, with the document's ``@context``.
    """
    # 1. proofHash: SHA-256 of the canonical proof options.
    proof_hash = _sha256(canonicalize(dict(proof_config), loader=loader).encode("utf-8"))
    # 2. Parse the derived proof value.
    derived = parse_derived_proof_value(proof_value)
    labels = list(derived.label_map.values())
    if len(set(labels)) != len(labels):
        raise InvalidProof("the derived proof's label map gives two blank nodes the same label")
    # 3. The label map factory function; 4. label replacement canonicalization of the document.
    labelled = label_replacement_canonicalize_jsonld(
        unsecured, create_label_map_function(derived.label_map), loader=loader
    )
    if len(labelled.canonical_id_map) != len(derived.label_map):
        raise InvalidProof(
            f"the derived proof's label map has {len(derived.label_map)} entries for "
            f"{len(labelled.canonical_id_map)} blank nodes in the revealed document"
        )
    nquads = labelled.nquads
    indexes = set(derived.mandatory_indexes)
    if len(indexes) != len(derived.mandatory_indexes):
        raise InvalidProof("the derived proof lists a mandatory index twice")
    if indexes and max(indexes) >= len(nquads):
        raise InvalidProof(
            f"the derived proof's mandatory index {max(indexes)} is past the {len(nquads)} "
            "revealed statements"
        )
    # 5.-6. Mandatory and non-mandatory N-Quads, by index.
    mandatory = [line for index, line in enumerate(nquads) if index in indexes]
    non_mandatory = [line for index, line in enumerate(nquads) if index not in indexes]
    # 7. mandatoryHash; 8. the verify data.
    return VerifyData(
        derived.base_signature,
        proof_hash,
        derived.public_key,
        derived.signatures,
        non_mandatory,
        hash_mandatory_nquads(mandatory),
        nquads,
    )


def _verify_derived(data: VerifyData, issuer_key: PublicKey) -> None:
    # Verify Derived Proof. 3. The signature count must match the non-mandatory statements.
    if len(data.signatures) != len(data.non_mandatory):
        raise InvalidProof(
            f"signature count ({len(data.signatures)}) does not match the non-mandatory "
            f"statement count ({len(data.non_mandatory)})"
        )
    # 4. The proof-scoped public key.
    try:
        proof_key = PublicKey("P-256", data.public_key[len(P256_MULTIKEY_HEADER) :])
    except MalformedError as exc:
        raise InvalidProof(f"the derived proof's public key is not a P-256 point: {exc}") from exc
    # 5.-7. The base signature over serializeSignData(proofHash, publicKey, mandatoryHash).
    try:
        issuer_key.verify(
            data.base_signature, data.proof_hash + data.public_key + data.mandatory_hash
        )
    except InvalidProof as exc:
        raise InvalidProof(
            "the ecdsa-sd-2023 base signature does not verify (proof options, mandatory "
            "statements or proof key changed)"
        ) from exc
    # 8. Every signature over its non-mandatory statement.
    for index, (signature, line) in enumerate(
        zip(data.signatures, data.non_mandatory, strict=True)
    ):
        try:
            proof_key.verify(signature, line.encode("utf-8"))
        except InvalidProof as exc:
            raise InvalidProof(
                f"the signature of disclosed statement {index} does not verify: "
                f"{line.strip()[:120]!r}"
            ) from exc


@dataclass(frozen=True)
class _EcdsaSd2023Suite:
    """ecdsa-sd-2023 for the generic verifier: derived proofs only."""

    proof_type: str = PROOF_TYPE
    cryptosuite: str | None = CRYPTOSUITE
    algorithm: str = "P-256"

    def create_proof_value(
        self,
        unsecured: Mapping[str, Any],
        proof_config: Mapping[str, Any],
        key: KeyPair,
        loader: StaticDocumentLoader,
    ) -> str:
        raise UnsupportedError(
            "ecdsa-sd-2023 base proofs need mandatory pointers: use "
            "protocol.di.ecdsa_sd_2023.sign_base"
        )

    def verify_proof_value(
        self,
        unsecured: Mapping[str, Any],
        proof_config: Mapping[str, Any],
        proof_value: str,
        public_key: PublicKey,
        loader: StaticDocumentLoader,
    ) -> None:
        """Verify Derived Proof (https://www.w3.org/TR/vc-di-ecdsa/#verify-derived-proof-ecdsa-sd-2023)."""
        if proof_value_kind(proof_value) == "base":
            raise InvalidProof(BASE_PROOF_FOR_HOLDER)
        if public_key.algorithm != "P-256":
            raise InvalidProof(
                f"ecdsa-sd-2023 needs a P-256 key, the verification method holds a "
                f"{public_key.algorithm} key"
            )
        # 1. unsecuredDocument (given); 2. createVerifyData; 3.-8. the checks.
        data = create_verify_data(unsecured, proof_config, proof_value, loader=loader)
        _verify_derived(data, public_key)


#: The ecdsa-sd-2023 suite object registered in ``protocol.di.suites.SUITES``.
EcdsaSd2023 = _EcdsaSd2023Suite()
