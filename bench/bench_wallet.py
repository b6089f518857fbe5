"""The wallet with 10,000 credentials: open (key derivation apart), list, search, save.

Usage (from anywhere)::

    python bench/bench_wallet.py [--count 10000] [--repeat 20] [--json]

The credentials are variations of ``bench/data/ob3-realistic.json`` (an OB 3.0 badge of about
3.7 KB with two ESCO alignments, a rubric, evidence and a status entry): each gets its own id,
issuer (one of 40), achievement name (from a list of skills), dates and one or two alignments,
then is signed once by its issuer's did:key (eddsa-rdfc-2022) and verified, and the real report
is stored with it. Signing and verifying 10,000 credentials would take minutes, so a pool of
signed credentials per issuer is reused with new ids after the first 200 (the stored bytes, the
summaries and the reports stay realistic; the signatures of the copies are not checked here).

Rows:

* ``kdf``: Argon2id with the default parameters (interactive: 2 passes, 64 MiB), reported
  apart, as the open target excludes it;
* ``open (after kdf)``: decrypt, inflate, read the meta JSON, build the search index;
* ``list``: every credential as a display row;
* ``search ...``: text words, a skill (ESCO URI), an issuer, a date range, a status, combined;
* ``show``: one credential parsed and its report read;
* ``save``: the whole wallet re-encrypted and written atomically (unchanged segments are
  written back as they are, the index is re-serialised);
* ``add 1 + save``: what importing one more credential costs.

Targets (issue 5): open under 1 s after key derivation, search under 50 ms. Timings are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from protocol.di import sign  # noqa: E402
from protocol.did import key_pair_as_did_key  # noqa: E402
from protocol.keys import KeyPair, generate  # noqa: E402
from protocol.verify import verify  # noqa: E402
from wallet.organise import Query  # noqa: E402
from wallet.sealing import DEFAULT_KDF  # noqa: E402
from wallet.store import Wallet  # noqa: E402

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
SKILLS = [
    ("travailler en équipe", "b6e4f3b4-41d6-4b0e-9c5b-1c7c8c0f7a1d"),
    ("coordonner des activités", "a6b4b8b1-2f0b-4d7c-8b2f-0d8b8a1c6e22"),
    ("utiliser Python", "ccd0a1d9-afda-43d9-b901-96344886e14d"),
    ("gérer une base de données", "0e5a1b3c-7d4f-4b2a-9c8e-5f6a7b8c9d01"),
    ("souder des métaux", "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b"),
    ("accueillir le public", "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d"),
    ("rédiger des rapports", "3b4c5d6e-7f8a-4b9c-8d0e-1f2a3b4c5d6e"),
    ("parler anglais", "4c5d6e7f-8a9b-4c0d-9e1f-2a3b4c5d6e7f"),
    ("premiers secours", "5d6e7f8a-9b0c-4d1e-8f2a-3b4c5d6e7f8a"),
    ("gestion de projet", "6e7f8a9b-0c1d-4e2f-9a3b-4c5d6e7f8a9b"),
    ("cuisine collective", "7f8a9b0c-1d2e-4f3a-8b4c-5d6e7f8a9b0c"),
    ("menuiserie", "8a9b0c1d-2e3f-4a4b-9c5d-6e7f8a9b0c1d"),
]
LEVELS = ["débutant", "intermédiaire", "avancé", "expert"]


def _esco(code: str) -> str:
    return f"http://data.europa.eu/esco/skill/{code}"


def _variant(
    template: dict[str, Any], rng: random.Random, issuer: KeyPair, n: int
) -> dict[str, Any]:
    doc = copy.deepcopy(template)
    doc.pop("proof", None)
    skill, code = SKILLS[n % len(SKILLS)]
    level = LEVELS[(n // len(SKILLS)) % len(LEVELS)]
    doc["id"] = f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
    doc["name"] = f"{skill} -- niveau {level}"
    doc["issuer"]["id"] = issuer.controller
    doc["issuer"]["name"] = f"Organisme {n % 40:02d}"
    start = NOW - timedelta(days=rng.randint(1, 3000))
    doc["validFrom"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    achievement = doc["credentialSubject"]["achievement"]
    achievement["id"] = f"https://org{n % 40:02d}.example/achievements/{code}/{level}"
    achievement["name"] = skill.capitalize()
    achievement["alignment"] = [
        {
            "type": ["Alignment"],
            "targetName": skill,
            "targetUrl": _esco(code),
            "targetFramework": "ESCO",
        }
    ]
    if n % 3 == 0:
        other, other_code = SKILLS[(n + 5) % len(SKILLS)]
        achievement["alignment"].append(
            {"type": ["Alignment"], "targetName": other, "targetUrl": _esco(other_code)}
        )
    doc.pop("credentialStatus", None)  # offline: a status entry would only add an unknown check
    return doc


def build(path: Path, count: int) -> dict[str, float]:
    """Create the wallet with ``count`` credentials; return how long each phase took."""
    template = json.loads((ROOT / "bench/data/ob3-realistic.json").read_text("utf-8"))
    rng = random.Random(5)
    issuers = [key_pair_as_did_key(generate("Ed25519")) for _ in range(40)]
    timings: dict[str, float] = {}
    started = time.perf_counter()
    pool: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for n in range(min(200, count)):
        issuer = issuers[n % 40]
        unsigned = _variant(template, rng, issuer, n)
        signed = sign(unsigned, key=issuer, created=NOW - timedelta(days=3000))
        pool.append((signed, verify(signed, now=NOW).to_dict()))
    timings["sign+verify 200"] = time.perf_counter() - started
    wallet = Wallet.create(path, "bench passphrase", kdf=DEFAULT_KDF, now=NOW)
    started = time.perf_counter()
    for n in range(count):
        signed, report = pool[n % len(pool)]
        if n >= len(pool):
            signed = dict(signed, id=f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}")
            report = dict(report, id=signed["id"])
        wallet.add_credential(signed, source="bench", verification=report, now=NOW)
    timings[f"add {count}"] = time.perf_counter() - started
    started = time.perf_counter()
    wallet.save()
    timings["first save"] = time.perf_counter() - started
    wallet.close()
    return timings


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times)


def run(count: int, repeat: int) -> dict[str, Any]:
    results: dict[str, Any] = {"count": count, "python": platform.python_version()}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.ppw"
        results["build"] = build(path, count)
        results["file bytes"] = path.stat().st_size
        opens = []
        kdfs = []
        for _ in range(max(3, repeat // 4)):
            wallet = Wallet.open(path, "bench passphrase")
            kdfs.append(wallet.open_timings["kdf"])
            opens.append(wallet.open_timings["decrypt"] + wallet.open_timings["load"])
            wallet.close()
        rows: dict[str, tuple[float, float]] = {
            "kdf": (min(kdfs), statistics.median(kdfs)),
            "open (after kdf)": (min(opens), statistics.median(opens)),
        }
        wallet = Wallet.open(path, "bench passphrase")
        assert len(wallet) == count

        def listing() -> None:
            for record in wallet.credentials():
                _ = (record.local_id[:8], record.status, record.summary.get("issued"), record.name)

        queries = {
            "search text": Query(text="python avancé"),
            "search skill (ESCO URI)": Query(skill=_esco(SKILLS[2][1])),
            "search skill name": Query(skill="anglais"),
            "search issuer": Query(issuer="organisme 07"),
            "search date range": Query(
                since=NOW - timedelta(days=400), until=NOW - timedelta(days=100)
            ),
            "search status": Query(status="valid"),
            "search combined": Query(
                text="niveau", skill="équipe", since=NOW - timedelta(days=2000)
            ),
        }
        rows["list"] = _best(listing, repeat)
        hits: dict[str, int] = {}
        for label, query in queries.items():
            hits[label] = len(wallet.search(query, now=NOW))
            rows[label] = _best(lambda q=query: wallet.search(q, now=NOW), repeat)
        some = wallet.credentials()[count // 2].local_id

        def show() -> None:
            record = wallet.get(some[:8])
            record._document = None  # force the parse, as a fresh open would
            record._report = None
            _ = (record.document["name"], record.verification.get("verdict"))

        rows["show"] = _best(show, repeat)
        rows["save"] = _best(wallet.save, max(3, repeat // 4))
        template = wallet.credentials()[0].document
        counter = iter(range(10**9))

        def add_one() -> None:
            new = dict(template, id=f"urn:example:added:{next(counter)}")
            wallet.add_credential(new, source="bench", verification={"verdict": "unknown"})
            wallet.save()

        rows["add 1 + save"] = _best(add_one, max(3, repeat // 4))
        wallet.close()
        results["rows"] = {k: {"best": v[0], "median": v[1]} for k, v in rows.items()}
        results["hits"] = hits
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = run(args.count, args.repeat)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"wallet with {results['count']} credentials, file {results['file bytes'] / 1e6:.1f} MB "
        f"(Python {results['python']})"
    )
    for label, seconds in results["build"].items():
        print(f"  build: {label:<24} {seconds:8.2f} s")
    targets = {"open (after kdf)": 1.0}
    print(f"  {'row':<28} {'best':>10} {'median':>10}   target")
    for label, row in results["rows"].items():
        target = targets.get(label, 0.050 if label.startswith("search") else None)
        mark = ""
        if target is not None:
            mark = f"< {target * 1000:.0f} ms " + ("ok" if row["median"] < target else "MISSED")
        extra = f"  ({results['hits'][label]} hits)" if label in results["hits"] else ""
        print(
            f"  {label:<28} {row['best'] * 1000:8.1f} ms {row['median'] * 1000:7.1f} ms   "
            f"{mark}{extra}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
