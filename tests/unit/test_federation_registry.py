"""Federation registry, membership credentials and invitations (specs/federation.md).

A small network is built for real: a steward and three member nodes with did:web DID documents
and Ed25519 keys, registries signed with eddsa-rdfc-2022 and checked by protocol.di and
protocol.verify.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest

from protocol.di import sign
from protocol.did import Resolver
from protocol.errors import InvalidProof, KeyResolutionError, MalformedError, ProtocolError
from protocol.federation import (
    FEDERATION_CONTEXT,
    ExpiredError,
    ImpersonationError,
    Member,
    NotAMemberError,
    Registry,
    RegistryLinkError,
    ReplayError,
    build_invitation,
    build_membership_credential,
    build_registry,
    member_keys,
    verify_invitation,
    verify_membership_credential,
    verify_registry,
    verify_registry_chain,
)
from protocol.federation.jcs import digest
from protocol.jsonld.loader import default_loader
from protocol.keys import KeyPair, generate
from protocol.verify import verify

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
NETWORK = "https://steward.test/network"


@dataclass(frozen=True)
class Node:
    did: str
    key: KeyPair
    document: dict[str, Any]

    @property
    def host(self) -> str:
        return self.did.removeprefix("did:web:")

    def member(self, name: str, **changes: Any) -> Member:
        fields: dict[str, Any] = {
            "did": self.did,
            "name": name,
            "endpoint": f"https://{self.host}/",
            "feed": f"https://{self.host}/federation/feed",
            "member_from": NOW - timedelta(days=100),
            "keys": (self.key.public.multibase,),
        }
        fields.update(changes)
        return Member(**fields)


def make_node(host: str, *, key: KeyPair | None = None) -> Node:
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
OUTSIDER = make_node("outsider.test")
RESOLVER = Resolver({n.did: n.document for n in (STEWARD, A, B, C, OUTSIDER)})


def registry_v1(**kw: Any) -> dict[str, Any]:
    members = kw.pop(
        "members", [A.member("Nœud A"), B.member("Nœud B"), C.member("Nœud C", roles=("verifier",))]
    )
    return build_registry(
        network=NETWORK,
        name="Réseau régional",
        members=members,
        steward_key=STEWARD.key,
        created=NOW - timedelta(days=100),
        **kw,
    )


@pytest.fixture(scope="module")
def v1() -> Registry:
    return verify_registry(registry_v1(), steward_resolver=RESOLVER, now=NOW, steward=STEWARD.did)


# -- the context ---------------------------------------------------------------------------------


def test_context_is_packaged_with_its_digest() -> None:
    base = resources.files("protocol.jsonld") / "contexts"
    manifest = json.loads((base / "MANIFEST.json").read_text("utf-8"))
    entry = manifest[FEDERATION_CONTEXT]
    data = (base / entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert FEDERATION_CONTEXT in default_loader()
    terms = json.loads(data)["@context"]
    assert terms["@protected"] is True


def test_registry_is_a_standard_verifiable_credential(v1: Registry) -> None:
    # Any Data Integrity verifier with the packaged context can check it: every term defined.
    report = verify(dict(v1.document), now=NOW, resolver=RESOLVER)
    assert report.verdict == "valid", report.to_dict()
    assert report.issuer == STEWARD.did


# -- registry -----------------------------------------------------------------------------------


def test_registry_v1_verifies_and_lists_members(v1: Registry) -> None:
    assert v1.version == 1 and v1.previous is None
    assert v1.network == NETWORK and v1.steward == STEWARD.did
    assert v1.name == "Réseau régional"
    member = v1.member(A.did)
    assert member is not None and member.name == "Nœud A" and member.issues
    assert member.keys == (A.key.public.multibase,)
    assert v1.member(A.key.id or "") == member  # a DID URL names its DID's entry
    verifier = v1.member(C.did)
    assert verifier is not None and not verifier.issues
    assert v1.member(OUTSIDER.did) is None
    assert v1.digest == digest(dict(v1.document))
    assert v1.document["id"] == f"{NETWORK}/registry/1"
    with pytest.raises(NotAMemberError, match="not a member"):
        v1.require_member(OUTSIDER.did, at=NOW)


def test_registry_needs_a_named_steward() -> None:
    with pytest.raises(ValueError, match="steward"):
        verify_registry(registry_v1(), steward_resolver=RESOLVER, now=NOW)


def test_registry_from_another_steward_is_refused() -> None:
    with pytest.raises(RegistryLinkError, match="not by the steward"):
        verify_registry(registry_v1(), steward_resolver=RESOLVER, now=NOW, steward=A.did)


def test_registry_signed_by_a_member_in_the_stewards_name_is_refused() -> None:
    # The issuer says "steward" but the proof is made with A's key (a member forging a registry).
    doc = registry_v1()
    unsigned = {k: v for k, v in doc.items() if k != "proof"}
    forged = sign(unsigned, key=A.key, created=NOW - timedelta(days=1))
    with pytest.raises(ImpersonationError, match=A.did):
        verify_registry(forged, steward_resolver=RESOLVER, now=NOW, steward=STEWARD.did)


def test_registry_tampering_is_detected() -> None:
    doc = registry_v1()
    tampered = copy.deepcopy(doc)
    tampered["credentialSubject"]["member"].append(OUTSIDER.member("Intrus").to_dict())
    with pytest.raises(InvalidProof):
        verify_registry(tampered, steward_resolver=RESOLVER, now=NOW, steward=STEWARD.did)
    renamed = copy.deepcopy(doc)
    renamed["credentialSubject"]["member"][0]["name"] = "Nœud Z"
    with pytest.raises(InvalidProof):
        verify_registry(renamed, steward_resolver=RESOLVER, now=NOW, steward=STEWARD.did)


def test_registry_without_the_stewards_document_is_refused() -> None:
    with pytest.raises(KeyResolutionError):
        verify_registry(registry_v1(), steward_resolver=Resolver(), now=NOW, steward=STEWARD.did)


def test_duplicate_members_are_refused() -> None:
    with pytest.raises(MalformedError, match="twice"):
        registry_v1(members=[A.member("A"), A.member("A bis")])
    # Signed by the steward anyway (by hand): still refused on verification.
    doc = registry_v1()
    unsigned = copy.deepcopy({k: v for k, v in doc.items() if k != "proof"})
    entries = unsigned["credentialSubject"]["member"]
    entries.append(copy.deepcopy(entries[0]))
    signed = sign(unsigned, key=STEWARD.key, created=NOW - timedelta(days=1))
    with pytest.raises(MalformedError, match="twice"):
        verify_registry(signed, steward_resolver=RESOLVER, now=NOW, steward=STEWARD.did)


def test_member_entries_are_checked() -> None:
    with pytest.raises(MalformedError):
        A.member("A", endpoint="ftp://node-a.test/")
    with pytest.raises(ValueError, match="roles"):
        A.member("A", roles=("admin",))
    with pytest.raises(ValueError, match="end_reason"):
        A.member("A", member_until=NOW)
    with pytest.raises(ValueError, match="before"):
        A.member("A", member_until=NOW - timedelta(days=200), end_reason="left")
    with pytest.raises(ValueError, match="pinned key"):
        A.member("A", keys=("zNotAKey",))
    # http is allowed only on loopback (tests), https everywhere else.
    local = A.member("A", endpoint="http://127.0.0.1:8080/", feed="http://localhost:8080/feed")
    assert Member.from_dict(local.to_dict()) == local
    entry = A.member("A").to_dict()
    entry["extra"] = 1
    with pytest.raises(MalformedError, match="unknown"):
        Member.from_dict(entry)


def test_versions_link_and_roll_forward(v1: Registry) -> None:
    d = NOW - timedelta(days=10)
    v2_doc = build_registry(
        network=NETWORK,
        name=v1.name,
        members=v1.with_member(OUTSIDER.member("Nouveau", member_from=d)),
        steward_key=STEWARD.key,
        created=d,
        previous=v1,
    )
    v2 = verify_registry(v2_doc, steward_resolver=RESOLVER, now=NOW, previous=v1)
    assert v2.version == 2 and v2.previous == v1.digest
    assert v2.member(OUTSIDER.did) is not None
    # The same version again is a no-op.
    assert verify_registry(dict(v1.document), steward_resolver=RESOLVER, now=NOW, previous=v1) is v1
    # Rollback: an older version after a newer one.
    with pytest.raises(RegistryLinkError, match="rollback"):
        verify_registry(dict(v1.document), steward_resolver=RESOLVER, now=NOW, previous=v2)
    # Version 3 straight after version 1 is a gap; the chain verifies.
    v3_doc = build_registry(
        network=NETWORK,
        name=v1.name,
        members=v2.with_member_ended(OUTSIDER.did, at=NOW - timedelta(days=1), reason="left"),
        steward_key=STEWARD.key,
        created=NOW - timedelta(days=1),
        previous=v2,
    )
    with pytest.raises(RegistryLinkError, match="skips"):
        verify_registry(v3_doc, steward_resolver=RESOLVER, now=NOW, previous=v1)
    v3 = verify_registry_chain([v2_doc, v3_doc], steward_resolver=RESOLVER, now=NOW, previous=v1)
    assert v3.version == 3
    assert (
        verify_registry_chain(
            [dict(v1.document), v2_doc, v3_doc],
            steward_resolver=RESOLVER,
            now=NOW,
            steward=STEWARD.did,
        )
        == v3
    )
    # A version 2 made from another history does not link to the verified version 1.
    other_v1 = verify_registry(
        registry_v1(members=[A.member("A")]),
        steward_resolver=RESOLVER,
        now=NOW,
        steward=STEWARD.did,
    )
    fork = build_registry(
        network=NETWORK,
        name=v1.name,
        members=[A.member("A")],
        steward_key=STEWARD.key,
        created=d,
        previous=other_v1,
    )
    with pytest.raises(RegistryLinkError, match="links to"):
        verify_registry(fork, steward_resolver=RESOLVER, now=NOW, previous=v1)


def test_leaving_and_removal_end_membership_but_keep_history(v1: Registry) -> None:
    left_at = NOW - timedelta(days=5)
    members = v1.with_member_ended(B.did, at=left_at, reason="removed")
    v2 = verify_registry(
        build_registry(
            network=NETWORK,
            name=v1.name,
            members=members,
            steward_key=STEWARD.key,
            created=left_at,
            previous=v1,
        ),
        steward_resolver=RESOLVER,
        now=NOW,
        previous=v1,
    )
    entry = v2.member(B.did)
    assert entry is not None and entry.end_reason == "removed" and entry.member_until == left_at
    assert entry.active_at(left_at - timedelta(days=1))
    assert v2.require_member(B.did, at=left_at - timedelta(days=1)) == entry
    with pytest.raises(NotAMemberError, match="removed"):
        v2.require_member(B.did, at=NOW)
    assert [m.did for m in v2.active_members(NOW)] == [A.did, C.did]
    # Purged: gone from the next version altogether.
    v3 = verify_registry(
        build_registry(
            network=NETWORK,
            name=v1.name,
            members=v2.without_member(B.did),
            steward_key=STEWARD.key,
            created=NOW - timedelta(days=1),
            previous=v2,
        ),
        steward_resolver=RESOLVER,
        now=NOW,
        previous=v2,
    )
    assert v3.member(B.did) is None
    with pytest.raises(ValueError):
        v3.without_member(B.did)


def test_expired_registry_is_refused() -> None:
    doc = registry_v1(valid_until=NOW - timedelta(days=1))
    with pytest.raises(ExpiredError, match="expired"):
        verify_registry(doc, steward_resolver=RESOLVER, now=NOW, steward=STEWARD.did)
    # Read as an old link of a chain, its window does not matter.
    old = verify_registry(
        doc, steward_resolver=RESOLVER, now=NOW, steward=STEWARD.did, check_window=False
    )
    assert old.valid_until == NOW - timedelta(days=1)


def test_build_refuses_inconsistent_history(v1: Registry) -> None:
    with pytest.raises(ValueError, match="another network"):
        build_registry(
            network="https://other.test/net",
            name="x",
            members=[],
            steward_key=STEWARD.key,
            created=NOW,
            previous=v1,
        )
    with pytest.raises(ValueError, match="another steward"):
        build_registry(
            network=NETWORK, name="x", members=[], steward_key=A.key, created=NOW, previous=v1
        )


# -- membership credentials --------------------------------------------------------------------


def test_membership_credential_verifies_everywhere(v1: Registry) -> None:
    credential = build_membership_credential(
        registry=v1,
        member=A.did,
        steward_key=STEWARD.key,
        credential_id="urn:uuid:0b6c3b1e-6a53-4f43-9d8e-0d1f2a3b4c5d",
        issued=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=365),
    )
    membership = verify_membership_credential(
        credential, steward=STEWARD.did, resolver=RESOLVER, now=NOW, registry=v1
    )
    assert membership.member == A.did and membership.name == "Nœud A"
    assert membership.network == NETWORK and membership.registry_version == 1
    assert membership.roles == ("member",)
    # A plain VC 2.0: protocol.verify (any Data Integrity verifier) accepts it.
    assert verify(credential, now=NOW, resolver=RESOLVER).verdict == "valid"
    # Tampered: the proof fails.
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["role"] = ["steward"]
    with pytest.raises(InvalidProof):
        verify_membership_credential(tampered, steward=STEWARD.did, resolver=RESOLVER, now=NOW)
    # Expired.
    with pytest.raises(ExpiredError):
        verify_membership_credential(
            credential, steward=STEWARD.did, resolver=RESOLVER, now=NOW + timedelta(days=400)
        )


def test_membership_credential_outweighed_by_a_removal(v1: Registry) -> None:
    credential = build_membership_credential(
        registry=v1,
        member=B.did,
        steward_key=STEWARD.key,
        credential_id="urn:uuid:1",
        issued=NOW - timedelta(days=20),
    )
    v2 = verify_registry(
        build_registry(
            network=NETWORK,
            name=v1.name,
            members=v1.with_member_ended(B.did, at=NOW - timedelta(days=2), reason="removed"),
            steward_key=STEWARD.key,
            created=NOW - timedelta(days=2),
            previous=v1,
        ),
        steward_resolver=RESOLVER,
        now=NOW,
        previous=v1,
    )
    # Alone, the credential still verifies; with the newer registry the removal wins.
    verify_membership_credential(credential, steward=STEWARD.did, resolver=RESOLVER, now=NOW)
    with pytest.raises(NotAMemberError, match="removed"):
        verify_membership_credential(
            credential, steward=STEWARD.did, resolver=RESOLVER, now=NOW, registry=v2
        )


def test_membership_credential_from_someone_else_is_refused(v1: Registry) -> None:
    credential = build_membership_credential(
        registry=v1,
        member=A.did,
        steward_key=STEWARD.key,
        credential_id="urn:uuid:2",
        issued=NOW,
    )
    with pytest.raises(ImpersonationError):
        verify_membership_credential(credential, steward=B.did, resolver=RESOLVER, now=NOW)
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    forged = sign(unsigned, key=A.key, created=NOW)  # A issues itself a membership
    with pytest.raises(ImpersonationError, match=A.did):
        verify_membership_credential(forged, steward=STEWARD.did, resolver=RESOLVER, now=NOW)
    with pytest.raises(ValueError, match="steward"):
        build_membership_credential(
            registry=v1, member=A.did, steward_key=A.key, credential_id="urn:x:1", issued=NOW
        )
    with pytest.raises(NotAMemberError):
        build_membership_credential(
            registry=v1,
            member=OUTSIDER.did,
            steward_key=STEWARD.key,
            credential_id="urn:x:2",
            issued=NOW,
        )


# -- invitations ---------------------------------------------------------------------------------

NONCE = "Jd2Q0l1b3T9mN8xYvKp4sA"


def invitation(**kw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "network": NETWORK,
        "steward_key": STEWARD.key,
        "nonce": NONCE,
        "created": NOW - timedelta(hours=1),
        "expires": NOW + timedelta(days=7),
    }
    fields.update(kw)
    return build_invitation(**fields)


def test_invitation_verifies_once() -> None:
    doc = invitation(invitee=OUTSIDER.did, name="Nouveau nœud")
    used: set[str] = set()
    inv = verify_invitation(
        doc, steward=STEWARD.did, resolver=RESOLVER, now=NOW, used_nonces=used, invitee=OUTSIDER.did
    )
    assert inv.network == NETWORK and inv.invitee == OUTSIDER.did and inv.nonce == NONCE
    assert inv.name == "Nouveau nœud" and inv.roles == ("member",)
    assert inv.expires == NOW + timedelta(days=7)
    assert verify(doc, now=NOW, resolver=RESOLVER).verdict == "valid"
    used.add(inv.nonce)  # the steward records it when the member joins
    with pytest.raises(ReplayError):
        verify_invitation(
            doc,
            steward=STEWARD.did,
            resolver=RESOLVER,
            now=NOW,
            used_nonces=used,
            invitee=OUTSIDER.did,
        )


def test_invitation_expires() -> None:
    doc = invitation()
    with pytest.raises(ExpiredError, match="expired"):
        verify_invitation(
            doc,
            steward=STEWARD.did,
            resolver=RESOLVER,
            now=NOW + timedelta(days=8),
            used_nonces=set(),
        )
    with pytest.raises(ExpiredError, match="not valid before"):
        verify_invitation(
            doc,
            steward=STEWARD.did,
            resolver=RESOLVER,
            now=NOW - timedelta(days=1),
            used_nonces=set(),
        )
    with pytest.raises(ValueError, match="at most"):
        invitation(expires=NOW + timedelta(days=60))
    with pytest.raises(ValueError, match="nonce"):
        invitation(nonce="short")


def test_invitation_is_bound_to_its_invitee_and_steward() -> None:
    doc = invitation(invitee=OUTSIDER.did)
    with pytest.raises(ImpersonationError, match="is for"):
        verify_invitation(
            doc, steward=STEWARD.did, resolver=RESOLVER, now=NOW, used_nonces=set(), invitee=A.did
        )
    # An open invitation (no invitee) may be redeemed by whoever holds it.
    open_doc = invitation()
    assert (
        verify_invitation(
            open_doc, steward=STEWARD.did, resolver=RESOLVER, now=NOW, used_nonces=set()
        ).invitee
        is None
    )
    with pytest.raises(ImpersonationError):
        verify_invitation(open_doc, steward=A.did, resolver=RESOLVER, now=NOW, used_nonces=set())
    forged = copy.deepcopy(open_doc)
    forged["credentialSubject"]["role"] = ["steward"]
    with pytest.raises(InvalidProof):
        verify_invitation(
            forged, steward=STEWARD.did, resolver=RESOLVER, now=NOW, used_nonces=set()
        )


def test_foreign_errors_do_not_leak() -> None:
    # Garbage of every shape fails with a ProtocolError (or TypeError for non-JSON values).
    for bad in ({}, {"@context": 1}, {"type": "VerifiableCredential"}, []):
        with pytest.raises(ProtocolError):
            verify_registry(bad, steward_resolver=RESOLVER, now=NOW, steward=STEWARD.did)  # type: ignore[arg-type]


def test_member_keys_are_read_from_the_did_document() -> None:
    second = generate("Ed25519").with_controller(A.did, f"{A.did}#key-2")
    document = copy.deepcopy(A.document)
    document["verificationMethod"].append(second.to_public_multikey())
    document["assertionMethod"].append(second.id)
    assert member_keys(document) == (A.key.public.multibase, second.public.multibase)
    assert A.member("A", keys=member_keys(document)).keys[1] == second.public.multibase
    with pytest.raises(MalformedError):
        member_keys({"id": "not a did"})
