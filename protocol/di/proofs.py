"""The generic Data Integrity algorithms: Add Proof, Verify Proof, proof sets and proof chains.

https://www.w3.org/TR/vc-data-integrity/#algorithms. Suites (``protocol.di.suites``) supply the
transformation, hashing and signature steps; purposes are checked here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from ..did import Resolver, VerificationMethod
from ..errors import (
    InvalidProof,
    MalformedError,
    ProtocolError,
    PurposeMismatch,
    UnsupportedError,
)
from ..jsonld.canonicalize import memoized
from ..jsonld.loader import StaticDocumentLoader, default_loader
from ..keys import KeyPair
from ..limits import MAX_CLOCK_SKEW_SECONDS, MAX_PROOFS
from ..timeutil import format_datetime, parse_datetime
from .suites import SIGNING_SUITES, suite_for_proof

__all__ = ["ProofResult", "all_proofs", "sign", "verify_proofs"]

CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"
ED25519_2020_V1 = "https://w3id.org/security/suites/ed25519-2020/v1"
OB_CONTEXT_PREFIX = "https://purl.imsglobal.org/spec/ob/v3p0/"
PROOF_PURPOSES = frozenset(
    {
        "assertionMethod",
        "authentication",
        "keyAgreement",
        "capabilityInvocation",
        "capabilityDelegation",
    }
)


def _contexts(document: Mapping[str, Any]) -> list[Any]:
    ctx = document.get("@context")
    if ctx is None:
        raise MalformedError("document has no @context")
    return list(ctx) if isinstance(ctx, list) else [ctx]


def all_proofs(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The document's proofs as a list (a single proof object counts as a set of one)."""
    proof = document.get("proof")
    if proof is None:
        return []
    proofs = proof if isinstance(proof, list) else [proof]
    if len(proofs) > MAX_PROOFS:
        raise MalformedError(f"document carries {len(proofs)} proofs, more than {MAX_PROOFS}")
    for item in proofs:
        if not isinstance(item, Mapping):
            raise MalformedError("every proof must be a JSON object")
    return proofs


def _without_proof(document: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "proof"}


def _previous_ids(proof: Mapping[str, Any]) -> list[str]:
    previous = proof.get("previousProof")
    if previous is None:
        return []
    ids = previous if isinstance(previous, list) else [previous]
    if not all(isinstance(item, str) for item in ids):
        raise MalformedError("previousProof must be a string or a list of strings")
    return list(ids)


def _unsecured_for(
    document: Mapping[str, Any], proofs: Sequence[Mapping[str, Any]], proof: Mapping[str, Any]
) -> dict[str, Any]:
    """The document as it was secured when ``proof`` was added (DI 4.4 and 4.5, proof chains)."""
    unsecured = _without_proof(document)
    previous = _previous_ids(proof)
    if previous:
        # A chained proof secures the document together with the proofs it names, and only those.
        by_id = {p.get("id"): p for p in proofs if p is not proof}
        missing = [pid for pid in previous if pid not in by_id]
        if missing:
            raise InvalidProof(f"previousProof {missing[0]!r} is not in the proof set")
        unsecured["proof"] = [by_id[pid] for pid in previous]
    return unsecured


def sign(
    document: Mapping[str, Any],
    *,
    key: KeyPair,
    created: datetime,
    suite: str = "eddsa-rdfc-2022",
    purpose: str = "assertionMethod",
    challenge: str | None = None,
    domain: str | Sequence[str] | None = None,
    proof_id: str | None = None,
    previous_proof: str | Sequence[str] | None = None,
    expires: datetime | None = None,
    loader: StaticDocumentLoader | None = None,
    proof_as_array: bool | None = None,
) -> dict[str, Any]:
    """Add a proof to ``document`` and return the secured copy (DI 4.1 Add Proof, 4.2 sets/chains).

    Existing proofs are kept (a proof set); ``previous_proof`` makes a proof chain. A single
    proof is written as an array when ``proof_as_array`` is true, or, by default, when the
    document is an Open Badges credential (OB 3.0 serialisation: arrays even for one value).
    """
    if key.id is None:
        raise ValueError("the key pair needs a verification method id (KeyPair.id)")
    if purpose not in PROOF_PURPOSES:
        raise ValueError(f"unknown proof purpose {purpose!r}")
    try:
        cryptosuite = SIGNING_SUITES[suite]
    except KeyError:
        raise UnsupportedError(f"cannot sign with unknown suite {suite!r}") from None
    loader = loader or default_loader()
    secured = copy.deepcopy(dict(document))
    contexts = _contexts(secured)
    # DI "Context Injection": make the proof terms defined when the document does not define them.
    if cryptosuite.proof_type == "DataIntegrityProof":
        if CREDENTIALS_V2 not in contexts and DATA_INTEGRITY_V2 not in contexts:
            contexts.append(DATA_INTEGRITY_V2)
    elif ED25519_2020_V1 not in contexts:
        contexts.append(ED25519_2020_V1)
    secured["@context"] = (
        contexts if len(contexts) > 1 or isinstance(document.get("@context"), list) else contexts[0]
    )

    options: dict[str, Any] = {"type": cryptosuite.proof_type}
    if proof_id is not None:
        options["id"] = proof_id
    if cryptosuite.cryptosuite is not None:
        options["cryptosuite"] = cryptosuite.cryptosuite
    options["created"] = format_datetime(created)
    if expires is not None:
        options["expires"] = format_datetime(expires)
    options["verificationMethod"] = key.id
    options["proofPurpose"] = purpose
    if challenge is not None:
        options["challenge"] = challenge
    if domain is not None:
        options["domain"] = domain if isinstance(domain, str) else list(domain)
    if previous_proof is not None:
        options["previousProof"] = (
            previous_proof if isinstance(previous_proof, str) else list(previous_proof)
        )

    existing = all_proofs(secured)
    unsecured = _unsecured_for(secured, existing, options)
    proof_config = dict(options)
    proof_config["@context"] = secured["@context"]
    options["proofValue"] = cryptosuite.create_proof_value(unsecured, proof_config, key, loader)
    if proof_as_array is None:
        proof_as_array = any(
            isinstance(c, str) and c.startswith(OB_CONTEXT_PREFIX) for c in contexts
        )
    if existing or proof_as_array:
        secured["proof"] = [*existing, options]
    else:
        secured["proof"] = options
    return secured


@dataclass(frozen=True)
class ProofResult:
    """The outcome of verifying one proof."""

    index: int
    type: str | None
    cryptosuite: str | None
    verification_method: str | None
    purpose: str | None
    controller: str | None = None
    error: ProtocolError | None = None
    method: VerificationMethod | None = field(default=None, repr=False)

    @property
    def verified(self) -> bool:
        """Whether this proof verified."""
        return self.error is None

    @property
    def name(self) -> str:
        """A short label: the cryptosuite, or the legacy proof type."""
        return self.cryptosuite or self.type or "unknown proof"


def _domain_set(value: Any) -> frozenset[str]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise MalformedError("proof domain must be a string or a list of strings")
    return frozenset(items)


def _verify_one(
    document: Mapping[str, Any],
    proofs: Sequence[Mapping[str, Any]],
    proof: Mapping[str, Any],
    *,
    resolver: Resolver,
    expected_purpose: str,
    challenge: str | None,
    domain: str | Sequence[str] | None,
    now: datetime,
    loader: StaticDocumentLoader,
) -> VerificationMethod:
    # https://www.w3.org/TR/vc-data-integrity/#verify-proof
    # 3. Required members.
    for member in ("type", "verificationMethod", "proofPurpose"):
        if not isinstance(proof.get(member), str):
            raise MalformedError(f"proof is missing {member!r} (a string)")
    proof_value = proof.get("proofValue")
    if not isinstance(proof_value, str) or not proof_value:
        raise MalformedError("proof is missing its proofValue")
    suite = suite_for_proof(proof)
    # 4. The proof purpose must be the one the verifier expects.
    if proof["proofPurpose"] != expected_purpose:
        raise PurposeMismatch(
            f"proofPurpose is {proof['proofPurpose']!r}, expected {expected_purpose!r}"
        )
    # 5-6. Domain and challenge, when the verifier expects them.
    if domain is not None:
        expected = _domain_set(domain if isinstance(domain, str) else list(domain))
        if "domain" not in proof:
            raise PurposeMismatch("proof has no domain, the verifier expects one")
        if _domain_set(proof["domain"]) != expected:
            raise PurposeMismatch(
                f"proof domain {proof['domain']!r} does not match the expected {domain!r}"
            )
    if challenge is not None and proof.get("challenge") != challenge:
        raise PurposeMismatch("proof challenge does not match the expected challenge")
    # Dates: created must be a dateTimeStamp not in the future; expires not passed.
    skew = timedelta(seconds=MAX_CLOCK_SKEW_SECONDS)
    if "created" in proof:
        created = parse_datetime(proof["created"], what="proof created", require_timezone=False)
        if created > now + skew:
            raise InvalidProof(f"proof created {proof['created']} is in the future")
    if "expires" in proof:
        expires = parse_datetime(proof["expires"], what="proof expires", require_timezone=False)
        if expires < now - skew:
            raise InvalidProof(f"proof expired at {proof['expires']}")
    method = resolver.verification_method(
        proof["verificationMethod"], relationship=expected_purpose
    )
    unsecured = _unsecured_for(document, proofs, proof)
    proof_options = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in proof_options:
        # eddsa-rdfc-2022 Verify Proof step 4: the document's contexts must start with the proof's.
        proof_ctx = proof_options["@context"]
        proof_ctx = proof_ctx if isinstance(proof_ctx, list) else [proof_ctx]
        doc_ctx = _contexts(unsecured)
        if doc_ctx[: len(proof_ctx)] != proof_ctx:
            raise InvalidProof("the proof's @context is not a prefix of the document's @context")
        unsecured["@context"] = proof_options["@context"]
    proof_options["@context"] = unsecured["@context"]
    suite.verify_proof_value(unsecured, proof_options, proof_value, method.public_key, loader)
    return method


def verify_proofs(
    document: Mapping[str, Any],
    *,
    resolver: Resolver,
    now: datetime,
    expected_purpose: str = "assertionMethod",
    challenge: str | None = None,
    domain: str | Sequence[str] | None = None,
    loader: StaticDocumentLoader | None = None,
) -> list[ProofResult]:
    """Verify every proof of ``document`` (a proof set or chain); one result per proof.

    Never raises for a bad proof: each result carries its error. Raises
    :class:`MalformedError` only when the proof member itself is unusable.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    loader = loader or default_loader()
    proofs = all_proofs(document)
    with memoized():
        return _verify_all(
            document,
            proofs,
            resolver=resolver,
            now=now,
            expected_purpose=expected_purpose,
            challenge=challenge,
            domain=domain,
            loader=loader,
        )


def _verify_all(
    document: Mapping[str, Any],
    proofs: Sequence[Mapping[str, Any]],
    *,
    resolver: Resolver,
    now: datetime,
    expected_purpose: str,
    challenge: str | None,
    domain: str | Sequence[str] | None,
    loader: StaticDocumentLoader,
) -> list[ProofResult]:
    results: list[ProofResult] = []
    for index, proof in enumerate(proofs):

        def text(member: str, proof: Mapping[str, Any] = proof) -> str | None:
            value = proof.get(member)
            return value if isinstance(value, str) else None

        head = ProofResult(
            index=index,
            type=text("type"),
            cryptosuite=text("cryptosuite"),
            verification_method=text("verificationMethod"),
            purpose=text("proofPurpose"),
        )
        try:
            method = _verify_one(
                document,
                proofs,
                proof,
                resolver=resolver,
                expected_purpose=expected_purpose,
                challenge=challenge,
                domain=domain,
                now=now,
                loader=loader,
            )
        except ProtocolError as exc:
            results.append(replace(head, error=exc))
        else:
            results.append(replace(head, controller=method.controller, method=method))
    return results
