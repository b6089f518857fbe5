"""ecdsa-sd-2023 base sign, derive and verify-derived: Passeport (in-process) against the JS stack.

Usage (from anywhere; the JS columns need ``npm install --no-audit --no-fund --prefix
tests/interop/js``)::

    python bench/bench_sd.py [--seconds 3] [--min-iterations 50] [--json] [--no-js]

The credential is ``bench/data/ob3-realistic.json`` with a fresh did:key P-256 issuer. The
issuer uses the Open Badges disclosure profile's mandatory pointers
(``protocol.ob.disclosure.mandatory_pointers``); the holder reveals the result and nothing else
optional (``/credentialSubject/result/0``). Rows:

* ``sign base``: add the base proof (``sign_base`` / ``signSd``);
* ``derive``: derive the disclosure from the same base proof (``derive`` / ``derive``);
* ``verify derived``: the derived proof alone (``protocol.di.verify_proofs`` / ``jsigs.verify``
  with an assertion purpose), the like-for-like comparison;
* ``derive + verify``: the holder's and the verifier's work together, from the two rows above
  (ops/s = 1 / (1/derive + 1/verify)).

Before timing, the two stacks check each other: the JS stack derives from Passeport's base
proof (the result must equal Passeport's derived credential byte for byte) and verifies
Passeport's derived credential as a credential; Passeport checks the JS base proof
(``verify_base``), derives from it and verifies the JS-derived credential.

Each measurement runs 10 warm-up iterations, then loops until it has done at least
``--min-iterations`` and spent at least ``--seconds``; the JS side loops inside Node (the
``bench`` command of ``tests/interop/js/dbstack.mjs``). The ratio is Passeport ops/s divided by
JS ops/s (above 1: Passeport is faster). Timings are printed, never asserted.
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

from protocol.di import verify_proofs  # noqa: E402
from protocol.di.ecdsa_sd_2023 import derive, sign_base, verify_base  # noqa: E402
from protocol.did import Resolver, key_pair_as_did_key  # noqa: E402
from protocol.keys import generate  # noqa: E402
from protocol.ob import validate  # noqa: E402
from protocol.ob.disclosure import mandatory_pointers  # noqa: E402
from tests.interop.dbstack_client import (  # noqa: E402
    INSTALL_HINT,
    DbStack,
    DbStackError,
    missing_requirements,
)

DATA = ROOT / "bench" / "data" / "ob3-realistic.json"
CREATED = "2025-03-14T10:00:00Z"
NOW = "2025-06-01T00:00:00Z"
SELECTIVE = ["/credentialSubject/result/0"]
WARMUP = 10


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


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
        timeout=seconds * 40 + 300,
        **args,
    )
    return {k: float(result[k]) for k in ("iterations", "seconds", "opsPerSecond")}


def _verified(document: dict[str, Any], resolver: Resolver, now: datetime) -> bool:
    results = verify_proofs(document, resolver=resolver, now=now)
    return len(results) == 1 and results[0].verified


def _combined(derive_row: dict[str, float], verify_row: dict[str, float]) -> dict[str, float]:
    seconds = 1 / derive_row["opsPerSecond"] + 1 / verify_row["opsPerSecond"]
    return {"secondsPerOp": seconds, "opsPerSecond": 1 / seconds}


def run(seconds: float, min_iterations: int, with_js: bool) -> dict[str, Any]:
    """Cross-check both stacks, then measure every row."""
    key = key_pair_as_did_key(generate("P-256"))
    credential = json.loads(DATA.read_text("utf-8"))
    credential["issuer"]["id"] = key.controller
    created, now = _parse(CREATED), _parse(NOW)
    mandatory = mandatory_pointers(credential)
    resolver = Resolver()

    base = sign_base(credential, key=key, created=created, mandatory_pointers=mandatory)
    verify_base(base, resolver=resolver)
    derived = derive(base, selective_pointers=SELECTIVE)
    if not _verified(derived, resolver, now) or validate(derived):
        raise SystemExit("Passeport does not verify (or validate) its own derived credential")

    rows: dict[str, dict[str, dict[str, float]]] = {
        "sign base": {
            "passeport": _time_loop(
                lambda: sign_base(
                    credential, key=key, created=created, mandatory_pointers=mandatory
                ),
                seconds=seconds,
                min_iterations=min_iterations,
            )
        },
        "derive": {
            "passeport": _time_loop(
                lambda: derive(base, selective_pointers=SELECTIVE),
                seconds=seconds,
                min_iterations=min_iterations,
            )
        },
        "verify derived": {
            "passeport": _time_loop(
                lambda: verify_proofs(derived, resolver=resolver, now=now),
                seconds=seconds,
                min_iterations=min_iterations,
            )
        },
    }
    results: dict[str, Any] = {
        "credential": str(DATA.relative_to(ROOT)),
        "mandatoryPointers": mandatory,
        "selectivePointers": SELECTIVE,
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}",
        "rows": rows,
        "js": None,
    }
    if with_js:
        with DbStack() as stack:
            key_file = key.to_key_file()
            sign_args = {
                "credential": credential,
                "keyFile": key_file,
                "mandatoryPointers": mandatory,
                "created": CREATED,
            }
            js_base = stack.call("signSd", **sign_args)["signed"]
            js_from_ours = stack.call("derive", credential=base, selectivePointers=SELECTIVE)
            js_check = stack.call("verifySd", credential=derived, now=NOW)
            verify_base(js_base, resolver=resolver)
            js_derived = stack.call("derive", credential=js_base, selectivePointers=SELECTIVE)
            checks = {
                "jsDerivesPasseportBaseIdentically": js_from_ours["derived"] == derived,
                "jsVerifiesPasseportDerived": bool(js_check["verified"]),
                "passeportVerifiesJsBase": True,  # verify_base raised otherwise
                "passeportVerifiesJsDerived": _verified(js_derived["derived"], resolver, now),
                "passeportDerivesFromJsBase": _verified(
                    derive(js_base, selective_pointers=SELECTIVE), resolver, now
                ),
            }
            if not all(checks.values()):
                raise SystemExit(f"the two stacks disagree: {checks} {js_check}")

            def js_row(op: str, **args: Any) -> dict[str, float]:
                return _js_bench(stack, op, seconds=seconds, min_iterations=min_iterations, **args)

            rows["sign base"]["js"] = js_row("signSd", **sign_args)
            rows["derive"]["js"] = js_row("derive", credential=base, selectivePointers=SELECTIVE)
            rows["verify derived"]["js"] = js_row(
                "verifySd", credential=derived, purpose="assertionMethod"
            )
            results["js"] = stack.info
            results["checks"] = checks
    rows["derive + verify"] = {
        side: _combined(rows["derive"][side], rows["verify derived"][side])
        for side in rows["derive"]
    }
    return results


def print_table(results: dict[str, Any]) -> None:
    """The human-readable report."""
    print(f"credential: {results['credential']}")
    print(f"mandatory pointers: {', '.join(results['mandatoryPointers'])}")
    print(f"selective pointers: {', '.join(results['selectivePointers'])}")
    js = results["js"]
    line = f"Python {results['python']}, {results['machine']}"
    if js is not None:
        versions = js["versions"]
        line += (
            f"; Node {js['node']}, ecdsa-sd-2023-cryptosuite "
            f"{versions.get('@digitalbazaar/ecdsa-sd-2023-cryptosuite')}, "
            f"jsonld {versions.get('jsonld')}, rdf-canonize {versions.get('rdf-canonize')}"
        )
        print(line)
        print("cross-checks: " + ", ".join(f"{k} ok" for k in results["checks"]))
    else:
        print(line)
    print()
    header = f"{'operation':<17}{'Passeport ops/s':>17}{'JS ops/s':>12}{'Passeport/JS':>15}"
    print(header)
    print("-" * len(header))
    for name, row in results["rows"].items():
        ours = row["passeport"]["opsPerSecond"]
        if "js" in row:
            theirs = row["js"]["opsPerSecond"]
            print(f"{name:<17}{ours:>17.1f}{theirs:>12.1f}{ours / theirs:>15.2f}")
        else:
            print(f"{name:<17}{ours:>17.1f}{'-':>12}{'-':>15}")
    combined = results["rows"]["derive + verify"]
    if "js" in combined:
        share = combined["passeport"]["secondsPerOp"] / combined["js"]["secondsPerOp"]
        print()
        print(
            f"derive + verify: Passeport takes {share:.2f} of the JS stack's time "
            f"({combined['passeport']['secondsPerOp'] * 1000:.2f} ms against "
            f"{combined['js']['secondsPerOp'] * 1000:.2f} ms; the goal is at most 0.50)"
        )


def main(argv: list[str] | None = None) -> int:
    """Parse options, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum time per measurement")
    parser.add_argument("--min-iterations", type=int, default=50, help="minimum iterations")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--no-js", action="store_true", help="Passeport only")
    args = parser.parse_args(argv)
    with_js = not args.no_js
    if with_js:
        problems = missing_requirements()
        if problems:
            print("; ".join(problems) + f"\n{INSTALL_HINT}", file=sys.stderr)
            return 2
    try:
        results = run(args.seconds, args.min_iterations, with_js)
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
