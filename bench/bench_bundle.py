"""Offline verification with a bundle of a 30-member network vs plain did:key verification.

Usage (from anywhere)::

    python bench/bench_bundle.py [--members 30] [--rounds 7] [--seconds 1] [--json]

The network: a steward and ``--members`` member nodes with did:web DID documents whose keys the
registry pins, each with its own signed 131,072-entry revocation list (1% of entries set). A
bundle (registry, every DID document, every list, the packaged contexts) is exported and signed
by member 0 and opened with the steward as trust anchor.

The credential is ``bench/data/ob3-realistic.json`` (about 60 N-Quads, with a
``BitstringStatusListEntry``), issued twice with the same content: by member 7 (did:web, for
the bundle) and by a did:key issuer (for the plain case). Rows, both with and without the status
list (the ``credentialStatus`` entry removed before signing):

* ``did:key``: :func:`protocol.verify.verify` with the did:key credential, an empty resolver
  and, with status, the issuer's signed list handed in;
* ``bundle``: :meth:`protocol.federation.Bundle.verify` on the did:web credential: the same
  verification through the bundle's resolver, contexts and lists, plus the freshness and
  membership checks.

The two are measured alternately in ``--rounds`` rounds and the median of each is kept, so that
a busy machine slows both alike; the ratio ``bundle / did:key`` is the figure of merit (target:
within 10%). Also printed: building, signing and opening the bundle, its size, and
``verify_event`` throughput (what a new node spends verifying the feeds of the network).

Timings are wall-clock on this machine; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from protocol.di import sign  # noqa: E402
from protocol.did import Resolver, key_pair_as_did_key  # noqa: E402
from protocol.federation import (  # noqa: E402
    FEDERATION_CONTEXT,
    Member,
    build_bundle,
    build_event,
    build_registry,
    event_hash,
    open_bundle,
    packaged_context_text,
    verify_event,
    verify_registry,
)
from protocol.federation.jcs import canonicalize  # noqa: E402
from protocol.keys import KeyPair  # noqa: E402
from protocol.status import (  # noqa: E402
    StatusBitstring,
    build_status_entry,
    build_status_list_credential,
)
from protocol.verify import verify  # noqa: E402

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
ISSUED = datetime(2025, 3, 14, 10, tzinfo=UTC)
CONTEXTS = (
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    FEDERATION_CONTEXT,
)
INDEX = 94_567


def _key(seed: int, did: str | None = None) -> KeyPair:
    pair = KeyPair("Ed25519", seed.to_bytes(32, "big"))
    if did is None:
        return key_pair_as_did_key(pair)
    return pair.with_controller(did, f"{did}#key-1")


def _document(key: KeyPair) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": key.controller,
        "verificationMethod": [key.to_public_multikey()],
        "assertionMethod": [key.id],
        "authentication": [key.id],
    }


def _status_list(key: KeyPair, url: str, rng: random.Random) -> dict[str, Any]:
    bits = StatusBitstring(131_072)
    for index in rng.sample(range(131_072), 1_310):
        if index != INDEX:
            bits.set(index, 1)
    unsigned = build_status_list_credential(
        list_url=url,
        issuer=key.controller or "",
        purpose="revocation",
        bitstring=bits,
        valid_from=NOW - timedelta(days=1),
    )
    return sign(unsigned, key=key, created=NOW - timedelta(days=1))


def _credential(key: KeyPair, list_url: str | None) -> dict[str, Any]:
    document = json.loads((ROOT / "bench" / "data" / "ob3-realistic.json").read_text("utf-8"))
    document = copy.deepcopy(document)
    document["issuer"]["id"] = key.controller
    if list_url is None:
        document.pop("credentialStatus", None)
    else:
        document["credentialStatus"] = build_status_entry(list_credential_url=list_url, index=INDEX)
    return sign(document, key=key, created=ISSUED)


def _network(members: int) -> dict[str, Any]:
    rng = random.Random(20250601)
    steward = _key(1, "did:web:steward.test")
    nodes = [_key(100 + i, f"did:web:node-{i}.test") for i in range(members)]
    entries = [
        Member(
            did=key.controller or "",
            name=f"Nœud {i}",
            endpoint=f"https://node-{i}.test/",
            feed=f"https://node-{i}.test/federation/feed",
            member_from=NOW - timedelta(days=365),
            keys=(key.public.multibase,),
        )
        for i, key in enumerate(nodes)
    ]
    registry_doc = build_registry(
        network="https://steward.test/network",
        name="Réseau régional",
        members=entries,
        steward_key=steward,
        created=NOW - timedelta(days=30),
    )
    steward_doc = _document(steward)
    registry = verify_registry(
        registry_doc,
        steward_resolver=Resolver({steward.controller or "": steward_doc}),
        now=NOW,
        steward=steward.controller,
    )
    lists = {
        f"https://node-{i}.test/status/1": _status_list(key, f"https://node-{i}.test/status/1", rng)
        for i, key in enumerate(nodes)
    }
    documents = {key.controller or "": _document(key) for key in nodes}
    documents[steward.controller or ""] = steward_doc
    return {
        "steward": steward,
        "steward_doc": steward_doc,
        "nodes": nodes,
        "registry": registry,
        "lists": lists,
        "documents": documents,
    }


def _time(operation: Callable[[], object], *, seconds: float) -> float:
    """Seconds per call: a warm-up call, then calls until ``seconds`` have passed."""
    operation()
    count, start = 0, time.perf_counter()
    while True:
        operation()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and count >= 5:
            return elapsed / count


def run(members: int, rounds: int, seconds: float) -> dict[str, Any]:
    net = _network(members)
    contexts = {url: packaged_context_text(url) for url in CONTEXTS}
    retrieved = {key: NOW - timedelta(minutes=10) for key in (*net["lists"], *net["documents"])}
    retrieved.update({url: NOW - timedelta(minutes=10) for url in contexts})
    exporter = net["nodes"][0]

    def export() -> dict[str, Any]:
        return build_bundle(
            registry=net["registry"],
            did_documents=net["documents"],
            status_lists=net["lists"],
            contexts=contexts,
            retrieved_at=retrieved,
            created=NOW - timedelta(minutes=5),
            signer=exporter,
        )

    bundle_doc = export()

    def open_() -> Any:
        return open_bundle(
            bundle_doc, now=NOW, max_age=timedelta(days=7), trusted_steward=net["steward_doc"]
        )

    bundle = open_()
    issuer = net["nodes"][7]
    didkey = _key(7)
    didkey_list_url = "https://didkey-issuer.test/status/1"
    didkey_lists = {didkey_list_url: _status_list(didkey, didkey_list_url, random.Random(7))}
    rows: list[dict[str, Any]] = []
    for label, with_status in (("with status", True), ("no status", False)):
        web_cred = _credential(issuer, "https://node-7.test/status/1" if with_status else None)
        key_cred = _credential(didkey, didkey_list_url if with_status else None)
        plain_lists = didkey_lists if with_status else None
        assert bundle.verify(web_cred, now=NOW).verdict == "valid"
        plain_report = verify(key_cred, now=NOW, resolver=Resolver(), status_lists=plain_lists)
        assert plain_report.verdict == "valid", plain_report.to_dict()
        plain_times, bundle_times = [], []
        for _ in range(rounds):
            plain_times.append(
                _time(
                    lambda c=key_cred, s=plain_lists: verify(
                        c, now=NOW, resolver=Resolver(), status_lists=s
                    ),
                    seconds=seconds,
                )
            )
            bundle_times.append(
                _time(lambda c=web_cred: bundle.verify(c, now=NOW), seconds=seconds)
            )
        plain, through = statistics.median(plain_times), statistics.median(bundle_times)
        rows.append(
            {
                "case": label,
                "did:key ops/s": 1 / plain,
                "bundle ops/s": 1 / through,
                "ratio": through / plain,
            }
        )
    # Feed verification: the events of one member, as a new node checks them.
    events, prev = [], None
    for seq in range(1, 201):
        event = build_event(
            key=issuer,
            seq=seq,
            prev=prev,
            type="AchievementPublished",
            time=NOW - timedelta(days=1),
            payload={
                "achievement": {
                    "id": f"https://node-7.test/achievements/{seq}",
                    "type": ["Achievement"],
                    "name": f"Compétence n°{seq}",
                    "description": "Décrire la compétence " * 20,
                    "criteria": {"narrative": "Critères " * 30},
                }
            },
        )
        prev = event_hash(event)
        events.append(event)
    resolver = bundle.resolver

    def verify_feed() -> None:
        last = None
        for event in events:
            last = verify_event(
                event, registry=bundle.registry, resolver=resolver, now=NOW, last_seen=last
            ).cursor

    per_event = _time(verify_feed, seconds=seconds) / len(events)
    return {
        "members": members,
        "bundle_bytes": len(canonicalize(bundle_doc)),
        "build_s": _time(export, seconds=seconds),
        "open_s": _time(open_, seconds=seconds),
        "rows": rows,
        "verify_event_per_s": 1 / per_event,
        "sync_30x1000_events_s": per_event * 30_000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args()
    result = run(args.members, args.rounds, args.seconds)
    if args.json:
        print(json.dumps({"python": platform.python_version(), **result}, indent=2))
        return
    print(
        f"Offline bundle of {result['members']} members, Python {platform.python_version()}: "
        f"{result['bundle_bytes'] / 1024:,.0f} KiB; build+sign {result['build_s'] * 1000:,.1f} ms, "
        f"open {result['open_s'] * 1000:,.1f} ms"
    )
    print(f"{'case':<13}{'did:key ops/s':>15}{'bundle ops/s':>15}{'bundle/did:key':>16}")
    for row in result["rows"]:
        print(
            f"{row['case']:<13}{row['did:key ops/s']:>15,.1f}{row['bundle ops/s']:>15,.1f}"
            f"{row['ratio']:>16.3f}"
        )
    print(
        f"verify_event: {result['verify_event_per_s']:,.0f} events/s; the 30,000 events of "
        f"30 members x 1,000 achievements: {result['sync_30x1000_events_s']:,.1f} s"
    )


if __name__ == "__main__":
    main()
