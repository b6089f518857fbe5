"""Helpers for the interop tests: Passeport's CLI and Python API on one side, tampering tools.

The CLI runs through ``tests/guarded.py`` (the ``passeport`` entry point with the network guard
installed in the child), with ``sys.executable`` so the venv's ``passeport`` is the one tested.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from protocol.encoding import base58btc_decode, base58btc_encode

ROOT = Path(__file__).resolve().parents[2]
GUARDED = ROOT / "tests" / "guarded.py"

# Verification time used on both sides, after every fixture's validFrom.
NOW = "2025-06-01T00:00:00Z"
# The proof creation time used when a test needs both sides to sign the same proof options.
CREATED = "2024-06-01T12:00:00Z"


def passeport(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``passeport`` CLI (guarded); never raises on a non-zero exit."""
    return subprocess.run(
        [sys.executable, str(GUARDED), *args],
        input=input,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        cwd=ROOT,
    )


def describe(proc: subprocess.CompletedProcess[str]) -> str:
    """The exit code and output of a CLI run, for assertion messages."""
    return f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


@dataclass(frozen=True)
class CliKey:
    """A key file written by ``passeport keys new`` and the DID it printed."""

    path: Path
    did: str

    @property
    def document(self) -> dict[str, Any]:
        """The parsed key file."""
        doc: dict[str, Any] = json.loads(self.path.read_text("utf-8"))
        return doc


def new_cli_key(directory: Path, name: str = "issuer.key.json") -> CliKey:
    """``passeport keys new --type ed25519 --out FILE``; checks the printed DID."""
    path = directory / name
    proc = passeport("keys", "new", "--type", "ed25519", "--out", str(path))
    assert proc.returncode == 0, describe(proc)
    did = proc.stdout.strip().splitlines()[-1].strip()
    assert did.startswith("did:key:z6Mk"), describe(proc)
    return CliKey(path, did)


def cli_sign(
    key: Path, credential: dict[str, Any], directory: Path, *, created: str | None = None
) -> dict[str, Any]:
    """``passeport sign --key KEY [--created T] IN``; returns the printed signed credential."""
    source = directory / "unsigned.json"
    source.write_text(json.dumps(credential, ensure_ascii=False), "utf-8")
    args = ["sign", "--key", str(key), "--suite", "eddsa-rdfc-2022"]
    if created is not None:
        args += ["--created", created]
    proc = passeport(*args, str(source))
    assert proc.returncode == 0, describe(proc)
    signed: dict[str, Any] = json.loads(proc.stdout)
    return signed


@dataclass(frozen=True)
class CliVerdict:
    """``passeport verify --json``: exit code and the parsed reports."""

    returncode: int
    reports: list[dict[str, Any]]
    proc: subprocess.CompletedProcess[str]

    def explain(self) -> str:
        """Exit code, the failed checks of each report, and stderr: for assertion messages."""
        lines = [f"exit {self.returncode}"]
        for report in self.reports:
            lines.append(f"{report.get('source')}: verified={report.get('verified')}")
            lines += [f"  {line}" for line in failed_checks(report)]
            for index, sub in enumerate(report.get("credentials", [])):
                lines += [f"  credential[{index}] {line}" for line in failed_checks(sub)]
        if not self.reports:
            lines.append(f"stdout:\n{self.proc.stdout}")
        lines.append(f"stderr:\n{self.proc.stderr}")
        return "\n".join(lines)


def cli_verify(
    documents: list[dict[str, Any]], directory: Path, *, at: str = NOW, extra: tuple[str, ...] = ()
) -> CliVerdict:
    """``passeport verify --json --at T FILE...``, one file per document."""
    paths = []
    for index, document in enumerate(documents):
        path = directory / f"to-verify-{index}.json"
        path.write_text(json.dumps(document, ensure_ascii=False), "utf-8")
        paths.append(str(path))
    proc = passeport("verify", "--json", "--at", at, *extra, *paths)
    reports = json.loads(proc.stdout) if proc.returncode in (0, 1) else []
    return CliVerdict(proc.returncode, reports, proc)


def assert_report_shape(report: dict[str, Any]) -> None:
    """The documented minimum of a ``verify --json`` report."""
    assert isinstance(report.get("verified"), bool), report
    assert isinstance(report.get("checks"), list) and report["checks"], report
    for check in report["checks"]:
        assert {"check", "status", "reason"} <= set(check), check


def failed_checks(report: Any) -> list[str]:
    """``check: reason`` of every failed check of a report (dict from --json, or a Report)."""
    checks = report["checks"] if isinstance(report, dict) else [c.to_dict() for c in report.checks]
    return [f"{c['check']}: {c['reason']}" for c in checks if c["status"] != "pass"]


def parse_time(text: str) -> datetime:
    """An aware datetime from an RFC 3339 ``...Z`` string."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- tampering -----------------------------------------------------------------------------------


def tamper_leaf(signed: dict[str, Any]) -> dict[str, Any]:
    """A copy with one leaf value of the signed content changed (the achievement's name)."""
    copy_ = copy.deepcopy(signed)
    achievement = copy_["credentialSubject"]["achievement"]
    achievement["name"] = achievement["name"] + " (modifié)"
    return copy_


def _proofs(document: dict[str, Any]) -> list[dict[str, Any]]:
    proof = document["proof"]
    return proof if isinstance(proof, list) else [proof]


def as_proof_set(document: dict[str, Any]) -> dict[str, Any]:
    """The document with its proof written as a set: Passeport writes OB proofs as arrays (OB 3.0
    serialisation), jsonld-signatures writes one proof as an object; both mean the same."""
    return dict(document, proof=_proofs(document))


def only_proof(document: dict[str, Any]) -> dict[str, Any]:
    """The single proof of a document, written as an object (JS) or a one-element set (OB)."""
    proofs = _proofs(document)
    assert len(proofs) == 1, proofs
    return proofs[0]


def tamper_proof_value(signed: dict[str, Any], byte: int = 17) -> dict[str, Any]:
    """A copy whose (last) proofValue has one signature byte flipped, still 64 bytes long."""
    copy_ = copy.deepcopy(signed)
    proof = _proofs(copy_)[-1]
    value = proof["proofValue"]
    assert value.startswith("z"), value
    signature = bytearray(base58btc_decode(value))
    assert len(signature) == 64
    signature[byte] ^= 0x01
    proof["proofValue"] = base58btc_encode(bytes(signature))
    return copy_


def proof_value(signed: dict[str, Any]) -> str:
    """The proofValue of the (last) proof."""
    value: str = _proofs(signed)[-1]["proofValue"]
    return value


def without_proof(signed: dict[str, Any]) -> dict[str, Any]:
    """The unsecured document."""
    return {k: v for k, v in signed.items() if k != "proof"}
