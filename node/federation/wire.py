"""Requests between nodes: signed on the way out, checked on the way in (RFC 9421 profile of
``specs/federation.md`` section 8).

Outbound requests go through the ``"fetcher"`` service: its connection pool, its timeout, its
resolver that refuses private addresses, its routing (the transport map tests use) and its
refusal of plain http beyond loopback. The fetcher only offers unsigned GETs of JSON, so
:class:`PeerClient` borrows its session and routing for the signed GETs and POSTs federation
needs; the caller first checks that the URL is on a registry member's origin.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from protocol.did import Resolver
from protocol.encoding import parse_json
from protocol.errors import ProtocolError
from protocol.federation import (
    PROFILE_TAG,
    HttpRequest,
    Registry,
    VerifiedRequest,
    parse_signatures,
    sign_request,
    verify_member_request,
    verify_request_signature,
)
from protocol.federation.errors import OversizedError
from protocol.keys import KeyPair
from protocol.limits import MAX_CLOCK_SKEW_SECONDS, MAX_HTTP_SIGNATURE_LIFETIME_SECONDS

from ..problems import Problem
from .store import Store

__all__ = [
    "NonceStore",
    "PeerClient",
    "PeerError",
    "PeerRefused",
    "PeerResponse",
    "PeerUnavailable",
    "claimed_signer",
    "inbound_request",
    "verify_inbound",
]

#: How long an accepted signature nonce is remembered: past this, its signature has expired
#: (a signature lives at most 300 s, created at most 300 s ahead of our clock) and is refused
#: anyway.
NONCE_KEEP = timedelta(
    seconds=MAX_HTTP_SIGNATURE_LIFETIME_SECONDS + 2 * MAX_CLOCK_SKEW_SECONDS + 60
)


class PeerError(Exception):
    """A request to a peer failed; ``code`` names the reason for the logs."""

    def __init__(self, url: str, message: str, *, code: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.message = message
        self.code = code
        self.status = status


class PeerUnavailable(PeerError):
    """The peer could not be reached, timed out or failed (5xx): retry later."""


class PeerRefused(PeerError):
    """The peer answered with a 4xx problem (it refused this node's request)."""


@dataclass(frozen=True)
class PeerResponse:
    """A peer's answer."""

    status: int
    content_type: str
    body: bytes

    def json(self, *, max_bytes: int) -> Any:
        """The body as strict JSON (:class:`ProtocolError` when it is not)."""
        return parse_json(self.body, max_bytes=max_bytes)


class PeerClient:
    """Signed requests to other members, through the fetcher's pool and policy."""

    def __init__(
        self,
        *,
        fetcher: Callable[[], Any],
        key: Callable[[], KeyPair],
        clock: Callable[[], datetime],
    ) -> None:
        self._fetcher = fetcher
        self._key = key
        self._clock = clock

    async def request(
        self,
        method: str,
        url: str,
        *,
        document: Any = None,
        max_bytes: int,
        sign: bool = True,
    ) -> PeerResponse:
        """Send ``method url`` (with ``document`` as a JSON body), signed with the node's key.

        Raises :class:`PeerUnavailable` (unreachable, timeout, 5xx), :class:`PeerRefused`
        (4xx) or :class:`OversizedError` (an answer over ``max_bytes``).
        """
        fetcher = self._fetcher()
        try:
            target = fetcher._target(url)
        except Problem as problem:
            raise PeerRefused(url, problem.detail, code="fetch-refused") from None
        body = b""
        headers: dict[str, str] = {"Accept": "application/json"}
        if document is not None:
            body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        if sign:
            request = HttpRequest.of(method, url, headers, body)
            headers.update(
                sign_request(
                    request,
                    key=self._key(),
                    created=self._clock(),
                    nonce=secrets.token_urlsafe(18),
                )
            )
        session: aiohttp.ClientSession = await fetcher._client()
        try:
            async with session.request(
                method, target, data=body or None, headers=headers, allow_redirects=False
            ) as response:
                length = response.content_length
                if length is not None and length > max_bytes:
                    raise OversizedError(
                        f"{url} answered {length} bytes, more than the limit of {max_bytes}"
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > max_bytes:
                        raise OversizedError(
                            f"{url} answered more than the limit of {max_bytes} bytes"
                        )
                    chunks.append(chunk)
                answer = PeerResponse(response.status, response.content_type, b"".join(chunks))
        except (aiohttp.ClientError, OSError) as exc:
            raise PeerUnavailable(url, f"cannot reach {url}: {exc}", code="unreachable") from None
        except TimeoutError:
            raise PeerUnavailable(url, f"{url} did not answer in time", code="timeout") from None
        if answer.status >= 500:
            raise PeerUnavailable(
                url, f"{url} answered HTTP {answer.status}", code="peer-error", status=answer.status
            )
        if answer.status >= 400:
            detail = _problem_detail(answer.body)
            raise PeerRefused(
                url,
                f"{url} refused the request (HTTP {answer.status}): {detail}",
                code="refused",
                status=answer.status,
            )
        if answer.status >= 300:
            raise PeerUnavailable(
                url, f"{url} answered HTTP {answer.status}", code="redirect", status=answer.status
            )
        return answer


def _problem_detail(body: bytes) -> str:
    try:
        document = json.loads(body[:8192])
    except (ValueError, UnicodeDecodeError):
        return body[:200].decode("utf-8", "replace")
    if isinstance(document, dict):
        return str(document.get("detail") or document.get("title") or "")[:500]
    return ""


# -- inbound -------------------------------------------------------------------------------------


class NonceStore:
    """The replay cache (``protocol.federation.NonceCache``) kept in the node's database, so
    that it survives restarts and is shared by every worker."""

    def __init__(self, store: Store, now: datetime) -> None:
        self._store = store
        self._now = now

    def __contains__(self, nonce: object, /) -> bool:
        return isinstance(nonce, str) and self._store.nonce_seen(nonce)

    def add(self, nonce: str, /) -> None:
        self._store.add_nonce(nonce, self._now + NONCE_KEEP)


async def inbound_request(request: web.Request, base_url: str, max_bytes: int) -> HttpRequest:
    """The received request as :class:`HttpRequest`, its target URI rebuilt from our public URL
    (never from a Host header) and its body read up to ``max_bytes`` (413 beyond)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise Problem(413, "payload-too-large", f"the body exceeds {max_bytes} bytes")
    body = b""
    if request.can_read_body:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(65536):
            size += len(chunk)
            if size > max_bytes:
                raise Problem(413, "payload-too-large", f"the body exceeds {max_bytes} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
    headers = [
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.raw_headers
    ]
    return HttpRequest.of(request.method, base_url + request.raw_path, headers, body)


def claimed_signer(request: HttpRequest) -> str:
    """The DID the request's federation signature claims (its ``keyid`` without fragment), before
    anything is verified; :class:`ProtocolError` when there is no usable signature."""
    found = [
        params
        for params, _ in parse_signatures(request).values()
        if params.params.get("tag") == PROFILE_TAG
    ]
    if len(found) != 1:
        raise ProtocolError(f"expected exactly one signature tagged {PROFILE_TAG!r}")
    keyid = found[0].params.get("keyid")
    if not isinstance(keyid, str) or not keyid.startswith("did:"):
        raise ProtocolError("the signature's keyid is not a DID URL")
    return keyid.split("#", 1)[0]


def verify_inbound(
    request: HttpRequest,
    *,
    signer_document: dict[str, Any],
    registry: Registry | None,
    now: datetime,
    store: Store,
) -> VerifiedRequest:
    """Verify a request's signature (and, with ``registry``, that the signer is a member now).

    Runs on the event loop thread: the nonce check and insertion happen without a pause in
    between, so two copies of one request cannot both pass.
    """
    signer = str(signer_document.get("id"))
    resolver = Resolver({signer: signer_document})
    nonces = NonceStore(store, now)
    if registry is None:
        return verify_request_signature(request, resolver=resolver, now=now, seen_nonces=nonces)
    return verify_member_request(
        request, registry=registry, resolver=resolver, now=now, seen_nonces=nonces
    )
