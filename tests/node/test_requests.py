"""Badge requests: apply with evidence, review, add evidence when asked, approval issues the badge
through an offer, files are sniffed, capped and only served as attachments, anonymous writes are
rate-limited, private endpoints refuse without credentials."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
import pytest

from node.requests import MAX_FILE_BYTES, MAX_FILES_PER_REQUEST, SUBMISSIONS_PER_WINDOW, sniff
from protocol.did import Resolver
from protocol.verify import verify
from tests.node.test_delivery_support import Harness, wallet_key

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
async def h(start_node: Any, clock: Any) -> Any:
    async with start_node(clock=clock, offer_ttl_seconds=3600) as node:
        yield Harness(node, clock)


def _form(fields: dict[str, str], files: list[tuple[str, bytes, str]]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for filename, data, declared in files:
        form.add_field("file", io.BytesIO(data), filename=filename, content_type=declared)
    return form


async def _submit(h: Harness, **body: Any) -> dict[str, Any]:
    body = {
        "achievementId": h.node.samples[0],
        "email": "Grace@Example.org",
        "name": "Grace Hopper",
        "narrative": "I compiled the first compiler.",
        "links": [
            "https://example.org/compiler",
            {"url": "https://example.org/talk", "name": "My talk"},
        ],
        **body,
    }
    async with h.session.post(h.url("/requests"), json=body) as resp:
        assert resp.status == 201, await resp.text()
        assert resp.headers["Location"].startswith(h.issuer + "/requests/status/")
        return dict(await resp.json())


async def _review(
    h: Harness,
    request_id: str,
    decision: str,
    comment: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    body: dict[str, Any] = {"decision": decision}
    if comment is not None:
        body["comment"] = comment
    async with h.session.post(
        h.url(f"/api/requests/{request_id}/review"), json=body, headers=headers or h.staff
    ) as resp:
        return resp.status, await resp.json()


async def test_request_lifecycle(h: Harness) -> None:
    created = await _submit(h)
    token, request_id = created["token"], created["id"]
    assert created["state"] == "submitted"
    assert "email" not in created  # the earner's view does not echo the address
    status = await h.get_json(created["statusUrl"])
    assert status["state"] == "submitted"
    assert [e["kind"] for e in status["evidence"]] == ["text", "link", "link"]
    # Staff see it waiting, ask for more.
    waiting = (await h.get_json("/api/requests?state=submitted", headers=h.staff))["requests"]
    assert [r["id"] for r in waiting] == [request_id]
    assert waiting[0]["email"] == "grace@example.org"
    code, body = await _review(h, request_id, "needs-info")
    assert code == 422  # a comment is required to ask for more
    code, body = await _review(h, request_id, "needs-info", "Please add the program listing.")
    assert code == 200 and body["state"] == "needs-info"
    status = await h.get_json(created["statusUrl"])
    assert status["state"] == "needs-info"
    assert status["history"][-1]["comment"] == "Please add the program listing."
    assert "staff" not in status["history"][-1]  # reviewers stay anonymous to earners
    # The earner adds evidence: a PDF (declared as something else) and a text file.
    form = _form(
        {"narrative": "Here is the listing."},
        [
            ("listing.pdf", PDF, "application/octet-stream"),
            ("notes.txt", "Résumé of the run\n".encode(), "text/html"),
        ],
    )
    async with h.session.post(
        h.url(f"/requests/status/{token}/evidence"),
        data=form,
        headers={"Accept": "application/json"},
    ) as resp:
        assert resp.status == 200, await resp.text()
        body = await resp.json()
    assert body["state"] == "submitted"
    files = [e for e in body["evidence"] if e["kind"] == "file"]
    assert [(f["filename"], f["contentType"]) for f in files] == [
        ("listing.pdf", "application/pdf"),
        ("notes.txt", "text/plain; charset=utf-8"),
    ]
    # Staff approve with a comment: an offer is made for the earner.
    code, body = await _review(h, request_id, "approve", "Well documented.")
    assert code == 200 and body["state"] == "approved", body
    assert body["offers"][0]["status"] == "offered"
    status = await h.get_json(created["statusUrl"])
    assert status["state"] == "approved"
    assert status["history"][-1] == {
        "at": status["history"][-1]["at"],
        "actor": "staff",
        "action": "approved",
        "comment": "Well documented.",
    }
    link = status["offer"]["links"]["openidCredentialOffer"]
    # The earner claims the badge: evidence narratives and links are in the credential.
    key = wallet_key()
    credential = await h.claim(link, key)
    assert credential["credentialSubject"]["id"] == key.controller
    evidence = credential["evidence"]
    assert {"type": ["Evidence"], "narrative": "I compiled the first compiler."} in evidence
    assert {"type": ["Evidence"], "narrative": "Here is the listing."} in evidence
    assert {"id": "https://example.org/talk", "type": ["Evidence"], "name": "My talk"} in evidence
    assert {
        "id": "https://example.org/compiler",
        "type": ["Evidence"],
        "name": "https://example.org/compiler",
    } in evidence
    assert len(evidence) == 4  # files stay with the issuer
    did_doc = await h.get_json("/.well-known/did.json")
    report = verify(credential, now=h.clock(), resolver=Resolver({h.node.did: did_doc}))
    failed = [c for c in report.checks if c.status == "fail"]
    assert not failed, report.to_dict()
    status = await h.get_json(created["statusUrl"])
    assert status["offer"]["status"] == "claimed"
    # Decided requests stay decided; a claimed badge gets no second offer.
    assert (await _review(h, request_id, "reject"))[0] == 409
    async with h.session.post(
        h.url(f"/requests/status/{token}/offer"), headers={"Accept": "application/json"}
    ) as resp:
        assert resp.status == 409


async def test_reject(h: Harness) -> None:
    created = await _submit(h)
    code, body = await _review(h, created["id"], "reject", "Not enough evidence.")
    assert code == 200 and body["state"] == "rejected"
    assert "offer" not in body
    async with h.session.post(
        h.url(f"/requests/status/{created['token']}/evidence"), json={"narrative": "more"}
    ) as resp:
        assert resp.status == 409
    assert (await _review(h, created["id"], "approve"))[0] == 409
    assert (await _review(h, created["id"], "promote"))[0] == 422


async def test_evidence_only_when_asked(h: Harness) -> None:
    created = await _submit(h)
    async with h.session.post(
        h.url(f"/requests/status/{created['token']}/evidence"), json={"narrative": "unrequested"}
    ) as resp:
        assert resp.status == 409


async def test_new_offer_after_expiry(h: Harness) -> None:
    created = await _submit(h)
    await _review(h, created["id"], "approve")
    h.clock.advance(3601)  # type: ignore[attr-defined]
    status = await h.get_json(created["statusUrl"])
    assert status["offer"]["status"] == "expired" and "links" not in status["offer"]
    async with h.session.post(
        h.url(f"/requests/status/{created['token']}/offer"), headers={"Accept": "application/json"}
    ) as resp:
        assert resp.status == 201
    status = await h.get_json(created["statusUrl"])
    assert status["offer"]["status"] == "offered"
    async with h.session.post(
        h.url(f"/requests/status/{created['token']}/offer"), headers={"Accept": "application/json"}
    ) as resp:
        assert resp.status == 409  # one open offer at a time
    credential = await h.claim(status["offer"]["links"]["openidCredentialOffer"], wallet_key())
    assert credential["evidence"]


async def test_approval_needs_a_current_achievement(h: Harness) -> None:
    created = await _submit(h)
    async with h.session.post(
        h.url(f"/api/achievements/{h.node.samples[0]}/retire"), headers=h.staff
    ) as resp:
        assert resp.status == 200, await resp.text()
    code, _ = await _review(h, created["id"], "approve")
    assert code == 422
    status = await h.get_json(created["statusUrl"])
    assert status["state"] == "submitted"


async def test_submission_validation(h: Harness) -> None:
    sample = h.node.samples[0]
    bad = [
        ({"achievementId": "nope", "email": "a@b.org", "narrative": "x"}, 422),
        ({"achievementId": sample, "email": "not-an-address", "narrative": "x"}, 422),
        ({"achievementId": sample, "email": "a@b.org"}, 422),
        ({"achievementId": sample, "email": "a@b.org", "narrative": "x", "role": "admin"}, 422),
        ({"achievementId": sample, "email": "a@b.org", "links": ["javascript:alert(1)"]}, 422),
        ({"achievementId": sample, "email": "a@b.org", "links": ["file:///etc/passwd"]}, 422),
        ({"achievementId": sample, "email": "a@b.org", "narrative": "x" * 10_001}, 422),
        ({"achievementId": sample, "email": "a@b.org", "links": ["https://e.org"] * 21}, 422),
        ({"email": "a@b.org", "narrative": "x"}, 422),
    ]
    for body, expected in bad:
        async with h.session.post(h.url("/requests"), json=body) as resp:
            assert resp.status == expected, (body, await resp.text())
            assert resp.content_type == "application/problem+json"
    async with h.session.post(
        h.url("/requests"), data=b"{", headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 400
    async with h.session.post(
        h.url("/requests"), data=b"x", headers={"Content-Type": "text/plain"}
    ) as resp:
        assert resp.status == 415


@pytest.mark.parametrize(
    ("filename", "data", "status"),
    [
        ("page.pdf", b"<html><script>alert(1)</script></html>", 415),
        ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', 415),
        ("page.txt", b"  \n<!doctype html><p>hi", 415),
        ("program.exe", b"MZ\x90\x00\x03\x00\x00\x00", 415),
        ("archive.zip", b"PK\x03\x04" + b"\x00" * 20, 415),
        ("latin1.txt", "café".encode("latin-1"), 415),
        ("ok.png", PNG, 201),
        ("ok.gif", b"GIF89a" + b"\x00" * 10, 201),
        ("ok.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 ", 201),
        ("ok.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 10, 201),
    ],
)
async def test_file_sniffing(h: Harness, filename: str, data: bytes, status: int) -> None:
    form = _form(
        {"achievementId": h.node.samples[0], "email": "a@b.org"},
        [(filename, data, "application/pdf")],
    )
    async with h.session.post(
        h.url("/requests"), data=form, headers={"Accept": "application/json"}
    ) as resp:
        assert resp.status == status, await resp.text()


def test_sniff_unit() -> None:
    assert sniff(PDF) == "application/pdf"
    assert sniff(b"\xef\xbb\xbfplain text") == "text/plain; charset=utf-8"
    assert sniff(b"\xef\xbb\xbf<html>") is None
    assert sniff(b"text with a \x1b escape") is None
    assert sniff(b"") == "text/plain; charset=utf-8"


async def test_file_limits(h: Harness) -> None:
    too_big = b"%PDF-" + b"0" * MAX_FILE_BYTES
    form = _form(
        {"achievementId": h.node.samples[0], "email": "a@b.org"},
        [("big.pdf", too_big, "application/pdf")],
    )
    async with h.session.post(h.url("/requests"), data=form) as resp:
        assert resp.status == 413
        assert resp.content_type == "application/problem+json"
    form = _form(
        {"achievementId": h.node.samples[0], "email": "a@b.org"},
        [(f"f{i}.pdf", PDF, "application/pdf") for i in range(MAX_FILES_PER_REQUEST + 1)],
    )
    async with h.session.post(h.url("/requests"), data=form) as resp:
        assert resp.status == 422
    form = _form(
        {"achievementId": h.node.samples[0], "email": "a@b.org", "narrative": "x" * 50_000},
        [("a.pdf", PDF, "application/pdf")],  # a file makes it multipart
    )
    async with h.session.post(h.url("/requests"), data=form) as resp:
        assert resp.status == 413
    # Nothing was stored by refused submissions.
    assert (await h.get_json("/api/requests", headers=h.staff))["requests"] == []


async def test_files_served_as_attachments_only(h: Harness) -> None:
    form = _form(
        {"achievementId": h.node.samples[0], "email": "a@b.org"},
        [("../../etc/pass\u202ewd<x>.txt", b"hello", "text/html"), ("scan.png", PNG, "image/png")],
    )
    async with h.session.post(
        h.url("/requests"), data=form, headers={"Accept": "application/json"}
    ) as resp:
        assert resp.status == 201, await resp.text()
        created = await resp.json()
    files = [e for e in created["evidence"] if e["kind"] == "file"]
    assert files[0]["filename"] == "pass\u202ewd<x>.txt".replace("\u202e", "")
    for url, headers in (
        (f"/requests/status/{created['token']}/files/{files[0]['fileId']}", {}),
        (f"/api/requests/{created['id']}/files/{files[0]['fileId']}", h.staff),
    ):
        async with h.session.get(h.url(url), headers=headers) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert resp.headers["Content-Disposition"].startswith("attachment;")
            assert "sandbox" in resp.headers["Content-Security-Policy"]
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert await resp.read() == b"hello"
    async with h.session.get(
        h.url(f"/api/requests/{created['id']}/files/{files[1]['fileId']}"), headers=h.staff
    ) as resp:
        assert resp.content_type == "image/png"
        assert resp.headers["Content-Disposition"].startswith("attachment;")
    # Another earner's token does not reach this file.
    other = await _submit(h)
    async with h.session.get(
        h.url(f"/requests/status/{other['token']}/files/{files[0]['fileId']}")
    ) as resp:
        assert resp.status == 404


async def test_anonymous_submissions_are_rate_limited(h: Harness) -> None:
    for _ in range(SUBMISSIONS_PER_WINDOW):
        await _submit(h)
    body = {"achievementId": h.node.samples[0], "email": "a@b.org", "narrative": "x"}
    async with h.session.post(h.url("/requests"), json=body) as resp:
        assert resp.status == 429
        assert int(resp.headers["Retry-After"]) > 0
    h.clock.advance(3601)  # type: ignore[attr-defined]
    await _submit(h)


async def test_private_endpoints_refuse_without_credentials(h: Harness) -> None:
    form = _form(
        {"achievementId": h.node.samples[0], "email": "a@b.org"},
        [("a.pdf", PDF, "application/pdf")],
    )
    async with h.session.post(
        h.url("/requests"), data=form, headers={"Accept": "application/json"}
    ) as resp:
        created = await resp.json()
    file_id = created["evidence"][0]["fileId"]
    private = [
        ("GET", "/api/requests"),
        ("GET", f"/api/requests/{created['id']}"),
        ("GET", f"/api/requests/{created['id']}/files/{file_id}"),
        ("POST", f"/api/requests/{created['id']}/review"),
        ("GET", "/staff/requests"),
        ("GET", f"/staff/requests/{created['id']}"),
        ("POST", f"/staff/requests/{created['id']}/review"),
    ]
    for method, path in private:
        async with h.session.request(method, h.url(path), json={"decision": "approve"}) as resp:
            assert resp.status == 401, (method, path)
    weak = {"Authorization": f"Bearer {h.node.make_token('credentials:issue')}"}
    for method, path in private:
        async with h.session.request(
            method, h.url(path), json={"decision": "approve"}, headers=weak
        ) as resp:
            assert resp.status == 403, (method, path)
    # Browsers are sent to the login page.
    async with h.session.get(
        h.url("/staff/requests"), headers={"Accept": "text/html"}, allow_redirects=False
    ) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/staff/login"
    # A wrong status token finds nothing.
    for path in ("/requests/status/nope", f"/requests/status/nope/files/{file_id}"):
        async with h.session.get(h.url(path)) as resp:
            assert resp.status == 404
    status = await h.get_json(f"/api/requests/{created['id']}", headers=h.staff)
    assert status["state"] == "submitted"


async def test_pages(h: Harness) -> None:
    session = h.node.new_session()
    try:
        async with session.get(h.url(f"/requests/new?achievement={h.node.samples[0]}")) as resp:
            assert resp.status == 200
            page = await resp.text()
        assert f'value="{h.node.samples[0]}" selected' in page
        form = _form(
            {
                "achievementId": h.node.samples[0],
                "email": "a@b.org",
                "narrative": "<script>alert(1)</script>",
                "links": "https://example.org/a\nhttps://example.org/b",
            },
            [("a.pdf", PDF, "application/pdf")],
        )
        async with session.post(
            h.url("/requests"), data=form, headers={"Accept": "text/html"}, allow_redirects=False
        ) as resp:
            assert resp.status == 303
            status_path = resp.headers["Location"]
        async with session.get(h.url(status_path), headers={"Accept": "text/html"}) as resp:
            assert resp.status == 200
            page = await resp.text()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
        assert "https://example.org/b" in page and "a.pdf" in page
        request_id = (await h.get_json("/api/requests", headers=h.staff))["requests"][0]["id"]
        # Staff review through the pages, with the session's CSRF token.
        csrf = await h.node.login(session)
        async with session.get(h.url("/staff/requests"), headers={"Accept": "text/html"}) as resp:
            assert resp.status == 200
            assert f"/staff/requests/{request_id}" in await resp.text()
        async with session.get(h.url(f"/staff/requests/{request_id}")) as resp:
            assert resp.status == 200
            page = await resp.text()
        assert "&lt;script&gt;" in page and 'name="decision"' in page
        review = f"/staff/requests/{request_id}/review"
        async with session.post(
            h.url(review), data={"decision": "approve"}, allow_redirects=False
        ) as resp:
            assert resp.status == 403  # no CSRF token
        async with session.post(
            h.url(review),
            data={"decision": "needs-info", "csrf_token": csrf},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 422  # a comment is required
            assert "comment" in await resp.text()
        async with session.post(
            h.url(review),
            data={"decision": "approve", "csrf_token": csrf, "comment": "Good"},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303
        async with session.get(h.url(status_path), headers={"Accept": "text/html"}) as resp:
            page = await resp.text()
        assert "Claim your badge" in page and "/offers/" in page
    finally:
        await session.close()
