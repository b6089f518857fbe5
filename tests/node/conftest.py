"""Shared node fixtures: a real node on a loopback port, with a temp data folder.

Fixtures (stable; other node test files rely on them):

* ``node`` -- a started :class:`RunningNode` (init done: keys, an admin account, the three
  sample achievements, an admin-scope API token) with an open ``aiohttp.ClientSession``.
* ``start_node`` -- an async context manager factory for nodes with other settings, e.g.
  ``async with start_node(clock=clock, login_max_failures=2) as n: ...``; keyword arguments
  other than ``clock``, ``fetcher``, ``samples`` and ``name`` override :class:`NodeConfig`
  fields. Several may run at once (federation tests), each in its own folder.
* ``clock`` -- a :class:`Clock` (call it for "now"; ``advance(seconds)`` moves it on).

The node listens on ``127.0.0.1`` (``RunningNode.base_url``) while its public URL, and so its
did:web, use ``localhost`` and the same port (``did:web:localhost%3A<port>``).
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from node.app import create_app
from node.appkeys import SERVICES
from node.config import NodeConfig
from node.seed import init_node

ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "correct horse battery staple"

__all__ = ["ADMIN_EMAIL", "ADMIN_PASSWORD", "Clock", "RunningNode"]


class Clock:
    """A controllable clock: ``clock()`` is "now"; ``advance(seconds)`` moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class RunningNode:
    """A node serving on loopback, and what tests need to talk to it."""

    base_url: str  # where to connect: http://127.0.0.1:<port>
    public_url: str  # the node's public URL: http://localhost:<port>
    did: str
    admin_email: str
    admin_password: str
    token: str  # an API token with the "admin" scope (every scope)
    session: aiohttp.ClientSession  # no credentials; a cookie jar that accepts IP hosts
    app: web.Application
    config: NodeConfig
    data_dir: Path
    port: int
    samples: list[str] = field(default_factory=list)  # ids of the sample achievements

    def url(self, path: str) -> str:
        """``base_url`` + ``path``."""
        return self.base_url + path

    @property
    def auth(self) -> dict[str, str]:
        """Headers authenticating with the admin API token."""
        return {"Authorization": f"Bearer {self.token}"}

    def service(self, name: str) -> Any:
        """A published service (``"identity"``, ``"auth"``, ``"achievements"``...)."""
        return self.app[SERVICES][name]

    def make_token(self, *scopes: str, name: str = "test token") -> str:
        """A new API token with ``scopes``."""
        _, token = self.service("auth").create_token(scopes, name=name, now=datetime.now(UTC))
        return str(token)

    async def login(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        email: str | None = None,
        password: str | None = None,
    ) -> str:
        """Log ``session`` (default: a new one is NOT made; ``self.session``) in; returns the
        CSRF token to send as ``X-CSRF-Token``."""
        client = session or self.session
        async with client.post(
            self.url("/auth/login"),
            json={
                "email": email or self.admin_email,
                "password": password or self.admin_password,
            },
        ) as response:
            assert response.status == 200, await response.text()
            body = await response.json()
        return str(body["csrfToken"])

    def new_session(self) -> aiohttp.ClientSession:
        """Another client session (own cookies); close it yourself."""
        return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


_counter = itertools.count()


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@asynccontextmanager
async def running_node(
    data_dir: Path,
    *,
    clock: Callable[[], datetime] | None = None,
    fetcher: Any = None,
    samples: bool = True,
    name: str = "Test University",
    **overrides: Any,
) -> AsyncIterator[RunningNode]:
    """Initialise ``data_dir`` and serve a node from it on a free loopback port."""
    sock = _bound_socket()
    try:
        port = sock.getsockname()[1]
        public_url = overrides.pop("public_url", f"http://localhost:{port}")
        overrides.setdefault("languages", ("en", "fr"))
        config = NodeConfig(
            data_dir=data_dir,
            name=name,
            public_url=public_url,
            host="127.0.0.1",
            port=port,
            **overrides,
        )
        now = clock or (lambda: datetime.now(UTC))
        result = init_node(
            config,
            now=now(),
            admin_email=ADMIN_EMAIL,
            admin_password=ADMIN_PASSWORD,
            samples=samples,
        )
        app = create_app(config, clock=clock, fetcher=fetcher)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
    except BaseException:
        sock.close()
        raise
    try:
        site = web.SockSite(runner, sock)
        await site.start()
        _, token = app[SERVICES]["auth"].create_token(["admin"], name="fixture", now=now())
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            yield RunningNode(
                base_url=f"http://127.0.0.1:{port}",
                public_url=config.base_url,
                did=result.did,
                admin_email=result.admin_email,
                admin_password=ADMIN_PASSWORD,
                token=token,
                session=session,
                app=app,
                config=config,
                data_dir=data_dir,
                port=port,
                samples=list(result.achievements),
            )
    finally:
        await runner.cleanup()
        sock.close()


@pytest.fixture
def clock() -> Clock:
    """A controllable clock starting at 2026-03-01T12:00:00Z."""
    return Clock()


@pytest.fixture
def start_node(
    tmp_path: Path,
) -> Callable[..., AbstractAsyncContextManager[RunningNode]]:
    """Factory of running nodes, each in its own folder under ``tmp_path``."""

    def start(**kwargs: Any) -> AbstractAsyncContextManager[RunningNode]:
        return running_node(tmp_path / f"node-{next(_counter)}", **kwargs)

    return start


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[RunningNode]:
    """A started node (real clock) with an admin account, sample achievements and a token."""
    async with running_node(tmp_path / "node") as running:
        yield running
