"""``passeport node`` commands in real subprocesses (network guard installed in each)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from node.config import load_config
from node.storage import open_db
from protocol.did import validate_did_document

ROOT = Path(__file__).resolve().parents[2]
#: Runs ``node.cli.main`` with the network guard, as ``tests/guarded.py`` does for ``passeport``.
GUARDED = (
    "import sys; sys.path.insert(0, 'tests'); import netguard; netguard.install(); "
    "from node.cli import main; raise SystemExit(main(sys.argv[1:]))"
)


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", GUARDED, "node", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def _one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("passeport: error:")]
    assert len(lines) == 1 and fragment in lines[0], result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_init_creates_a_working_folder(tmp_path):
    data = tmp_path / "node"
    result = _cli(
        "init",
        "--data",
        str(data),
        "--name",
        "Université Test",
        "--url",
        "https://badges.example.org",
        "--language",
        "fr",
        "--language",
        "en",
        "--admin-email",
        "Office@Example.org",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "did:web:badges.example.org" in out
    assert "log in at https://badges.example.org/staff/login" in out
    assert "e-mail:   office@example.org" in out
    password = out.split("password: ", 1)[1].split()[0]
    assert len(password) >= 20
    config = load_config(data)
    assert config.name == "Université Test" and config.languages == ("fr", "en")
    assert (data / "master.key").stat().st_mode & 0o777 == 0o600
    db = open_db(data / "node.db")
    assert db.execute("SELECT count(*) FROM node_keys").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM achievements").fetchone()[0] == 3
    hashes = db.execute("SELECT password_hash FROM staff").fetchall()
    assert len(hashes) == 1 and hashes[0][0].startswith("$argon2id$")
    assert password.encode() not in b"".join(p.read_bytes() for p in data.glob("node.db*"))
    db.conn.close()
    again = _cli("init", "--data", str(data))
    _one_line_error(again, "already holds a node")


def test_init_errors_are_one_line(tmp_path):
    _one_line_error(_cli("init", "--data", str(tmp_path / "a"), "--url", "ftp://x"), "public_url")
    _one_line_error(
        _cli("init", "--data", str(tmp_path / "b"), "--url", "http://127.0.0.1:8400"), "did:web"
    )
    _one_line_error(
        _cli("init", "--data", str(tmp_path / "c"), "--admin-email", "not-an-address"),
        "not an e-mail address",
    )
    bad_port = _cli("serve", "--data", str(tmp_path / "d"), "--port", "70000")
    assert bad_port.returncode != 0 and "Traceback" not in bad_port.stderr


def test_token_staff_and_rotation_commands(tmp_path):
    data = tmp_path / "node"
    assert _cli("init", "--data", str(data)).returncode == 0
    token = _cli("token", "create", "--data", str(data), "--scope", "credentials:issue")
    assert token.returncode == 0, token.stderr
    assert token.stdout.splitlines()[-1].startswith("pst_")
    _one_line_error(
        _cli("token", "create", "--data", str(data), "--scope", "everything"), "unknown scope"
    )
    staff = _cli("staff", "add", "clerk@example.org", "--data", str(data))
    assert staff.returncode == 0 and "password: " in staff.stdout
    _one_line_error(
        _cli("staff", "add", "clerk@example.org", "--data", str(data)), "already exists"
    )
    rotated = _cli("keys", "rotate", "--data", str(data))
    assert rotated.returncode == 0, rotated.stderr
    assert "did:web:localhost%3A8400#key-3" in rotated.stdout
    _one_line_error(_cli("keys", "rotate", "--data", str(tmp_path / "none")), "no node here")


def test_master_key_problems_stop_the_commands(tmp_path):
    data = tmp_path / "node"
    assert _cli("init", "--data", str(data)).returncode == 0
    key = data / "master.key"
    os.chmod(key, 0o644)
    _one_line_error(_cli("keys", "rotate", "--data", str(data)), "readable or writable by other")
    _one_line_error(_cli("serve", "--data", str(data), "--port", "1"), "readable or writable")
    os.chmod(key, 0o600)
    original = key.read_bytes()
    key.write_bytes(bytes(b ^ 0xFF for b in original))
    _one_line_error(_cli("keys", "rotate", "--data", str(data)), "does not open")
    key.unlink()
    _one_line_error(_cli("token", "create", "--data", str(data), "--scope", "admin"), "missing")
    assert not key.exists()


def _wait_until_ready(url: str, process: subprocess.Popen[str], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited early: {process.stderr.read()}")  # type: ignore[union-attr]
        try:
            if _get(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("the node did not start in time")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_initialises_an_empty_folder_and_stops_gracefully(tmp_path, stop):
    data = tmp_path / "fresh"
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", GUARDED, "node", "serve", "--data", str(data), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        _wait_until_ready(
            f"http://127.0.0.1:{port}/.well-known/did.json", process, time.monotonic() + 60
        )
        status, body = _get(f"http://127.0.0.1:{port}/.well-known/did.json")
        did = f"did:web:localhost%3A{port}"
        validate_did_document(json.loads(body), did=did)
        status, _ = _get(f"http://127.0.0.1:{port}/api/achievements")
        assert status == 401
        process.send_signal(stop)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert f"listening on http://127.0.0.1:{port}" in out
    assert f"log in at http://localhost:{port}/staff/login" in out
    assert "password: " in out and "Stopping" in out
    assert (data / "node.toml").exists()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_serve_over_tls(tmp_path):
    import ssl

    cert, key = _self_signed(tmp_path)
    data = tmp_path / "tls"
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            GUARDED,
            "node",
            "serve",
            "--data",
            str(data),
            "--port",
            str(port),
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    context = ssl.create_default_context(cafile=str(cert))
    url = f"https://localhost:{port}/.well-known/did.json"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(url, timeout=5, context=context) as response:
                    doc = json.loads(response.read())
                    status = response.status
                break
            except OSError:
                assert time.monotonic() < deadline, "the TLS node did not start"
                time.sleep(0.1)
        assert status == 200
        validate_did_document(doc, did=f"did:web:localhost%3A{port}")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert f"listening on https://127.0.0.1:{port}" in out
    assert load_config(data).public_url == f"https://localhost:{port}"
    _one_line_error(_cli("serve", "--data", str(data), "--tls-cert", str(cert)), "go together")
