"""Delivery to wallets: offers, OID4VCI pre-authorized code flow, VC API exchange, QR codes.

A real node on a loopback port (``tests/node/conftest.py``), real SQLite, real keys; the
wallet side is a small OID4VCI and VC API client (``test_delivery_support.Harness``) built on
aiohttp, protocol.keys and protocol.presentation.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import segno

from node.delivery import CONFIG_EDDSA, CONFIG_SD
from node.delivery.jws import sign_compact
from protocol.di import sign
from protocol.di.ecdsa_sd_2023 import derive
from protocol.did import Resolver
from protocol.presentation import build_presentation, sign_presentation
from protocol.verify import verify
from tests.node.test_delivery_support import (
    ISSUER_CONFIG_PATH,
    PRE_AUTH,
    Harness,
    di_vp_proof,
    jwt_proof,
    wallet_key,
)


@pytest.fixture
async def h(start_node: Any, clock: Any) -> Any:
    async with start_node(clock=clock) as node:
        yield Harness(node, clock)


def _code(offer: dict[str, Any]) -> str:
    return str(offer["credentialOffer"]["grants"][PRE_AUTH]["pre-authorized_code"])


def _proof_checks_pass(report: Any) -> bool:
    proofs = [c for c in report.checks if c.check.startswith("proof")]
    return bool(proofs) and all(c.status == "pass" for c in proofs)


async def _resolver(h: Harness) -> Resolver:
    return Resolver({h.node.did: await h.get_json("/.well-known/did.json")})


# -- metadata -----------------------------------------------------------------------------------


async def test_issuer_metadata(h: Harness) -> None:
    meta = await h.get_json(ISSUER_CONFIG_PATH)
    assert meta["credential_issuer"] == h.issuer
    assert meta["credential_endpoint"] == h.issuer + "/credential"
    assert meta["nonce_endpoint"] == h.issuer + "/nonce"
    configs = meta["credential_configurations_supported"]
    assert set(configs) == {CONFIG_EDDSA, CONFIG_SD}
    for config in configs.values():
        assert config["format"] == "ldp_vc"
        assert config["cryptographic_binding_methods_supported"] == ["did:key", "did:web"]
        definition = config["credential_definition"]
        assert definition["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
        assert definition["@context"][0] == "https://www.w3.org/ns/credentials/v2"
        proofs = config["proof_types_supported"]
        assert set(proofs["jwt"]["proof_signing_alg_values_supported"]) == {"ES256", "EdDSA"}
        assert set(proofs["di_vp"]["proof_signing_alg_values_supported"]) == {
            "eddsa-rdfc-2022",
            "ecdsa-rdfc-2019",
        }
    assert configs[CONFIG_EDDSA]["credential_signing_alg_values_supported"] == ["eddsa-rdfc-2022"]
    assert configs[CONFIG_SD]["credential_signing_alg_values_supported"] == ["ecdsa-sd-2023"]
    meta = await h.get_json("/.well-known/oauth-authorization-server")
    assert meta["issuer"] == h.issuer
    assert meta["token_endpoint"] == h.issuer + "/token"
    assert meta["pre-authorized_grant_anonymous_access_supported"] is True


# -- the pre-authorized code flow ---------------------------------------------------------------


@pytest.mark.parametrize("proof_type", ["di_vp", "di_vp-P-256", "jwt-EdDSA", "jwt-ES256"])
async def test_claim_binds_holder_did(h: Harness, proof_type: str) -> None:
    offer = await h.offer()
    key = wallet_key("P-256" if proof_type.endswith(("ES256", "P-256")) else "Ed25519")
    credential = await h.claim(
        offer["links"]["openidCredentialOffer"], key, proof=proof_type.split("-")[0]
    )
    assert credential["credentialSubject"]["id"] == key.controller
    assert credential["issuer"]["id"] == h.node.did
    report = verify(credential, now=h.clock(), resolver=await _resolver(h))
    assert _proof_checks_pass(report), report.to_dict()
    # The offer is claimed now: its page and QR code say so, the code cannot be reused.
    async with h.session.get(
        h.url(offer["links"]["page"]), headers={"Accept": "application/json"}
    ) as resp:
        assert resp.status == 410
        problem = await resp.json()
    assert problem["type"].endswith("offer-claimed")
    async with h.session.get(h.url(offer["links"]["qrPng"])) as resp:
        assert resp.status == 410
    with pytest.raises(AssertionError, match="invalid_grant"):
        await h.claim(offer["links"]["openidCredentialOffer"], key)


async def test_sd_copy_delivered_on_request(h: Harness) -> None:
    offer = await h.offer()
    key = wallet_key()
    eddsa, sd = await h.claim(
        offer["links"]["openidCredentialOffer"], key, configurations=[CONFIG_EDDSA, CONFIG_SD]
    )
    assert eddsa["credentialSubject"]["id"] == sd["credentialSubject"]["id"] == key.controller
    assert eddsa["id"] == sd["id"]
    sd_proofs = sd["proof"] if isinstance(sd["proof"], list) else [sd["proof"]]
    assert [p.get("cryptosuite") for p in sd_proofs] == ["ecdsa-sd-2023"]
    derived = derive(sd, selective_pointers=["/credentialSubject/achievement/name"])
    report = verify(derived, now=h.clock(), resolver=await _resolver(h))
    assert _proof_checks_pass(report), report.to_dict()


async def test_pre_authorized_code_works_once(h: Harness) -> None:
    offer = await h.offer()
    form = {"grant_type": PRE_AUTH, "pre-authorized_code": _code(offer)}
    async with h.session.post(h.url("/token"), data=form) as resp:
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "no-store"
        body = await resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    async with h.session.post(h.url("/token"), data=form) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_grant"


async def test_token_errors(h: Harness) -> None:
    cases = [
        ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type"),
        ({"grant_type": PRE_AUTH}, "invalid_request"),
        ({"pre-authorized_code": "x"}, "invalid_request"),
        ({"grant_type": PRE_AUTH, "pre-authorized_code": "nope"}, "invalid_grant"),
    ]
    for form, error in cases:
        async with h.session.post(h.url("/token"), data=form) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"] == error
    async with h.session.post(h.url("/token"), json={"grant_type": PRE_AUTH}) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_request"
    repeated = f"grant_type={PRE_AUTH}&grant_type={PRE_AUTH}&pre-authorized_code=x"
    async with h.session.post(
        h.url("/token"),
        data=repeated,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ) as resp:
        assert (await resp.json())["error"] == "invalid_request"
    async with h.session.post(
        h.url("/token"),
        data="x" * 10_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ) as resp:
        assert (await resp.json())["error"] == "invalid_request"


async def test_tx_code(h: Harness) -> None:
    offer = await h.offer(txCode=True)
    pin = offer["txCode"]
    assert len(pin) == 6 and pin.isdigit()
    grant = offer["credentialOffer"]["grants"][PRE_AUTH]
    assert grant["tx_code"]["length"] == 6 and grant["tx_code"]["input_mode"] == "numeric"
    form = {"grant_type": PRE_AUTH, "pre-authorized_code": _code(offer)}
    async with h.session.post(h.url("/token"), data=form) as resp:
        assert (await resp.json())["error"] == "invalid_request"
    wrong = "000000" if pin != "000000" else "111111"
    async with h.session.post(h.url("/token"), data={**form, "tx_code": wrong}) as resp:
        assert (await resp.json())["error"] == "invalid_grant"
    # The PIN is never shown again.
    listed = await h.get_json(f"/api/offers/{offer['id']}", headers=h.staff)
    assert "txCode" not in listed and listed["txCodeRequired"] is True
    key = wallet_key()
    credential = await h.claim(offer["links"]["openidCredentialOffer"], key, tx_code=pin)
    assert credential["credentialSubject"]["id"] == key.controller


async def test_tx_code_not_expected(h: Harness) -> None:
    offer = await h.offer()
    form = {"grant_type": PRE_AUTH, "pre-authorized_code": _code(offer), "tx_code": "123456"}
    async with h.session.post(h.url("/token"), data=form) as resp:
        assert (await resp.json())["error"] == "invalid_request"


async def test_tx_code_locks_after_failures(h: Harness) -> None:
    offer = await h.offer(txCode=True)
    pin = offer["txCode"]
    form = {"grant_type": PRE_AUTH, "pre-authorized_code": _code(offer)}
    wrong = "000000" if pin != "000000" else "111111"
    for _ in range(5):
        async with h.session.post(h.url("/token"), data={**form, "tx_code": wrong}) as resp:
            assert resp.status == 400
    async with h.session.post(h.url("/token"), data={**form, "tx_code": pin}) as resp:
        body = await resp.json()
    assert body["error"] == "invalid_grant" and "locked" in body["error_description"]


async def test_offer_expires(h: Harness) -> None:
    offer = await h.offer(ttlSeconds=60)
    h.clock.advance(61)  # type: ignore[attr-defined]
    async with h.session.get(
        h.url(offer["links"]["page"]), headers={"Accept": "application/json"}
    ) as resp:
        assert resp.status == 410
        assert (await resp.json())["type"].endswith("offer-expired")
    async with h.session.get(
        h.url(offer["links"]["page"]), headers={"Accept": "text/html"}
    ) as resp:
        assert resp.status == 410
        assert "expired" in await resp.text()
    with pytest.raises(AssertionError, match="invalid_grant"):
        await h.claim(offer["links"]["openidCredentialOfferByValue"], wallet_key())


async def test_offer_ttl_is_capped(h: Harness) -> None:
    async with h.session.post(
        h.url("/api/offers"),
        json={"achievementId": h.node.samples[0], "ttlSeconds": 10**9},
        headers=h.staff,
    ) as resp:
        assert resp.status == 422


async def test_cancelled_offer(h: Harness) -> None:
    offer = await h.offer()
    async with h.session.delete(h.url(f"/api/offers/{offer['id']}"), headers=h.staff) as resp:
        assert resp.status == 200
        assert (await resp.json())["status"] == "cancelled"
    async with h.session.get(h.url(offer["links"]["credentialOfferUri"])) as resp:
        assert resp.status == 410
    with pytest.raises(AssertionError, match="invalid_grant"):
        await h.claim(offer["links"]["openidCredentialOfferByValue"], wallet_key())
    async with h.session.delete(h.url(f"/api/offers/{offer['id']}"), headers=h.staff) as resp:
        assert resp.status == 409


async def _token(h: Harness) -> str:
    offer = await h.offer()
    return await h.token(offer["links"]["openidCredentialOffer"])


def _body(config: str, kind: str, proof: Any) -> dict[str, Any]:
    return {"credential_configuration_id": config, "proofs": {kind: [proof]}}


async def test_replayed_nonce_refused(h: Harness) -> None:
    token = await _token(h)
    key = wallet_key()
    proof = di_vp_proof(key, nonce=await h.nonce(), domain=h.issuer, now=h.clock())
    status, reply = await h.request(token, _body(CONFIG_EDDSA, "di_vp", proof))
    assert status == 200, reply
    # The same proof again (same nonce), even for the other configuration: refused.
    status, reply = await h.request(token, _body(CONFIG_SD, "di_vp", proof))
    assert status == 400 and reply["error"] == "invalid_nonce"
    # A fresh nonce for the configuration already delivered: refused (works once).
    proof = di_vp_proof(key, nonce=await h.nonce(), domain=h.issuer, now=h.clock())
    status, reply = await h.request(token, _body(CONFIG_EDDSA, "di_vp", proof))
    assert status == 400 and reply["error"] == "credential_request_denied"
    # A nonce the node never gave.
    proof = di_vp_proof(key, nonce="made-up", domain=h.issuer, now=h.clock())
    status, reply = await h.request(token, _body(CONFIG_SD, "di_vp", proof))
    assert status == 400 and reply["error"] == "invalid_nonce"
    # A JWT proof replayed.
    jwt = jwt_proof(key, nonce=await h.nonce(), aud=h.issuer, now=h.clock())
    status, reply = await h.request(token, _body(CONFIG_SD, "jwt", jwt))
    assert status == 200, reply
    status, reply = await h.request(token, _body(CONFIG_SD, "jwt", jwt))
    assert status == 400 and reply["error"] == "invalid_nonce"


async def test_expired_nonce_refused(h: Harness) -> None:
    token = await _token(h)
    nonce = await h.nonce()
    h.clock.advance(301)  # type: ignore[attr-defined]
    proof = di_vp_proof(wallet_key(), nonce=nonce, domain=h.issuer, now=h.clock())
    status, reply = await h.request(token, _body(CONFIG_EDDSA, "di_vp", proof))
    assert status == 400 and reply["error"] == "invalid_nonce"


async def test_bad_proofs_refused(h: Harness) -> None:
    token = await _token(h)
    key = wallet_key()
    other = wallet_key()
    now = h.clock()

    async def attempt(kind: str, proof: Any) -> str:
        status, reply = await h.request(token, _body(CONFIG_EDDSA, kind, proof))
        assert status == 400, reply
        return str(reply["error"])

    # Wrong domain.
    proof = di_vp_proof(key, nonce=await h.nonce(), domain="https://elsewhere.example", now=now)
    assert await attempt("di_vp", proof) == "invalid_proof"
    # Wrong challenge (a nonce the node gave, but not the one in the proof).
    nonce = await h.nonce()
    signed_for_other = di_vp_proof(key, nonce="other-challenge", domain=h.issuer, now=now)
    signed_for_other_proof = signed_for_other["proof"]
    signed_for_other_proof = (
        signed_for_other_proof[0]
        if isinstance(signed_for_other_proof, list)
        else signed_for_other_proof
    )
    signed_for_other_proof["challenge"] = nonce  # claims the nonce; the signature now fails
    assert await attempt("di_vp", signed_for_other) == "invalid_proof"
    # Signed by another key than the holder's.
    vp = build_presentation(holder=key.controller or "", credentials=[])
    forged = sign(
        vp,
        key=other,
        created=now,
        purpose="authentication",
        challenge=await h.nonce(),
        domain=h.issuer,
    )
    assert await attempt("di_vp", forged) == "invalid_proof"
    # The holder swapped after signing.
    proof = di_vp_proof(key, nonce=await h.nonce(), domain=h.issuer, now=now)
    proof["holder"] = other.controller
    assert await attempt("di_vp", proof) == "invalid_proof"
    # Tampered after signing.
    proof = di_vp_proof(key, nonce=await h.nonce(), domain=h.issuer, now=now)
    proof["id"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
    assert await attempt("di_vp", proof) == "invalid_proof"
    # assertionMethod purpose instead of authentication.
    wrong_purpose = sign(vp, key=key, created=now, challenge=await h.nonce(), domain=h.issuer)
    assert await attempt("di_vp", wrong_purpose) == "invalid_proof"
    # Ed25519Signature2020 is for the VC API exchange, not announced for di_vp.
    legacy = di_vp_proof(
        key, nonce=await h.nonce(), domain=h.issuer, now=now, suite="Ed25519Signature2020"
    )
    assert await attempt("di_vp", legacy) == "invalid_proof"
    # JWT proofs: wrong aud, wrong typ, kid of another key, alg none, a jwk instead of a kid.
    assert (
        await attempt(
            "jwt", jwt_proof(key, nonce=await h.nonce(), aud="https://x.example", now=now)
        )
        == "invalid_proof"
    )
    assert (
        await attempt(
            "jwt", jwt_proof(key, nonce=await h.nonce(), aud=h.issuer, now=now, typ="JWT")
        )
        == "invalid_proof"
    )
    assert (
        await attempt(
            "jwt", jwt_proof(key, nonce=await h.nonce(), aud=h.issuer, now=now, kid=other.id)
        )
        == "invalid_proof"
    )
    old = now - timedelta(days=1)
    assert (
        await attempt("jwt", jwt_proof(key, nonce=await h.nonce(), aud=h.issuer, now=old))
        == "invalid_proof"
    )

    for claims in (
        {"aud": h.issuer, "iat": 1e300},
        {"aud": h.issuer, "iat": "now"},
        {"aud": h.issuer, "iat": int(now.timestamp()), "exp": int(now.timestamp()) - 3600},
        {"aud": h.issuer, "iat": int(now.timestamp()), "exp": 1e300 * 1e300},
        {"aud": [h.issuer, "x"], "iat": int(now.timestamp()), "nonce": "other"},
    ):
        claims.setdefault("nonce", await h.nonce())
        header = {"alg": "EdDSA", "typ": "openid4vci-proof+jwt", "kid": key.id}
        token_jwt = sign_compact(header, claims, key)
        assert await attempt("jwt", token_jwt) in ("invalid_proof", "invalid_nonce"), claims

    def b64(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims = {"aud": h.issuer, "nonce": await h.nonce(), "iat": int(now.timestamp())}
    none_jwt = f"{b64({'alg': 'none', 'typ': 'openid4vci-proof+jwt'})}.{b64(claims)}.c2ln"
    assert await attempt("jwt", none_jwt) == "invalid_proof"
    assert await attempt("jwt", "not.a-jwt") == "invalid_proof"
    # Shapes.
    status, reply = await h.request(
        token, {"credential_configuration_id": CONFIG_EDDSA, "proofs": {"jwt": []}}
    )
    assert reply["error"] == "invalid_proof"
    status, reply = await h.request(
        token, {"credential_configuration_id": CONFIG_EDDSA, "proofs": {"ldp_vp": ["x"]}}
    )
    assert reply["error"] == "invalid_proof"
    # After all that, the offer still works with a good proof.
    proof = di_vp_proof(key, nonce=await h.nonce(), domain=h.issuer, now=now)
    status, reply = await h.request(token, _body(CONFIG_EDDSA, "di_vp", proof))
    assert status == 200, reply


async def test_offer_bound_to_first_holder(h: Harness) -> None:
    token = await _token(h)
    first, second = wallet_key(), wallet_key()
    proof = di_vp_proof(first, nonce=await h.nonce(), domain=h.issuer, now=h.clock())
    status, _ = await h.request(token, _body(CONFIG_EDDSA, "di_vp", proof))
    assert status == 200
    proof = di_vp_proof(second, nonce=await h.nonce(), domain=h.issuer, now=h.clock())
    status, reply = await h.request(token, _body(CONFIG_SD, "di_vp", proof))
    assert status == 400 and reply["error"] == "credential_request_denied"


async def test_credential_endpoint_refuses_without_token(h: Harness) -> None:
    async with h.session.post(h.url("/credential"), json={}) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await resp.json())["error"] == "invalid_token"
    status, reply = await h.request("not-a-token", {"credential_configuration_id": CONFIG_EDDSA})
    assert status == 401 and reply["error"] == "invalid_token"
    # A staff API token is not an access token.
    status, reply = await h.request(h.node.token, {"credential_configuration_id": CONFIG_EDDSA})
    assert status == 401 and reply["error"] == "invalid_token"


async def test_credential_request_shape_errors(h: Harness) -> None:
    token = await _token(h)
    status, reply = await h.request(token, {"proofs": {}})
    assert status == 400 and reply["error"] == "invalid_credential_request"
    status, reply = await h.request(token, {"credential_configuration_id": "Other"})
    assert status == 400 and reply["error"] == "unknown_credential_configuration"
    status, reply = await h.request(token, {"credential_identifier": "x"})
    assert reply["error"] == "unknown_credential_identifier"
    status, reply = await h.request(
        token, {"credential_configuration_id": CONFIG_EDDSA, "proof": {"proof_type": "jwt"}}
    )
    assert reply["error"] == "invalid_credential_request"
    async with h.session.post(
        h.url("/credential"),
        data=b"{not json",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_credential_request"


async def test_access_token_expires(h: Harness) -> None:
    token = await _token(h)
    nonce = await h.nonce()
    h.clock.advance(601)  # type: ignore[attr-defined]
    proof = di_vp_proof(wallet_key(), nonce=nonce, domain=h.issuer, now=h.clock())
    status, reply = await h.request(token, _body(CONFIG_EDDSA, "di_vp", proof))
    assert status == 401 and reply["error"] == "invalid_token"


async def test_concurrent_claims_issue_once(h: Harness) -> None:
    token = await _token(h)
    key = wallet_key()
    bodies = []
    for config in (CONFIG_EDDSA, CONFIG_SD, CONFIG_EDDSA):
        proof = di_vp_proof(key, nonce=await h.nonce(), domain=h.issuer, now=h.clock())
        bodies.append(_body(config, "di_vp", proof))
    results = await asyncio.gather(*(h.request(token, b) for b in bodies))
    assert sorted(s for s, _ in results) == [200, 200, 400]
    ids = {r["credentials"][0]["credential"]["id"] for s, r in results if s == 200}
    assert len(ids) == 1
    issued = h.node.service("issuing").list()
    assert len(issued) == 1


# -- offers: links, QR codes, staff API ---------------------------------------------------------


async def test_offer_links_and_qr(h: Harness) -> None:
    offer = await h.offer()
    links = offer["links"]
    by_ref = urlsplit(links["openidCredentialOffer"])
    assert by_ref.scheme == "openid-credential-offer"
    assert parse_qs(by_ref.query)["credential_offer_uri"] == [links["credentialOfferUri"]]
    by_value = parse_qs(urlsplit(links["openidCredentialOfferByValue"]).query)
    assert json.loads(by_value["credential_offer"][0]) == offer["credentialOffer"]
    assert offer["credentialOffer"]["credential_issuer"] == h.issuer
    assert offer["credentialOffer"]["credential_configuration_ids"] == [CONFIG_EDDSA, CONFIG_SD]
    assert await h.get_json(links["credentialOfferUri"]) == offer["credentialOffer"]
    lcw = urlsplit(links["lcwDeepLink"])
    request = json.loads(unquote(parse_qs(lcw.query)["request"][0]))
    assert request == {"protocols": {"vcapi": links["vcapiExchange"]}}
    assert links["interactionUrl"].endswith("?iuv=1")
    async with h.session.get(h.url(links["qrPng"])) as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
        assert resp.headers["Cache-Control"] == "no-store"
        png = await resp.read()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # The PNG is the QR code of the offer link (segno renders it identically).
    expected = io.BytesIO()
    segno.make(links["openidCredentialOffer"], error="m", micro=False).save(
        expected, kind="png", scale=6, border=4
    )
    assert expected.getvalue() == png
    for which, link in (
        ("", links["openidCredentialOffer"]),
        ("?link=interaction", links["interactionUrl"]),
        ("?link=lcw", links["lcwDeepLink"]),
        ("?link=oid4vci-value", links["openidCredentialOfferByValue"]),
    ):
        async with h.session.get(h.url(links["qrSvg"]) + which) as resp:
            assert resp.status == 200 and resp.content_type == "image/svg+xml"
            svg = await resp.read()
        assert svg.startswith(b"<svg") and b"<script" not in svg
        want = io.BytesIO()
        segno.make(link, error="m", micro=False).save(
            want, kind="svg", scale=6, border=4, xmldecl=False, svgclass=None, lineclass=None
        )
        assert want.getvalue() == svg, which
    async with h.session.get(h.url(links["qrSvg"]) + "?link=other") as resp:
        assert resp.status == 400
    async with h.session.get(h.url(links["page"]), headers={"Accept": "text/html"}) as resp:
        assert resp.status == 200
        text = await resp.text()
    assert "qr.svg" in text and "openid-credential-offer://" in text


async def test_staff_offer_api(h: Harness) -> None:
    offer = await h.offer(label="Custom <b>label</b>")
    listed = (await h.get_json("/api/offers", headers=h.staff))["offers"]
    assert [o["id"] for o in listed] == [offer["id"]]
    assert "links" not in listed[0] and listed[0]["status"] == "offered"
    assert (await h.get_json(f"/api/offers/{offer['id']}", headers=h.staff))["links"] == offer[
        "links"
    ]
    async with h.session.get(
        h.url(offer["links"]["page"]), headers={"Accept": "text/html"}
    ) as resp:
        assert "Custom &lt;b&gt;label&lt;/b&gt;" in await resp.text()
    bad = [
        {},
        {"achievementId": "nope"},
        {"achievementId": h.node.samples[0], "credentialId": "y"},
        {"achievementId": h.node.samples[0], "other": 1},
        {"achievementId": h.node.samples[0], "subjectDid": "did:example:1"},
        {"achievementId": h.node.samples[0], "txCode": "yes"},
        {"achievementId": h.node.samples[0], "configurations": ["Other"]},
        {"credentialId": "urn:uuid:unknown"},
    ]
    for body in bad:
        async with h.session.post(h.url("/api/offers"), json=body, headers=h.staff) as resp:
            assert resp.status == 422, (body, await resp.text())
            assert resp.content_type == "application/problem+json"


async def test_eddsa_only_offer(h: Harness) -> None:
    offer = await h.offer(configurations=[CONFIG_EDDSA])
    assert offer["credentialOffer"]["credential_configuration_ids"] == [CONFIG_EDDSA]
    token = await h.token(offer["links"]["openidCredentialOffer"])
    proof = di_vp_proof(wallet_key(), nonce=await h.nonce(), domain=h.issuer, now=h.clock())
    status, reply = await h.request(token, _body(CONFIG_SD, "di_vp", proof))
    assert status == 400 and reply["error"] == "unknown_credential_configuration"


async def test_private_endpoints_refuse_without_credentials(h: Harness) -> None:
    offer = await h.offer()
    private = [
        ("GET", "/api/offers"),
        ("POST", "/api/offers"),
        ("GET", f"/api/offers/{offer['id']}"),
        ("DELETE", f"/api/offers/{offer['id']}"),
    ]
    for method, path in private:
        async with h.session.request(method, h.url(path), json={}) as resp:
            assert resp.status == 401, (method, path)
            assert resp.content_type == "application/problem+json"
    weak = h.node.make_token("staff")
    for method, path in private:
        async with h.session.request(
            method, h.url(path), json={}, headers={"Authorization": f"Bearer {weak}"}
        ) as resp:
            assert resp.status == 403, (method, path)
    # Nothing was cancelled or created by those attempts.
    assert (await h.get_json(f"/api/offers/{offer['id']}", headers=h.staff))["status"] == (
        "offered"
    )


async def test_unknown_offer(h: Harness) -> None:
    for path in (
        "/offers/nope",
        "/offers/nope/qr.png",
        "/offers/nope/qr.svg",
        "/offers/nope/credential-offer",
        "/interactions/nope?iuv=1",
    ):
        async with h.session.get(h.url(path), headers={"Accept": "application/json"}) as resp:
            assert resp.status == 404, path
    async with h.session.post(h.url("/workflows/claim/exchanges/nope"), json={}) as resp:
        assert resp.status == 404


# -- VC API exchange (Learner Credential Wallet) ------------------------------------------------


async def _exchange(
    h: Harness,
    offer: dict[str, Any],
    key: Any,
    *,
    suite: str = "Ed25519Signature2020",
    domain: str | None = None,
    vc_v1: bool = True,
) -> tuple[int, Any]:
    protocols = (
        await h.get_json(offer["links"]["interactionUrl"], headers={"Accept": "application/json"})
    )["protocols"]
    assert protocols["OID4VCI"] == offer["links"]["openidCredentialOffer"]
    exchange_url = protocols["vcapi"]
    async with h.session.post(h.url(exchange_url), json={}) as resp:
        assert resp.status == 200
        vpr = (await resp.json())["verifiablePresentationRequest"]
    assert vpr["query"][0]["type"] == "DIDAuthentication"
    assert vpr["domain"] == h.issuer and len(vpr["challenge"]) >= 20
    endpoint = vpr["interact"]["service"][0]["serviceEndpoint"]
    assert endpoint == exchange_url
    # As the Learner Credential Wallet does: a VC 1.1 presentation signed with
    # Ed25519Signature2020 by its did:key.
    context = (
        "https://www.w3.org/2018/credentials/v1"
        if vc_v1
        else "https://www.w3.org/ns/credentials/v2"
    )
    vp = {"@context": [context], "type": ["VerifiablePresentation"], "holder": key.controller}
    signed = sign_presentation(
        vp,
        key=key,
        challenge=vpr["challenge"],
        domain=domain or vpr["domain"],
        created=h.clock(),
        suite=suite,
    )
    async with h.session.post(h.url(endpoint), json={"verifiablePresentation": signed}) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize("suite", ["Ed25519Signature2020", "eddsa-rdfc-2022"])
async def test_vc_api_exchange(h: Harness, suite: str) -> None:
    offer = await h.offer()
    key = wallet_key()
    status, reply = await _exchange(
        h, offer, key, suite=suite, vc_v1=suite == "Ed25519Signature2020"
    )
    assert status == 200, reply
    credentials = reply["verifiablePresentation"]["verifiableCredential"]
    assert len(credentials) == 1
    assert credentials[0]["credentialSubject"]["id"] == key.controller
    report = verify(credentials[0], now=h.clock(), resolver=await _resolver(h))
    assert _proof_checks_pass(report), report.to_dict()
    # One use: the exchange and the interaction URL are gone, and so is the OID4VCI route.
    async with h.session.post(h.url(offer["links"]["vcapiExchange"]), json={}) as resp:
        assert resp.status == 410
    async with h.session.get(
        h.url(offer["links"]["interactionUrl"]), headers={"Accept": "application/json"}
    ) as resp:
        assert resp.status == 410
    with pytest.raises(AssertionError, match="invalid_grant"):
        await h.claim(offer["links"]["openidCredentialOffer"], key)


async def test_vc_api_exchange_refuses_bad_presentations(h: Harness) -> None:
    offer = await h.offer()
    key = wallet_key()
    status, reply = await _exchange(h, offer, key, domain="https://elsewhere.example")
    assert status == 422 and reply["type"].endswith("invalid-presentation")
    exchange_url = h.url(offer["links"]["vcapiExchange"])
    # The challenge was used up by that attempt.
    async with h.session.post(exchange_url, json={"verifiablePresentation": {}}) as resp:
        assert resp.status == 409
    async with h.session.post(exchange_url, json={"unexpected": 1}) as resp:
        assert resp.status == 400
    async with h.session.post(exchange_url, json=[]) as resp:
        assert resp.status == 400
    # Still claimable with a good presentation.
    status, reply = await _exchange(h, offer, key)
    assert status == 200, reply


async def test_exchange_challenge_is_single_use(h: Harness) -> None:
    offer = await h.offer()
    key = wallet_key()
    exchange_url = h.url(offer["links"]["vcapiExchange"])
    async with h.session.post(exchange_url, json={}) as resp:
        vpr = (await resp.json())["verifiablePresentationRequest"]
    vp = {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiablePresentation"],
        "holder": key.controller,
    }
    signed = sign_presentation(
        vp,
        key=key,
        challenge=vpr["challenge"],
        domain=vpr["domain"],
        created=h.clock(),
        suite="Ed25519Signature2020",
    )
    # A fresh {} replaces the challenge: the presentation made for the old one fails.
    async with h.session.post(exchange_url, json={}) as resp:
        assert resp.status == 200
    async with h.session.post(exchange_url, json={"verifiablePresentation": signed}) as resp:
        assert resp.status == 422
    # And a presentation replayed after a success is refused too.
    async with h.session.post(exchange_url, json={}) as resp:
        vpr = (await resp.json())["verifiablePresentationRequest"]
    signed = sign_presentation(
        vp,
        key=key,
        challenge=vpr["challenge"],
        domain=vpr["domain"],
        created=h.clock(),
        suite="Ed25519Signature2020",
    )
    async with h.session.post(exchange_url, json={"verifiablePresentation": signed}) as resp:
        assert resp.status == 200
    async with h.session.post(exchange_url, json={"verifiablePresentation": signed}) as resp:
        assert resp.status == 410


async def test_interaction_url_for_browsers(h: Harness) -> None:
    offer = await h.offer()
    async with h.session.get(
        h.url(offer["links"]["interactionUrl"]),
        headers={"Accept": "text/html"},
        allow_redirects=False,
    ) as resp:
        assert resp.status == 303
        assert resp.headers["Location"] == f"/offers/{offer['id']}"


async def test_deferred_issuing_happens_at_claim(h: Harness) -> None:
    offer = await h.offer()
    assert h.node.service("issuing").list() == []
    h.clock.advance(3600)  # type: ignore[attr-defined]
    credential = await h.claim(offer["links"]["openidCredentialOffer"], wallet_key())
    valid_from = datetime.fromisoformat(credential["validFrom"].replace("Z", "+00:00"))
    assert valid_from == h.clock()
    staff_view = await h.get_json(f"/api/offers/{offer['id']}", headers=h.staff)
    assert staff_view["credentialId"] == credential["id"]
    assert staff_view["status"] == "claimed"


async def test_issued_offer_delivers_to_its_subject_only(h: Harness) -> None:
    key = wallet_key()
    issued = await h.node.service("issuing").issue(
        achievement_id=h.node.samples[0], subject_did=key.controller
    )
    offer = await h.offer(credentialId=issued.id)
    with pytest.raises(AssertionError, match="credential_request_denied"):
        await h.claim(offer["links"]["openidCredentialOffer"], wallet_key())
    offer = await h.offer(credentialId=issued.id)
    credential = await h.claim(offer["links"]["openidCredentialOffer"], key)
    assert credential["id"] == issued.id
    assert credential == issued.credential


async def test_revoked_credential_not_delivered(h: Harness) -> None:
    key = wallet_key()
    issuing = h.node.service("issuing")
    issued = await issuing.issue(achievement_id=h.node.samples[0], subject_did=key.controller)
    offer = await h.offer(credentialId=issued.id)
    issuing.revoke(issued.id, "test")
    with pytest.raises(AssertionError, match="credential_request_denied"):
        await h.claim(offer["links"]["openidCredentialOffer"], key)


@pytest.mark.parametrize("proof", ["di_vp", "jwt"])
async def test_did_web_holder(start_node: Any, clock: Any, proof: str) -> None:
    # The holder is another node's did:web, resolved through the fetcher's transport map.
    async with start_node(clock=clock, samples=False) as holder_node:
        transport = {holder_node.did: holder_node.base_url}
        async with start_node(clock=clock, fetcher=transport) as node:
            h = Harness(node, clock)
            key = holder_node.service("identity").signing_key(holder_node.did)
            offer = await h.offer()
            credential = await h.claim(offer["links"]["openidCredentialOffer"], key, proof=proof)
            assert credential["credentialSubject"]["id"] == holder_node.did
            # A did:web the fetcher may not reach (an unconfigured loopback port) is refused.
            offer = await h.offer()
            token = await h.token(offer["links"]["openidCredentialOffer"])
            stranger = wallet_key().with_controller(
                "did:web:localhost%3A9", "did:web:localhost%3A9#key-1"
            )
            vp = di_vp_proof(stranger, nonce=await h.nonce(), domain=h.issuer, now=h.clock())
            status, reply = await h.request(token, _body(CONFIG_EDDSA, "di_vp", vp))
            assert status == 400 and reply["error"] == "invalid_proof", reply


async def test_staff_offer_pages(h: Harness) -> None:
    async with h.session.get(
        h.url("/staff/offers"), headers={"Accept": "text/html"}, allow_redirects=False
    ) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/staff/login"
    async with h.session.post(h.url("/staff/offers"), data={"achievementId": "x"}) as resp:
        assert resp.status == 401
    session = h.node.new_session()
    try:
        csrf = await h.node.login(session)
        async with session.get(h.url("/staff/offers")) as resp:
            assert resp.status == 200
            page = await resp.text()
        assert 'name="achievementId"' in page and h.node.samples[0] in page
        form = {"achievementId": h.node.samples[0], "email": "ada@example.org", "txCode": "1"}
        async with session.post(h.url("/staff/offers"), data=form) as resp:
            assert resp.status == 403  # no CSRF token
        async with session.post(h.url("/staff/offers"), data={**form, "csrf_token": csrf}) as resp:
            assert resp.status == 201
            page = await resp.text()
        assert "/offers/" in page and "Transaction code" in page
        async with session.post(
            h.url("/staff/offers"),
            data={"achievementId": "nope", "email": "a@b.org", "csrf_token": csrf},
        ) as resp:
            assert resp.status == 422
    finally:
        await session.close()
    offers = (await h.get_json("/api/offers", headers=h.staff))["offers"]
    assert len(offers) == 1 and offers[0]["txCodeRequired"] is True


def test_routes_are_documented(h: Harness) -> None:
    # Every delivery and badge-request route (but the HTML staff pages) is in specs/openapi.yaml
    # and in specs/node-api.md.
    from pathlib import Path

    specs = Path(__file__).resolve().parents[2] / "specs"
    openapi = (specs / "openapi.yaml").read_text("utf-8")
    prose = (specs / "node-api.md").read_text("utf-8")
    documented = {
        line.strip().rstrip(":") for line in openapi.splitlines() if line.startswith("  /")
    }
    seen = 0
    for route in h.node.app.router.routes():
        module = getattr(route.handler, "__module__", "")
        if not module.startswith(("node.delivery", "node.requests")) or route.method == "HEAD":
            continue
        path = route.resource.canonical if route.resource else ""
        seen += 1
        assert path.replace("{offer}", "{id}") in prose or path in prose, path
        if path.startswith("/staff/"):
            continue
        assert path in documented or path.replace("{offer}", "{id}") in documented, path
    assert seen >= 25


async def test_exchange_racing_presentations(h: Harness) -> None:
    offer = await h.offer()
    key = wallet_key()
    exchange_url = h.url(offer["links"]["vcapiExchange"])
    async with h.session.post(exchange_url, json={}) as resp:
        vpr = (await resp.json())["verifiablePresentationRequest"]
    vp = {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiablePresentation"],
        "holder": key.controller,
    }
    signed = sign_presentation(
        vp,
        key=key,
        challenge=vpr["challenge"],
        domain=vpr["domain"],
        created=h.clock(),
        suite="Ed25519Signature2020",
    )

    async def post() -> int:
        async with h.session.post(exchange_url, json={"verifiablePresentation": signed}) as resp:
            return resp.status

    statuses = sorted(await asyncio.gather(post(), post(), post()))
    assert statuses[0] == 200 and all(s in (409, 410) for s in statuses[1:]), statuses
    assert len(h.node.service("issuing").list()) == 1


async def test_issued_offer_of_an_unbound_credential(h: Harness) -> None:
    # A credential issued to an e-mail only is delivered as it was issued (specs/delivery.md).
    issued = await h.node.service("issuing").issue(
        achievement_id=h.node.samples[0], email="ada@example.org"
    )
    offer = await h.offer(credentialId=issued.id, configurations=[CONFIG_EDDSA])
    credential = await h.claim(offer["links"]["openidCredentialOffer"], wallet_key())
    assert credential == issued.credential
    assert "id" not in credential["credentialSubject"]
