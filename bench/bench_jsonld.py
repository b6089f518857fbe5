"""JSON-LD to RDF: ``protocol.jsonld.canonicalize.to_dataset`` against pyld ``to_rdf``.

Usage (from anywhere)::

    python bench/bench_jsonld.py [--seconds 1] [--min-iterations 20] [--json]

Documents: ``tests/vectors/ob3-examples/simple.json`` (22 quads),
``tests/vectors/ob3-examples/complete.json`` (363 quads, embedded endorsements with their own
contexts) and ``bench/data/ob3-realistic.json``, all with the packaged offline loader.

Columns (operations per second, best of three runs of at least ``--seconds`` each):

* ``ours``: ``to_dataset(document, loader=...)`` from the second call on: the contexts are
  processed once per loader and memoised, which is the steady state of a node;
* ``ours cold``: the first call on a fresh loader (every context processed), timed once;
* ``pyld``: ``jsonld.to_rdf(document, documentLoader=..., base=None)`` (pyld processes the
  contexts again on every call: the loader sets no ``tag``);
* ``ratio``: ``ours`` over ``pyld`` (above 1: ours is faster).

A second table times the whole canonicalisation: ``canonicalize`` (to_dataset + RDFC-1.0)
against pyld ``normalize`` (URDNA2015, N-Quads out). Both datasets and both canonical forms
are checked to be identical before timing. Timings are wall-clock on this machine; printed,
never asserted.
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

from protocol.jsonld.canonicalize import canonicalize, to_dataset  # noqa: E402
from protocol.jsonld.loader import StaticDocumentLoader, default_loader  # noqa: E402
from protocol.rdf import RDF_LANGSTRING, XSD_STRING, Quad, literal  # noqa: E402

VECTORS = ROOT / "tests" / "vectors"
DOCUMENTS = (
    ("ob3 simple.json", VECTORS / "ob3-examples" / "simple.json"),
    ("ob3 complete.json", VECTORS / "ob3-examples" / "complete.json"),
    ("ob3-realistic.json", ROOT / "bench" / "data" / "ob3-realistic.json"),
)


def _pyld_to_rdf(document: Any, loader: StaticDocumentLoader) -> Any:
    return jsonld.to_rdf(document, {"documentLoader": loader, "base": None})


def _pyld_normalize(document: Any, loader: StaticDocumentLoader) -> str:
    options = {
        "algorithm": "URDNA2015",
        "format": "application/n-quads",
        "documentLoader": loader,
        "base": None,
    }
    return str(jsonld.normalize(document, options))


def _as_quads(dataset: Any) -> set[Quad]:
    """pyld's dataset as our quads, blank node labels and all."""
    quads: set[Quad] = set()
    for graph_name, triples in dataset.items():
        graph = "" if graph_name == "@default" else graph_name
        for triple in triples:
            obj = triple["object"]
            if obj["type"] != "literal":
                term = obj["value"]
            elif "language" in obj:
                term = literal(obj["value"], RDF_LANGSTRING, obj["language"])
            else:
                term = literal(obj["value"], obj.get("datatype") or XSD_STRING)
            quads.add((triple["subject"]["value"], triple["predicate"]["value"], term, graph))
    return quads


def _ops_per_second(work: Callable[[], object], seconds: float, min_iterations: int) -> float:
    """Best of three timed loops, each of at least ``seconds`` and ``min_iterations``."""
    work()  # warm-up (and, for ours, the one-time context processing)
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


def _cold(document: Any) -> float:
    """Seconds of the first call on a fresh loader (every context processed)."""
    loader = default_loader().extend({})
    start = time.perf_counter()
    to_dataset(document, loader=loader)
    return time.perf_counter() - start


def run(seconds: float, min_iterations: int) -> dict[str, Any]:
    """Time every document; returns a JSON-able report."""
    loader = default_loader()
    rows = []
    for name, path in DOCUMENTS:
        document = json.loads(path.read_text("utf-8"))
        ours = to_dataset(document, loader=loader)
        theirs = _as_quads(_pyld_to_rdf(document, loader))
        if len(set(ours)) != len(theirs):
            raise SystemExit(f"{name}: datasets differ in size; not timing")
        canonical = canonicalize(document, loader=loader)
        if canonical != _pyld_normalize(document, loader):
            raise SystemExit(f"{name}: canonical forms differ; not timing")
        rows.append(
            {
                "document": name,
                "quads": len(ours),
                "ours": _ops_per_second(
                    partial(to_dataset, document, loader=loader), seconds, min_iterations
                ),
                "ours_cold_ms": 1000 * _cold(document),
                "pyld": _ops_per_second(
                    partial(_pyld_to_rdf, document, loader), seconds, min_iterations
                ),
                "ours_canonicalize": _ops_per_second(
                    partial(canonicalize, document, loader=loader), seconds, min_iterations
                ),
                "pyld_normalize": _ops_per_second(
                    partial(_pyld_normalize, document, loader), seconds, min_iterations
                ),
            }
        )
    return {"python": platform.python_version(), "machine": platform.machine(), "rows": rows}


def print_table(results: dict[str, Any]) -> None:
    """Print the report as two tables."""
    print(f"Python {results['python']} on {results['machine']}; ops/s, higher is better")
    print()
    header = f"{'to_dataset':<22}{'quads':>6}{'ours':>9}{'ours cold':>11}{'pyld':>8}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for row in results["rows"]:
        print(
            f"{row['document']:<22}{row['quads']:>6}{row['ours']:>9.0f}"
            f"{row['ours_cold_ms']:>9.1f}ms{row['pyld']:>8.0f}{row['ours'] / row['pyld']:>8.1f}"
        )
    print()
    header = f"{'canonicalize':<22}{'ours':>9}{'pyld':>8}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for row in results["rows"]:
        print(
            f"{row['document']:<22}{row['ours_canonicalize']:>9.0f}{row['pyld_normalize']:>8.0f}"
            f"{row['ours_canonicalize'] / row['pyld_normalize']:>8.1f}"
        )
    print()
    print("ratio = ours / pyld; datasets and canonical forms checked identical first.")


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
