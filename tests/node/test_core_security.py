"""Every private route refuses anonymous callers; scopes; body limits; problem details.

The anonymous-access test walks the app's whole router, so it also covers routes that other
components add: a route is reachable without credentials only if its handler is marked with
``node.auth.public("reason")``. The core's own public routes are pinned in CORE_PUBLIC_ROUTES.
"""

from __future__ import annotations

import re

import pytest

from node.auth import is_public

#: The node core's routes that answer without credentials, each for a stated reason.
CORE_PUBLIC_ROUTES = {
    ("GET", "/.well-known/did.json"),  # verifiers resolve the issuer's keys
    ("GET", "/achievements/{id}"),  # credentials point at their achievement by URL
    ("POST", "/auth/login"),
    ("GET", "/staff"),  # redirects to /staff/
    ("GET", "/staff/login"),
    ("POST", "/staff/login"),
}
CORE_MODULES = ("node.identity", "node.auth", "node.achievements", "node.web.pages")


def _routes(app):
    """(method, path template, handler) of every route, HEAD left out (it mirrors GET)."""
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        template = info.get("formatter") or info.get("path") or info.get("prefix")
        if template is None or route.method == "HEAD":
            continue
        method = "GET" if route.method == "*" else route.method
        out.append((method, template, route.handler))
    return out


def _concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", template)


async def test_every_private_route_refuses_anonymous_requests(node):
    routes = _routes(node.app)
    assert len(routes) >= 20
    checked = []
    for method, template, handler in routes:
        if is_public(handler):
            continue
        async with node.session.request(
            method,
            node.url(_concrete(template)),
            json={} if method in ("POST", "PUT", "PATCH", "DELETE") else None,
            headers={"Accept": "application/json"},
            allow_redirects=False,
        ) as r:
            body = await r.text()
            assert r.status == 401, f"{method} {template} answered {r.status} anonymously: {body}"
            assert r.content_type == "application/problem+json", f"{method} {template}"
        checked.append((method, template))
    assert ("POST", "/api/achievements") in checked
    assert ("POST", "/admin/keys/rotate") in checked


def test_core_public_routes_are_exactly_the_allowlist(node):
    public = {
        (method, template)
        for method, template, handler in _routes(node.app)
        if is_public(handler) and handler.__module__ in CORE_MODULES
    }
    assert public == CORE_PUBLIC_ROUTES


def test_public_routes_state_a_reason(node):
    for _, _, handler in _routes(node.app):
        reason = is_public(handler)
        assert reason is None or reason.strip()


#: Core routes and the scope each needs ("staff": any signed-in principal).
SCOPED_ROUTES = [
    ("GET", "/admin/identities", "admin"),
    ("POST", "/admin/identities", "admin"),
    ("POST", "/admin/keys/rotate", "admin"),
    ("GET", "/api/tokens", "admin"),
    ("POST", "/api/tokens", "admin"),
    ("DELETE", "/api/tokens/1", "admin"),
    ("GET", "/api/staff", "admin"),
    ("POST", "/api/staff", "admin"),
    ("POST", "/api/achievements", "achievements:write"),
    ("PUT", "/api/achievements/x", "achievements:write"),
    ("POST", "/api/achievements/x/retire", "achievements:write"),
    ("GET", "/staff/achievements/new", "achievements:write"),
    ("POST", "/staff/achievements/new", "achievements:write"),
    ("GET", "/staff/achievements/x/edit", "achievements:write"),
    ("POST", "/staff/achievements/x/edit", "achievements:write"),
    ("POST", "/staff/achievements/x/retire", "achievements:write"),
]


@pytest.mark.parametrize(("method", "path", "scope"), SCOPED_ROUTES)
async def test_tokens_without_the_scope_are_forbidden(node, method, path, scope):
    other = "requests:review"
    assert other != scope
    token = node.make_token(other)
    async with node.session.request(
        method,
        node.url(path),
        json={} if method != "GET" else None,
        headers={"Authorization": f"Bearer {token}"},
    ) as r:
        assert r.status == 403, await r.text()
        assert r.content_type == "application/problem+json"
        assert scope in (await r.json())["detail"]


async def test_any_principal_reads_the_staff_api(node):
    token = node.make_token("requests:review")
    for path in ("/api/achievements", f"/api/achievements/{node.samples[0]}", "/auth/session"):
        async with node.session.get(
            node.url(path), headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 200, path


async def test_oversized_and_malformed_bodies(start_node):
    async with start_node(max_body_bytes=4096, max_upload_bytes=64 * 1024) as node:
        url = node.url("/api/achievements")
        big = {"name": "x", "description": "y" * 5000, "criteria": {"narrative": "z"}}
        cases = [
            ({"json": big}, 413),
            ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
            ({"data": b'{"a": 1, "a": 2}', "headers": {"Content-Type": "application/json"}}, 400),
            (
                {"data": b"[" * 200 + b"]" * 200, "headers": {"Content-Type": "application/json"}},
                400,
            ),
            ({"data": b'{"a": "\xff"}', "headers": {"Content-Type": "application/json"}}, 400),
            ({"data": b"name=x", "headers": {"Content-Type": "text/plain"}}, 415),
        ]
        for kwargs, status in cases:
            headers = {**node.auth, **kwargs.pop("headers", {})}
            async with node.session.post(url, headers=headers, **kwargs) as r:
                assert r.status == status, (kwargs, await r.text())
                assert r.content_type == "application/problem+json"
                problem = await r.json()
                assert problem["status"] == status and problem["detail"]
        # Upload endpoints are capped by max_upload_bytes (the form is read before anything).
        csrf = await node.login()
        async with node.session.post(
            node.url("/staff/achievements/new"),
            data={"csrf_token": csrf, "name_en": "x" * (100 * 1024)},
        ) as r:
            assert r.status == 413
            assert r.content_type == "application/problem+json"
        # Unknown routes and methods are problems too.
        async with node.session.get(node.url("/no/such/page")) as r:
            assert r.status == 404 and r.content_type == "application/problem+json"
        async with node.session.patch(node.url("/api/achievements")) as r:
            assert r.status == 405 and r.content_type == "application/problem+json"
