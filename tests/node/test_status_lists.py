"""The node's status lists: size, random never-reused indexes, a new list when one fills, the
signed list served with cache headers, re-signing, and verification that says ``unknown`` (never
valid) when a list cannot be had or is stale."""

from __future__ import annotations

import asyncio
import base64
import gzip
import sqlite3
from contextlib import AsyncExitStack
from datetime import timedelta
from email.utils import format_datetime as http_date

import pytest

from node.config import ConfigError, NodeConfig
from node.status import CLOSE_AT, LIST_VALIDITY, RESIGN_AFTER
from protocol.did import Resolver
from protocol.status import decode
from protocol.verify import verify
from tests.node.test_issuing_support import (
    issue,
    issuer_and_verifier,
    post_json,
    status_index,
    transport_for,
    verify_at,
)

ENTRIES = 131_072


def list_path(url: str) -> str:
    return "/status/" + url.rsplit("/", 1)[1]


async def get_list(node, url: str, **headers: str):
    async with node.session.get(node.url(list_path(url)), headers=headers) as response:
        body = await response.json(content_type=None) if response.status == 200 else None
        return response.status, response.headers, body


def test_the_production_minimum_stays(tmp_path):
    with pytest.raises(ConfigError, match="131072"):
        NodeConfig(data_dir=tmp_path, status_list_entries=ENTRIES - 1).validate()


async def test_list_holds_131072_entries_and_is_signed_by_the_issuer(node):
    credential = (await issue(node))["credential"]
    url, index = status_index(credential)
    assert url.startswith(node.public_url + "/status/")
    status, _, listed = await get_list(node, url)
    assert status == 200
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listed["issuer"] == node.did and listed["id"] == url
    subject = listed["credentialSubject"]
    assert subject["statusPurpose"] == "revocation"
    # independent decoding: multibase 'u' + base64url(gzip(bits))
    encoded = subject["encodedList"]
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(raw) * 8 == ENTRIES
    assert raw[index // 8] & (0x80 >> (index % 8)) == 0
    assert decode(encoded).length == ENTRIES
    document = node.service("identity").did_document()
    report = verify(listed, now=_now(), resolver=Resolver({node.did: document}))
    assert report.verified, report.errors


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def test_indexes_are_random_and_never_reused(node):
    bodies = await asyncio.gather(*(issue(node, email=f"u{i}@example.org") for i in range(40)))
    indexes = [status_index(b["credential"])[1] for b in bodies]
    assert len(set(indexes)) == 40
    # random, not a counter: 40 draws over 131,072 entries spread far apart
    assert max(indexes) - min(indexes) > 10_000
    assert sorted(indexes) != list(range(min(indexes), min(indexes) + 40))
    # the database refuses an index written twice
    status = node.service("status")
    entry = status.entries(bodies[0]["id"])[0]
    with pytest.raises(sqlite3.IntegrityError):
        status.db.execute(
            "INSERT INTO status_entries (list_id, idx, credential_id) VALUES (?, ?, ?)",
            [entry["list_id"], entry["idx"], "urn:uuid:other"],
        )


def premark(status, list_id: int, keep: set[int], count: int) -> None:
    """Mark ``count`` indexes of a list as allocated (cheaply, straight in the database),
    leaving the indexes in ``keep`` free, and make the service read its state again."""
    marked = []
    for index in range(ENTRIES):
        if len(marked) == count:
            break
        if index not in keep:
            marked.append((list_id, index, f"urn:test:{index}"))
    assert len(marked) == count
    with status.db.atomic():
        status.db.conn.executemany(
            "INSERT INTO status_entries (list_id, idx, credential_id) VALUES (?, ?, ?)", marked
        )
        status.db.execute(
            "UPDATE status_lists SET allocated = allocated + ? WHERE id = ?", [count, list_id]
        )
    status.reload()


async def test_a_new_list_when_one_fills(node):
    first = await issue(node)
    url, taken = status_index(first["credential"])
    status = node.service("status")
    list_id = status.list_id_for_url(url)
    capacity = int(ENTRIES * CLOSE_AT)  # 98,304: a list closes when 3/4 are allocated
    premark(status, list_id, {taken}, capacity - 2)
    second = await issue(node)  # takes the list's last place
    assert status_index(second["credential"])[0] == url
    assert [r["full"] for r in status.lists() if r["id"] == list_id] == [1]
    third = await issue(node)
    new_url, _ = status_index(third["credential"])
    assert new_url != url and new_url.startswith(node.public_url + "/status/")
    rows = status.lists()
    assert [(r["issuer"], r["purpose"], r["size"], r["allocated"]) for r in rows] == [
        (node.did, "revocation", ENTRIES, capacity),
        (node.did, "revocation", ENTRIES, 1),
    ]
    # list URLs carry random ids, not counters
    assert new_url.rsplit("/", 1)[1] != str(rows[1]["id"])
    status_code, _, listed = await get_list(node, new_url)
    assert status_code == 200 and decode(listed["credentialSubject"]["encodedList"]).length == (
        ENTRIES
    )
    # the closed list is still served (and updatable)
    assert (await get_list(node, url))[0] == 200


async def test_a_dense_list_still_draws_among_free_indexes(node, monkeypatch):
    # Lists close at 3/4; with the closing point at 100% the draw must still find the last
    # free index (the uniform choice among free indexes after random collisions).
    monkeypatch.setattr("node.status.CLOSE_AT", 1.0)
    first = await issue(node)
    url, taken = status_index(first["credential"])
    status = node.service("status")
    list_id = status.list_id_for_url(url)
    left = (taken + 65_536) % ENTRIES
    premark(status, list_id, {taken, left}, ENTRIES - 2)
    second = await issue(node)
    assert status_index(second["credential"]) == (url, left)
    assert [r["full"] for r in status.lists() if r["id"] == list_id] == [1]
    third = await issue(node)
    assert status_index(third["credential"])[0] != url


async def test_cache_headers_etag_and_conditional_requests(node):
    body = await issue(node)
    url, _ = status_index(body["credential"])
    status, headers, _ = await get_list(node, url)
    assert status == 200
    assert headers["Cache-Control"] == f"public, max-age={node.config.status_list_max_age_seconds}"
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert (await get_list(node, url, **{"If-None-Match": etag}))[0] == 304
    assert (await get_list(node, url, **{"If-None-Match": '"other"'}))[0] == 200
    assert (await get_list(node, url, **{"If-Modified-Since": modified}))[0] == 304
    assert headers["Content-Type"].startswith("application/ld+json")
    vc_type = (await get_list(node, url, Accept="application/vc+ld+json"))[1]["Content-Type"]
    assert vc_type.startswith("application/vc+ld+json")
    # a revocation changes the list: new ETag, the old one no longer matches
    status, _, _ = await post_json(node, f"/api/credentials/{body['id']}/revoke", {})
    assert status == 200
    status, headers, listed = await get_list(node, url, **{"If-None-Match": etag})
    assert status == 200 and headers["ETag"] != etag
    index = status_index(body["credential"])[1]
    assert decode(listed["credentialSubject"]["encodedList"]).get(index) == 1
    earlier = http_date(_now() - timedelta(days=1), usegmt=True)
    assert (await get_list(node, url, **{"If-Modified-Since": earlier}))[0] == 200


async def test_unknown_lists(node):
    for path in ("/status/999", "/status/abc", "/status/" + "0" * 32):
        async with node.session.get(node.url(path)) as response:
            assert response.status == 404
            assert response.content_type == "application/problem+json"
    # no history is kept: a timestamp query never gets the current list
    url, _ = status_index((await issue(node))["credential"])
    async with node.session.get(
        node.url(list_path(url)), params={"timestamp": "2026-01-01T00:00:00Z"}
    ) as response:
        assert response.status == 404
        problem = await response.json(content_type=None)
    assert problem["type"] == "https://www.w3.org/ns/credentials/status-list#STATUS_RETRIEVAL_ERROR"


async def test_lists_are_re_signed_before_they_expire(start_node, clock):
    async with start_node(clock=clock) as node:
        body = await issue(node)
        url, _ = status_index(body["credential"])
        _, _, listed = await get_list(node, url)
        assert listed["validFrom"] == "2026-03-01T12:00:00Z"
        assert listed["validUntil"] == "2026-03-03T12:00:00Z"  # LIST_VALIDITY
        clock.advance(RESIGN_AFTER.total_seconds() - 60)
        _, _, same = await get_list(node, url)
        assert same == listed
        clock.advance(120)
        _, _, fresh = await get_list(node, url)
        assert fresh["validFrom"] == "2026-03-02T00:01:00Z"
        assert fresh["credentialSubject"] == listed["credentialSubject"]
        assert LIST_VALIDITY > RESIGN_AFTER


async def test_unreachable_list_gives_unknown_never_valid(start_node, clock):
    # a did:key issuer: its key needs no fetching, so only the status list is at stake
    async with start_node(clock=clock) as issuer:
        did = issuer.service("identity").add_did_key("Ed25519", now=clock(), name="Lab")
        credential = (await issue(issuer, issuer=did))["credential"]
        transport = transport_for(issuer)
    async with start_node(clock=clock, fetcher=transport) as verifier:
        status, report = await verify_at(verifier, credential)
    assert status == 422
    assert report["verified"] is False and report["verdict"] == "unknown"
    details = " ".join(d["detail"] for d in report["problemDetails"])
    assert "could not be retrieved" in details


async def test_stale_cached_list_is_not_used_when_refetch_fails(start_node, clock):
    issuer_stack = AsyncExitStack()
    issuer = await issuer_stack.enter_async_context(start_node(clock=clock))
    try:
        did = issuer.service("identity").add_did_key("Ed25519", now=clock(), name="Lab")
        credential = (await issue(issuer, issuer=did))["credential"]
        async with start_node(clock=clock, fetcher=transport_for(issuer)) as verifier:
            assert (await verify_at(verifier, credential))[0] == 200
            await issuer_stack.aclose()  # the issuer goes away
            # within the list's max-age the verifier's cached copy still answers...
            assert (await verify_at(verifier, credential))[0] == 200
            # ...after it, the cached copy is stale and the list cannot be fetched: unknown
            clock.advance(issuer.config.status_list_max_age_seconds + 1)
            status, report = await verify_at(verifier, credential)
            assert status == 422 and report["verdict"] == "unknown", report
    finally:
        await issuer_stack.aclose()


async def test_handed_in_lists_are_used_and_stale_ones_refused(start_node, clock):
    async with issuer_and_verifier(start_node, clock) as (issuer, verifier):
        body = await issue(issuer)
        credential = body["credential"]
        url, _ = status_index(credential)
        _, _, listed = await get_list(issuer, url)
        # a list handed in is used as it is (here: the current one)
        status, report = await verify_at(verifier, credential, statusListCredentials=[listed])
        assert status == 200, report
        # once revoked, the old list (not revoked) goes stale: the holder cannot replay it
        await post_json(issuer, f"/api/credentials/{body['id']}/revoke", {})
        clock.advance(LIST_VALIDITY.total_seconds() + 3600)
        status, report = await verify_at(verifier, credential, statusListCredentials=[listed])
        assert status == 422 and report["verdict"] == "unknown", report
        # fetched afresh (re-signed by the issuer when served), the list says revoked
        status, report = await verify_at(verifier, credential)
        assert status == 422 and report["verdict"] == "invalid"


async def test_suspension_lists_are_separate(node):
    revocable = await issue(node)
    suspendable = await issue(node, statusPurpose="suspension")
    url_r, _ = status_index(revocable["credential"])
    url_s, _ = status_index(suspendable["credential"])
    assert url_r != url_s
    _, _, listed = await get_list(node, url_s)
    assert listed["credentialSubject"]["statusPurpose"] == "suspension"


async def test_peer_lists_older_than_25_hours_are_stale(start_node, clock):
    async with issuer_and_verifier(start_node, clock) as (issuer, verifier):
        credential = (await issue(issuer))["credential"]
        url, _ = status_index(credential)
        _, _, listed = await get_list(issuer, url)
        clock.advance(24 * 3600)
        status, report = await verify_at(verifier, credential, statusListCredentials=[listed])
        assert status == 200, report
        # still within its validUntil (48 h), but older than a peer's daily re-signing allows
        clock.advance(2 * 3600)
        status, report = await verify_at(verifier, credential, statusListCredentials=[listed])
        assert status == 422 and report["verdict"] == "unknown", report
        assert any("stale" in d["detail"] for d in report["problemDetails"])
