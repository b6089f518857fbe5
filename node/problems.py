"""Errors as RFC 9457 problem details: the one place exceptions become HTTP responses.

Handlers raise :class:`Problem` (or let a :class:`protocol.errors.ProtocolError` through);
:func:`problem_middleware` renders ``application/problem+json`` with a stable ``type`` URI per
kind (listed in ``specs/node-api.md``). Anything unexpected is logged and becomes a 500 without
internals.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from protocol.errors import (
    MalformedError,
    ProtocolError,
    UnsupportedError,
    VerificationError,
)

__all__ = ["PROBLEM_BASE", "Problem", "problem_middleware", "problem_response", "read_json"]

log = logging.getLogger("passeport.node")

#: Base of our problem type URIs (documented, not dereferenced).
PROBLEM_BASE = "https://passeport.example/problems/"
JSON_PROBLEM = "application/problem+json"
#: Media types accepted for JSON bodies (VC 2.0, OB 3.0 and plain JSON; empty when omitted).
JSON_TYPES = frozenset(
    {
        "application/json",
        "application/ld+json",
        "application/vc+ld+json",
        "application/vc",
        "application/vp",
        "",
    }
)


class Problem(Exception):
    """An HTTP error with a problem-details body."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.title = title or kind.replace("-", " ").capitalize()
        self.headers = headers or {}
        self.extra = extra


def problem_response(problem: Problem) -> web.Response:
    """Render a :class:`Problem`."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + problem.kind,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
    }
    body.update(problem.extra)
    return web.Response(
        status=problem.status,
        text=json.dumps(body, ensure_ascii=False),
        content_type=JSON_PROBLEM,
        headers=problem.headers,
    )


def _from_protocol(exc: ProtocolError) -> Problem:
    if isinstance(exc, MalformedError):
        return Problem(400, "malformed", exc.message, code=exc.code)
    if isinstance(exc, (UnsupportedError, VerificationError)):
        return Problem(422, "unprocessable", exc.message, code=exc.code)
    return Problem(422, "unprocessable", exc.message, code=exc.code)


_HTTP_KINDS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "too-many-requests",
}


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn every failure into problem details."""
    try:
        return await handler(request)
    except Problem as problem:
        return problem_response(problem)
    except ProtocolError as exc:
        return problem_response(_from_protocol(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kind = _HTTP_KINDS.get(exc.status, "http-error")
        detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        if exc.status == 413:
            detail = "the request body is larger than this endpoint accepts"
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return problem_response(Problem(exc.status, kind, detail, headers=headers))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(
            Problem(500, "internal-error", "the node hit an unexpected error; it was logged")
        )


async def read_json(request: web.Request, *, max_bytes: int | None = None) -> Any:
    """The request body as strict JSON, or a 400/413/415 problem."""
    from protocol.encoding import parse_json

    ctype = request.content_type
    if ctype not in JSON_TYPES and not ctype.endswith("+json"):
        raise Problem(415, "unsupported-media-type", f"expected JSON, got {ctype}")
    limit = max_bytes if max_bytes is not None else request.app[_max_body_key()]
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, "payload-too-large", f"the body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise Problem(413, "payload-too-large", f"the body exceeds {limit} bytes")
    data = b"".join(chunks)
    try:
        return parse_json(data, max_bytes=limit)
    except MalformedError as exc:
        raise Problem(400, "malformed", exc.message) from None


def _max_body_key() -> web.AppKey[int]:
    from .appkeys import MAX_BODY

    return MAX_BODY
