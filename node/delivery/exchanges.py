"""VC API (VCALM) exchanges as the Learner Credential Wallet uses them.

* ``GET /interactions/{offer}?iuv=1``: the interaction URL. With ``Accept: application/json``
  it answers ``{"protocols": {"vcapi": <exchange URL>, "OID4VCI": <offer link>}}``; browsers get
  the offer page.
* ``POST /workflows/claim/exchanges/{offer}`` with ``{}``: a VerifiablePresentationRequest
  (``DIDAuthentication`` query, a fresh ``challenge``, ``domain`` = the node's public URL).
* The same URL with ``{"verifiablePresentation": VP}``: the DID-auth presentation is checked
  (``authentication`` purpose, that challenge and domain, Ed25519Signature2020 as the wallet
  signs, eddsa-rdfc-2022 and ecdsa-rdfc-2019 too); the reply is
  ``{"verifiablePresentation": {..., "verifiableCredential": [VC]}}`` with the eddsa-rdfc-2022
  credential bound to the presentation's holder.

A challenge is used once: any presentation, valid or not, consumes it, and the wallet starts
again with ``{}``. Errors are problem details (4xx JSON).
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from protocol.ob.model import VC_CONTEXT_V2

from ..appkeys import CLOCK, DB, SERVICES
from ..problems import Problem, read_json
from . import store
from ._web import NO_STORE, json_response, public, wants_json
from .holder import DID_AUTH_SUITES, HolderProofError, verify_presentation_proof
from .service import CONFIG_EDDSA, WORKFLOW, DeliveryError, DeliveryService, OfferUnavailable
from .store import Offer

__all__ = ["setup_routes"]


def _service(request: web.Request) -> DeliveryService:
    service: DeliveryService = request.app[SERVICES]["delivery"]
    return service


def unavailable(exc: OfferUnavailable) -> Problem:
    """The problem for an offer that cannot be used (404 missing, 410 otherwise)."""
    if exc.status == "missing":
        return Problem(404, "offer-not-found", str(exc))
    return Problem(410, f"offer-{exc.status}", str(exc), status_detail=exc.status)


@public("the unguessable offer id in the URL is the credential (VCALM interaction URL)")
async def interaction(request: web.Request) -> web.StreamResponse:
    """``GET /interactions/{offer}?iuv=1``."""
    service = _service(request)
    now = request.app[CLOCK]()
    offer_id = request.match_info["offer"]
    if not wants_json(request):
        raise web.HTTPSeeOther(f"/offers/{offer_id}")
    try:
        offer = service.usable(offer_id, now)
    except OfferUnavailable as exc:
        raise unavailable(exc) from None
    return json_response({"protocols": service.protocols(offer)}, headers=NO_STORE)


def _request_body(service: DeliveryService, offer: Offer, challenge: str) -> dict[str, Any]:
    return {
        "verifiablePresentationRequest": {
            "query": [
                {
                    "type": "DIDAuthentication",
                    "acceptedMethods": [{"method": "key"}, {"method": "web"}],
                    "acceptedCryptosuites": [
                        {"cryptosuite": name} for name in sorted(DID_AUTH_SUITES)
                    ],
                }
            ],
            "challenge": challenge,
            "domain": service.issuer_id,
            "interact": {
                "service": [
                    {
                        "type": "VerifiableCredentialApiExchangeService",
                        "serviceEndpoint": service.exchange_url(offer),
                    }
                ]
            },
        }
    }


@public("the unguessable offer id in the URL and the DID-auth presentation authorise it")
async def exchange(request: web.Request) -> web.Response:
    """``POST /workflows/claim/exchanges/{offer}``: one VCALM exchange step."""
    service = _service(request)
    db = request.app[DB]
    now = request.app[CLOCK]()
    offer_id = request.match_info["offer"]
    body = await read_json(request)
    if not isinstance(body, dict):
        raise Problem(400, "malformed", "an exchange message is a JSON object")
    try:
        offer = service.usable(offer_id, now)
    except OfferUnavailable as exc:
        raise unavailable(exc) from None
    presentation = body.get("verifiablePresentation")
    if presentation is None:
        if body:
            raise Problem(400, "malformed", 'send {} to start, then {"verifiablePresentation"}')
        challenge = secrets.token_urlsafe(24)
        store.set_challenge(db, offer.id, challenge)
        return json_response(_request_body(service, offer, challenge), headers=NO_STORE)
    pending = offer.challenge
    if not pending:
        raise Problem(
            409, "exchange-not-started", "no challenge is pending: start the exchange with {} first"
        )
    # The challenge is used up by this attempt, whatever its outcome (atomically: of two
    # presentations racing for one challenge, only one is checked).
    if not store.take_challenge(db, offer.id, pending):
        raise Problem(
            409, "exchange-not-started", "no challenge is pending: start the exchange with {} first"
        )
    try:
        proven = await verify_presentation_proof(
            request.app,
            presentation,
            challenge=pending,
            domain=service.issuer_id,
            now=now,
            suites=DID_AUTH_SUITES,
            kind="did-auth",
        )
    except HolderProofError as exc:
        raise Problem(422, "invalid-presentation", exc.description) from None
    try:
        vc = await service.deliver(
            offer.id, holder=proven.holder, configuration=CONFIG_EDDSA, now=now
        )
    except OfferUnavailable as exc:
        raise unavailable(exc) from None
    except DeliveryError as exc:
        if exc.error == "server_error":
            raise
        raise Problem(409, "delivery-refused", exc.description) from None
    reply = {
        "verifiablePresentation": {
            "@context": [VC_CONTEXT_V2],
            "type": ["VerifiablePresentation"],
            "verifiableCredential": [vc],
        }
    }
    return json_response(reply, headers=NO_STORE)


def setup_routes(app: web.Application) -> None:
    """Register the interaction URL and the exchange endpoint."""
    app.router.add_get("/interactions/{offer}", interaction)
    app.router.add_post(f"/workflows/{WORKFLOW}/exchanges/{{offer}}", exchange)
