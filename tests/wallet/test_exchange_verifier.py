"""The node's verifier component (node/verifier.py): DCQL evaluation, the staff API, the
wallet-facing endpoints and their refusals, share uploads.

A real node on loopback (``tests/node/conftest.running_node``), real wallet, no mocks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from node.verifier import (
    DcqlError,
    build_dcql,
    credential_matches,
    dcql_checks,
    select_claim,
    validate_dcql,
)
from tests.wallet.test_exchange_support import World, world
from wallet.present import make_presentation, present_async

NAME = ["credentialSubject", "achievement", "name"]

# The claims path pointer example of OpenID4VP 1.0 section 7.3.
ARTHUR = {
    "name": "Arthur Dent",
    "address": {"street_address": "42 Market Street", "locality": "Milliways"},
    "degrees": [
        {"type": "Bachelor of Science", "university": "University of Betelgeuse"},
        {"type": "Master of Science", "university": "University of Betelgeuse"},
    ],
    "nationalities": ["British", "Betelgeusian"],
}


def test_claims_path_pointers() -> None:
    assert select_claim(ARTHUR, ["name"]) == ["Arthur Dent"]
    assert select_claim(ARTHUR, ["address"]) == [ARTHUR["address"]]
    assert select_claim(ARTHUR, ["address", "street_address"]) == ["42 Market Street"]
    assert select_claim(ARTHUR, ["degrees", None, "type"]) == [
        "Bachelor of Science",
        "Master of Science",
    ]
    assert select_claim(ARTHUR, ["nationalities", 1]) == ["Betelgeusian"]
    assert select_claim(ARTHUR, ["nationalities", 5]) is None
    assert select_claim(ARTHUR, ["name", "first"]) is None  # not an object: abort
    assert select_claim(ARTHUR, ["address", None]) is None  # not an array: abort
    assert select_claim(ARTHUR, ["missing"]) is None


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ([], "JSON object"),
        ({"credentials": []}, "non-empty"),
        ({"credentials": [{"id": "a b", "format": "ldp_vc", "meta": {}}]}, "unique"),
        ({"credentials": [{"id": "a", "format": "jwt_vc_json", "meta": {}}]}, "ldp_vc"),
        ({"credentials": [{"id": "a", "format": "ldp_vc"}]}, "meta"),
        (
            {"credentials": [{"id": "a", "format": "ldp_vc", "meta": {"type_values": ["x"]}}]},
            "type_values",
        ),
        (
            {
                "credentials": [
                    {"id": "a", "format": "ldp_vc", "meta": {}, "claims": [{"path": []}]}
                ]
            },
            "path",
        ),
        (
            {
                "credentials": [
                    {"id": "a", "format": "ldp_vc", "meta": {}, "claims": [{"path": [-1]}]}
                ]
            },
            "non-negative",
        ),
        (
            {
                "credentials": [
                    {
                        "id": "a",
                        "format": "ldp_vc",
                        "meta": {},
                        "claims": [{"path": ["x"], "values": [1.5]}],
                    }
                ]
            },
            "values",
        ),
        (
            {
                "credentials": [
                    {
                        "id": "a",
                        "format": "ldp_vc",
                        "meta": {},
                        "claims": [{"path": ["x"]}],
                        "claim_sets": [["x"]],
                    }
                ]
            },
            "needs an id",
        ),
        (
            {
                "credentials": [{"id": "a", "format": "ldp_vc", "meta": {}}],
                "credential_sets": [{"options": [["b"]]}],
            },
            "options",
        ),
    ],
)
def test_invalid_dcql(query: Any, reason: str) -> None:
    with pytest.raises(DcqlError, match=reason):
        validate_dcql(query)


def test_dcql_checks() -> None:
    query = build_dcql(achievement_ids=["https://n.example/achievements/1"], claims=[NAME])
    badge = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "credentialSubject": {
            "achievement": {"id": "https://n.example/achievements/1", "name": "Badge"}
        },
    }
    assert credential_matches(badge, query["credentials"][0]) == []
    assert dcql_checks(query, {"badge": [badge]}) == [
        ("query badge", "pass", "the credentials match the query")
    ]
    other = json.loads(json.dumps(badge))
    other["credentialSubject"]["achievement"]["id"] = "https://n.example/achievements/2"
    failed = dcql_checks(query, {"badge": [other]})
    assert failed[0][1] == "fail" and "achievement.id" in failed[0][2]
    assert any(c[0] == "credential set 0" and c[1] == "fail" for c in failed)
    untyped = {**badge, "type": ["VerifiableCredential"]}
    assert "type" in dcql_checks(query, {"badge": [untyped]})[0][2]
    assert dcql_checks(query, {"badge": [badge, badge]})[0][1] == "fail"  # not multiple
    assert dcql_checks(query, {"other": [badge]})[0][2].startswith("the request has no")
    assert dcql_checks(query, {})[0][0] == "credential set 0"


# -- the staff API --------------------------------------------------------------------------------


async def test_staff_api_scopes_and_validation(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        url = w.node.url("/api/presentation-requests")
        async with w.session.post(url, json={}) as resp:
            assert resp.status == 401
        reader = w.node.make_token("staff")
        async with w.session.post(
            url, json={}, headers={"Authorization": f"Bearer {reader}"}
        ) as resp:
            assert resp.status == 403
        scoped = w.node.make_token("presentations:request")
        headers = {"Authorization": f"Bearer {scoped}"}
        async with w.session.post(url, json={"label": "Front desk"}, headers=headers) as resp:
            assert resp.status == 201
            created = await resp.json()
        assert created["dcqlQuery"]["credentials"][0]["meta"]["type_values"]
        assert "claims" not in created["dcqlQuery"]["credentials"][0]
        async with w.session.get(url, headers=headers) as resp:
            listed = await resp.json()
        assert [r["id"] for r in listed["presentationRequests"]] == [created["id"]]
        bad = [
            {"colour": "blue"},
            {"claims": [NAME], "dcqlQuery": build_dcql()},
            {"dcqlQuery": {"credentials": [{"id": "x", "format": "mso_mdoc", "meta": {}}]}},
            {"claims": [[]]},
            {"claims": "name"},
            {"achievementIds": "x"},
            {"ttlSeconds": 10**9},
            {"ttlSeconds": "60"},
            {"clientIdPrefix": "x509_san_dns"},
            {"label": ""},
        ]
        for body in bad:
            async with w.session.post(url, json=body, headers=headers) as resp:
                assert resp.status == 422, (body, await resp.text())
        async with w.session.get(url + "/nope", headers=headers) as resp:
            assert resp.status == 404


# -- wallet-facing endpoints ----------------------------------------------------------------------


async def test_request_page_interaction_and_qr_codes(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        request = await w.request(claims=[NAME], purpose="Check a badge for the job")
        links = request["links"]
        async with w.session.get(w.local(links["page"]), headers={"Accept": "text/html"}) as r:
            page = await r.text()
        assert r.status == 200 and "Check a badge for the job" in page and "qr.svg" in page
        async with w.session.get(w.local(links["interactionUrl"])) as r:
            protocols = (await r.json())["protocols"]
        assert protocols["vcapi"] == links["vcapiExchange"]
        assert protocols["OID4VP"] == links["openid4vp"]
        async with w.session.get(w.local(links["qrPng"])) as r:
            assert r.content_type == "image/png"
            assert (await r.read()).startswith(b"\x89PNG\r\n\x1a\n")
        async with w.session.get(w.local(links["qrSvg"])) as r:
            assert r.content_type == "image/svg+xml"
            assert b"<svg" in await r.read()


async def test_response_endpoint_refusals(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await w.receive()
        request = await w.request(claims=[NAME])
        response_uri = request["clientId"].removeprefix("redirect_uri:")
        local = w.local(response_uri)
        async with w.session.post(local, json={"vp_token": "{}"}) as resp:
            assert resp.status == 400
            assert "form" in (await resp.json())["error_description"]
        status, body = await w.post_form(response_uri, {"vp_token": "{}"})
        assert status == 400 and "state" in body["error_description"]
        status, body = await w.post_form(response_uri, {"vp_token": "{}", "state": "wrong"})
        assert status == 400 and "state" in body["error_description"]
        async with w.session.post(
            local,
            data="vp_token=" + "x" * (600 * 1024),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as resp:
            assert resp.status == 413
        status, _ = await w.post_form(
            w.node.public_url + "/presentation-requests/nope/response", {}
        )
        assert status == 404
        # None of these used the nonce up: the wallet still answers, once.
        assert (await w.result(request["id"]))["status"] == "pending"
        result = await present_async(w.wallet, request["links"]["openid4vp"], now=w.clock())
        assert result.response == {"status": "accepted"}
        async with w.session.get(w.local(request["links"]["requestUri"])) as resp:
            assert resp.status == 410
            assert (await resp.json())["type"].endswith("presentation-request-answered")


async def test_malformed_vp_token_uses_the_request_up(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        request = await w.request(claims=[NAME])
        response_uri = request["clientId"].removeprefix("redirect_uri:")
        state = await _state(w, request)
        status, body = await w.post_form(response_uri, {"vp_token": "[1]", "state": state})
        assert status == 400 and "JSON object" in body["error_description"]
        seen = await w.result(request["id"])
        assert seen["status"] == "rejected"
        status, body = await w.post_form(response_uri, {"vp_token": "{}", "state": state})
        assert status == 400 and "already answered" in body["error_description"]


async def test_bare_credential_without_holder_binding_is_refused(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        (record,) = await w.receive()
        request = await w.request(claims=[NAME])
        response_uri = request["clientId"].removeprefix("redirect_uri:")
        token = json.dumps({"badge": [record.document]})
        status, body = await w.post_form(
            response_uri, {"vp_token": token, "state": await _state(w, request)}
        )
        assert status == 400 and body["status"] == "rejected"
        assert "signed by the holder" in body["error_description"]


async def _state(w: World, request: dict[str, Any]) -> str:
    from wallet.client import parse_jws

    async with w.session.get(w.local(request["links"]["requestUri"])) as resp:
        return str(parse_jws(await resp.text(), allow_unsigned=True).payload["state"])


async def test_vc_api_exchange_refusals(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        request = await w.request(claims=[NAME])
        url = w.local(request["links"]["vcapiExchange"])
        async with w.session.post(url, json={"hello": 1}) as resp:
            assert resp.status == 400
        async with w.session.post(url, json={}) as resp:
            vpr = (await resp.json())["verifiablePresentationRequest"]
        (query,) = vpr["query"]
        assert query["type"] == "QueryByExample"
        example = query["credentialQuery"][0]["example"]
        assert example["type"] == ["OpenBadgeCredential"]
        assert example["credentialSubject"]["achievement"]["name"] == ""
        assert vpr["domain"] == w.node.public_url
        async with w.session.post(url, json={"verifiablePresentation": {"type": "x"}}) as resp:
            assert resp.status == 422
        async with w.session.post(url, json={}) as resp:
            assert resp.status == 410  # the request was answered (and rejected)
        assert (await w.result(request["id"]))["status"] == "rejected"


async def test_share_upload_refusals(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        (record,) = await w.receive()
        async with w.session.post(w.node.url("/shares/challenges")) as resp:
            challenge = await resp.json()
        assert challenge["domain"] == w.node.public_url
        signed = make_presentation(
            w.wallet,
            [record.local_id],
            now=w.clock(),
            challenge=challenge["challenge"],
            domain="https://elsewhere.example",
        ).presentation
        upload = w.node.url("/shares")
        cases = [
            ({"presentation": signed, "ttlSeconds": 10**9}, 422, "ttlSeconds"),
            ({"presentation": signed, "extra": 1}, 422, "unknown members"),
            ({"nothing": 1}, 400, "presentation"),
        ]
        for body, status, reason in cases:
            async with w.session.post(upload, json=body) as resp:
                assert resp.status == status and reason in await resp.text()
        # Signed for another domain: it does not verify here (and the challenge is used up).
        async with w.session.post(upload, json={"presentation": signed}) as resp:
            assert resp.status == 422 and "domain" in await resp.text()
        async with w.session.post(upload, json={"presentation": signed}) as resp:
            assert resp.status == 422 and "not a live share challenge" in await resp.text()
        # A credential from another issuer is not hosted here.
        self_made = make_presentation(
            w.wallet, [record.local_id], now=w.clock(), challenge="c", domain="d"
        ).presentation
        assert self_made is not None
        foreign = json.loads(json.dumps(self_made))
        foreign["verifiableCredential"][0]["issuer"] = {"id": "did:web:other.example"}
        async with w.session.post(w.node.url("/shares/challenges")) as resp:
            fresh = (await resp.json())["challenge"]
        foreign["proof"]["challenge"] = fresh
        async with w.session.post(upload, json={"presentation": foreign}) as resp:
            assert resp.status == 422 and "its own credentials" in await resp.text()
        async with w.session.get(w.node.url("/shares/nope")) as resp:
            assert resp.status == 404
