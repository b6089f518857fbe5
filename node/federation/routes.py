"""HTTP handlers of the federation component (``specs/node-api.md``, "Federation").

Node-to-node routes (feed, notices, joining and leaving) are reachable without a staff
credential because they carry an RFC 9421 signature by a member node instead: they are checked
here, and every refusal is logged with its reason and recorded in ``federation_rejections``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web

from protocol.encoding import parse_json
from protocol.errors import MalformedError, ProtocolError
from protocol.federation import (
    Cursor,
    HttpRequest,
    ImpersonationError,
    NotAMemberError,
    VerifiedRequest,
    parse_notice,
)
from protocol.limits import MAX_FEED_PAGE_EVENTS

from ..appkeys import CONFIG, MAX_BODY, SERVICES
from ..auth import public
from ..problems import Problem, read_json
from .service import FederationService
from .wire import claimed_signer, inbound_request, verify_inbound

__all__ = ["add_routes"]

SCOPE = "federation"
SCOPE_DESCRIPTION = "manage the network: invitations, members, endorsements, training offers"

_STATUS = {
    "FEDERATION_NOT_A_MEMBER": 403,
    "FEDERATION_IMPERSONATION": 403,
    "FEDERATION_REPLAY": 401,
    "FEDERATION_EXPIRED": 401,
    "FEDERATION_OVERSIZED": 413,
}


def _service(request: web.Request) -> FederationService:
    return cast(FederationService, request.app[SERVICES]["federation"])


def _auth(request: web.Request) -> Any:
    return request.app[SERVICES]["auth"]


def _refusal(error: ProtocolError) -> Problem:
    status = _STATUS.get(error.code, 400 if isinstance(error, MalformedError) else 401)
    kind = error.code.lower().replace("_", "-")
    return Problem(status, kind, error.message, code=error.code)


async def _signed(
    request: web.Request,
    *,
    channel: str,
    members_only: bool = True,
    precheck: Callable[[HttpRequest, str], Awaitable[None]] | None = None,
) -> tuple[HttpRequest, VerifiedRequest]:
    """Check a node-to-node request's signature (and, by default, that its signer is a member
    now, before its key is looked up). Refusals are recorded and become 4xx problems."""
    service = _service(request)
    http = await inbound_request(request, request.app[CONFIG].base_url, request.app[MAX_BODY])
    signer: str | None = None
    try:
        signer = claimed_signer(http)
        registry = service.registry()
        now = service.now()
        if members_only:
            if registry is None:
                raise NotAMemberError("this node is not in a network")
            registry.require_member(signer, at=now)
        if precheck is not None:
            await precheck(http, signer)
        document = await service.resolve(signer)
        verified = verify_inbound(
            http,
            signer_document=document,
            registry=registry if members_only else None,
            now=now,
            store=service.store,
        )
    except ProtocolError as exc:
        service.reject(channel=channel, peer=signer, error=exc)
        if isinstance(exc, NotAMemberError) and service.steward not in (None, service.did):
            # Our registry may be behind the steward's: look for a newer version.
            service.wake(service.steward)
        raise _refusal(exc) from None
    except Problem as problem:
        service.reject(channel=channel, peer=signer, error=problem)
        if problem.status >= 500 or problem.kind in ("fetch-refused", "upstream-error"):
            raise Problem(
                401,
                "federation-key-unavailable",
                f"the signer's key cannot be had: {problem.detail}",
            ) from None
        raise
    return http, verified


# -- node to node ------------------------------------------------------------------------------


@public("node-to-node: signed by a network member (RFC 9421), checked against the registry")
async def get_feed(request: web.Request) -> web.Response:
    """``GET /federation/feed?after=<cursor>&limit=<n>``: a page of this node's feed."""
    service = _service(request)
    await _signed(request, channel="feed request")
    try:
        after = Cursor.parse(request.query.get("after", "0"))
        limit = int(request.query.get("limit", str(MAX_FEED_PAGE_EVENTS)))
    except ValueError:
        raise Problem(400, "bad-request", "limit must be a number") from None
    service.publish_local_throttled()
    try:
        text = service.feed_page(after, limit)
    except ProtocolError as exc:
        raise Problem(409, "federation-cursor", exc.message, code=exc.code) from None
    return web.Response(text=text, content_type="application/json", charset="utf-8")


@public("node-to-node: signed by a network member (RFC 9421); a hint to pull, nothing stored")
async def post_notify(request: web.Request) -> web.Response:
    """``POST /federation/notify``: a member's feed grew; pull it early (FED-17)."""
    service = _service(request)
    http, verified = await _signed(request, channel="notice")
    try:
        source, head = parse_notice(parse_json(http.body, max_bytes=64 * 1024))
        if source != verified.signer:
            raise ImpersonationError(
                f"the notice names {source} but is signed by {verified.signer}"
            )
    except ProtocolError as exc:
        service.reject(channel="notice", peer=verified.signer, error=exc)
        raise _refusal(exc) from None
    cursor = service.store.cursor(source)
    service.store.note_head(source, head.seq)
    behind = head.seq > cursor.seq
    if behind:
        service.wake(source)
    return web.json_response({"source": source, "pulling": behind}, status=202)


@public("node-to-node: signed by the invitee's key (RFC 9421) and carrying an invitation")
async def post_join(request: web.Request) -> web.Response:
    """``POST /federation/network/join`` (steward): redeem an invitation (FED-10)."""
    service = _service(request)
    if not service.is_steward:
        raise Problem(404, "not-found", "this node is not a network steward")
    body: dict[str, Any] = {}

    async def invitation_first(http: HttpRequest, signer: str) -> None:
        # The invitation is checked before the signer's DID document is fetched, so that a
        # stranger cannot make this node fetch anything.
        nonlocal body
        document = parse_json(http.body, max_bytes=request.app[MAX_BODY])
        if not isinstance(document, dict) or not isinstance(document.get("invitation"), dict):
            raise MalformedError("a join request carries {invitation, endpoint}")
        from protocol.did import Resolver
        from protocol.federation import verify_invitation

        from .service import _UsedNonces

        verify_invitation(
            document["invitation"],
            steward=service.did,
            resolver=Resolver({service.did: service.identity.did_document()}),
            now=service.now(),
            used_nonces=_UsedNonces(service.store),
            invitee=signer,
        )
        body = document

    _, verified = await _signed(
        request, channel="join", members_only=False, precheck=invitation_first
    )
    document = await service.resolve(verified.signer)
    try:
        answer = await service.redeem(body, verified.signer, document)
    except ProtocolError as exc:
        service.reject(channel="join", peer=verified.signer, error=exc)
        raise _refusal(exc) from None
    return web.json_response(answer, status=201)


@public("node-to-node: signed by a network member (RFC 9421)")
async def post_leave(request: web.Request) -> web.Response:
    """``POST /federation/network/leave`` (steward): the signing member leaves."""
    service = _service(request)
    if not service.is_steward:
        raise Problem(404, "not-found", "this node is not a network steward")
    _, verified = await _signed(request, channel="leave")
    registry = await service.end_membership(verified.signer, reason="left")
    return web.json_response({"registryVersion": registry.version})


# -- public documents --------------------------------------------------------------------------


def _json_text(text: str, *, cache: int = 60) -> web.Response:
    return web.Response(
        text=text,
        content_type="application/json",
        charset="utf-8",
        headers={"Cache-Control": f"public, max-age={cache}", "Access-Control-Allow-Origin": "*"},
    )


@public("the network registry is a public, signed document")
async def get_registry(request: web.Request) -> web.Response:
    """``GET /federation/registry`` and ``GET /federation/network/registry``: the newest
    registry version this node holds."""
    latest = _service(request).store.latest_registry()
    if latest is None:
        raise Problem(404, "not-found", "this node is not in a network")
    return _json_text(latest[1])


@public("registry versions are public, signed documents")
async def get_registry_version(request: web.Request) -> web.Response:
    """``GET /federation/network/registry/{version}``."""
    try:
        version = int(request.match_info["version"])
    except ValueError:
        raise Problem(404, "not-found", "no such registry version") from None
    text = _service(request).store.registry_version(version)
    if text is None:
        raise Problem(404, "not-found", "no such registry version")
    return _json_text(text, cache=3600)


@public("what the network is: public")
async def get_network(request: web.Request) -> web.Response:
    """``GET /federation/network``: the network's id, name, steward and registry version."""
    service = _service(request)
    registry = service.registry()
    if registry is None:
        raise Problem(404, "not-found", "this node is not in a network")
    return web.json_response(
        {
            "id": registry.network,
            "name": registry.name,
            "steward": registry.steward,
            "registryVersion": registry.version,
            "registry": f"{registry.network}/registry/{registry.version}",
            "members": [
                {"id": m.did, "name": m.name, "roles": list(m.roles), "endpoint": m.endpoint}
                for m in registry.active_members(service.now())
            ],
        }
    )


@public("a membership credential is meant to be shown to anyone")
async def get_membership(request: web.Request) -> web.Response:
    """``GET /federation/membership``: this node's membership credential."""
    membership = _service(request).membership()
    if membership is None:
        raise Problem(404, "not-found", "this node holds no membership credential")
    return web.json_response(membership)


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.query.get(name, str(default)))
    except ValueError:
        raise Problem(400, "bad-request", f"{name} must be a number") from None
    if not low <= value <= high:
        raise Problem(400, "bad-request", f"{name} must be between {low} and {high}")
    return value


@public("the network catalogue lists members' public achievements and training offers")
async def get_catalogue(request: web.Request) -> web.Response:
    """``GET /federation/catalogue?q=&skill=&issuer=&lang=&kind=&retired=&limit=&offset=``."""
    query = request.query
    kind = query.get("kind") or None
    if kind not in (None, "achievement", "offer"):
        raise Problem(400, "bad-request", "kind is achievement or offer")
    for name in ("q", "skill", "issuer", "lang"):
        if len(query.get(name, "")) > 500:
            raise Problem(400, "bad-request", f"{name} is too long")
    result = _service(request).search(
        q=query.get("q") or None,
        skill=query.get("skill") or None,
        issuer=query.get("issuer") or None,
        lang=query.get("lang") or None,
        kind=kind,
        retired=query.get("retired", "") in ("1", "true", "yes"),
        limit=_int(request, "limit", 50, 1, 200),
        offset=_int(request, "offset", 0, 0, 10_000_000),
    )
    return web.json_response(result)


@public("endorsements are public credentials about public achievements")
async def get_endorsement(request: web.Request) -> web.Response:
    """``GET /federation/endorsements/{id}``: an endorsement credential kept by this node."""
    service = _service(request)
    url = f"{request.app[CONFIG].base_url}/federation/endorsements/{request.match_info['id']}"
    document = service.endorsement(url)
    if document is None:
        raise Problem(404, "not-found", "no such endorsement")
    return web.json_response(document, headers={"Access-Control-Allow-Origin": "*"})


@public("endorsements of an achievement are public")
async def list_endorsements(request: web.Request) -> web.Response:
    """``GET /federation/endorsements?subject=<achievement URL>``."""
    subject = request.query.get("subject")
    if not subject:
        raise Problem(400, "bad-request", "name the endorsed achievement in subject")
    service = _service(request)
    return web.json_response(
        {
            "endorsements": [
                service.endorsement(row["id"]) for row in service.store.endorsements_of(subject)
            ]
        }
    )


@public("training offers are published to the network and public")
async def get_offer(request: web.Request) -> web.Response:
    """``GET /federation/offers/{id}``."""
    row = _service(request).store.offer(request.match_info["id"])
    if row is None:
        raise Problem(404, "not-found", "no such training offer")
    return _json_text(row["document"])


# -- staff -------------------------------------------------------------------------------------


async def create_network(request: web.Request) -> web.Response:
    """``POST /federation/network`` (admin): become the steward of a new network."""
    await _auth(request).require_scope(request, "admin")
    body = await read_json(request)
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise Problem(422, "invalid-field", "name is required (at most 256 characters)")
    registry = await _service(request).create_network(name=name.strip())
    return web.json_response(dict(registry.document), status=201)


async def create_invitation(request: web.Request) -> web.Response:
    """``POST /federation/invitations`` (steward): ``{did?, name?, roles?, days?}``."""
    await _auth(request).require_scope(request, SCOPE)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise Problem(422, "invalid-field", "expected a JSON object")
    roles = body.get("roles", ["member"])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Problem(422, "invalid-field", "roles is a list of role names", field="roles")
    days = body.get("days", 7)
    if isinstance(days, bool) or not isinstance(days, int | float):
        raise Problem(422, "invalid-field", "days is a number", field="days")
    invitee = body.get("did")
    name = body.get("name")
    if invitee is not None and not isinstance(invitee, str):
        raise Problem(422, "invalid-field", "did is a DID", field="did")
    if name is not None and not isinstance(name, str):
        raise Problem(422, "invalid-field", "name is a text", field="name")
    document = _service(request).invite(
        invitee=invitee, name=name, roles=tuple(roles), days=float(days)
    )
    return web.json_response(document, status=201)


async def list_invitations(request: web.Request) -> web.Response:
    """``GET /federation/invitations`` (staff)."""
    await _auth(request).require_staff(request)
    return web.json_response({"invitations": _service(request).store.invitations()})


async def join_network(request: web.Request) -> web.Response:
    """``POST /federation/join`` (admin): ``{invitation}``: join the steward's network."""
    await _auth(request).require_scope(request, "admin")
    body = await read_json(request)
    invitation = body.get("invitation") if isinstance(body, dict) else None
    if not isinstance(invitation, dict):
        raise Problem(422, "invalid-field", "give the invitation", field="invitation")
    registry = await _service(request).join(invitation)
    return web.json_response(
        {"network": registry.network, "registryVersion": registry.version}, status=201
    )


async def leave_network(request: web.Request) -> web.Response:
    """``POST /federation/leave`` (admin): leave the network."""
    await _auth(request).require_scope(request, "admin")
    registry = await _service(request).leave()
    return web.json_response({"registryVersion": registry.version})


async def remove_member(request: web.Request) -> web.Response:
    """``POST /federation/members/remove`` (steward, admin): ``{member, purge?}``."""
    await _auth(request).require_scope(request, "admin")
    body = await read_json(request)
    member = body.get("member") if isinstance(body, dict) else None
    if not isinstance(member, str):
        raise Problem(422, "invalid-field", "name the member's DID", field="member")
    purge = bool(body.get("purge", False))
    registry = await _service(request).end_membership(member, reason="removed", purge=purge)
    return web.json_response({"registryVersion": registry.version})


async def get_status(request: web.Request) -> web.Response:
    """``GET /federation/status`` (staff): members, cursors, failures."""
    await _auth(request).require_staff(request)
    service = _service(request)
    status = service.status()
    if service.syncer is not None:
        status["sync"] = service.syncer.state()
    return web.json_response(status)


async def get_rejections(request: web.Request) -> web.Response:
    """``GET /federation/rejections`` (staff): refused messages, newest first."""
    await _auth(request).require_staff(request)
    limit = _int(request, "limit", 100, 1, 1000)
    return web.json_response({"rejections": _service(request).store.rejections(limit)})


async def post_sync(request: web.Request) -> web.Response:
    """``POST /federation/sync`` (scope federation): publish and pull now; new events by
    source."""
    await _auth(request).require_scope(request, SCOPE)
    service = _service(request)
    if service.syncer is None:
        raise Problem(409, "conflict", "the puller is not running")
    results = await service.syncer.pull_all()
    return web.json_response({"pulled": results, "status": service.status()})


async def post_endorsement(request: web.Request) -> web.Response:
    """``POST /federation/endorsements`` (scope federation): ``{achievement, comment?}``."""
    await _auth(request).require_scope(request, SCOPE)
    body = await read_json(request)
    achievement = body.get("achievement") if isinstance(body, dict) else None
    if not isinstance(achievement, str):
        raise Problem(422, "invalid-field", "name the achievement's URL", field="achievement")
    document = await _service(request).endorse(achievement, comment=body.get("comment"))
    return web.json_response(document, status=201, headers={"Location": document["id"]})


async def post_offer(request: web.Request) -> web.Response:
    """``POST /federation/offers`` (scope federation): publish a training offer."""
    await _auth(request).require_scope(request, SCOPE)
    document = _service(request).save_offer(await read_json(request))
    return web.json_response(document, status=201, headers={"Location": document["id"]})


async def put_offer(request: web.Request) -> web.Response:
    """``PUT /federation/offers/{id}`` (scope federation): publish a new version."""
    await _auth(request).require_scope(request, SCOPE)
    document = _service(request).save_offer(
        await read_json(request), offer_id=request.match_info["id"]
    )
    return web.json_response(document)


async def retire_offer(request: web.Request) -> web.Response:
    """``POST /federation/offers/{id}/retire`` (scope federation)."""
    await _auth(request).require_scope(request, SCOPE)
    _service(request).retire_offer(request.match_info["id"])
    return web.json_response({"retired": True})


async def get_bundle(request: web.Request) -> web.Response:
    """``GET /federation/bundle`` (scope federation): a signed offline verification bundle."""
    await _auth(request).require_scope(request, SCOPE)
    bundle = _service(request).bundle()
    return web.json_response(
        bundle, headers={"Content-Disposition": 'attachment; filename="bundle.json"'}
    )


def add_routes(app: web.Application) -> None:
    """Register every federation route."""
    router = app.router
    router.add_get("/federation/feed", get_feed)
    router.add_post("/federation/notify", post_notify)
    router.add_get("/federation/registry", get_registry)
    router.add_get("/federation/network", get_network)
    router.add_post("/federation/network", create_network)
    router.add_get("/federation/network/registry", get_registry)
    router.add_get("/federation/network/registry/{version}", get_registry_version)
    router.add_post("/federation/network/join", post_join)
    router.add_post("/federation/network/leave", post_leave)
    router.add_get("/federation/membership", get_membership)
    router.add_post("/federation/invitations", create_invitation)
    router.add_get("/federation/invitations", list_invitations)
    router.add_post("/federation/join", join_network)
    router.add_post("/federation/leave", leave_network)
    router.add_post("/federation/members/remove", remove_member)
    router.add_get("/federation/status", get_status)
    router.add_get("/federation/rejections", get_rejections)
    router.add_post("/federation/sync", post_sync)
    router.add_get("/federation/catalogue", get_catalogue)
    router.add_get("/federation/endorsements", list_endorsements)
    router.add_post("/federation/endorsements", post_endorsement)
    router.add_get("/federation/endorsements/{id}", get_endorsement)
    router.add_post("/federation/offers", post_offer)
    router.add_get("/federation/offers/{id}", get_offer)
    router.add_put("/federation/offers/{id}", put_offer)
    router.add_post("/federation/offers/{id}/retire", retire_offer)
    router.add_get("/federation/bundle", get_bundle)
    auth = app[SERVICES].get("auth")
    if auth is not None and hasattr(auth, "register_scope"):
        auth.register_scope(SCOPE, SCOPE_DESCRIPTION)
