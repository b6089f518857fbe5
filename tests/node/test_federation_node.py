"""Federation between real nodes on loopback: forming a network, the registry and membership
credentials, catalogues that converge, edits and retirements, training offers, endorsements,
leaving and removal, feed paging and cursors (specs/federation.md, the node's parts)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from protocol.did import Resolver
from protocol.federation import Cursor, verify_membership_credential, verify_registry
from protocol.verify import verify
from tests.node.test_federation_node_support import (
    Network,
    catalogue_ids,
    eventually,
    form_network,
)


@pytest.fixture
async def trio(tmp_path: Path):
    net = Network(tmp_path, ["A", "B", "C"], languages={"C": ("fr", "en")})
    try:
        await net.start_all()
        await form_network(net, "A", ["B", "C"])
        yield net
    finally:
        await net.close()


def own_ids(node) -> set[str]:
    return {node.service("achievements").url(i) for i in node.samples}


async def converged(net: Network, expected: int) -> bool:
    sets = [catalogue_ids(n) for n in net.nodes.values() if n.app is not None]
    return all(len(s) == expected for s in sets) and all(s == sets[0] for s in sets)


async def test_network_forms_and_catalogues_converge(trio: Network):
    a, b, c = trio["A"], trio["B"], trio["C"]
    # The steward signed versions 1 (itself), 2 (+B) and 3 (+C); every node holds version 3.
    for node in (a, b, c):
        registry = await eventually(
            lambda n=node: (r := n.federation.registry()) is not None and r.version == 3 and r,
            what="registry version 3",
        )
        assert {m.did for m in registry.members} == {a.did, b.did, c.did}
        assert registry.steward == a.did
    served = await b.get("/federation/registry", auth=False)
    assert served["credentialSubject"]["registryVersion"] == 3
    assert served["id"] == f"{a.public_url}/federation/network/registry/3"
    # Every version is served by the steward, each linking to the one before.
    steward_doc = a.service("identity").did_document()
    previous = None
    for version in (1, 2, 3):
        document = await a.get(f"/federation/network/registry/{version}", auth=False)
        previous = verify_registry(
            document,
            steward_resolver=Resolver({a.did: steward_doc}),
            now=trio.now(),
            steward=a.did if previous is None else None,
            previous=previous,
            check_window=False,
        )
    assert previous is not None and previous.version == 3
    # Keys are pinned from each member's DID document.
    member_b = previous.member(b.did)
    assert member_b is not None and member_b.endpoint == b.public_url + "/"
    assert member_b.keys and member_b.name == "Nœud B"
    # The membership credential is a plain VC 2.0 that anyone can verify.
    membership = await b.get("/federation/membership", auth=False)
    checked = verify_membership_credential(
        membership,
        steward=a.did,
        resolver=Resolver({a.did: steward_doc}),
        now=trio.now(),
        registry=previous,
    )
    assert checked.member == b.did and checked.roles == ("member",)
    report = verify(membership, now=trio.now(), resolver=Resolver({a.did: steward_doc}))
    assert report.verified, report.to_dict()

    # Catalogues converge on the nine sample achievements of the three members.
    everything = own_ids(a) | own_ids(b) | own_ids(c)
    await eventually(lambda: converged(trio, 9), what="catalogues converge")
    assert catalogue_ids(c) == everything
    status = await c.get("/federation/status")
    assert status["registryVersion"] == 3 and status["role"] == "member"
    assert {m["did"]: m["events"] for m in status["members"]}[a.did] >= 6
    # At most requests that came while a node was joining (before it held the registry).
    refused = (await c.get("/federation/rejections"))["rejections"]
    assert {r["code"] for r in refused} <= {"FEDERATION_NOT_A_MEMBER"}, refused


async def test_catalogue_search(trio: Network):
    a, b, c = trio["A"], trio["B"], trio["C"]
    await eventually(lambda: converged(trio, 9), what="catalogues converge")

    async def search(query: str) -> dict:
        return await b.get(f"/federation/catalogue?{query}", auth=False)

    # Text (FTS5, every word as a prefix, accents ignored), in both languages in use.
    found = await search("q=python")
    assert found["total"] == 3
    assert {i["issuer"] for i in found["items"]} == {a.did, b.did, c.did}
    assert (await search("q=donnees+pyth"))["total"] == 1  # C publishes in French
    assert (await search("q=mentor"))["total"] == 3
    assert (await search("q=nothing-like-this"))["total"] == 0
    # FTS syntax is not the user's to write: quotes, brackets and stars are dropped.
    assert (await search("q=%22%29%28%2A"))["total"] == 0
    assert (await search("q=%22pyth%22+%2A+%28"))["total"] == 3
    # Skills: alignments and tags.
    assert (await search("skill=FAIR+Guiding"))["total"] == 3
    assert (await search("skill=https://www.go-fair.org/fair-principles/"))["total"] == 3
    assert (await search("skill=mentoring"))["total"] == 3
    # Issuer: by DID or by name.
    by_did = await search(f"issuer={quote(c.did)}")
    assert {i["issuer"] for i in by_did["items"]} == {c.did} and by_did["total"] == 3
    assert by_did["items"][0]["issuerName"] == "Nœud C"
    assert (await search("issuer=N%C5%93ud+A"))["total"] == 3
    # Language.
    assert (await search("lang=fr"))["total"] == 3
    assert (await search("lang=en"))["total"] == 6
    # Combined, and paged.
    assert (await search("q=python&lang=fr"))["total"] == 1
    page = await search("limit=4&offset=8")
    assert page["total"] == 9 and len(page["items"]) == 1
    status, _ = await b.request("GET", "/federation/catalogue?limit=0", auth=False)
    assert status == 400
    status, _ = await b.request("GET", "/federation/catalogue?kind=people", auth=False)
    assert status == 400


async def test_edits_retirements_and_offers_propagate(trio: Network):
    a, b, c = trio["A"], trio["B"], trio["C"]
    await eventually(lambda: converged(trio, 9), what="catalogues converge")
    achievement_id = a.samples[1]
    url = a.service("achievements").url(achievement_id)
    # An edit through the staff API is published shortly after the request.
    record = await a.get(f"/api/achievements/{achievement_id}")
    data = dict(record["input"])
    data["name"] = {"en": "Senior Peer Mentor", "fr": "Mentor pair confirmé"}
    status, _ = await a.request("PUT", f"/api/achievements/{achievement_id}", data)
    assert status == 200
    await eventually(
        lambda: (item := c.federation.catalogue_item(url)) and item["name"] == "Senior Peer Mentor",
        what="the new version at C",
    )
    assert (await b.get("/federation/catalogue?q=senior", auth=False))["total"] == 1
    # Retiring hides it from searches (still listed with retired=1).
    await a.post(f"/api/achievements/{achievement_id}/retire")
    await eventually(
        lambda: url not in catalogue_ids(b) and url not in catalogue_ids(c), what="retired"
    )
    assert url in catalogue_ids(c, retired=True)
    assert c.federation.catalogue_item(url)["retired"] is True

    # A training offer published at B reaches A and C; an update replaces it; retiring hides it.
    offer = await b.post(
        "/federation/offers",
        {
            "name": "Atelier science ouverte",
            "description": "Deux jours pour publier ses données.",
            "inLanguage": "fr",
            "skills": ["open science", "research data"],
            "startDate": "2026-05-04",
            "location": "Lyon",
        },
        expect=201,
    )
    assert offer["id"].startswith(b.public_url + "/federation/offers/")
    served = await b.get(offer["id"].removeprefix(b.public_url), auth=False)
    assert served == offer
    await eventually(lambda: offer["id"] in catalogue_ids(a, kind="offer"), what="offer at A")
    await eventually(lambda: offer["id"] in catalogue_ids(c, kind="offer"), what="offer at C")
    found = await c.get("/federation/catalogue?kind=offer&skill=research+data", auth=False)
    assert [i["id"] for i in found["items"]] == [offer["id"]]
    assert found["items"][0]["language"] == "fr"
    local_id = offer["id"].rsplit("/", 1)[1]
    status, _ = await b.request(
        "PUT", f"/federation/offers/{local_id}", {"name": "Atelier données ouvertes"}
    )
    assert status == 200
    await eventually(
        lambda: (
            (item := a.federation.catalogue_item(offer["id"]))
            and item["name"] == "Atelier données ouvertes"
        ),
        what="offer update at A",
    )
    await b.post(f"/federation/offers/{local_id}/retire")
    await eventually(lambda: offer["id"] not in catalogue_ids(c), what="offer retired at C")
    status, _ = await b.request("POST", "/federation/offers", {"name": ""})
    assert status == 422


async def test_endorsement_shows_in_both_catalogues(trio: Network):
    a, b, c = trio["A"], trio["B"], trio["C"]
    await eventually(lambda: converged(trio, 9), what="catalogues converge")
    target = a.service("achievements").url(a.samples[2])
    endorsement = await b.post(
        "/federation/endorsements",
        {"achievement": target, "comment": "Formation solide, évaluée avec soin."},
        expect=201,
    )
    assert endorsement["issuer"]["id"] == b.did
    assert endorsement["credentialSubject"]["id"] == target
    assert "EndorsementCredential" in endorsement["type"]
    # Signed by B's did:web: any verifier with B's DID document accepts it.
    report = verify(
        endorsement,
        now=trio.now(),
        resolver=Resolver({b.did: b.service("identity").did_document()}),
    )
    assert report.verified, report.to_dict()
    served = await b.get(endorsement["id"].removeprefix(b.public_url), auth=False)
    assert served == endorsement

    def endorsed(node) -> list:
        item = node.federation.catalogue_item(target)
        return item["endorsements"] if item else []

    for node in (a, b, c):
        found = await eventually(lambda n=node: endorsed(n), what=f"endorsement at {node.name}")
        assert found[0]["endorser"] == b.did and found[0]["endorserName"] == "Nœud B"
        assert found[0]["comment"] == "Formation solide, évaluée avec soin."
    listed = await a.get(f"/federation/endorsements?subject={quote(target)}", auth=False)
    assert listed["endorsements"] == [endorsement]
    # The issuer can embed it in credentials it issues for that achievement.
    achievement = a.service("achievements").get(a.samples[2])
    embedded = a.federation.endorsed_achievement(achievement)
    assert embedded["endorsement"] == [endorsement]
    assert a.federation.endorsed_achievement(embedded)["endorsement"] == [endorsement]

    # One's own achievements, unknown ones and retired ones cannot be endorsed.
    own = b.service("achievements").url(b.samples[0])
    status, body = await b.request("POST", "/federation/endorsements", {"achievement": own})
    assert status == 422, body
    status, _ = await b.request(
        "POST", "/federation/endorsements", {"achievement": a.public_url + "/achievements/none"}
    )
    assert status == 404
    # Scopes: a token without the federation scope is refused.
    token = b.service("auth").create_token(["staff"], name="reader", now=trio.now())[1]
    async with b.session.post(
        b.url("/federation/endorsements"),
        json={"achievement": target},
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        assert response.status == 403


async def test_leaving_removal_and_single_use_invitations(trio: Network):
    a, b, c = trio["A"], trio["B"], trio["C"]
    await eventually(lambda: converged(trio, 9), what="catalogues converge")
    # C leaves: version 4 records it (it stays listed, so its past badges keep verifying).
    answer = await c.post("/federation/leave")
    assert answer["registryVersion"] == 4
    registry = a.federation.registry()
    gone = registry.member(c.did)
    assert gone.end_reason == "left" and gone.member_until is not None
    await eventually(lambda: b.federation.registry().version == 4, what="B follows the registry")
    assert c.federation.registry().version == 4
    assert not c.federation.can_publish()
    # C's feed stops growing; new achievements at C are not published.
    head = c.federation.store.head()
    await c.post(
        "/api/achievements",
        {
            "name": "Après départ",
            "description": "Non publié.",
            "criteria": {"narrative": "Aucun."},
        },
    )
    c.federation.publish_local()
    assert c.federation.store.head() == head
    # The steward removes B: version 5; B is no longer pulled, its requests are refused.
    answer = await a.post("/federation/members/remove", {"member": b.did})
    assert answer["registryVersion"] == 5
    assert a.federation.registry().member(b.did).end_reason == "removed"
    status, body = await a.request("POST", "/federation/members/remove", {"member": b.did})
    assert status == 409, body
    # Only the steward removes members.
    status, body = await b.request("POST", "/federation/members/remove", {"member": c.did})
    assert status in (403, 409), body

    # An invitation is single use: a second redemption is refused.
    invitation = await a.post("/federation/invitations", {"name": "Quelqu'un"}, expect=201)
    network = Network(trio.tmp_path / "more", ["D", "E"], extra_ports=tuple(trio.ports()))
    try:
        # D and E must be reachable by A: give A a transport to them through its fetcher's
        # configuration by restarting it with the new ports known.
        trio.extra_ports = tuple(network.ports())
        await trio.stop("A")
        await trio.start("A")
        await network.start_all()
        d, e = network["D"], network["E"]
        await d.post("/federation/join", {"invitation": invitation}, expect=201)
        status, body = await e.request("POST", "/federation/join", {"invitation": invitation})
        assert status == 502, body
        assert "already used" in body["detail"]
        rejections = trio["A"].federation.store.rejections()
        assert any(r["code"] == "FEDERATION_REPLAY" and r["peer"] == e.did for r in rejections)
        # An invitation bound to D cannot be used by E.
        bound = await trio["A"].post("/federation/invitations", {"did": d.did}, expect=201)
        status, body = await e.request("POST", "/federation/join", {"invitation": bound})
        assert status == 422, body  # E checks the invitation before sending it
    finally:
        await network.close()


async def test_feed_pages_and_cursors(trio: Network):
    a, b = trio["A"], trio["B"]
    service = b.federation
    for n in range(12):
        service.save_offer({"name": f"Offre {n}"})
    head = service.store.head()
    assert head.seq >= 15
    # A page is a signed request by a member; A reads B's feed through its own client.
    member_b = a.federation.registry().member(b.did)
    page = await a.federation.fetch_page(member_b, Cursor(0))
    assert page["source"] == b.did and page["head"] == str(head) and page["next"] is None
    assert [e["seq"] for e in page["events"]] == list(range(1, head.seq + 1))
    # Events are served in their canonical (signed) form, byte for byte as stored.
    stored = service.store.feed_after(0, 1)[0][2]
    assert json.loads(stored) == page["events"][0]
    # Smaller pages chain with next.
    text = service.feed_page(Cursor(0), 5)
    first = json.loads(text)
    assert len(first["events"]) == 5 and first["next"].startswith("5.")
    second = json.loads(service.feed_page(Cursor.parse(first["next"]), 500))
    assert second["events"][0]["seq"] == 6 and second["next"] is None
    # A cursor beyond the head, or naming another history, is a 409 for the puller.
    from protocol.federation import ChainGapError, ForkError

    with pytest.raises(ChainGapError):
        service.feed_page(Cursor(head.seq + 1, "sha256:" + "0" * 64), 10)
    with pytest.raises(ForkError):
        service.feed_page(Cursor(3, "sha256:" + "0" * 64), 10)
    # Unsigned requests for the feed are refused (and recorded).
    status, body = await b.request("GET", "/federation/feed?after=0", auth=False)
    assert status == 401, body
    assert any(
        r["channel"] == "feed request" and r["peer"] is None and "Signature" in r["reason"]
        for r in b.federation.store.rejections()
    )
    # The registry's time keeps events ordered after the membership start.
    first_event = json.loads(service.store.feed_after(0, 1)[0][2])
    member = service.registry().member(b.did)
    from protocol.timeutil import parse_datetime

    assert parse_datetime(first_event["time"], what="time") >= member.member_from
    assert member.member_from <= trio.now() + timedelta(seconds=1)


def test_every_federation_route_is_documented(node):
    specs = Path(__file__).resolve().parents[2] / "specs"
    openapi = (specs / "openapi.yaml").read_text("utf-8")
    prose = (specs / "node-api.md").read_text("utf-8")
    documented = {
        line.strip().rstrip(":") for line in openapi.splitlines() if line.startswith("  /")
    }
    mine = set()
    for route in node.app.router.routes():
        if not route.handler.__module__.startswith("node.federation"):
            continue
        info = route.resource.get_info()
        path = info.get("formatter") or info.get("path")
        mine.add(path)
        assert f"`{route.method} {path}" in prose or f" {path}`" in prose, (route.method, path)
    assert len(mine) == 23
    assert mine <= documented, mine - documented
