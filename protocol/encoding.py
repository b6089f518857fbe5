"""Byte encodings used by Data Integrity: multibase (base58btc, base64url), multicodec varints,
and strict JSON parsing.

Every decoder here raises :class:`~protocol.errors.MalformedError` on bad input and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import base58
from multiformats import varint

from .errors import MalformedError
from .limits import MAX_DOCUMENT_BYTES, MAX_JSON_DEPTH, MAX_MULTIBASE_CHARS

__all__ = [
    "b64url_decode",
    "b64url_encode",
    "base58btc_decode",
    "base58btc_encode",
    "canonical_json",
    "multibase_decode",
    "multicodec_unwrap",
    "multicodec_wrap",
    "parse_json",
]


def base58btc_encode(data: bytes) -> str:
    """Return ``z`` + base58btc(data), the multibase form Data Integrity uses for Ed25519."""
    # The base58 package is an order of magnitude faster than multiformats' generic codec.
    return "z" + base58.b58encode(data).decode("ascii")


def base58btc_decode(text: str) -> bytes:
    """Decode a ``z``-prefixed base58btc multibase string."""
    if not isinstance(text, str) or not text.startswith("z"):
        raise MalformedError("expected a base58btc multibase string starting with 'z'")
    return multibase_decode(text)


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 4648 section 5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url, with or without padding; reject any other alphabet."""
    if not isinstance(text, str):
        raise MalformedError("expected a base64url string")
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise MalformedError("base64url string holds non-ASCII characters") from exc
    stripped = raw.rstrip(b"=")
    if any(c not in _B64URL for c in stripped):
        raise MalformedError("base64url string holds characters outside the alphabet")
    try:
        return base64.urlsafe_b64decode(stripped + b"=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedError(f"invalid base64url: {exc}") from exc


_B64URL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def multibase_decode(text: str) -> bytes:
    """Decode a multibase string (``z`` base58btc or ``u`` base64url, the two DI uses)."""
    if not isinstance(text, str) or not text:
        raise MalformedError("expected a non-empty multibase string")
    if len(text) > MAX_MULTIBASE_CHARS:
        raise MalformedError("multibase string too long")
    prefix = text[0]
    if prefix == "u":
        return b64url_decode(text[1:])
    if prefix != "z":
        raise MalformedError(f"unsupported multibase prefix {prefix!r} (expected 'z' or 'u')")
    try:
        return base58.b58decode(text[1:].encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise MalformedError(f"invalid base58btc multibase value: {exc}") from exc


def multicodec_wrap(code: int, data: bytes) -> bytes:
    """Prefix ``data`` with the unsigned varint of a multicodec code."""
    return bytes(varint.encode(code)) + data


def multicodec_unwrap(data: bytes) -> tuple[int, bytes]:
    """Split a multicodec varint header from its payload."""
    try:
        code, used, _ = varint.decode_raw(data)
    except (ValueError, IndexError) as exc:
        raise MalformedError(f"invalid multicodec header: {exc}") from exc
    return int(code), bytes(data[used:])


def _check_depth(value: Any, depth: int = 0) -> None:
    if depth > MAX_JSON_DEPTH:
        raise MalformedError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            if isinstance(item, (dict, list)):
                _check_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                _check_depth(item, depth + 1)


def _reject_constant(name: str) -> Any:
    raise MalformedError(f"JSON holds the non-standard constant {name}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MalformedError(f"JSON object repeats the member {key!r}")
        out[key] = value
    return out


def parse_json(data: bytes | str, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """Parse strict JSON (RFC 8259): no NaN/Infinity, no duplicate members, bounded size and
    depth."""
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if size > max_bytes:
        raise MalformedError(f"document is {size} bytes, more than the limit of {max_bytes}")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise MalformedError(f"document is not UTF-8: {exc}") from exc
    try:
        value = json.loads(
            text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates
        )
    except json.JSONDecodeError as exc:
        raise MalformedError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise MalformedError("JSON nested too deeply") from exc
    _check_depth(value)
    return value


def canonical_json(value: Any) -> str:
    """A stable JSON text (sorted keys, no spaces) for hashing our own messages and for display."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
