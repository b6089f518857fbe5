"""Proofs that a wallet controls the DID a credential will be bound to.

Three forms, all checked here and nowhere else:

* OID4VCI ``jwt`` proofs (OID4VCI 1.0 appendix F.1): a compact JWS with ``typ``
  ``openid4vci-proof+jwt``, ``alg`` EdDSA or ES256, ``kid`` a DID URL (did:key or did:web),
  claims ``aud`` = the credential issuer, ``iat``, ``nonce`` = a ``c_nonce``;
* OID4VCI ``di_vp`` proofs (appendix F.2): a verifiable presentation with a Data Integrity proof,
  ``proofPurpose`` ``authentication``, ``domain`` = the credential issuer, ``challenge`` =
  ``c_nonce``, whose ``holder`` controls the verification method;
* VC API DID authentication (the Learner Credential Wallet's exchange step): the same
  presentation check with the exchange's challenge and domain, accepting the legacy
  ``Ed25519Signature2020`` proofs that the wallet signs with.

The claimed nonce or challenge is read first (:func:`claimed_nonce`) so that the caller can
consume it atomically before the signature is checked. Verification itself runs in a worker
thread (canonicalisation is CPU work). Every failure raises :class:`HolderProofError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from protocol.di import all_proofs, verify_proofs
from protocol.did import Resolver
from protocol.errors import ProtocolError
from protocol.limits import MAX_CLOCK_SKEW_SECONDS

from ..appkeys import SERVICES
from ..problems import Problem
from .jws import parse_compact

__all__ = [
    "DID_AUTH_SUITES",
    "DI_VP_SUITES",
    "JWT_PROOF_TYP",
    "HolderProof",
    "HolderProofError",
    "claimed_nonce",
    "verify_jwt_proof",
    "verify_presentation_proof",
]

#: The ``typ`` header of an OID4VCI key proof JWT.
JWT_PROOF_TYP = "openid4vci-proof+jwt"
#: Cryptosuites accepted on ``di_vp`` proofs (announced in the issuer metadata).
DI_VP_SUITES = frozenset({"eddsa-rdfc-2022", "ecdsa-rdfc-2019"})
#: Proof suites accepted on VC API DID authentication: the Learner Credential Wallet signs with
#: Ed25519Signature2020.
DID_AUTH_SUITES = frozenset({"eddsa-rdfc-2022", "ecdsa-rdfc-2019", "Ed25519Signature2020"})
#: DID methods a holder may be bound with.
BINDING_METHODS = ("did:key:", "did:web:")
#: Oldest ``iat`` accepted on a JWT proof, in seconds before now (the c_nonce bounds the real
#: age; this only refuses proofs that were obviously prepared long before).
MAX_JWT_PROOF_AGE_SECONDS = 3600


class HolderProofError(Exception):
    """A proof of possession failed; ``error`` is the OID4VCI error code."""

    def __init__(self, description: str, *, error: str = "invalid_proof") -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class HolderProof:
    """A verified proof of possession: the holder DID and the key that proved it."""

    holder: str
    verification_method: str
    kind: str


def _did_of(url: str) -> str:
    return url.split("#", 1)[0]


def _check_binding_did(did: str) -> None:
    if not did.startswith(BINDING_METHODS):
        raise HolderProofError(
            f"the holder DID {did[:80]!r} uses an unsupported method "
            "(cryptographic binding supports did:key and did:web)"
        )


async def _resolver_for(app: web.Application, did: str) -> Resolver:
    """A resolver that knows ``did`` (did:key locally, did:web through the fetcher)."""
    _check_binding_did(did)
    if did.startswith("did:key:"):
        return Resolver()
    fetcher = app[SERVICES].get("fetcher")
    if fetcher is None:
        raise HolderProofError("this node cannot resolve did:web holders (no fetcher)")
    try:
        if hasattr(fetcher, "resolve_did"):
            document = await fetcher.resolve_did(did)
        else:  # pragma: no cover - older fetchers
            from protocol.did import did_web_to_url

            document = await fetcher.fetch_json(did_web_to_url(did))
    except Problem as exc:
        raise HolderProofError(f"cannot resolve the holder DID {did}: {exc.detail}") from exc
    except ProtocolError as exc:
        raise HolderProofError(f"cannot resolve the holder DID {did}: {exc.message}") from exc
    return Resolver({did: document})


def _presentation_holder(presentation: Any) -> str:
    if not isinstance(presentation, Mapping):
        raise HolderProofError("the proof must be a verifiable presentation (a JSON object)")
    types = presentation.get("type")
    types = types if isinstance(types, list) else [types]
    if "VerifiablePresentation" not in types:
        raise HolderProofError("the presentation's type must include VerifiablePresentation")
    holder = presentation.get("holder")
    holder_id = holder.get("id") if isinstance(holder, Mapping) else holder
    if not isinstance(holder_id, str) or not holder_id:
        raise HolderProofError("the presentation must name its holder (a DID)")
    return holder_id


def claimed_nonce(kind: str, proof: Any) -> str:
    """The nonce (``jwt``) or challenge (presentations) a proof claims, before any check."""
    if kind == "jwt":
        try:
            jws = parse_compact(proof)
        except ProtocolError as exc:
            raise HolderProofError(f"the JWT proof is unusable: {exc.message}") from exc
        nonce = jws.payload.get("nonce")
        if not isinstance(nonce, str) or not nonce:
            raise HolderProofError("the JWT proof has no nonce claim", error="invalid_nonce")
        return nonce
    if not isinstance(proof, Mapping):
        raise HolderProofError("the proof must be a verifiable presentation (a JSON object)")
    try:
        proofs = all_proofs(proof)
    except ProtocolError as exc:
        raise HolderProofError(f"the presentation's proof is unusable: {exc.message}") from exc
    if not proofs:
        raise HolderProofError("the presentation carries no proof")
    challenges = {p.get("challenge") for p in proofs}
    if len(challenges) != 1:
        raise HolderProofError("the presentation's proofs carry different challenges")
    (challenge,) = challenges
    if not isinstance(challenge, str) or not challenge:
        raise HolderProofError("the presentation's proof has no challenge", error="invalid_nonce")
    return challenge


async def verify_jwt_proof(
    app: web.Application,
    token: str,
    *,
    audience: str,
    nonce: str,
    now: datetime,
) -> HolderProof:
    """Verify an OID4VCI ``jwt`` key proof (OID4VCI 1.0 appendix F.1 and F.4)."""
    try:
        jws = parse_compact(token)
    except ProtocolError as exc:
        raise HolderProofError(f"the JWT proof is unusable: {exc.message}") from exc
    header, claims = jws.header, jws.payload
    # F.1: typ must be openid4vci-proof+jwt.
    if header.get("typ") != JWT_PROOF_TYP:
        raise HolderProofError(f"the JWT proof's typ must be {JWT_PROOF_TYP!r}")
    # kid names the key; jwk and x5c cannot bind a DID, so they are refused.
    if "jwk" in header or "x5c" in header:
        raise HolderProofError(
            "the JWT proof must identify its key by kid (a DID URL): jwk and x5c cannot bind "
            "the credential to a DID"
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or "#" not in kid:
        raise HolderProofError("the JWT proof's kid must be a DID URL with a fragment")
    # aud must be the credential issuer identifier.
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise HolderProofError(f"the JWT proof's aud must be the credential issuer {audience}")
    # iat must be present and plausible.
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise HolderProofError("the JWT proof has no numeric iat claim")
    issued = _from_numeric_date(iat, "iat", now)
    skew = timedelta(seconds=MAX_CLOCK_SKEW_SECONDS)
    if issued > now + skew:
        raise HolderProofError("the JWT proof's iat is in the future")
    if issued < now - timedelta(seconds=MAX_JWT_PROOF_AGE_SECONDS) - skew:
        raise HolderProofError("the JWT proof's iat is too old")
    exp = claims.get("exp")
    if exp is not None:
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            raise HolderProofError("the JWT proof's exp must be a number")
        if _from_numeric_date(exp, "exp", now) < now - skew:
            raise HolderProofError("the JWT proof has expired")
    # nonce must be the c_nonce the caller consumed.
    if claims.get("nonce") != nonce:
        raise HolderProofError("the JWT proof's nonce is not the c_nonce", error="invalid_nonce")
    holder = _did_of(kid)
    resolver = await _resolver_for(app, holder)

    def check() -> None:
        method = resolver.verification_method(kid, relationship="authentication")
        jws.verify(method.public_key)

    try:
        await asyncio.to_thread(check)
    except ProtocolError as exc:
        raise HolderProofError(f"the JWT proof does not verify: {exc.message}") from exc
    return HolderProof(holder=holder, verification_method=kid, kind="jwt")


def _from_numeric_date(value: int | float, claim: str, now: datetime) -> datetime:
    """A JWT NumericDate as an aware datetime (HolderProofError when out of range)."""
    try:
        return datetime.fromtimestamp(float(value), tz=now.tzinfo)
    except (OverflowError, OSError, ValueError):
        raise HolderProofError(f"the JWT proof's {claim} is out of range") from None


def _suite_name(proof: Mapping[str, Any]) -> str:
    if proof.get("type") == "DataIntegrityProof":
        return str(proof.get("cryptosuite"))
    return str(proof.get("type"))


async def verify_presentation_proof(
    app: web.Application,
    presentation: Any,
    *,
    challenge: str,
    domain: str,
    now: datetime,
    suites: frozenset[str] | Sequence[str] = DI_VP_SUITES,
    kind: str = "di_vp",
) -> HolderProof:
    """Verify a presentation proving control of its holder DID (``authentication`` purpose,
    ``challenge`` and ``domain`` exactly as given, every proof by a key of the holder)."""
    holder = _presentation_holder(presentation)
    try:
        proofs = all_proofs(presentation)
    except ProtocolError as exc:
        raise HolderProofError(f"the presentation's proof is unusable: {exc.message}") from exc
    if not proofs:
        raise HolderProofError("the presentation carries no proof")
    for proof in proofs:
        name = _suite_name(proof)
        if name not in suites:
            raise HolderProofError(
                f"proof suite {name!r} is not accepted here (expected one of "
                f"{', '.join(sorted(suites))})"
            )
        method = proof.get("verificationMethod")
        if not isinstance(method, str) or _did_of(method) != holder:
            raise HolderProofError(
                f"the presentation is signed by a key that does not belong to its holder {holder}"
            )
    resolver = await _resolver_for(app, holder)

    def check() -> list[Any]:
        return verify_proofs(
            presentation,
            resolver=resolver,
            now=now,
            expected_purpose="authentication",
            challenge=challenge,
            domain=domain,
        )

    try:
        results = await asyncio.to_thread(check)
    except ProtocolError as exc:
        raise HolderProofError(f"the presentation is unusable: {exc.message}") from exc
    for result in results:
        if result.error is not None:
            raise HolderProofError(
                f"the presentation's {result.name} proof does not verify: {result.error.message}"
            )
        if result.controller != holder:
            raise HolderProofError(
                f"the proving key is controlled by {result.controller}, not by the holder {holder}"
            )
    return HolderProof(
        holder=holder, verification_method=str(results[0].verification_method), kind=kind
    )
