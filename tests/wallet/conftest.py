"""Shared wallet fixtures: real files in tmp_path, cheap (explicit) Argon2id parameters, a clock,
signed Open Badges credentials made with real keys, and a guarded CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from protocol.di import sign
from protocol.did import key_pair_as_did_key
from protocol.keys import KeyPair, generate
from protocol.ob import build_credential
from wallet.sealing import KdfParams
from wallet.store import Wallet

ROOT = Path(__file__).resolve().parents[2]
BAKED = ROOT / "tests" / "vectors" / "baked"

#: Cheap Argon2id for tests, passed explicitly (the defaults stay interactive-grade).
FAST_KDF = KdfParams(opslimit=1, memlimit=64 * 1024)
PASSPHRASE = "correct horse battery staple"
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    """A fixed, timezone-aware instant."""
    return NOW


@pytest.fixture
def wallet_path(tmp_path: Path) -> Path:
    """Where the test wallet lives."""
    return tmp_path / "wallets" / "earner.ppw"


@pytest.fixture
def wallet(wallet_path: Path) -> Iterator[Wallet]:
    """A fresh, open wallet (fast KDF)."""
    created = Wallet.create(wallet_path, PASSPHRASE, kdf=FAST_KDF, now=NOW)
    try:
        yield created
    finally:
        created.close()


class Issuer:
    """A did:key issuer that signs OB 3.0 credentials with eddsa-rdfc-2022."""

    def __init__(self, name: str = "Example Academy", algorithm: str = "Ed25519") -> None:
        self.key: KeyPair = key_pair_as_did_key(generate(algorithm))  # type: ignore[arg-type]
        self.did = str(self.key.controller)
        self.name = name

    def credential(
        self,
        *,
        name: str = "Teamwork",
        subject: str = "did:example:earner",
        achievement_id: str | None = None,
        alignments: list[dict[str, Any]] | None = None,
        valid_from: datetime = NOW - timedelta(days=30),
        valid_until: datetime | None = None,
        credential_id: str | None = None,
        description: str = "Works well in a team.",
    ) -> dict[str, Any]:
        achievement: dict[str, Any] = {
            "id": achievement_id or f"https://academy.example/achievements/{uuid.uuid4()}",
            "type": ["Achievement"],
            "name": name,
            "description": description,
            "criteria": {"narrative": f"Showed {name.lower()} in a project."},
        }
        if alignments:
            achievement["alignment"] = [{"type": ["Alignment"], **a} for a in alignments]
        unsigned = build_credential(
            issuer={"id": self.did, "type": ["Profile"], "name": self.name},
            achievement=achievement,
            subject_id=subject,
            identity=None,
            credential_id=credential_id or f"urn:uuid:{uuid.uuid4()}",
            valid_from=valid_from,
            valid_until=valid_until,
        )
        suite = "eddsa-rdfc-2022" if self.key.algorithm == "Ed25519" else "ecdsa-rdfc-2019"
        return sign(unsigned, key=self.key, created=valid_from, suite=suite)


@pytest.fixture(scope="session")
def issuer() -> Issuer:
    """A did:key issuer (session-wide: key generation is cheap, signing is not free)."""
    return Issuer()


@pytest.fixture
def make_issuer() -> Callable[..., Issuer]:
    """Make more issuers."""
    return Issuer


def run_wallet_cli(
    *args: str,
    env: dict[str, str] | None = None,
    input: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the wallet CLI (``passeport wallet``) in a subprocess with the network guard."""
    code = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); import netguard; netguard.install(); "
        "from wallet.cli import main; raise SystemExit(main(sys.argv[1:]))"
    )
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PASSEPORT_WALLET")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "tests"), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd or ROOT,
        env=full_env,
    )


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli(*args, passphrase=..., wallet=...)``: the wallet CLI on a wallet in tmp_path."""

    def run(
        *args: str,
        passphrase: str | None = PASSPHRASE,
        wallet: Path | None = None,
        extra_env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = {"PASSEPORT_WALLET": str(wallet or tmp_path / "cli.ppw")}
        if passphrase is not None:
            env["PASSEPORT_WALLET_PASSPHRASE"] = passphrase
        env.update(extra_env or {})
        return run_wallet_cli(*args, env=env, input=input, cwd=tmp_path)

    return run


def write_json(path: Path, value: Any) -> Path:
    """Write ``value`` as JSON and return the path."""
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")
    return path
