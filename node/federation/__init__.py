"""Federation: member nodes form a network (issue 6, ``specs/federation.md``).

Thin wiring over :mod:`protocol.federation`, which defines every format and check:

* membership: the steward signs the registry (versioned, linked), invites, records departures
  and removals; a member joins with an invitation, keeps its membership credential and follows
  the registry through the steward's feed;
* this node's signed, append-only feed of events (achievements published or retired,
  endorsements, training offers, status lists updated, registry changed), served to members
  at ``GET /federation/feed`` with cursors, and notices pushed to peers;
* a background puller (:mod:`node.federation.sync`) that follows every member's feed with
  stored cursors, retries with backoff, and refuses (logging the reason, storing nothing) any
  page that fails verification;
* the network catalogue (SQLite FTS5), cross-member endorsements, training offers;
* offline verification bundles (``passeport verifier bundle``).

Publishes ``app[SERVICES]["federation"]``, a :class:`FederationService`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from ..appkeys import SERVICES
from .routes import add_routes
from .service import FederationService, Settings
from .store import Store
from .sync import Syncer

__all__ = ["FederationService", "Settings", "Store", "Syncer", "export_bundle", "setup"]

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def setup(app: web.Application) -> None:
    """Publish the ``"federation"`` service, its routes and its background puller."""
    service = FederationService(app)
    app[SERVICES]["federation"] = service
    add_routes(app)
    publish_pending: dict[str, asyncio.Handle] = {}

    def publish_soon() -> None:
        # Local changes (an achievement edited, a credential revoked) reach the feed shortly
        # after the request that made them, in one batch.
        if "publish" in publish_pending or service.closed:
            return

        def run() -> None:
            publish_pending.pop("publish", None)
            service.publish_local()

        loop = asyncio.get_running_loop()
        publish_pending["publish"] = loop.call_later(service.settings.notify_delay, run)

    async def after_response(request: web.Request, response: web.StreamResponse) -> None:
        if (
            request.method in _UNSAFE
            and response.status < 400
            and not request.path.startswith("/federation/")
        ):
            publish_soon()

    async def on_startup(app: web.Application) -> None:
        syncer = Syncer(service)
        service.syncer = syncer
        syncer.start()

    async def on_shutdown(app: web.Application) -> None:
        for handle in publish_pending.values():
            handle.cancel()
        publish_pending.clear()
        if service.syncer is not None:
            await service.syncer.stop()
        await service.close()

    app.on_response_prepare.append(after_response)
    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)


def export_bundle(data_dir: Path) -> dict[str, Any]:
    """A signed offline verification bundle made from the node in ``data_dir`` (its database
    and keys), without serving it: what ``passeport verifier bundle`` writes.

    Raises :class:`node.config.ConfigError` for a folder that holds no node, and a
    :class:`node.problems.Problem` when the node is not in a network.
    """
    from ..app import create_app
    from ..appkeys import DB
    from ..config import load_config

    config = load_config(data_dir)
    app = create_app(config)
    try:
        services = app[SERVICES]
        services["identity"].keystore.check()
        return dict(services["federation"].bundle())
    finally:
        app[DB].conn.close()
