"""Kill -9 during a 10,000-row bulk issue, restart, resume: every row is issued exactly once and
no status list index is used twice.

The node runs as a real ``passeport node serve`` subprocess (through ``node.cli``), in its own
process group, so that the kill also takes its signing workers, as a power cut would. The job is
uploaded over HTTP, the process group is SIGKILLed once a few thousand rows are issued, and a
fresh ``serve`` on the same folder resumes the job at start-up. The database is then read
directly.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from node.app import create_app
from node.appkeys import DB, SERVICES
from node.config import NodeConfig
from node.seed import init_node
from tests.node.test_issuing_support import csv_text, free_port

ROOT = Path(__file__).resolve().parents[2]
#: ``python -m node.cli`` (what ``passeport node`` runs) with the test network guard installed.
GUARDED_NODE_CLI = (
    "import sys; sys.path.insert(0, 'tests'); import netguard; netguard.install(); "
    "from node.cli import main; raise SystemExit(main(sys.argv[1:]))"
)
ROWS = 10_000
KILL_AFTER = 2_500  # rows issued before the kill


def _request(url: str, *, token: str, data: bytes | None = None, ctype: str = "") -> Any:
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Authorization", f"Bearer {token}")
    if ctype:
        request.add_header("Content-Type", ctype)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


class NodeExited(AssertionError):
    """The node subprocess stopped before serving (its log is the message)."""


class Served:
    """``passeport node serve`` in its own process group."""

    def __init__(self, data_dir: Path, port: int, log: Path, did: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                GUARDED_NODE_CLI,
                "node",
                "serve",
                "--data",
                str(data_dir),
                "--port",
                str(port),
            ],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                self.log.close()
                raise NodeExited(log.read_text())
            try:
                with urllib.request.urlopen(self.base + "/.well-known/did.json", timeout=2) as r:
                    # our node, not another process that took the port meanwhile
                    if json.loads(r.read()).get("id") == did:
                        return
            except (urllib.error.URLError, OSError, ValueError):
                if time.monotonic() > deadline:
                    raise AssertionError(f"the node did not start: {log.read_text()}") from None
                time.sleep(0.2)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log.close()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        finally:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # any worker left behind
            except ProcessLookupError:
                pass
            self.log.close()


def _progress(served: Served, job_id: str, token: str) -> dict[str, Any]:
    return dict(_request(f"{served.base}/api/issue-jobs/{job_id}", token=token))


@pytest.mark.timeout(900)
def test_kill_9_during_a_10000_row_bulk_issue(tmp_path: Path) -> None:
    # Other processes may take a free port before the node binds it: try a few.
    for attempt in range(3):
        port = free_port()
        data_dir = tmp_path / f"node-{attempt}"
        config = NodeConfig(
            data_dir=data_dir,
            public_url=f"http://localhost:{port}",
            host="127.0.0.1",
            port=port,
        )
        result = init_node(config, now=datetime.now(UTC), admin_email="admin@example.org")
        app = create_app(config)
        try:
            _, token = app[SERVICES]["auth"].create_token(
                ["credentials:issue", "staff"], name="bulk", now=datetime.now(UTC)
            )
        finally:
            app[DB].conn.close()
        log = tmp_path / f"serve-{attempt}.log"
        try:
            served = Served(data_dir, port, log, result.did)
        except NodeExited as exc:
            if "cannot listen" not in str(exc) or attempt == 2:
                raise
            continue
        break

    try:
        rows = [[f"learner{i}@example.org"] for i in range(ROWS)]
        job = _request(
            f"{served.base}/api/issue-jobs?achievement={result.achievements[0]}",
            token=token,
            data=csv_text(["email"], rows).encode(),
            ctype="text/csv",
        )
        assert job["total"] == ROWS
        deadline = time.monotonic() + 600
        while _progress(served, job["id"], token)["issued"] < KILL_AFTER:
            assert time.monotonic() < deadline, "the job made no progress"
            time.sleep(0.1)
    except BaseException:
        served.stop()
        raise
    served.kill()

    with sqlite3.connect(config.db_path) as db:
        issued_at_kill = db.execute(
            "SELECT count(*) FROM credentials WHERE job_id = ?", [job["id"]]
        ).fetchone()[0]
    assert KILL_AFTER <= issued_at_kill < ROWS, issued_at_kill

    served = Served(data_dir, port, log, result.did)  # resumes the job at start-up
    try:
        deadline = time.monotonic() + 600
        while (progress := _progress(served, job["id"], token))["state"] != "done":
            assert time.monotonic() < deadline, progress
            time.sleep(0.25)
    finally:
        served.stop()
    assert (progress["issued"], progress["failed"], progress["pending"]) == (ROWS, 0, 0)

    db = sqlite3.connect(config.db_path)
    try:
        # every row issued exactly once
        count, rows_seen, keys = db.execute(
            "SELECT count(*), count(DISTINCT job_row), count(DISTINCT idempotency_key) "
            "FROM credentials WHERE job_id = ?",
            [job["id"]],
        ).fetchone()
        assert (count, rows_seen, keys) == (ROWS, ROWS, ROWS)
        assert db.execute("SELECT count(*) FROM credentials").fetchone()[0] == ROWS
        mismatched = db.execute(
            "SELECT count(*) FROM issue_job_rows r LEFT JOIN credentials c "
            "ON c.id = r.credential_id WHERE r.job_id = ? AND "
            "(r.state != 'issued' OR c.job_row IS NOT r.row)",
            [job["id"]],
        ).fetchone()[0]
        assert mismatched == 0
        # no status index reused, and each credential carries the entry that was recorded
        entries = {
            cid: (list_id, idx)
            for cid, list_id, idx in db.execute(
                "SELECT credential_id, list_id, idx FROM status_entries"
            )
        }
        assert len(entries) == ROWS
        assert len(set(entries.values())) == ROWS
        base = f"http://localhost:{port}/status/"
        list_ids = dict(db.execute("SELECT public_id, id FROM status_lists"))
        for cid, text in db.execute("SELECT id, vc FROM credentials"):
            status = json.loads(text)["credentialStatus"]
            list_id = list_ids[status["statusListCredential"].removeprefix(base)]
            assert entries[cid] == (list_id, int(status["statusListIndex"]))
        allocated = dict(db.execute("SELECT id, allocated FROM status_lists"))
        assert sum(allocated.values()) == ROWS
    finally:
        db.close()
