"""The wallet's exchange side: offers and requests it understands or refuses, the one-origin
HTTP policy, DCQL matching, the disclosure summary, what leaves the wallet, and refusals by the
verifier (wrong domain, expired request, declined, queries not met).

Real node and wallet (``test_exchange_support``), a small capturing verifier on loopback for
the bytes a wallet posts; nothing is mocked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest

from protocol.did import Resolver
from protocol.encoding import b64url_encode
from protocol.verify import verify
from tests.wallet.test_exchange_support import EMAIL, World, capture_server, world
from wallet.client import (
    ExchangeError,
    HttpClient,
    Origin,
    parse_offer,
    receive_async,
)
from wallet.present import (
    PresentationPlan,
    _send,
    make_presentation,
    parse_request,
    plan_presentation,
    present_async,
    resolve_request,
    sign_plan,
)

NAME = ["credentialSubject", "achievement", "name"]
VC = "https://www.w3.org/2018/credentials#VerifiableCredential"
OBC = "https://purl.imsglobal.org/spec/vc/ob/vocab.html#OpenBadgeCredential"


def _strings(document: Any) -> set[str]:
    if isinstance(document, dict):
        return {s for v in document.values() for s in _strings(v)}
    if isinstance(document, list):
        return {s for v in document for s in _strings(v)}
    return {document} if isinstance(document, str) else set()


def _dcql(*claims: dict[str, Any], **extra: Any) -> dict[str, Any]:
    query: dict[str, Any] = {
        "id": "badge",
        "format": "ldp_vc",
        "meta": {"type_values": [[VC, OBC]]},
        **extra,
    }
    if claims:
        query["claims"] = list(claims)
    return {"credentials": [query]}


async def _trust(w: World, credential: dict[str, Any]) -> tuple[Resolver, dict[str, Any]]:
    """The node's DID document and the credential's status list, as a verifier needs them."""
    async with w.session.get(w.node.url("/.well-known/did.json")) as resp:
        did_document = await resp.json(content_type=None)
    url = credential["credentialStatus"]["statusListCredential"]
    async with w.session.get(w.local(url)) as resp:
        status_list = await resp.json(content_type=None)
    return Resolver({w.node.did: did_document}), {url: status_list}


# -- offers and requests this wallet understands --------------------------------------------------


def test_offer_forms() -> None:
    by_value = {"credential_issuer": "https://node.example", "credential_configuration_ids": []}
    text = json.dumps(by_value)
    assert parse_offer(text).credential_offer == by_value
    link = "openid-credential-offer://?" + urlencode({"credential_offer": text})
    assert parse_offer(link).credential_offer == by_value
    uri = "https://node.example/offers/x/credential-offer"
    link = "openid-credential-offer://?" + urlencode({"credential_offer_uri": uri})
    assert parse_offer(link).credential_offer_uri == uri
    assert parse_offer("https://node.example/i/x?iuv=1").interaction_url is not None
    assert parse_offer("interaction:https://node.example/i/x?iuv=1").kind == "vcapi"
    exchange = "https://node.example/workflows/claim/exchanges/x"
    lcw = "https://lcw.app/request?" + urlencode(
        {"request": json.dumps({"protocols": {"vcapi": exchange}})}
    )
    assert parse_offer(lcw).exchange_url == exchange
    assert parse_offer(exchange).exchange_url == exchange


@pytest.mark.parametrize(
    ("offer", "reason"),
    [
        ("", "empty"),
        ("x" * 70_000, "longer than"),
        ("mailto:ada@example.org", "not offers"),
        ("openid-credential-offer://?credential_offer=%7B&x=1", "not JSON"),
        (
            "openid-credential-offer://?credential_offer=%7B%7D&credential_offer_uri=https%3A%2F%2Fa",
            "not both",
        ),
        (
            "openid-credential-offer://?credential_offer_uri=http%3A%2F%2Fnode.example%2Fo",
            "plain http is refused",
        ),
        ("https://user:pw@node.example/x?iuv=1", "credentials are refused"),
        ('{"hello": 1}', "neither a credential offer"),
    ],
)
def test_offers_refused(offer: str, reason: str) -> None:
    with pytest.raises(ExchangeError, match=reason):
        parse_offer(offer)


def test_request_forms() -> None:
    assert parse_request('{"challenge": "c", "domain": "d"}').kind == "plain"
    assert parse_request("passeport-present://?challenge=c&domain=d").kind == "plain"
    link = "openid4vp://?client_id=redirect_uri%3Ahttps%3A%2F%2Fv.example%2Fcb&request_uri=x"
    assert parse_request(link).kind == "openid4vp"
    assert parse_request('{"verifiablePresentationRequest": {}}').kind == "vcapi"
    invite = json.dumps({"protocols": {"vcapi": "https://v.example/workflows/p/exchanges/1"}})
    assert parse_request(invite).url == "https://v.example/workflows/p/exchanges/1"
    with pytest.raises(ExchangeError, match="more than once"):
        parse_request("openid4vp://?client_id=a&client_id=b")
    with pytest.raises(ExchangeError, match="not a presentation request"):
        parse_request('{"x": 1}')


def test_origin_policy() -> None:
    assert str(Origin.of("https://node.example/a/b")) == "https://node.example"
    assert str(Origin.of("http://localhost:8400/x")) == "http://localhost:8400"
    assert Origin.of("https://node.example/a").owns("https://node.example:443/other")
    assert not Origin.of("https://node.example/a").owns("https://evil.example/a")
    for url in ("http://node.example/", "ftp://node.example/", "https:///nohost"):
        with pytest.raises(ExchangeError):
            Origin.of(url)


async def test_http_client_refuses_other_origins_redirects_and_oversized_bodies() -> None:
    async with capture_server() as capture:
        async with HttpClient(Origin.of(capture.base)) as http:
            with pytest.raises(ExchangeError, match="is not on"):
                await http.get_json("http://localhost:1/x", what="elsewhere")
            capture.mode = "redirect"
            with pytest.raises(ExchangeError, match="redirects are refused"):
                await http.request("POST", capture.base + "/cb", what="the endpoint")
            with pytest.raises(ExchangeError, match="exceeds"):
                await http.get_json(capture.base + "/big", what="a big document")
        async with HttpClient(Origin.of(capture.base), max_bytes=1024) as http:
            capture.mode = "huge"
            with pytest.raises(ExchangeError, match="exceeds 1024 bytes"):
                await http.request("POST", capture.base + "/cb", what="the endpoint")


# -- receiving ------------------------------------------------------------------------------------


async def test_offer_fetched_from_one_host_naming_another_issuer_is_refused(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w, capture_server() as capture:
        made = await w.offer()
        capture.documents["offer"] = ("application/json", json.dumps(made["credentialOffer"]))
        link = "openid-credential-offer://?" + urlencode(
            {"credential_offer_uri": capture.base + "/doc/offer"}
        )
        with pytest.raises(ExchangeError, match="names another issuer"):
            await receive_async(w.wallet, link, now=w.clock())
        assert len(w.wallet) == 0


async def test_transaction_code(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        made = await w.offer(txCode=True)
        link = made["links"]["openidCredentialOffer"]
        with pytest.raises(ExchangeError, match="transaction code"):
            await receive_async(w.wallet, link, now=w.clock())
        wrong = "000000" if made["txCode"] != "000000" else "111111"
        with pytest.raises(ExchangeError, match="invalid_grant"):
            await receive_async(w.wallet, link, now=w.clock(), tx_code=wrong)
        (record,) = await receive_async(w.wallet, link, now=w.clock(), tx_code=made["txCode"])
        assert record.status == "valid"


async def test_p256_identity_with_jwt_proof_receives_and_presents(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        identity = w.wallet.new_identity("P-256", label="pairwise")
        made = await w.offer()
        (record,) = await receive_async(
            w.wallet,
            made["links"]["openidCredentialOfferByValue"],
            now=w.clock(),
            identity=identity.did,
            proof_type="jwt",
        )
        assert record.document["credentialSubject"]["id"] == identity.did
        assert record.status == "valid", record.verification
        request = await w.request(claims=[NAME])
        result = await present_async(
            w.wallet, request["links"]["openid4vp"], now=w.clock(), identity="pairwise"
        )
        assert result.response == {"status": "accepted"}
        proof = result.vp_token["badge"][0]["proof"]
        assert proof["cryptosuite"] == "ecdsa-rdfc-2019"
        assert proof["verificationMethod"].startswith(identity.did)


async def test_offer_bound_to_another_did(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        other = w.wallet.new_identity(label="other")
        made = await w.offer(subjectDid=other.did)
        with pytest.raises(ExchangeError, match="another holder DID"):
            await receive_async(w.wallet, made["links"]["openidCredentialOffer"], now=w.clock())
        assert len(w.wallet) == 0
        made = await w.offer(subjectDid=other.did)
        (record,) = await receive_async(
            w.wallet, made["links"]["openidCredentialOffer"], now=w.clock(), identity="other"
        )
        assert record.document["credentialSubject"]["id"] == other.did
        assert record.status == "valid"


# -- matching and disclosure ----------------------------------------------------------------------


async def test_dcql_matching_and_disclosure_plan(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        (first,) = await w.receive()
        (second,) = await w.receive(achievementId=w.node.samples[1])
        achievement = second.document["credentialSubject"]["achievement"]["id"]
        request = await w.request(achievementIds=[achievement], claims=[NAME])
        resolved = await resolve_request(request["links"]["openid4vp"], now=w.clock())
        plan = plan_presentation(w.wallet, resolved)
        assert [c.ref for c in plan.candidates["badge"]] == [second.local_id]
        (disclosure,) = plan.disclosures
        assert disclosure.selective
        assert disclosure.requested == [
            "/credentialSubject/achievement/id",
            "/credentialSubject/achievement/name",
        ]
        # Both are inside the mandatory achievement: nothing else needs revealing.
        assert disclosure.selective_pointers == []
        assert "/credentialSubject/achievement" in disclosure.mandatory
        assert disclosure.withheld == ["/credentialSubject/identifier/0"]
        assert "identifier" not in disclosure.document["credentialSubject"]
        with pytest.raises(ExchangeError, match="does not satisfy"):
            plan.choose("badge", [first.local_id])

        # Types are compared as expanded IRIs.
        other_type = _dcql(meta={"type_values": [["https://example.org/vocab#Diploma"]]})
        resolved.dcql = other_type
        with pytest.raises(ExchangeError, match="no credential in the wallet matches"):
            plan_presentation(w.wallet, resolved)
        compact = _dcql(meta={"type_values": [["OpenBadgeCredential"]]})
        resolved.dcql = compact
        with pytest.raises(ExchangeError, match="no credential in the wallet matches"):
            plan_presentation(w.wallet, resolved)

        # Values: only a credential holding one of them matches.
        resolved.dcql = _dcql({"path": [*NAME[:2], "achievementType"], "values": ["Diploma"]})
        with pytest.raises(ExchangeError, match="achievementType"):
            plan_presentation(w.wallet, resolved)

        # claim_sets: the first option the credential can satisfy is used.
        resolved.dcql = _dcql(
            {"id": "gpa", "path": ["credentialSubject", "result", 0, "value"]},
            {"id": "name", "path": NAME},
            {"id": "email", "path": ["credentialSubject", "identifier", 0, "identityHash"]},
            claim_sets=[["gpa"], ["email", "name"], ["name"]],
        )
        plan = plan_presentation(w.wallet, resolved)
        (disclosure,) = plan.disclosures
        assert disclosure.requested == [
            "/credentialSubject/achievement/name",
            "/credentialSubject/identifier/0/identityHash",
        ]
        # The identity object is disclosed whole (a part of it would not be schema-valid).
        assert disclosure.selective_pointers == ["/credentialSubject/identifier/0"]
        assert disclosure.withheld == []
        identity = disclosure.document["credentialSubject"]["identifier"][0]
        assert identity["identityHash"].startswith("sha256$") and "salt" in identity
        assert not disclosure.warnings
        requested = plan.summary.split("requested by the verifier:\n")[1].split("  always")[0]
        assert "/credentialSubject/identifier/0/identityHash = " in requested
        assert "/credentialSubject/identifier/0/salt = " in requested

        # No claims: only what the issuer made mandatory.
        resolved.dcql = _dcql()
        plan = plan_presentation(w.wallet, resolved)
        assert all(d.requested == [] and d.selective_pointers == [] for d in plan.disclosures)
        assert "requested by the verifier" not in plan.summary

        # multiple: both badges; an optional credential set that cannot be met is noted.
        resolved.dcql = {
            "credentials": [
                {
                    "id": "badges",
                    "format": "ldp_vc",
                    "meta": {"type_values": [[OBC]]},
                    "multiple": True,
                },
                {
                    "id": "diploma",
                    "format": "ldp_vc",
                    "meta": {"type_values": [["https://example.org/vocab#Diploma"]]},
                },
            ],
            "credential_sets": [
                {"options": [["badges"]]},
                {"options": [["diploma"]], "required": False},
            ],
        }
        plan = plan_presentation(w.wallet, resolved)
        assert sorted(d.candidate.ref for d in plan.disclosures) == sorted(
            [first.local_id, second.local_id]
        )
        assert plan.unmet == ["diploma"]
        assert "Not answered: diploma" in plan.summary


async def test_nothing_outside_the_requested_claims_leaves_the_wallet(tmp_path: Path) -> None:
    async with world(tmp_path) as w, capture_server() as capture:
        (record,) = await w.receive()
        subject = record.document["credentialSubject"]
        private = _strings(subject["identifier"]) - {"IdentityObject", "emailAddress"}
        link = capture.openid4vp_link(
            nonce="n-0S6_WzA2Mj", state="st.1", dcql=_dcql({"path": NAME})
        )
        result = await present_async(w.wallet, link, now=w.clock())
        assert result.sent and result.response == {}
        (raw,) = capture.bodies
        text = raw.decode("utf-8")
        form = {k: v[0] for k, v in parse_qs(text).items()}
        assert set(form) == {"vp_token", "state"} and form["state"] == "st.1"
        for value in [*private, EMAIL]:
            assert value not in text
        token = json.loads(form["vp_token"])
        (presentation,) = token["badge"]
        (credential,) = presentation["verifiableCredential"]
        assert (
            credential["credentialSubject"]["achievement"]["name"] == subject["achievement"]["name"]
        )
        assert "identifier" not in credential["credentialSubject"]
        # What was posted verifies for this verifier (nonce, client_id), and only for it.
        resolver, lists = await _trust(w, record.document)
        client_id = "redirect_uri:" + capture.base + "/cb"
        report = verify(
            presentation,
            now=w.clock(),
            resolver=resolver,
            status_lists=lists,
            challenge="n-0S6_WzA2Mj",
            domain=client_id,
        )
        assert report.verified, report.to_dict()
        report = verify(
            presentation,
            now=w.clock(),
            resolver=resolver,
            status_lists=lists,
            challenge="n-0S6_WzA2Mj",
            domain="redirect_uri:https://other.example/cb",
        )
        assert not report.verified


async def test_whole_credential_when_the_verifier_refuses_selective_disclosure(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w, capture_server() as capture:
        await w.receive()
        link = capture.openid4vp_link(
            nonce="n1",
            state="s1",
            dcql=_dcql({"path": NAME}),
            client_metadata=json.dumps(
                {"vp_formats_supported": {"ldp_vc": {"cryptosuite_values": ["eddsa-rdfc-2022"]}}}
            ),
        )
        shown: list[PresentationPlan] = []
        result = await present_async(
            w.wallet, link, now=w.clock(), select=lambda p: shown.append(p) is None
        )
        assert "presented WHOLE" in shown[0].summary
        (credential,) = result.vp_token["badge"][0]["verifiableCredential"]
        assert "identifier" in credential["credentialSubject"]
        proofs = (
            credential["proof"] if isinstance(credential["proof"], list) else [credential["proof"]]
        )
        assert [p["cryptosuite"] for p in proofs] == ["eddsa-rdfc-2022"]
        assert "u2V0A" not in capture.bodies[0].decode()  # the base proof never leaves


# -- what the verifier refuses --------------------------------------------------------------------


async def test_wrong_domain_is_rejected(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await w.receive()
        request = await w.request(claims=[NAME])
        resolved = await resolve_request(request["links"]["openid4vp"], now=w.clock())
        plan = plan_presentation(w.wallet, resolved)
        resolved.domain = "redirect_uri:https://elsewhere.example/cb"
        vp_token, _ = sign_plan(w.wallet, plan, now=w.clock())
        with pytest.raises(ExchangeError, match="proof domain"):
            await _send(resolved, vp_token, None)
        seen = await w.result(request["id"])
        assert seen["status"] == "rejected" and seen["result"]["verified"] is False


async def test_expired_request(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await w.receive()
        request = await w.request(claims=[NAME], ttlSeconds=60)
        resolved = await resolve_request(request["links"]["openid4vp"], now=w.clock())
        w.clock.advance(61)
        with pytest.raises(ExchangeError, match="expired"):
            await present_async(w.wallet, request["links"]["openid4vp"], now=w.clock())
        plan = plan_presentation(w.wallet, resolved)
        vp_token, _ = sign_plan(w.wallet, plan, now=w.clock())
        with pytest.raises(ExchangeError, match="expired"):
            await _send(resolved, vp_token, None)
        seen = await w.result(request["id"])
        assert seen["status"] == "expired" and "result" not in seen


async def test_declined_request(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await w.receive()
        request = await w.request(claims=[NAME])
        result = await present_async(
            w.wallet, request["links"]["openid4vp"], now=w.clock(), select=lambda plan: False
        )
        assert result.declined and result.sent and not result.vp_token
        seen = await w.result(request["id"])
        assert seen["status"] == "declined"
        assert seen["result"]["error"] == "access_denied"


async def test_verifier_checks_the_query_not_just_the_signatures(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        (first,) = await w.receive()
        (second,) = await w.receive(achievementId=w.node.samples[1])
        wanted = first.document["credentialSubject"]["achievement"]["id"]
        request = await w.request(achievementIds=[wanted], claims=[NAME])
        resolved = await resolve_request(request["links"]["openid4vp"], now=w.clock())
        # A dishonest wallet presents another badge under the same query id.
        resolved.dcql = _dcql({"path": NAME})
        plan = plan_presentation(w.wallet, resolved, credentials=[second.local_id])
        assert plan.disclosures[0].candidate.ref == second.local_id
        vp_token, _ = sign_plan(w.wallet, plan, now=w.clock())
        with pytest.raises(ExchangeError, match="does not disclose the requested claims"):
            await _send(resolved, vp_token, None)
        seen = await w.result(request["id"])
        assert seen["status"] == "rejected"
        assert seen["result"]["query"][0]["status"] == "fail"


async def test_decentralized_identifier_client(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await w.receive()
        request = await w.request(claims=[NAME], clientIdPrefix="decentralized_identifier")
        assert request["clientId"] == "decentralized_identifier:" + w.node.did
        result = await present_async(w.wallet, request["links"]["openid4vp"], now=w.clock())
        assert result.response == {"status": "accepted"}
        assert result.vp_token["badge"][0]["proof"]["domain"] == request["clientId"]


async def test_request_objects_that_do_not_check_out_are_refused(tmp_path: Path) -> None:
    async with capture_server() as capture:
        client_id = "redirect_uri:" + capture.base + "/cb"

        def unsigned(payload: dict[str, Any], typ: str = "oauth-authz-req+jwt") -> str:
            parts = [{"alg": "none", "typ": typ}, payload]
            return ".".join(b64url_encode(json.dumps(p).encode()) for p in parts) + "."

        base = {
            "client_id": client_id,
            "response_type": "vp_token",
            "response_mode": "direct_post",
            "response_uri": capture.base + "/cb",
            "nonce": "n",
            "dcql_query": _dcql(),
        }
        cases = {
            "other-client": (
                {**base, "client_id": "redirect_uri:https://x.example/cb"},
                "another client_id",
            ),
            "typ": (base, "typ must be"),
            "elsewhere": ({**base, "response_uri": "https://x.example/cb"}, "not on"),
            "pe": ({**base, "presentation_definition": {}}, "only DCQL"),
            "mode": ({**base, "response_mode": "fragment"}, "not supported"),
        }
        for name, (payload, _) in cases.items():
            capture.documents[name] = (
                "application/oauth-authz-req+jwt",
                unsigned(payload, typ="JWT" if name == "typ" else "oauth-authz-req+jwt"),
            )
        for name, (_, reason) in cases.items():
            link = "openid4vp://?" + urlencode(
                {"client_id": client_id, "request_uri": f"{capture.base}/doc/{name}"}
            )
            with pytest.raises(ExchangeError, match=reason):
                await resolve_request(link, now=_now())
        # A DID client must sign; an unsigned request by value is refused.
        by_value = "openid4vp://?" + urlencode(
            {
                **{k: v for k, v in base.items() if k != "dcql_query"},
                "client_id": "decentralized_identifier:did:key:z6Mkfake",
                "dcql_query": json.dumps(_dcql()),
            }
        )
        with pytest.raises(ExchangeError, match="must be signed"):
            await resolve_request(by_value, now=_now())
        # A DID-auth request for another domain would lend the holder's DID to someone else.
        vpr = {
            "verifiablePresentationRequest": {
                "query": [{"type": "DIDAuthentication"}],
                "challenge": "c",
                "domain": "https://evil.example",
                "interact": {
                    "service": [
                        {
                            "type": "VerifiableCredentialApiExchangeService",
                            "serviceEndpoint": capture.base + "/cb",
                        }
                    ]
                },
            }
        }
        with pytest.raises(ExchangeError, match="refused"):
            await resolve_request(json.dumps(vpr), now=_now())


def _now() -> Any:
    from tests.node.conftest import Clock

    return Clock()()


# -- files --------------------------------------------------------------------------------------


async def test_plain_request_and_presentation_files(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        (record,) = await w.receive()
        resolver, lists = await _trust(w, record.document)
        plain = json.dumps({"challenge": "c-123", "domain": "https://hr.example"})
        with pytest.raises(ExchangeError, match="choose which"):
            await present_async(w.wallet, plain, now=w.clock())
        result = await present_async(w.wallet, plain, now=w.clock(), credentials=[record.local_id])
        assert not result.sent and result.presentation is not None
        report = verify(
            result.presentation,
            now=w.clock(),
            resolver=resolver,
            status_lists=lists,
            challenge="c-123",
            domain="https://hr.example",
        )
        assert report.verified, report.to_dict()
        # A file: the whole badge by default, or exactly some claims.
        whole = make_presentation(w.wallet, [record.local_id], now=w.clock(), challenge="f")
        assert whole.presentation is not None
        (credential,) = whole.presentation["verifiableCredential"]
        assert credential == {**record.document}
        selective = make_presentation(
            w.wallet, [record.local_id], now=w.clock(), claims=[NAME], domain="https://a.example"
        )
        assert selective.presentation is not None
        (credential,) = selective.presentation["verifiableCredential"]
        assert "identifier" not in credential["credentialSubject"]
        proof = selective.presentation["proof"]
        report = verify(
            selective.presentation,
            now=w.clock(),
            resolver=resolver,
            status_lists=lists,
            challenge=proof["challenge"],
            domain="https://a.example",
        )
        assert report.verified, report.to_dict()


async def test_did_authentication_only_vc_api_request(tmp_path: Path) -> None:
    async with world(tmp_path) as w, capture_server() as capture:
        await w.receive()
        vpr = {
            "verifiablePresentationRequest": {
                "query": [{"type": "DIDAuthentication"}],
                "challenge": "c-42",
                "domain": capture.base,
                "interact": {
                    "service": [
                        {
                            "type": "VerifiableCredentialApiExchangeService",
                            "serviceEndpoint": capture.base + "/cb",
                        }
                    ]
                },
            }
        }
        result = await present_async(w.wallet, json.dumps(vpr), now=w.clock())
        assert result.sent and not result.plan.disclosures
        posted = json.loads(capture.bodies[0])["verifiablePresentation"]
        assert "verifiableCredential" not in posted
        assert posted["holder"] == w.wallet.identities()[0].did
        report = verify(posted, now=w.clock(), challenge="c-42", domain=capture.base)
        assert report.verified, report.to_dict()
