"""Public keys: Multikey and JWK parsing, encoding and signature verification.

Multikey is defined in Controlled Identifiers (CID) section "Multikey": ``publicKeyMultibase`` is
``z`` + base58btc(varint multicodec header || raw key). Ed25519 keys are 32 bytes (RFC 8032),
P-256 and P-384 keys are SEC 1 compressed points (33 and 49 bytes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import nacl.bindings
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from protocol.encoding import (
    b64url_decode,
    b64url_encode,
    base58btc_encode,
    multibase_decode,
    multicodec_unwrap,
    multicodec_wrap,
)
from protocol.errors import InvalidProof, MalformedError, UnsupportedError
from protocol.limits import MAX_MULTIBASE_CHARS

from ._codecs import (
    ALGORITHM_BY_PUBLIC_CODEC,
    ALGORITHM_BY_SECRET_CODEC,
    ALGORITHMS,
    PUBLIC_CODEC,
    PUBLIC_LENGTH,
    SIGNATURE_LENGTH,
    UNSUPPORTED_PUBLIC,
    UNSUPPORTED_SECRET,
    Algorithm,
)

__all__ = ["PublicKey", "public_key_from_jwk", "public_key_from_multibase"]

_CURVES: dict[Algorithm, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}
_HASHES: dict[Algorithm, type[hashes.HashAlgorithm]] = {
    "P-256": hashes.SHA256,
    "P-384": hashes.SHA384,
}

#: JOSE ``alg`` values consistent with each curve (RFC 8037, RFC 7518, RFC 9864).
_JWK_ALGS: dict[str, tuple[str, ...]] = {
    "Ed25519": ("EdDSA", "Ed25519"),
    "P-256": ("ES256",),
    "P-384": ("ES384",),
}

_BASE58BTC = re.compile(r"z[1-9A-HJ-NP-Za-km-z]*\Z")

_VerifierKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


def _load_point(algorithm: Algorithm, raw: bytes) -> _VerifierKey:
    """Check that ``raw`` encodes a valid point and load it; MalformedError otherwise."""
    expected = PUBLIC_LENGTH[algorithm]
    if len(raw) != expected:
        raise MalformedError(
            f"invalidPublicKeyLength: {algorithm} public key must be {expected} bytes, "
            f"got {len(raw)}"
        )
    if algorithm == "Ed25519":
        # libsodium checks the encoding is canonical, on the curve, in the prime-order subgroup
        # and not of small order. Every key made by Ed25519 key generation passes.
        if not nacl.bindings.crypto_core_ed25519_is_valid_point(raw):
            raise MalformedError(
                "invalidPublicKey: Ed25519 public key is not a valid point "
                "(off the curve, non-canonical or of small order)"
            )
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    if raw[0] not in (0x02, 0x03):
        raise MalformedError(
            f"invalidPublicKey: {algorithm} public key must be a SEC 1 compressed point "
            f"(first byte 0x02 or 0x03, got 0x{raw[0]:02x})"
        )
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[algorithm], raw)
    except ValueError as exc:
        raise MalformedError(
            f"invalidPublicKey: {algorithm} public key is not a point on the curve"
        ) from exc


@dataclass(frozen=True)
class PublicKey:
    """An immutable, validated public key.

    ``raw`` is the 32-byte Ed25519 key or the SEC 1 compressed ECDSA point (33 bytes for P-256,
    49 for P-384). Construction checks the point, so an instance is always usable.
    """

    algorithm: Algorithm
    raw: bytes
    _key: _VerifierKey = field(init=False, repr=False, compare=False)
    _multibase: list[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise UnsupportedError(f"unsupported key algorithm {self.algorithm!r}")
        if not isinstance(self.raw, bytes):
            raise TypeError("PublicKey.raw must be bytes")
        object.__setattr__(self, "_key", _load_point(self.algorithm, self.raw))
        object.__setattr__(self, "_multibase", [])  # computed once, on first use

    def __repr__(self) -> str:
        return f"PublicKey(algorithm={self.algorithm!r}, multibase={self.multibase!r})"

    def __reduce__(self) -> tuple[type[PublicKey], tuple[Algorithm, bytes]]:
        return (PublicKey, (self.algorithm, self.raw))

    def __copy__(self) -> PublicKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> PublicKey:
        return self

    @property
    def multibase(self) -> str:
        """``publicKeyMultibase``: ``z`` + base58btc(multicodec header || raw)."""
        if not self._multibase:
            code = PUBLIC_CODEC[self.algorithm]
            self._multibase.append(base58btc_encode(multicodec_wrap(code, self.raw)))
        return self._multibase[0]

    def verify(self, signature: bytes, data: bytes) -> None:
        """Check ``signature`` over ``data``; raise :class:`InvalidProof` if it does not verify.

        Ed25519 signs ``data`` itself (RFC 8032). ECDSA takes a raw ``r || s`` signature and hashes
        ``data`` with SHA-256 (P-256) or SHA-384 (P-384), as ecdsa-rdfc-2019 and ecdsa-sd-2023 do.
        """
        if not isinstance(signature, bytes | bytearray) or not isinstance(data, bytes | bytearray):
            raise TypeError("signature and data must be bytes")
        expected = SIGNATURE_LENGTH[self.algorithm]
        if len(signature) != expected:
            form = "" if self.algorithm == "Ed25519" else " (raw r||s)"
            raise InvalidProof(
                f"{self.algorithm} signature must be {expected} bytes{form}, got {len(signature)}"
            )
        key = self._key
        try:
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(bytes(signature), bytes(data))
            else:
                half = expected // 2
                r = int.from_bytes(signature[:half], "big")
                s = int.from_bytes(signature[half:], "big")
                der = encode_dss_signature(r, s)
                key.verify(der, bytes(data), ec.ECDSA(_HASHES[self.algorithm]()))
        except InvalidSignature as exc:
            raise InvalidProof(f"{self.algorithm} signature does not verify") from exc
        except ValueError as exc:  # pragma: no cover - defensive, r/s are bounded above
            raise InvalidProof(f"{self.algorithm} signature is malformed: {exc}") from exc

    def to_jwk(self) -> dict[str, str]:
        """The public JWK (RFC 8037 OKP for Ed25519, RFC 7518 EC for P-256/P-384)."""
        if self.algorithm == "Ed25519":
            return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(self.raw)}
        key = self._key
        assert isinstance(key, ec.EllipticCurvePublicKey)
        numbers = key.public_numbers()
        size = PUBLIC_LENGTH[self.algorithm] - 1
        return {
            "kty": "EC",
            "crv": self.algorithm,
            "x": b64url_encode(numbers.x.to_bytes(size, "big")),
            "y": b64url_encode(numbers.y.to_bytes(size, "big")),
        }

    def verifier_key(self) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
        """The pyca/cryptography key object, for callers that need it (e.g. JOSE)."""
        return self._key


def decode_key_multibase(text: object, *, what: str) -> tuple[int, bytes]:
    """Decode a ``z``-prefixed multibase key value into (multicodec code, payload)."""
    if not isinstance(text, str):
        raise MalformedError(f"{what} must be a string")
    if not text.startswith("z"):
        raise MalformedError(
            f"{what} must be base58btc multibase (starting with 'z'), got {text[:1]!r}"
        )
    if len(text) > MAX_MULTIBASE_CHARS:
        raise MalformedError(f"{what} is longer than {MAX_MULTIBASE_CHARS} characters")
    if not _BASE58BTC.match(text):
        raise MalformedError(f"{what} holds characters outside the base58btc alphabet")
    data = multibase_decode(text)
    if not data:
        raise MalformedError(f"{what} is empty")
    code, payload = multicodec_unwrap(data)
    return code, payload


def public_key_from_multibase(text: str) -> PublicKey:
    """Parse a Multikey ``publicKeyMultibase`` (``z6Mk…``, ``zDna…``, ``z82L…``).

    Raises :class:`MalformedError` for bad multibase, a wrong length or an invalid point, and
    :class:`UnsupportedError` for a key type we do not sign with (secp256k1, X25519, BLS, …).
    """
    code, payload = decode_key_multibase(text, what="publicKeyMultibase")
    algorithm = ALGORITHM_BY_PUBLIC_CODEC.get(code)
    if algorithm is None:
        if code in UNSUPPORTED_PUBLIC:
            raise UnsupportedError(f"unsupportedPublicKeyType: {UNSUPPORTED_PUBLIC[code]}")
        if code in ALGORITHM_BY_SECRET_CODEC or code in UNSUPPORTED_SECRET:
            raise MalformedError(
                f"publicKeyMultibase holds a secret key (multicodec 0x{code:x}), not a public key"
            )
        raise UnsupportedError(
            f"unsupportedPublicKeyType: unknown public key multicodec 0x{code:x}"
        )
    key = PublicKey(algorithm, payload)
    # The text is canonical: it holds only base58btc characters (checked when decoding), base58
    # maps such strings one-to-one onto byte strings, and the varint decoder refuses non-minimal
    # headers. So identifiers built from it (did:key) have a single spelling.
    key._multibase.append(text)
    return key


def _jwk_str(jwk: Mapping[str, Any], name: str) -> str:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise MalformedError(f"JWK member {name!r} must be a string")
    return value


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """Parse a public JWK: OKP/Ed25519 (RFC 8037) or EC/P-256, EC/P-384 (RFC 7518)."""
    if not isinstance(jwk, Mapping):
        raise MalformedError("JWK must be a JSON object")
    if "d" in jwk:
        raise MalformedError("public JWK must not hold the private member 'd'")
    kty = _jwk_str(jwk, "kty")
    crv = _jwk_str(jwk, "crv")
    alg = jwk.get("alg")
    if alg is not None and alg not in _JWK_ALGS.get(crv, ()):
        raise MalformedError(f"JWK 'alg' {alg!r} does not match curve {crv!r}")
    if kty == "OKP":
        if crv != "Ed25519":
            raise UnsupportedError(f"unsupported OKP curve {crv!r} (only Ed25519 signs)")
        x = b64url_decode(_jwk_str(jwk, "x"))
        return PublicKey("Ed25519", x)
    if kty == "EC":
        if crv not in ("P-256", "P-384"):
            raise UnsupportedError(f"unsupported EC curve {crv!r} (expected P-256 or P-384)")
        algorithm: Algorithm = "P-256" if crv == "P-256" else "P-384"
        size = PUBLIC_LENGTH[algorithm] - 1
        x = b64url_decode(_jwk_str(jwk, "x"))
        y = b64url_decode(_jwk_str(jwk, "y"))
        if len(x) != size or len(y) != size:
            raise MalformedError(
                f"invalidPublicKeyLength: {crv} JWK coordinates must be {size} bytes each, "
                f"got {len(x)} and {len(y)}"
            )
        try:
            point = ec.EllipticCurvePublicKey.from_encoded_point(
                _CURVES[algorithm], b"\x04" + x + y
            )
        except ValueError as exc:
            raise MalformedError(
                f"invalidPublicKey: {crv} JWK is not a point on the curve"
            ) from exc
        return PublicKey(algorithm, point.public_bytes(Encoding.X962, PublicFormat.CompressedPoint))
    raise UnsupportedError(f"unsupported JWK key type {kty!r} (expected OKP or EC)")
