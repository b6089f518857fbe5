"""Issue 4 acceptance, end to end on loopback, through the real command line:

``passeport node init`` and ``passeport node serve`` (a separate process, network guard on),
create an achievement, issue to an e-mail (an offer: the credential is signed when the wallet
claims it), claim the offer with a wallet key over OID4VCI (pre-authorized code -> token ->
nonce -> credential with a ``di_vp`` proof), verify the credential (did:web document and status
list fetched from the running node), revoke it, verify again: revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from protocol.did import Resolver
from protocol.ob import hashed_email_identity
from protocol.verify import verify
from tests.node.test_delivery_support import Harness, wallet_key

ROOT = Path(__file__).resolve().parents[2]
#: ``passeport ARGS`` with the network guard installed.
GUARDED = ROOT / "tests" / "guarded.py"
#: Seconds to wait for the node process to start listening.
START_TIMEOUT = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _cli(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(GUARDED),
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, (args, out.decode(), err.decode())
    return out.decode()


@dataclass
class ServedNode:
    """What the wallet-side harness needs from a node (conftest's RunningNode shape)."""

    base_url: str
    public_url: str
    token: str
    session: aiohttp.ClientSession
    did: str
    samples: list[str]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextlib.asynccontextmanager
async def served_node(tmp_path: Path) -> AsyncIterator[ServedNode]:
    port = _free_port()
    data = tmp_path / "node"
    public = f"http://localhost:{port}"
    out = await _cli(
        "node",
        "init",
        "--data",
        str(data),
        "--url",
        public,
        "--name",
        "E2E University",
        "--admin-email",
        "admin@example.org",
    )
    assert "did:web:localhost%3A" in out
    out = await _cli("node", "token", "create", "--data", str(data), "--scope", "admin")
    token = out.strip().splitlines()[-1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(GUARDED),
        "node",
        "serve",
        "--data",
        str(data),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        banner = []
        async with asyncio.timeout(START_TIMEOUT):
            while True:
                line = (await proc.stdout.readline()).decode()
                assert line, "the node exited: " + "".join(banner)
                banner.append(line)
                if "listening on" in line:
                    break
        session = aiohttp.ClientSession()
        try:
            did = "did:web:" + public.removeprefix("http://").replace(":", "%3A")
            yield ServedNode(f"http://127.0.0.1:{port}", public, token, session, did, [])
        finally:
            await session.close()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(20):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, proc.returncode


async def _verify(h: Harness, credential: dict[str, Any]) -> Any:
    """Verify as an outside verifier would: fetch the DID document and the status list from
    the node, hand them to the pure verifier."""
    did_document = await h.get_json("/.well-known/did.json")
    status_url = credential["credentialStatus"]["statusListCredential"]
    status_list = await h.get_json(status_url)
    return verify(
        credential,
        now=datetime.now(UTC),
        resolver=Resolver({h.node.did: did_document}),
        status_lists={status_url: status_list},
    )


@pytest.mark.timeout(300)
async def test_init_serve_issue_claim_verify_revoke(tmp_path: Path) -> None:
    async with served_node(tmp_path) as node:
        h = Harness(node, lambda: datetime.now(UTC))
        # Staff create an achievement...
        async with h.session.post(
            h.url("/api/achievements"),
            headers=h.staff,
            json={
                "name": "Open Science Practitioner",
                "description": "Shares data and code openly.",
                "criteria": {"narrative": "Published an open data set with its code."},
            },
        ) as resp:
            assert resp.status == 201, await resp.text()
            achievement = (await resp.json())["id"]
        # ...and issue it to an e-mail address: a one-time offer.
        offer = await h.offer(achievementId=achievement, email="Ada@Example.org")
        assert offer["status"] == "offered"
        # The earner's wallet claims it over OID4VCI with a di_vp proof.
        key = wallet_key()
        credential = await h.claim(offer["links"]["openidCredentialOffer"], key, proof="di_vp")
        subject = credential["credentialSubject"]
        assert subject["id"] == key.controller
        assert subject["achievement"]["name"] == "Open Science Practitioner"
        identifier = subject["identifier"][0]
        expected = hashed_email_identity("ada@example.org", identifier["salt"])
        assert identifier["identityHash"] == expected["identityHash"]
        assert credential["issuer"]["id"] == node.did
        # Verified by an outside verifier with the node's did:web document and status list.
        report = await _verify(h, credential)
        assert report.verdict == "valid", report.to_dict()
        # The node's own verifier agrees.
        async with h.session.post(
            h.url("/credentials/verify"), json={"verifiableCredential": credential}
        ) as resp:
            assert resp.status == 200, await resp.text()
        # Revoke, verify again: revoked.
        async with h.session.post(
            h.url(f"/api/credentials/{credential['id']}/revoke"),
            headers=h.staff,
            json={"reason": "issued in error"},
        ) as resp:
            assert resp.status == 200, await resp.text()
        report = await _verify(h, credential)
        assert report.verdict == "invalid", report.to_dict()
        status_checks = [c for c in report.checks if c.check.startswith("status")]
        assert status_checks and status_checks[0].status == "fail"
        assert "revo" in status_checks[0].reason
        # The offer worked once.
        with pytest.raises(AssertionError, match="invalid_grant"):
            await h.claim(offer["links"]["openidCredentialOffer"], key)
