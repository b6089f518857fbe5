"""The ``"federation"`` service: membership, this node's feed, applying peers' feeds, the
network catalogue, endorsements, training offers and offline bundles.

Thin wiring over :mod:`protocol.federation`: every format and every check is there; this
module keeps state (registry versions, cursors, the replay cache, the catalogue) and moves
documents between the database, the other services and the peers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from aiohttp import web

from protocol.di import sign, verify_proofs
from protocol.did import Resolver
from protocol.errors import MalformedError, ProtocolError
from protocol.federation import (
    Cursor,
    FeedUpdate,
    Member,
    Registry,
    ReplayError,
    build_bundle,
    build_event,
    build_invitation,
    build_membership_credential,
    build_notice,
    build_registry,
    canonicalize,
    event_hash,
    member_keys,
    packaged_context_digest,
    packaged_context_text,
    resume_after,
    verify_feed_page,
    verify_invitation,
    verify_membership_credential,
    verify_registry,
    verify_registry_chain,
)
from protocol.federation.errors import ImpersonationError, OversizedError
from protocol.keys import KeyPair
from protocol.limits import (
    MAX_EVENT_PAYLOAD_BYTES,
    MAX_FEED_PAGE_EVENTS,
    MAX_INVITATION_LIFETIME_SECONDS,
    MAX_REGISTRY_BYTES,
)
from protocol.ob import build_endorsement
from protocol.timeutil import format_datetime

from ..appkeys import CLOCK, CONFIG, DB, SERVICES
from ..config import NodeConfig
from ..problems import Problem
from .store import Store
from .wire import PeerClient, PeerError, PeerRefused

__all__ = [
    "BUNDLE_CONTEXTS",
    "DOCUMENT_READ_MAX_BYTES",
    "FEED_PAGE_MAX_BYTES",
    "FEED_READ_MAX_BYTES",
    "FederationService",
    "Settings",
    "fts_query",
]

log = logging.getLogger("passeport.node.federation")

#: Largest feed page this node serves, in bytes (at least one event is always served).
FEED_PAGE_MAX_BYTES = 1024 * 1024
#: Largest feed page this node reads from a peer, in bytes: a page of 500 events of the
#: largest size allowed could not be read, but a peer serving pages this large is misbehaving.
FEED_READ_MAX_BYTES = 4 * 1024 * 1024
#: Largest answer read for a registry, join or notice exchange, in bytes.
DOCUMENT_READ_MAX_BYTES = MAX_REGISTRY_BYTES + 64 * 1024
#: Contexts an offline bundle carries (all packaged with Passeport).
BUNDLE_CONTEXTS = (
    "https://www.w3.org/ns/credentials/v2",
    "https://www.w3.org/2018/credentials/v1",
    "https://w3id.org/security/data-integrity/v2",
    "https://w3id.org/security/multikey/v1",
    "https://www.w3.org/ns/did/v1",
    "https://purl.imsglobal.org/spec/ob/v3p0/context.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json",
    "https://passeport.example/ns/federation/v1",
)
#: Default validity of an invitation, in days.
INVITATION_DAYS = 7
#: Validity of a membership credential the steward issues, in days (renewed with each registry).
MEMBERSHIP_DAYS = 365


@dataclass(frozen=True)
class Settings:
    """Federation knobs, read from the ``[federation]`` table of ``node.toml``
    (``NodeConfig.extra["federation"]``); every duration in seconds."""

    #: Pause between two pull rounds when no notice arrives.
    poll_interval: float = 30.0
    #: First retry delay after a failed pull; doubled at each failure up to ``backoff_cap``.
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    #: Delay before notices are sent, so that a burst of local changes makes one notice.
    notify_delay: float = 0.2
    #: Age after which copies of members' DID documents and status lists are fetched again.
    refresh_after: float = 3600.0
    #: Sources pulled at the same time (each source is pulled by one task at a time).
    concurrency: int = 4

    @classmethod
    def from_config(cls, config: NodeConfig) -> Settings:
        raw = config.extra.get("federation", {})
        if not isinstance(raw, Mapping):
            return cls()
        names = {
            "poll_interval_seconds": "poll_interval",
            "backoff_base_seconds": "backoff_base",
            "backoff_cap_seconds": "backoff_cap",
            "notify_delay_seconds": "notify_delay",
            "refresh_after_seconds": "refresh_after",
            "concurrency": "concurrency",
        }
        values: dict[str, Any] = {}
        for key, field_name in names.items():
            if key in raw:
                value = raw[key]
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"federation.{key} must be a non-negative number")
                values[field_name] = int(value) if field_name == "concurrency" else float(value)
        return cls(**values)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return " ".join(str(v) for v in value.values() if isinstance(v, str))
    return ""


def _skills(item: Mapping[str, Any]) -> list[str]:
    """Searchable skill terms of an achievement or offer: alignment names, codes and URLs,
    tags, and an offer's ``skills``."""
    found: list[str] = []
    alignments = item.get("alignment", [])
    for alignment in alignments if isinstance(alignments, list) else [alignments]:
        if isinstance(alignment, Mapping):
            for key in ("targetName", "targetCode", "targetUrl", "targetFramework"):
                value = alignment.get(key)
                if isinstance(value, str) and value:
                    found.append(value)
    for key in ("tag", "skills", "skill", "keywords"):
        values = item.get(key, [])
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str) and value:
                found.append(value)
            elif isinstance(value, Mapping):
                for sub in ("name", "targetName", "id", "targetUrl"):
                    if isinstance(value.get(sub), str):
                        found.append(value[sub])
    return found[:200]


def _language(item: Mapping[str, Any]) -> str:
    for key in ("inLanguage", "language"):
        value = item.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, list) and value and isinstance(value[0], str):
            return value[0]
    return ""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def fts_query(text: str) -> str | None:
    """A user's search words as a safe FTS5 query: every word must match (as a prefix)."""
    words = []
    for raw in text.split():
        word = "".join(ch for ch in raw if ch.isalnum() or ch in "-_'")
        word = word.replace('"', "")
        if word:
            words.append(f'"{word}"*')
    return " ".join(words[:20]) or None


@dataclass
class PageResult:
    """What applying one feed page did."""

    new: int
    duplicates: int
    more: bool
    cursor: Cursor


class FederationService:
    """The federation component's state and operations (published as ``"federation"``)."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.config: NodeConfig = app[CONFIG]
        self.settings = Settings.from_config(self.config)
        self.store = Store(app[DB])
        self._registry: Registry | None = None
        self._registry_lock = asyncio.Lock()
        self.client = PeerClient(
            fetcher=lambda: self._services["fetcher"],
            key=self.signing_key,
            clock=self.now,
        )
        self._notify_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # Set by node.federation.sync when the background loop runs.
        self.syncer: Any = None
        self.closed = False
        self._published_at = float("-inf")

    # -- basics -------------------------------------------------------------------------------

    @property
    def _services(self) -> dict[str, Any]:
        return self.app[SERVICES]

    @property
    def db(self) -> Any:
        return self.store.db

    def now(self) -> datetime:
        """The node's clock."""
        return self.app[CLOCK]()

    @property
    def identity(self) -> Any:
        return self._services["identity"]

    @property
    def fetcher(self) -> Any:
        return self._services["fetcher"]

    @property
    def did(self) -> str:
        """This node's did:web."""
        return str(self.identity.default_issuer())

    @property
    def endpoint(self) -> str:
        """This node's base URL as the registry lists it (with a trailing slash)."""
        return self.config.base_url + "/"

    @property
    def feed_url(self) -> str:
        return self.config.base_url + "/federation/feed"

    def signing_key(self) -> KeyPair:
        """The did:web's current Ed25519 key (events, requests, bundles, endorsements)."""
        return cast(KeyPair, self.identity.signing_key(self.did, "Ed25519"))

    @property
    def network(self) -> str | None:
        return self.store.get_state("network")

    @property
    def steward(self) -> str | None:
        return self.store.get_state("steward")

    @property
    def is_steward(self) -> bool:
        return self.steward is not None and self.steward == self.did

    def _spawn(self, coro: Any) -> asyncio.Task[Any] | None:
        if self.closed:
            coro.close()
            return None
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Cancel the service's background tasks (notices, refreshes); start no new ones."""
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: S110 (shutting down)
                pass

    # -- rejections ---------------------------------------------------------------------------

    def reject(self, *, channel: str, peer: str | None, error: BaseException) -> None:
        """Log and record a refused message (``code`` and reason); nothing of it is stored."""
        if isinstance(error, ProtocolError | PeerError):
            code, reason = error.code, error.message
        elif isinstance(error, Problem):
            code, reason = error.kind, error.detail
        else:
            code, reason = type(error).__name__, str(error)
        log.warning("federation: refused %s from %s: %s (%s)", channel, peer or "?", reason, code)
        self.store.reject(now=self.now(), peer=peer, channel=channel, code=code, reason=reason)

    # -- the registry -------------------------------------------------------------------------

    def registry(self) -> Registry | None:
        """The newest registry version this node verified (cached)."""
        latest = self.store.latest_registry()
        if latest is None:
            return None
        version, text = latest
        if self._registry is not None and self._registry.version == version:
            return self._registry
        steward = self.steward
        if steward is None:
            return None
        document = json.loads(text)
        self._registry = verify_registry(
            document,
            steward_resolver=Resolver({steward: self._steward_document()}),
            now=self.now(),
            steward=steward,
            check_window=False,
        )
        return self._registry

    def require_registry(self) -> Registry:
        registry = self.registry()
        if registry is None:
            raise Problem(409, "not-federated", "this node is not in a network yet")
        return registry

    def _steward_document(self) -> dict[str, Any]:
        steward = self.steward
        if steward == self.did:
            return cast(dict[str, Any], self.identity.did_document())
        for url, _, document, _ in self.store.documents("did"):
            if url == steward:
                return document
        raise Problem(409, "not-federated", "the steward's DID document is not known")

    def me(self) -> Member | None:
        """This node's registry entry, if any."""
        registry = self.registry()
        return None if registry is None else registry.member(self.did)

    def can_publish(self) -> bool:
        """Whether this node is an issuing member now (only then does its feed grow)."""
        member = self.me()
        return member is not None and member.issues and member.active_at(self.now())

    def allowed_url(self, url: str) -> bool:
        """Whether ``url`` is on the origin of a registry member or of the network (the only
        places federation requests go)."""
        origin = _origin(url)
        origins = set()
        network = self.network
        if network:
            origins.add(_origin(network))
        registry = self.registry()
        if registry is not None:
            for member in registry.members:
                origins.add(_origin(member.endpoint))
                origins.add(_origin(member.feed))
        return origin in origins

    async def _request(
        self, method: str, url: str, *, document: Any = None, max_bytes: int, check: bool = True
    ) -> Any:
        if check and not self.allowed_url(url):
            raise PeerRefused(
                url, f"{url} is not on the origin of a network member", code="not-a-peer"
            )
        response = await self.client.request(method, url, document=document, max_bytes=max_bytes)
        return response.json(max_bytes=max_bytes)

    async def resolve(self, did: str) -> dict[str, Any]:
        """A member's DID document through the fetcher; the copy is kept for bundles."""
        if did == self.did:
            return cast(dict[str, Any], self.identity.did_document())
        document = cast(dict[str, Any], await self.fetcher.resolve_did(did))
        self.store.save_document(did, "did", did, document, self.now())
        return document

    async def adopt_registry(
        self, document: Mapping[str, Any], *, steward: str, membership: Mapping[str, Any] | None
    ) -> Registry:
        """Trust ``steward`` (an administrator's decision: joining its network) and take
        ``document`` as the current registry, checked against it."""
        steward_doc = await self.resolve(steward)
        now = self.now()
        registry = await asyncio.to_thread(
            verify_registry,
            document,
            steward_resolver=Resolver({steward: steward_doc}),
            now=now,
            steward=steward,
        )
        current_network = self.network
        if current_network is not None and current_network != registry.network:
            raise Problem(409, "conflict", f"this node is already in network {current_network}")
        if membership is not None:
            await asyncio.to_thread(
                verify_membership_credential,
                membership,
                steward=steward,
                resolver=Resolver({steward: steward_doc}),
                now=now,
                registry=registry,
            )
        with self.db.atomic():
            self.store.set_state("network", registry.network)
            self.store.set_state("network_name", registry.name)
            self.store.set_state("steward", steward)
            if membership is not None:
                self.store.set_state("membership", json.dumps(membership, ensure_ascii=False))
            self.store.add_registry(registry.version, registry.digest, _json(document), now)
        self._registry = registry
        return registry

    async def refresh_registry(self, version: int | None = None) -> Registry | None:
        """Fetch and verify the registry versions after ours (up to ``version`` when known) from
        the steward; each must link to the one before (FED-7)."""
        async with self._registry_lock:
            current = self.registry()
            network = self.network
            steward = self.steward
            if current is None or network is None or steward is None or steward == self.did:
                return current
            documents: list[Any] = []
            target = version
            if target is None:
                latest = await self._request(
                    "GET", f"{network}/registry", max_bytes=DOCUMENT_READ_MAX_BYTES
                )
                subject = latest.get("credentialSubject", {}) if isinstance(latest, dict) else {}
                target = subject.get("registryVersion") if isinstance(subject, dict) else None
                if not isinstance(target, int) or isinstance(target, bool):
                    raise MalformedError("the steward's registry names no version")
            if target <= current.version:
                return current
            if target - current.version > 1000:
                raise MalformedError("the registry is more than 1,000 versions ahead")
            for number in range(current.version + 1, target + 1):
                documents.append(
                    await self._request(
                        "GET", f"{network}/registry/{number}", max_bytes=DOCUMENT_READ_MAX_BYTES
                    )
                )
            steward_doc = await self.resolve(steward)
            registry = await asyncio.to_thread(
                verify_registry_chain,
                documents,
                steward_resolver=Resolver({steward: steward_doc}),
                now=self.now(),
                previous=current,
            )
            now = self.now()
            with self.db.atomic():
                # Each version was checked against the one before; keep them all.
                previous = current
                for document in documents:
                    checked = verify_registry(
                        document,
                        steward_resolver=Resolver({steward: steward_doc}),
                        now=now,
                        previous=previous,
                        check_window=False,
                    )
                    self.store.add_registry(checked.version, checked.digest, _json(document), now)
                    previous = checked
            self._registry = registry
            log.info("federation: registry version %d of %s", registry.version, registry.name)
            return registry

    # -- steward ------------------------------------------------------------------------------

    def _self_member(self, *, now: datetime, roles: tuple[str, ...]) -> Member:
        return Member(
            did=self.did,
            name=self.config.name,
            endpoint=self.endpoint,
            feed=self.feed_url,
            member_from=now.replace(microsecond=0),
            roles=roles,
            keys=member_keys(self.identity.did_document()),
        )

    async def create_network(self, *, name: str) -> Registry:
        """Become the steward of a new network: sign registry version 1 listing this node."""
        if self.network is not None:
            raise Problem(409, "conflict", f"this node is already in network {self.network}")
        now = self.now().replace(microsecond=0)
        network = f"{self.config.base_url}/federation/network"
        me = self._self_member(now=now, roles=("member", "steward"))
        document = await asyncio.to_thread(
            build_registry,
            network=network,
            name=name,
            members=[me],
            steward_key=self.signing_key(),
            created=now,
        )
        registry = verify_registry(
            document,
            steward_resolver=Resolver({self.did: self.identity.did_document()}),
            now=now,
            steward=self.did,
        )
        membership = await asyncio.to_thread(self._membership_for, registry, self.did, now)
        with self.db.atomic():
            self.store.set_state("network", network)
            self.store.set_state("network_name", name)
            self.store.set_state("steward", self.did)
            self.store.set_state("membership", json.dumps(membership, ensure_ascii=False))
            self.store.add_registry(registry.version, registry.digest, _json(document), now)
            self._registry = registry
            self._registry_changed_event(registry)
        self.publish_local()
        return registry

    def _membership_for(self, registry: Registry, did: str, now: datetime) -> dict[str, Any]:
        return build_membership_credential(
            registry=registry,
            member=did,
            steward_key=self.signing_key(),
            credential_id=f"urn:uuid:{uuid.uuid4()}",
            issued=now,
            valid_until=now + timedelta(days=MEMBERSHIP_DAYS),
        )

    def _require_steward(self) -> Registry:
        registry = self.require_registry()
        if not self.is_steward:
            raise Problem(403, "forbidden", "only the network's steward can do this")
        return registry

    def invite(
        self,
        *,
        invitee: str | None = None,
        name: str | None = None,
        roles: tuple[str, ...] = ("member",),
        days: float = INVITATION_DAYS,
    ) -> dict[str, Any]:
        """A signed, single-use invitation to join the network."""
        registry = self._require_steward()
        if not 0 < days * 86400 <= MAX_INVITATION_LIFETIME_SECONDS:
            raise Problem(
                422,
                "invalid-field",
                f"an invitation lasts more than 0 and at most "
                f"{MAX_INVITATION_LIFETIME_SECONDS // 86400} days",
                field="days",
            )
        now = self.now().replace(microsecond=0)
        expires = now + timedelta(days=days)
        nonce = secrets.token_urlsafe(24)
        try:
            document = build_invitation(
                network=registry.network,
                steward_key=self.signing_key(),
                nonce=nonce,
                created=now,
                expires=expires,
                invitee=invitee,
                name=name,
                roles=roles,
            )
        except (ValueError, ProtocolError) as exc:
            message = exc.message if isinstance(exc, ProtocolError) else str(exc)
            raise Problem(422, "invalid-field", message) from None
        self.store.add_invitation(
            nonce=nonce,
            invitee=invitee,
            name=name,
            text=_json(document),
            created=now,
            expires=expires,
        )
        return document

    async def redeem(
        self, body: Any, signer: str, signer_document: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Steward side of joining (FED-10): ``signer`` proved its key by the request's
        signature; the invitation must be ours, unexpired, unused and for ``signer``."""
        registry = self._require_steward()
        if not isinstance(body, Mapping) or not isinstance(body.get("invitation"), Mapping):
            raise MalformedError("a join request carries {invitation, endpoint}")
        endpoint = body.get("endpoint")
        now = self.now().replace(microsecond=0)
        invitation = verify_invitation(
            body["invitation"],
            steward=self.did,
            resolver=Resolver({self.did: self.identity.did_document()}),
            now=now,
            used_nonces=_UsedNonces(self.store),
            invitee=signer,
        )
        if not self.store.invitation_known(invitation.nonce):
            raise ImpersonationError("this invitation was not issued by this steward's node")
        if invitation.network != registry.network:
            raise MalformedError("the invitation is for another network")
        if not isinstance(endpoint, str):
            raise MalformedError("a join request names the member's endpoint")
        from ..identity import did_web_for

        try:
            endpoint_did = did_web_for(endpoint)
        except Exception:
            raise MalformedError(f"not a node endpoint: {endpoint!r}") from None
        if endpoint_did != signer:
            raise ImpersonationError(
                f"the endpoint {endpoint} is the node {endpoint_did}, not the signer {signer}"
            )
        existing = registry.member(signer)
        if existing is not None and existing.active_at(now):
            raise Problem(409, "conflict", f"{signer} is already a member")
        base = endpoint.rstrip("/")
        member = Member(
            did=signer,
            name=invitation.name or base,
            endpoint=base + "/",
            feed=base + "/federation/feed",
            member_from=now,
            roles=invitation.roles,
            keys=member_keys(signer_document),
        )
        registry = await self._next_registry(
            registry.with_member(member), now=now, nonce=invitation.nonce, invitee=signer
        )
        membership = await asyncio.to_thread(self._membership_for, registry, signer, now)
        self.schedule_notify()
        return {"registry": dict(registry.document), "membership": membership}

    async def _next_registry(
        self,
        members: tuple[Member, ...],
        *,
        now: datetime,
        nonce: str | None = None,
        invitee: str | None = None,
    ) -> Registry:
        previous = self._require_steward()
        document = await asyncio.to_thread(
            build_registry,
            network=previous.network,
            name=previous.name,
            members=members,
            steward_key=self.signing_key(),
            created=now,
            previous=previous,
        )
        registry = verify_registry(
            document,
            steward_resolver=Resolver({self.did: self.identity.did_document()}),
            now=now,
            previous=previous,
        )
        with self.db.atomic():
            if nonce is not None and not self.store.use_invitation(nonce, str(invitee), now):
                raise ReplayError("this invitation was already used")
            self.store.add_registry(registry.version, registry.digest, _json(document), now)
            self._registry = registry
            self._registry_changed_event(registry)
        return registry

    def _registry_changed_event(self, registry: Registry) -> None:
        self.append_event(
            "RegistryChanged",
            {
                "registry": f"{registry.network}/registry/{registry.version}",
                "registryVersion": registry.version,
                "registryDigest": registry.digest,
            },
        )

    async def end_membership(self, did: str, *, reason: str, purge: bool = False) -> Registry:
        """Steward: record that ``did`` left or was removed (or purge it) in a new version."""
        registry = self._require_steward()
        if did == self.did:
            raise Problem(409, "conflict", "the steward cannot remove itself")
        member = registry.member(did)
        if member is None:
            raise Problem(404, "not-found", f"{did} is not in the registry")
        now = self.now().replace(microsecond=0)
        if purge:
            members = registry.without_member(did)
        else:
            if member.member_until is not None:
                raise Problem(409, "conflict", f"{did} is no longer a member")
            members = registry.with_member_ended(did, at=now, reason=reason)  # type: ignore[arg-type]
        updated = await self._next_registry(members, now=now)
        self.schedule_notify()
        return updated

    # -- member -------------------------------------------------------------------------------

    async def join(self, invitation: Mapping[str, Any]) -> Registry:
        """Redeem ``invitation`` at its steward; keep the registry and membership credential."""
        if self.network is not None:
            raise Problem(409, "conflict", f"this node is already in network {self.network}")
        steward = invitation.get("issuer")
        subject = invitation.get("credentialSubject")
        network = subject.get("network") if isinstance(subject, Mapping) else None
        if not isinstance(steward, str) or not isinstance(network, str):
            raise MalformedError("not an invitation: it names no issuer or network")
        steward_doc = await self.resolve(steward)
        verify_invitation(
            invitation,
            steward=steward,
            resolver=Resolver({steward: steward_doc}),
            now=self.now(),
            used_nonces=(),
            invitee=self.did,
        )
        try:
            answer = await self._request(
                "POST",
                f"{network}/join",
                document={"invitation": dict(invitation), "endpoint": self.endpoint},
                max_bytes=DOCUMENT_READ_MAX_BYTES,
                check=False,
            )
        except PeerError as exc:
            raise Problem(502, "upstream-error", exc.message) from None
        if not isinstance(answer, Mapping):
            raise MalformedError("the steward's answer is not a JSON object")
        registry = await self.adopt_registry(
            answer.get("registry", {}), steward=steward, membership=answer.get("membership")
        )
        me = registry.member(self.did)
        if me is None or not me.active_at(self.now()):
            raise Problem(502, "upstream-error", "the steward's registry does not list this node")
        self.publish_local()
        self.wake()
        return registry

    async def leave(self) -> Registry:
        """Ask the steward to record that this node leaves the network."""
        registry = self.require_registry()
        if self.is_steward:
            raise Problem(409, "conflict", "the steward cannot leave its own network")
        try:
            answer = await self._request(
                "POST", f"{registry.network}/leave", document={}, max_bytes=DOCUMENT_READ_MAX_BYTES
            )
        except PeerError as exc:
            raise Problem(502, "upstream-error", exc.message) from None
        version = answer.get("registryVersion") if isinstance(answer, Mapping) else None
        updated = await self.refresh_registry(version if isinstance(version, int) else None)
        return updated or registry

    def membership(self) -> dict[str, Any] | None:
        text = self.store.get_state("membership")
        return None if text is None else cast(dict[str, Any], json.loads(text))

    # -- this node's feed ---------------------------------------------------------------------

    def append_event(self, kind: str, payload: Mapping[str, Any]) -> Cursor | None:
        """Sign and append an event to this node's feed (only while it is an issuing member);
        apply it to the local catalogue and schedule notices."""
        member = self.me()
        now = self.now()
        if member is None or not member.issues or not member.active_at(now):
            return None
        # Never date an event before the membership starts (clocks differ between nodes).
        time = max(now, member.member_from).replace(microsecond=0)
        with self.db.atomic():
            head = self.store.head()
            event = build_event(
                key=self.signing_key(),
                seq=head.seq + 1,
                prev=head.hash,
                type=kind,
                time=time,
                payload=payload,
            )
            digest = event_hash(event)
            text = canonicalize(event).decode("utf-8")
            self.store.append_feed(head.seq + 1, digest, kind, event["time"], text)
            self._apply(self.did, head.seq + 1, kind, event["time"], event["payload"])
        self.schedule_notify()
        return Cursor(head.seq + 1, digest)

    def publish_local(self) -> int:
        """Publish what changed locally since the feed last said it: achievements created,
        edited or retired, and status lists re-signed. Returns the number of events."""
        if not self.can_publish():
            return 0
        count = 0
        achievements = self._services.get("achievements")
        if achievements is not None:
            count += self._publish_achievements(achievements)
        status = self._services.get("status")
        if status is not None:
            count += self._publish_status_lists(status)
        return count

    def publish_local_throttled(self, interval: float = 1.0) -> int:
        """:meth:`publish_local`, at most once per ``interval`` seconds (before serving feed
        pages: changes made through the API are published right after their request anyway)."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._published_at < interval:
            return 0
        self._published_at = loop.time()
        return self.publish_local()

    def _publish_achievements(self, service: Any) -> int:
        published = self.store.published("achievement")
        count = 0
        for summary in sorted(service.list(include_retired=True), key=lambda s: str(s["url"])):
            url = str(summary["url"])
            state = "retired" if summary.get("retired") else f"v{summary['version']}"
            before = published.get(url)
            if before == state:
                continue
            if state == "retired":
                if before is None:
                    self.store.set_published(url, "achievement", state, 0)
                    continue
                cursor = self.append_event("AchievementRetired", {"achievement": url})
            else:
                achievement = dict(service.get(summary["id"]))
                cursor = self._publish_achievement(achievement)
            if cursor is None:
                break
            self.store.set_published(url, "achievement", state, cursor.seq)
            count += 1
        return count

    def _publish_achievement(self, achievement: dict[str, Any]) -> Cursor | None:
        payload = {"achievement": achievement}
        if len(canonicalize(payload)) > MAX_EVENT_PAYLOAD_BYTES and "image" in achievement:
            # An embedded image can exceed an event's payload limit: publish without it (the
            # achievement's URL still serves it).
            achievement = {k: v for k, v in achievement.items() if k != "image"}
            payload = {"achievement": achievement}
        try:
            return self.append_event("AchievementPublished", payload)
        except OversizedError as exc:
            log.warning("federation: achievement %s not published: %s", achievement["id"], exc)
            return None

    def _publish_status_lists(self, status: Any) -> int:
        published = self.store.published("statusList")
        count = 0
        for row in status.lists():
            if row.get("issuer") != self.did:
                continue
            url = status.list_url(row["id"])
            state = str(row.get("signed_at"))
            if published.get(url) == state:
                continue
            cursor = self.append_event("StatusListUpdated", {"statusList": url})
            if cursor is None:
                break
            self.store.set_published(url, "statusList", state, cursor.seq)
            count += 1
        return count

    def feed_page(self, after: Cursor, limit: int) -> str:
        """The feed page after ``after`` as JSON text (events verbatim); ChainGapError or
        ForkError when the puller's cursor is not on this feed."""
        head = self.store.head()
        resume_after(after, head=head, hash_at=self.store.feed_hash)
        rows = self.store.feed_after(after.seq, max(1, min(limit, MAX_FEED_PAGE_EVENTS)))
        events: list[str] = []
        size = 0
        last = after
        for seq, hash_, text in rows:
            if events and size + len(text) > FEED_PAGE_MAX_BYTES:
                break
            events.append(text)
            size += len(text) + 1
            last = Cursor(seq, hash_)
        following = str(last) if last.seq < head.seq else None
        return (
            '{"type":"FederationFeedPage","source":'
            + json.dumps(self.did)
            + ',"after":'
            + json.dumps(str(after))
            + ',"events":['
            + ",".join(events)
            + '],"head":'
            + json.dumps(str(head))
            + ',"next":'
            + json.dumps(following)
            + "}"
        )

    # -- notices ------------------------------------------------------------------------------

    def schedule_notify(self) -> None:
        """Notify the other members, shortly (one notice for a burst of events)."""
        if self.closed or (self._notify_task is not None and not self._notify_task.done()):
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # not serving (a command-line export, say): peers will pull anyway
        self._notify_task = self._spawn(self._notify_later())

    async def _notify_later(self) -> None:
        await asyncio.sleep(self.settings.notify_delay)
        await self.notify_peers()

    async def notify_peers(self) -> int:
        """POST a notice of this feed's head to every other active member; returns how many
        accepted it. Failures are only logged: peers pull periodically anyway."""
        registry = self.registry()
        head = self.store.head()
        if registry is None or head.seq == 0:
            return 0
        notice = build_notice(source=self.did, head=head)
        targets = [m for m in registry.active_members(self.now()) if m.did != self.did]

        async def send(member: Member) -> bool:
            url = member.endpoint.rstrip("/") + "/federation/notify"
            try:
                await self._request("POST", url, document=notice, max_bytes=64 * 1024)
            except (PeerError, ProtocolError) as exc:
                log.info("federation: notice to %s failed: %s", member.did, exc)
                return False
            return True

        results = await asyncio.gather(*(send(m) for m in targets))
        return sum(results)

    def wake(self, source: str | None = None) -> None:
        """Ask the background puller to pull now (``source`` only, or everyone)."""
        if self.syncer is not None:
            self.syncer.wake(source)

    # -- applying peers' feeds ----------------------------------------------------------------

    async def fetch_page(self, member: Member, cursor: Cursor) -> Any:
        """One page of ``member``'s feed after ``cursor`` (signed GET through the fetcher)."""
        url = f"{member.feed}?after={cursor}&limit={MAX_FEED_PAGE_EVENTS}"
        if not self.allowed_url(url):
            raise PeerRefused(
                url, f"{url} is not on the origin of a network member", code="not-a-peer"
            )
        response = await self.client.request("GET", url, max_bytes=FEED_READ_MAX_BYTES)
        # Parsing a page of hundreds of events is CPU work: off the event loop.
        return await asyncio.to_thread(response.json, max_bytes=FEED_READ_MAX_BYTES)

    async def apply_page(self, member: Member, page: Any, cursor: Cursor) -> PageResult:
        """Verify a page of ``member``'s feed (all or nothing) and apply its new events in order,
        atomically with the cursor. Raises the verification error; nothing is stored then."""
        registry = self.require_registry()
        source = member.did
        document = await self.resolve(source)
        events = page.get("events") if isinstance(page, Mapping) else None
        seqs = [
            e["seq"]
            for e in (events if isinstance(events, list) else [])
            if isinstance(e, Mapping) and isinstance(e.get("seq"), int)
        ]
        history = self.store.event_hashes(source, [s for s in seqs if s <= cursor.seq])
        now = self.now()
        update, bad_endorsements = await asyncio.to_thread(
            _verify_page, page, source, registry, Resolver({source: document}), now, cursor, history
        )
        if self.store.cursor(source) != cursor:
            raise RuntimeError("the cursor moved while the page was verified")
        registry_version: int | None = None
        lists: list[str] = []
        with self.db.atomic():
            for event in update.events:
                # Stored as compact JSON: serving it again never changes what the proof signs
                # (verifiers canonicalise), and this is far cheaper than RFC 8785 in Python.
                text = json.dumps(
                    dict(event.document), ensure_ascii=False, separators=(",", ":"), sort_keys=True
                )
                self.store.add_event(
                    source=source,
                    seq=event.seq,
                    hash_=event.hash,
                    kind=event.type,
                    time=format_datetime(event.time),
                    text=text,
                    now=now,
                )
                if not event.known_type:
                    continue
                if event.seq in bad_endorsements:
                    continue
                payload = event.payload
                if event.type == "RegistryChanged" and source == self.steward:
                    registry_version = int(payload["registryVersion"])
                elif event.type == "StatusListUpdated":
                    lists.append(str(payload["statusList"]))
                self._apply(source, event.seq, event.type, format_datetime(event.time), payload)
            self.store.set_cursor(source, update.cursor, now)
        for seq, error in bad_endorsements.items():
            self.reject(channel=f"feed event {seq} (endorsement)", peer=source, error=error)
        if registry_version is not None:
            try:
                await self.refresh_registry(registry_version)
            except (PeerError, ProtocolError) as exc:
                self.reject(channel="registry", peer=self.steward, error=exc)
        for url in dict.fromkeys(lists):
            self._spawn(self.refresh_status_list(url, source))
        return PageResult(
            new=len(update.events),
            duplicates=update.duplicates,
            more=update.more,
            cursor=update.cursor,
        )

    def _apply(
        self, source: str, seq: int, kind: str, time: str, payload: Mapping[str, Any]
    ) -> None:
        """Apply one verified event of ``source`` to the catalogue (inside a transaction)."""
        now = self.now()
        if kind == "AchievementPublished":
            item = payload["achievement"]
            self.store.upsert_item(
                item_id=str(item["id"]),
                kind="achievement",
                source=source,
                name=_text(item.get("name")),
                description=_text(item.get("description")),
                skills=_skills(item),
                language=_language(item),
                document=item,
                seq=seq,
                now=now,
            )
        elif kind == "TrainingOfferPublished":
            item = payload["offer"]
            self.store.upsert_item(
                item_id=str(item["id"]),
                kind="offer",
                source=source,
                name=_text(item.get("name")),
                description=_text(item.get("description")),
                skills=_skills(item),
                language=_language(item),
                document=item,
                seq=seq,
                now=now,
            )
        elif kind in ("AchievementRetired", "TrainingOfferRetired"):
            key = "achievement" if kind == "AchievementRetired" else "offer"
            self.store.retire_item(str(payload[key]), source, seq, now)
        elif kind == "EndorsementIssued":
            endorsement = payload["endorsement"]
            subject = endorsement.get("credentialSubject", {})
            self.store.add_endorsement(
                endorsement_id=str(endorsement.get("id") or f"{source}#event-{seq}"),
                endorser=source,
                subject=str(subject.get("id", "")) if isinstance(subject, Mapping) else "",
                text=_json(endorsement),
                time=time,
            )

    async def refresh_status_list(self, url: str, owner: str) -> bool:
        """Fetch ``owner``'s status list at ``url`` again, check its signature and keep it."""
        try:
            self.fetcher.forget(url)
            fetched = await self.fetcher.status_list(url, issuer=owner)
            document = fetched.document
            issuer = document.get("issuer") if isinstance(document, Mapping) else None
            issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
            if issuer_id != owner:
                raise ImpersonationError(f"the status list {url} is issued by {issuer_id!r}")
            did_document = await self.resolve(owner)
            results = await asyncio.to_thread(
                verify_proofs, document, resolver=Resolver({owner: did_document}), now=self.now()
            )
            if not results or not all(r.verified for r in results):
                errors = [str(r.error) for r in results if r.error is not None]
                raise MalformedError(f"the status list {url} does not verify: {errors}")
        except (ProtocolError, Problem) as exc:
            self.reject(channel=f"status list {url}", peer=owner, error=exc)
            return False
        self.store.save_document(url, "statusList", owner, document, self.now())
        return True

    async def refresh_copies(self) -> None:
        """Fetch members' DID documents and status lists whose copies are getting old."""
        registry = self.registry()
        if registry is None:
            return
        now = self.now()
        limit = timedelta(seconds=self.settings.refresh_after)
        for member in registry.active_members(now):
            if member.did == self.did:
                continue
            when = self.store.document_time(member.did)
            if when is None or now - when > limit:
                try:
                    await self.resolve(member.did)
                except (Problem, ProtocolError) as exc:
                    log.info("federation: DID document of %s not refreshed: %s", member.did, exc)
        for url, owner, _, when in self.store.documents("statusList"):
            if now - when > limit and registry.member(owner) is not None:
                await self.refresh_status_list(url, owner)

    # -- catalogue ----------------------------------------------------------------------------

    def search(
        self,
        *,
        q: str | None = None,
        skill: str | None = None,
        issuer: str | None = None,
        lang: str | None = None,
        kind: str | None = None,
        retired: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Search the local copy of the network catalogue."""
        registry = self.registry()
        issuers: list[str] | None = None
        if issuer:
            issuers = [issuer]
            if registry is not None:
                wanted = issuer.casefold()
                issuers += [m.did for m in registry.members if wanted in m.name.casefold()]
        query = fts_query(q) if q else None
        if q and query is None:
            return {"total": 0, "items": []}
        total, rows = self.store.search(
            q=query,
            skill=skill,
            issuers=issuers,
            lang=lang,
            kind=kind,
            retired=retired,
            limit=limit,
            offset=offset,
        )
        return {"total": total, "items": [self._item_json(row, registry) for row in rows]}

    def _item_json(self, row: Mapping[str, Any], registry: Registry | None) -> dict[str, Any]:
        member = registry.member(row["source"]) if registry is not None else None
        endorsements = []
        for found in self.store.endorsements_of(row["id"]):
            document = json.loads(found["document"])
            endorser = registry.member(found["endorser"]) if registry is not None else None
            subject = document.get("credentialSubject", {})
            endorsements.append(
                {
                    "id": found["id"],
                    "endorser": found["endorser"],
                    "endorserName": endorser.name if endorser is not None else None,
                    "comment": subject.get("endorsementComment")
                    if isinstance(subject, dict)
                    else None,
                    "issued": found["time"],
                }
            )
        return {
            "id": row["id"],
            "kind": row["kind"],
            "issuer": row["source"],
            "issuerName": member.name if member is not None else None,
            "name": row["name"],
            "language": row["language"] or None,
            "retired": bool(row["retired"]),
            "updatedAt": row["updated_at"],
            "document": json.loads(row["document"]),
            "endorsements": endorsements,
        }

    def catalogue_item(self, item_id: str) -> dict[str, Any] | None:
        row = self.store.item(item_id)
        return None if row is None else self._item_json(row, self.registry())

    # -- endorsements -------------------------------------------------------------------------

    async def endorse(self, achievement_id: str, *, comment: str | None = None) -> dict[str, Any]:
        """Endorse another member's achievement: an OB 3.0 EndorsementCredential signed by this
        node's did:web (eddsa-rdfc-2022), kept and published in the feed."""
        if not self.can_publish():
            raise Problem(409, "not-federated", "only an active issuing member can endorse")
        item = self.store.item(achievement_id)
        if item is None or item["kind"] != "achievement":
            raise Problem(404, "not-found", f"no achievement {achievement_id} in the catalogue")
        if item["source"] == self.did:
            raise Problem(422, "invalid-field", "a member endorses other members' achievements")
        if item["retired"]:
            raise Problem(409, "conflict", "the achievement is retired")
        if comment is not None and (not isinstance(comment, str) or len(comment) > 5000):
            raise Problem(422, "invalid-field", "comment is a text of at most 5000 characters")
        now = self.now().replace(microsecond=0)
        endorsement_id = f"{self.config.base_url}/federation/endorsements/{uuid.uuid4()}"
        unsigned = build_endorsement(
            issuer=self.identity.profile(self.did),
            subject_id=achievement_id,
            credential_id=endorsement_id,
            valid_from=now,
            name=f"Endorsement of {item['name']}"[:300],
            comment=comment,
        )
        signed = await asyncio.to_thread(sign, unsigned, key=self.signing_key(), created=now)
        cursor = self.append_event("EndorsementIssued", {"endorsement": signed})
        if cursor is None:
            raise Problem(409, "not-federated", "only an active issuing member can endorse")
        return signed

    def endorsement(self, endorsement_id: str) -> dict[str, Any] | None:
        row = self.store.endorsement(endorsement_id)
        return None if row is None else cast(dict[str, Any], json.loads(row["document"]))

    def endorsements_for(self, achievement_id: str) -> list[dict[str, Any]]:
        """Verified endorsements of ``achievement_id`` by current members, to embed in the
        ``endorsement`` of credentials issued for it."""
        registry = self.registry()
        now = self.now()
        out = []
        for row in self.store.endorsements_of(achievement_id):
            member = registry.member(row["endorser"]) if registry is not None else None
            if member is None or not member.active_at(now):
                continue
            out.append(cast(dict[str, Any], json.loads(row["document"])))
        return out

    def endorsed_achievement(self, achievement: Mapping[str, Any]) -> dict[str, Any]:
        """``achievement`` with the network's endorsements of it added to its ``endorsement``
        (for the issuing service, so that endorsements travel with earners' badges)."""
        result = dict(achievement)
        found = self.endorsements_for(str(achievement.get("id")))
        if found:
            existing = result.get("endorsement", [])
            existing = list(existing) if isinstance(existing, list) else [existing]
            known = {e.get("id") for e in existing if isinstance(e, Mapping)}
            result["endorsement"] = existing + [e for e in found if e.get("id") not in known]
        return result

    # -- training offers ----------------------------------------------------------------------

    def save_offer(self, data: Any, offer_id: str | None = None) -> dict[str, Any]:
        """Create or update a training offer and publish it."""
        if not isinstance(data, Mapping):
            raise Problem(422, "invalid-field", "an offer is a JSON object")
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 300:
            raise Problem(422, "invalid-field", "name is required (at most 300 characters)")
        if offer_id is None:
            offer_id = str(uuid.uuid4())
        elif self.store.offer(offer_id) is None:
            raise Problem(404, "not-found", f"no offer {offer_id}")
        url = f"{self.config.base_url}/federation/offers/{offer_id}"
        document = {k: v for k, v in data.items() if k not in ("id", "type")}
        document = {"id": url, "type": "TrainingOffer", **document}
        if len(canonicalize(document)) > MAX_EVENT_PAYLOAD_BYTES - 1024:
            raise Problem(422, "invalid-field", "the offer is too large")
        now = self.now()
        with self.db.atomic():
            self.store.save_offer(offer_id, document, now)
            self.append_event("TrainingOfferPublished", {"offer": document})
        return document

    def retire_offer(self, offer_id: str) -> None:
        row = self.store.offer(offer_id)
        if row is None:
            raise Problem(404, "not-found", f"no offer {offer_id}")
        if row["retired_at"] is not None:
            return
        url = f"{self.config.base_url}/federation/offers/{offer_id}"
        with self.db.atomic():
            self.store.retire_offer(offer_id, self.now())
            self.append_event("TrainingOfferRetired", {"offer": url})

    # -- offline bundles ----------------------------------------------------------------------

    def bundle(self) -> dict[str, Any]:
        """An offline verification bundle signed by this node (FED-19): the registry, every
        member's DID document, the current status lists and the contexts, each with the time it
        was retrieved."""
        registry = self.require_registry()
        now = self.now().replace(microsecond=0)
        retrieved: dict[str, datetime] = {}
        documents: dict[str, Mapping[str, Any]] = {}
        lists: dict[str, Mapping[str, Any]] = {}
        copies = {url: (document, when) for url, _, document, when in self.store.documents("did")}
        wanted = {m.did for m in registry.members} | {registry.steward}
        for did in sorted(wanted):
            if did == self.did:
                documents[did] = self.identity.did_document()
                retrieved[did] = now
            elif did in copies:
                documents[did], retrieved[did] = copies[did]
        status = self._services.get("status")
        if status is not None:
            for row in status.lists():
                if row.get("issuer") == self.did:
                    url = status.list_url(row["id"])
                    lists[url] = status.list_credential(row["id"], now=now)
                    retrieved[url] = now
        for url, owner, document, when in self.store.documents("statusList"):
            if owner in wanted and owner != self.did:
                lists[url] = document
                retrieved[url] = min(when, now)
        contexts = {}
        for url in BUNDLE_CONTEXTS:
            if packaged_context_digest(url) is not None:
                contexts[url] = packaged_context_text(url)
                retrieved[url] = now
        retrieved[str(registry.document.get("id"))] = now
        return build_bundle(
            registry=registry,
            did_documents=documents,
            status_lists=lists,
            contexts=contexts,
            retrieved_at=retrieved,
            created=now,
            signer=self.signing_key(),
        )

    # -- status -------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The node's view of the network (for staff and tests)."""
        registry = self.registry()
        head = self.store.head()
        peers = {p["did"]: p for p in self.store.peers()}
        members = []
        if registry is not None:
            now = self.now()
            for member in registry.members:
                peer = peers.get(member.did, {})
                members.append(
                    {
                        "did": member.did,
                        "name": member.name,
                        "roles": list(member.roles),
                        "active": member.active_at(now),
                        "endpoint": member.endpoint,
                        "cursor": str(self.store.cursor(member.did)) if peer else None,
                        "failures": peer.get("failures", 0),
                        "lastError": peer.get("last_error"),
                        "lastSuccessAt": peer.get("last_success_at"),
                        "blocked": peer.get("blocked"),
                        "events": self.store.event_count(member.did)
                        if member.did != self.did
                        else head.seq,
                    }
                )
        return {
            "did": self.did,
            "network": self.network,
            "networkName": registry.name if registry is not None else None,
            "steward": self.steward,
            "role": "steward" if self.is_steward else ("member" if registry else None),
            "registryVersion": registry.version if registry is not None else None,
            "head": str(head),
            "members": members,
            "catalogue": self.store.catalogue_count(),
        }


class _UsedNonces:
    """Invitation nonces already redeemed (``Container`` for ``verify_invitation``)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __contains__(self, nonce: object) -> bool:
        return isinstance(nonce, str) and self._store.invitation_used(nonce)


def _json(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _verify_page(
    page: Any,
    source: str,
    registry: Registry,
    resolver: Resolver,
    now: datetime,
    cursor: Cursor,
    history: Mapping[int, str],
) -> tuple[FeedUpdate, dict[int, ProtocolError]]:
    """Verify a feed page (in a worker thread): the events, then the endorsements they carry.

    Returns the update and, by seq, the endorsements that fail (their events keep their place
    in the chain, but the endorsements are not stored).
    """
    if not isinstance(page, Mapping):
        raise MalformedError("a feed page is a JSON object")
    update = verify_feed_page(
        page,
        source=source,
        registry=registry,
        resolver=resolver,
        now=now,
        last_seen=cursor,
        history=history.get,
    )
    bad: dict[int, ProtocolError] = {}
    for event in update.events:
        if event.type != "EndorsementIssued" or not event.known_type:
            continue
        endorsement = event.payload["endorsement"]
        try:
            subject = endorsement.get("credentialSubject")
            if not isinstance(subject, Mapping) or not isinstance(subject.get("id"), str):
                raise MalformedError("the endorsement names no subject")
            if not isinstance(endorsement.get("id"), str):
                raise MalformedError("the endorsement has no id")
            results = verify_proofs(endorsement, resolver=resolver, now=now)
            if not results:
                raise MalformedError("the endorsement carries no proof")
            for result in results:
                if result.error is not None:
                    raise result.error
                if result.controller != source:
                    raise ImpersonationError(
                        f"the endorsement is signed by {result.controller}, not by {source}"
                    )
        except ProtocolError as exc:
            bad[event.seq] = exc
    return update, bad
