"""The ``"delivery"`` service: create offers, describe them, and deliver their credential once.

An offer is either **deferred** (the default: it holds the issuing parameters, and the credential
is issued by the ``"issuing"`` service at claim time, with the holder DID that the wallet just
proved bound as ``credentialSubject.id``) or **issued** (it points at a credential issued
earlier; it is delivered only to the DID it names, or as it is when it names none).

Both OID4VCI and the VC API exchange end in :meth:`DeliveryService.deliver`, which binds the
offer to the first holder that proves a DID, issues when needed, and hands out each credential
configuration at most once.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from aiohttp import web

from ..appkeys import CONFIG, DB, SERVICES
from ..problems import Problem
from . import store
from .store import Offer

__all__ = [
    "CONFIGURATIONS",
    "CONFIG_EDDSA",
    "CONFIG_SD",
    "DeliveryError",
    "DeliveryService",
    "OfferUnavailable",
]

#: The eddsa-rdfc-2022 credential (what most wallets, and the Learner Credential Wallet, verify).
CONFIG_EDDSA = "OpenBadgeCredential_eddsa"
#: The ecdsa-sd-2023 base-proof copy, for holders who disclose selectively.
CONFIG_SD = "OpenBadgeCredential_sd"
CONFIGURATIONS = (CONFIG_EDDSA, CONFIG_SD)
#: The OID4VCI pre-authorized code grant type.
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
#: Digits of an offer's optional transaction code (PIN).
TX_CODE_DIGITS = 6
#: The VC API workflow that delivers offers (``/workflows/claim/exchanges/{offer id}``).
WORKFLOW = "claim"
#: Where the Learner Credential Wallet's universal link starts (it takes ``?request=<JSON>``).
LCW_REQUEST_URL = "https://lcw.app/request"


class OfferUnavailable(Exception):
    """The offer cannot be used: ``status`` is ``missing``, ``claimed``, ``expired``,
    ``cancelled`` or ``locked``."""

    MESSAGES: ClassVar[dict[str, str]] = {
        "missing": "there is no such offer",
        "claimed": "this offer was already claimed; an offer works once",
        "expired": "this offer has expired; ask the issuer for a new one",
        "cancelled": "this offer was cancelled by the issuer",
        "locked": "this offer is locked after too many wrong transaction codes",
    }

    def __init__(self, status: str) -> None:
        super().__init__(self.MESSAGES.get(status, f"this offer is {status}"))
        self.status = status


class DeliveryError(Exception):
    """Delivery was refused for this holder (``error`` is the OID4VCI error code)."""

    def __init__(self, description: str, *, error: str = "credential_request_denied") -> None:
        super().__init__(description)
        self.error = error
        self.description = description


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _subject_ids(credential: Mapping[str, Any]) -> list[str]:
    subject = credential.get("credentialSubject")
    subjects = subject if isinstance(subject, list) else [subject]
    return [s["id"] for s in subjects if isinstance(s, Mapping) and isinstance(s.get("id"), str)]


class DeliveryService:
    """Offers and their one-time delivery (published as ``app[SERVICES]["delivery"]``)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._locks: dict[str, asyncio.Lock] = {}
        self._lock_users: dict[str, int] = {}

    # -- configuration -------------------------------------------------------------------------

    @property
    def issuer_id(self) -> str:
        """The credential issuer identifier: the node's public URL."""
        return self._app[CONFIG].base_url

    def _url(self, path: str) -> str:
        return self.issuer_id + path

    # -- offers --------------------------------------------------------------------------------

    async def create_offer(
        self,
        *,
        now: datetime,
        achievement_id: str | None = None,
        email: str | None = None,
        subject_did: str | None = None,
        credential_id: str | None = None,
        issue_options: Mapping[str, Any] | None = None,
        tx_code: bool = False,
        ttl_seconds: int | None = None,
        created_by: str | None = None,
        request_id: str | None = None,
        label: str | None = None,
        configurations: tuple[str, ...] = CONFIGURATIONS,
    ) -> tuple[Offer, str | None]:
        """Create a one-time offer; returns it with its transaction code (shown once) if any.

        Either ``credential_id`` (an issued credential) or ``achievement_id`` (deferred
        issuing: ``issuing.issue(achievement_id=..., email=..., subject_did=<holder>,
        **issue_options)`` runs when the wallet claims) must be given.
        """
        config = self._app[CONFIG]
        ttl = config.offer_ttl_seconds if ttl_seconds is None else ttl_seconds
        if not 0 < ttl <= config.offer_ttl_seconds:
            raise ValueError(f"ttl_seconds must be in 1..{config.offer_ttl_seconds}")
        unknown = [c for c in configurations if c not in CONFIGURATIONS]
        if unknown or not configurations:
            raise ValueError(f"unknown credential configurations {unknown}")
        if (credential_id is None) == (achievement_id is None):
            raise ValueError("give either credential_id or achievement_id")
        params: dict[str, Any] | None = None
        if achievement_id is not None:
            params = {"achievement_id": achievement_id}
            if email is not None:
                params["email"] = email
            params.update(issue_options or {})
        code = (
            "".join(secrets.choice("0123456789") for _ in range(TX_CODE_DIGITS))
            if tx_code
            else None
        )
        offer = store.insert_offer(
            self._app[DB],
            kind="deferred" if params is not None else "issued",
            configurations=list(configurations),
            now=now,
            expires_at=now + timedelta(seconds=ttl),
            credential_id=credential_id,
            issue_params=params,
            holder_did=subject_did,
            tx_code=code,
            created_by=created_by,
            request_id=request_id,
            label=label,
        )
        return offer, code

    def get(self, offer_id: str) -> Offer | None:
        """The offer ``offer_id``, or ``None``."""
        return store.get_offer(self._app[DB], offer_id)

    def usable(self, offer_id: str, now: datetime) -> Offer:
        """The offer if it can still be claimed, else :class:`OfferUnavailable`."""
        offer = self.get(offer_id)
        if offer is None:
            raise OfferUnavailable("missing")
        status = offer.status(now)
        if status != "offered":
            raise OfferUnavailable(status)
        return offer

    def cancel(self, offer_id: str) -> bool:
        """Cancel an unclaimed offer (its tokens stop working)."""
        return store.cancel_offer(self._app[DB], offer_id)

    def for_request(self, request_id: str) -> list[Offer]:
        """Offers made for a badge request, newest first."""
        return store.offers_for_request(self._app[DB], request_id)

    # -- the offer's forms ---------------------------------------------------------------------

    def credential_offer(self, offer: Offer) -> dict[str, Any]:
        """The OID4VCI Credential Offer object (section 4.1.1)."""
        grant: dict[str, Any] = {"pre-authorized_code": offer.code}
        if offer.has_tx_code:
            grant["tx_code"] = {
                "input_mode": "numeric",
                "length": TX_CODE_DIGITS,
                "description": "The code the issuer gave you with this offer",
            }
        return {
            "credential_issuer": self.issuer_id,
            "credential_configuration_ids": list(offer.configurations),
            "grants": {PRE_AUTHORIZED_GRANT: grant},
        }

    def exchange_url(self, offer: Offer) -> str:
        """The VC API exchange of this offer."""
        return self._url(f"/workflows/{WORKFLOW}/exchanges/{offer.id}")

    def interaction_url(self, offer: Offer) -> str:
        """The VCALM interaction URL (``?iuv=1``)."""
        return self._url(f"/interactions/{offer.id}?iuv=1")

    def links(self, offer: Offer) -> dict[str, Any]:
        """Every way to reach the offer (all carry its secret: share them with the earner only)."""
        offer_json = json.dumps(self.credential_offer(offer), separators=(",", ":"))
        offer_uri = self._url(f"/offers/{offer.id}/credential-offer")
        exchange = self.exchange_url(offer)
        lcw_request = json.dumps({"protocols": {"vcapi": exchange}}, separators=(",", ":"))
        return {
            "page": self._url(f"/offers/{offer.id}"),
            "credentialOfferUri": offer_uri,
            "openidCredentialOffer": "openid-credential-offer://?"
            + urlencode({"credential_offer_uri": offer_uri}),
            "openidCredentialOfferByValue": "openid-credential-offer://?"
            + urlencode({"credential_offer": offer_json}),
            "interactionUrl": self.interaction_url(offer),
            "vcapiExchange": exchange,
            "lcwDeepLink": f"{LCW_REQUEST_URL}?request={quote(lcw_request, safe='')}",
            "qrPng": self._url(f"/offers/{offer.id}/qr.png"),
            "qrSvg": self._url(f"/offers/{offer.id}/qr.svg"),
        }

    def protocols(self, offer: Offer) -> dict[str, str]:
        """The interaction URL's ``protocols`` object."""
        links = self.links(offer)
        return {"vcapi": links["vcapiExchange"], "OID4VCI": links["openidCredentialOffer"]}

    # -- delivery ------------------------------------------------------------------------------

    async def deliver(
        self, offer_id: str, *, holder: str, configuration: str, now: datetime
    ) -> dict[str, Any]:
        """The credential of ``configuration`` for ``holder`` (who proved the DID), once.

        Raises :class:`OfferUnavailable` or :class:`DeliveryError`.
        """
        # One delivery at a time per offer (the node is one process): two requests for the
        # two configurations of a deferred offer must not issue twice.
        lock = self._locks.setdefault(offer_id, asyncio.Lock())
        self._lock_users[offer_id] = self._lock_users.get(offer_id, 0) + 1
        try:
            async with lock:
                return await self._deliver(
                    offer_id, holder=holder, configuration=configuration, now=now
                )
        finally:
            self._lock_users[offer_id] -= 1
            if not self._lock_users[offer_id]:
                del self._lock_users[offer_id]
                del self._locks[offer_id]

    async def _deliver(
        self, offer_id: str, *, holder: str, configuration: str, now: datetime
    ) -> dict[str, Any]:
        db = self._app[DB]
        offer = self.get(offer_id)
        if offer is None:
            raise OfferUnavailable("missing")
        status = offer.status(now)
        if status not in ("offered", "claimed"):
            raise OfferUnavailable(status)
        if configuration not in offer.configurations:
            raise DeliveryError(
                f"this offer does not carry {configuration!r}",
                error="unknown_credential_configuration",
            )
        if configuration in offer.delivered:
            raise DeliveryError(f"{configuration} was already delivered; an offer works once")
        if offer.holder_did is not None and offer.holder_did != holder:
            raise DeliveryError(
                "this offer is bound to another holder DID; prove that DID to claim it"
            )
        if status == "offered" and not store.bind_holder(db, offer.id, holder):
            raise DeliveryError("this offer is bound to another holder DID")
        credential_id = offer.credential_id
        if credential_id is None:
            try:
                credential_id = await self._issue(offer, holder)
            except Problem as exc:
                # The issuing service refused (a retired achievement, say): nothing was issued.
                store.unbind_holder(db, offer.id)
                raise DeliveryError(
                    f"the issuer cannot issue this credential: {exc.detail}"
                ) from None
            except BaseException:
                store.unbind_holder(db, offer.id)
                raise
            store.set_credential(db, offer.id, credential_id)
        eddsa, sd = await self._copies(credential_id)
        credential = eddsa if configuration == CONFIG_EDDSA else sd
        if credential is None:
            raise DeliveryError(
                f"the credential has no {configuration} copy", error="credential_request_denied"
            )
        subjects = _subject_ids(credential)
        if subjects and holder not in subjects:
            raise DeliveryError(
                "the credential is bound to another DID than the one this wallet proved"
            )
        if not store.mark_delivered(db, offer.id, configuration, now=now):
            raise DeliveryError(f"{configuration} was already delivered; an offer works once")
        return credential

    # -- the issuing service -------------------------------------------------------------------

    def _issuing(self) -> Any:
        issuing = self._app[SERVICES].get("issuing")
        if issuing is None:
            raise DeliveryError("this node has no issuing service", error="server_error")
        return issuing

    async def _issue(self, offer: Offer, holder: str) -> str:
        # The idempotency key makes a retry after a crash between issuing and recording the
        # credential on the offer return the credential issued then, not a second one.
        params = dict(offer.issue_params or {})
        issued = await _maybe_await(
            self._issuing().issue(**params, subject_did=holder, idempotency_key=f"offer-{offer.id}")
        )
        return str(issued.id)

    async def _copies(self, credential_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        issued = await _maybe_await(self._issuing().get(credential_id))
        if issued is None:
            raise DeliveryError(f"credential {credential_id} is not stored", error="server_error")
        if getattr(issued, "state", "issued") in ("revoked", "suspended"):
            raise DeliveryError(f"the credential was {issued.state} by its issuer")
        eddsa = json.loads(issued.text)
        sd = json.loads(issued.sd_text) if issued.sd_text is not None else None
        return eddsa, sd
