"""Offline verification bundles (specs/federation.md, "Verification bundle").

A network is built for real: a steward, member nodes with did:web DID documents, badges issued
with protocol.di.sign and Bitstring Status Lists signed by their issuer. Bundles are exported by
a member and verified with no resolver or list other than what the bundle holds.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from protocol.di import sign
from protocol.did import Resolver, key_pair_as_did_key
from protocol.errors import InvalidProof, MalformedError
from protocol.federation import (
    FEDERATION_CONTEXT,
    Bundle,
    Member,
    Registry,
    RegistryLinkError,
    UntrustedError,
    build_bundle,
    build_registry,
    open_bundle,
    packaged_context_text,
    verify_registry,
)
from protocol.keys import KeyPair, generate
from protocol.ob import build_credential
from protocol.presentation import build_presentation, sign_presentation
from protocol.status import StatusBitstring, build_status_entry, build_status_list_credential
from protocol.verify import Report

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
MADE = NOW - timedelta(hours=1)
MAX_AGE = timedelta(days=7)
NETWORK = "https://steward.test/network"
CONTEXTS = (
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    FEDERATION_CONTEXT,
)


@dataclass(frozen=True)
class Node:
    did: str
    key: KeyPair
    document: dict[str, Any]

    @property
    def host(self) -> str:
        return self.did.removeprefix("did:web:")

    @property
    def list_url(self) -> str:
        return f"https://{self.host}/status/1"

    def member(self, name: str, *, pinned: bool = True, **changes: Any) -> Member:
        fields: dict[str, Any] = {
            "did": self.did,
            "name": name,
            "endpoint": f"https://{self.host}/",
            "feed": f"https://{self.host}/federation/feed",
            "member_from": NOW - timedelta(days=365),
            "keys": (self.key.public.multibase,) if pinned else (),
        }
        fields.update(changes)
        return Member(**fields)


def make_node(host: str, key: KeyPair | None = None) -> Node:
    did = f"did:web:{host}"
    pair = (key or generate("Ed25519")).with_controller(did, f"{did}#key-1")
    document = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [pair.to_public_multikey()],
        "assertionMethod": [pair.id],
        "authentication": [pair.id],
    }
    return Node(did, pair, document)


STEWARD = make_node("steward.test")
A = make_node("node-a.test")
B = make_node("node-b.test")
C = make_node("node-c.test")
D = make_node("node-d.test")  # a member whose keys the registry does not pin
OUTSIDER = key_pair_as_did_key(generate("Ed25519"))  # a did:key issuer outside the network
HOLDER = key_pair_as_did_key(generate("Ed25519"))
NODES = (STEWARD, A, B, C, D)
LEFT_AT = NOW - timedelta(days=60)


def _registry() -> Registry:
    document = build_registry(
        network=NETWORK,
        name="Réseau régional",
        members=[
            A.member("Nœud A"),
            B.member("Nœud B", member_until=LEFT_AT, end_reason="left"),
            C.member("Nœud C"),
            D.member("Nœud D", pinned=False),
        ],
        steward_key=STEWARD.key,
        created=NOW - timedelta(days=365),
    )
    return verify_registry(
        document,
        steward_resolver=Resolver({STEWARD.did: STEWARD.document}),
        now=NOW,
        steward=STEWARD.did,
    )


REGISTRY = _registry()


def badge(
    issuer: KeyPair,
    *,
    index: int = 42,
    issued: datetime = NOW - timedelta(days=30),
    list_url: str | None = None,
) -> dict[str, Any]:
    host = (issuer.controller or "").removeprefix("did:web:")
    status = (
        build_status_entry(list_credential_url=list_url, index=index)
        if list_url is not None
        else None
    )
    unsigned = build_credential(
        issuer={"id": issuer.controller, "type": ["Profile"], "name": host},
        achievement={
            "id": f"https://{host}/achievements/teamwork",
            "type": ["Achievement"],
            "name": "Travail en équipe",
            "description": "Travaille bien avec les autres.",
            "criteria": {"narrative": "A mené un projet collectif."},
        },
        subject_id=HOLDER.controller,
        identity=None,
        credential_id="urn:uuid:6f1c2f3a-2d9e-4f6b-9b1a-0c1d2e3f4a5b",
        valid_from=issued,
        extra={"credentialStatus": status} if status is not None else None,
    )
    return sign(unsigned, key=issuer, created=issued)


def status_list(node: Node, *revoked: int) -> dict[str, Any]:
    bits = StatusBitstring(131_072)
    for index in revoked:
        bits.set(index, 1)
    unsigned = build_status_list_credential(
        list_url=node.list_url,
        issuer=node.did,
        purpose="revocation",
        bitstring=bits,
        valid_from=NOW - timedelta(days=2),
    )
    return sign(unsigned, key=node.key, created=NOW - timedelta(days=2))


LISTS = {A.list_url: status_list(A), D.list_url: status_list(D)}


def export(
    *,
    signer: KeyPair = C.key,
    lists: dict[str, dict[str, Any]] | None = None,
    documents: dict[str, dict[str, Any]] | None = None,
    contexts: dict[str, str] | None = None,
    created: datetime = MADE,
    retrieved: dict[str, datetime] | None = None,
) -> dict[str, Any]:
    lists = LISTS if lists is None else lists
    documents = {n.did: n.document for n in NODES} if documents is None else documents
    contexts = (
        {url: packaged_context_text(url) for url in CONTEXTS} if contexts is None else contexts
    )
    retrieved_at = {key: created - timedelta(minutes=5) for key in (*lists, *documents, *contexts)}
    retrieved_at.update(retrieved or {})
    return build_bundle(
        registry=REGISTRY,
        did_documents=documents,
        status_lists=lists,
        contexts=contexts,
        retrieved_at=retrieved_at,
        created=created,
        signer=signer,
    )


def opened(bundle: dict[str, Any], **kw: Any) -> Bundle:
    kw.setdefault("trusted_steward", STEWARD.document)
    return open_bundle(bundle, now=NOW, max_age=MAX_AGE, **kw)


def checks(report: Report, name: str) -> list[tuple[str, str]]:
    return [(c.status, c.reason) for c in report.checks if c.check == name]


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return export()


# -- verifying offline ---------------------------------------------------------------------------


def test_offline_verification_names_the_issuing_member(bundle: dict[str, Any]) -> None:
    opened_bundle = opened(bundle)
    assert opened_bundle.trust == "member" and opened_bundle.signer == C.did
    assert opened_bundle.unpinned == (D.did,)
    assert opened_bundle.registry.version == 1 and opened_bundle.network == NETWORK
    report = opened_bundle.verify(badge(A.key, list_url=A.list_url), now=NOW)
    assert report.verdict == "valid", report.to_dict()
    [(status, reason)] = checks(report, "federation member")
    assert status == "pass" and "Nœud A" in reason and A.did in reason and "Réseau" in reason
    [(status, reason)] = checks(report, "bundle")
    assert status == "pass" and "Nœud C" in reason
    [(status, reason)] = checks(report, "status")
    assert status == "pass" and "not revoked" in reason
    # The bundle also serves the JSON form of the report.
    assert report.to_dict()["verdict"] == "valid"


def test_revoked_in_the_bundle_is_revoked() -> None:
    revoked = export(lists={A.list_url: status_list(A, 42)})
    report = opened(revoked).verify(badge(A.key, list_url=A.list_url), now=NOW)
    assert report.verdict == "invalid"
    [(status, reason)] = checks(report, "status")
    assert status == "fail" and reason.startswith("revoked")
    # Another index of the same list is not revoked.
    other = opened(revoked).verify(badge(A.key, index=7, list_url=A.list_url), now=NOW)
    assert other.verdict == "valid"


def test_a_bundle_older_than_the_policy_says_unknown(bundle: dict[str, Any]) -> None:
    later = NOW + MAX_AGE + timedelta(days=1)
    opened_bundle = opened(bundle)
    assert not opened_bundle.is_fresh(later)
    report = opened_bundle.verify(badge(A.key, list_url=A.list_url), now=later)
    assert report.verdict == "unknown" and not report.verified
    [(status, reason)] = checks(report, "bundle")
    assert status == "unknown" and "longer ago than the policy allows" in reason
    [(status, _)] = checks(report, "status")
    assert status == "unknown"
    # Never valid, even for a badge without status, nor for a revoked one.
    assert opened_bundle.verify(badge(A.key), now=later).verdict == "unknown"
    revoked = opened(export(lists={A.list_url: status_list(A, 42)}))
    assert revoked.verify(badge(A.key, list_url=A.list_url), now=later).verdict != "valid"


def test_a_stale_list_in_a_fresh_bundle_says_unknown() -> None:
    stale = export(retrieved={A.list_url: MADE - MAX_AGE - timedelta(days=1)})
    report = opened(stale).verify(badge(A.key, list_url=A.list_url), now=NOW)
    assert report.verdict == "unknown"
    [(status, reason)] = checks(report, "bundle status list")
    assert status == "unknown" and A.list_url in reason


def test_a_list_missing_from_the_bundle_is_unknown(bundle: dict[str, Any]) -> None:
    report = opened(bundle).verify(badge(A.key, list_url="https://node-a.test/status/9"), now=NOW)
    assert report.verdict == "unknown"


def test_an_issuer_outside_the_network_is_named(bundle: dict[str, Any]) -> None:
    report = opened(bundle).verify(badge(OUTSIDER), now=NOW)
    [(status, reason)] = checks(report, "federation member")
    assert status == "fail" and OUTSIDER.controller in reason and "not a member" in reason
    assert report.verdict == "invalid"
    # Its signature itself is fine (did:key): only membership fails.
    assert all(c.status == "pass" for c in report.checks if c.check.startswith("proof"))


def test_membership_at_issuance(bundle: dict[str, Any]) -> None:
    before = opened(bundle).verify(badge(B.key, issued=LEFT_AT - timedelta(days=5)), now=NOW)
    [(status, reason)] = checks(before, "federation member")
    assert status == "pass" and "left at" in reason
    after = opened(bundle).verify(badge(B.key, issued=LEFT_AT + timedelta(days=5)), now=NOW)
    [(status, reason)] = checks(after, "federation member")
    assert status == "fail" and "after" in reason and "left" in reason


def test_unpinned_members_are_not_trusted_offline(bundle: dict[str, Any]) -> None:
    report = opened(bundle).verify(badge(D.key, list_url=D.list_url), now=NOW)
    assert report.verdict == "invalid"
    [(status, reason)] = checks(report, "federation member")
    assert status == "fail" and "pins none of its keys" in reason
    # Exported by an exporter the verifier trusts outright, D's document is taken as it is.
    exporter = key_pair_as_did_key(generate("Ed25519"))
    trusted = open_bundle(
        export(signer=exporter),
        now=NOW,
        max_age=MAX_AGE,
        trusted_signers=[exporter.controller or ""],
    )
    assert trusted.trust == "signer" and trusted.unpinned == ()
    assert trusted.verify(badge(D.key, list_url=D.list_url), now=NOW).verdict == "valid"


def test_a_presentation_through_the_bundle(bundle: dict[str, Any]) -> None:
    credential = badge(A.key, list_url=A.list_url)
    presentation = sign_presentation(
        build_presentation(holder=HOLDER.controller or "", credentials=[credential]),
        key=HOLDER,
        created=NOW,
        challenge="c-123",
        domain="verifier.test",
    )
    report = opened(bundle).verify(presentation, now=NOW, challenge="c-123", domain="verifier.test")
    assert report.verdict == "valid", report.to_dict()
    [(status, reason)] = checks(report.credentials[0], "federation member")
    assert status == "pass" and "Nœud A" in reason


# -- trust in the bundle itself ------------------------------------------------------------------


def test_a_tampered_bundle_is_refused(bundle: dict[str, Any]) -> None:
    swapped = copy.deepcopy(bundle)
    swapped["statusLists"][A.list_url]["credential"] = status_list(A, 42)
    with pytest.raises(InvalidProof):
        opened(swapped)
    dated = copy.deepcopy(bundle)
    dated["created"] = "2025-06-01T11:30:00Z"
    with pytest.raises(InvalidProof):
        opened(dated)
    rekeyed = copy.deepcopy(bundle)
    rekeyed["didDocuments"][A.did]["document"] = make_node(A.host).document
    with pytest.raises(InvalidProof):
        opened(rekeyed)


def test_an_exporter_cannot_swap_a_members_keys() -> None:
    # C, a member, exports a bundle in which A's DID document holds C's key, then forges a badge
    # "from A" with it. C's bundle signature is fine; the forged key is not the one pinned.
    impostor = make_node(A.host, key=KeyPair("Ed25519", b"\x07" * 32))
    documents = {n.did: n.document for n in NODES}
    documents[A.did] = impostor.document
    forged_bundle = opened(export(documents=documents))
    report = forged_bundle.verify(badge(impostor.key), now=NOW)
    assert report.verdict == "invalid"
    assert any(
        c.status == "fail" and "verification method" in c.reason
        for c in report.checks
        if c.check.startswith("proof")
    ), report.to_dict()


def test_untrusted_signers_are_refused() -> None:
    stranger = key_pair_as_did_key(generate("Ed25519"))
    with pytest.raises(UntrustedError, match="neither"):
        opened(export(signer=stranger))
    with pytest.raises(UntrustedError, match="does not trust"):
        open_bundle(export(), now=NOW, max_age=MAX_AGE, trusted_signers=[stranger.controller or ""])
    with pytest.raises(ValueError, match="trust is never implicit"):
        open_bundle(export(), now=NOW, max_age=MAX_AGE)
    with pytest.raises(ValueError, match="pin any other DID"):
        open_bundle(export(), now=NOW, max_age=MAX_AGE, trusted_steward=STEWARD.did)
    # A steward anchor that is not the registry's steward.
    with pytest.raises(RegistryLinkError, match="not by the steward"):
        opened(export(), trusted_steward=B.document)


def test_the_steward_may_export() -> None:
    steward_bundle = opened(export(signer=STEWARD.key))
    assert steward_bundle.trust == "steward"
    assert steward_bundle.verify(badge(A.key, list_url=A.list_url), now=NOW).verdict == "valid"


def test_contexts_must_match_the_packaged_copies() -> None:
    contexts = {url: packaged_context_text(url) for url in CONTEXTS}
    vc = "https://www.w3.org/ns/credentials/v2"
    contexts[vc] = contexts[vc].replace("https://schema.org/name", "https://evil.test/name")
    with pytest.raises(UntrustedError, match="packaged"):
        opened(export(contexts=contexts))
    # A context Passeport does not package travels in the bundle and is served from it.
    extra = "https://contexts.test/extra/v1"
    contexts = {url: packaged_context_text(url) for url in CONTEXTS}
    contexts[extra] = json.dumps({"@context": {"skill": "https://contexts.test/skill"}})
    loaded = opened(export(contexts=contexts))
    assert extra in loaded.loader and FEDERATION_CONTEXT in loaded.loader
    broken = export(contexts=contexts)
    broken["contexts"][extra]["content"] = "{}"
    with pytest.raises((MalformedError, InvalidProof)):
        opened(broken)


def test_bundle_format_errors(bundle: dict[str, Any]) -> None:
    with pytest.raises(MalformedError, match="future"):
        open_bundle(
            export(created=NOW + timedelta(hours=2)),
            now=NOW,
            max_age=MAX_AGE,
            trusted_steward=STEWARD.document,
        )
    for change in (
        lambda b: b.update(type="Other"),
        lambda b: b.update(extra=1),
        lambda b: b.update(version=2),
        lambda b: b.update(didDocuments=[]),
        lambda b: b["statusLists"][A.list_url].update(retrievedAt="2030-01-01T00:00:00Z"),
    ):
        broken = copy.deepcopy(bundle)
        change(broken)
        with pytest.raises(MalformedError):
            opened(broken)
    with pytest.raises(ValueError, match="retrieved_at"):
        build_bundle(
            registry=REGISTRY,
            did_documents={A.did: A.document},
            status_lists={},
            contexts={},
            retrieved_at={},
            created=MADE,
            signer=C.key,
        )
