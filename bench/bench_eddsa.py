"""eddsa-rdfc-2022 sign and verify: Passeport (Python, in-process) against the JS reference stack.

Usage (from anywhere; needs ``npm install --no-audit --no-fund --prefix tests/interop/js``)::

    python bench/bench_eddsa.py [--seconds 3] [--min-iterations 50] [--json]

Both sides work on the same credential (``bench/data/ob3-realistic.json``, about 60 N-Quads),
the same key and the same ``created``; both verifiers check the same signed bytes (the one
Passeport signed; the JS signature is checked to be identical first). Each side runs an
in-process loop after a warm-up: Passeport here, the JS stack inside Node through the generic
``bench`` command of ``tests/interop/js/dbstack.mjs``. Rows:

* ``sign``: add an eddsa-rdfc-2022 proof (canonicalize, hash, sign).
* ``verify``: the full credential check of each side. Passeport: schema, JSON-LD, proof, issuer
  key, validity, status (reported ``unknown`` here: no status list offline). JS:
  ``vc.verifyCredential`` (data model, proof, issuer = key controller; status not checked).
* ``verify proof``: the proof alone (``protocol.di.verify_proofs`` / ``jsigs.verify`` with an
  assertion purpose), the like-for-like comparison.

The ratio is Passeport ops/s divided by JS ops/s (above 1: Passeport is faster). Timings are
wall-clock on this machine; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.interop.dbstack_client import (  # noqa: E402
    INSTALL_HINT,
    DbStack,
    DbStackError,
    missing_requirements,
)

DATA = ROOT / "bench" / "data" / "ob3-realistic.json"
CREATED = "2025-03-14T10:00:00Z"
NOW = "2025-06-01T00:00:00Z"
WARMUP = 10


def _time_loop(
    operation: Callable[[], object], *, seconds: float, min_iterations: int
) -> dict[str, float]:
    """Run ``operation`` WARMUP times, then until both limits are reached; return ops/s."""
    for _ in range(WARMUP):
        operation()
    count = 0
    start = time.perf_counter()
    elapsed = 0.0
    while count < min_iterations or elapsed < seconds:
        operation()
        count += 1
        elapsed = time.perf_counter() - start
    return {"iterations": count, "seconds": elapsed, "opsPerSecond": count / elapsed}


def _js_bench(
    stack: DbStack, op: str, *, seconds: float, min_iterations: int, **args: Any
) -> dict[str, float]:
    """The JS side's own in-process loop (``bench`` command, same warm-up and limits)."""
    result = stack.call(
        "bench",
        op=op,
        iterations=min_iterations,
        minSeconds=seconds,
        warmup=WARMUP,
        timeout=seconds * 20 + 120,
        **args,
    )
    return {k: float(result[k]) for k in ("iterations", "seconds", "opsPerSecond")}


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _proof(document: dict[str, Any]) -> dict[str, Any]:
    """The single proof, written as an object (JS) or a one-element array (OB 3.0 arrays)."""
    proof = document["proof"]
    return proof[0] if isinstance(proof, list) else proof


def run(seconds: float, min_iterations: int) -> dict[str, Any]:
    """Measure every row; return the results and the context of the run."""
    from protocol.di import sign, verify_proofs
    from protocol.did import Resolver, key_pair_as_did_key
    from protocol.keys import generate
    from protocol.verify import verify

    key = key_pair_as_did_key(generate("Ed25519"))
    credential = json.loads(DATA.read_text("utf-8"))
    credential["issuer"]["id"] = key.controller
    created, now = _parse(CREATED), _parse(NOW)
    key_file = key.to_key_file()

    with DbStack() as stack:
        nquads = stack.call("canonize", document=credential)["nquads"].count("\n")
        ours = sign(credential, key=key, created=created)
        theirs = stack.sign(credential, key_file, created=CREATED)
        same = _proof(ours)["proofValue"] == _proof(theirs)["proofValue"]

        report = verify(ours, now=now)
        proof_ok = [c for c in report.checks if c.check.startswith("proof")]
        if not proof_ok or any(c.status != "pass" for c in proof_ok):
            raise SystemExit(f"Passeport does not verify its own proof: {report.errors}")
        js_check = stack.verify(ours, now=NOW)
        if not js_check["verified"]:
            raise SystemExit(f"the JS stack does not verify Passeport's proof: {js_check}")

        resolver = Resolver()
        rows: dict[str, dict[str, dict[str, float]]] = {}
        rows["sign"] = {
            "passeport": _time_loop(
                lambda: sign(credential, key=key, created=created),
                seconds=seconds,
                min_iterations=min_iterations,
            ),
            "js": _js_bench(
                stack,
                "sign",
                seconds=seconds,
                min_iterations=min_iterations,
                credential=credential,
                keyFile=key_file,
                created=CREATED,
            ),
        }
        rows["verify"] = {
            "passeport": _time_loop(
                lambda: verify(ours, now=now), seconds=seconds, min_iterations=min_iterations
            ),
            "js": _js_bench(
                stack,
                "verify",
                seconds=seconds,
                min_iterations=min_iterations,
                credential=ours,
                now=NOW,
            ),
        }
        rows["verify proof"] = {
            "passeport": _time_loop(
                lambda: verify_proofs(
                    ours,
                    resolver=resolver,
                    now=now,
                    expected_purpose="assertionMethod",
                    challenge=None,
                    domain=None,
                ),
                seconds=seconds,
                min_iterations=min_iterations,
            ),
            "js": _js_bench(
                stack,
                "verify",
                seconds=seconds,
                min_iterations=min_iterations,
                credential=ours,
                purpose="assertionMethod",
            ),
        }
        info = stack.info

    return {
        "credential": str(DATA.relative_to(ROOT)),
        "nquads": nquads,
        "sameProofValue": same,
        "passeportStatusCheck": next(
            (c.status for c in report.checks if c.check == "status"), None
        ),
        "python": platform.python_version(),
        "node": info["node"],
        "js": info["versions"],
        "machine": f"{platform.system()} {platform.machine()}",
        "rows": rows,
    }


def print_table(results: dict[str, Any]) -> None:
    """The human-readable report."""
    print(f"credential: {results['credential']} ({results['nquads']} N-Quads)")
    print(
        f"Python {results['python']}, Node {results['node']}, {results['machine']}; "
        f"@digitalbazaar/vc {results['js'].get('@digitalbazaar/vc')}, "
        f"jsonld {results['js'].get('jsonld')}, rdf-canonize {results['js'].get('rdf-canonize')}"
    )
    same = "yes" if results["sameProofValue"] else "NO (signatures differ: see tests/interop)"
    print(f"same proofValue on both sides: {same}")
    print()
    header = f"{'operation':<14}{'Passeport ops/s':>17}{'JS ops/s':>12}{'Passeport/JS':>15}"
    print(header)
    print("-" * len(header))
    for name, row in results["rows"].items():
        ours, theirs = row["passeport"]["opsPerSecond"], row["js"]["opsPerSecond"]
        print(f"{name:<14}{ours:>17.1f}{theirs:>12.1f}{ours / theirs:>15.2f}")
    print()
    print(
        "verify = each side's full credential check (Passeport's status check ends "
        f"'{results['passeportStatusCheck']}' offline); verify proof = the proof alone."
    )


def main(argv: list[str] | None = None) -> int:
    """Parse options, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum time per measurement")
    parser.add_argument("--min-iterations", type=int, default=50, help="minimum iterations")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    problems = missing_requirements()
    if problems:
        print("; ".join(problems) + f"\n{INSTALL_HINT}", file=sys.stderr)
        return 2
    try:
        results = run(args.seconds, args.min_iterations)
    except DbStackError as exc:
        print(f"JS stack error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
