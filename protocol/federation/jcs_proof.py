"""Data Integrity proofs with the eddsa-jcs-2022 cryptosuite, for plain JSON documents.

https://www.w3.org/TR/vc-di-eddsa/#eddsa-jcs-2022. Federation events and verification bundles
are JSON, not JSON-LD: canonicalising them with RDFC-1.0 would cost milliseconds per event and
would need every member of a payload defined in a context. eddsa-jcs-2022 hashes the RFC 8785
canonical form instead (tens of microseconds), and it is still a W3C Data Integrity proof that a
standard verifier understands.

A federation document carries exactly one proof (an object, not a set).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from ..did import Resolver, VerificationMethod
from ..encoding import base58btc_decode, base58btc_encode
from ..errors import InvalidProof, MalformedError, ProtocolError, PurposeMismatch
from ..keys import KeyPair
from ..limits import MAX_CLOCK_SKEW_SECONDS
from ..timeutil import format_datetime, parse_datetime, require_aware
from .jcs import canonicalize

__all__ = ["CRYPTOSUITE", "hash_data", "sign_jcs", "verify_jcs", "verify_jcs_canonical"]

CRYPTOSUITE = "eddsa-jcs-2022"
_PROOF_TYPE = "DataIntegrityProof"

# Verification methods already read from a resolver's documents. A Resolver copies its documents
# when built and never changes them, so a method resolved once stays right for that resolver;
# the cache goes with the resolver. Syncing a feed verifies thousands of events with one key.
_METHODS: WeakKeyDictionary[Resolver, dict[tuple[str, str], VerificationMethod]] = (
    WeakKeyDictionary()
)


def _method(resolver: Resolver, vm_id: str, purpose: str) -> VerificationMethod:
    cache = _METHODS.setdefault(resolver, {})
    method = cache.get((vm_id, purpose))
    if method is None:
        method = resolver.verification_method(vm_id, relationship=purpose)
        cache[(vm_id, purpose)] = method
    return method


def hash_data(document: Mapping[str, Any], proof_config: Mapping[str, Any]) -> bytes:
    """SHA-256(JCS(proof config)) || SHA-256(JCS(document)) (vc-di-eddsa 3.3.4, Hashing)."""
    return (
        hashlib.sha256(canonicalize(proof_config)).digest()
        + hashlib.sha256(canonicalize(document)).digest()
    )


def sign_jcs(
    document: Mapping[str, Any],
    *,
    key: KeyPair,
    created: datetime,
    purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """Return a copy of ``document`` secured with one eddsa-jcs-2022 proof by ``key``.

    https://www.w3.org/TR/vc-di-eddsa/#create-proof-eddsa-jcs-2022
    """
    if key.algorithm != "Ed25519":
        raise ValueError("eddsa-jcs-2022 signs with an Ed25519 key")
    if key.id is None:
        raise ValueError("the key pair needs a verification method id (KeyPair.id)")
    if "proof" in document:
        raise ValueError("the document already carries a proof")
    require_aware(created, "created")
    unsecured = copy.deepcopy(dict(document))
    # 1.-2. The proof options; the document's @context is copied into the proof.
    proof: dict[str, Any] = {
        "type": _PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": format_datetime(created),
        "verificationMethod": key.id,
        "proofPurpose": purpose,
    }
    if "@context" in unsecured:
        proof["@context"] = unsecured["@context"]
    # 3.-5. Transform (JCS), configure (JCS of the proof options), hash.
    data = hash_data(unsecured, proof)
    # 6.-7. Sign and encode as base58btc multibase.
    proof["proofValue"] = base58btc_encode(key.sign(data))
    unsecured["proof"] = proof
    return unsecured


def verify_jcs(
    document: Mapping[str, Any],
    *,
    resolver: Resolver,
    now: datetime,
    purpose: str = "assertionMethod",
) -> VerificationMethod:
    """Verify the eddsa-jcs-2022 proof of ``document``; return the verification method used.

    See :func:`verify_jcs_canonical` for the errors.
    """
    return verify_jcs_canonical(document, resolver=resolver, now=now, purpose=purpose)[0]


def verify_jcs_canonical(
    document: Mapping[str, Any],
    *,
    resolver: Resolver,
    now: datetime,
    purpose: str = "assertionMethod",
) -> tuple[VerificationMethod, bytes]:
    """Verify the eddsa-jcs-2022 proof of ``document``; return the verification method used
    and the RFC 8785 bytes of the document without its proof (what was signed, hashed).

    https://www.w3.org/TR/vc-di-eddsa/#verify-proof-eddsa-jcs-2022. The key comes from
    ``resolver`` (listed under ``purpose`` in its controller document).

    Raises:
        MalformedError: there is no single proof object, or it is malformed.
        PurposeMismatch: the proof purpose is not ``purpose``.
        KeyResolutionError: the verification method cannot be resolved.
        InvalidProof: the signature does not verify, or the proof is dated in the future.
    """
    now = require_aware(now, "now")
    proof = document.get("proof")
    if not isinstance(proof, Mapping):
        raise MalformedError("the document must carry exactly one proof object")
    if proof.get("type") != _PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        raise MalformedError(
            f"expected a {_PROOF_TYPE} with cryptosuite {CRYPTOSUITE}, got "
            f"{proof.get('type')!r} / {proof.get('cryptosuite')!r}"
        )
    for member in ("verificationMethod", "proofPurpose", "proofValue", "created"):
        if not isinstance(proof.get(member), str) or not proof[member]:
            raise MalformedError(f"proof is missing {member!r} (a non-empty string)")
    if proof["proofPurpose"] != purpose:
        raise PurposeMismatch(f"proofPurpose is {proof['proofPurpose']!r}, expected {purpose!r}")
    created = parse_datetime(proof["created"], what="proof created")
    if created > now + timedelta(seconds=MAX_CLOCK_SKEW_SECONDS):
        raise InvalidProof(f"proof created {proof['created']} is in the future")
    value = proof["proofValue"]
    if not value.startswith("z"):
        raise MalformedError("proofValue must be base58btc multibase (a 'z' prefix)")
    try:
        signature = base58btc_decode(value)
    except ProtocolError as exc:
        raise MalformedError(f"proofValue is not base58btc: {exc.message}") from exc
    if len(signature) != 64:
        raise InvalidProof(f"an Ed25519 signature is 64 bytes, got {len(signature)}")
    # 1. The unsecured document and the proof options.
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    # 2. A proof @context must be a prefix of the document's, and then replaces it.
    if "@context" in options:
        proof_ctx = options["@context"]
        proof_ctx = proof_ctx if isinstance(proof_ctx, list) else [proof_ctx]
        doc_ctx = unsecured.get("@context")
        doc_ctx = doc_ctx if isinstance(doc_ctx, list) else [doc_ctx]
        if doc_ctx[: len(proof_ctx)] != proof_ctx:
            raise InvalidProof("the proof's @context is not a prefix of the document's @context")
        unsecured["@context"] = options["@context"]
    method = _method(resolver, proof["verificationMethod"], purpose)
    if method.public_key.algorithm != "Ed25519":
        raise InvalidProof(
            f"eddsa-jcs-2022 needs an Ed25519 key, {method.id} is {method.public_key.algorithm}"
        )
    # 3.-5. Transform, configure, hash; then verify the signature.
    canonical = canonicalize(unsecured)
    data = hashlib.sha256(canonicalize(options)).digest() + hashlib.sha256(canonical).digest()
    method.public_key.verify(signature, data)
    return method, canonical
