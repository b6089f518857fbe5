"""Federation feeds: event chains, forks, gaps, replays, impersonation, non-members, sizes,
cursors, feed pages and notices (specs/federation.md, "Events").

Every event is signed for real (eddsa-jcs-2022) by did:web members of a registry the steward
signed; nothing is mocked.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from protocol.did import Resolver
from protocol.errors import InvalidProof, KeyResolutionError, MalformedError, ProtocolError
from protocol.federation import (
    ChainGapError,
    Cursor,
    ForkError,
    ImpersonationError,
    Member,
    NotAMemberError,
    OversizedError,
    Registry,
    build_event,
    build_feed_page,
    build_notice,
    build_registry,
    event_hash,
    parse_notice,
    resume_after,
    sign_jcs,
    verify_event,
    verify_feed_page,
    verify_registry,
)
from protocol.keys import KeyPair, generate
from protocol.limits import MAX_EVENT_PAYLOAD_BYTES, MAX_FEED_PAGE_EVENTS

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
NETWORK = "https://steward.test/network"


@dataclass(frozen=True)
class Node:
    did: str
    key: KeyPair
    document: dict[str, Any]

    def member(self, name: str, **changes: Any) -> Member:
        host = self.did.removeprefix("did:web:")
        fields: dict[str, Any] = {
            "did": self.did,
            "name": name,
            "endpoint": f"https://{host}/",
            "feed": f"https://{host}/federation/feed",
            "member_from": NOW - timedelta(days=100),
            "keys": (self.key.public.multibase,),
        }
        fields.update(changes)
        return Member(**fields)


def make_node(host: str) -> Node:
    did = f"did:web:{host}"
    pair = generate("Ed25519").with_controller(did, f"{did}#key-1")
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
GONE = make_node("gone.test")
OUTSIDER = make_node("outsider.test")
RESOLVER = Resolver({n.did: n.document for n in (STEWARD, A, B, GONE, OUTSIDER)})
REGISTRY: Registry = verify_registry(
    build_registry(
        network=NETWORK,
        name="Réseau",
        members=[
            A.member("Nœud A"),
            B.member("Nœud B"),
            GONE.member("Parti", member_until=NOW - timedelta(days=10), end_reason="left"),
        ],
        steward_key=STEWARD.key,
        created=NOW - timedelta(days=100),
    ),
    steward_resolver=RESOLVER,
    now=NOW,
    steward=STEWARD.did,
)


def achievement(node: Node, n: int, **extra: Any) -> dict[str, Any]:
    host = node.did.removeprefix("did:web:")
    return {
        "achievement": {
            "id": f"https://{host}/achievements/{n}",
            "type": ["Achievement"],
            "name": f"Badge {n}",
            "description": "Décrit en français.",
            **extra,
        }
    }


def chain(
    node: Node, count: int, *, start: int = 1, prev: str | None = None
) -> list[dict[str, Any]]:
    events = []
    for seq in range(start, start + count):
        event = build_event(
            key=node.key,
            seq=seq,
            prev=prev,
            type="AchievementPublished",
            time=NOW - timedelta(days=1) + timedelta(minutes=seq),
            payload=achievement(node, seq),
        )
        prev = event_hash(event)
        events.append(event)
    return events


def check(event: dict[str, Any], last: Cursor | None = None, **kw: Any) -> Any:
    return verify_event(event, registry=REGISTRY, resolver=RESOLVER, now=NOW, last_seen=last, **kw)


# -- the chain ------------------------------------------------------------------------------------


def test_a_chain_verifies_in_order() -> None:
    events = chain(A, 5)
    last: Cursor | None = None
    for seq, event in enumerate(events, start=1):
        verified = check(event, last)
        assert (verified.seq, verified.source, verified.type) == (
            seq,
            A.did,
            "AchievementPublished",
        )
        assert not verified.duplicate and verified.known_type
        assert verified.member.name == "Nœud A"
        assert verified.hash == event_hash(event)
        assert verified.prev == (None if seq == 1 else event_hash(events[seq - 2]))
        assert verified.payload["achievement"]["name"] == f"Badge {seq}"
        last = verified.cursor
    assert last == Cursor(5, event_hash(events[-1]))
    assert events[0]["prev"] is None and events[1]["prev"] == event_hash(events[0])
    assert set(events[0]) == {"source", "seq", "prev", "type", "time", "payload", "proof"}
    assert events[0]["proof"]["cryptosuite"] == "eddsa-jcs-2022"


def test_replayed_events_are_idempotent_no_ops() -> None:
    events = chain(A, 3)
    cursors = []
    last = None
    for event in events:
        last = check(event, last).cursor
        cursors.append(last)
    # The last event again: a duplicate.
    assert check(events[2], last).duplicate
    # An older event: a duplicate, compared with the history when the caller keeps one.
    history: Callable[[int], str | None] = {c.seq: c.hash for c in cursors}.get
    assert check(events[0], last).duplicate
    assert check(events[0], last, history=history).duplicate
    # The same event re-signed later is the same event (its hash ignores the proof).
    resigned = sign_jcs(
        {k: v for k, v in events[2].items() if k != "proof"},
        key=A.key,
        created=NOW - timedelta(minutes=1),
    )
    assert check(resigned, last).duplicate


def test_a_fork_is_detected() -> None:
    events = chain(A, 3)
    last = None
    cursors = []
    for event in events:
        last = check(event, last).cursor
        cursors.append(last)
    # A different event 3: the source equivocates.
    other3 = build_event(
        key=A.key,
        seq=3,
        prev=event_hash(events[1]),
        type="AchievementRetired",
        time=NOW - timedelta(minutes=5),
        payload={"achievement": "https://node-a.test/achievements/1"},
    )
    with pytest.raises(ForkError) as caught:
        check(other3, last)
    assert last is not None
    assert (caught.value.seq, caught.value.seen) == (3, last.hash)
    assert caught.value.received == event_hash(other3)
    # A different event 2 found against the history.
    other2 = build_event(
        key=A.key,
        seq=2,
        prev=event_hash(events[0]),
        type="AchievementRetired",
        time=NOW - timedelta(minutes=5),
        payload={"achievement": "https://node-a.test/achievements/1"},
    )
    with pytest.raises(ForkError, match="two different events with seq 2"):
        check(other2, last, history={c.seq: c.hash for c in cursors}.get)
    # An event 4 that follows the other event 3.
    fork4 = chain(A, 1, start=4, prev=event_hash(other3))[0]
    with pytest.raises(ForkError, match="two different histories"):
        check(fork4, last)


def test_gaps_are_detected() -> None:
    events = chain(A, 4)
    first = check(events[0]).cursor
    with pytest.raises(ChainGapError, match="2 to 2 are missing"):
        check(events[2], first)
    with pytest.raises(ChainGapError, match="1 to 3"):
        check(events[3])


# -- who may publish ------------------------------------------------------------------------------


def test_forged_signatures_are_refused() -> None:
    event = chain(A, 1)[0]
    tampered = copy.deepcopy(event)
    tampered["payload"]["achievement"]["name"] = "Autre badge"
    with pytest.raises(InvalidProof):
        check(tampered)
    # Signed by B's key but claiming A's verification method: the signature does not verify.
    unsigned = {k: v for k, v in event.items() if k != "proof"}
    forged = sign_jcs(unsigned, key=B.key.with_controller(A.did, A.key.id), created=NOW)
    with pytest.raises(InvalidProof):
        check(forged)


def test_impersonation_is_refused() -> None:
    # B signs an event that names A as its source (B's own, valid key).
    unsigned = {k: v for k, v in chain(A, 1)[0].items() if k != "proof"}
    by_b = sign_jcs(unsigned, key=B.key, created=NOW)
    with pytest.raises(ImpersonationError, match="signed with"):
        check(by_b)
    # A publishes an achievement under B's endpoint.
    event = build_event(
        key=A.key,
        seq=1,
        prev=None,
        type="AchievementPublished",
        time=NOW,
        payload=achievement(B, 1),
    )
    with pytest.raises(ImpersonationError, match="not under the source's endpoint"):
        check(event)
    # A relays an endorsement that B issued, as if it were its own.
    endorsement = {
        "type": ["VerifiableCredential", "EndorsementCredential"],
        "issuer": {"id": B.did},
    }
    with pytest.raises(ImpersonationError):  # build_event refuses it too
        build_event(
            key=A.key,
            seq=1,
            prev=None,
            type="EndorsementIssued",
            time=NOW,
            payload={"endorsement": endorsement},
        )
    relayed = {
        "source": A.did,
        "seq": 1,
        "prev": None,
        "type": "EndorsementIssued",
        "time": "2025-06-01T11:00:00Z",
        "payload": {"endorsement": endorsement},
    }
    with pytest.raises(ImpersonationError, match="not by the event's source"):
        check(sign_jcs(relayed, key=A.key, created=NOW))


def test_non_members_are_refused() -> None:
    event = chain(OUTSIDER, 1)[0]
    with pytest.raises(NotAMemberError, match="not a member"):
        check(event)
    # A former member: events after it left are refused, earlier ones accepted.
    late = build_event(
        key=GONE.key,
        seq=1,
        prev=None,
        type="AchievementPublished",
        time=NOW - timedelta(days=1),
        payload=achievement(GONE, 1),
    )
    with pytest.raises(NotAMemberError, match="left"):
        check(late)
    early = build_event(
        key=GONE.key,
        seq=1,
        prev=None,
        type="AchievementPublished",
        time=NOW - timedelta(days=20),
        payload=achievement(GONE, 1),
    )
    assert check(early).seq == 1
    before = build_event(
        key=A.key,
        seq=1,
        prev=None,
        type="AchievementPublished",
        time=NOW - timedelta(days=200),
        payload=achievement(A, 1),
    )
    with pytest.raises(NotAMemberError, match="only from"):
        check(before)


def test_member_without_its_did_document_cannot_be_checked() -> None:
    event = chain(A, 1)[0]
    with pytest.raises(KeyResolutionError):
        verify_event(event, registry=REGISTRY, resolver=Resolver(), now=NOW, last_seen=None)


# -- shapes and sizes -----------------------------------------------------------------------------


def test_oversized_payloads_are_refused() -> None:
    big = achievement(A, 1, description="x" * (MAX_EVENT_PAYLOAD_BYTES + 1))
    with pytest.raises(OversizedError):
        build_event(key=A.key, seq=1, prev=None, type="AchievementPublished", time=NOW, payload=big)
    # Signed by hand (a malicious member's own code): refused on receipt.
    unsigned = {
        "source": A.did,
        "seq": 1,
        "prev": None,
        "type": "AchievementPublished",
        "time": "2025-06-01T11:00:00Z",
        "payload": big,
    }
    with pytest.raises(OversizedError, match="payload"):
        check(sign_jcs(unsigned, key=A.key, created=NOW))


def test_unknown_types_keep_their_place_in_the_chain() -> None:
    event = build_event(
        key=A.key, seq=1, prev=None, type="SomethingNew", time=NOW, payload={"anything": [1, 2]}
    )
    verified = check(event)
    assert not verified.known_type and verified.seq == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.update(extra=1), "unknown members"),
        (lambda e: e.pop("prev"), "needs"),
        (lambda e: e.update(seq=0), "seq"),
        (lambda e: e.update(seq=True), "seq"),
        (lambda e: e.update(prev="sha256:" + "0" * 64), "prev null"),
        (lambda e: e.update(type="lower"), "type"),
        (lambda e: e.update(time="yesterday"), "time"),
        (lambda e: e.update(payload=[]), "payload"),
        (lambda e: e.update(source="node-a"), "DID"),
    ],
)
def test_malformed_events(change: Callable[[dict[str, Any]], Any], message: str) -> None:
    event = copy.deepcopy(chain(A, 1)[0])
    change(event)
    with pytest.raises(MalformedError, match=message):
        check(event)


def test_future_events_and_bad_payloads_are_refused() -> None:
    future = build_event(
        key=A.key,
        seq=1,
        prev=None,
        type="AchievementPublished",
        time=NOW + timedelta(hours=1),
        payload=achievement(A, 1),
    )
    with pytest.raises(ProtocolError, match="future"):
        check(future)
    with pytest.raises(MalformedError, match="needs"):
        build_event(key=A.key, seq=1, prev=None, type="StatusListUpdated", time=NOW, payload={})
    with pytest.raises(ValueError, match="prev"):
        build_event(key=A.key, seq=2, prev=None, type="X1", time=NOW, payload={})
    registry_event = build_event(
        key=A.key,
        seq=1,
        prev=None,
        type="RegistryChanged",
        time=NOW,
        payload={
            "registry": f"{NETWORK}/registry/1",
            "registryVersion": 1,
            "registryDigest": REGISTRY.digest,
        },
    )
    assert check(registry_event).payload["registryVersion"] == 1


# -- cursors, pages, notices -------------------------------------------------------------------


def test_cursor_text_round_trips() -> None:
    assert str(Cursor(0)) == "0" and Cursor.parse("0") == Cursor(0)
    cursor = Cursor(42, "sha256:" + "ab" * 32)
    assert str(cursor) == "42." + "ab" * 32
    assert Cursor.parse(str(cursor)) == cursor
    for bad in ("", "-1", "01", "1", "1.abc", "0." + "ab" * 32, "1." + "AB" * 32, 7):
        with pytest.raises(MalformedError):
            Cursor.parse(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Cursor(1)


def test_feed_pages_verify_all_or_nothing() -> None:
    events = chain(A, 6)
    head = Cursor(6, event_hash(events[-1]))
    page = build_feed_page(source=A.did, after=Cursor(0), events=events[:4], head=head)
    assert page["next"] == str(Cursor(4, event_hash(events[3])))
    update = verify_feed_page(
        page, source=A.did, registry=REGISTRY, resolver=RESOLVER, now=NOW, last_seen=None
    )
    assert [e.seq for e in update.events] == [1, 2, 3, 4] and update.more
    assert update.cursor == Cursor(4, event_hash(events[3]))
    # The next page overlaps by one (a retried pull): the overlap is a duplicate.
    page2 = build_feed_page(
        source=A.did, after=Cursor(3, event_hash(events[2])), events=events[3:], head=head
    )
    assert page2["next"] is None
    update2 = verify_feed_page(
        page2, source=A.did, registry=REGISTRY, resolver=RESOLVER, now=NOW, last_seen=update.cursor
    )
    assert [e.seq for e in update2.events] == [5, 6] and update2.duplicates == 1
    assert not update2.more and update2.cursor == head
    # One bad event and the whole page is refused.
    bad = copy.deepcopy(page)
    bad["events"][2]["payload"]["achievement"]["name"] = "Falsifié"
    with pytest.raises(InvalidProof):
        verify_feed_page(
            bad, source=A.did, registry=REGISTRY, resolver=RESOLVER, now=NOW, last_seen=None
        )
    # Someone else's event slipped into A's page.
    mixed = copy.deepcopy(page)
    mixed["events"][1] = chain(B, 2)[1]
    with pytest.raises(ImpersonationError):
        verify_feed_page(
            mixed, source=A.did, registry=REGISTRY, resolver=RESOLVER, now=NOW, last_seen=None
        )
    # A page served as B's feed when A's was asked for.
    with pytest.raises(ImpersonationError):
        verify_feed_page(
            page, source=B.did, registry=REGISTRY, resolver=RESOLVER, now=NOW, last_seen=None
        )


def test_oversized_pages_are_refused() -> None:
    event = chain(A, 1)[0]
    page = {
        "type": "FederationFeedPage",
        "source": A.did,
        "after": "0",
        "events": [event] * (MAX_FEED_PAGE_EVENTS + 1),
        "head": str(Cursor(1, event_hash(event))),
        "next": None,
    }
    with pytest.raises(OversizedError):
        verify_feed_page(
            page, source=A.did, registry=REGISTRY, resolver=RESOLVER, now=NOW, last_seen=None
        )
    with pytest.raises(ValueError):
        build_feed_page(
            source=A.did,
            after=Cursor(0),
            events=[event] * (MAX_FEED_PAGE_EVENTS + 1),
            head=Cursor(0),
        )


def test_serving_side_cursor_checks() -> None:
    events = chain(A, 3)
    hashes = {i + 1: event_hash(e) for i, e in enumerate(events)}
    head = Cursor(3, hashes[3])
    assert resume_after(Cursor(0), head=head, hash_at=hashes.get) == 0
    assert resume_after(Cursor(2, hashes[2]), head=head, hash_at=hashes.get) == 2
    with pytest.raises(ChainGapError):
        resume_after(Cursor(9, hashes[2]), head=head, hash_at=hashes.get)
    with pytest.raises(ForkError):
        resume_after(Cursor(2, hashes[1]), head=head, hash_at=hashes.get)


def test_notices() -> None:
    head = Cursor(7, "sha256:" + "cd" * 32)
    notice = build_notice(source=A.did, head=head)
    assert parse_notice(notice) == (A.did, head)
    for bad in ({**notice, "type": "X"}, {**notice, "extra": 1}, {**notice, "head": 7}):
        with pytest.raises(MalformedError):
            parse_notice(bad)
