"""Multicodec codes for the keys that Multikey and did:key carry.

Codes and lengths follow the multicodec table and the Controlled Identifiers (CID) Multikey
section; each one is written into multibase values as an unsigned varint.
"""

from __future__ import annotations

from typing import Final, Literal

Algorithm = Literal["Ed25519", "P-256", "P-384"]

#: Every algorithm this package signs and verifies with.
ALGORITHMS: Final[tuple[Algorithm, ...]] = ("Ed25519", "P-256", "P-384")

#: Public-key multicodec per algorithm (ed25519-pub, p256-pub, p384-pub).
PUBLIC_CODEC: Final[dict[Algorithm, int]] = {"Ed25519": 0xED, "P-256": 0x1200, "P-384": 0x1201}

#: Secret-key multicodec per algorithm (ed25519-priv, p256-priv, p384-priv).
SECRET_CODEC: Final[dict[Algorithm, int]] = {"Ed25519": 0x1300, "P-256": 0x1306, "P-384": 0x1307}

#: Length of the raw public key: Ed25519 point, or a SEC 1 compressed point.
PUBLIC_LENGTH: Final[dict[Algorithm, int]] = {"Ed25519": 32, "P-256": 33, "P-384": 49}

#: Length of the raw secret: the Ed25519 seed, or the big-endian ECDSA scalar.
SECRET_LENGTH: Final[dict[Algorithm, int]] = {"Ed25519": 32, "P-256": 32, "P-384": 48}

#: Length of a raw signature (Ed25519, or ECDSA r||s).
SIGNATURE_LENGTH: Final[dict[Algorithm, int]] = {"Ed25519": 64, "P-256": 64, "P-384": 96}

ALGORITHM_BY_PUBLIC_CODEC: Final[dict[int, Algorithm]] = {v: k for k, v in PUBLIC_CODEC.items()}
ALGORITHM_BY_SECRET_CODEC: Final[dict[int, Algorithm]] = {v: k for k, v in SECRET_CODEC.items()}

#: Public-key codes that are known but refused, with the reason given to the caller.
UNSUPPORTED_PUBLIC: Final[dict[int, str]] = {
    0xE7: "secp256k1-pub (0xe7) keys are not supported",
    0xEC: "x25519-pub (0xec) is a key-agreement key, not a signing key",
    0xEA: "bls12_381-g1-pub (0xea) keys are not supported",
    0xEB: "bls12_381-g2-pub (0xeb) keys are not supported (bbs-2023 is out of scope)",
    0xEE: "bls12_381-g1g2-pub (0xee) keys are not supported",
    0x1202: "p521-pub (0x1202) keys are not supported",
    0x1203: "ed448-pub (0x1203) keys are not supported",
    0x1204: "x448-pub (0x1204) is a key-agreement key, not a signing key",
    0x1205: "rsa-pub (0x1205) keys are not supported",
    0x1206: "sm2-pub (0x1206) keys are not supported",
}

#: Secret-key codes that are known but refused.
UNSUPPORTED_SECRET: Final[dict[int, str]] = {
    0x1301: "secp256k1-priv (0x1301) keys are not supported",
    0x1302: "x25519-priv (0x1302) is a key-agreement key, not a signing key",
    0x1305: "rsa-priv (0x1305) keys are not supported",
    0x1308: "p521-priv (0x1308) keys are not supported",
    0x1309: "bls12_381-g1-priv (0x1309) keys are not supported",
    0x130A: "bls12_381-g2-priv (0x130a) keys are not supported",
}
