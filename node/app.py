"""The node's aiohttp application: ``create_app(config)`` wires storage, components and routes.

Components are modules with a ``setup(app)`` function that registers their migrations, routes
and services. They are set up in :data:`COMPONENTS` order; a component that is not present in
this build is skipped.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .appkeys import CLOCK, CONFIG, DB, FETCHER, MAX_BODY, SERVICES
from .config import NodeConfig
from .problems import problem_middleware
from .storage import migrate, open_db

__all__ = ["COMPONENTS", "create_app"]

#: Components in set-up order (later ones may use earlier ones' services).
COMPONENTS = (
    "node.identity",
    "node.auth",
    "node.achievements",
    "node.fetch",
    "node.status",
    "node.issuing",
    "node.vcapi",
    "node.delivery",
    "node.requests",
    "node.verifier",
    "node.federation",
    "node.web",
)


def utc_now() -> datetime:
    """The real clock (the only place the node reads it)."""
    return datetime.now(UTC)


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Conservative headers on every response."""
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.content_type == "text/html":
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "frame-ancestors 'none'; form-action 'self'",
        )
    return response


def create_app(
    config: NodeConfig,
    *,
    clock: Callable[[], datetime] | None = None,
    fetcher: Any = None,
) -> web.Application:
    """Build the node application for ``config`` (its data folder must exist)."""
    config.validate()
    app = web.Application(
        middlewares=[problem_middleware, security_headers],
        client_max_size=config.max_upload_bytes,
    )
    app[CONFIG] = config
    app[CLOCK] = clock or utc_now
    app[MAX_BODY] = config.max_body_bytes
    app[SERVICES] = {}
    db = open_db(config.db_path)
    app[DB] = db
    app[FETCHER] = fetcher
    for name in COMPONENTS:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        module.setup(app)
    migrate(db)

    async def close_db(app: web.Application) -> None:
        app[DB].conn.close()

    app.on_cleanup.append(close_db)
    return app
