"""The wallet command line, run in subprocesses on real files: every action, exit codes,
one-line errors without tracebacks."""

from __future__ import annotations

import json
import struct
import subprocess
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from protocol.verify import verify
from tests.wallet.conftest import BAKED, NOW, PASSPHRASE, Issuer, write_json

Cli = Callable[..., subprocess.CompletedProcess[str]]
FAST = ("--kdf-opslimit", "1", "--kdf-memlimit-kib", "64")
ISSUER_876543 = "https://example.com/issuers/876543"
KEY_876543 = "z6MkrvfzkMnvCroEUP2DVc9SHPE48CRsvHiVSusHioxTYu1x"


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("passeport wallet:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def png_badge_text(data: bytes) -> str:
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"iTXt" and body.startswith(b"openbadgecredential\x00"):
            return body[len(b"openbadgecredential") + 5 :].decode()
        pos += 12 + length
    raise AssertionError("no baked credential")


@pytest.fixture
def initialised(cli: Cli) -> Cli:
    result = cli("init", *FAST)
    ok(result)
    assert "created" in result.stdout and "did:key:z6Mk" in result.stdout
    assert "cheaper than the default" in result.stderr
    return cli


def test_init_info_identities(initialised: Cli, tmp_path: Path) -> None:
    cli = initialised
    one_line_error(cli("init", *FAST))  # never replaces an existing wallet
    info = json.loads(ok(cli("info", "--json")))
    assert info["credentials"] == 0 and info["kdf"] == "Argon2id, 1 pass, 65536 bytes"
    did = ok(cli("identity", "new", "--algorithm", "p256", "--label", "verifier-a")).strip()
    assert did.startswith("did:key:zDn")
    listed = json.loads(ok(cli("identity", "list", "--json")))
    assert [i["label"] for i in listed] == ["default", "verifier-a"]
    assert listed[0]["default"] and "secretKeyMultibase" not in json.dumps(listed)
    ok(cli("identity", "default", "verifier-a"))
    assert ok(cli("identity", "list")).startswith(f"* {did}")


def test_import_list_show_verify_bake(initialised: Cli, tmp_path: Path, issuer: Issuer) -> None:
    cli = initialised
    mine = write_json(
        tmp_path / "python.json",
        issuer.credential(
            name="Python",
            alignments=[{"targetName": "use Python", "targetUrl": "http://esco.example/python"}],
        ),
    )
    files = [str(p) for p in sorted((BAKED / "ob30").iterdir())] + [
        str(BAKED / "ob20/simple-badge.png"),
        str(mine),
    ]
    result = cli("import", *files, "--json")
    outcomes = json.loads(ok(result))
    assert [o["outcome"] for o in outcomes].count("added") == 5
    listed = json.loads(ok(cli("list", "--json")))
    assert len(listed) == 5
    python = next(r for r in listed if r["name"] == "Python")
    assert python["status"] == "valid"
    assert [r["name"] for r in json.loads(ok(cli("list", "--skill", "use python", "--json")))] == [
        "Python"
    ]
    assert len(json.loads(ok(cli("list", "--status", "legacy", "--json")))) == 1
    assert json.loads(ok(cli("list", "teamwork", "--kind", "ob3", "--json")))
    shown = ok(cli("show", python["localId"][:6]))
    assert "Python" in shown and "[pass] schema" in shown and "skill: use Python" in shown
    as_json = json.loads(ok(cli("show", python["localId"], "--json")))
    assert as_json["credential"]["name"] == "Python" and as_json["verification"]["verified"]
    # Verify: the 1EdTech sample's issuer key is unknown offline (exit 1) until its
    # controller document is handed in.
    teamwork = next(r for r in listed if r["name"] == "Teamwork Badge" and r["format"] == "json")
    result = cli("verify", teamwork["localId"])
    ok(result, 1)
    assert "not available offline" not in result.stdout or "unknown" in result.stdout
    controller = write_json(
        tmp_path / "controller.json",
        {
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": ISSUER_876543,
            "verificationMethod": [
                {
                    "id": f"{ISSUER_876543}#{KEY_876543}",
                    "type": "Multikey",
                    "controller": ISSUER_876543,
                    "publicKeyMultibase": KEY_876543,
                }
            ],
            "assertionMethod": [f"{ISSUER_876543}#{KEY_876543}"],
        },
    )
    ok(cli("verify", teamwork["localId"], "--did-document", str(controller)))
    assert "valid" in ok(cli("show", teamwork["localId"])).splitlines()[1]
    # Bake.
    ok(cli("bake", python["localId"], "--format", "png", "--out", str(tmp_path / "p.png")))
    baked = json.loads(png_badge_text((tmp_path / "p.png").read_bytes()))
    assert baked["name"] == "Python" and verify(baked, now=NOW).verified
    ok(cli("bake", python["localId"], "--format", "svg", "--out", str(tmp_path / "p.svg")))
    assert b"<openbadges:credential><![CDATA[" in (tmp_path / "p.svg").read_bytes()
    base = BAKED / "ob30/simple-json.png"
    ok(
        cli(
            "bake",
            python["localId"],
            "--format",
            "png",
            "--out",
            str(tmp_path / "b.png"),
            "--image",
            str(base),
        )
    )
    assert json.loads(png_badge_text((tmp_path / "b.png").read_bytes()))["name"] == "Python"
    legacy = json.loads(ok(cli("list", "--status", "legacy", "--json")))[0]
    error = one_line_error(cli("bake", legacy["localId"], "--format", "png", "--out", "x.png"))
    assert "only Open Badges 3.0 credentials can be baked" in error


def test_import_reports_refusals(initialised: Cli, tmp_path: Path) -> None:
    cli = initialised
    bomb_text = zlib.compress(b" " * (5 * 1024 * 1024))
    body = b"openbadgecredential\x00\x01\x00\x00\x00" + bomb_text
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"iTXt", body)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )
    result = cli("import", str(bomb))
    ok(result, 2)
    assert (
        "refused: PNG iTXt 'openbadgecredential': compressed text inflates beyond" in result.stdout
    )
    good = BAKED / "ob30/simple-json.svg"
    result = cli("import", str(bomb), str(good))
    ok(result, 1)  # some refused, some imported
    assert "added" in result.stdout


def test_organise_from_the_cli(initialised: Cli, tmp_path: Path, issuer: Issuer) -> None:
    cli = initialised
    credential = issuer.credential(name="SQL", achievement_id="https://academy.example/a/sql")
    ok(cli("import", str(write_json(tmp_path / "sql.json", credential))))
    lid = json.loads(ok(cli("list", "--json")))[0]["localId"]
    assert "tags: cv, data" in ok(cli("tag", lid, "cv", "data"))
    assert "tags: cv" in ok(cli("tag", lid, "--remove", "data"))
    ok(cli("collection", "create", "Applications", "--description", "jobs"))
    ok(cli("collection", "add", "Applications", lid))
    shown = json.loads(ok(cli("collection", "show", "Applications", "--json")))
    assert [c["name"] for c in shown["credentials"]] == ["SQL"]
    assert "Applications (1) -- jobs" in ok(cli("collection", "list"))
    assert json.loads(ok(cli("list", "--collection", "Applications", "--tag", "cv", "--json")))
    spec = write_json(
        tmp_path / "pathway.json",
        {
            "name": "Data analyst",
            "requirements": [
                {"achievement": "https://academy.example/a/sql", "label": "SQL"},
                {"alignment": "statistics", "label": "Statistics"},
            ],
        },
    )
    ok(cli("pathway", "create", "--file", str(spec)))
    ok(cli("pathway", "create", "Backend", "--skill", "http://esco.example/python"))
    progress = json.loads(ok(cli("pathway", "show", "Data analyst", "--json")))
    assert (progress["met"], progress["needed"], progress["percent"]) == (1, 2, 50)
    text = ok(cli("pathway", "show", "Data analyst"))
    assert "[x] SQL: SQL" in text and "[ ] Statistics" in text
    assert "Data analyst: 1/2 (50%)" in ok(cli("pathway", "list"))
    ok(cli("pathway", "delete", "Backend"))
    ok(cli("remove", lid))
    assert json.loads(ok(cli("list", "--json"))) == []


def test_selfmade_endorse_and_reissue_across_two_wallets(initialised: Cli, tmp_path: Path) -> None:
    cli = initialised
    peer_wallet = tmp_path / "peer.ppw"
    ok(cli("init", *FAST, wallet=peer_wallet, passphrase="peer"))
    created = ok(
        cli(
            "selfmade",
            "create",
            "--name",
            "Repair café",
            "--description",
            "I fix things",
            "--criteria",
            "Ten repairs",
            "--align",
            "repair|http://esco.example/repair",
            "--issuer-name",
            "Earner",
        )
    )
    assert "self-made badge" in created and ": valid" in created
    lid = json.loads(ok(cli("list", "--json")))[0]["localId"]
    request = tmp_path / "request.json"
    ok(cli("selfmade", "request", lid, "--out", str(request), "--message", "please"))
    assert json.loads(request.read_text())["type"] == "PasseportEndorsementRequest"
    endorsement = tmp_path / "endorsement.json"
    result = cli(
        "endorse",
        str(request),
        "--comment",
        "Fixed my bike",
        "--endorser-name",
        "Pat",
        "--out",
        str(endorsement),
        wallet=peer_wallet,
        passphrase="peer",
    )
    ok(result)
    assert "asks you to endorse" in result.stderr
    assert verify(json.loads(endorsement.read_text()), now=datetime.now(UTC)).verified
    ok(cli("import", str(endorsement)))
    assert "endorsed by Pat (valid): Fixed my bike" in ok(cli("show", lid))
    assert "with 1 endorsement(s): valid" in ok(cli("selfmade", "reissue", lid))
    reissued = json.loads(ok(cli("show", lid, "--json")))["credential"]
    assert reissued["endorsement"][0]["credentialSubject"]["endorsementComment"] == "Fixed my bike"
    # A file presentation of the badge, signed by the holder.
    out = tmp_path / "vp.json"
    ok(
        cli(
            "present",
            "--credential",
            lid,
            "--challenge",
            "c-123",
            "--domain",
            "example.org",
            "--out",
            str(out),
        )
    )
    presentation = json.loads(out.read_text())
    report = verify(presentation, now=datetime.now(UTC), challenge="c-123", domain="example.org")
    assert report.verified, report.to_dict()


def test_backup_restore_export_passwd(initialised: Cli, tmp_path: Path) -> None:
    cli = initialised
    ok(cli("import", str(BAKED / "ob30/simple-json.png"), str(BAKED / "ob20/simple.jwt")))
    before = json.loads(ok(cli("list", "--json")))
    backup = tmp_path / "wallet.backup"
    ok(cli("backup", str(backup), *FAST, extra_env={"PASSEPORT_WALLET_BACKUP_PASSPHRASE": "bk"}))
    restored = tmp_path / "restored" / "wallet.ppw"
    result = cli(
        "restore",
        str(backup),
        *FAST,
        wallet=restored,
        passphrase="new home",
        extra_env={"PASSEPORT_WALLET_BACKUP_PASSPHRASE": "bk"},
    )
    assert "restored 2 credential(s)" in ok(result)
    after = json.loads(ok(cli("list", "--json", wallet=restored, passphrase="new home")))
    assert [(r["localId"], r["status"]) for r in after] == [
        (r["localId"], r["status"]) for r in before
    ]
    one_line_error(cli("restore", str(backup), wallet=restored, passphrase="x"))
    export = tmp_path / "export.json"
    ok(cli("export", str(export), "--metadata", str(tmp_path / "meta.json")))
    items = json.loads(export.read_text())
    assert len(items) == 2 and any(isinstance(i, str) for i in items)  # the JWS stays a JWS
    ok(cli("passwd", *FAST, extra_env={"PASSEPORT_WALLET_NEW_PASSPHRASE": "second"}))
    assert "wrong passphrase" in one_line_error(cli("list"))
    assert len(json.loads(ok(cli("list", "--json", passphrase="second")))) == 2


def test_errors_are_one_line(cli: Cli, tmp_path: Path) -> None:
    assert "no wallet here" in one_line_error(cli("list"))
    ok(cli("init", *FAST))
    assert "wrong passphrase" in one_line_error(cli("list", passphrase="nope"))
    assert "no passphrase" in one_line_error(cli("list", passphrase=None))
    assert "no credential 'abcdef'" in one_line_error(cli("show", "abcdef"))
    assert "invalid choice" in one_line_error(cli("list", "--status", "weird"))
    one_line_error(cli("frobnicate"))
    wallet_file = tmp_path / "cli.ppw"
    data = bytearray(wallet_file.read_bytes())
    data[-1] ^= 0xFF
    wallet_file.write_bytes(bytes(data))
    error = one_line_error(cli("list"))
    assert "damaged" in error
    assert wallet_file.read_bytes() == bytes(data)  # untouched


def test_exchange_commands_fail_cleanly(initialised: Cli) -> None:
    cli = initialised
    error = one_line_error(cli("receive", "not an offer at all"))
    assert error.startswith("passeport wallet: error:")
    error = one_line_error(cli("present"))
    assert "give a verifier's REQUEST" in error


def test_add_wallet_commands_wires_into_a_parent_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from wallet.cli import add_wallet_commands

    parser = argparse.ArgumentParser(prog="passeport")
    sub = parser.add_subparsers(dest="command")
    add_wallet_commands(sub)
    monkeypatch.setenv("PASSEPORT_WALLET_PASSPHRASE", PASSPHRASE)
    path = str(tmp_path / "wired.ppw")
    args = parser.parse_args(["wallet", "--wallet", path, "init", *FAST])
    assert args.func(args) == 0
    args = parser.parse_args(["wallet", "--wallet", path, "list", "--json"])
    assert args.func(args) == 0
    args = parser.parse_args(["wallet", "--wallet", path, "show", "nothing"])
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "passeport wallet: error: no credential 'nothing' in the wallet" in err
