"""Holder identities: did:key key pairs kept in the wallet.

Ed25519 is the default (presentations, self-made badges, endorsements: ``eddsa-rdfc-2022``);
P-256 is there where a verifier or a suite needs it (``ecdsa-rdfc-2019``). An earner may keep
several identities, one per verifier (pairwise), each with a label. Secrets live only inside the
sealed wallet content and never appear in a ``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from protocol.did import did_key_for, key_pair_as_did_key
from protocol.errors import ProtocolError
from protocol.keys import ALGORITHMS, Algorithm, KeyPair, generate, key_pair_from_multibase
from protocol.timeutil import format_datetime

from .errors import WalletCorrupt

__all__ = ["IDENTITY_ALGORITHMS", "Identity", "new_identity", "suite_for"]

#: Key algorithms a holder identity may use.
IDENTITY_ALGORITHMS: tuple[Algorithm, ...] = cast(
    tuple[Algorithm, ...], tuple(a for a in ("Ed25519", "P-256", "P-384") if a in ALGORITHMS)
)

#: The Data Integrity suite a holder signs with, per key algorithm.
_SUITES: dict[str, str] = {
    "Ed25519": "eddsa-rdfc-2022",
    "P-256": "ecdsa-rdfc-2019",
    "P-384": "ecdsa-rdfc-2019",
}


def suite_for(pair: KeyPair) -> str:
    """The Data Integrity cryptosuite this wallet uses for ``pair``'s algorithm."""
    return _SUITES[pair.algorithm]


@dataclass(frozen=True)
class Identity:
    """One holder identity: a did:key, its label, and (sealed) its secret key."""

    did: str
    algorithm: Algorithm
    public_multibase: str
    created: str
    label: str | None = None
    _secret_multibase: str = field(default="", repr=False, compare=False)

    @property
    def verification_method(self) -> str:
        """The did:key verification method id (``did#<publicKeyMultibase>``)."""
        return f"{self.did}#{self.public_multibase}"

    def key_pair(self) -> KeyPair:
        """The signing key, bound to the did:key (controller and verification method id)."""
        if not self._secret_multibase:
            raise ValueError("this identity was loaded without its secret key")
        pair = key_pair_from_multibase(self.public_multibase, self._secret_multibase)
        return key_pair_as_did_key(pair)

    def to_dict(self, *, secret: bool = True) -> dict[str, Any]:
        """The stored form (with ``secretKeyMultibase`` unless ``secret`` is false)."""
        out: dict[str, Any] = {
            "did": self.did,
            "algorithm": self.algorithm,
            "publicKeyMultibase": self.public_multibase,
            "created": self.created,
        }
        if self.label is not None:
            out["label"] = self.label
        if secret:
            out["secretKeyMultibase"] = self._secret_multibase
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Identity:
        """Read the stored form; check that the secret matches the DID."""
        try:
            did = data["did"]
            public = data["publicKeyMultibase"]
            secret = data["secretKeyMultibase"]
            algorithm = data["algorithm"]
            created = data["created"]
            label = data.get("label")
        except (KeyError, TypeError) as exc:
            raise WalletCorrupt(f"an identity record lacks {exc}") from None
        if algorithm not in IDENTITY_ALGORITHMS:
            raise WalletCorrupt(f"identity {did}: unsupported algorithm {algorithm!r}")
        try:
            pair = key_pair_from_multibase(public, secret)
        except ProtocolError as exc:
            raise WalletCorrupt(f"identity {did}: {exc.message}") from exc
        if did_key_for(pair.public) != did:
            raise WalletCorrupt(f"identity {did}: the key does not match the DID")
        return cls(did, algorithm, public, created, label, secret)


def new_identity(
    algorithm: Algorithm = "Ed25519", *, label: str | None = None, now: datetime
) -> Identity:
    """A fresh did:key identity from the operating system's randomness."""
    if algorithm not in IDENTITY_ALGORITHMS:
        raise ValueError(
            f"unsupported identity algorithm {algorithm!r} "
            f"(expected one of {', '.join(IDENTITY_ALGORITHMS)})"
        )
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise ValueError("an identity label must be a non-empty string")
    pair = generate(algorithm)
    did = did_key_for(pair.public)
    return Identity(
        did=did,
        algorithm=algorithm,
        public_multibase=pair.public.multibase,
        created=format_datetime(now),
        label=label.strip() if label else None,
        _secret_multibase=pair.secret_multibase,
    )
