"""Credentials issued per second by a node: through the HTTP API and through bulk CSV.

Usage (from anywhere)::

    python bench/bench_node.py [--requests 2000] [--concurrency 32] [--rows 5000]
                               [--workers N] [--json]

A fresh node (SQLite on disk, in a temporary folder) runs as a ``passeport node serve``
subprocess (``python -m node.cli``) on a loopback port. Each issued credential is built and
signed twice (eddsa-rdfc-2022, and the ecdsa-sd-2023 holder copy), gets a random status index
and is stored verbatim, exactly as in production. Rows:

* ``http``: ``POST /api/credentials`` from ``--concurrency`` concurrent clients in this process,
  ``--requests`` requests after a warm-up (which also starts the node's signing workers);
* ``bulk csv``: one ``POST /api/issue-jobs`` of ``--rows`` rows, timed from the upload until the
  job reports ``done``.

``--workers`` sets the node's ``signing_workers`` (default: the node's own default, one signing
process per CPU). Timings are wall-clock on this machine; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from node.app import create_app  # noqa: E402
from node.appkeys import DB, SERVICES  # noqa: E402
from node.config import CONFIG_FILE, NodeConfig  # noqa: E402
from node.seed import init_node  # noqa: E402

WARMUP_REQUESTS = 64


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(data_dir: Path, workers: int | None) -> tuple[NodeConfig, str, str]:
    """Initialise a node folder; returns (config, API token, an achievement id)."""
    port = _free_port()
    config = NodeConfig(
        data_dir=data_dir, public_url=f"http://localhost:{port}", host="127.0.0.1", port=port
    )
    result = init_node(config, now=datetime.now(UTC), admin_email="bench@example.org")
    if workers is not None:
        with (data_dir / CONFIG_FILE).open("a", encoding="utf-8") as handle:
            handle.write(f"signing_workers = {workers}\n")
    app = create_app(config)
    try:
        _, token = app[SERVICES]["auth"].create_token(
            ["credentials:issue", "staff"], name="bench", now=datetime.now(UTC)
        )
    finally:
        app[DB].conn.close()
    return config, token, result.achievements[0]


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


class Node:
    """The node subprocess."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "node", "serve", "--data", str(data_dir)],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def wait_ready(self, session: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise SystemExit(f"the node exited:\n{self.log.read().decode()}")
            try:
                async with session.get(self.base + "/.well-known/did.json") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the node did not start")
            await asyncio.sleep(0.2)

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU seconds used so far by the node's main process and by its signing workers
        (Linux ``/proc``; zeros elsewhere)."""
        return _cpu(self.proc.pid), sum(_cpu(pid) for pid in _children(self.proc.pid))

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # signing workers left behind, if any
        except ProcessLookupError:
            pass
        self.log.close()


async def _issue_many(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    achievement: str,
    count: int,
    concurrency: int,
) -> float:
    """Issue ``count`` credentials with ``concurrency`` clients; returns the elapsed seconds."""
    counter = iter(range(count))

    async def client() -> None:
        for number in counter:
            body = {"achievementId": achievement, "email": f"learner{number}@example.org"}
            async with session.post(url, json=body, headers=headers) as response:
                if response.status != 201:
                    raise SystemExit(f"issue failed: {response.status} {await response.text()}")
                await response.read()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - start


def _row(
    count: int,
    seconds: float,
    before: tuple[tuple[float, float], float],
    after: tuple[float, float],
) -> dict[str, Any]:
    (main_before, workers_before), _ = before
    return {
        "count": count,
        "seconds": seconds,
        "ops_per_second": count / seconds,
        "node_main_cpu_ms": (after[0] - main_before) * 1000 / count,
        "node_workers_cpu_ms": (after[1] - workers_before) * 1000 / count,
    }


async def _bench(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-node-") as folder:
        config, token, achievement = _prepare(Path(folder) / "node", args.workers)
        node = Node(config.data_dir, config.port)
        headers = {"Authorization": f"Bearer {token}"}
        rows: dict[str, Any] = {}
        try:
            connector = aiohttp.TCPConnector(limit=args.concurrency)
            async with aiohttp.ClientSession(connector=connector) as session:
                await node.wait_ready(session)
                url = node.base + "/api/credentials"
                await _issue_many(
                    session, url, headers, achievement, WARMUP_REQUESTS, args.concurrency
                )
                before = node.cpu_seconds(), time.process_time()
                seconds = await _issue_many(
                    session, url, headers, achievement, args.requests, args.concurrency
                )
                rows["http"] = _row(args.requests, seconds, before, node.cpu_seconds())
                rows["http"]["client_cpu_ms"] = (
                    (time.process_time() - before[1]) * 1000 / args.requests
                )
                lines = ["email"] + [f"bulk{i}@example.org" for i in range(args.rows)]
                before = node.cpu_seconds(), time.process_time()
                start = time.perf_counter()
                async with session.post(
                    node.base + "/api/issue-jobs",
                    params={"achievement": achievement},
                    data="\n".join(lines).encode(),
                    headers=dict(headers, **{"Content-Type": "text/csv"}),
                ) as response:
                    job = await response.json()
                    if response.status != 202:
                        raise SystemExit(f"upload failed: {response.status} {job}")
                while True:
                    async with session.get(
                        node.base + f"/api/issue-jobs/{job['id']}", headers=headers
                    ) as response:
                        progress = await response.json()
                    if progress["state"] == "done":
                        break
                    await asyncio.sleep(0.05)
                seconds = time.perf_counter() - start
                if progress["issued"] != args.rows:
                    raise SystemExit(f"bulk job did not issue every row: {progress}")
                rows["bulk csv"] = _row(args.rows, seconds, before, node.cpu_seconds())
        finally:
            node.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = asyncio.run(_bench(args))
    info = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "concurrency": args.concurrency,
        "signing_workers": args.workers if args.workers is not None else "default",
    }
    if args.json:
        print(json.dumps({"info": info, "results": rows}, indent=2))
        return 0
    print(
        f"node issuing on {info['cpus']} CPUs, Python {info['python']}, SQLite on disk, "
        f"signing workers: {info['signing_workers']}"
    )
    for name, row in rows.items():
        print(
            f"  {name:<10} {row['ops_per_second']:8.1f} credentials/s "
            f"({row['count']} in {row['seconds']:.2f} s); CPU per credential: node "
            f"{row['node_main_cpu_ms']:.2f} ms + signing workers "
            f"{row['node_workers_cpu_ms']:.2f} ms"
            + (f" + client {row['client_cpu_ms']:.2f} ms" if "client_cpu_ms" in row else "")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
