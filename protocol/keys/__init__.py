"""Keys for Data Integrity: Ed25519, P-256 and P-384, in Multikey and JWK form.

:class:`PublicKey` verifies (raising :class:`~protocol.errors.InvalidProof`, never returning a
bool); :class:`KeyPair` signs (Ed25519, or deterministic RFC 6979 ECDSA as raw ``r || s``).
Every parser raises :class:`~protocol.errors.MalformedError` for bad input and
:class:`~protocol.errors.UnsupportedError` for key types we refuse; no foreign exception escapes.
"""

from __future__ import annotations

from ._codecs import ALGORITHMS, Algorithm
from ._pair import (
    MULTIKEY_CONTEXT,
    KeyPair,
    generate,
    key_pair_from_multibase,
    load_key_file,
)
from ._public import PublicKey, public_key_from_jwk, public_key_from_multibase

__all__ = [
    "ALGORITHMS",
    "MULTIKEY_CONTEXT",
    "Algorithm",
    "KeyPair",
    "PublicKey",
    "generate",
    "key_pair_from_multibase",
    "load_key_file",
    "public_key_from_jwk",
    "public_key_from_multibase",
]
