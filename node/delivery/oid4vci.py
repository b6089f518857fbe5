"""OpenID for Verifiable Credential Issuance 1.0, pre-authorized code flow (``ldp_vc``).

https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html

* ``GET /.well-known/openid-credential-issuer``: Credential Issuer Metadata (section 12.2);
* ``GET /.well-known/oauth-authorization-server``: RFC 8414 metadata of the token endpoint,
  with ``pre-authorized_grant_anonymous_access_supported``;
* ``POST /token``: the pre-authorized code grant (section 6), single use, optional ``tx_code``;
* ``POST /nonce``: a fresh single-use ``c_nonce`` (section 7);
* ``POST /credential``: Bearer access token, one key proof (``jwt`` or ``di_vp``) binding the
  holder DID (section 8 and appendix F); the response carries the credential as a JSON object.

Errors follow the specification: ``{"error", "error_description"}`` with RFC 6749 codes at the
token endpoint and OID4VCI codes (``invalid_proof``, ``invalid_nonce``, ...) at the credential
endpoint; ``invalid_token`` is a 401 with ``WWW-Authenticate``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

from protocol.ob.model import OB_CONTEXT_3_0_3, VC_CONTEXT_V2

from ..appkeys import CLOCK, CONFIG, DB, SERVICES
from ..problems import Problem, read_json
from . import store
from ._web import NO_STORE, json_response, oauth_error, public
from .holder import (
    DI_VP_SUITES,
    HolderProofError,
    claimed_nonce,
    verify_jwt_proof,
    verify_presentation_proof,
)
from .jws import JWS_ALGORITHMS
from .service import (
    CONFIG_EDDSA,
    CONFIG_SD,
    PRE_AUTHORIZED_GRANT,
    DeliveryError,
    DeliveryService,
    OfferUnavailable,
)

__all__ = ["ACCESS_TOKEN_TTL_SECONDS", "NONCE_TTL_SECONDS", "issuer_metadata", "setup_routes"]

#: Lifetime of an access token, in seconds (long enough to fetch a nonce and both copies).
ACCESS_TOKEN_TTL_SECONDS = 600
#: Lifetime of a c_nonce, in seconds.
NONCE_TTL_SECONDS = 300
#: Largest token request body, in bytes (a form with a code and a PIN).
MAX_FORM_BYTES = 8 * 1024
#: Most unexpired nonces kept; beyond it /nonce answers 503 (bounds the table under a flood).
MAX_LIVE_NONCES = 100_000


def _service(request: web.Request) -> DeliveryService:
    service: DeliveryService = request.app[SERVICES]["delivery"]
    return service


def _configuration(
    config_id: str, suite: str, description: str, languages: tuple[str, ...]
) -> dict[str, Any]:
    return {
        "format": "ldp_vc",
        "scope": config_id,
        "cryptographic_binding_methods_supported": ["did:key", "did:web"],
        "credential_signing_alg_values_supported": [suite],
        "proof_types_supported": {
            "jwt": {"proof_signing_alg_values_supported": sorted(JWS_ALGORITHMS)},
            "di_vp": {"proof_signing_alg_values_supported": sorted(DI_VP_SUITES)},
        },
        "credential_definition": {
            "@context": [VC_CONTEXT_V2, OB_CONTEXT_3_0_3],
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
        },
        "credential_metadata": {
            "display": [{"name": "Open Badge", "locale": languages[0], "description": description}],
        },
    }


def issuer_metadata(app: web.Application) -> dict[str, Any]:
    """The Credential Issuer Metadata (OID4VCI 1.0 section 12.2.4)."""
    config = app[CONFIG]
    base = config.base_url
    return {
        "credential_issuer": base,
        "credential_endpoint": base + "/credential",
        "nonce_endpoint": base + "/nonce",
        "display": [{"name": config.name, "locale": lang} for lang in config.languages],
        "credential_configurations_supported": {
            CONFIG_EDDSA: _configuration(
                CONFIG_EDDSA,
                "eddsa-rdfc-2022",
                "Open Badges 3.0 credential secured with eddsa-rdfc-2022",
                config.languages,
            ),
            CONFIG_SD: _configuration(
                CONFIG_SD,
                "ecdsa-sd-2023",
                "The same credential with an ecdsa-sd-2023 base proof, for selective disclosure",
                config.languages,
            ),
        },
    }


@public("OID4VCI credential issuer metadata is public by definition")
async def credential_issuer_metadata(request: web.Request) -> web.Response:
    """``GET /.well-known/openid-credential-issuer``."""
    return json_response(issuer_metadata(request.app), headers={"Cache-Control": "max-age=300"})


@public("RFC 8414 authorization server metadata is public by definition")
async def authorization_server_metadata(request: web.Request) -> web.Response:
    """``GET /.well-known/oauth-authorization-server``."""
    base = request.app[CONFIG].base_url
    body = {
        "issuer": base,
        "token_endpoint": base + "/token",
        "response_types_supported": [],
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "token_endpoint_auth_methods_supported": ["none"],
        "pre-authorized_grant_anonymous_access_supported": True,
    }
    return json_response(body, headers={"Cache-Control": "max-age=300"})


async def _read_form(request: web.Request) -> dict[str, str]:
    if request.content_type != "application/x-www-form-urlencoded":
        raise _TokenError(
            "invalid_request",
            "the token request must be a form (application/x-www-form-urlencoded)",
        )
    # StreamReader.read(n) returns what has arrived: read until the end or past the cap.
    data = b""
    while len(data) <= MAX_FORM_BYTES:
        chunk = await request.content.read(MAX_FORM_BYTES + 1 - len(data))
        if not chunk:
            break
        data += chunk
    if len(data) > MAX_FORM_BYTES:
        raise _TokenError("invalid_request", f"the token request exceeds {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(
            data.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(data),
            max_num_fields=20,
        )
    except (UnicodeDecodeError, ValueError):
        raise _TokenError("invalid_request", "the token request is not a valid form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            # RFC 6749 section 3.2: parameters must not be included more than once.
            raise _TokenError("invalid_request", f"parameter {name!r} appears more than once")
        form[name] = value
    return form


class _TokenError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@public("the pre-authorized code in the form is the credential (OID4VCI section 6)")
async def token(request: web.Request) -> web.Response:
    """``POST /token``: exchange a pre-authorized code (once) for an access token."""
    try:
        return await _token(request)
    except _TokenError as exc:
        return oauth_error(exc.status, exc.error, exc.description)


async def _token(request: web.Request) -> web.Response:
    form = await _read_form(request)
    grant_type = form.get("grant_type")
    if not grant_type:
        raise _TokenError("invalid_request", "grant_type is required")
    if grant_type != PRE_AUTHORIZED_GRANT:
        raise _TokenError("unsupported_grant_type", f"only {PRE_AUTHORIZED_GRANT} is supported")
    code = form.get("pre-authorized_code")
    if not code:
        raise _TokenError("invalid_request", "pre-authorized_code is required")
    db = request.app[DB]
    now = request.app[CLOCK]()
    offer = store.offer_by_code(db, code)
    if offer is None:
        raise _TokenError("invalid_grant", "the pre-authorized code is unknown")
    status = offer.status(now)
    if offer.code_used or status == "claimed":
        raise _TokenError(
            "invalid_grant", "the pre-authorized code was already used; an offer works once"
        )
    if status != "offered":
        raise _TokenError("invalid_grant", OfferUnavailable(status).args[0])
    tx_code = form.get("tx_code")
    if offer.has_tx_code:
        if tx_code is None:
            raise _TokenError("invalid_request", "this offer needs its transaction code (tx_code)")
        if not offer.check_tx_code(tx_code):
            store.record_tx_failure(db, offer.id)
            raise _TokenError("invalid_grant", "the transaction code is wrong")
    elif tx_code is not None:
        raise _TokenError("invalid_request", "this offer has no transaction code")
    access_token = store.redeem_code(db, offer, now=now, ttl=ACCESS_TOKEN_TTL_SECONDS)
    if access_token is None:
        raise _TokenError("invalid_grant", "the pre-authorized code was already used")
    return json_response(
        {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL_SECONDS,
        },
        headers=NO_STORE,
    )


@public("OID4VCI nonce endpoint: anonymous by definition, nonces are single use")
async def nonce(request: web.Request) -> web.Response:
    """``POST /nonce``: a fresh single-use ``c_nonce``."""
    db = request.app[DB]
    now = request.app[CLOCK]()
    live = db.execute(
        "select count(*) from delivery_nonces where expires_at > ?", [store.epoch(now)]
    ).fetchone()[0]
    if live >= MAX_LIVE_NONCES:
        raise Problem(
            503, "busy", "too many outstanding nonces; retry shortly", headers={"Retry-After": "30"}
        )
    value = store.new_nonce(db, now=now, ttl=NONCE_TTL_SECONDS)
    return json_response({"c_nonce": value}, headers=NO_STORE)


class _CredentialError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@public("authorised by the OID4VCI access token (Bearer) checked in the handler")
async def credential(request: web.Request) -> web.Response:
    """``POST /credential``: the credential, bound to the DID the key proof proves."""
    try:
        return await _credential(request)
    except _CredentialError as exc:
        headers = None
        if exc.error == "invalid_token":
            headers = {
                "WWW-Authenticate": f'Bearer error="invalid_token", '
                f'error_description="{exc.description}"'
            }
        return oauth_error(exc.status, exc.error, exc.description, headers=headers)


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _CredentialError(
            "invalid_token", "an access token (Authorization: Bearer) is required", 401
        )
    return value.strip()


def _proof(body: dict[str, Any]) -> tuple[str, Any]:
    if "proof" in body:
        raise _CredentialError(
            "invalid_credential_request", "use 'proofs' (OID4VCI 1.0), not the draft 'proof' member"
        )
    proofs = body.get("proofs")
    if not isinstance(proofs, dict) or len(proofs) != 1:
        raise _CredentialError(
            "invalid_proof", "'proofs' must be an object with one proof type (jwt or di_vp)"
        )
    ((kind, items),) = proofs.items()
    if kind not in ("jwt", "di_vp"):
        raise _CredentialError("invalid_proof", f"proof type {kind!r} is not supported")
    if not isinstance(items, list) or len(items) != 1:
        raise _CredentialError("invalid_proof", "exactly one proof is accepted (no batch issuance)")
    return kind, items[0]


async def _credential(request: web.Request) -> web.Response:
    access_token = _bearer(request)
    db = request.app[DB]
    now = request.app[CLOCK]()
    offer = store.offer_for_token(db, access_token, now=now)
    if offer is None:
        raise _CredentialError("invalid_token", "the access token is unknown or expired", 401)
    try:
        body = await read_json(request)
    except Problem as exc:
        raise _CredentialError("invalid_credential_request", exc.detail, exc.status) from None
    if not isinstance(body, dict):
        raise _CredentialError("invalid_credential_request", "the body must be a JSON object")
    if "credential_identifier" in body:
        raise _CredentialError(
            "unknown_credential_identifier",
            "this issuer does not hand out credential identifiers; send "
            "credential_configuration_id",
        )
    config_id = body.get("credential_configuration_id")
    if not isinstance(config_id, str):
        raise _CredentialError(
            "invalid_credential_request", "credential_configuration_id is required"
        )
    if config_id not in offer.configurations:
        raise _CredentialError(
            "unknown_credential_configuration",
            f"{config_id!r} is not offered with this access token",
        )
    kind, proof = _proof(body)
    service = _service(request)
    issuer_id = service.issuer_id
    try:
        claimed = claimed_nonce(kind, proof)
        # The nonce is used up now, whether or not the proof then verifies.
        if not store.consume_nonce(db, claimed, now=now):
            raise HolderProofError(
                "the c_nonce is unknown, used or expired; get a new one from the nonce endpoint",
                error="invalid_nonce",
            )
        if kind == "jwt":
            proven = await verify_jwt_proof(
                request.app, proof, audience=issuer_id, nonce=claimed, now=now
            )
        else:
            proven = await verify_presentation_proof(
                request.app, proof, challenge=claimed, domain=issuer_id, now=now
            )
    except HolderProofError as exc:
        raise _CredentialError(exc.error, exc.description) from None
    try:
        vc = await service.deliver(offer.id, holder=proven.holder, configuration=config_id, now=now)
    except OfferUnavailable as exc:
        raise _CredentialError("credential_request_denied", str(exc)) from None
    except DeliveryError as exc:
        status = 500 if exc.error == "server_error" else 400
        raise _CredentialError(exc.error, exc.description, status) from None
    return json_response({"credentials": [{"credential": vc}]}, headers=NO_STORE)


def setup_routes(app: web.Application) -> None:
    """Register the OID4VCI endpoints (and the path-suffixed well-known form if needed)."""
    path = urlsplit(app[CONFIG].base_url).path.rstrip("/")
    for suffix in {"", path}:
        app.router.add_get(
            "/.well-known/openid-credential-issuer" + suffix, credential_issuer_metadata
        )
        app.router.add_get(
            "/.well-known/oauth-authorization-server" + suffix, authorization_server_metadata
        )
    app.router.add_post("/token", token)
    app.router.add_post("/nonce", nonce)
    app.router.add_post("/credential", credential)
