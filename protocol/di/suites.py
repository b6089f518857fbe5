"""Cryptosuites: the per-suite transformation, hashing and signature steps of Data Integrity.

Each suite is a small object in the manner of Digital Bazaar's cryptosuite records: the generic
Add Proof / Verify Proof algorithms (``protocol.di.proofs``) call ``create_proof_value`` and
``verify_proof_value`` and know nothing of canonicalisation or keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..encoding import base58btc_decode, base58btc_encode
from ..errors import InvalidProof, MalformedError, UnsupportedError
from ..jsonld.canonicalize import canonicalize
from ..jsonld.loader import StaticDocumentLoader
from ..keys import KeyPair, PublicKey
from .ecdsa_sd_2023 import EcdsaSd2023

__all__ = [
    "SIGNING_SUITES",
    "SUITES",
    "Cryptosuite",
    "EcdsaRdfc2019",
    "Ed25519Signature2020",
    "EddsaRdfc2022",
    "suite_for_proof",
]


class Cryptosuite(Protocol):
    """What the generic proof algorithms need from a suite."""

    @property
    def proof_type(self) -> str:
        """``type`` of the proofs this suite makes (``DataIntegrityProof`` or a legacy type)."""
        ...

    @property
    def cryptosuite(self) -> str | None:
        """``cryptosuite`` value (``None`` for legacy proof types, which have none)."""
        ...

    @property
    def algorithm(self) -> str:
        """Key algorithm the suite requires."""
        ...

    def create_proof_value(
        self,
        unsecured: Mapping[str, Any],
        proof_config: Mapping[str, Any],
        key: KeyPair,
        loader: StaticDocumentLoader,
    ) -> str:
        """Return the ``proofValue`` for ``unsecured`` under ``proof_config``."""
        ...

    def verify_proof_value(
        self,
        unsecured: Mapping[str, Any],
        proof_config: Mapping[str, Any],
        proof_value: str,
        public_key: PublicKey,
        loader: StaticDocumentLoader,
    ) -> None:
        """Raise :class:`InvalidProof` unless ``proof_value`` is valid."""
        ...


def _rdfc_hash_data(
    unsecured: Mapping[str, Any],
    proof_config: Mapping[str, Any],
    loader: StaticDocumentLoader,
    hash_name: str = "sha256",
) -> bytes:
    # https://www.w3.org/TR/vc-di-eddsa/#transformation-eddsa-rdfc-2022 (canonicalise the document),
    # #proof-configuration-eddsa-rdfc-2022 (canonicalise the proof options) and
    # #hashing-eddsa-rdfc-2022: hashData = H(proof config) || H(document). ecdsa-rdfc-2019 is the
    # same with SHA-384 for P-384 (https://www.w3.org/TR/vc-di-ecdsa/#hashing-ecdsa-rdfc-2019),
    # and then RDFC-1.0 itself hashes with SHA-384 too (the W3C P-384 vectors depend on it).
    document_canon = canonicalize(unsecured, loader=loader, hash_name=hash_name)
    proof_canon = canonicalize(proof_config, loader=loader, hash_name=hash_name)
    return (
        hashlib.new(hash_name, proof_canon.encode("utf-8")).digest()
        + hashlib.new(hash_name, document_canon.encode("utf-8")).digest()
    )


@dataclass(frozen=True)
class _Ed25519RdfcSuite:
    proof_type: str
    cryptosuite: str | None
    algorithm: str = "Ed25519"

    def _check_key(self, public_key: PublicKey) -> None:
        if public_key.algorithm != self.algorithm:
            raise InvalidProof(
                f"{self.cryptosuite or self.proof_type} needs an Ed25519 key, "
                f"the verification method holds a {public_key.algorithm} key"
            )

    def create_proof_value(
        self,
        unsecured: Mapping[str, Any],
        proof_config: Mapping[str, Any],
        key: KeyPair,
        loader: StaticDocumentLoader,
    ) -> str:
        self._check_key(key.public)
        # https://www.w3.org/TR/vc-di-eddsa/#proof-serialization-eddsa-rdfc-2022
        signature = key.sign(_rdfc_hash_data(unsecured, proof_config, loader))
        return base58btc_encode(signature)

    def verify_proof_value(
        self,
        unsecured: Mapping[str, Any],
        proof_config: Mapping[str, Any],
        proof_value: str,
        public_key: PublicKey,
        loader: StaticDocumentLoader,
    ) -> None:
        self._check_key(public_key)
        # https://www.w3.org/TR/vc-di-eddsa/#verify-proof-eddsa-rdfc-2022, step 3: the proofValue
        # is base58btc multibase of a 64-byte Ed25519 signature.
        try:
            signature = base58btc_decode(proof_value)
        except MalformedError as exc:
            raise InvalidProof(f"proofValue is not base58btc multibase: {exc.message}") from exc
        if len(signature) != 64:
            raise InvalidProof(
                f"proofValue decodes to {len(signature)} bytes, an Ed25519 signature has 64"
            )
        public_key.verify(signature, _rdfc_hash_data(unsecured, proof_config, loader))


@dataclass(frozen=True)
class _EcdsaRdfcSuite:
    """ecdsa-rdfc-2019 (https://www.w3.org/TR/vc-di-ecdsa/#ecdsa-rdfc-2019): P-256 or P-384."""

    proof_type: str = "DataIntegrityProof"
    cryptosuite: str | None = "ecdsa-rdfc-2019"
    algorithm: str = "P-256 or P-384"

    @staticmethod
    def _hash_name(public_key: PublicKey) -> str:
        if public_key.algorithm == "P-256":
            return "sha256"
        if public_key.algorithm == "P-384":
            return "sha384"
        raise InvalidProof(
            f"ecdsa-rdfc-2019 needs a P-256 or P-384 key, the verification method holds a "
            f"{public_key.algorithm} key"
        )

    def create_proof_value(
        self,
        unsecured: Mapping[str, Any],
        proof_config: Mapping[str, Any],
        key: KeyPair,
        loader: StaticDocumentLoader,
    ) -> str:
        hash_name = self._hash_name(key.public)
        # Proof serialization: ECDSA over hashData (with the curve's hash), raw r || s, base58btc.
        return base58btc_encode(
            key.sign(_rdfc_hash_data(unsecured, proof_config, loader, hash_name))
        )

    def verify_proof_value(
        self,
        unsecured: Mapping[str, Any],
        proof_config: Mapping[str, Any],
        proof_value: str,
        public_key: PublicKey,
        loader: StaticDocumentLoader,
    ) -> None:
        hash_name = self._hash_name(public_key)
        try:
            signature = base58btc_decode(proof_value)
        except MalformedError as exc:
            raise InvalidProof(f"proofValue is not base58btc multibase: {exc.message}") from exc
        public_key.verify(signature, _rdfc_hash_data(unsecured, proof_config, loader, hash_name))


#: ecdsa-rdfc-2019 (W3C Recommendation), P-256 and P-384.
EcdsaRdfc2019 = _EcdsaRdfcSuite()
#: eddsa-rdfc-2022 (W3C Recommendation).
EddsaRdfc2022 = _Ed25519RdfcSuite("DataIntegrityProof", "eddsa-rdfc-2022")
#: The suite's pre-Recommendation name, still found on deployed Open Badges (verify only).
Eddsa2022 = _Ed25519RdfcSuite("DataIntegrityProof", "eddsa-2022")
#: Legacy Ed25519Signature2020, which the Learner Credential Wallet still signs with.
Ed25519Signature2020 = _Ed25519RdfcSuite("Ed25519Signature2020", None)

#: Suites by (proof type, cryptosuite). Others register here as they are implemented.
SUITES: dict[tuple[str, str | None], Cryptosuite] = {
    ("DataIntegrityProof", "eddsa-rdfc-2022"): EddsaRdfc2022,
    ("DataIntegrityProof", "eddsa-2022"): Eddsa2022,
    ("Ed25519Signature2020", None): Ed25519Signature2020,
    ("DataIntegrityProof", "ecdsa-rdfc-2019"): EcdsaRdfc2019,
    ("DataIntegrityProof", "ecdsa-sd-2023"): EcdsaSd2023,  # verifies derived proofs only
}

#: Suites that may create proofs (verify-only aliases excluded).
SIGNING_SUITES: dict[str, Cryptosuite] = {
    "eddsa-rdfc-2022": EddsaRdfc2022,
    "Ed25519Signature2020": Ed25519Signature2020,
    "ecdsa-rdfc-2019": EcdsaRdfc2019,
}


def suite_for_proof(proof: Mapping[str, Any]) -> Cryptosuite:
    """The suite that verifies ``proof``, or :class:`UnsupportedError` naming what is unknown."""
    proof_type = proof.get("type")
    if not isinstance(proof_type, str):
        raise MalformedError("proof type must be a string")
    if proof_type == "DataIntegrityProof":
        name = proof.get("cryptosuite")
        if not isinstance(name, str):
            raise MalformedError("a DataIntegrityProof needs a cryptosuite string")
        suite = SUITES.get((proof_type, name))
        if suite is None:
            raise UnsupportedError(f"unsupported cryptosuite {name!r}")
        return suite
    suite = SUITES.get((proof_type, None))
    if suite is None:
        raise UnsupportedError(f"unsupported proof type {proof_type!r}")
    return suite
