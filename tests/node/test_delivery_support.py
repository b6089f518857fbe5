"""Helpers for the delivery, badge-request and end-to-end tests (no tests here).

* :class:`Harness`: a running node (``tests/node/conftest.py``) with its clock, that maps the
  node's public URLs (``http://localhost:<port>``) to where it listens (``127.0.0.1``);
* a small OID4VCI wallet client (:meth:`Harness.claim`) and proof builders
  (:func:`di_vp_proof`, :func:`jwt_proof`) on protocol.keys and protocol.presentation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from node.delivery import CONFIG_EDDSA
from node.delivery.jws import sign_compact
from protocol.did import key_pair_as_did_key
from protocol.keys import KeyPair, generate
from protocol.presentation import build_presentation, sign_presentation

ISSUER_CONFIG_PATH = "/.well-known/openid-credential-issuer"
PRE_AUTH = "urn:ietf:params:oauth:grant-type:pre-authorized_code"


def wallet_key(algorithm: str = "Ed25519") -> KeyPair:
    """A fresh holder key bound to its did:key."""
    return key_pair_as_did_key(generate(algorithm))  # type: ignore[arg-type]


def di_vp_proof(
    key: KeyPair, *, nonce: str, domain: str, now: datetime, suite: str | None = None
) -> dict[str, Any]:
    """An OID4VCI ``di_vp`` proof: a VP signed for ``authentication`` with the c_nonce."""
    presentation = build_presentation(holder=key.controller or "", credentials=[])
    if suite is None:
        suite = "eddsa-rdfc-2022" if key.algorithm == "Ed25519" else "ecdsa-rdfc-2019"
    return sign_presentation(
        presentation, key=key, challenge=nonce, domain=domain, created=now, suite=suite
    )


def jwt_proof(
    key: KeyPair,
    *,
    nonce: str,
    aud: str,
    now: datetime,
    typ: str = "openid4vci-proof+jwt",
    kid: str | None = None,
) -> str:
    """An OID4VCI ``jwt`` key proof."""
    alg = "EdDSA" if key.algorithm == "Ed25519" else "ES256"
    header = {"alg": alg, "typ": typ, "kid": kid or key.id}
    claims = {"aud": aud, "iat": int(now.timestamp()), "nonce": nonce}
    return sign_compact(header, claims, key)


@dataclass
class Harness:
    """A running node, its clock, and a wallet that talks to it."""

    node: Any  # tests/node/conftest.py RunningNode
    clock: Callable[[], datetime]

    @property
    def session(self) -> aiohttp.ClientSession:
        return self.node.session  # type: ignore[no-any-return]

    @property
    def issuer(self) -> str:
        """The credential issuer identifier (the node's public URL)."""
        return self.node.public_url  # type: ignore[no-any-return]

    @property
    def staff(self) -> dict[str, str]:
        return self.node.auth  # type: ignore[no-any-return]

    def url(self, link: str) -> str:
        """Where to send a request for one of the node's public URLs (or a path)."""
        if link.startswith("/"):
            return self.node.base_url + link  # type: ignore[no-any-return]
        if link.startswith(self.node.public_url):
            return self.node.base_url + link[len(self.node.public_url) :]  # type: ignore[no-any-return]
        return link

    async def get_json(self, link: str, **kwargs: Any) -> Any:
        async with self.session.get(self.url(link), **kwargs) as resp:
            assert resp.status == 200, (link, resp.status, await resp.text())
            return await resp.json(content_type=None)

    async def offer(self, **body: Any) -> dict[str, Any]:
        """Create an offer through the staff API (default: a sample achievement, an e-mail)."""
        if "achievementId" not in body and "credentialId" not in body:
            body = {"achievementId": self.node.samples[0], "email": "ada@example.org", **body}
        async with self.session.post(
            self.url("/api/offers"), json=body, headers=self.staff
        ) as resp:
            assert resp.status == 201, await resp.text()
            return dict(await resp.json())

    async def _credential_offer(self, link: str) -> dict[str, Any]:
        query = parse_qs(urlsplit(link).query)
        if "credential_offer" in query:
            import json

            return dict(json.loads(query["credential_offer"][0]))
        async with self.session.get(self.url(query["credential_offer_uri"][0])) as resp:
            body = await resp.json(content_type=None)
            assert resp.status == 200, f"invalid_grant: offer unavailable ({body})"
            return dict(body)

    async def token(self, link: str, tx_code: str | None = None) -> str:
        """Follow an offer link to an access token (AssertionError naming the OAuth error)."""
        offer = await self._credential_offer(link)
        as_meta = await self.get_json(
            offer["credential_issuer"] + "/.well-known/oauth-authorization-server"
        )
        form = {
            "grant_type": PRE_AUTH,
            "pre-authorized_code": offer["grants"][PRE_AUTH]["pre-authorized_code"],
        }
        if tx_code is not None:
            form["tx_code"] = tx_code
        async with self.session.post(self.url(as_meta["token_endpoint"]), data=form) as resp:
            token = await resp.json()
            assert resp.status == 200, f"{token.get('error')}: {token.get('error_description')}"
        return str(token["access_token"])

    async def nonce(self) -> str:
        async with self.session.post(self.url("/nonce")) as resp:
            assert resp.status == 200
            assert resp.headers["Cache-Control"] == "no-store"
            return str((await resp.json())["c_nonce"])

    async def request(self, token: str, body: dict[str, Any]) -> tuple[int, Any]:
        """One credential request; returns (status, JSON body)."""
        async with self.session.post(
            self.url("/credential"), json=body, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            return resp.status, await resp.json()

    async def claim(
        self,
        link: str,
        key: KeyPair,
        *,
        proof: str = "di_vp",
        tx_code: str | None = None,
        configurations: Sequence[str] | None = None,
    ) -> Any:
        """Claim an offer link as an OID4VCI wallet; the credential (a list of them when
        ``configurations`` is given). Failures raise AssertionError naming the OAuth error."""
        offer = await self._credential_offer(link)
        issuer = offer["credential_issuer"]
        metadata = await self.get_json(issuer + ISSUER_CONFIG_PATH)
        assert metadata["credential_issuer"] == issuer
        token = await self.token(link, tx_code)
        wanted = list(configurations) if configurations is not None else [CONFIG_EDDSA]
        credentials = []
        for configuration in wanted:
            assert configuration in offer["credential_configuration_ids"]
            async with self.session.post(self.url(metadata["nonce_endpoint"])) as resp:
                nonce = (await resp.json())["c_nonce"]
            if proof == "jwt":
                proofs: dict[str, Any] = {
                    "jwt": [jwt_proof(key, nonce=nonce, aud=issuer, now=self.clock())]
                }
            else:
                proofs = {"di_vp": [di_vp_proof(key, nonce=nonce, domain=issuer, now=self.clock())]}
            async with self.session.post(
                self.url(metadata["credential_endpoint"]),
                json={"credential_configuration_id": configuration, "proofs": proofs},
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                body = await resp.json()
                assert resp.status == 200, f"{body.get('error')}: {body.get('error_description')}"
                assert resp.headers["Cache-Control"] == "no-store"
            credentials.append(body["credentials"][0]["credential"])
        return credentials if configurations is not None else credentials[0]
