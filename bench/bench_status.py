"""Bitstring Status List: encode, decode and check a 131,072-entry list (the BSL minimum).

Usage (from anywhere)::

    python bench/bench_status.py [--seconds 2] [--min-iterations 20] [--json]

Two lists of 131,072 one-bit entries, filled with a fixed seed: ``sparse`` (1% of entries set,
what a revocation list looks like) and ``dense`` (each bit set with probability 1/2, the worst
case for GZIP). Rows:

* ``set+encode``: flip one entry and produce ``encodedList`` (what the node does on revocation,
  before signing);
* ``decode``: multibase + bounded GZIP inflate + length check;
* ``get``: read one entry of a decoded list;
* ``check``: :func:`protocol.status.check_status` on a signed list (eddsa-rdfc-2022, did:key):
  entry checks, proof verification, validity, decode, lookup. The proof dominates;
* ``sign list``: build the list credential and sign it (the node's re-publication cost).

Timings are wall-clock on this machine; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from protocol.di import sign  # noqa: E402
from protocol.did import Resolver, key_pair_as_did_key  # noqa: E402
from protocol.keys import KeyPair  # noqa: E402
from protocol.limits import MIN_STATUS_LIST_ENTRIES  # noqa: E402
from protocol.status import (  # noqa: E402
    StatusBitstring,
    build_status_entry,
    build_status_list_credential,
    check_status,
    decode,
)

WARMUP = 3
NOW = datetime(2025, 6, 1, tzinfo=UTC)
LIST_URL = "https://node-a.test/status/1"
KEY = key_pair_as_did_key(KeyPair("Ed25519", bytes.fromhex("42" * 32)))


def _time_loop(
    operation: Callable[[], object], *, seconds: float, min_iterations: int
) -> dict[str, float]:
    """Run ``operation`` WARMUP times, then until both limits are reached; return ops/s."""
    for _ in range(WARMUP):
        operation()
    count = 0
    start = time.perf_counter()
    while True:
        operation()
        count += 1
        elapsed = time.perf_counter() - start
        if count >= min_iterations and elapsed >= seconds:
            break
    return {"iterations": count, "seconds": elapsed, "ops_per_s": count / elapsed}


def _filled(probability: float, rng: random.Random) -> StatusBitstring:
    bits = StatusBitstring(MIN_STATUS_LIST_ENTRIES)
    for index in range(MIN_STATUS_LIST_ENTRIES):
        if rng.random() < probability:
            bits.set(index, 1)
    return bits


def _unsigned(bits: StatusBitstring) -> dict[str, object]:
    return build_status_list_credential(
        list_url=LIST_URL,
        issuer=KEY.controller or "",
        purpose="revocation",
        bitstring=bits,
        valid_from=NOW - timedelta(hours=1),
    )


def _operations(bits: StatusBitstring) -> list[tuple[str, Callable[[], object]]]:
    """The timed operations on one list (``bits`` is changed by ``set+encode``)."""
    encoded = bits.encode()
    decoded = decode(encoded)
    signed = sign(_unsigned(bits), key=KEY, created=NOW - timedelta(hours=1))
    entry = build_status_entry(list_credential_url=LIST_URL, index=94567)
    resolver = Resolver()
    probes = range(0, MIN_STATUS_LIST_ENTRIES, 131)
    at = [0]

    def set_encode() -> str:
        # Flip another entry each time (a revocation), then encode the whole list.
        at[0] = (at[0] + 7919) % MIN_STATUS_LIST_ENTRIES
        bits.set(at[0], bits.get(at[0]) ^ 1)
        return bits.encode()

    def decode_list() -> StatusBitstring:
        return decode(encoded)

    def get() -> list[int]:
        return [decoded.get(i) for i in probes]

    def check() -> object:
        return check_status(entry, signed, resolver=resolver, now=NOW)

    def sign_list() -> object:
        return sign(_unsigned(bits), key=KEY, created=NOW)

    return [
        ("set+encode", set_encode),
        ("decode", decode_list),
        ("get", get),
        ("check", check),
        ("sign list", sign_list),
    ]


def run(seconds: float, min_iterations: int) -> list[dict[str, object]]:
    """Time every operation on the sparse and the dense list."""
    rng = random.Random(20250601)
    rows: list[dict[str, object]] = []
    for name, probability in (("sparse", 0.01), ("dense", 0.5)):
        bits = _filled(probability, rng)
        encoded_chars = len(bits.encode())
        for op, function in _operations(bits):
            timing = _time_loop(function, seconds=seconds, min_iterations=min_iterations)
            if op == "get":  # one call reads 1,001 entries
                timing["ops_per_s"] *= len(range(0, MIN_STATUS_LIST_ENTRIES, 131))
            rows.append({"list": name, "operation": op, "encoded_chars": encoded_chars, **timing})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--min-iterations", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args()
    rows = run(args.seconds, args.min_iterations)
    if args.json:
        print(json.dumps({"python": platform.python_version(), "rows": rows}, indent=2))
        return
    version = platform.python_version()
    print(f"Bitstring Status List, {MIN_STATUS_LIST_ENTRIES} entries, Python {version}")
    print(f"{'list':<8}{'encodedList':>13}  {'operation':<12}{'ops/s':>14}")
    for row in rows:
        print(
            f"{row['list']!s:<8}{row['encoded_chars']!s:>13}  {row['operation']!s:<12}"
            f"{float(row['ops_per_s']):>14,.0f}"  # type: ignore[arg-type]
        )


if __name__ == "__main__":
    main()
