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


#: Signature length in bytes for each key algorithm (ECDSA signatures are raw r || s).
_SIGNATURE_BYTES = {"Ed25519": 64, "P-256": 64, "P-384": 96}


@dataclass(frozen=True)
class _RdfcSuite:
    """A suite that canonicalises with RDFC-1.0, hashes, and signs the hashes with one key.

    eddsa-rdfc-2022 (https://www.w3.org/TR/vc-di-eddsa/#eddsa-rdfc-2022), its legacy forms, and
    ecdsa-rdfc-2019 (https://www.w3.org/TR/vc-di-ecdsa/#ecdsa-rdfc-2019) differ only in the key
    algorithms they take and the hash each one implies.
    """

    proof_type: str
    cryptosuite: str | None
    #: Key algorithm -> hash used by RDFC-1.0 and for hashData.
    hashes: tuple[tuple[str, str], ...]

    @property
    def algorithm(self) -> str:
        return " or ".join(name for name, _ in self.hashes)

    def _hash_name(self, public_key: PublicKey) -> str:
        for name, hash_name in self.hashes:
            if public_key.algorithm == name:
                return hash_name
        raise InvalidProof(
            f"{self.cryptosuite or self.proof_type} needs a {self.algorithm} key, "
            f"the verification method holds a {public_key.algorithm} key"
        )

    def create_proof_value(
        self,
        unsecured: Mapping[str, Any],
        proof_config: Mapping[str, Any],
        key: KeyPair,
        loader: StaticDocumentLoader,
    ) -> str:
        hash_name = self._hash_name(key.public)
        # Proof serialization: sign hashData (ECDSA with the curve's hash, raw r || s), then
        # base58btc multibase.
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
        # Verify Proof step 3: the proofValue is base58btc multibase of the raw signature.
        try:
            signature = base58btc_decode(proof_value)
        except MalformedError as exc:
            raise InvalidProof(f"proofValue is not base58btc multibase: {exc.message}") from exc
        expected = _SIGNATURE_BYTES[public_key.algorithm]
        if len(signature) != expected:
            raise InvalidProof(
                f"proofValue decodes to {len(signature)} bytes, a {public_key.algorithm} "
                f"signature has {expected}"
            )
        public_key.verify(signature, _rdfc_hash_data(unsecured, proof_config, loader, hash_name))


_ED25519 = (("Ed25519", "sha256"),)

#: ecdsa-rdfc-2019 (W3C Recommendation), P-256 and P-384.
EcdsaRdfc2019 = _RdfcSuite(
    "DataIntegrityProof", "ecdsa-rdfc-2019", (("P-256", "sha256"), ("P-384", "sha384"))
)
#: eddsa-rdfc-2022 (W3C Recommendation).
EddsaRdfc2022 = _RdfcSuite("DataIntegrityProof", "eddsa-rdfc-2022", _ED25519)
#: The suite's pre-Recommendation name, still found on deployed Open Badges (verify only).
Eddsa2022 = _RdfcSuite("DataIntegrityProof", "eddsa-2022", _ED25519)
#: Legacy Ed25519Signature2020, which the Learner Credential Wallet still signs with.
Ed25519Signature2020 = _RdfcSuite("Ed25519Signature2020", None, _ED25519)

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
