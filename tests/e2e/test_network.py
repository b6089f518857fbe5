"""Issue 6 acceptance: a network of real nodes on loopback ports (real servers, SQLite files,
keys), one of them stopped and restarted in the middle of a sync, one member misbehaving.

* A (the steward), B and C are Passeport nodes; M is a member that is not (a scripted did:web
  server) and tries a forged signature, an impersonation, a replayed request, replayed and
  rewritten events and an oversized feed. The honest nodes refuse each with a logged reason,
  store nothing of it, and converge on the same catalogue.
* C is stopped while it pulls B's feed (between two pages) and restarted: it resumes from its
  stored cursors.
* A badge issued at A, endorsed (its achievement) by B, is verified at C through C's API and
  offline from bundles C exports (``passeport verifier bundle``, then ``passeport verify
  --bundle`` in guarded subprocesses, every node stopped): valid; revoked at A, the next bundle
  says revoked; a bundle older than the policy says unknown.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from protocol.federation import Cursor, build_notice, event_hash
from tests.node.test_federation_node_support import (
    FakeMember,
    Network,
    catalogue_ids,
    eventually,
    form_network,
)

ROOT = Path(__file__).resolve().parents[2]
GUARDED = ROOT / "tests" / "guarded.py"
#: Training offers B publishes while C syncs: three feed pages.
OFFERS = 1200


async def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``passeport ARGS`` in a guarded subprocess (the network guard allows loopback only)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(GUARDED), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def from_member(node: Any, did: str, code: str) -> list[dict[str, Any]]:
    return [
        r for r in node.federation.store.rejections(5000) if r["peer"] == did and r["code"] == code
    ]


async def sync(*nodes: Any) -> None:
    for node in nodes:
        await node.post("/federation/sync")


async def test_three_nodes_restart_malice_endorsement_and_offline_bundles(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="passeport.node.federation")
    m = FakeMember()
    await m.start()
    net = Network(tmp_path, ["A", "B", "C"], extra_ports=(m.port,))
    try:
        await net.start_all()
        a, b, c = net["A"], net["B"], net["C"]
        await form_network(net, "A", ["B", "C"])
        invitation = await a.post(
            "/federation/invitations", {"did": m.did, "name": "M"}, expect=201
        )
        status, answer = await m.send(
            a,
            "POST",
            "/federation/network/join",
            {"invitation": invitation, "endpoint": m.public_url + "/"},
        )
        assert status == 201, answer
        legit = m.achievement(1, "Badge honnête de M")
        m.event("AchievementPublished", {"achievement": legit}, time=datetime.now(UTC))
        honest = (a, b, c)

        # -- convergence --------------------------------------------------------------------
        async def same_catalogues(count: int) -> bool:
            sets = [catalogue_ids(n) for n in honest]
            return all(len(s) == count for s in sets) and sets[0] == sets[1] == sets[2]

        await eventually(lambda: same_catalogues(10), what="catalogues of 10 items")
        assert legit["id"] in catalogue_ids(c)

        # -- C stopped in the middle of a sync, then restarted --------------------------------
        for n in range(OFFERS):
            b.federation.save_offer(
                {"name": f"Formation {n}", "skills": ["soudure"], "inLanguage": "fr"}
            )
        b_head = b.federation.store.head()
        start = c.federation.store.cursor(b.did).seq

        def mid_sync() -> bool:
            seq = c.federation.store.cursor(b.did).seq
            return start < seq < b_head.seq

        await eventually(mid_sync, interval=0.001, what="C between two pages of B's feed")
        await net.stop("C")
        # (C's data folder keeps the cursor of the last page it applied.)
        # While C is down, A publishes an achievement; its notices to C fail.
        created = await a.post(
            "/api/achievements",
            {
                "name": {"en": "Welding safety", "fr": "Sécurité en soudure"},
                "description": {"en": "Safe welding.", "fr": "Souder sans danger."},
                "criteria": {"narrative": "Pass the safety test."},
                "tag": ["soudure"],
            },
        )
        await net.start("C")
        c = net["C"]
        honest = (a, b, c)
        total = 10 + OFFERS + 1
        await eventually(lambda: same_catalogues(total), timeout=60, what="converged after restart")
        assert created["url"] in catalogue_ids(c)
        assert c.federation.store.event_count(b.did) == b_head.seq  # each event applied once
        assert c.federation.store.cursor(b.did) == b_head
        found = await c.get("/federation/catalogue?q=formation+11&skill=soudure", auth=False)
        assert "Formation 11" in {i["name"] for i in found["items"]}

        # -- a misbehaving member -----------------------------------------------------------
        now = datetime.now(UTC)
        # Forged signature: an event changed after it was signed.
        forged = m.event(
            "AchievementPublished", {"achievement": m.achievement(2, "Vrai")}, time=now
        )
        forged["payload"]["achievement"]["name"] = "Faux"
        await sync(*honest)
        for node in honest:
            assert from_member(node, m.did, "PROOF_VERIFICATION_ERROR"), node.name
        m.events.pop()
        # Impersonation: M's feed carries an event signed by A.
        a_event = json.loads(a.federation.store.feed_after(0, 1)[0][2])
        m.serve = lambda after: m.page(after, events=[a_event])
        await sync(*honest)
        for node in (b, c):
            assert from_member(node, m.did, "FEDERATION_IMPERSONATION"), node.name
        # Impersonation again: a notice signed by M naming B as its source.
        status, body = await m.send(
            c, "POST", "/federation/notify", build_notice(source=b.did, head=Cursor(0))
        )
        assert status == 403 and body["code"] == "FEDERATION_IMPERSONATION", body
        # Replayed request: the same signed notice twice.
        head = Cursor(1, event_hash(m.events[0]))
        headers, data = m.sign(
            "POST", a.public_url + "/federation/notify", build_notice(source=m.did, head=head)
        )
        first = await m.send(a, "POST", "/federation/notify", headers=headers, data=data)
        again = await m.send(a, "POST", "/federation/notify", headers=headers, data=data)
        assert first[0] == 202 and again[0] == 401, (first, again)
        assert from_member(a, m.did, "FEDERATION_REPLAY")
        # Replayed events: the old event again is a no-op, nothing stored twice.
        m.serve = lambda after: m.page("0")
        await sync(*honest)
        # Oversized feed: more events than a page may carry.
        m.serve = lambda after: m.page(after, events=[m.events[0]] * 501)
        await sync(*honest)
        for node in honest:
            assert from_member(node, m.did, "FEDERATION_OVERSIZED"), node.name
        # Rewritten history: another event at seq 1 (a fork). M is no longer pulled.
        m.events = []
        m.event("AchievementPublished", {"achievement": m.achievement(1, "Réécrit")}, time=now)
        m.serve = lambda after: m.page("0")
        await sync(*honest)
        for node in honest:
            assert from_member(node, m.did, "FEDERATION_FORK"), node.name
            assert node.federation.store.peer(m.did)["blocked"]
            # Nothing from the refused messages was stored.
            assert node.federation.store.event_count(m.did) == 1
            mine = {u for u in catalogue_ids(node, retired=True) if u.startswith(m.public_url)}
            assert mine == {legit["id"]}
            assert node.federation.catalogue_item(legit["id"])["name"] == "Badge honnête de M"
        logged = "\n".join(r.getMessage() for r in caplog.records)
        for code in (
            "PROOF_VERIFICATION_ERROR",
            "FEDERATION_IMPERSONATION",
            "FEDERATION_REPLAY",
            "FEDERATION_OVERSIZED",
            "FEDERATION_FORK",
        ):
            assert f"from {m.did}" in logged and code in logged, code
        assert await same_catalogues(total)

        # -- a badge issued at A, endorsed by B, verified at C ---------------------------------
        achievement_url = a.service("achievements").url(a.samples[0])
        issued = await a.post(
            "/api/credentials", {"achievementId": a.samples[0], "email": "ada@example.org"}
        )
        credential = issued["credential"]
        endorsement = await b.post(
            "/federation/endorsements",
            {"achievement": achievement_url, "comment": "Reconnu par le nœud B."},
            expect=201,
        )
        for node in (a, c):
            await eventually(
                lambda n=node: n.federation.catalogue_item(achievement_url)["endorsements"],
                what=f"the endorsement at {node.name}",
            )
        embedded = a.federation.endorsed_achievement(a.service("achievements").get(a.samples[0]))
        assert embedded["endorsement"] == [endorsement]
        status, report = await c.request(
            "POST", "/credentials/verify", {"verifiableCredential": credential}, auth=False
        )
        assert status == 200 and report["verified"] is True, report

        # C keeps a copy of A's status list (announced in A's feed).
        status_url = credential["credentialStatus"]["statusListCredential"]

        def c_has_list() -> Any:
            copies = {u: t for u, _, _, t in c.federation.store.documents("statusList")}
            return copies.get(status_url)

        first_copy = await eventually(c_has_list, what="A's status list at C")
        bundle_1 = tmp_path / "bundle-1.json"
        result = await cli("verifier", "bundle", "--data", str(c.data_dir), "--out", str(bundle_1))
        assert result.returncode == 0, result.stderr
        assert "Réseau régional" in result.stdout

        # Revoked at A: C fetches the list again after A's StatusListUpdated event.
        await a.post(f"/api/credentials/{issued['id']}/revoke", {"reason": "erreur"})
        await eventually(lambda: c_has_list() > first_copy, what="the revoked list at C")
        bundle_2 = tmp_path / "bundle-2.json"
        result = await cli("verifier", "bundle", "--data", str(c.data_dir), "--out", str(bundle_2))
        assert result.returncode == 0, result.stderr
        steward_document = a.service("identity").did_document()
    finally:
        await net.close()
        await m.close()

    # -- offline, every node stopped ------------------------------------------------------------
    steward_file = tmp_path / "steward.json"
    steward_file.write_text(json.dumps(steward_document), "utf-8")
    credential_file = tmp_path / "badge.json"
    credential_file.write_text(json.dumps(credential), "utf-8")
    bundled = json.loads(bundle_1.read_text("utf-8"))
    assert set(bundled["didDocuments"]) >= {a.did, b.did, c.did, m.did}
    assert status_url in bundled["statusLists"]

    result = await cli(
        "verify", "--bundle", str(bundle_1), "--trust", str(steward_file), str(credential_file)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VALID credential" in result.stdout
    assert f"member: Nœud A ({a.did}) of Réseau régional" in result.stdout
    assert "issued by Nœud A" in result.stdout

    result = await cli(
        "verify", "--bundle", str(bundle_2), "--trust", str(steward_file), str(credential_file)
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "INVALID credential" in result.stdout and "revoked" in result.stdout

    later = (datetime.now(UTC) + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = await cli(
        "verify",
        "--bundle",
        str(bundle_1),
        "--trust",
        str(steward_file),
        "--at",
        later,
        "--json",
        str(credential_file),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    [report] = json.loads(result.stdout)
    assert report["verdict"] == "unknown"
    assert report["member"] == {"id": a.did, "name": "Nœud A"}
    # A bundle without a trust anchor is refused outright, and so is one signed by no one the
    # verifier trusts; the policy is the verifier's to set.
    result = await cli("verify", "--bundle", str(bundle_1), str(credential_file))
    assert result.returncode == 2 and "--trust" in result.stderr
    stranger = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    result = await cli(
        "verify", "--bundle", str(bundle_1), "--trust", stranger, str(credential_file)
    )
    assert result.returncode == 2 and "does not trust" in result.stderr, result.stderr
    result = await cli(
        "verify",
        "--bundle",
        str(bundle_1),
        "--trust",
        str(steward_file),
        "--bundle-max-age",
        "soon",
        str(credential_file),
    )
    assert result.returncode == 2 and "--bundle-max-age" in result.stderr
    result = await cli(
        "verify",
        "--bundle",
        str(bundle_1),
        "--trust",
        str(steward_file),
        "--bundle-max-age",
        "1s",
        str(credential_file),
    )
    assert result.returncode == 1 and "UNKNOWN credential" in result.stdout
    assert "Traceback" not in result.stderr
