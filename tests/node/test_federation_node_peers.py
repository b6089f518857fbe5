"""A real node facing scripted members: joining with a signed request, pulling their feeds,
and refusing what they get wrong (forged signatures, impersonation, replays, forks, gaps,
oversized pages, non-members), each refusal recorded with its reason and nothing of it stored;
a member that is down is retried with backoff and caught up when it is back."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from protocol.federation import Cursor, build_notice, event_hash
from protocol.keys import generate
from tests.node.test_federation_node_support import (
    FakeMember,
    NetNode,
    Network,
    catalogue_ids,
    eventually,
    form_network,
)


@dataclass
class Scene:
    net: Network
    a: NetNode  # the steward
    b: NetNode  # a member
    m: FakeMember  # a scripted member
    outsider: FakeMember  # not in the network

    def now(self) -> datetime:
        return datetime.now(UTC)

    def member(self, node: NetNode) -> Any:
        return node.federation.registry().member(self.m.did)

    async def pull(self, node: NetNode) -> int:
        return int(await node.federation.syncer.pull(self.member(node), force=True))

    def rejections(self, node: NetNode, code: str | None = None) -> list[dict[str, Any]]:
        rows = node.federation.store.rejections(1000)
        return [r for r in rows if r["peer"] == self.m.did and (code is None or r["code"] == code)]


async def join(fake: FakeMember, steward: NetNode, invitation: dict[str, Any]) -> tuple[int, Any]:
    return await fake.send(
        steward,
        "POST",
        "/federation/network/join",
        {"invitation": invitation, "endpoint": fake.public_url + "/"},
    )


@pytest.fixture
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
    m, outsider = FakeMember(), FakeMember()
    await m.start()
    await outsider.start()
    # Slow polling: the tests pull explicitly, so what the background does stays out of the way.
    settings = {"poll_interval_seconds": 60, "notify_delay_seconds": 0.02}
    net = Network(tmp_path, ["A", "B"], extra_ports=(m.port, outsider.port), settings=settings)
    try:
        await net.start_all()
        await form_network(net, "A", ["B"])
        a, b = net["A"], net["B"]
        invitation = await a.post(
            "/federation/invitations", {"did": m.did, "name": "Membre M"}, expect=201
        )
        status, answer = await join(m, a, invitation)
        assert status == 201, answer
        assert answer["registry"]["credentialSubject"]["registryVersion"] == 3
        assert answer["membership"]["credentialSubject"]["id"] == m.did
        pinned = answer["registry"]["credentialSubject"]["member"][-1]
        assert pinned["memberKey"] == [m.key.public.multibase]
        assert pinned["endpoint"] == m.public_url + "/" and pinned["name"] == "Membre M"
        await eventually(lambda: b.federation.registry().version == 3, what="B at version 3")
        # The tests pull explicitly: the background pullers stay out of the way.
        for node in (a, b):
            await node.federation.syncer.stop()
        yield Scene(net, a, b, m, outsider)
    finally:
        await net.close()
        await m.close()
        await outsider.close()


async def test_a_scripted_member_is_pulled(scene: Scene):
    m, a, b = scene.m, scene.a, scene.b
    now = scene.now()
    m.event("AchievementPublished", {"achievement": m.achievement(1, "Soudure")}, time=now)
    m.event("AchievementPublished", {"achievement": m.achievement(2, "Menuiserie")}, time=now)
    for node in (a, b):
        assert await scene.pull(node) == 2
        assert {m.public_url + "/achievements/1", m.public_url + "/achievements/2"} <= (
            catalogue_ids(node)
        )
        assert node.federation.store.cursor(m.did) == Cursor(2, event_hash(m.events[-1]))
    # Each pull is a signed request that the fake member receives with the cursor.
    assert ("GET", "/federation/feed?after=0&limit=500") in m.requests
    # Pulling again brings nothing new (the cursor moved).
    assert await scene.pull(a) == 0
    assert m.requests[-1][1].startswith("/federation/feed?after=2.")
    assert scene.rejections(a) == []


async def test_forged_signature_is_refused_and_nothing_stored(scene: Scene):
    m, a = scene.m, scene.a
    now = scene.now()
    m.event("AchievementPublished", {"achievement": m.achievement(1, "Soudure")}, time=now)
    assert await scene.pull(a) == 1
    before = catalogue_ids(a)
    forged = m.event("AchievementPublished", {"achievement": m.achievement(2, "Vrai")}, time=now)
    forged["payload"]["achievement"]["name"] = "Falsifié"  # signed before the change
    assert await scene.pull(a) == 0
    refused = scene.rejections(a, "PROOF_VERIFICATION_ERROR")
    assert refused and refused[0]["channel"] == "feed"
    assert catalogue_ids(a) == before
    assert a.federation.store.event_count(m.did) == 1
    assert a.federation.store.cursor(m.did).seq == 1
    # A proof by a key the DID document does not list.
    m.events.pop()
    stranger = generate("Ed25519").with_controller(m.did, f"{m.did}#key-2")
    m.event(
        "AchievementPublished", {"achievement": m.achievement(2, "Clé")}, time=now, key=stranger
    )
    assert await scene.pull(a) == 0
    assert scene.rejections(a, "KEY_RESOLUTION_ERROR")
    assert a.federation.store.event_count(m.did) == 1
    # Once the feed is right again, pulling resumes where it stopped.
    m.events.pop()
    m.event("AchievementPublished", {"achievement": m.achievement(2, "Vrai")}, time=now)
    assert await scene.pull(a) == 1
    assert a.federation.catalogue_item(m.public_url + "/achievements/2")["name"] == "Vrai"


async def test_impersonation_is_refused(scene: Scene):
    m, a, b = scene.m, scene.a, scene.b
    now = scene.now()
    # A page of M's feed carrying an event of A (a real, signed one).
    a_event = json.loads(a.federation.store.feed_after(0, 1)[0][2])
    m.serve = lambda after: m.page(after, events=[a_event])
    assert await scene.pull(b) == 0
    assert any("not from" in r["reason"] for r in scene.rejections(b, "FEDERATION_IMPERSONATION"))
    # M's own event naming an achievement under A's endpoint.
    m.serve = None
    fake = m.achievement(1, "Pas à moi")
    fake["id"] = a.public_url + "/achievements/stolen"
    m.events.append(
        _signed_unchecked(m, "AchievementPublished", {"achievement": fake}, time=now, seq=1)
    )
    assert await scene.pull(b) == 0
    assert any("endpoint" in r["reason"] for r in scene.rejections(b, "FEDERATION_IMPERSONATION"))
    assert fake["id"] not in catalogue_ids(b, retired=True)
    assert b.federation.store.event_count(m.did) == 0
    # A notice signed by M naming A as its source.
    notice = build_notice(source=a.did, head=Cursor(0))
    status, body = await m.send(b, "POST", "/federation/notify", notice)
    assert status == 403, body
    assert body["code"] == "FEDERATION_IMPERSONATION"
    # A request whose keyid claims A but signed with M's key.
    posing = m.key.with_controller(a.did, f"{a.did}#key-1")
    status, body = await m.send(
        b, "POST", "/federation/notify", build_notice(source=a.did, head=Cursor(0)), key=posing
    )
    assert status == 401, body
    assert any(
        r["peer"] == a.did and r["code"] == "PROOF_VERIFICATION_ERROR"
        for r in b.federation.store.rejections()
    )


def _signed_unchecked(
    m: FakeMember, kind: str, payload: dict[str, Any], *, time: datetime, seq: int
) -> dict[str, Any]:
    """An event whose payload the builder would refuse (a resource M does not own)."""
    from protocol.federation import sign_jcs
    from protocol.timeutil import format_datetime

    event = {
        "source": m.did,
        "seq": seq,
        "prev": None if seq == 1 else event_hash(m.events[seq - 2]),
        "type": kind,
        "time": format_datetime(time),
        "payload": payload,
    }
    return sign_jcs(event, key=m.key, created=time)


async def test_replays_duplicates_and_forks(scene: Scene):
    m, a = scene.m, scene.a
    now = scene.now()
    m.event("AchievementPublished", {"achievement": m.achievement(1, "Un")}, time=now)
    m.event("AchievementPublished", {"achievement": m.achievement(2, "Deux")}, time=now)
    assert await scene.pull(a) == 2
    # Replayed events (the whole history again, with one new one) are no-ops.
    m.event("AchievementPublished", {"achievement": m.achievement(3, "Trois")}, time=now)
    m.serve = lambda after: m.page("0")
    assert await scene.pull(a) == 1
    assert a.federation.store.event_count(m.did) == 3
    assert scene.rejections(a) == []
    # A replayed request (same signature, same nonce) is refused the second time.
    head = Cursor(3, event_hash(m.events[-1]))
    url = a.public_url + "/federation/notify"
    headers, data = m.sign("POST", url, build_notice(source=m.did, head=head))
    status, _ = await m.send(a, "POST", "/federation/notify", headers=headers, data=data)
    assert status == 202
    status, body = await m.send(a, "POST", "/federation/notify", headers=headers, data=data)
    assert status == 401 and body["code"] == "FEDERATION_REPLAY", body
    assert scene.rejections(a, "FEDERATION_REPLAY")
    # An expired signature, and one made for another URL.
    old = scene.now() - timedelta(minutes=20)
    status, body = await m.send(
        a, "POST", "/federation/notify", build_notice(source=m.did, head=head), now=old
    )
    assert status == 401 and body["code"] == "FEDERATION_EXPIRED", body
    headers, data = m.sign("POST", a.public_url + "/federation/other", {"x": 1})
    status, body = await m.send(a, "POST", "/federation/notify", headers=headers, data=data)
    assert status == 401, body
    # A rewritten past (another event 2 after event 3 was applied): a fork. The node keeps what
    # it has, stores nothing of the fork, and stops pulling M.
    rewritten = copy.deepcopy(m.events[:1])
    m.events = rewritten
    m.event("AchievementPublished", {"achievement": m.achievement(2, "Autre")}, time=now)
    m.event("AchievementPublished", {"achievement": m.achievement(3, "Trois")}, time=now)
    m.event("AchievementPublished", {"achievement": m.achievement(4, "Quatre")}, time=now)
    assert await scene.pull(a) == 0
    fork = scene.rejections(a, "FEDERATION_FORK")
    assert fork, scene.rejections(a)
    peer = a.federation.store.peer(m.did)
    assert peer["blocked"] and "seq 2" in peer["blocked"]
    assert a.federation.catalogue_item(m.public_url + "/achievements/2")["name"] == "Deux"
    assert m.public_url + "/achievements/4" not in catalogue_ids(a)
    assert a.federation.store.event_count(m.did) == 3
    seen = len(m.requests)
    assert await scene.pull(a) == 0
    assert len(m.requests) == seen  # no longer pulled


async def test_gaps_and_oversized_pages(scene: Scene):
    m, a = scene.m, scene.a
    now = scene.now()
    for n in range(1, 4):
        m.event("AchievementPublished", {"achievement": m.achievement(n, f"N{n}")}, time=now)
    # A page that skips events: a gap, nothing applied.
    m.serve = lambda after: m.page(after, events=m.events[1:])
    assert await scene.pull(a) == 0
    assert scene.rejections(a, "FEDERATION_CHAIN_GAP")
    assert a.federation.store.event_count(m.did) == 0
    # A page of more events than a page may carry.
    many = [m.events[0]] * 501
    m.serve = lambda after: m.page(after, events=many)
    assert await scene.pull(a) == 0
    assert any("501" in r["reason"] for r in scene.rejections(a, "FEDERATION_OVERSIZED"))
    # A body larger than the node reads.
    m.serve = lambda after: '{"type":"FederationFeedPage","events":["' + "x" * (5 << 20) + '"]}'
    assert await scene.pull(a) == 0
    assert any("limit" in r["reason"] for r in scene.rejections(a, "FEDERATION_OVERSIZED"))
    # An event whose payload is over the limit (signed anyway).
    big = m.achievement(9, "Gros")
    big["description"] = "x" * (200 * 1024)
    m.events = []
    m.events.append(
        _signed_unchecked(m, "AchievementPublished", {"achievement": big}, time=now, seq=1)
    )
    m.serve = None
    assert await scene.pull(a) == 0
    assert any("payload" in r["reason"] for r in scene.rejections(a, "FEDERATION_OVERSIZED"))
    assert a.federation.store.event_count(m.did) == 0
    assert not {u for u in catalogue_ids(a, retired=True) if u.startswith(m.public_url)}


async def test_non_members_are_refused_before_any_lookup(scene: Scene):
    outsider, a = scene.outsider, scene.a
    status, body = await outsider.send(a, "GET", "/federation/feed?after=0")
    assert status == 403 and body["code"] == "FEDERATION_NOT_A_MEMBER", body
    status, body = await outsider.send(
        a, "POST", "/federation/notify", build_notice(source=outsider.did, head=Cursor(0))
    )
    assert status == 403, body
    # The outsider's DID document was never fetched.
    assert ("GET", "/.well-known/did.json") not in outsider.requests
    refused = [r for r in a.federation.store.rejections() if r["peer"] == outsider.did]
    assert {r["channel"] for r in refused} == {"feed request", "notice"}
    # Joining without an invitation of this steward fails the same way, with nothing fetched.
    forged = copy.deepcopy(await a.get("/federation/membership", auth=False))
    status, body = await join(outsider, a, forged)
    assert status in (400, 401, 403, 422), body
    assert ("GET", "/.well-known/did.json") not in outsider.requests
    # Nothing about the outsider was recorded beyond the refusals.
    assert a.federation.registry().member(outsider.did) is None


async def test_a_member_that_is_down_is_retried_and_caught_up(scene: Scene):
    m, a = scene.m, scene.a
    now = scene.now()
    m.event("AchievementPublished", {"achievement": m.achievement(1, "Un")}, time=now)
    assert await scene.pull(a) == 1
    await m.close()
    m.event("AchievementPublished", {"achievement": m.achievement(2, "Deux")}, time=now)
    for _ in range(3):
        assert await scene.pull(a) == 0
    peer = a.federation.store.peer(m.did)
    assert peer["failures"] == 3 and "cannot reach" in peer["last_error"]
    syncer = a.federation.syncer
    assert m.did in syncer.state()["backoff"]
    # Failures to reach a peer are not refusals of a message.
    assert scene.rejections(a) == []
    await m.restart()
    # A notice from the member ends the backoff and makes the node pull at once.
    syncer.start()
    head = Cursor(2, event_hash(m.events[-1]))
    status, body = await m.send(
        a, "POST", "/federation/notify", build_notice(source=m.did, head=head)
    )
    assert status == 202 and body["pulling"] is True
    await eventually(lambda: m.public_url + "/achievements/2" in catalogue_ids(a), what="caught up")
    peer = a.federation.store.peer(m.did)
    assert peer["failures"] == 0 and peer["last_error"] is None
    await asyncio.sleep(0)
