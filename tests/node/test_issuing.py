"""Issuing one credential at a time over HTTP: recipients, storage, proofs, revocation,
suspension, scopes and input errors. Verification happens at another node that resolves the
issuer's did:web and status list from the running issuer through its fetcher."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest

from node.issuing import IssuedCredential
from protocol.ob import check_recipient
from tests.node.test_issuing_support import (
    issue,
    issuer_and_verifier,
    post_json,
    status_index,
    verify_at,
)

HOLDER = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


async def test_issue_to_email_verify_elsewhere_revoke_verify_again(start_node, clock):
    async with issuer_and_verifier(start_node, clock) as (issuer, verifier):
        status, body, text = await post_json(
            issuer,
            "/api/credentials",
            {"achievementId": issuer.samples[0], "email": "Ada@Example.org"},
        )
        assert status == 201, text
        credential = body["credential"]
        assert body["state"] == "issued" and body["issuer"] == issuer.did
        assert credential["issuer"]["id"] == issuer.did
        assert credential["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
        assert credential["proof"][0]["verificationMethod"] == f"{issuer.did}#key-1"
        assert "id" not in credential["credentialSubject"]
        assert check_recipient(credential["credentialSubject"], "ada@example.org")
        # the e-mail address itself is not in the credential
        assert "example.org" not in json.dumps(credential["credentialSubject"]).lower()
        # stored verbatim: the exact texts of the response are what the node keeps
        stored: IssuedCredential = issuer.service("issuing").get(body["id"])
        assert stored.text in text and stored.sd_text in text
        async with issuer.session.get(
            issuer.url(f"/api/credentials/{body['id']}"), headers=issuer.auth
        ) as response:
            again = await response.text()
        assert stored.text in again

        status, report = await verify_at(verifier, credential)
        assert status == 200, report
        assert report["verified"] is True
        assert report["results"]["credentialStatus"][0]["verified"] is True

        status, revoked, text = await post_json(
            issuer, f"/api/credentials/{body['id']}/revoke", {"reason": "issued in error"}
        )
        assert status == 200, text
        assert revoked["state"] == "revoked"
        assert revoked["revocationReason"] == "issued in error"
        # the verifier caches the list for its max-age, then sees the revocation
        clock.advance(issuer.config.status_list_max_age_seconds + 1)
        status, report = await verify_at(verifier, credential)
        assert status == 422
        assert report["verified"] is False and report["verdict"] == "invalid"
        assert any("revoked" in d["detail"] for d in report["problemDetails"])


async def test_issue_to_did_and_email(node):
    body = await issue(node, email="grace@example.org", subjectId=HOLDER)
    subject = body["credential"]["credentialSubject"]
    assert subject["id"] == HOLDER
    assert check_recipient(subject, "grace@example.org")
    assert body["subjectId"] == HOLDER and body["email"] == "grace@example.org"


async def test_issue_to_did_only(node):
    body = await issue(node, subjectId=HOLDER)
    subject = body["credential"]["credentialSubject"]
    assert subject["id"] == HOLDER and "identifier" not in subject


async def test_holder_copy_derives_and_verifies_elsewhere(start_node, clock):
    async with issuer_and_verifier(start_node, clock) as (issuer, verifier):
        body = await issue(issuer, email="ada@example.org", subjectId=HOLDER)
        holder_copy = body["holderCredential"]
        assert holder_copy["proof"]["cryptosuite"] == "ecdsa-sd-2023"
        assert holder_copy["proof"]["verificationMethod"] == f"{issuer.did}#key-2"
        # same claims as the eddsa copy
        assert {k: v for k, v in holder_copy.items() if k != "proof"} == {
            k: v for k, v in body["credential"].items() if k != "proof"
        }
        status, derived, text = await post_json(
            verifier,
            "/credentials/derive",
            {"verifiableCredential": holder_copy, "options": {"selectivePointers": []}},
            headers={},
        )
        assert status == 201, text
        assert "identifier" not in derived["credentialSubject"]
        assert (
            derived["credentialSubject"]["achievement"]["id"]
            == (body["credential"]["credentialSubject"]["achievement"]["id"])
        )
        status, report = await verify_at(verifier, derived)
        assert status == 200, report
        # the base proof itself is for the holder only
        status, report = await verify_at(verifier, holder_copy)
        assert status == 422


async def test_idempotency_key_issues_once(node):
    headers = dict(node.auth, **{"Idempotency-Key": "enrolment-42"})
    body = {"achievementId": node.samples[1], "email": "ada@example.org"}
    first = await post_json(node, "/api/credentials", body, headers=headers)
    second = await post_json(node, "/api/credentials", body, headers=headers)
    assert first[0] == 201 and second[0] == 200
    assert first[1]["id"] == second[1]["id"]
    assert first[1]["credential"] == second[1]["credential"]
    # the same key in the body works the same way
    third = await post_json(node, "/api/credentials", dict(body, idempotencyKey="enrolment-42"))
    assert third[0] == 200 and third[1]["id"] == first[1]["id"]
    stored = node.service("issuing").list(limit=1000)
    assert [c.id for c in stored].count(first[1]["id"]) == 1
    assert len(stored) == 1


async def test_concurrent_requests_with_one_key_issue_once(node):
    headers = dict(node.auth, **{"Idempotency-Key": "same"})
    body = {"achievementId": node.samples[0], "email": "ada@example.org"}
    results = await asyncio.gather(
        *(post_json(node, "/api/credentials", body, headers=headers) for _ in range(6))
    )
    ids = {r[1]["id"] for r in results}
    assert len(ids) == 1, results
    assert len(node.service("issuing").list()) == 1
    assert len(node.service("status").entries(ids.pop())) == 1


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"email": "ada@example.org"}, 422, "achievementId is required"),
        ({"achievementId": "SAMPLE"}, 422, "email, subjectId, or both"),
        ({"achievementId": "SAMPLE", "email": "not-an-address"}, 422, "e-mail"),
        ({"achievementId": "SAMPLE", "subjectId": "https://x.example/me"}, 422, "DID"),
        ({"achievementId": "no-such-achievement", "email": "a@example.org"}, 422, "no achievement"),
        (
            {"achievementId": "SAMPLE", "email": "a@example.org", "issuer": "did:key:z6Mkx"},
            422,
            "no issuer identity",
        ),
        ({"achievementId": "SAMPLE", "email": "a@example.org", "colour": "red"}, 422, "unknown"),
        (
            {"achievementId": "SAMPLE", "email": "a@example.org", "statusPurpose": "refresh"},
            422,
            "statusPurpose",
        ),
        (
            {"achievementId": "SAMPLE", "email": "a@example.org", "validUntil": "tomorrow"},
            422,
            "validUntil",
        ),
        (
            {"achievementId": "SAMPLE", "email": "a@example.org", "evidence": [{"id": 5}]},
            422,
            "evidence",
        ),
        ({"achievementId": 7, "email": "a@example.org"}, 422, "string"),
        ([1, 2], 400, "JSON object"),
    ],
)
async def test_bad_issue_requests(node, body, status, needle):
    if isinstance(body, dict) and body.get("achievementId") == "SAMPLE":
        body = dict(body, achievementId=node.samples[0])
    got, parsed, text = await post_json(node, "/api/credentials", body)
    assert got == status, text
    assert parsed["status"] == status and needle.lower() in parsed["detail"].lower(), parsed
    assert node.service("issuing").list() == []


async def test_malformed_oversized_and_mistyped_bodies(node):
    url = node.url("/api/credentials")
    async with node.session.post(
        url, data=b"{nope", headers=dict(node.auth, **{"Content-Type": "application/json"})
    ) as r:
        assert r.status == 400 and r.content_type == "application/problem+json"
    async with node.session.post(
        url, data=b"achievement=1", headers=dict(node.auth, **{"Content-Type": "text/plain"})
    ) as r:
        assert r.status == 415 and r.content_type == "application/problem+json"
    big = json.dumps({"achievementId": "x" * (node.config.max_body_bytes + 10)}).encode()
    async with node.session.post(
        url, data=io.BytesIO(big), headers=dict(node.auth, **{"Content-Type": "application/json"})
    ) as r:
        assert r.status == 413 and r.content_type == "application/problem+json"


async def test_scopes(node):
    issue_only = node.make_token("credentials:issue")
    revoke_only = node.make_token("credentials:revoke")
    body = {"achievementId": node.samples[0], "email": "ada@example.org"}
    status, _, _ = await post_json(node, "/api/credentials", body, token=revoke_only)
    assert status == 403
    status, issued, _ = await post_json(node, "/api/credentials", body, token=issue_only)
    assert status == 201
    path = f"/api/credentials/{issued['id']}/revoke"
    status, _, _ = await post_json(node, path, {}, token=issue_only)
    assert status == 403
    status, _, _ = await post_json(node, path, {}, headers={})
    assert status == 401
    status, revoked, _ = await post_json(node, path, {}, token=revoke_only)
    assert status == 200 and revoked["state"] == "revoked"
    for method, path in [
        ("POST", "/api/credentials"),
        ("GET", "/api/credentials"),
        ("GET", f"/api/credentials/{issued['id']}"),
        ("POST", f"/api/credentials/{issued['id']}/suspend"),
        ("POST", f"/api/credentials/{issued['id']}/unsuspend"),
        ("POST", "/api/issue-jobs"),
        ("GET", "/api/issue-jobs/x"),
        ("GET", "/api/issue-jobs/x/rows"),
        ("POST", "/api/issue-jobs/x/run"),
    ]:
        async with node.session.request(method, node.url(path), json={}) as r:
            assert r.status == 401, (method, path)
            assert r.content_type == "application/problem+json"


async def test_revoke_twice_and_unknown(node):
    issued = await issue(node)
    path = f"/api/credentials/{issued['id']}/revoke"
    first = await post_json(node, path, {"reason": "first"})
    second = await post_json(node, path, {"reason": "second"})
    assert first[0] == second[0] == 200
    assert second[1]["revocationReason"] == "first"
    assert (await post_json(node, "/api/credentials/urn:uuid:nope/revoke", {}))[0] == 404
    # revoking without a body works too
    other = await issue(node)
    async with node.session.post(
        node.url(f"/api/credentials/{other['id']}/revoke"), headers=node.auth
    ) as r:
        assert r.status == 200
    # a revocation entry cannot be suspended, and a revocation cannot be undone
    status, problem, _ = await post_json(node, f"/api/credentials/{other['id']}/suspend", {})
    assert status == 409 and "revocation" in problem["detail"]


async def test_suspension_lifecycle(start_node, clock):
    async with issuer_and_verifier(start_node, clock) as (issuer, verifier):
        body = await issue(issuer, statusPurpose="suspension")
        credential = body["credential"]
        assert credential["credentialStatus"]["statusPurpose"] == "suspension"
        cid = body["id"]

        async def verdict() -> tuple[int, dict[str, Any]]:
            clock.advance(issuer.config.status_list_max_age_seconds + 1)
            return await verify_at(verifier, credential)

        assert (await verdict())[0] == 200
        status, changed, _ = await post_json(issuer, f"/api/credentials/{cid}/suspend", {})
        assert status == 200 and changed["state"] == "suspended"
        status, report = await verdict()
        assert status == 422 and any("suspended" in d["detail"] for d in report["problemDetails"])
        status, changed, _ = await post_json(issuer, f"/api/credentials/{cid}/unsuspend", {})
        assert status == 200 and changed["state"] == "issued"
        assert (await verdict())[0] == 200
        status, changed, _ = await post_json(issuer, f"/api/credentials/{cid}/revoke", {})
        assert status == 200 and changed["state"] == "revoked"
        status, _, _ = await post_json(issuer, f"/api/credentials/{cid}/unsuspend", {})
        assert status == 409
        status, report = await verdict()
        assert status == 422
        entries = issuer.service("status").entries(cid)
        assert entries[0]["value"] == 1 and entries[0]["final"] == 1


async def test_did_key_issuer(start_node, clock):
    async with issuer_and_verifier(start_node, clock) as (issuer, verifier):
        did = issuer.service("identity").add_did_key("Ed25519", now=clock(), name="Lab")
        body = await issue(issuer, issuer=did)
        credential = body["credential"]
        assert credential["issuer"]["id"] == did
        assert credential["proof"][0]["verificationMethod"].startswith(did + "#")
        assert "holderCredential" not in body  # an Ed25519 did:key has no P-256 key
        url, _ = status_index(credential)
        lists = {r["id"]: r for r in issuer.service("status").lists()}
        list_id = issuer.service("status").list_id_for_url(url)
        assert lists[list_id]["issuer"] == did
        status, report = await verify_at(verifier, credential)
        assert status == 200, report


async def test_retired_achievement_is_refused(node):
    achievements = node.service("achievements")
    from datetime import UTC, datetime

    achievements.retire(node.samples[2], now=datetime.now(UTC))
    status, problem, _ = await post_json(
        node, "/api/credentials", {"achievementId": node.samples[2], "email": "a@example.org"}
    )
    assert status == 422 and "retired" in problem["detail"]


async def test_service_contract_for_delivery(node):
    issuing = node.service("issuing")
    issued = await issuing.issue(achievement_id=node.samples[0], subject_did=HOLDER, name="Prize")
    assert issued.credential["credentialSubject"]["id"] == HOLDER
    assert issued.credential["name"] == "Prize"
    again = issuing.get(issued.id)
    assert again.text == issued.text and again.sd_text == issued.sd_text
    assert again.holder_credential["proof"]["cryptosuite"] == "ecdsa-sd-2023"
    assert issuing.get("urn:uuid:missing") is None
    listed = await (await node.session.get(node.url("/api/credentials"), headers=node.auth)).json()
    assert [c["id"] for c in listed["credentials"]] == [issued.id]
    revoked = issuing.revoke(issued.id, "left the course")
    assert revoked.state == "revoked"


@pytest.mark.parametrize(
    ("subject", "email", "extra"),
    [
        (None, "ada@example.org", {}),
        (HOLDER, None, {}),
        (HOLDER, "ada@example.org", {"name": "Prize"}),
        (None, "ada@example.org", {"valid_until": "2030-01-01T00:00:00+00:00"}),
        (None, "ada@example.org", {"evidence": [{"id": "https://e.example/1"}]}),
    ],
)
def test_credentials_built_from_a_shape_equal_the_builders(subject, email, extra):
    # The worker builds one credential per shape with the OB builder and fills in the rest;
    # each filled credential must be exactly what the builder makes.
    from datetime import UTC, datetime
    from secrets import token_hex
    from uuid import uuid4

    from node.issuing import _build, _unsigned
    from protocol.ob import hashed_email_identity
    from protocol.status import build_status_entry

    def task(index: int) -> dict[str, Any]:
        return {
            "issuer": {"id": "did:web:example.org", "type": ["Profile"], "name": "Org"},
            "achievement": {
                "id": "https://example.org/achievements/1",
                "type": ["Achievement"],
                "name": "Badge",
                "description": "A badge",
                "criteria": {"narrative": "Do it"},
            },
            "subject_id": subject,
            "identity": hashed_email_identity(email, token_hex(16)) if email else None,
            "credential_id": f"urn:uuid:{uuid4()}",
            "valid_from": datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
            "valid_until": (
                datetime.fromisoformat(extra["valid_until"]) if "valid_until" in extra else None
            ),
            "name": extra.get("name"),
            "evidence": extra.get("evidence", []),
            "results": [],
            "status": build_status_entry(
                list_credential_url="https://example.org/status/ab", index=index
            ),
        }

    for index in range(4):
        one = task(index)
        assert _unsigned(one) == _build(one)


async def test_signing_processes_start_under_load_and_survive_a_dead_worker():
    import os

    from node.issuing import SigningPool

    pool = SigningPool(2)
    try:
        assert await pool.run(divmod, 7, 2) == (3, 1)
        assert not pool.uses_processes  # one task at a time: a thread
        results = await asyncio.gather(*(pool.run(divmod, i, 3) for i in range(20)))
        assert pool.uses_processes
        assert results == [divmod(i, 3) for i in range(20)]
        with pytest.raises(ValueError):  # exceptions come back with their type
            await asyncio.gather(*(pool.run(int, "not a number") for _ in range(6)))
        outcomes = await asyncio.gather(
            pool.run(os._exit, 3),
            *(pool.run(divmod, i, 3) for i in range(8)),
            return_exceptions=True,
        )
        assert isinstance(outcomes[0], RuntimeError)  # the worker died
        assert all(
            o == divmod(i, 3) or isinstance(o, RuntimeError) for i, o in enumerate(outcomes[1:])
        )
        again = await asyncio.gather(*(pool.run(divmod, i, 5) for i in range(10)))
        assert again == [divmod(i, 5) for i in range(10)]  # replaced
    finally:
        pool.close()
