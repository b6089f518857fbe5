"""Kill the wallet process during writes (SIGKILL at random moments, repeatedly): the wallet then
opens with its previous or its new state, never a damaged one."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.wallet.conftest import FAST_KDF, PASSPHRASE, ROOT
from wallet.store import Wallet

WRITER = r"""
import os
import sys
from wallet.store import Wallet

path, passphrase = sys.argv[1], sys.argv[2]
wallet = Wallet.open(path, passphrase)
n = len(wallet)
while True:
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": f"urn:example:credential:{n}",
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:earner", "n": n, "pad": os.urandom(1500).hex()},
    }
    wallet.add_credential(document, source="writer", verification={"verdict": "unknown"})
    wallet.save()
    n += 1
    print(n, flush=True)
"""

PASSWD = r"""
import sys
from wallet.sealing import KdfParams
from wallet.store import Wallet

path, first, second = sys.argv[1], sys.argv[2], sys.argv[3]
fast = KdfParams(1, 64 * 1024)
current, other = first, second
wallet = Wallet.open(path, current)
while True:
    wallet.change_passphrase(current, other, kdf=fast)
    current, other = other, current
    print(current, flush=True)
"""


def _start(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _seed(path: Path, count: int) -> None:
    rng = random.Random(count)
    with Wallet.create(path, PASSPHRASE, kdf=FAST_KDF) as wallet:
        for n in range(count):
            wallet.add_credential(
                {
                    "@context": ["https://www.w3.org/ns/credentials/v2"],
                    "id": f"urn:example:credential:{n}",
                    "type": ["VerifiableCredential"],
                    "issuer": "did:example:issuer",
                    "validFrom": "2025-01-01T00:00:00Z",
                    "credentialSubject": {
                        "id": "did:example:earner",
                        "n": n,
                        "pad": rng.randbytes(1500).hex(),
                    },
                },
                source="seed",
                verification={"verdict": "unknown"},
            )
        wallet.save()


def _wait_for_first_line(process: subprocess.Popen[str], timeout: float = 60.0) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    line = process.stdout.readline()
    if not line:
        stderr = process.stderr.read() if process.stderr else ""
        raise AssertionError(f"the writer stopped before its first save: {stderr}")
    assert time.monotonic() < deadline
    return line


def test_sigkill_during_writes_never_corrupts(tmp_path: Path) -> None:
    path = tmp_path / "crash.ppw"
    _seed(path, 200)
    rng = random.Random(20250601)
    previous = 200
    kills = 0
    mid_write = 0
    for round_ in range(12):
        process = _start(WRITER, str(path), PASSPHRASE)
        first_line = _wait_for_first_line(process)
        time.sleep(rng.uniform(0.0, 0.4))
        if round_ % 2:
            # Every other round, aim inside a write: kill as soon as a temp file shows up.
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not any(
                n.endswith(".tmp") for n in os.listdir(tmp_path)
            ):
                pass
        os.kill(process.pid, signal.SIGKILL)
        rest, _ = process.communicate(timeout=30)
        out = first_line + rest
        assert process.returncode == -signal.SIGKILL
        kills += 1
        acknowledged = [int(line) for line in out.split()]
        if any(n.endswith(".tmp") for n in os.listdir(tmp_path)):
            mid_write += 1  # killed between creating the temp file and renaming it
        last_ack = acknowledged[-1]
        # The file opens, every credential in it is whole, and the state is the last
        # acknowledged save or the one being written when the process died.
        with Wallet.open(path, PASSPHRASE) as wallet:
            count = len(wallet)
            assert last_ack <= count <= last_ack + 1, (last_ack, count)
            assert count >= previous
            numbers = sorted(r.document["credentialSubject"]["n"] for r in wallet)
            assert numbers == list(range(count))
            for record in wallet.credentials()[-3:]:
                json.loads(record.text)
        previous = count
        leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
        assert leftovers == []  # the open removed what the killed writer left
    assert kills == 12
    assert previous > 200
    print(f"{mid_write} of {kills} kills landed inside a write")
    assert mid_write >= 1  # the kills do hit writes (each save is mostly temp-file I/O)


def test_sigkill_during_passphrase_changes(tmp_path: Path) -> None:
    path = tmp_path / "passwd.ppw"
    _seed(path, 50)
    rng = random.Random(7)
    first, second = PASSPHRASE, "the other passphrase"
    for _ in range(8):
        # Whichever passphrase opens it now is where the writer starts.
        try:
            Wallet.open(path, first).close()
            current, other = first, second
        except Exception:
            current, other = second, first
        process = _start(PASSWD, str(path), current, other)
        _wait_for_first_line(process)
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
        opened = 0
        for candidate in (first, second):
            try:
                with Wallet.open(path, candidate) as wallet:
                    assert len(wallet) == 50
                    opened += 1
            except Exception as exc:
                assert type(exc).__name__ == "BadPassphrase", exc
        assert opened == 1
