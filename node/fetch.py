"""The node's only way out: an allowlisted, capped HTTP client for JSON (the ``"fetcher"`` service).

The node fetches three kinds of documents, and nothing else:

* documents of configured federation **peers** (``NodeConfig.peers``) and of the node itself
  (``NodeConfig.public_url``): :meth:`Fetcher.fetch_json`;
* **did:web** DID documents: :meth:`Fetcher.resolve_did` (did:key is resolved locally, without
  any request), when ``NodeConfig.allow_did_web_fetch`` is set or the DID's host is a peer;
* **status list credentials**: :meth:`Fetcher.status_list`, only from a peer, from the node itself,
  or from the host of the issuer's did:web (a credential issued by ``did:web:a.example`` can make
  the node fetch from ``a.example`` and from nowhere else).

Every request has a total timeout and a response size cap (``fetch_timeout_seconds``,
``fetch_max_bytes``), follows no redirect to another origin (same-origin redirects are followed
at most :data:`MAX_REDIRECTS` times), and only reaches public addresses: a host that resolves to
a private, loopback, link-local or reserved address is refused, unless it is a configured origin
(the node itself, a peer) or is mapped by the injected **transport map**. Plain ``http`` is only
used for loopback hosts; everything else is ``https``.

The transport map exists for tests: ``Fetcher(config, transport={"node-a.test":
"http://127.0.0.1:5501"})`` sends every request for ``https://node-a.test/...`` to that loopback
server, so several nodes on one machine can resolve each other's did:web. A production config
never sets it. ``create_app(config, fetcher=...)`` accepts a :class:`Fetcher` or such a map.

Errors: :class:`UpstreamError` (a 502 problem: the peer failed, timed out, answered too much or
not JSON) and :class:`FetchRefused` (a 422 problem: the policy forbids the request). Both are
:class:`~node.problems.Problem` subclasses, so a handler may let them through.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from protocol.did import did_web_to_url, resolve_did_key, validate_did_document
from protocol.encoding import parse_json
from protocol.errors import ProtocolError

from .appkeys import CLOCK, CONFIG, FETCHER, SERVICES
from .config import NodeConfig
from .problems import Problem

__all__ = [
    "MAX_REDIRECTS",
    "FetchRefused",
    "Fetched",
    "Fetcher",
    "UpstreamError",
    "setup",
]

#: Same-origin redirects followed for one request (each one counts against the timeout).
MAX_REDIRECTS = 3
#: Longest time a fetched DID document is reused, in seconds (key rotation must show up soon).
DID_CACHE_SECONDS = 60
#: Longest time a fetched status list is reused when its response names no shorter max-age,
#: in seconds. A list older than this is refetched; if that fails, the status is unknown.
STATUS_CACHE_SECONDS = 300
#: Most documents kept in each cache (oldest evicted first).
CACHE_ENTRIES = 1024
#: Media types accepted for JSON responses.
_JSON_TYPES = ("application/json", "application/ld+json", "application/did+json")
_ACCEPT = "application/json, application/ld+json;q=0.9, application/did+json;q=0.9"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class UpstreamError(Problem):
    """An outbound request failed: unreachable, timed out, an HTTP error, too large, not JSON."""

    def __init__(self, url: str, detail: str, *, status: int | None = None) -> None:
        extra: dict[str, Any] = {"url": url}
        if status is not None:
            extra["upstreamStatus"] = status
        super().__init__(502, "upstream-error", detail, **extra)
        self.url = url
        self.upstream_status = status


class FetchRefused(UpstreamError):
    """The fetch policy forbids the request (host not allowlisted, private address, plain http)."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(url, detail)
        self.status = 422
        self.kind = "fetch-refused"
        self.title = "Fetch refused"


@dataclass(frozen=True)
class Fetched:
    """A fetched JSON document with what the cache needs to know about it."""

    url: str
    document: Any
    fetched_at: datetime
    max_age_seconds: int

    def fresh(self, now: datetime) -> bool:
        """Whether the document may still be used at ``now``."""
        return now < self.fetched_at + timedelta(seconds=self.max_age_seconds)


def _authority(host: str, port: int | None, scheme: str) -> str:
    default = 443 if scheme == "https" else 80
    host = host.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return host if port in (None, default) else f"{host}:{port}"


def _split_origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of an absolute http(s) URL; ValueError when it is not one."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"URL carries credentials: {url!r}")
    return scheme, parts.hostname.lower(), parts.port


def _is_loopback_host(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class _PublicOnlyResolver(AbstractResolver):
    """Resolves names and drops non-global addresses, except for hosts explicitly trusted."""

    def __init__(self, trusted_hosts: frozenset[str]) -> None:
        self._inner = DefaultResolver()
        self._trusted = trusted_hosts

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if host.lower() in self._trusted:
            return results
        public = [r for r in results if ipaddress.ip_address(r["host"]).is_global]
        if not public:
            raise OSError(f"{host} resolves only to private or reserved addresses")
        return public

    async def close(self) -> None:
        await self._inner.close()


class Fetcher:
    """Allowlisted JSON fetches for one node (see the module docstring for the policy)."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        transport: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``transport`` maps authorities (``host`` or ``host:port``, as in a URL, or did:web
        hosts with ``%3A``) or origins to the base URL actually connected to; ``ssl_context``
        replaces the system trust store (tests trusting a self-signed certificate)."""
        self.config = config
        self.clock = clock
        self._ssl = ssl_context
        self._timeout = aiohttp.ClientTimeout(total=config.fetch_timeout_seconds)
        self._max_bytes = config.fetch_max_bytes
        # authority -> origin actually connected to (scheme://host[:port])
        self._routes: dict[str, str] = {}
        # authorities of configured origins: the node itself and its peers
        self._configured: set[str] = set()
        self._peers: set[str] = set()
        for origin in (config.public_url, *config.peers):
            scheme, host, port = _split_origin(origin)
            authority = _authority(host, port, scheme)
            self._configured.add(authority)
            if origin != config.public_url:
                self._peers.add(authority)
            # A configured origin is reached with its own scheme, also when named by https URL
            # (did:web) with the same host and port.
            base = f"{scheme}://{authority}"
            self._routes[authority] = base
            if scheme == "http":
                self._routes.setdefault(_authority(host, port, "https"), base)
        for key, target in (transport or {}).items():
            authority = self._key_authority(key)
            t_scheme, t_host, t_port = _split_origin(target)
            self._routes[authority] = f"{t_scheme}://{_authority(t_host, t_port, t_scheme)}"
            self._configured.add(authority)
        trusted = set()
        for base in self._routes.values():
            _, host, _ = _split_origin(base)
            trusted.add(host)
        self._trusted_hosts = frozenset(trusted)
        self._session: aiohttp.ClientSession | None = None
        self._did_cache: dict[str, Fetched] = {}
        self._status_cache: dict[str, Fetched] = {}
        self._inflight: dict[str, asyncio.Future[Fetched]] = {}

    @staticmethod
    def _key_authority(key: str) -> str:
        if "://" in key:
            scheme, host, port = _split_origin(key)
            return _authority(host, port, scheme)
        if key.startswith("did:web:"):
            key = unquote(key[len("did:web:") :].split(":", 1)[0])
        name, _, port_text = key.lower().partition(":")
        return _authority(name, int(port_text) if port_text else None, "https")

    # -- lifecycle -------------------------------------------------------------------------

    def _now(self) -> datetime:
        if self.clock is None:
            raise RuntimeError("the fetcher has no clock (set up through node.fetch.setup)")
        return self.clock()

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=_PublicOnlyResolver(self._trusted_hosts),
                ssl=self._ssl if self._ssl is not None else True,
                limit=32,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                headers={"Accept": _ACCEPT, "User-Agent": "passeport-node"},
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        """Close the connection pool (a later request opens a new one)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- policy ----------------------------------------------------------------------------

    def is_peer(self, url: str) -> bool:
        """Whether ``url`` is on a configured peer's origin (or a mapped one)."""
        try:
            scheme, host, port = _split_origin(url)
        except ValueError:
            return False
        return _authority(host, port, scheme) in self._configured

    def _target(self, url: str) -> str:
        """The URL actually requested for ``url``, or :class:`FetchRefused`."""
        try:
            scheme, host, port = _split_origin(url)
        except ValueError as exc:
            raise FetchRefused(url, str(exc)) from None
        parts = urlsplit(url)
        authority = _authority(host, port, scheme)
        route = self._routes.get(authority)
        if route is not None:
            path = parts.path or "/"
            return route + path + (f"?{parts.query}" if parts.query else "")
        if scheme == "http" and not _is_loopback_host(host):
            raise FetchRefused(url, "plain http is only used for loopback hosts")
        literal = _ip_literal(host)
        if literal is not None and not literal.is_global:
            raise FetchRefused(url, f"{host} is a private or reserved address")
        if _is_loopback_host(host):
            raise FetchRefused(url, f"{host} is a loopback host that is not configured")
        return url.split("#", 1)[0]

    def _check_allowed(self, url: str, *, hosts: frozenset[str] = frozenset()) -> None:
        """Refuse unless ``url`` is on a configured origin or on one of ``hosts``."""
        try:
            scheme, host, port = _split_origin(url)
        except ValueError as exc:
            raise FetchRefused(url, str(exc)) from None
        authority = _authority(host, port, scheme)
        if authority in self._configured or authority in hosts:
            return
        raise FetchRefused(url, f"{authority} is neither this node, a configured peer nor allowed")

    # -- requests --------------------------------------------------------------------------

    async def _get(self, url: str) -> tuple[Any, int]:
        """GET ``url`` (allowed already): the parsed JSON and the response's max-age."""
        session = await self._client()
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            target = self._target(current)
            try:
                async with session.get(target, allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = response.headers.get("Location")
                        if not location:
                            raise UpstreamError(url, "redirect without a Location", status=502)
                        following = urljoin(current, location)
                        if _split_origin(following) != _split_origin(current):
                            raise FetchRefused(url, f"redirect to another origin: {following}")
                        current = following
                        continue
                    if response.status != 200:
                        raise UpstreamError(
                            url,
                            f"the server answered HTTP {response.status}",
                            status=response.status,
                        )
                    if response.content_type not in _JSON_TYPES and not (
                        response.content_type.endswith("+json")
                    ):
                        raise UpstreamError(
                            url, f"expected JSON, got {response.content_type or 'no type'}"
                        )
                    length = response.content_length
                    if length is not None and length > self._max_bytes:
                        raise UpstreamError(url, f"the response exceeds {self._max_bytes} bytes")
                    # StreamReader.read(n) returns what has arrived: read to the end or the cap.
                    parts: list[bytes] = []
                    size = 0
                    while chunk := await response.content.read(self._max_bytes + 1 - size):
                        parts.append(chunk)
                        size += len(chunk)
                        if size > self._max_bytes:
                            raise UpstreamError(
                                url, f"the response exceeds {self._max_bytes} bytes"
                            )
                    body = b"".join(parts)
                    max_age = _max_age(response.headers.get("Cache-Control"))
            except (aiohttp.ClientError, OSError) as exc:
                raise UpstreamError(url, f"cannot reach {url}: {exc}") from None
            except TimeoutError:
                raise UpstreamError(
                    url, f"no answer within {self.config.fetch_timeout_seconds} s"
                ) from None
            try:
                document = parse_json(body, max_bytes=self._max_bytes)
            except ProtocolError as exc:
                raise UpstreamError(url, f"the response is not valid JSON: {exc.message}") from None
            return document, max_age
        raise UpstreamError(url, f"more than {MAX_REDIRECTS} redirects")

    async def fetch_json(self, url: str) -> Any:
        """GET a JSON document from this node or a configured peer (no cache)."""
        self._check_allowed(url)
        document, _ = await self._get(url)
        return document

    async def _cached(self, cache: dict[str, Fetched], url: str, cap: int) -> Fetched:
        now = self._now()
        hit = cache.get(url)
        if hit is not None and hit.fresh(now):
            return hit
        pending = self._inflight.get(url)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Fetched] = asyncio.get_running_loop().create_future()
        self._inflight[url] = future
        try:
            document, max_age = await self._get(url)
            fetched = Fetched(url, document, now, min(max_age, cap) if max_age >= 0 else cap)
            if len(cache) >= CACHE_ENTRIES:
                cache.pop(next(iter(cache)))
            cache[url] = fetched
            future.set_result(fetched)
            return fetched
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark it retrieved; waiters re-raise it
            raise
        finally:
            self._inflight.pop(url, None)

    async def resolve_did(self, did: str) -> dict[str, Any]:
        """The validated DID document of a did:key (derived locally) or a did:web (fetched).

        Raises :class:`FetchRefused` for other methods or a host the policy refuses,
        :class:`UpstreamError` when the document cannot be fetched, and
        :class:`~protocol.errors.ProtocolError` when it is invalid.
        """
        bare = did.split("#", 1)[0]
        if bare.startswith("did:key:"):
            return resolve_did_key(bare)
        if not bare.startswith("did:web:"):
            raise FetchRefused(bare, "only did:key and did:web are resolved")
        url = did_web_to_url(bare)
        if not (self.config.allow_did_web_fetch or self.is_peer(url)):
            raise FetchRefused(url, "did:web resolution is disabled for non-peer hosts")
        fetched = await self._cached(self._did_cache, url, DID_CACHE_SECONDS)
        return validate_did_document(fetched.document, did=bare)

    async def status_list(self, url: str, *, issuer: str | None = None) -> Fetched:
        """The status list credential at ``url`` (cached for its max-age, at most
        :data:`STATUS_CACHE_SECONDS`).

        ``url`` must be on this node, a peer, or the host of ``issuer`` when that is a did:web
        (and did:web fetching is allowed). The credential is returned unverified: its proof and
        freshness are checked by the caller.
        """
        hosts: frozenset[str] = frozenset()
        if issuer is not None and issuer.startswith("did:web:") and self.config.allow_did_web_fetch:
            try:
                scheme, host, port = _split_origin(did_web_to_url(issuer))
            except (ProtocolError, ValueError):
                pass
            else:
                hosts = frozenset({_authority(host, port, scheme)})
        self._check_allowed(url, hosts=hosts)
        return await self._cached(self._status_cache, url, STATUS_CACHE_SECONDS)

    def forget(self, url: str) -> None:
        """Drop ``url`` from the caches (after a local revocation, say)."""
        self._did_cache.pop(url, None)
        self._status_cache.pop(url, None)


def _max_age(header: str | None) -> int:
    """``max-age`` of a Cache-Control header in seconds; 0 for no-store/no-cache; -1 if absent."""
    if not header:
        return -1
    age = -1
    for directive in header.split(","):
        name, _, value = directive.strip().partition("=")
        name = name.lower()
        if name in ("no-store", "no-cache"):
            return 0
        if name == "max-age":
            try:
                age = max(0, int(value.strip().strip('"')))
            except ValueError:
                return 0
    return age


def setup(app: web.Application) -> None:
    """Publish the ``"fetcher"`` service: the injected one, or a fetcher built from the config."""
    injected: Any = app[FETCHER]
    fetcher: Fetcher
    if isinstance(injected, Fetcher):
        fetcher = injected
    elif injected is None or isinstance(injected, Mapping):
        fetcher = Fetcher(app[CONFIG], transport=injected)
    else:
        raise TypeError("fetcher= must be a node.fetch.Fetcher or a transport map")
    if fetcher.clock is None:
        fetcher.clock = app[CLOCK]
    app[FETCHER] = fetcher  # type: ignore[misc]
    app[SERVICES]["fetcher"] = fetcher

    async def close(app: web.Application) -> None:
        await fetcher.close()

    app.on_cleanup.append(close)
