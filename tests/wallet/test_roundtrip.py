"""Issue 5 acceptance, on loopback: a node issues, the wallet claims over OID4VCI, presents a
selective proof to a verifier endpoint with a fresh challenge, the verifier accepts; the same
presentation replayed fails.

Real node (aiohttp on a loopback port, SQLite in tmp_path, sealed keys), real wallet file, real
keys and signatures; the wallet talks to the node only through its public URLs. Also: the VC
API exchange both ways, another node verifying through its fetcher (did:web and status list),
``unknown`` when the issuer's status list cannot be had, and share links that expire.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from node.delivery import CONFIG_SD
from tests.node.conftest import Clock, running_node
from tests.wallet.test_exchange_support import EMAIL, World, world
from wallet.client import ExchangeError, receive_async
from wallet.present import PresentationPlan, holder_copy, present_async, share_link_async

NAME_CLAIM = ["credentialSubject", "achievement", "name"]


def _values(document: Any) -> set[str]:
    """Every string in a JSON document."""
    if isinstance(document, dict):
        return {s for v in document.values() for s in _values(v)}
    if isinstance(document, list):
        return {s for v in document for s in _values(v)}
    return {document} if isinstance(document, str) else set()


async def test_issue_claim_present_selectively_and_replay_fails(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        # 1. The node offers a badge to an e-mail; the wallet claims it over OID4VCI.
        offer = await w.offer()
        assert offer["links"]["openidCredentialOffer"].startswith("openid-credential-offer://")
        stored = await receive_async(
            w.wallet, offer["links"]["openidCredentialOffer"], now=w.clock()
        )
        assert len(stored) == 1  # one badge: the eddsa credential with the holder's sd copy
        record = stored[0]
        holder = w.wallet.identities()[0].did
        assert record.document["credentialSubject"]["id"] == holder
        assert record.status == "valid", record.verification
        copy = holder_copy(record)
        assert copy is not None and copy["id"] == record.document["id"]
        assert record.holder_copy_verification is not None
        assert record.holder_copy_verification["verdict"] == "valid"
        # What was received is on disk, sealed.
        record = w.reopen().get(record.local_id)
        assert holder_copy(record) == copy
        secret_values = _values(record.document["credentialSubject"]["identifier"])
        assert any(v.startswith("sha256$") for v in secret_values)

        # 2. A verifier at the node asks for the badge of this achievement, and its name.
        achievement = record.document["credentialSubject"]["achievement"]["id"]
        request = await w.request(
            label="Hiring committee", achievementIds=[achievement], claims=[NAME_CLAIM]
        )
        assert request["status"] == "pending"
        link = request["links"]["openid4vp"]
        assert link.startswith("openid4vp://?client_id=redirect_uri%3A")

        # 3. The wallet shows what it will disclose, then derives, signs and sends.
        shown: list[str] = []

        def confirm(plan: PresentationPlan) -> bool:
            shown.append(plan.summary)
            return True

        result = await present_async(w.wallet, link, select=confirm, now=w.clock())
        assert result.sent and result.response == {"status": "accepted"}
        summary = shown[0]
        assert "selective disclosure (ecdsa-sd-2023)" in summary
        assert "/credentialSubject/achievement/name" in summary
        assert "withheld (not disclosed):\n    /credentialSubject/identifier/0" in summary
        assert not secret_values & set(summary.split())

        # 4. The verifier accepted it; the requester sees the disclosed claims and nothing else.
        seen = await w.result(request["id"])
        assert seen["status"] == "accepted", seen["result"]["errors"]
        assert seen["result"]["verified"] is True
        assert seen["result"]["holders"] == [holder]
        (presented,) = seen["result"]["credentials"]["badge"]
        assert presented["credentialSubject"]["achievement"]["id"] == achievement
        assert "identifier" not in presented["credentialSubject"]
        assert not secret_values & _values(seen["result"])
        proofs = (
            presented["proof"] if isinstance(presented["proof"], list) else [presented["proof"]]
        )
        assert [p["cryptosuite"] for p in proofs] == ["ecdsa-sd-2023"]
        vp_proof = result.vp_token["badge"][0]["proof"]
        vp_proof = vp_proof[0] if isinstance(vp_proof, list) else vp_proof
        assert vp_proof["proofPurpose"] == "authentication"
        assert vp_proof["domain"] == seen["clientId"]

        # 5. The same presentation, replayed, fails -- to the same request and to a new one.
        response_uri = seen["clientId"].removeprefix("redirect_uri:")
        token = json.dumps(result.vp_token)
        state = result.plan.request.state
        assert state is not None
        status, body = await w.post_form(response_uri, {"vp_token": token, "state": state})
        assert status == 400 and "already answered" in body["error_description"]
        assert (await w.result(request["id"]))["status"] == "accepted"

        fresh = await w.request(achievementIds=[achievement], claims=[NAME_CLAIM])
        fresh_object = await _request_object(w, fresh)
        fresh_uri = fresh["clientId"].removeprefix("redirect_uri:")
        status, body = await w.post_form(
            fresh_uri, {"vp_token": token, "state": fresh_object["state"]}
        )
        assert status == 400 and body["status"] == "rejected"
        errors = " ".join((await w.result(fresh["id"]))["result"]["errors"])
        assert "proof domain" in errors


async def _request_object(w: World, request: dict[str, Any]) -> dict[str, Any]:
    """The unsigned request object of a node request (as a wallet would read it)."""
    from wallet.client import parse_jws

    async with w.session.get(w.local(request["links"]["requestUri"])) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/oauth-authz-req+jwt"
        return parse_jws(await resp.text(), allow_unsigned=True).payload


async def test_vc_api_claim_and_vc_api_presentation(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        # The Learner Credential Wallet's way: the interaction URL, DID authentication.
        (record,) = await w.receive("interactionUrl")
        assert record.source.startswith("vcapi:")
        assert record.status == "valid", record.verification
        assert holder_copy(record) is None  # the exchange delivers the eddsa credential only
        request = await w.request(claims=[NAME_CLAIM])
        shown: list[str] = []
        result = await present_async(
            w.wallet,
            request["links"]["interactionUrl"],
            select=lambda plan: shown.append(plan.summary) is None,
            now=w.clock(),
        )
        assert result.sent and result.plan.request.kind == "vcapi"
        assert "presented WHOLE" in shown[0]
        assert result.presentation is not None
        assert result.presentation["proof"]["domain"] == w.node.public_url
        seen = await w.result(request["id"])
        assert seen["status"] == "accepted", seen["result"]["errors"]
        assert seen["transport"] == "vcapi"
        # The exchange works once.
        status, _ = await _exchange(w, request["links"]["vcapiExchange"], result.presentation)
        assert status == 410


async def _exchange(w: World, url: str, presentation: Any) -> tuple[int, Any]:
    async with w.session.post(w.local(url), json={"verifiablePresentation": presentation}) as r:
        return r.status, await r.json(content_type=None)


async def test_another_node_verifies_through_its_fetcher_then_unknown_when_unreachable(
    tmp_path: Path,
) -> None:
    clock = Clock()
    stack = contextlib.AsyncExitStack()
    async with stack:
        issuer = await stack.enter_async_context(world(tmp_path, clock=clock, name="issuer"))
        (record,) = await issuer.receive()
        # The verifying node reaches the issuer's did:web host through its transport map.
        route = {issuer.node.did: issuer.node.base_url}
        async with running_node(tmp_path / "verifier", clock=clock, fetcher=route) as verifier:
            other = World(verifier, clock, issuer.wallet, issuer.path)
            request = await other.request(claims=[NAME_CLAIM])
            result = await present_async(issuer.wallet, request["links"]["openid4vp"], now=clock())
            assert result.response == {"status": "accepted"}
            seen = await other.result(request["id"])
            assert seen["status"] == "accepted", seen["result"]["errors"]
            # The issuer goes offline; its DID document is still in the verifier's cache, its
            # status list is not: the status is unknown, and unknown is not accepted.
            status_url = record.document["credentialStatus"]["statusListCredential"]
            verifier.service("fetcher").forget(status_url)
            await stack.aclose()
            request = await other.request(claims=[NAME_CLAIM])
            with pytest.raises(ExchangeError, match="the status is unknown"):
                await present_async(issuer.wallet, request["links"]["openid4vp"], now=clock())
            seen = await other.result(request["id"])
            assert seen["status"] == "unknown", seen["result"]
            assert seen["result"]["verified"] is False


async def test_share_link_works_until_it_expires(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        (record,) = await w.receive()
        share = await share_link_async(
            w.wallet,
            w.node.public_url,
            [record.local_id],
            now=w.clock(),
            claims=[NAME_CLAIM],
            ttl_seconds=3600,
        )
        assert share.url.startswith(w.node.public_url + "/shares/")
        assert "selective disclosure" in share.summary
        async with w.session.get(w.local(share.url)) as resp:
            assert resp.status == 200
            body = await resp.json()
        assert body["verification"]["verdict"] == "valid"
        shared = body["presentation"]["verifiableCredential"][0]
        assert "identifier" not in shared["credentialSubject"]
        async with w.session.get(w.local(share.url), headers={"Accept": "text/html"}) as resp:
            assert resp.status == 200 and "verified" in await resp.text()
        # The challenge was used: the same presentation cannot be published again.
        async with w.session.post(
            w.node.url("/shares"), json={"presentation": share.presentation}
        ) as resp:
            assert resp.status == 422
        w.clock.advance(3601)
        async with w.session.get(w.local(share.url)) as resp:
            assert resp.status == 410
            assert (await resp.json())["type"].endswith("share-expired")


async def test_share_link_deleted_by_its_holder(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        (record,) = await w.receive()
        share = await share_link_async(
            w.wallet, w.node.public_url, [record.local_id], now=w.clock()
        )
        assert "presented WHOLE" in share.summary  # no claims named: the whole badge
        async with w.session.delete(w.local(share.url)) as resp:
            assert resp.status == 401
        async with w.session.delete(
            w.local(share.url), headers={"Authorization": "Bearer wrong"}
        ) as resp:
            assert resp.status == 403
        async with w.session.delete(
            w.local(share.url), headers={"Authorization": f"Bearer {share.delete_token}"}
        ) as resp:
            assert resp.status == 200
        async with w.session.get(w.local(share.url)) as resp:
            assert resp.status == 410


async def test_sd_copy_only_offer_and_email_badge(tmp_path: Path) -> None:
    """An offer of the base-proof copy alone is stored as it is and still presents."""
    async with world(tmp_path) as w:
        (record,) = await w.receive(configurations=[CONFIG_SD])
        assert holder_copy(record) == record.document
        assert record.status == "valid", record.verification
        request = await w.request(claims=[NAME_CLAIM])
        result = await present_async(w.wallet, request["links"]["openid4vp"], now=w.clock())
        assert result.response == {"status": "accepted"}
        assert EMAIL not in json.dumps(result.vp_token)


#: ``passeport wallet ...`` with the network guard installed (wallet.cli is what the top-level
#: CLI runs for ``wallet``; called directly so that this test does not depend on that wiring).
GUARDED_WALLET_CLI = (
    "import sys; sys.path.insert(0, 'tests'); import netguard; netguard.install(); "
    "from wallet.cli import main; raise SystemExit(main(sys.argv[1:]))"
)
ROOT = Path(__file__).resolve().parents[2]


async def _cli(wallet: Path, *args: str) -> tuple[int, str, str]:
    import asyncio
    import os
    import sys

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        GUARDED_WALLET_CLI,
        "--wallet",
        str(wallet),
        *args,
        cwd=ROOT,
        env={**os.environ, "PASSEPORT_WALLET_PASSPHRASE": "cli passphrase"},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_command_line_receive_and_present(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    # The command line reads the real clock: so does the node here.
    async with world(tmp_path, clock=Clock(datetime.now(UTC))) as w:
        path = tmp_path / "cli.wallet"
        code, _, err = await _cli(path, "init", "--kdf-opslimit", "1", "--kdf-memlimit-kib", "8")
        assert code == 0, err
        offer = await w.offer()
        code, out, err = await _cli(path, "receive", offer["links"]["openidCredentialOffer"])
        assert code == 0, err
        assert "Requesting OpenBadgeCredential_sd" in err  # progress on stderr
        request = await w.request(claims=[NAME_CLAIM])
        # Without a terminal and without --yes, nothing is shared.
        code, out, err = await _cli(path, "present", request["links"]["openid4vp"])
        assert code != 0 and "--yes" in err
        assert "withheld (not disclosed)" in err  # the summary was shown first
        assert (await w.result(request["id"]))["status"] == "pending"
        code, out, err = await _cli(path, "present", request["links"]["openid4vp"], "--yes")
        assert code == 0, err
        assert "accepted" in out
        assert (await w.result(request["id"]))["status"] == "accepted"
