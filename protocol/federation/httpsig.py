"""HTTP Message Signatures (RFC 9421) and Content-Digest (RFC 9530) for requests between nodes
(``specs/federation.md``, "Signed requests").

https://www.rfc-editor.org/rfc/rfc9421. The generic part builds the signature base of a request
(section 2.5) from derived components (``@method``, ``@target-uri``, ``@authority``,
``@scheme``, ``@request-target``, ``@path``, ``@query``) and header fields, and reads the
``Signature-Input`` / ``Signature`` dictionaries. The Passeport profile on top of it signs with
the node's did:web key (``keyid`` is a verification method listed under ``authentication``,
``alg="ed25519"``), requires ``created``, ``expires`` (at most
:data:`~protocol.limits.MAX_HTTP_SIGNATURE_LIFETIME_SECONDS` apart), a ``nonce`` that the
verifier remembers until the signature expires, ``tag="passeport-federation"``, and covers at
least ``@method``, ``@target-uri`` (or ``@authority``, ``@path`` and ``@query``) and, with a
body, ``content-digest``.

Nothing here reads the clock or keeps state: ``now`` and the nonce cache are handed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from ..did import Resolver
from ..errors import InvalidProof, MalformedError, UnsupportedError
from ..keys import KeyPair
from ..limits import (
    MAX_CLOCK_SKEW_SECONDS,
    MAX_HTTP_SIGNATURE_LIFETIME_SECONDS,
    MAX_SIGNED_BODY_BYTES,
)
from ..timeutil import require_aware
from .errors import ExpiredError, OversizedError, ReplayError
from .registry import Member, Registry
from .sfv import InnerList, Item, parse_dictionary, serialize_inner_list, serialize_item

__all__ = [
    "DEFAULT_COMPONENTS",
    "PROFILE_TAG",
    "HttpRequest",
    "NonceCache",
    "VerifiedRequest",
    "check_content_digest",
    "content_digest",
    "parse_signatures",
    "sign_request",
    "signature_base",
    "verify_member_request",
    "verify_request_signature",
]

#: The ``tag`` parameter of Passeport's node-to-node signatures (RFC 9421 section 2.3).
PROFILE_TAG = "passeport-federation"

#: Components a Passeport signature covers (``content-digest`` is added when there is a body).
DEFAULT_COMPONENTS: tuple[str, ...] = ("@method", "@target-uri")

_DERIVED = frozenset(
    {"@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query"}
)
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+\Z")
_NONCE = re.compile(r"[A-Za-z0-9_\-+/=]{16,128}\Z")
_MAX_FIELD_CHARS = 8192
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class HttpRequest:
    """The parts of an HTTP request a signature covers.

    ``url`` is the absolute target URI as the client addressed it (a node behind a proxy
    rebuilds it from its public URL). ``headers`` keeps repeated fields in order; names compare
    case-insensitively.
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @classmethod
    def of(
        cls,
        method: str,
        url: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> HttpRequest:
        """Build a request from a header mapping or a list of (name, value) pairs."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        return cls(method, url, tuple((str(k), str(v)) for k, v in pairs), bytes(body))

    def header(self, name: str) -> str | None:
        """A field's value: repeated lines joined with ``", "``, each trimmed (RFC 9421 2.1)."""
        lowered = name.lower()
        values = [v.strip(" \t") for k, v in self.headers if k.lower() == lowered]
        return ", ".join(values) if values else None

    def with_headers(self, extra: Mapping[str, str]) -> HttpRequest:
        """A copy with ``extra`` fields appended."""
        return HttpRequest(self.method, self.url, (*self.headers, *extra.items()), self.body)


class NonceCache(Protocol):
    """The replay cache: signature nonces already accepted (a plain ``set`` will do).

    Entries need only be kept until the signature they came with expires
    (:attr:`VerifiedRequest.expires`); the caller prunes them.
    """

    def __contains__(self, nonce: object, /) -> bool: ...

    def add(self, nonce: str, /) -> None: ...


# -- Content-Digest (RFC 9530) -------------------------------------------------------------------


def content_digest(body: bytes) -> str:
    """The ``Content-Digest`` field value of ``body`` with sha-256 (RFC 9530 section 2)."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def check_content_digest(value: str, body: bytes) -> None:
    """Check a ``Content-Digest`` value against ``body``; every sha-256 / sha-512 digest it
    lists must match, and it must list at least one of them (RFC 9530 sections 2 and 5)."""
    if len(body) > MAX_SIGNED_BODY_BYTES:
        raise OversizedError(f"the body is over {MAX_SIGNED_BODY_BYTES} bytes")
    if len(value) > _MAX_FIELD_CHARS:
        raise MalformedError("the Content-Digest field is too long")
    members = parse_dictionary(value)
    checked = 0
    for algorithm, member in members.items():
        hasher = _DIGESTS.get(algorithm)
        if hasher is None:
            continue
        if not isinstance(member, Item) or not isinstance(member.value, bytes):
            raise MalformedError(f"Content-Digest {algorithm} is not a byte sequence")
        if not hmac.compare_digest(member.value, hasher(body).digest()):
            raise InvalidProof(f"the body does not match its Content-Digest ({algorithm})")
        checked += 1
    if not checked:
        raise UnsupportedError("Content-Digest lists neither sha-256 nor sha-512")


# -- the signature base (RFC 9421 section 2) ----------------------------------------------------


def _derived(request: HttpRequest, name: str) -> str:
    parts = urlsplit(request.url)
    if not parts.scheme or not parts.hostname:
        raise MalformedError(f"the target URI {request.url!r} is not absolute")
    if name == "@method":
        return request.method
    if name == "@target-uri":
        return request.url
    if name == "@scheme":
        return parts.scheme.lower()
    if name == "@authority":
        host = parts.hostname.lower()
        if ":" in host:
            host = f"[{host}]"
        port = parts.port
        if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
            return f"{host}:{port}"
        return host
    path = parts.path or "/"
    if name == "@path":
        return path
    if name == "@query":
        return "?" + parts.query
    if name == "@request-target":
        return path + ("?" + parts.query if parts.query else "")
    raise UnsupportedError(f"derived component {name!r} is not supported")


def _component_value(request: HttpRequest, item: Item) -> str:
    name = item.value
    if not isinstance(name, str):
        raise MalformedError("component identifiers are strings")
    if item.params:
        raise UnsupportedError(
            f"component parameters ({', '.join(item.params)}) on {name!r} are not supported"
        )
    if name.startswith("@"):
        value = _derived(request, name)
    else:
        if not _HEADER_NAME.match(name):
            raise MalformedError(f"{name!r} is not a lowercase field name")
        found = request.header(name)
        if found is None:
            raise InvalidProof(f"the signature covers the field {name!r}, absent from the request")
        value = found
    if "\n" in value or "\r" in value:
        raise MalformedError(f"component {name!r} holds a line break")
    return value


def signature_base(request: HttpRequest, signature_params: InnerList) -> bytes:
    """The signature base of ``request`` for these covered components and parameters
    (RFC 9421 section 2.5, "Creating the Signature Base")."""
    lines = []
    seen: set[str] = set()
    for item in signature_params.items:
        # 2.1. Each component identifier appears once; @signature-params is not a component.
        if not isinstance(item.value, str):
            raise MalformedError("component identifiers are strings")
        if item.value in seen:
            raise MalformedError(f"component {item.value!r} is covered twice")
        if item.value == "@signature-params":
            raise MalformedError("@signature-params cannot be a covered component")
        seen.add(item.value)
        # 2.2.-2.4. The component identifier, a colon, a space, the value.
        lines.append(f"{serialize_item(item)}: {_component_value(request, item)}")
    # 2.5 step 3: the signature parameters line, with no trailing newline.
    lines.append(f'"@signature-params": {serialize_inner_list(signature_params)}')
    return "\n".join(lines).encode("utf-8")


def parse_signatures(request: HttpRequest) -> dict[str, tuple[InnerList, bytes]]:
    """The request's signatures by label: (covered components and parameters, signature)."""
    inputs_text = request.header("signature-input")
    signatures_text = request.header("signature")
    if inputs_text is None or signatures_text is None:
        raise InvalidProof("the request carries no Signature-Input and Signature fields")
    if len(inputs_text) > _MAX_FIELD_CHARS or len(signatures_text) > _MAX_FIELD_CHARS:
        raise MalformedError("the signature fields are too long")
    inputs = parse_dictionary(inputs_text)
    signatures = parse_dictionary(signatures_text)
    out: dict[str, tuple[InnerList, bytes]] = {}
    for label, params in inputs.items():
        signature = signatures.get(label)
        if signature is None:
            raise MalformedError(f"Signature-Input {label} has no Signature")
        if not isinstance(params, InnerList):
            raise MalformedError(f"Signature-Input {label} is not an inner list")
        if not isinstance(signature, Item) or not isinstance(signature.value, bytes):
            raise MalformedError(f"Signature {label} is not a byte sequence")
        out[label] = (params, signature.value)
    return out


# -- the Passeport profile --------------------------------------------------------------------


def _epoch(value: datetime) -> int:
    return int(require_aware(value).timestamp())


def sign_request(
    request: HttpRequest,
    *,
    key: KeyPair,
    created: datetime,
    nonce: str,
    expires: datetime | None = None,
    components: Sequence[str] = DEFAULT_COMPONENTS,
    label: str = "sig1",
) -> dict[str, str]:
    """Sign ``request`` with the node's key; return the fields to add to it.

    The fields are ``Signature-Input`` and ``Signature``, plus ``Content-Digest`` when the
    request has a body and no such field yet (the signature covers it). ``nonce`` must be
    fresh for every request (``secrets.token_urlsafe(16)``); ``expires`` defaults to
    ``created`` plus the maximum lifetime.
    """
    if key.id is None or key.algorithm != "Ed25519":
        raise ValueError("sign with an Ed25519 key that has its verification method id")
    if not _NONCE.match(nonce):
        raise ValueError("nonce must be 16 to 128 base64 or base64url characters")
    created = require_aware(created, "created")
    lifetime = timedelta(seconds=MAX_HTTP_SIGNATURE_LIFETIME_SECONDS)
    expires = created + lifetime if expires is None else require_aware(expires, "expires")
    if not created < expires <= created + lifetime:
        raise ValueError(f"expires must be within {lifetime} after created")
    covered = list(components)
    added: dict[str, str] = {}
    if request.body:
        if request.header("content-digest") is None:
            added["Content-Digest"] = content_digest(request.body)
            request = request.with_headers(added)
        if "content-digest" not in covered:
            covered.append("content-digest")
    params = InnerList(
        tuple(Item(name, {}) for name in covered),
        {
            "created": _epoch(created),
            "expires": _epoch(expires),
            "nonce": nonce,
            "keyid": key.id,
            "alg": "ed25519",
            "tag": PROFILE_TAG,
        },
    )
    signature = key.sign(signature_base(request, params))
    added["Signature-Input"] = f"{label}={serialize_inner_list(params)}"
    added["Signature"] = f"{label}=:{base64.b64encode(signature).decode('ascii')}:"
    return added


@dataclass(frozen=True)
class VerifiedRequest:
    """A request whose Passeport signature verified."""

    signer: str
    keyid: str
    nonce: str
    created: datetime
    expires: datetime
    components: tuple[str, ...]
    member: Member | None = None


def _str_param(params: InnerList, name: str) -> str:
    value = params.params.get(name)
    if value is None:
        raise InvalidProof(f"the signature has no {name!r} parameter (the profile requires it)")
    if not isinstance(value, str):
        raise MalformedError(f"the signature parameter {name!r} must be a string")
    return value


def _time_param(params: InnerList, name: str) -> datetime:
    value = params.params.get(name)
    if value is None:
        raise InvalidProof(f"the signature has no {name!r} parameter (the profile requires it)")
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedError(f"the signature parameter {name!r} must be an integer")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedError(f"the signature parameter {name!r} is out of range") from exc


def verify_request_signature(
    request: HttpRequest,
    *,
    resolver: Resolver,
    now: datetime,
    seen_nonces: NonceCache,
) -> VerifiedRequest:
    """Verify the Passeport signature of ``request`` (any signer the resolver knows).

    Args:
        request: the received request, with its absolute target URI.
        resolver: resolves ``keyid`` (a verification method under ``authentication``).
        now: the verification time.
        seen_nonces: nonces already accepted; this request's nonce is added when it verifies.

    Raises:
        InvalidProof: no profile signature, a missing parameter or component, a body that does
            not match its digest, or a signature that does not verify.
        ExpiredError: created in the future, expired, or valid for too long.
        ReplayError: the nonce was already accepted.
        KeyResolutionError: the keyid cannot be resolved.
    """
    now = require_aware(now, "now")
    skew = timedelta(seconds=MAX_CLOCK_SKEW_SECONDS)
    ours = {
        label: value
        for label, value in parse_signatures(request).items()
        if value[0].params.get("tag") == PROFILE_TAG
    }
    if len(ours) != 1:
        raise InvalidProof(
            f"expected exactly one signature tagged {PROFILE_TAG!r}, found {len(ours)}"
        )
    ((params, signature),) = ours.values()
    alg = _str_param(params, "alg")
    if alg != "ed25519":
        raise UnsupportedError(f"signature algorithm {alg!r}: the profile uses ed25519")
    keyid = _str_param(params, "keyid")
    nonce = _str_param(params, "nonce")
    if not _NONCE.match(nonce):
        raise MalformedError("the signature nonce must be 16 to 128 base64 characters")
    created_at = _time_param(params, "created")
    expires_at = _time_param(params, "expires")
    covered = tuple(str(item.value) for item in params.items)
    # The profile's covered components.
    # The target is "@target-uri", or "@authority" + "@path" + "@query" (what a node behind a
    # proxy may find easier to rebuild); either way the whole URI is covered.
    required = ["@method"]
    if "@target-uri" not in covered:
        required.extend(
            ["@authority", "@path", "@query"] if "@authority" in covered else ["@target-uri"]
        )
    if request.body:
        required.append("content-digest")
    missing = [name for name in required if name not in covered]
    if missing:
        raise InvalidProof(f"the signature does not cover {missing}")
    # RFC 9421 3.2 step 6 (created, expires) and 7.2.2 (replay).
    if created_at > now + skew:
        raise ExpiredError("the signature is created in the future")
    if expires_at <= created_at or expires_at - created_at > timedelta(
        seconds=MAX_HTTP_SIGNATURE_LIFETIME_SECONDS
    ):
        raise ExpiredError(
            f"a signature is valid for at most {MAX_HTTP_SIGNATURE_LIFETIME_SECONDS} seconds"
        )
    if now > expires_at + skew:
        raise ExpiredError("the signature has expired")
    if nonce in seen_nonces:
        raise ReplayError("this signature nonce was already used (a replayed request)")
    if request.body or request.header("content-digest") is not None:
        digest_value = request.header("content-digest")
        if digest_value is None:
            raise InvalidProof("a request with a body carries a Content-Digest")
        check_content_digest(digest_value, request.body)
    method = resolver.verification_method(keyid, relationship="authentication")
    if method.public_key.algorithm != "Ed25519":
        raise InvalidProof(f"key {keyid} is not an Ed25519 key")
    method.public_key.verify(signature, signature_base(request, params))
    seen_nonces.add(nonce)
    return VerifiedRequest(
        signer=method.controller,
        keyid=keyid,
        nonce=nonce,
        created=created_at,
        expires=expires_at,
        components=covered,
    )


def verify_member_request(
    request: HttpRequest,
    *,
    registry: Registry,
    resolver: Resolver,
    now: datetime,
    seen_nonces: NonceCache,
) -> VerifiedRequest:
    """:func:`verify_request_signature`, and the signer must be a registry member now.

    Raises :class:`~protocol.federation.errors.NotAMemberError` otherwise.
    """
    # The member check comes first so that a non-member's key is never looked up.
    params = [
        p for p, _ in parse_signatures(request).values() if p.params.get("tag") == PROFILE_TAG
    ]
    if len(params) == 1 and isinstance(params[0].params.get("keyid"), str):
        registry.require_member(str(params[0].params["keyid"]).split("#", 1)[0], at=now)
    verified = verify_request_signature(
        request, resolver=resolver, now=now, seen_nonces=seen_nonces
    )
    member = registry.require_member(verified.signer, at=now)
    return VerifiedRequest(
        signer=verified.signer,
        keyid=verified.keyid,
        nonce=verified.nonce,
        created=verified.created,
        expires=verified.expires,
        components=verified.components,
        member=member,
    )
