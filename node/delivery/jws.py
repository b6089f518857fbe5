"""Compact JWS verification for OID4VCI ``jwt`` proofs of possession (no JOSE dependency).

Only what a proof of possession needs: RFC 7515 compact serialisation, ``alg`` ``EdDSA``
(Ed25519, RFC 8037) or ``ES256`` (P-256 with SHA-256, signature as raw ``R || S``, RFC 7518
section 3.4), verified with :mod:`protocol.keys`. Anything else is refused: other algorithms,
``none``, unencoded payloads (``b64: false``) and any ``crit`` header.

:func:`parse_compact` checks the shape and decodes; :meth:`CompactJws.verify` checks the
signature with a key the caller resolved (from ``kid``). Both raise
:class:`~protocol.errors.MalformedError` or :class:`~protocol.errors.InvalidProof`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol.encoding import b64url_decode, b64url_encode, parse_json
from protocol.errors import InvalidProof, MalformedError, UnsupportedError
from protocol.keys import PublicKey

__all__ = ["JWS_ALGORITHMS", "MAX_JWS_CHARS", "CompactJws", "parse_compact", "sign_compact"]

#: Longest compact JWS accepted, in characters: a proof JWT is well under 2 KB; the cap
#: bounds the decoding work an unauthenticated request can cause.
MAX_JWS_CHARS = 16 * 1024

#: JWS ``alg`` values we verify, with the key algorithm each one needs.
JWS_ALGORITHMS: dict[str, str] = {"EdDSA": "Ed25519", "ES256": "P-256"}


@dataclass(frozen=True)
class CompactJws:
    """A decoded compact JWS whose signature is not yet checked."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        """The ``alg`` header (one of :data:`JWS_ALGORITHMS`)."""
        return str(self.header["alg"])

    def verify(self, key: PublicKey) -> None:
        """Check the signature with ``key``; raise :class:`InvalidProof` if it does not verify.

        The key's algorithm must be the one ``alg`` names (no algorithm substitution).
        """
        expected = JWS_ALGORITHMS[self.alg]
        if key.algorithm != expected:
            raise InvalidProof(
                f"the JWS alg {self.alg} needs an {expected} key, the kid names a "
                f"{key.algorithm} key"
            )
        key.verify(self.signature, self.signing_input)


def _decode_json_part(text: str, what: str) -> dict[str, Any]:
    try:
        value = parse_json(b64url_decode(text), max_bytes=MAX_JWS_CHARS)
    except MalformedError as exc:
        raise MalformedError(f"the JWS {what} is not base64url JSON: {exc.message}") from exc
    if not isinstance(value, dict):
        raise MalformedError(f"the JWS {what} must be a JSON object")
    return value


def parse_compact(token: object) -> CompactJws:
    """Decode a compact JWS (``header.payload.signature``) and check its header.

    Raises :class:`MalformedError` for a bad shape and :class:`UnsupportedError` for an
    algorithm or header extension we do not verify.
    """
    if not isinstance(token, str):
        raise MalformedError("a JWT proof must be a string (compact JWS)")
    if len(token) > MAX_JWS_CHARS:
        raise MalformedError(f"the JWT proof is longer than {MAX_JWS_CHARS} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedError("a compact JWS has exactly three dot-separated parts")
    head, body, sig = parts
    if not head or not body or not sig:
        raise MalformedError("a compact JWS has no empty part (detached payloads are refused)")
    header = _decode_json_part(head, "header")
    payload = _decode_json_part(body, "payload")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise MalformedError("the JWS header has no alg")
    if alg not in JWS_ALGORITHMS:
        raise UnsupportedError(
            f"JWS alg {alg!r} is not supported (expected one of {', '.join(JWS_ALGORITHMS)})"
        )
    if "crit" in header:
        raise UnsupportedError("JWS headers with 'crit' extensions are refused")
    if header.get("b64", True) is not True:
        raise UnsupportedError("unencoded JWS payloads (b64: false) are refused")
    signature = b64url_decode(sig)
    return CompactJws(
        header=header,
        payload=payload,
        signing_input=f"{head}.{body}".encode("ascii"),
        signature=signature,
    )


def sign_compact(header: dict[str, Any], payload: dict[str, Any], key: Any) -> str:
    """Sign a compact JWS with a :class:`protocol.keys.KeyPair` (for clients and tests).

    ``header`` must name ``alg`` matching the key (``EdDSA`` for Ed25519, ``ES256`` for P-256).
    """
    import json

    alg = header.get("alg")
    if JWS_ALGORITHMS.get(str(alg)) != key.algorithm:
        raise ValueError(f"alg {alg!r} does not match a {key.algorithm} key")
    head = b64url_encode(json.dumps(header, separators=(",", ":")).encode("utf-8"))
    body = b64url_encode(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    signature = key.sign(f"{head}.{body}".encode("ascii"))
    return f"{head}.{body}.{b64url_encode(signature)}"
