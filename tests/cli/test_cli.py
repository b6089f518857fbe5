"""The ``passeport`` command end to end, in guarded subprocesses: exit codes, one-line errors,
no tracebacks."""

from __future__ import annotations

import copy
import json
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from protocol.encoding import base58btc_decode, base58btc_encode

Run = Callable[..., subprocess.CompletedProcess[str]]
NOW = "2025-06-01T12:00:00Z"


def _credential(issuer: str) -> dict[str, Any]:
    return {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": "urn:uuid:2f1a3bd4-5c1e-4a55-9d0c-1e7f6e0b9a11",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer, "type": ["Profile"], "name": "École d'exemple"},
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": "sha256$"
                    "b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399",
                    "identityType": "emailAddress",
                    "hashed": True,
                    "salt": "Kosher",
                }
            ],
            "achievement": {
                "id": "https://badges.example.org/achievements/1",
                "type": ["Achievement"],
                "name": "Premiers secours",
                "description": "Gestes de premiers secours.",
                "criteria": {"narrative": "A suivi la formation et réussi l'évaluation."},
            },
        },
    }


def _clean_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "expected an error message"
    assert lines[-1].startswith("passeport: error: "), result.stderr
    return lines[-1]


@pytest.fixture
def ed_key(run_cli: Run, tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "issuer.json"
    result = run_cli("keys", "new", "--out", str(path))
    assert result.returncode == 0, result.stderr
    return path, result.stdout.strip()


@pytest.fixture
def p256_key(run_cli: Run, tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "issuer-p256.json"
    result = run_cli("keys", "new", "--type", "p256", "--out", str(path))
    assert result.returncode == 0, result.stderr
    return path, result.stdout.strip()


def _write(tmp_path: Path, name: str, document: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), "utf-8")
    return path


def _sign(run_cli: Run, key: Path, path: Path, *extra: str) -> dict[str, Any]:
    result = run_cli("sign", "--key", str(key), "--created", NOW, *extra, str(path))
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_keys_new_writes_a_private_multikey_file(ed_key: tuple[Path, str]) -> None:
    path, did = ed_key
    assert did.startswith("did:key:z6Mk")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["type"] == "Multikey" and doc["controller"] == did
    assert doc["secretKeyMultibase"].startswith("z")


def test_keys_new_refuses_to_overwrite(run_cli: Run, ed_key: tuple[Path, str]) -> None:
    result = run_cli("keys", "new", "--out", str(ed_key[0]))
    assert result.returncode == 2
    assert "already exists" in _clean_error(result)


def test_sign_then_verify(run_cli: Run, tmp_path: Path, ed_key: tuple[Path, str]) -> None:
    key, did = ed_key
    signed = _sign(run_cli, key, _write(tmp_path, "c.json", _credential(did)))
    path = _write(tmp_path, "signed.json", signed)
    result = run_cli("verify", "--at", NOW, str(path))
    assert result.returncode == 0, result.stdout
    assert "VALID credential" in result.stdout
    result = run_cli("verify", "--json", "--at", NOW, str(path), str(path))
    reports = json.loads(result.stdout)
    assert [r["verdict"] for r in reports] == ["valid", "valid"]


def test_sign_refuses_another_issuer(
    run_cli: Run, tmp_path: Path, ed_key: tuple[Path, str]
) -> None:
    path = _write(
        tmp_path, "c.json", _credential("did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2")
    )
    result = run_cli("sign", "--key", str(ed_key[0]), str(path))
    assert result.returncode == 2
    assert "only be signed by its issuer" in _clean_error(result)


def _signed(run_cli: Run, tmp_path: Path, key: tuple[Path, str]) -> dict[str, Any]:
    return _sign(run_cli, key[0], _write(tmp_path, "c.json", _credential(key[1])))


def _verify_one(run_cli: Run, tmp_path: Path, document: Any) -> tuple[int, dict[str, Any]]:
    path = _write(tmp_path, "doc.json", document)
    result = run_cli("verify", "--json", "--at", NOW, str(path))
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)[0]


def _failed(report: dict[str, Any]) -> str:
    return " | ".join(c["reason"] for c in report["checks"] if c["status"] == "fail")


def test_tampered_credential_exits_1(
    run_cli: Run, tmp_path: Path, ed_key: tuple[Path, str]
) -> None:
    signed = _signed(run_cli, tmp_path, ed_key)
    signed["credentialSubject"]["achievement"]["name"] = "Chirurgie"
    code, report = _verify_one(run_cli, tmp_path, signed)
    assert code == 1 and "signature does not verify" in _failed(report)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["@context"].append("https://unknown.example/context.json"),
            "https://unknown.example/context.json",
        ),
        (lambda d: d["proof"][0].update(cryptosuite="eddsa-rdfc-2099"), "unsupported cryptosuite"),
        (lambda d: d["proof"][0].update(proofValue="z0OIl"), "base58"),
        (
            lambda d: d["proof"][0].update(
                proofValue=base58btc_encode(base58btc_decode(d["proof"][0]["proofValue"])[:40])
            ),
            "64",
        ),
        (lambda d: d["proof"][0].pop("proofValue"), "proofValue"),
        (
            lambda d: d["proof"][0].update(
                verificationMethod="did:key:z6LSeu9HkTHSfLLeUs2nnzUSNedgDUevfNQgQjQC23ZCit6F"
                "#z6LSeu9HkTHSfLLeUs2nnzUSNedgDUevfNQgQjQC23ZCit6F"
            ),
            "key-agreement",
        ),
        (lambda d: d["credentialSubject"].update(undefinedTerm=1), "undefinedTerm"),
    ],
    ids=[
        "unknown-context",
        "unknown-cryptosuite",
        "bad-multibase",
        "truncated-proof",
        "missing-proof-value",
        "wrong-key-type",
        "undefined-term",
    ],
)
def test_bad_input_gets_a_precise_reason(
    run_cli: Run, tmp_path: Path, ed_key: tuple[Path, str], change: Any, expected: str
) -> None:
    signed = copy.deepcopy(_signed(run_cli, tmp_path, ed_key))
    change(signed)
    code, report = _verify_one(run_cli, tmp_path, signed)
    assert code == 1
    assert expected.lower() in _failed(report).lower(), _failed(report)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"a": 1, "a": 2}', "repeats the member"),
        ("", "not valid JSON"),
    ],
)
def test_unusable_input_exits_2(run_cli: Run, tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = run_cli("verify", str(path))
    assert result.returncode == 2
    assert expected in _clean_error(result)


def test_missing_file_and_bad_usage(run_cli: Run, tmp_path: Path) -> None:
    result = run_cli("verify", str(tmp_path / "absent.json"))
    assert result.returncode == 2 and "no such file" in _clean_error(result)
    result = run_cli("sign")
    assert result.returncode == 2 and "--key" in _clean_error(result)
    result = run_cli("frobnicate")
    assert result.returncode == 2
    _clean_error(result)


def test_selective_disclosure_and_presentation(
    run_cli: Run, tmp_path: Path, p256_key: tuple[Path, str], ed_key: tuple[Path, str]
) -> None:
    key, did = p256_key
    credential = _credential(did)
    holder_key, holder = ed_key
    credential["credentialSubject"]["id"] = holder
    base = _sign(run_cli, key, _write(tmp_path, "c.json", credential), "--suite", "ecdsa-sd-2023")
    proofs = base["proof"] if isinstance(base["proof"], list) else [base["proof"]]
    assert proofs[0]["proofValue"].startswith("u2V0A")
    base_path = _write(tmp_path, "base.json", base)

    # A base proof is for the holder: a verifier refuses it.
    code, report = _verify_one(run_cli, tmp_path, base)
    assert code == 1 and "derive" in _failed(report)

    result = run_cli(
        "derive", "--reveal", "/credentialSubject/achievement/criteria", str(base_path)
    )
    assert result.returncode == 0, result.stderr
    derived = json.loads(result.stdout)
    assert "identifier" not in derived["credentialSubject"]
    assert "Kosher" not in result.stdout
    code, report = _verify_one(run_cli, tmp_path, derived)
    assert code == 0, _failed(report)

    result = run_cli(
        "present",
        "--key",
        str(holder_key),
        "--challenge",
        "c-123",
        "--domain",
        "verifier.example",
        "--reveal",
        "/credentialSubject/identifier",
        str(base_path),
    )
    assert result.returncode == 0, result.stderr
    vp_path = _write(tmp_path, "vp.json", json.loads(result.stdout))
    ok = run_cli("verify", "--challenge", "c-123", "--domain", "verifier.example", str(vp_path))
    assert ok.returncode == 0, ok.stdout
    replay = run_cli(
        "verify", "--json", "--challenge", "c-999", "--domain", "verifier.example", str(vp_path)
    )
    assert replay.returncode == 1
    assert "challenge" in _failed(json.loads(replay.stdout)[0])
    other = run_cli(
        "verify", "--json", "--challenge", "c-123", "--domain", "evil.example", str(vp_path)
    )
    assert other.returncode == 1
    assert "domain" in _failed(json.loads(other.stdout)[0])
