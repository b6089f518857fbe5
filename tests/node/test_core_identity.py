"""The node's identities: did:web document, rotation, did:key issuers, the identity service."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from node.identity import UnknownIssuer, did_document_paths, did_web_for
from protocol.di import sign
from protocol.did import Resolver, validate_did_document
from protocol.verify import verify_credential


async def _did_document(node, **headers):
    async with node.session.get(node.url("/.well-known/did.json"), headers=headers) as r:
        assert r.status == 200, await r.text()
        return r, await r.json(content_type=None)


async def test_did_json_is_served_valid_and_cacheable(node):
    response, doc = await _did_document(node)
    assert response.content_type == "application/did+json"
    assert "max-age=" in response.headers["Cache-Control"]
    assert node.did == f"did:web:localhost%3A{node.port}"
    validated = validate_did_document(doc, did=node.did)
    methods = {m["id"]: m for m in validated["verificationMethod"]}
    assert set(methods) == {f"{node.did}#key-1", f"{node.did}#key-2"}
    algorithms = {m["publicKeyMultibase"][:4] for m in methods.values()}
    assert algorithms == {"z6Mk", "zDna"}  # one Ed25519 and one P-256 key
    assert sorted(doc["assertionMethod"]) == sorted(methods)
    assert sorted(doc["authentication"]) == sorted(methods)
    # Plain JSON is offered to clients that ask for it, and the ETag revalidates.
    response, _ = await _did_document(node, Accept="application/json")
    assert response.content_type == "application/json"
    async with node.session.get(
        node.url("/.well-known/did.json"), headers={"If-None-Match": response.headers["ETag"]}
    ) as again:
        assert again.status == 304


async def test_rotation_keeps_retired_keys_and_signs_with_the_newest(node):
    identity = node.service("identity")
    old = identity.signing_key(node.did, "Ed25519")
    assert old.id == f"{node.did}#key-1" and old.controller == node.did
    now = datetime.now(UTC)
    credential = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": node.did,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:holder"},
    }
    signed_before = sign(credential, key=old, created=now)

    async with node.session.post(node.url("/admin/keys/rotate"), headers=node.auth) as r:
        assert r.status == 200, await r.text()
        created = (await r.json())["created"]
    assert created == [f"{node.did}#key-3", f"{node.did}#key-4"]

    _, doc = await _did_document(node)
    validate_did_document(doc, did=node.did)
    ids = [m["id"] for m in doc["verificationMethod"]]
    assert ids == [f"{node.did}#key-{i}" for i in (1, 2, 3, 4)]
    assert set(doc["assertionMethod"]) == set(ids)  # retired keys still verify old badges
    assert set(doc["authentication"]) == {f"{node.did}#key-3", f"{node.did}#key-4"}

    new = identity.signing_key(node.did, "Ed25519")
    assert new.id == f"{node.did}#key-3"
    assert new.public != old.public
    assert identity.signing_key(node.did, "P-256").id == f"{node.did}#key-4"

    resolver = Resolver({node.did: doc})
    report = verify_credential(signed_before, now=now, resolver=resolver)
    assert report.verified, report.to_dict()
    signed_after = sign(credential, key=new, created=now)
    assert verify_credential(signed_after, now=now, resolver=resolver).verified


async def test_did_key_identities(node):
    identity = node.service("identity")
    async with node.session.post(
        node.url("/admin/identities"),
        json={"algorithm": "P-256", "name": "Lab"},
        headers=node.auth,
    ) as r:
        assert r.status == 201, await r.text()
        body = await r.json()
    did = body["id"]
    assert did.startswith("did:key:zDna")
    assert identity.issuer_ids() == [node.did, did]
    pair = identity.signing_key(did, "P-256")
    assert pair.controller == did and pair.id == f"{did}#{pair.public.multibase}"
    assert identity.profile(did)["name"] == "Lab"
    with pytest.raises(UnknownIssuer):
        identity.signing_key(did, "Ed25519")
    async with node.session.post(
        node.url("/admin/identities"), json={"algorithm": "P-384"}, headers=node.auth
    ) as r:
        assert r.status == 422
        assert r.content_type == "application/problem+json"
    async with node.session.get(node.url("/admin/identities"), headers=node.auth) as r:
        listed = await r.json()
    assert listed["default"] == node.did
    assert [i["id"] for i in listed["identities"]] == [did]


def test_identity_service_contract(tmp_path):
    from node.app import create_app
    from node.appkeys import DB, SERVICES
    from node.config import NodeConfig

    config = NodeConfig(data_dir=tmp_path, name="Uni", public_url="https://badges.example.org")
    app = create_app(config)
    try:
        identity = app[SERVICES]["identity"]
        identity.ensure_keys(datetime.now(UTC))
        assert identity.default_issuer() == "did:web:badges.example.org"
        assert identity.profile(identity.did) == {
            "id": "did:web:badges.example.org",
            "type": ["Profile"],
            "name": "Uni",
            "url": "https://badges.example.org",
        }
        with pytest.raises(UnknownIssuer) as caught:
            identity.signing_key("did:web:elsewhere.example")
        assert caught.value.status == 422
        assert identity.algorithms(identity.did) == ["Ed25519", "P-256"]
    finally:
        app[DB].conn.close()


@pytest.mark.parametrize(
    ("url", "did", "paths"),
    [
        ("http://localhost:8400", "did:web:localhost%3A8400", ["/.well-known/did.json"]),
        ("https://example.org", "did:web:example.org", ["/.well-known/did.json"]),
        (
            "https://example.org:8443/badges/office/",
            "did:web:example.org%3A8443:badges:office",
            ["/.well-known/did.json", "/badges/office/did.json", "/did.json"],
        ),
    ],
)
def test_did_web_from_public_url(url, did, paths):
    assert did_web_for(url) == did
    assert did_document_paths(url) == paths


def test_an_ip_public_url_has_no_did_web():
    from node.config import ConfigError

    with pytest.raises(ConfigError, match="did:web"):
        did_web_for("http://127.0.0.1:8400")
