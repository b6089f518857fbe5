"""Small shared checks of the federation formats (internal)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ..errors import MalformedError
from ..timeutil import parse_datetime
from .errors import OversizedError
from .jcs import canonicalize

VC_V2 = "https://www.w3.org/ns/credentials/v2"
FEDERATION_V1 = "https://passeport.example/ns/federation/v1"
CONTEXTS = [VC_V2, FEDERATION_V1]

_DID = re.compile(r"did:[a-z0-9]+:[A-Za-z0-9._:%-]+\Z")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def obj(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedError(f"{what} must be a JSON object")
    return value


def text(value: object, what: str, *, max_chars: int = 2048) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MalformedError(f"{what} must be a non-empty string")
    if len(value) > max_chars:
        raise MalformedError(f"{what} is longer than {max_chars} characters")
    return value


def did(value: object, what: str) -> str:
    if not isinstance(value, str) or not _DID.match(value) or len(value) > 2048:
        raise MalformedError(f"{what} must be a DID (did:<method>:<identifier>), got {value!r}")
    return value


def digest_text(value: object, what: str) -> str:
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise MalformedError(f"{what} must be 'sha256:' and 64 lowercase hex digits")
    return value


def url(value: object, what: str) -> str:
    """An absolute https URL (http only for loopback hosts, as in tests)."""
    if not isinstance(value, str) or len(value) > 2048 or any(c.isspace() for c in value):
        raise MalformedError(f"{what} must be an absolute URL")
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise MalformedError(f"{what} is not a valid URL: {value!r}") from exc
    secure = parts.scheme == "https" and bool(parts.hostname)
    loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK
    if not (secure or loopback):
        raise MalformedError(
            f"{what} must be an https URL (http only on a loopback host), got {value!r}"
        )
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise MalformedError(f"{what} must not carry userinfo or a fragment")
    return value


def when(value: object, what: str) -> datetime:
    return parse_datetime(value, what=what)


def types_of(document: Mapping[str, Any]) -> list[str]:
    value = document.get("type", [])
    items = value if isinstance(value, list) else [value]
    return [t for t in items if isinstance(t, str)]


def sized(document: Any, *, limit: int, what: str) -> bytes:
    """The RFC 8785 bytes of ``document``; :class:`OversizedError` past ``limit`` bytes."""
    data = canonicalize(document)
    if len(data) > limit:
        raise OversizedError(f"{what} is {len(data)} bytes, more than the limit of {limit}")
    return data


def strings(value: object, what: str, *, max_items: int) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or len(items) > max_items:
        raise MalformedError(f"{what} must list 1 to {max_items} strings")
    out = tuple(text(item, what, max_chars=256) for item in items)
    if len(set(out)) != len(out):
        raise MalformedError(f"{what} lists a value twice")
    return out
