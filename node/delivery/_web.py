"""Small HTTP helpers shared by the delivery and badge-request components."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from ..appkeys import SERVICES
from ..auth import public as _public
from ..problems import Problem

__all__ = [
    "NO_STORE",
    "json_response",
    "oauth_error",
    "public",
    "require_scope",
    "wants_json",
]

_H = TypeVar("_H", bound=Callable[..., Awaitable[web.StreamResponse]])

#: Headers of responses that carry secrets (tokens, nonces, credentials, offers).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def public(reason: str) -> Callable[[_H], _H]:
    """Mark a handler as reachable without staff credentials, saying why."""
    return _public(reason)


async def require_scope(request: web.Request, scope: str) -> Any:
    """The staff principal holding ``scope`` (401/403 problems otherwise)."""
    auth = request.app[SERVICES].get("auth")
    if auth is None:
        raise Problem(401, "unauthorized", "this node has no staff authentication")
    return await auth.require_scope(request, scope)


def principal_name(principal: Any) -> str | None:
    """A short label of who acted (staff e-mail or token id), for audit columns."""
    email = getattr(principal, "email", None)
    if email:
        return str(email)
    token_id = getattr(principal, "token_id", None)
    return f"token:{token_id}" if token_id is not None else None


def wants_json(request: web.Request) -> bool:
    """Whether the client prefers JSON to HTML (``Accept``; no Accept means JSON)."""
    accept = request.headers.get("Accept", "")
    if not accept or accept.strip() == "*/*":
        return True
    best_json = "json" in accept
    best_html = "text/html" in accept
    if best_json and best_html:
        return accept.index("json") < accept.index("text/html")
    return best_json or not best_html


def json_response(
    body: Any,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> web.Response:
    """A JSON response (UTF-8, compact)."""
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type=content_type,
        headers=headers,
    )


def oauth_error(
    status: int, error: str, description: str, *, headers: dict[str, str] | None = None
) -> web.Response:
    """An OAuth 2.0 / OID4VCI error response (``{"error", "error_description"}``)."""
    return json_response(
        {"error": error, "error_description": description},
        status=status,
        headers={**NO_STORE, **(headers or {})},
    )
