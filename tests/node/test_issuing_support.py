"""Helpers for the issuing, status and VC API tests (no tests here).

They work with the running nodes of ``tests/node/conftest.py`` (``node``, ``start_node``):
issue through the HTTP API, verify at another node that resolves the issuer's did:web through
its fetcher (a transport map sends ``localhost:<port>`` to the issuer's loopback address), and
restart a node on an existing data folder.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from node.app import create_app
from node.config import NodeConfig


def transport_for(*nodes: Any) -> dict[str, str]:
    """A fetcher transport map reaching each node's public authority at its loopback address."""
    return {f"localhost:{n.port}": n.base_url for n in nodes}


async def post_json(
    node: Any,
    path: str,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    token: str | None = None,
) -> tuple[int, Any, str]:
    """POST ``body`` as JSON; returns (status, parsed body or None, raw text)."""
    if headers is None:
        headers = {"Authorization": f"Bearer {token}"} if token else dict(node.auth)
    async with node.session.post(node.url(path), json=body, headers=headers) as response:
        text = await response.text()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        return response.status, parsed, text


async def issue(node: Any, **body: Any) -> dict[str, Any]:
    """Issue one credential through ``POST /api/credentials`` (default: sample 0, an e-mail)."""
    body.setdefault("achievementId", node.samples[0])
    if "email" not in body and "subjectId" not in body:
        body["email"] = "ada@example.org"
    status, parsed, text = await post_json(node, "/api/credentials", body)
    assert status == 201, text
    return dict(parsed)


async def verify_at(
    node: Any, credential: dict[str, Any], **options: Any
) -> tuple[int, dict[str, Any]]:
    """``POST /credentials/verify`` at ``node`` (anonymous); (status, body)."""
    body: dict[str, Any] = {"verifiableCredential": credential}
    if options:
        body["options"] = options
    status, parsed, text = await post_json(node, "/credentials/verify", body, headers={})
    assert parsed is not None, text
    return status, parsed


def status_index(credential: dict[str, Any]) -> tuple[str, int]:
    """(status list URL, index) of a credential's status entry."""
    entry = credential["credentialStatus"]
    return entry["statusListCredential"], int(entry["statusListIndex"])


def csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """A CSV document."""
    lines = [",".join(header)]
    lines += [",".join("" if v is None else str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def free_port() -> int:
    """A loopback port free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def issuer_and_verifier(
    start_node: Callable[..., Any], clock: Any, **issuer_options: Any
) -> AsyncIterator[tuple[Any, Any]]:
    """Two running nodes: an issuer, and a verifier whose fetcher reaches the issuer."""
    async with AsyncExitStack() as stack:
        issuer = await stack.enter_async_context(start_node(clock=clock, **issuer_options))
        verifier = await stack.enter_async_context(
            start_node(clock=clock, fetcher=transport_for(issuer))
        )
        yield issuer, verifier


@asynccontextmanager
async def serve_existing(
    config: NodeConfig, *, clock: Callable[[], datetime] | None = None, fetcher: Any = None
) -> AsyncIterator[tuple[web.Application, str]]:
    """Serve an already initialised node folder on ``config.port``; yields (app, base URL)."""
    app = create_app(config, clock=clock, fetcher=fetcher)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", config.port, reuse_address=True)
    await site.start()
    try:
        yield app, f"http://127.0.0.1:{config.port}"
    finally:
        await runner.cleanup()


async def wait_json(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> Any:
    """GET ``url`` and return its JSON (asserting 200)."""
    async with session.get(url, **kwargs) as response:
        text = await response.text()
        assert response.status == 200, text
        return json.loads(text)
