"""Staff authentication: logins, sessions and CSRF, rate limits, API tokens and scopes."""

from __future__ import annotations

from http.cookies import SimpleCookie

from tests.node.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

SAMPLE = {
    "name": "Test badge",
    "description": "For tests.",
    "criteria": {"narrative": "Run the tests."},
}


async def _problem(response, status):
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    return await response.json()


async def test_login_sets_a_strict_session_cookie(node):
    async with node.session.post(
        node.url("/auth/login"), json={"email": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD}
    ) as r:
        assert r.status == 200, await r.text()
        body = await r.json()
        raw = r.headers.getall("Set-Cookie")
    assert body["email"] == ADMIN_EMAIL and body["role"] == "admin" and body["csrfToken"]
    cookie = SimpleCookie()
    cookie.load(raw[0])
    morsel = cookie["passeport_session"]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/"
    assert not morsel["secure"]  # plain http on loopback; https nodes set Secure
    async with node.session.get(node.url("/auth/session")) as r:
        me = await r.json()
    assert me["kind"] == "session" and me["email"] == ADMIN_EMAIL
    assert me["csrfToken"] == body["csrfToken"]
    # The database keeps only a hash of the session token.
    token = morsel.value
    rows = node.service("auth")._db.execute("SELECT token_hash FROM sessions").fetchall()
    assert rows and all(token not in row[0] for row in rows)


async def test_login_by_form_and_wrong_password(node):
    async with node.session.post(
        node.url("/auth/login"), data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    ) as r:
        assert r.status == 200
    async with node.new_session() as other:
        async with other.post(
            node.url("/auth/login"), json={"email": ADMIN_EMAIL, "password": "wrong password!"}
        ) as r:
            problem = await _problem(r, 401)
            assert "Set-Cookie" not in r.headers
        assert problem["detail"] == "wrong e-mail or password"
        async with other.post(
            node.url("/auth/login"), json={"email": "nobody@example.org", "password": "x" * 12}
        ) as r:
            assert (await _problem(r, 401))["detail"] == "wrong e-mail or password"
        async with other.post(node.url("/auth/login"), json={"email": ADMIN_EMAIL}) as r:
            await _problem(r, 400)
        async with other.post(
            node.url("/auth/login"),
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            headers={"Origin": "https://evil.example"},
        ) as r:
            await _problem(r, 403)


async def test_login_rate_limit_per_account_and_per_address(start_node, clock):
    async with start_node(clock=clock, login_max_failures=3, login_window_seconds=60) as node:
        for _ in range(3):
            async with node.session.post(
                node.url("/auth/login"), json={"email": ADMIN_EMAIL, "password": "bad password"}
            ) as r:
                assert r.status == 401
        async with node.session.post(
            node.url("/auth/login"), json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        ) as r:
            problem = await _problem(r, 429)
            assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert "too many" in problem["detail"]
        clock.advance(61)
        async with node.session.post(
            node.url("/auth/login"), json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        ) as r:
            assert r.status == 200
        # Per client address: failures spread over many accounts still trip the limit.
        clock.advance(61)
        for i in range(3):
            async with node.session.post(
                node.url("/auth/login"),
                json={"email": f"user{i}@example.org", "password": "bad password"},
            ) as r:
                assert r.status == 401
        async with node.session.post(
            node.url("/auth/login"), json={"email": "other@example.org", "password": "bad pass"}
        ) as r:
            await _problem(r, 429)


async def test_cookie_sessions_need_the_csrf_token(node):
    csrf = await node.login()
    async with node.session.post(node.url("/api/achievements"), json=SAMPLE) as r:
        problem = await _problem(r, 403)
    assert "CSRF" in problem["detail"]
    async with node.session.post(
        node.url("/api/achievements"), json=SAMPLE, headers={"X-CSRF-Token": "forged"}
    ) as r:
        await _problem(r, 403)
    async with node.session.post(
        node.url("/api/achievements"), json=SAMPLE, headers={"X-CSRF-Token": csrf}
    ) as r:
        assert r.status == 201, await r.text()
    # Safe methods need no token.
    async with node.session.get(node.url("/api/achievements")) as r:
        assert r.status == 200
    # Logging out needs it too, and ends the session.
    async with node.session.post(node.url("/auth/logout")) as r:
        await _problem(r, 403)
    async with node.session.post(node.url("/auth/logout"), headers={"X-CSRF-Token": csrf}) as r:
        assert r.status == 200
    async with node.session.get(node.url("/api/achievements")) as r:
        await _problem(r, 401)


async def test_sessions_expire(start_node, clock):
    async with start_node(clock=clock, session_ttl_seconds=600) as node:
        await node.login()
        async with node.session.get(node.url("/auth/session")) as r:
            assert r.status == 200
        clock.advance(601)
        async with node.session.get(node.url("/auth/session")) as r:
            await _problem(r, 401)


async def test_api_tokens_scopes_and_revocation(node):
    reader = node.make_token("staff")
    writer = node.make_token("achievements:write")
    async with node.session.get(
        node.url("/api/achievements"), headers={"Authorization": f"Bearer {reader}"}
    ) as r:
        assert r.status == 200
    async with node.session.post(
        node.url("/api/achievements"), json=SAMPLE, headers={"Authorization": f"Bearer {reader}"}
    ) as r:
        problem = await _problem(r, 403)
    assert "achievements:write" in problem["detail"]
    async with node.session.post(
        node.url("/api/achievements"), json=SAMPLE, headers={"Authorization": f"Bearer {writer}"}
    ) as r:
        assert r.status == 201
    # Only admins manage tokens.
    async with node.session.post(
        node.url("/api/tokens"),
        json={"scopes": ["admin"]},
        headers={"Authorization": f"Bearer {writer}"},
    ) as r:
        await _problem(r, 403)
    async with node.session.post(
        node.url("/api/tokens"),
        json={"name": "ci", "scopes": ["credentials:issue"]},
        headers=node.auth,
    ) as r:
        assert r.status == 201
        created = await r.json()
    assert created["token"].startswith("pst_") and created["scopes"] == ["credentials:issue"]
    async with node.session.get(node.url("/api/tokens"), headers=node.auth) as r:
        listed = (await r.json())["tokens"]
    assert all("token" not in t for t in listed)
    used = {t["name"]: t["lastUsedAt"] for t in listed}
    assert used["fixture"] is not None and used["ci"] is None
    async with node.session.post(
        node.url("/api/tokens"), json={"scopes": ["nonsense"]}, headers=node.auth
    ) as r:
        await _problem(r, 422)
    async with node.session.delete(
        node.url(f"/api/tokens/{created['id']}"), headers=node.auth
    ) as r:
        assert r.status == 200
    async with node.session.get(
        node.url("/api/achievements"), headers={"Authorization": f"Bearer {created['token']}"}
    ) as r:
        problem = await _problem(r, 401)
    assert "revoked" in problem["detail"]
    for header in ("Bearer pst_unknown", "Basic YWRtaW46YWRtaW4=", "Bearer "):
        async with node.session.get(
            node.url("/api/achievements"), headers={"Authorization": header}
        ) as r:
            await _problem(r, 401)
    # Tokens are stored as hashes only.
    rows = node.service("auth")._db.execute("SELECT token_hash FROM api_tokens").fetchall()
    assert all(created["token"] not in row[0] and len(row[0]) == 64 for row in rows)


async def test_staff_role_has_no_admin_scope(node):
    async with node.session.post(
        node.url("/api/staff"),
        json={"email": "clerk@example.org", "password": "a long enough password", "role": "staff"},
        headers=node.auth,
    ) as r:
        assert r.status == 201, await r.text()
    async with node.new_session() as clerk:
        csrf = await node.login(clerk, email="clerk@example.org", password="a long enough password")
        async with clerk.post(
            node.url("/api/achievements"), json=SAMPLE, headers={"X-CSRF-Token": csrf}
        ) as r:
            assert r.status == 201
        async with clerk.post(
            node.url("/api/tokens"), json={"scopes": ["staff"]}, headers={"X-CSRF-Token": csrf}
        ) as r:
            await _problem(r, 403)
    async with node.session.post(
        node.url("/api/staff"),
        json={"email": "short@example.org", "password": "short", "role": "staff"},
        headers=node.auth,
    ) as r:
        assert "12" in (await _problem(r, 422))["detail"]


def test_https_nodes_set_secure_cookies(tmp_path):
    from node.auth import AuthService
    from node.config import NodeConfig

    secure = AuthService(NodeConfig(data_dir=tmp_path, public_url="https://b.example"), None)
    plain = AuthService(NodeConfig(data_dir=tmp_path, public_url="http://localhost:1"), None)
    assert secure.secure_cookies and not plain.secure_cookies
