"""Offer endpoints: staff create, list and cancel offers; the earner opens, scans or fetches them.

Staff (scope ``credentials:issue``):

* ``POST /api/offers``: ``{"achievementId", "email"?, "subjectDid"?, "txCode"?, "ttlSeconds"?}``
  (deferred issuing) or ``{"credentialId"}`` (an issued credential); 201 with the offer, its links
  and, once, its transaction code;
* ``GET /api/offers[?state=]``, ``GET /api/offers/{id}``, ``DELETE /api/offers/{id}`` (cancel).

Earner (the unguessable offer id is the credential):

* ``GET /offers/{id}``: the offer page (HTML) or its links (JSON);
* ``GET /offers/{id}/credential-offer``: the OID4VCI Credential Offer (``credential_offer_uri``);
* ``GET /offers/{id}/qr.png`` and ``qr.svg``: the QR code of a link, chosen with ``?link=``:
  ``oid4vci`` (default, the offer by reference), ``oid4vci-value`` (by value), ``interaction``
  (the VCALM interaction URL) or ``lcw`` (the Learner Credential Wallet deep link).

A claimed, expired, cancelled or locked offer answers 410 with a problem naming the state.
"""

from __future__ import annotations

import io
from typing import Any

import segno
from aiohttp import web

from ..appkeys import CLOCK, SERVICES
from ..problems import Problem, read_json
from ._web import NO_STORE, json_response, principal_name, public, require_scope, wants_json
from .exchanges import unavailable
from .service import CONFIGURATIONS, DeliveryService, OfferUnavailable
from .store import Offer, list_offers

__all__ = ["QR_LINKS", "qr_code", "setup_routes"]

#: Which link a QR code carries (``?link=``), by name.
QR_LINKS = {
    "oid4vci": "openidCredentialOffer",
    "oid4vci-value": "openidCredentialOffer",
    "interaction": "interactionUrl",
    "lcw": "lcwDeepLink",
}
#: Module size of rendered QR codes, in pixels, and the quiet zone, in modules.
QR_SCALE = 6
QR_BORDER = 4
ISSUE_SCOPE = "credentials:issue"
#: Longest offer label (shown on the earner's page), in characters.
MAX_LABEL_CHARS = 200


def _service(request: web.Request) -> DeliveryService:
    service: DeliveryService = request.app[SERVICES]["delivery"]
    return service


def qr_code(text: str, kind: str) -> bytes:
    """A QR code of ``text`` as PNG or SVG bytes (error correction M)."""
    qr = segno.make(text, error="m", micro=False)
    out = io.BytesIO()
    if kind == "svg":
        qr.save(
            out,
            kind="svg",
            scale=QR_SCALE,
            border=QR_BORDER,
            xmldecl=False,
            svgclass=None,
            lineclass=None,
        )
    else:
        qr.save(out, kind="png", scale=QR_SCALE, border=QR_BORDER)
    return out.getvalue()


def offer_view(
    service: DeliveryService, offer: Offer, now: Any, *, tx_code: str | None = None
) -> dict[str, Any]:
    """The JSON form of an offer with its links (while it is open)."""
    body = offer.summary(now)
    if body["status"] == "offered":
        body["links"] = service.links(offer)
        body["credentialOffer"] = service.credential_offer(offer)
    if tx_code is not None:
        body["txCode"] = tx_code
    return body


# -- staff ------------------------------------------------------------------------------------


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise Problem(422, "invalid-offer", f"{name} must be a non-empty string")
    return value.strip() if isinstance(value, str) else None


def _achievement_name(request: web.Request, achievement_id: str) -> str | None:
    """The achievement's name; 422 when it is unknown or retired."""
    achievements = request.app[SERVICES].get("achievements")
    if achievements is None:
        return None
    try:
        found = achievements.get(achievement_id)
        retired = achievements.is_retired(achievement_id)
    except Problem as exc:
        if exc.status != 404:
            raise
        raise Problem(422, "invalid-offer", f"no achievement {achievement_id!r}") from None
    if retired:
        raise Problem(422, "invalid-offer", f"achievement {achievement_id!r} is retired")
    name = found.get("name") if isinstance(found, dict) else None
    return name if isinstance(name, str) else None


async def create_offer(request: web.Request) -> web.Response:
    """``POST /api/offers``."""
    principal = await require_scope(request, ISSUE_SCOPE)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise Problem(400, "malformed", "the body must be a JSON object")
    known = {
        "achievementId",
        "email",
        "subjectDid",
        "credentialId",
        "txCode",
        "ttlSeconds",
        "label",
        "configurations",
        "name",
    }
    extra = sorted(set(body) - known)
    if extra:
        raise Problem(422, "invalid-offer", f"unknown members: {', '.join(extra)}")
    achievement_id = _optional_str(body, "achievementId")
    credential_id = _optional_str(body, "credentialId")
    email = _optional_str(body, "email")
    subject_did = _optional_str(body, "subjectDid")
    label = _optional_str(body, "label")
    if label is not None and len(label) > MAX_LABEL_CHARS:
        raise Problem(422, "invalid-offer", f"label is longer than {MAX_LABEL_CHARS} characters")
    if (achievement_id is None) == (credential_id is None):
        raise Problem(
            422,
            "invalid-offer",
            "give achievementId (issued when claimed) or credentialId (already issued), not both",
        )
    if credential_id is not None and email:
        raise Problem(422, "invalid-offer", "email belongs to achievementId offers")
    if subject_did is not None and not subject_did.startswith(("did:key:", "did:web:")):
        raise Problem(422, "invalid-offer", "subjectDid must be a did:key or did:web DID")
    tx_code = body.get("txCode", False)
    if not isinstance(tx_code, bool):
        raise Problem(422, "invalid-offer", "txCode must be true or false")
    ttl = body.get("ttlSeconds")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int)):
        raise Problem(422, "invalid-offer", "ttlSeconds must be an integer")
    configurations = body.get("configurations", list(CONFIGURATIONS))
    if (
        not isinstance(configurations, list)
        or not configurations
        or any(c not in CONFIGURATIONS for c in configurations)
    ):
        raise Problem(
            422, "invalid-offer", f"configurations must list some of {', '.join(CONFIGURATIONS)}"
        )
    service = _service(request)
    now = request.app[CLOCK]()
    if achievement_id is not None:
        label = label or _achievement_name(request, achievement_id)
    else:
        issuing = request.app[SERVICES].get("issuing")
        issued = issuing.get(credential_id) if issuing is not None else None
        if issued is None:
            raise Problem(422, "invalid-offer", f"no credential {credential_id!r}")
    try:
        offer, code = await service.create_offer(
            now=now,
            achievement_id=achievement_id,
            email=email,
            subject_did=subject_did,
            credential_id=credential_id,
            tx_code=tx_code,
            ttl_seconds=ttl,
            created_by=principal_name(principal),
            label=label,
            configurations=tuple(configurations),
        )
    except ValueError as exc:
        raise Problem(422, "invalid-offer", str(exc)) from None
    body_out = offer_view(service, offer, now, tx_code=code)
    return json_response(
        body_out, status=201, headers={**NO_STORE, "Location": f"/api/offers/{offer.id}"}
    )


async def list_staff_offers(request: web.Request) -> web.Response:
    """``GET /api/offers``: offers, newest first (``state``, ``limit``, ``offset``)."""
    await require_scope(request, ISSUE_SCOPE)
    state = request.query.get("state")
    if state is not None and state not in ("offered", "claimed", "cancelled"):
        raise Problem(400, "bad-request", "state is one of offered, claimed, cancelled")
    try:
        limit = min(int(request.query.get("limit", "100")), 500)
        offset = max(int(request.query.get("offset", "0")), 0)
    except ValueError:
        raise Problem(400, "bad-request", "limit and offset are integers") from None
    now = request.app[CLOCK]()
    from ..appkeys import DB

    offers = list_offers(request.app[DB], state=state, limit=max(limit, 1), offset=offset)
    return json_response({"offers": [o.summary(now) for o in offers]}, headers=NO_STORE)


async def staff_offer(request: web.Request) -> web.Response:
    """``GET /api/offers/{id}``: the offer with its links."""
    await require_scope(request, ISSUE_SCOPE)
    service = _service(request)
    offer = service.get(request.match_info["id"])
    if offer is None:
        raise Problem(404, "offer-not-found", "there is no such offer")
    return json_response(offer_view(service, offer, request.app[CLOCK]()), headers=NO_STORE)


async def cancel_offer(request: web.Request) -> web.Response:
    """``DELETE /api/offers/{id}``: cancel an unclaimed offer."""
    await require_scope(request, ISSUE_SCOPE)
    service = _service(request)
    offer = service.get(request.match_info["id"])
    if offer is None:
        raise Problem(404, "offer-not-found", "there is no such offer")
    if not service.cancel(offer.id):
        raise Problem(409, "offer-not-open", f"the offer is {offer.status(request.app[CLOCK]())}")
    offer = service.get(offer.id)
    assert offer is not None
    return json_response(offer.summary(request.app[CLOCK]()), headers=NO_STORE)


# -- earner -----------------------------------------------------------------------------------


def _open_offer(request: web.Request) -> Offer:
    try:
        return _service(request).usable(request.match_info["id"], request.app[CLOCK]())
    except OfferUnavailable as exc:
        raise unavailable(exc) from None


@public("the unguessable offer id in the URL is the credential")
async def offer_page(request: web.Request) -> web.Response:
    """``GET /offers/{id}``: the earner's page, or the offer's links as JSON."""
    from ..web import render

    service = _service(request)
    now = request.app[CLOCK]()
    as_json = wants_json(request)
    try:
        offer = service.usable(request.match_info["id"], now)
    except OfferUnavailable as exc:
        if as_json:
            raise unavailable(exc) from None
        return render(
            request,
            "requests/offer.html",
            {"title": "Offer unavailable", "unavailable": str(exc)},
            status=404 if exc.status == "missing" else 410,
        )
    if as_json:
        return json_response(offer_view(service, offer, now), headers=NO_STORE)
    context = {
        "title": "Claim your badge",
        "unavailable": None,
        "label": offer.label or "Your badge",
        "expires": offer.summary(now)["expiresAt"],
        "tx_code": offer.has_tx_code,
        "links": service.links(offer),
    }
    return render(request, "requests/offer.html", context)


@public("the unguessable offer id in the URL is the credential (OID4VCI credential_offer_uri)")
async def credential_offer(request: web.Request) -> web.Response:
    """``GET /offers/{id}/credential-offer``: the Credential Offer object."""
    offer = _open_offer(request)
    return json_response(_service(request).credential_offer(offer), headers=NO_STORE)


def _qr(kind: str) -> Any:
    @public("the unguessable offer id in the URL is the credential")
    async def handler(request: web.Request) -> web.Response:
        offer = _open_offer(request)
        which = request.query.get("link", "oid4vci")
        if which not in QR_LINKS:
            raise Problem(400, "bad-request", f"link is one of {', '.join(QR_LINKS)}")
        links = _service(request).links(offer)
        text = links[
            "openidCredentialOfferByValue" if which == "oid4vci-value" else QR_LINKS[which]
        ]
        content_type = "image/svg+xml" if kind == "svg" else "image/png"
        headers = dict(NO_STORE)
        if kind == "svg":
            headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        return web.Response(body=qr_code(text, kind), content_type=content_type, headers=headers)

    handler.__name__ = f"offer_qr_{kind}"
    return handler


def _staff_offers_context(request: web.Request) -> dict[str, Any]:
    from ..appkeys import DB

    now = request.app[CLOCK]()
    achievements = request.app[SERVICES].get("achievements")
    return {
        "achievements": achievements.list() if achievements is not None else [],
        "offers": [o.summary(now) for o in list_offers(request.app[DB], limit=50)],
        "created": None,
        "error": None,
    }


async def staff_offers_page(request: web.Request) -> web.Response:
    """``GET /staff/offers``: recent offers and the form to make one."""
    from ..web import render, require_page_staff

    await require_page_staff(request, ISSUE_SCOPE)
    return render(request, "requests/staff_offers.html", _staff_offers_context(request))


async def staff_offers_submit(request: web.Request) -> web.Response:
    """``POST /staff/offers`` (form with the CSRF token): create an offer, show it once."""
    from ..web import render, require_page_staff

    principal = await require_page_staff(request, ISSUE_SCOPE)
    form = await request.post()
    achievement_id = form.get("achievementId")
    email = form.get("email")
    service = _service(request)
    now = request.app[CLOCK]()
    try:
        if not isinstance(achievement_id, str) or not achievement_id:
            raise Problem(422, "invalid-offer", "choose an achievement")
        if not isinstance(email, str) or "@" not in email:
            raise Problem(422, "invalid-offer", "enter the earner's e-mail address")
        label = _achievement_name(request, achievement_id)
        offer, code = await service.create_offer(
            now=now,
            achievement_id=achievement_id,
            email=email.strip(),
            tx_code=form.get("txCode") == "1",
            created_by=principal_name(principal),
            label=label,
        )
    except Problem as problem:
        context = _staff_offers_context(request)
        context["error"] = problem.detail
        return render(request, "requests/staff_offers.html", context, status=problem.status)
    context = _staff_offers_context(request)
    created = offer_view(service, offer, now, tx_code=code)
    created["email"] = email.strip()
    context["created"] = created
    return render(request, "requests/staff_offers.html", context, status=201)


def setup_routes(app: web.Application) -> None:
    """Register the offer endpoints."""
    app.router.add_post("/api/offers", create_offer)
    app.router.add_get("/api/offers", list_staff_offers)
    app.router.add_get("/api/offers/{id}", staff_offer)
    app.router.add_delete("/api/offers/{id}", cancel_offer)
    app.router.add_get("/offers/{id}", offer_page)
    app.router.add_get("/offers/{id}/credential-offer", credential_offer)
    app.router.add_get("/offers/{id}/qr.png", _qr("png"))
    app.router.add_get("/offers/{id}/qr.svg", _qr("svg"))
    app.router.add_get("/staff/offers", staff_offers_page)
    app.router.add_post("/staff/offers", staff_offers_submit)
    try:
        from ..web import register_nav
    except ImportError:  # pragma: no cover - a build without staff pages
        return
    register_nav(app, "Offers", "/staff/offers", order=25)
