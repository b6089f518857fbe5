"""Delivery to wallets: one-time offers (link and QR code), OpenID for Verifiable Credential
Issuance 1.0 (pre-authorized code flow, ``ldp_vc``) and VC API exchanges for the Learner
Credential Wallet.

Publishes ``app[SERVICES]["delivery"]`` (:class:`~node.delivery.service.DeliveryService`):

* ``await create_offer(*, now, achievement_id=None, email=None, subject_did=None,
  credential_id=None, issue_options=None, tx_code=False, ttl_seconds=None, created_by=None,
  request_id=None, label=None) -> (Offer, tx_code | None)``;
* ``get(offer_id) -> Offer | None``, ``usable(offer_id, now) -> Offer``, ``cancel(offer_id)``,
  ``for_request(request_id)``, ``links(offer)``, ``credential_offer(offer)``;
* ``await deliver(offer_id, *, holder, configuration, now) -> dict`` (used by both protocols).

The formats are documented in ``specs/delivery.md``.
"""

from __future__ import annotations

from aiohttp import web

from ..appkeys import SERVICES
from . import exchanges, offers, oid4vci, store  # noqa: F401 - store registers migrations
from .service import CONFIG_EDDSA, CONFIG_SD, CONFIGURATIONS, DeliveryService, OfferUnavailable

__all__ = [
    "CONFIGURATIONS",
    "CONFIG_EDDSA",
    "CONFIG_SD",
    "DeliveryService",
    "OfferUnavailable",
    "setup",
]


def setup(app: web.Application) -> None:
    """Publish the delivery service and register its routes."""
    app[SERVICES]["delivery"] = DeliveryService(app)
    offers.setup_routes(app)
    oid4vci.setup_routes(app)
    exchanges.setup_routes(app)
