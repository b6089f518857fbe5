"""The VC API (VCALM) endpoints: issue as any of the node's identities with the suite its key
type calls for, status entries and updates, verify credentials and presentations, derive, and
the refusals (auth, malformed, oversized, unknown issuers and options)."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from node.vcapi import MAX_VERIFY_BYTES
from protocol.did import key_pair_as_did_key
from protocol.keys import generate
from protocol.presentation import build_presentation, sign_presentation
from tests.node.test_issuing_support import issue, issuer_and_verifier, post_json, verify_at


def plain_credential(issuer: str, **extra: Any) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential"],
        "issuer": issuer,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:learner"},
        **extra,
    }


async def vc_issue(node: Any, credential: dict[str, Any], **options: Any) -> tuple[int, Any, str]:
    return await post_json(
        node, "/credentials/issue", {"credential": credential, "options": options}
    )


async def test_issue_with_the_did_web_ed25519_key(node):
    credential = plain_credential(node.did)
    status, body, text = await vc_issue(node, credential)
    assert status == 201, text
    signed = body["verifiableCredential"]
    assert signed["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert signed["proof"]["verificationMethod"] == f"{node.did}#key-1"
    assert {k: v for k, v in signed.items() if k != "proof"} == credential
    status, report = await verify_at(node, signed)
    assert status == 200 and report["verified"] is True
    assert report["results"]["proof"][0]["verified"] is True
    assert "credential" not in report
    status, report = await verify_at(node, signed, returnCredential=True)
    assert report["credential"] == signed


async def test_issue_selective_disclosure_and_derive(node):
    credential = plain_credential(node.did, validUntil="2030-01-01T00:00:00Z")
    status, body, text = await vc_issue(node, credential, mandatoryPointers=["/issuer"])
    assert status == 201, text
    base = body["verifiableCredential"]
    assert base["proof"]["cryptosuite"] == "ecdsa-sd-2023"
    assert base["proof"]["verificationMethod"] == f"{node.did}#key-2"
    status, derived, text = await post_json(
        node,
        "/credentials/derive",
        {
            "verifiableCredential": base,
            "options": {"selectivePointers": ["/validFrom", "/credentialSubject/id"]},
        },
        headers={},
    )
    assert status == 201, text
    assert derived["validFrom"] == "2026-01-01T00:00:00Z"
    assert "validUntil" not in derived
    status, report = await verify_at(node, derived)
    assert status == 200, report


async def test_issue_with_did_key_identities(node):
    identity = node.service("identity")
    now = datetime.now(UTC)
    p256 = identity.add_did_key("P-256", now=now, name="P-256 issuer")
    ed = identity.add_did_key("Ed25519", now=now, name="Ed25519 issuer")
    status, body, text = await vc_issue(node, plain_credential(p256))
    assert status == 201, text
    assert body["verifiableCredential"]["proof"]["cryptosuite"] == "ecdsa-rdfc-2019"
    assert (await verify_at(node, body["verifiableCredential"]))[0] == 200
    status, body, _ = await vc_issue(node, plain_credential(p256), mandatoryPointers=[])
    assert status == 201 and body["verifiableCredential"]["proof"]["cryptosuite"] == (
        "ecdsa-sd-2023"
    )
    status, body, _ = await vc_issue(node, plain_credential({"id": ed, "name": "Lab"}))
    assert status == 201
    assert body["verifiableCredential"]["proof"]["verificationMethod"].startswith(ed + "#")
    assert (await verify_at(node, body["verifiableCredential"]))[0] == 200
    # an Ed25519 did:key cannot sign ecdsa-sd-2023
    status, problem, _ = await vc_issue(node, plain_credential(ed), mandatoryPointers=["/issuer"])
    assert status == 422 and "P-256" in problem["detail"]
    status, problem, _ = await vc_issue(node, plain_credential(ed), cryptosuite="ecdsa-rdfc-2019")
    assert status == 422


async def test_status_entry_and_status_updates(start_node, clock):
    async with issuer_and_verifier(start_node, clock) as (issuer, verifier):
        credential = plain_credential(issuer.did)
        status, body, text = await vc_issue(
            issuer,
            credential,
            credentialStatus={"type": "BitstringStatusListEntry", "statusPurpose": "suspension"},
        )
        assert status == 201, text
        signed = body["verifiableCredential"]
        entry = signed["credentialStatus"]
        assert entry["statusPurpose"] == "suspension"
        assert (await verify_at(verifier, signed))[0] == 200

        async def update(value: bool, purpose: str = "suspension", cid: str | None = None):
            return await post_json(
                issuer,
                "/credentials/status",
                {
                    "credentialId": cid or credential["id"],
                    "credentialStatus": {
                        "type": "BitstringStatusListEntry",
                        "statusPurpose": purpose,
                    },
                    "status": value,
                },
            )

        status, changed, text = await update(True)
        assert status == 200, text
        assert changed["state"] == "suspended"
        clock.advance(issuer.config.status_list_max_age_seconds + 1)
        status, report = await verify_at(verifier, signed)
        assert status == 422 and report["verdict"] == "invalid"
        assert (await update(False))[0] == 200
        clock.advance(issuer.config.status_list_max_age_seconds + 1)
        assert (await verify_at(verifier, signed))[0] == 200
        assert (await update(True, "revocation"))[0] == 409  # not its purpose
        assert (await update(True, cid="urn:uuid:unknown"))[0] == 404

        # a template entry in the credential asks for a revocation entry
        revocable = plain_credential(
            issuer.did, credentialStatus={"type": "BitstringStatusListEntry"}
        )
        status, body, _ = await vc_issue(issuer, revocable)
        assert status == 201
        assert body["verifiableCredential"]["credentialStatus"]["statusPurpose"] == "revocation"
        assert (await update(True, "revocation", revocable["id"]))[0] == 200
        assert (await update(False, "revocation", revocable["id"]))[0] == 409  # permanent
        # the same id cannot be issued twice with a status entry
        status, _, _ = await vc_issue(
            issuer, revocable | {"credentialStatus": {"type": "BitstringStatusListEntry"}}
        )
        assert status == 409


async def test_status_update_of_an_ob_credential(node):
    body = await issue(node)
    status, changed, text = await post_json(
        node,
        "/credentials/status",
        {
            "credentialId": body["id"],
            "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "revocation"},
            "status": True,
        },
    )
    assert status == 200, text
    assert changed["state"] == "revoked" and changed["credentialStatus"]["statusListIndex"]


@pytest.mark.parametrize(
    ("mutate", "options", "status", "needle"),
    [
        (lambda c, d: c | {"issuer": "did:example:someone-else"}, {}, 422, "does not hold"),
        (lambda c, d: c | {"issuer": 5}, {}, 422, "issuer"),
        (lambda c, d: c | {"proof": {"type": "DataIntegrityProof"}}, {}, 400, "proof"),
        (
            lambda c, d: {k: v for k, v in c.items() if k != "credentialSubject"},
            {},
            422,
            "credentialSubject",
        ),
        (lambda c, d: c | {"undefinedTerm": 1}, {}, 400, "undefinedTerm"),
        (lambda c, d: c, {"frobnicate": True}, 400, "unknown options"),
        (lambda c, d: c, {"mandatoryPointers": "/issuer"}, 400, "JSON Pointers"),
        (lambda c, d: c, {"cryptosuite": "rsa-2048"}, 422, "cryptosuite"),
        (
            lambda c, d: c,
            {"credentialStatus": {"type": "StatusList2021Entry"}},
            400,
            "BitstringStatusListEntry",
        ),
        (
            lambda c, d: {k: v for k, v in c.items() if k != "id"},
            {"credentialStatus": {"type": "BitstringStatusListEntry"}},
            422,
            "credentialId",
        ),
        (lambda c, d: c, {"mandatoryPointers": ["/nope"]}, 400, "pointer"),
    ],
)
async def test_issue_refusals(node, mutate, options, status, needle):
    credential = mutate(plain_credential(node.did), node.did)
    got, problem, text = await vc_issue(node, credential, **options)
    assert got == status, text
    assert problem["type"].startswith("https://") and problem["status"] == status
    assert needle.lower() in json.dumps(problem).lower(), problem


async def test_issue_needs_a_credential_object(node):
    for body in ({"options": {}}, {"credential": [1]}, [1]):
        status, problem, _ = await post_json(node, "/credentials/issue", body)
        assert status == 400 and problem["title"]


async def test_private_endpoints_refuse_without_credentials(node):
    for path in ("/credentials/issue", "/credentials/status"):
        status, problem, _ = await post_json(node, path, {}, headers={})
        assert status == 401 and problem["status"] == 401
        status, problem, _ = await post_json(
            node,
            path,
            {},
            token=node.make_token("credentials:issue" if "status" in path else "staff"),
        )
        assert status == 403


async def test_verify_refusals_and_failures(node):
    signed = (await vc_issue(node, plain_credential(node.did)))[1]["verifiableCredential"]
    tampered = json.loads(json.dumps(signed))
    tampered["credentialSubject"]["id"] = "did:example:mallory"
    status, report = await verify_at(node, tampered)
    assert status == 422
    assert report["verified"] is False and report["verdict"] == "invalid"
    assert report["type"].endswith("verification-failed")
    assert report["results"]["proof"][0]["verified"] is False
    assert any(d["title"].startswith("proof[0]") for d in report["problemDetails"])
    for body, code in [
        ({}, 400),
        ({"verifiableCredential": "x"}, 400),
        ({"verifiableCredential": signed, "options": {"challenge": "x"}}, 400),
        ({"verifiableCredential": {"type": ["VerifiablePresentation"]}}, 400),
    ]:
        status, problem, _ = await post_json(node, "/credentials/verify", body, headers={})
        assert status == code, problem
    # size limit of the public endpoints
    big = json.dumps({"verifiableCredential": {"x": "y" * MAX_VERIFY_BYTES}}).encode()
    for path in ("/credentials/verify", "/presentations/verify", "/credentials/derive"):
        async with node.session.post(
            node.url(path), data=io.BytesIO(big), headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status == 413, path
            assert response.content_type == "application/problem+json"
        async with node.session.post(
            node.url(path), data=b"{oops", headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status == 400
        async with node.session.post(
            node.url(path), data=b"<xml/>", headers={"Content-Type": "application/xml"}
        ) as response:
            assert response.status == 415


async def test_derive_refusals(node):
    signed = (await vc_issue(node, plain_credential(node.did)))[1]["verifiableCredential"]
    status, problem, _ = await post_json(
        node,
        "/credentials/derive",
        {"verifiableCredential": signed, "options": {"selectivePointers": []}},
        headers={},
    )
    assert status in (400, 422) and problem["status"] == status  # no ecdsa-sd-2023 base proof
    status, _, _ = await post_json(
        node,
        "/credentials/derive",
        {"verifiableCredential": signed, "options": {"selectivePointers": "/x"}},
        headers={},
    )
    assert status == 400


async def test_verify_presentations(start_node, clock):
    async with issuer_and_verifier(start_node, clock) as (issuer, verifier):
        holder = key_pair_as_did_key(generate("Ed25519"))
        body = await issue(issuer, subjectId=holder.controller)
        presentation = sign_presentation(
            build_presentation(holder=holder.controller, credentials=[body["credential"]]),
            key=holder,
            challenge="c-123",
            domain="verifier.example",
            created=clock(),
        )

        async def check(**options: Any) -> tuple[int, Any]:
            status, report, text = await post_json(
                verifier,
                "/presentations/verify",
                {"verifiablePresentation": presentation, "options": options},
                headers={},
            )
            assert report is not None, text
            return status, report

        status, report = await check(challenge="c-123", domain="verifier.example")
        assert status == 200, report
        assert report["results"]["presentation"]["holder"]["verified"] is True
        assert report["results"]["credentials"][0]["verified"] is True
        status, report = await check(challenge="other", domain="verifier.example")
        assert status == 422 and report["verified"] is False
        status, report = await check(challenge="c-123", domain="elsewhere.example")
        assert status == 422
        status, report = await check()
        assert status == 422  # no challenge: replay cannot be ruled out
        # the credential inside is revoked: the presentation no longer verifies
        await post_json(issuer, f"/api/credentials/{body['id']}/revoke", {})
        clock.advance(issuer.config.status_list_max_age_seconds + 1)
        status, report = await check(challenge="c-123", domain="verifier.example")
        assert status == 422 and report["verdict"] == "invalid"
        status, _, _ = await post_json(
            verifier,
            "/presentations/verify",
            {"verifiablePresentation": body["credential"]},
            headers={},
        )
        assert status == 400


def test_every_issuing_status_and_vcapi_route_is_documented(node):
    from pathlib import Path

    specs = Path(__file__).resolve().parents[2] / "specs"
    openapi = (specs / "openapi.yaml").read_text("utf-8")
    prose = (specs / "node-api.md").read_text("utf-8")
    documented = {
        line.strip().rstrip(":") for line in openapi.splitlines() if line.startswith("  /")
    }
    mine = set()
    for route in node.app.router.routes():
        if route.handler.__module__ not in ("node.issuing", "node.status", "node.vcapi"):
            continue
        info = route.resource.get_info()
        path = info.get("formatter") or info.get("path")
        mine.add(path.replace("{list_id}", "{id}"))
    assert len(mine) == 15
    assert mine <= documented, mine - documented
    for path in mine:
        assert f" {path}`" in prose, path
