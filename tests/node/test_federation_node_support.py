"""Helpers for the federation tests (no tests here): several real nodes on loopback ports that
know each other, and scripted "fake" members (a did:web key, a DID document and a feed served
by a small aiohttp server) for the misbehaving cases.

Every node listens on ``127.0.0.1:<port>``; its public URL, and so its did:web, use
``localhost:<port>`` (``did:web:localhost%3A<port>``). Ports are reserved before any node starts,
so that each node's configuration can name all the others as peers and its fetcher's transport
map can reach them; a stopped node restarts on the same port and data folder.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from node.app import create_app
from node.appkeys import SERVICES
from node.config import NodeConfig
from node.seed import init_node
from protocol.federation import (
    Cursor,
    HttpRequest,
    build_event,
    event_hash,
    sign_request,
)
from protocol.keys import KeyPair, generate

ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "correct horse battery staple"

#: Fast federation settings for tests (seconds).
FAST = {
    "poll_interval_seconds": 0.5,
    "backoff_base_seconds": 0.05,
    "backoff_cap_seconds": 0.5,
    "notify_delay_seconds": 0.02,
}


def bound_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@dataclass
class NetNode:
    """A node of a :class:`Network` (running or stopped)."""

    name: str
    port: int
    data_dir: Path
    did: str = ""
    samples: list[str] = field(default_factory=list)
    app: web.Application | None = None
    runner: web.AppRunner | None = None
    token: str = ""
    session: aiohttp.ClientSession | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def public_url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, path: str) -> str:
        return self.base_url + path

    def service(self, name: str) -> Any:
        assert self.app is not None, f"{self.name} is stopped"
        return self.app[SERVICES][name]

    @property
    def federation(self) -> Any:
        return self.service("federation")

    async def request(
        self, method: str, path: str, body: Any = None, *, auth: bool = True
    ) -> tuple[int, Any]:
        assert self.session is not None, f"{self.name} is stopped"
        headers = dict(self.auth) if auth else {}
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["json"] = body
        async with self.session.request(method, self.url(path), **kwargs) as response:
            text = await response.text()
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
            return response.status, parsed

    async def get(self, path: str, *, auth: bool = True) -> Any:
        status, body = await self.request("GET", path, auth=auth)
        assert status == 200, (self.name, path, status, body)
        return body

    async def post(self, path: str, body: Any = None, *, expect: int | None = None) -> Any:
        status, answer = await self.request("POST", path, {} if body is None else body)
        if expect is not None:
            assert status == expect, (self.name, path, status, answer)
        else:
            assert status < 300, (self.name, path, status, answer)
        return answer


class Network:
    """Real nodes that are each other's peers (see the module docstring)."""

    def __init__(
        self,
        tmp_path: Path,
        names: list[str],
        *,
        clock: Callable[[], datetime] | None = None,
        extra_ports: tuple[int, ...] = (),
        settings: dict[str, Any] | None = None,
        languages: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.tmp_path = tmp_path
        self.clock = clock
        self.languages = languages or {}
        self.settings = dict(FAST if settings is None else settings)
        self._sockets: dict[str, socket.socket] = {}
        self.nodes: dict[str, NetNode] = {}
        for name in names:
            sock = bound_socket()
            port = sock.getsockname()[1]
            self._sockets[name] = sock
            self.nodes[name] = NetNode(name=name, port=port, data_dir=tmp_path / f"node-{name}")
        self.extra_ports = extra_ports

    def __getitem__(self, name: str) -> NetNode:
        return self.nodes[name]

    def now(self) -> datetime:
        return self.clock() if self.clock is not None else datetime.now(UTC)

    def ports(self) -> list[int]:
        return [n.port for n in self.nodes.values()] + list(self.extra_ports)

    def config(self, node: NetNode) -> NodeConfig:
        peers = tuple(f"http://localhost:{p}" for p in self.ports() if p != node.port)
        return NodeConfig(
            data_dir=node.data_dir,
            name=f"Nœud {node.name}",
            public_url=node.public_url,
            host="127.0.0.1",
            port=node.port,
            languages=self.languages.get(node.name, ("en", "fr")),
            peers=peers,
            fetch_timeout_seconds=3.0,
            extra={"federation": dict(self.settings)},
        )

    def transport(self) -> dict[str, str]:
        return {f"localhost:{p}": f"http://127.0.0.1:{p}" for p in self.ports()}

    async def start(self, name: str) -> NetNode:
        node = self.nodes[name]
        assert node.app is None, f"{name} is already running"
        config = self.config(node)
        if not (node.data_dir / "node.toml").exists():
            result = init_node(
                config,
                now=self.now(),
                admin_email=ADMIN_EMAIL,
                admin_password=ADMIN_PASSWORD,
                samples=True,
            )
            node.did = result.did
            node.samples = list(result.achievements)
        app = create_app(config, clock=self.clock, fetcher=self.transport())
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        sock = self._sockets.pop(name, None) or bound_socket(node.port)
        site = web.SockSite(runner, sock)
        await site.start()
        _, token = app[SERVICES]["auth"].create_token(["admin"], name="test", now=self.now())
        node.app, node.runner, node.token = app, runner, str(token)
        node.session = aiohttp.ClientSession()
        return node

    async def stop(self, name: str) -> None:
        node = self.nodes[name]
        if node.session is not None:
            await node.session.close()
        if node.runner is not None:
            await node.runner.cleanup()
        node.app = node.runner = node.session = None

    async def start_all(self) -> None:
        for name in self.nodes:
            await self.start(name)

    async def quiesce(self) -> None:
        """Stop every node's federation background work (pulls, notices), so that stopping the
        servers races with no request between them."""
        for node in self.nodes.values():
            if node.app is not None:
                service = node.federation
                if service.syncer is not None:
                    await service.syncer.stop()
                await service.close()

    async def close(self) -> None:
        await self.quiesce()
        for name, node in self.nodes.items():
            if node.app is not None:
                await self.stop(name)
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()


async def eventually(
    check: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Wait until ``check()`` (sync or async) returns a truthy value; return it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while True:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}: last {last!r}")
        await asyncio.sleep(interval)


async def form_network(net: Network, steward: str, members: list[str]) -> None:
    """``steward`` creates the network; each of ``members`` joins with an invitation bound to
    its DID (through the HTTP API of both nodes)."""
    lead = net[steward]
    await lead.post("/federation/network", {"name": "Réseau régional"}, expect=201)
    for name in members:
        node = net[name]
        invitation = await lead.post(
            "/federation/invitations", {"did": node.did, "name": f"Nœud {name}"}, expect=201
        )
        await node.post("/federation/join", {"invitation": invitation}, expect=201)


def catalogue_ids(node: NetNode, **filters: Any) -> set[str]:
    """Every item id of ``node``'s catalogue matching ``filters`` (all pages)."""
    found: set[str] = set()
    while True:
        result = node.federation.search(limit=200, offset=len(found), **filters)
        found |= {item["id"] for item in result["items"]}
        if not result["items"] or len(found) >= result["total"]:
            return found


# -- fake members --------------------------------------------------------------------------------


class FakeMember:
    """A member that is not a Passeport node: a did:web key, its DID document, and a feed that
    the test scripts (``self.pages``: a function of the ``after`` cursor text returning the
    response body, or None for a 404). It records the requests it receives."""

    def __init__(self) -> None:
        self.sock = bound_socket()
        self.port = self.sock.getsockname()[1]
        self.did = f"did:web:localhost%3A{self.port}"
        self.public_url = f"http://localhost:{self.port}"
        self.key: KeyPair = generate("Ed25519").with_controller(self.did, f"{self.did}#key-1")
        self.events: list[dict[str, Any]] = []
        self.serve: Callable[[str], Any] | None = None
        self.requests: list[tuple[str, str]] = []
        self._runner: web.AppRunner | None = None

    @property
    def document(self) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": self.did,
            "verificationMethod": [self.key.to_public_multikey()],
            "assertionMethod": [self.key.id],
            "authentication": [self.key.id],
        }

    def event(
        self, kind: str, payload: dict[str, Any], *, time: datetime, key: KeyPair | None = None
    ) -> dict[str, Any]:
        """Append a correctly chained, signed event to ``self.events`` and return it."""
        prev = event_hash(self.events[-1]) if self.events else None
        event = build_event(
            key=key or self.key,
            seq=len(self.events) + 1,
            prev=prev,
            type=kind,
            time=time,
            payload=payload,
        )
        self.events.append(event)
        return event

    def achievement(self, n: int, name: str) -> dict[str, Any]:
        return {
            "id": f"{self.public_url}/achievements/{n}",
            "type": ["Achievement"],
            "name": name,
            "description": f"{name}, décrit.",
            "criteria": {"narrative": "Réussir."},
        }

    def page(self, after: str, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """A feed page of ``events`` (default: everything after ``after``)."""
        if events is None:
            seq = Cursor.parse(after).seq
            events = self.events[seq:]
        head = (
            Cursor(self.events[-1]["seq"], event_hash(self.events[-1]))
            if self.events
            else Cursor(0)
        )
        return {
            "type": "FederationFeedPage",
            "source": self.did,
            "after": after,
            "events": events,
            "head": str(head),
            "next": None,
        }

    async def start(self) -> None:
        async def did_document(request: web.Request) -> web.Response:
            self.requests.append(("GET", request.path_qs))
            return web.json_response(self.document)

        async def feed(request: web.Request) -> web.StreamResponse:
            self.requests.append(("GET", request.path_qs))
            after = request.query.get("after", "0")
            body = self.serve(after) if self.serve is not None else self.page(after)
            if body is None:
                raise web.HTTPNotFound()
            if isinstance(body, web.StreamResponse):
                return body
            text = body if isinstance(body, str) else json.dumps(body)
            return web.Response(text=text, content_type="application/json")

        async def anything(request: web.Request) -> web.Response:
            self.requests.append((request.method, request.path_qs))
            return web.json_response({}, status=202)

        app = web.Application()
        app.router.add_get("/.well-known/did.json", did_document)
        app.router.add_get("/federation/feed", feed)
        app.router.add_post("/federation/notify", anything)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, self.sock).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.sock.close()

    async def restart(self) -> None:
        """Serve again on the same port after :meth:`close`."""
        self.sock = bound_socket(self.port)
        await self.start()

    def sign(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        key: KeyPair | None = None,
        now: datetime | None = None,
        nonce: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of a signed request (``url`` is the node's public URL)."""
        data = b"" if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        headers.update(
            sign_request(
                HttpRequest.of(method, url, headers, data),
                key=key or self.key,
                created=now or datetime.now(UTC),
                nonce=nonce or secrets.token_urlsafe(16),
            )
        )
        return headers, data

    async def send(
        self,
        node: NetNode,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        **sign_options: Any,
    ) -> tuple[int, Any]:
        """A signed request to ``node`` (or the given headers and body, for replays)."""
        if headers is None:
            headers, data = self.sign(method, node.public_url + path, body, **sign_options)
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, node.url(path), data=data or None, headers=headers) as response,
        ):
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text


def in_days(days: float, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) + timedelta(days=days)
