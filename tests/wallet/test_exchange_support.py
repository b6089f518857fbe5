"""Helpers for the wallet exchange and round-trip tests (no tests here).

* :func:`world`: a real node on a loopback port (``tests/node/conftest.running_node``) with a
  controllable clock, and a real wallet file (cheap Argon2id parameters) in ``tmp_path``;
* :class:`World` helpers: offers and presentation requests through the node's staff API;
* :func:`capture_server`: a tiny verifier on loopback that records the exact bytes a wallet
  posts (to check what leaves the wallet), and can answer with a redirect or a huge body.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from nacl.pwhash import argon2id

from tests.node.conftest import Clock, RunningNode, running_node
from wallet.client import receive_async
from wallet.sealing import KdfParams
from wallet.store import Wallet

#: Argon2id at its minimum cost: the wallet file is real, the tests stay fast.
FAST_KDF = KdfParams(argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN)
PASSPHRASE = "correct horse battery staple"
#: The e-mail the sample offers are made out to.
EMAIL = "ada@example.org"


@dataclass
class World:
    """A node, its clock, and a wallet."""

    node: RunningNode
    clock: Clock
    wallet: Wallet
    path: Path

    @property
    def session(self) -> aiohttp.ClientSession:
        return self.node.session

    async def offer(self, **body: Any) -> dict[str, Any]:
        """An offer through the staff API (default: the first sample achievement, an e-mail)."""
        if "credentialId" not in body:
            body = {"achievementId": self.node.samples[0], "email": EMAIL, **body}
        async with self.session.post(
            self.node.url("/api/offers"), json=body, headers=self.node.auth
        ) as resp:
            assert resp.status == 201, await resp.text()
            return dict(await resp.json())

    async def receive(self, link: str = "openidCredentialOffer", **offer: Any) -> list[Any]:
        """Claim a fresh offer into the wallet through one of its links."""
        made = await self.offer(**offer)
        return await receive_async(self.wallet, made["links"][link], now=self.clock())

    async def request(self, *, expect: int = 201, **body: Any) -> dict[str, Any]:
        """A presentation request through the staff API."""
        async with self.session.post(
            self.node.url("/api/presentation-requests"), json=body, headers=self.node.auth
        ) as resp:
            answer = await resp.json()
            assert resp.status == expect, answer
            return dict(answer)

    async def result(self, request_id: str) -> dict[str, Any]:
        """The requester's view of a presentation request."""
        async with self.session.get(
            self.node.url(f"/api/presentation-requests/{request_id}"), headers=self.node.auth
        ) as resp:
            assert resp.status == 200, await resp.text()
            return dict(await resp.json())

    async def post_form(self, url: str, form: dict[str, str]) -> tuple[int, Any]:
        """POST a form to one of the node's public URLs (as a replaying attacker would)."""
        async with self.session.post(self.local(url), data=form) as resp:
            return resp.status, await resp.json(content_type=None)

    def local(self, url: str) -> str:
        """Where the node listens, for one of its public URLs."""
        if url.startswith(self.node.public_url):
            return self.node.base_url + url[len(self.node.public_url) :]
        return url

    def reopen(self) -> Wallet:
        """Close the wallet and open its file again (what is on disk)."""
        self.wallet.close()
        self.wallet = Wallet.open(self.path, PASSPHRASE)
        return self.wallet


@contextlib.asynccontextmanager
async def world(
    tmp_path: Path, *, clock: Clock | None = None, name: str = "node", **node_options: Any
) -> AsyncIterator[World]:
    """A running node and a new wallet under ``tmp_path``."""
    clock = clock or Clock()
    async with running_node(tmp_path / name, clock=clock, **node_options) as node:
        path = tmp_path / f"{name}.wallet"
        made = World(node, clock, Wallet.create(path, PASSPHRASE, kdf=FAST_KDF, now=clock()), path)
        try:
            yield made
        finally:
            made.wallet.close()


@dataclass
class Capture:
    """A loopback verifier that records what wallets post to it."""

    server: TestServer
    bodies: list[bytes] = field(default_factory=list)
    answer: dict[str, Any] = field(default_factory=dict)
    #: ``"redirect"`` or ``"huge"`` to misbehave on ``/cb``.
    mode: str = "ok"
    #: Documents served at ``GET /doc/{name}``: (content type, body text).
    documents: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def openid4vp_link(self, *, nonce: str, state: str, dcql: dict[str, Any], **extra: Any) -> str:
        """A by-value OpenID4VP request whose response_uri is this server."""
        response_uri = self.base + "/cb"
        params = {
            "client_id": "redirect_uri:" + response_uri,
            "response_type": "vp_token",
            "response_mode": "direct_post",
            "response_uri": response_uri,
            "nonce": nonce,
            "state": state,
            "dcql_query": json.dumps(dcql),
            "client_metadata": json.dumps(
                {"client_name": "Capture", "vp_formats_supported": {"ldp_vc": {}}}
            ),
            **extra,
        }
        return "openid4vp://?" + urlencode(params)


@contextlib.asynccontextmanager
async def capture_server() -> AsyncIterator[Capture]:
    """Start a :class:`Capture` verifier on a free loopback port."""
    holder: dict[str, Capture] = {}

    async def cb(request: web.Request) -> web.StreamResponse:
        capture = holder["c"]
        capture.bodies.append(await request.read())
        if capture.mode == "redirect":
            raise web.HTTPFound("https://elsewhere.example/steal")
        if capture.mode == "huge":
            return web.Response(body=b"{" + b" " * (5 * 1024 * 1024) + b"}")
        return web.json_response(capture.answer)

    async def big(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"[" + b"0," * (3 * 1024 * 1024) + b"0]")

    async def doc(request: web.Request) -> web.StreamResponse:
        found = holder["c"].documents.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        return web.Response(text=found[1], content_type=found[0])

    app = web.Application()
    app.router.add_post("/cb", cb)
    app.router.add_get("/big", big)
    app.router.add_get("/doc/{name}", doc)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    holder["c"] = Capture(server)
    try:
        yield holder["c"]
    finally:
        await server.close()
