"""Key pairs: signing, generation, and Multikey key files.

The key-file shape is the one Digital Bazaar's ``ed25519-multikey`` and ``ecdsa-multikey`` export
with ``includeContext`` and the secret key: ``@context``, ``id``, ``type: "Multikey"``,
``controller``, ``publicKeyMultibase``, ``secretKeyMultibase``. Secret keys are the multicodec
ed25519-priv (0x1300) + 32-byte seed, p256-priv (0x1306) + 32-byte scalar, or p384-priv (0x1307)
+ 48-byte scalar, all in base58btc.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from protocol.encoding import base58btc_decode, base58btc_encode, multicodec_wrap
from protocol.errors import MalformedError, UnsupportedError

from ._codecs import (
    ALGORITHM_BY_PUBLIC_CODEC,
    ALGORITHM_BY_SECRET_CODEC,
    ALGORITHMS,
    SECRET_CODEC,
    SECRET_LENGTH,
    SIGNATURE_LENGTH,
    UNSUPPORTED_PUBLIC,
    UNSUPPORTED_SECRET,
    Algorithm,
)
from ._public import PublicKey, decode_key_multibase, public_key_from_multibase

__all__ = [
    "MULTIKEY_CONTEXT",
    "KeyPair",
    "generate",
    "key_pair_from_multibase",
    "load_key_file",
]

#: The JSON-LD context of a Multikey document.
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"

_ED25519_2020_CONTEXT = "https://w3id.org/security/suites/ed25519-2020/v1"

_CURVES: dict[Algorithm, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}
_HASHES: dict[Algorithm, type[hashes.HashAlgorithm]] = {
    "P-256": hashes.SHA256,
    "P-384": hashes.SHA384,
}

_SignerKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def _load_secret(algorithm: Algorithm, secret: bytes) -> tuple[_SignerKey, PublicKey]:
    """Load a raw secret (Ed25519 seed or ECDSA scalar) and derive its public key."""
    expected = SECRET_LENGTH[algorithm]
    if len(secret) != expected:
        raise MalformedError(f"{algorithm} secret key must be {expected} bytes, got {len(secret)}")
    if algorithm == "Ed25519":
        signer: _SignerKey = ed25519.Ed25519PrivateKey.from_private_bytes(secret)
        raw = signer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return signer, PublicKey(algorithm, raw)
    scalar = int.from_bytes(secret, "big")
    try:
        ec_signer = ec.derive_private_key(scalar, _CURVES[algorithm])
    except ValueError as exc:
        raise MalformedError(
            f"{algorithm} secret key is not a valid scalar (must be in [1, n-1])"
        ) from exc
    point = ec_signer.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    return ec_signer, PublicKey(algorithm, point)


class KeyPair:
    """A signing key with its public key and, optionally, its controller and method id.

    Instances are immutable; :meth:`with_controller` returns a new pair. The secret never
    appears in ``repr``.
    """

    __slots__ = ("_secret", "_signer", "controller", "id", "public")

    public: PublicKey
    controller: str | None
    id: str | None
    _secret: bytes
    _signer: _SignerKey

    def __init__(
        self,
        algorithm: Algorithm,
        secret: bytes,
        *,
        controller: str | None = None,
        id: str | None = None,
    ) -> None:
        """Build a pair from a raw secret (Ed25519 32-byte seed, or the ECDSA scalar)."""
        if algorithm not in ALGORITHMS:
            raise UnsupportedError(f"unsupported key algorithm {algorithm!r}")
        if not isinstance(secret, bytes):
            raise TypeError("secret must be bytes")
        if controller is not None and not isinstance(controller, str):
            raise TypeError("controller must be a string or None")
        if id is not None and not isinstance(id, str):
            raise TypeError("id must be a string or None")
        signer, public = _load_secret(algorithm, secret)
        object.__setattr__(self, "_secret", secret)
        object.__setattr__(self, "_signer", signer)
        object.__setattr__(self, "public", public)
        object.__setattr__(self, "controller", controller)
        object.__setattr__(self, "id", id)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"KeyPair is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"KeyPair is immutable (cannot delete {name!r})")

    def __copy__(self) -> KeyPair:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> KeyPair:
        return self

    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("a KeyPair is not picklable; store it with to_key_file()")

    def __repr__(self) -> str:
        return (
            f"KeyPair(public={self.public.multibase!r}, controller={self.controller!r}, "
            f"id={self.id!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyPair):
            return NotImplemented
        return (
            self.public == other.public
            and self.controller == other.controller
            and self.id == other.id
            and hmac.compare_digest(self._secret, other._secret)
        )

    def __hash__(self) -> int:
        return hash((self.public, self.controller, self.id))

    @property
    def algorithm(self) -> Algorithm:
        """The key algorithm (same as ``public.algorithm``)."""
        return self.public.algorithm

    @property
    def secret_multibase(self) -> str:
        """``secretKeyMultibase``: ``z`` + base58btc(secret multicodec header || secret)."""
        return base58btc_encode(multicodec_wrap(SECRET_CODEC[self.algorithm], self._secret))

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``: Ed25519 (RFC 8032), or deterministic ECDSA (RFC 6979) as raw r||s.

        ECDSA hashes ``data`` with SHA-256 (P-256) or SHA-384 (P-384).
        """
        if not isinstance(data, bytes | bytearray):
            raise TypeError("data must be bytes")
        signer = self._signer
        if isinstance(signer, ed25519.Ed25519PrivateKey):
            return signer.sign(bytes(data))
        der = signer.sign(
            bytes(data), ec.ECDSA(_HASHES[self.algorithm](), deterministic_signing=True)
        )
        r, s = decode_dss_signature(der)
        half = SIGNATURE_LENGTH[self.algorithm] // 2
        return r.to_bytes(half, "big") + s.to_bytes(half, "big")

    def with_controller(self, controller: str, id: str | None = None) -> KeyPair:
        """A copy bound to ``controller``; ``id`` defaults to ``controller#<multibase>``."""
        if not isinstance(controller, str) or not controller:
            raise ValueError("controller must be a non-empty string")
        vm_id = id if id is not None else f"{controller}#{self.public.multibase}"
        return KeyPair(self.algorithm, self._secret, controller=controller, id=vm_id)

    def to_key_file(self) -> dict[str, Any]:
        """The Multikey JSON with the secret key (members absent when ``id``/``controller`` are)."""
        out: dict[str, Any] = {"@context": MULTIKEY_CONTEXT}
        if self.id is not None:
            out["id"] = self.id
        out["type"] = "Multikey"
        if self.controller is not None:
            out["controller"] = self.controller
        out["publicKeyMultibase"] = self.public.multibase
        out["secretKeyMultibase"] = self.secret_multibase
        return out

    def to_public_multikey(self) -> dict[str, Any]:
        """The public verification method (no secret, no ``@context``), for controller documents."""
        if self.id is None or self.controller is None:
            raise ValueError("a verification method needs both id and controller")
        return {
            "id": self.id,
            "type": "Multikey",
            "controller": self.controller,
            "publicKeyMultibase": self.public.multibase,
        }


def _secret_from_multibase(text: object, *, what: str) -> tuple[Algorithm, bytes]:
    code, payload = decode_key_multibase(text, what=what)
    algorithm = ALGORITHM_BY_SECRET_CODEC.get(code)
    if algorithm is None:
        if code in UNSUPPORTED_SECRET:
            raise UnsupportedError(f"{what}: {UNSUPPORTED_SECRET[code]}")
        if code in ALGORITHM_BY_PUBLIC_CODEC or code in UNSUPPORTED_PUBLIC:
            raise MalformedError(
                f"{what} holds a public key (multicodec 0x{code:x}), not a secret key"
            )
        raise UnsupportedError(f"{what}: unknown secret key multicodec 0x{code:x}")
    return algorithm, payload


def _matched(pair: KeyPair, public: PublicKey) -> KeyPair:
    if pair.public != public:
        raise MalformedError("the secret key does not match the public key")
    return pair


def key_pair_from_multibase(
    public_multibase: str,
    secret_multibase: str,
    *,
    controller: str | None = None,
    id: str | None = None,
) -> KeyPair:
    """Build a pair from ``publicKeyMultibase`` and ``secretKeyMultibase``; check they match.

    An Ed25519 secret may also be the legacy 64-byte form (seed || public key).
    """
    public = public_key_from_multibase(public_multibase)
    algorithm, secret = _secret_from_multibase(secret_multibase, what="secretKeyMultibase")
    if algorithm != public.algorithm:
        raise MalformedError(f"secret key is {algorithm} but the public key is {public.algorithm}")
    if algorithm == "Ed25519" and len(secret) == 64:
        if not hmac.compare_digest(secret[32:], public.raw):
            raise MalformedError("the secret key does not match the public key")
        secret = secret[:32]
    pair = KeyPair(algorithm, secret, controller=controller, id=id)
    return _matched(pair, public)


def generate(algorithm: Algorithm = "Ed25519") -> KeyPair:
    """A fresh key pair from the operating system's randomness."""
    if algorithm == "Ed25519":
        seed = ed25519.Ed25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        return KeyPair("Ed25519", seed)
    if algorithm in _CURVES:
        scalar = ec.generate_private_key(_CURVES[algorithm]).private_numbers().private_value
        return KeyPair(algorithm, scalar.to_bytes(SECRET_LENGTH[algorithm], "big"))
    raise UnsupportedError(f"unsupported key algorithm {algorithm!r}")


def _optional_str(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise MalformedError(f"key file member {name!r} must be a non-empty string")
    return value


def _check_context(document: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    if "@context" not in document:
        return
    context = document["@context"]
    items = context if isinstance(context, list) else [context]
    if not any(item in allowed for item in items):
        raise MalformedError(f"key file @context must include one of {', '.join(allowed)}")


def load_key_file(document: Mapping[str, Any]) -> KeyPair:
    """Load a key file: Multikey JSON with ``secretKeyMultibase`` (``@context``, ``id``,
    ``controller`` optional), or legacy Ed25519VerificationKey2020 (``privateKeyMultibase``) /
    Ed25519VerificationKey2018 (``publicKeyBase58`` + ``privateKeyBase58``).

    A document without ``type`` is read as Multikey, and ``privateKeyMultibase`` is accepted in
    place of ``secretKeyMultibase`` (the W3C vc-di-eddsa vectors spell it so).
    """
    if not isinstance(document, Mapping):
        raise MalformedError("key file must be a JSON object")
    kind = document.get("type", "Multikey")
    controller = _optional_str(document, "controller")
    vm_id = _optional_str(document, "id")
    if kind == "Multikey":
        _check_context(document, (MULTIKEY_CONTEXT, "https://www.w3.org/ns/cid/v1"))
        secret = document.get("secretKeyMultibase", document.get("privateKeyMultibase"))
        if secret is None:
            raise MalformedError("key file has no secretKeyMultibase")
        public = document.get("publicKeyMultibase")
        if public is None:
            raise MalformedError("key file has no publicKeyMultibase")
        return key_pair_from_multibase(public, secret, controller=controller, id=vm_id)
    if kind == "Ed25519VerificationKey2020":
        _check_context(document, (_ED25519_2020_CONTEXT,))
        public_text = document.get("publicKeyMultibase")
        secret_text = document.get("privateKeyMultibase")
        if public_text is None or secret_text is None:
            raise MalformedError(
                "Ed25519VerificationKey2020 key file needs publicKeyMultibase and "
                "privateKeyMultibase"
            )
        pair = key_pair_from_multibase(public_text, secret_text, controller=controller, id=vm_id)
        if pair.algorithm != "Ed25519":
            raise MalformedError("Ed25519VerificationKey2020 must hold an Ed25519 key")
        return pair
    if kind == "Ed25519VerificationKey2018":
        public_b58 = document.get("publicKeyBase58")
        secret_b58 = document.get("privateKeyBase58")
        if not isinstance(public_b58, str) or not isinstance(secret_b58, str):
            raise MalformedError(
                "Ed25519VerificationKey2018 key file needs publicKeyBase58 and privateKeyBase58"
            )
        public = PublicKey("Ed25519", base58btc_decode("z" + public_b58))
        secret_raw = base58btc_decode("z" + secret_b58)
        if len(secret_raw) == 64:
            if not hmac.compare_digest(secret_raw[32:], public.raw):
                raise MalformedError("the secret key does not match the public key")
            secret_raw = secret_raw[:32]
        pair = KeyPair("Ed25519", secret_raw, controller=controller, id=vm_id)
        return _matched(pair, public)
    raise UnsupportedError(f"unsupported key file type {kind!r}")
