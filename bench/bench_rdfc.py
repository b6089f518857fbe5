"""RDFC-1.0 canonicalisation: ``protocol.rdfc`` against pyld's URDNA2015 (``jsonld.normalize``).

Usage (from anywhere)::

    python bench/bench_rdfc.py [--seconds 1] [--min-iterations 20] [--json]

Datasets:

* the canonical forms of the W3C vc-di-eddsa vectors (``canonDocDataInt.txt`` and
  ``proofCanonDataInt.txt``, plain and ``employ/``);
* the OB 3.0 examples ``bench/data/ob3-realistic.json`` and
  ``tests/vectors/ob3-examples/complete.json``, turned into N-Quads by pyld ``to_rdf`` with the
  offline loader of ``protocol.jsonld.loader.default_loader()`` (no extra context needed);
* ``rdf-canon`` test044 ("poison - evil (1)", computable within the limits): the Hash N-Degree
  Quads path, which the other datasets barely touch.

Columns (operations per second, best of three runs of at least ``--seconds`` each):

* ``ours``: ``canonicalize(quads)`` on already-parsed quads (what the signing path does);
* ``ours+parse``: ``canonicalize(parse_nquads(text))``, N-Quads text in, like pyld below;
* ``pyld``: ``jsonld.normalize(text, algorithm=URDNA2015, inputFormat/format=application/n-quads)``.

``ratio`` is ``ours+parse`` over ``pyld`` (above 1: ours is faster). On small inputs
``ours+parse`` is mostly ``protocol.rdf.parse_nquads``; the signing path never parses N-Quads, so
``ours`` is the figure that matters there. Both outputs are checked to be identical before
timing. Timings are wall-clock on this machine; printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pyld import jsonld  # noqa: E402

from protocol.jsonld.loader import default_loader  # noqa: E402
from protocol.rdf import parse_nquads  # noqa: E402
from protocol.rdfc import canonicalize  # noqa: E402

VECTORS = ROOT / "tests" / "vectors"
PYLD_OPTIONS = {
    "algorithm": "URDNA2015",
    "inputFormat": "application/n-quads",
    "format": "application/n-quads",
}


def _datasets() -> list[tuple[str, str]]:
    """(name, N-Quads text) of every benchmarked dataset."""
    eddsa = VECTORS / "vc-di-eddsa" / "eddsa-rdfc-2022"
    found = [
        ("eddsa canonDoc", (eddsa / "canonDocDataInt.txt").read_text("utf-8")),
        ("eddsa proofCanon", (eddsa / "proofCanonDataInt.txt").read_text("utf-8")),
        ("eddsa employ canonDoc", (eddsa / "employ" / "canonDocDataInt.txt").read_text("utf-8")),
    ]
    loader = default_loader()
    for name, path in (
        ("ob3-realistic.json", ROOT / "bench" / "data" / "ob3-realistic.json"),
        ("ob3 complete.json", VECTORS / "ob3-examples" / "complete.json"),
    ):
        document = json.loads(path.read_text("utf-8"))
        text = jsonld.to_rdf(document, {"format": "application/n-quads", "documentLoader": loader})
        found.append((name, str(text)))
    poison = VECTORS / "rdf-canon" / "rdfc10" / "test044-in.nq"
    found.append(("rdf-canon test044 (N-degree)", poison.read_text("utf-8")))
    return found


def _ours_from_text(text: str) -> str:
    return canonicalize(parse_nquads(text)).nquads


def _pyld(text: str) -> str:
    return str(jsonld.normalize(text, dict(PYLD_OPTIONS)))


def _ops_per_second(work: Callable[[], object], seconds: float, min_iterations: int) -> float:
    """Best of three timed loops, each of at least ``seconds`` and ``min_iterations``."""
    work()  # warm-up
    best = 0.0
    for _ in range(3):
        count = 0
        start = time.perf_counter()
        while True:
            work()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds and count >= min_iterations:
                break
        best = max(best, count / elapsed)
    return best


def run(seconds: float, min_iterations: int) -> dict[str, Any]:
    """Time every dataset; returns a JSON-able report."""
    rows = []
    for name, text in _datasets():
        quads = parse_nquads(text)
        ours = canonicalize(quads)
        if _pyld(text) != ours.nquads:
            raise SystemExit(f"{name}: pyld and protocol.rdfc disagree; not timing")
        rows.append(
            {
                "dataset": name,
                "quads": len(ours.quads),
                "blank_nodes": len(ours.issued),
                "ours": _ops_per_second(partial(canonicalize, quads), seconds, min_iterations),
                "ours_parse": _ops_per_second(
                    partial(_ours_from_text, text), seconds, min_iterations
                ),
                "pyld": _ops_per_second(partial(_pyld, text), seconds, min_iterations),
            }
        )
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "rows": rows,
    }


def print_table(results: dict[str, Any]) -> None:
    """Print the report as a table."""
    print(f"Python {results['python']} on {results['machine']}; ops/s, higher is better")
    header = (
        f"{'dataset':<30}{'quads':>6}{'bnodes':>7}{'ours':>11}{'ours+parse':>12}"
        f"{'pyld':>9}{'ratio':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in results["rows"]:
        print(
            f"{row['dataset']:<30}{row['quads']:>6}{row['blank_nodes']:>7}"
            f"{row['ours']:>11.0f}{row['ours_parse']:>12.0f}{row['pyld']:>9.0f}"
            f"{row['ours_parse'] / row['pyld']:>8.1f}"
        )
    print()
    print("ratio = ours+parse / pyld (both read N-Quads text); outputs checked identical first.")


def main(argv: list[str] | None = None) -> int:
    """Parse options, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum seconds per loop")
    parser.add_argument("--min-iterations", type=int, default=20, help="minimum loop count")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    results = run(args.seconds, args.min_iterations)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
