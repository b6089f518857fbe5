"""Time for a new node to sync a network of 30 members with 1,000 achievements each.

Usage (from anywhere)::

    python bench/bench_federation.py [--members 30] [--achievements 1000] [--concurrency 4]
                                     [--json]

The network's members are not full nodes: a child process builds, for each member, a did:web
key, its DID document and a signed feed of ``--achievements`` ``AchievementPublished`` events
(realistic OB 3.0 achievements of about 1 KB: name, description, criteria, an ESCO alignment,
tags), and serves them from one lightweight aiohttp server per member on loopback, paging
the feed like a node does (500 events per page, cursors checked). A steward key signs the
registry that lists them all and the syncing node.

The syncing node is a real one: ``node init`` data folder (SQLite on disk, keys), the whole
application served on a loopback port, its fetcher routed to the members' servers. It is given
the registry (as when it joins), then one pull round is timed: every member's feed, page after
page, through signed requests, each page verified (every event's eddsa-jcs-2022 proof, chain and
membership) and applied atomically with its cursor, the catalogue indexed (FTS5). Printed: the
wall-clock time, events per second, and the time of a second round (nothing new), of a search,
and of exporting an offline bundle of the synced network.

The servers run in another process so that serving the feeds does not take the node's CPU.
Timings are wall-clock on this machine; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from protocol.federation import (  # noqa: E402
    Cursor,
    Member,
    build_event,
    build_registry,
    event_hash,
)
from protocol.federation.jcs import canonicalize  # noqa: E402
from protocol.keys import KeyPair  # noqa: E402

PAGE = 500
STEWARD_SEED = 7


def _key(seed: int, did: str) -> KeyPair:
    return KeyPair("Ed25519", seed.to_bytes(32, "big")).with_controller(did, f"{did}#key-1")


def _document(key: KeyPair) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": key.controller,
        "verificationMethod": [key.to_public_multikey()],
        "assertionMethod": [key.id],
        "authentication": [key.id],
    }


def _achievement(base: str, member: int, n: int) -> dict[str, Any]:
    return {
        "id": f"{base}/achievements/{n}",
        "type": ["Achievement"],
        "name": f"Compétence {n} du membre {member}",
        "description": (
            f"Atteste la maîtrise de la compétence {n}: préparer, conduire et évaluer une "
            "activité professionnelle en sécurité, en documentant chaque étape."
        ),
        "criteria": {
            "narrative": "Réussir l'évaluation pratique devant un jury de deux formateurs, "
            "après au moins trente heures de formation."
        },
        "achievementType": "Competency",
        "alignment": [
            {
                "type": ["Alignment"],
                "targetName": f"Compétence ESCO {n % 97}",
                "targetUrl": f"http://data.europa.eu/esco/skill/{n % 97:08d}",
                "targetFramework": "ESCO",
                "targetType": "ext:ESCOSkill",
            }
        ],
        "tag": ["formation continue", f"domaine {n % 13}"],
        "inLanguage": "fr",
    }


# -- the child process: members' servers ------------------------------------------------------


def _serve(members: int, achievements: int, start: str) -> None:
    """Build the members' feeds and serve them; print the ports, then serve until stdin closes."""
    from aiohttp import web

    now = datetime.fromisoformat(start)
    sockets = []
    for _ in range(members + 1):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(256)
        sock.setblocking(False)
        sockets.append(sock)
    ports = [s.getsockname()[1] for s in sockets]
    feeds: list[tuple[KeyPair, list[tuple[str, str]]]] = []
    built = time.perf_counter()
    for index, port in enumerate(ports):
        did = f"did:web:localhost%3A{port}"
        key = _key(STEWARD_SEED if index == 0 else 1000 + index, did)
        events: list[tuple[str, str]] = []
        if index:
            prev = None
            base = f"http://localhost:{port}"
            for n in range(1, achievements + 1):
                event = build_event(
                    key=key,
                    seq=n,
                    prev=prev,
                    type="AchievementPublished",
                    time=now,
                    payload={"achievement": _achievement(base, index, n)},
                )
                prev = event_hash(event)
                events.append((prev, canonicalize(event).decode("utf-8")))
        feeds.append((key, events))
    built = time.perf_counter() - built

    def app_for(key: KeyPair, events: list[tuple[str, str]]) -> web.Application:
        document = _document(key)
        source = json.dumps(key.controller)

        async def did_json(request: web.Request) -> web.Response:
            return web.json_response(document)

        async def feed(request: web.Request) -> web.Response:
            after = Cursor.parse(request.query.get("after", "0"))
            if after.seq and (after.seq > len(events) or events[after.seq - 1][0] != after.hash):
                raise web.HTTPConflict()
            limit = min(int(request.query.get("limit", PAGE)), PAGE)
            chunk = events[after.seq : after.seq + limit]
            last = after.seq + len(chunk)
            head = Cursor(len(events), events[-1][0]) if events else Cursor(0)
            following = str(Cursor(last, chunk[-1][0])) if chunk and last < head.seq else None
            text = (
                '{"type":"FederationFeedPage","source":'
                + source
                + ',"after":'
                + json.dumps(str(after))
                + ',"events":['
                + ",".join(t for _, t in chunk)
                + '],"head":'
                + json.dumps(str(head))
                + ',"next":'
                + json.dumps(following)
                + "}"
            )
            return web.Response(text=text, content_type="application/json")

        app = web.Application()
        app.router.add_get("/.well-known/did.json", did_json)
        app.router.add_get("/federation/feed", feed)
        return app

    async def main() -> None:
        runners = []
        for (key, events), sock in zip(feeds, sockets, strict=True):
            runner = web.AppRunner(app_for(key, events), access_log=None)
            await runner.setup()
            await web.SockSite(runner, sock).start()
            runners.append(runner)
        print(json.dumps({"ports": ports, "build_seconds": built}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for runner in runners:
            await runner.cleanup()

    asyncio.run(main())


# -- the parent: a real node syncing ---------------------------------------------------------


async def _sync(args: argparse.Namespace, ports: list[int], start: datetime) -> dict[str, Any]:
    from aiohttp import web

    from node.app import create_app
    from node.appkeys import SERVICES
    from node.config import NodeConfig
    from node.seed import init_node
    from protocol.federation import member_keys

    with tempfile.TemporaryDirectory() as tmp:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        port = sock.getsockname()[1]
        everyone = [*ports, port]
        config = NodeConfig(
            data_dir=Path(tmp) / "node",
            name="Nouveau membre",
            public_url=f"http://localhost:{port}",
            port=port,
            peers=tuple(f"http://localhost:{p}" for p in ports),
            extra={"federation": {"poll_interval_seconds": 3600, "concurrency": args.concurrency}},
        )
        init_node(config, now=start, samples=False)
        transport = {f"localhost:{p}": f"http://127.0.0.1:{p}" for p in everyone}
        app = create_app(config, fetcher=transport)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        try:
            services = app[SERVICES]
            service = services["federation"]
            await service.syncer.stop()  # only the timed rounds pull
            steward = _key(STEWARD_SEED, f"did:web:localhost%3A{ports[0]}")
            members = [
                Member(
                    did=f"did:web:localhost%3A{p}",
                    name=f"Membre {i}",
                    endpoint=f"http://localhost:{p}/",
                    feed=f"http://localhost:{p}/federation/feed",
                    member_from=start - timedelta(days=30),
                    keys=(_key(1000 + i, f"did:web:localhost%3A{p}").public.multibase,),
                )
                for i, p in enumerate(ports[1:], start=1)
            ]
            members.append(
                Member(
                    did=service.did,
                    name="Nouveau membre",
                    endpoint=service.endpoint,
                    feed=service.feed_url,
                    member_from=start - timedelta(days=1),
                    keys=member_keys(services["identity"].did_document()),
                )
            )
            registry = build_registry(
                network=f"http://localhost:{ports[0]}/federation/network",
                name="Réseau de mesure",
                members=members,
                steward_key=steward,
                created=start - timedelta(days=1),
            )
            await service.adopt_registry(registry, steward=steward.controller, membership=None)

            began = time.perf_counter()
            pulled = await service.syncer.round()
            first = time.perf_counter() - began
            events = sum(pulled.values())
            catalogue = service.store.catalogue_count()

            began = time.perf_counter()
            again = await service.syncer.round()
            second = time.perf_counter() - began

            began = time.perf_counter()
            found = service.search(q="compétence 42", skill="ESCO", lang="fr")
            search = time.perf_counter() - began

            began = time.perf_counter()
            bundle = service.bundle()
            bundle_seconds = time.perf_counter() - began
            db_bytes = sum(
                f.stat().st_size for f in config.data_dir.iterdir() if f.name.startswith("node.db")
            )
            rejected = service.store.rejections()
        finally:
            await runner.cleanup()
        return {
            "members": len(ports) - 1,
            "achievements_per_member": args.achievements,
            "events_pulled": events,
            "catalogue_items": catalogue,
            "rejections": len(rejected),
            "first_sync_seconds": round(first, 3),
            "events_per_second": round(events / first, 1) if first else None,
            "second_round_seconds": round(second, 4),
            "second_round_events": sum(again.values()),
            "search_ms": round(search * 1000, 2),
            "search_hits": found["total"],
            "bundle_export_ms": round(bundle_seconds * 1000, 1),
            "bundle_did_documents": len(bundle["didDocuments"]),
            "database_mib": round(db_bytes / 2**20, 1),
            "concurrency": args.concurrency,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=30)
    parser.add_argument("--achievements", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="sources pulled at once")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.members, args.achievements, args.start)
        return 0
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            "--members",
            str(args.members),
            "--achievements",
            str(args.achievements),
            "--start",
            start.isoformat(),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        ready = json.loads(child.stdout.readline())
        result = asyncio.run(_sync(args, ready["ports"], start))
        result["feeds_build_seconds"] = round(ready["build_seconds"], 2)
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=60)
    result["python"] = platform.python_version()
    result["machine"] = platform.machine()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"new node syncing {result['members']} members x {result['achievements_per_member']} "
        f"achievements ({result['events_pulled']} events, {args.concurrency} sources at once)"
    )
    print(f"  first sync             {result['first_sync_seconds']:>9.2f} s")
    print(f"  events applied per s   {result['events_per_second']:>9.0f}")
    print(f"  catalogue items        {result['catalogue_items']:>9}")
    print(f"  refused                {result['rejections']:>9}")
    print(f"  second round (no news) {result['second_round_seconds'] * 1000:>9.1f} ms")
    print(f"  search (text+skill+lang){result['search_ms']:>8.1f} ms, {result['search_hits']} hits")
    print(
        f"  bundle export          {result['bundle_export_ms']:>9.1f} ms, "
        f"{result['bundle_did_documents']} DID documents"
    )
    print(f"  database               {result['database_mib']:>9.1f} MiB")
    print(f"  (building the feeds took {result['feeds_build_seconds']} s in the servers' process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
