"""Federation feeds: signed, append-only, hash-linked events per member, cursors, feed pages and
push notices (``specs/federation.md``, "Events", "Cursors", "Feed pages", "Notices").

Every member publishes its own chain of events. Event ``seq`` n+1 names the digest of event n in
``prev``, so a puller that remembers only the last ``(seq, hash)`` of each source detects a gap
(missing events), a fork (the source signed two different events at one position) and a replay
(an event already applied: a harmless no-op). Each event carries one eddsa-jcs-2022 Data
Integrity proof by a key of its ``source``; the source must be a registry member at the event's
``time``.

Events are plain JSON canonicalised with RFC 8785, not JSON-LD: a network of thirty members with
a thousand achievements each is thirty thousand events to verify when a node joins, and JCS
keeps each verification to tens of microseconds where RDFC-1.0 would take milliseconds.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from ..did import Resolver
from ..errors import MalformedError
from ..keys import KeyPair
from ..limits import (
    MAX_CLOCK_SKEW_SECONDS,
    MAX_EVENT_BYTES,
    MAX_EVENT_PAYLOAD_BYTES,
    MAX_FEED_PAGE_EVENTS,
)
from ..timeutil import format_datetime, require_aware
from . import _common as c
from .errors import ChainGapError, ForkError, ImpersonationError, NotAMemberError, OversizedError
from .jcs import canonicalize, digest
from .jcs_proof import sign_jcs, verify_jcs_canonical
from .registry import Member, Registry

__all__ = [
    "EVENT_TYPES",
    "Cursor",
    "FeedUpdate",
    "VerifiedEvent",
    "build_event",
    "build_feed_page",
    "build_notice",
    "event_hash",
    "parse_notice",
    "resume_after",
    "verify_event",
    "verify_feed_page",
]

#: The event types Passeport defines, with the payload member each one requires.
EVENT_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "AchievementPublished": "achievement",
        "AchievementRetired": "achievement",
        "EndorsementIssued": "endorsement",
        "TrainingOfferPublished": "offer",
        "TrainingOfferRetired": "offer",
        "StatusListUpdated": "statusList",
        "RegistryChanged": "registry",
    }
)

_EVENT_MEMBERS = ("source", "seq", "prev", "type", "time", "payload", "proof")
_TYPE = re.compile(r"[A-Z][A-Za-z0-9]{1,63}\Z")
_CURSOR = re.compile(r"(0|[1-9][0-9]{0,17})(?:\.([0-9a-f]{64}))?\Z")
_MAX_SEQ = 2**53 - 1


# -- cursors -------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Cursor:
    """A position in one source's feed: the last event seen (``seq``, ``hash``).

    ``Cursor(0, None)`` is the start (nothing seen). The text form is ``"0"`` or
    ``"<seq>.<64 hex digits of the event hash>"``; it goes in the feed URL's ``after`` query
    parameter.
    """

    seq: int
    hash: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.seq, bool) or not isinstance(self.seq, int):
            raise TypeError("seq must be an int")
        if not 0 <= self.seq <= _MAX_SEQ:
            raise ValueError("seq must be between 0 and 2**53 - 1")
        if (self.seq == 0) != (self.hash is None):
            raise ValueError("the start cursor (seq 0) has no hash; every other cursor has one")
        if self.hash is not None:
            c.digest_text(self.hash, "cursor hash")

    def __str__(self) -> str:
        if self.hash is None:
            return "0"
        return f"{self.seq}.{self.hash.removeprefix('sha256:')}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """Read a cursor's text form; :class:`MalformedError` when it is not one."""
        match = _CURSOR.match(text) if isinstance(text, str) else None
        if match is None:
            raise MalformedError(f"not a feed cursor: {text!r} (expected '0' or '<seq>.<hex>')")
        seq = int(match.group(1))
        hex_hash = match.group(2)
        if (seq == 0) != (hex_hash is None):
            raise MalformedError(f"not a feed cursor: {text!r}")
        try:
            return cls(seq, None if hex_hash is None else "sha256:" + hex_hash)
        except ValueError as exc:
            raise MalformedError(f"not a feed cursor: {text!r} ({exc})") from exc


START = Cursor(0, None)


def _as_cursor(value: Cursor | tuple[int, str] | None) -> Cursor:
    if value is None:
        return START
    if isinstance(value, Cursor):
        return value
    seq, hash_ = value
    return Cursor(seq, hash_)


# -- events ------------------------------------------------------------------------------------


def event_hash(event: Mapping[str, Any]) -> str:
    """The digest that names an event: ``sha256:`` + hex SHA-256 of the RFC 8785 form of the
    event without its proof (so a re-signed copy of the same event is the same event)."""
    return digest({k: v for k, v in event.items() if k != "proof"})


def build_event(
    *,
    key: KeyPair,
    seq: int,
    prev: str | None,
    type: str,
    time: datetime,
    payload: Mapping[str, Any],
) -> dict[str, Any]:
    """A signed event of ``key.controller``'s feed.

    Args:
        key: an Ed25519 key of the source, with ``controller`` (the member's DID) and ``id`` (a
            verification method listed under ``assertionMethod``).
        seq: 1 for the first event, then each event one more than the last.
        prev: the :func:`event_hash` of event ``seq - 1``; ``None`` for the first.
        type: one of :data:`EVENT_TYPES` (or a new type, which old nodes keep but ignore).
        time: when the event happened.
        payload: the type's content (see ``specs/federation.md``).
    """
    if key.controller is None:
        raise ValueError("key needs its controller (the member's DID)")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= _MAX_SEQ:
        raise ValueError("seq must be an integer from 1")
    if (seq == 1) != (prev is None):
        raise ValueError("prev is None for seq 1 and the previous event's hash otherwise")
    if prev is not None:
        c.digest_text(prev, "prev")
    if not _TYPE.match(type):
        raise ValueError(f"event type {type!r} is not a type name")
    require_aware(time, "time")
    event: dict[str, Any] = {
        "source": key.controller,
        "seq": seq,
        "prev": prev,
        "type": type,
        "time": format_datetime(time),
        "payload": dict(payload),
    }
    c.sized(event["payload"], limit=MAX_EVENT_PAYLOAD_BYTES, what="event payload")
    _check_payload(event["type"], event["payload"], source=key.controller, endpoint=None)
    signed = sign_jcs(event, key=key, created=time)
    c.sized(signed, limit=MAX_EVENT_BYTES, what="event")
    return signed


@dataclass(frozen=True)
class VerifiedEvent:
    """An event whose signature, source and chain position were checked.

    ``duplicate`` is true when the event was already applied (same position, same hash): the
    caller ignores it. ``known_type`` is false for an event type this version does not define:
    the caller records its position and ignores its payload.
    """

    source: str
    seq: int
    hash: str
    prev: str | None
    type: str
    time: datetime
    payload: Mapping[str, Any]
    member: Member
    duplicate: bool
    known_type: bool
    document: Mapping[str, Any] = field(repr=False)

    @property
    def cursor(self) -> Cursor:
        """The cursor that points at this event."""
        return Cursor(self.seq, self.hash)


def _under(url: str, base: str) -> bool:
    """Whether ``url`` is on ``base``'s origin, under its path."""
    target, root = urlsplit(url), urlsplit(base)
    if (target.scheme, target.netloc.lower()) != (root.scheme, root.netloc.lower()):
        return False
    prefix = root.path if root.path.endswith("/") else root.path + "/"
    return target.path.startswith(prefix) or target.path == root.path


def _id_of(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _owned_url(value: object, *, what: str, endpoint: str | None) -> str:
    target = c.url(value, what)
    if endpoint is not None and not _under(target, endpoint):
        raise ImpersonationError(f"{what} {target} is not under the source's endpoint {endpoint}")
    return target


def _check_payload(
    kind: str, payload: Mapping[str, Any], *, source: str, endpoint: str | None
) -> None:
    """Check the payload of a known type (members, and that the source owns what it names).

    ``endpoint`` is None when building (the key holder knows its own URLs).
    """
    member = EVENT_TYPES.get(kind)
    if member is None:
        return
    if member not in payload:
        raise MalformedError(f"a {kind} payload needs {member!r}")
    value = payload[member]
    if kind in ("AchievementPublished", "TrainingOfferPublished"):
        body = c.obj(value, f"payload.{member}")
        _owned_url(body.get("id"), what=f"payload.{member}.id", endpoint=endpoint)
        c.text(body.get("name"), f"payload.{member}.name", max_chars=1024)
    elif kind in ("AchievementRetired", "TrainingOfferRetired", "StatusListUpdated"):
        _owned_url(value, what=f"payload.{member}", endpoint=endpoint)
    elif kind == "EndorsementIssued":
        body = c.obj(value, "payload.endorsement")
        issuer = _id_of(body.get("issuer"))
        if issuer != source:
            raise ImpersonationError(
                f"the endorsement is issued by {issuer!r}, not by the event's source {source}"
            )
        if "EndorsementCredential" not in c.types_of(body):
            raise MalformedError("payload.endorsement must be an EndorsementCredential")
    elif kind == "RegistryChanged":
        c.url(value, "payload.registry")
        version = payload.get("registryVersion")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise MalformedError("payload.registryVersion must be an integer >= 1")
        c.digest_text(payload.get("registryDigest"), "payload.registryDigest")


def _parse_envelope(event: object) -> tuple[Mapping[str, Any], str, int, str | None, str, datetime]:
    doc = c.obj(event, "event")
    unknown = set(doc) - set(_EVENT_MEMBERS)
    missing = [m for m in _EVENT_MEMBERS if m not in doc]
    if unknown:
        raise MalformedError(f"an event has unknown members {sorted(unknown)}")
    if missing:
        raise MalformedError(f"an event needs {missing}")
    source = c.did(doc["source"], "event source")
    seq = doc["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= _MAX_SEQ:
        raise MalformedError("event seq must be an integer from 1 to 2**53 - 1")
    prev = doc["prev"]
    if seq == 1:
        if prev is not None:
            raise MalformedError("the first event (seq 1) has prev null")
    else:
        prev = c.digest_text(prev, "event prev")
    kind = doc["type"]
    if not isinstance(kind, str) or not _TYPE.match(kind):
        raise MalformedError(f"event type {kind!r} is not a type name")
    time = c.when(doc["time"], "event time")
    c.obj(doc["payload"], "event payload")
    return doc, source, seq, prev, kind, time


def verify_event(
    event: Mapping[str, Any],
    *,
    registry: Registry,
    resolver: Resolver,
    now: datetime,
    last_seen: Cursor | tuple[int, str] | None,
    history: Callable[[int], str | None] | None = None,
) -> VerifiedEvent:
    """Verify one event against the registry and the last event seen from its source.

    Args:
        event: the signed event.
        registry: the current verified registry.
        resolver: resolves the source's verification methods (its DID document).
        now: the verification time.
        last_seen: the cursor of the last event applied from this source (``None``: none yet).
        history: ``seq -> hash`` of events already applied from this source, to tell an old
            replay (no-op) from a fork when ``seq`` is below ``last_seen``. Without it, such an
            event is reported as a duplicate.

    Raises:
        OversizedError: the event or its payload is over the limits.
        MalformedError: the envelope or a known payload is not well-formed.
        NotAMemberError: the source is not a member, or was not one at the event's time.
        ImpersonationError: signed by a key of someone other than the source, or the payload
            names something the source does not own.
        InvalidProof, KeyResolutionError: the signature does not verify.
        ChainGapError: events are missing between ``last_seen`` and this one.
        ForkError: the source signed a different event at this position.
    """
    now = require_aware(now, "now")
    last = _as_cursor(last_seen)
    doc, source, seq, prev, kind, time = _parse_envelope(event)
    payload = doc["payload"]
    # The source must be in the registry before any key is looked up.
    member = registry.member(source)
    if member is None:
        raise NotAMemberError(
            f"{source} is not a member of {registry.name} (registry version {registry.version})"
        )
    proof = doc.get("proof")
    method_id = proof.get("verificationMethod") if isinstance(proof, Mapping) else None
    if not isinstance(method_id, str) or method_id.split("#", 1)[0] != source:
        raise ImpersonationError(
            f"the event names {source} as its source but is signed with {method_id!r}"
        )
    method, canonical = verify_jcs_canonical(doc, resolver=resolver, now=now)
    # Sizes, measured on the canonical form that was signed (the payload is embedded in it
    # verbatim, so its size is the difference with the envelope around an empty payload).
    if len(canonical) > MAX_EVENT_BYTES:
        raise OversizedError(
            f"the event is {len(canonical)} bytes, more than the limit of {MAX_EVENT_BYTES}"
        )
    envelope = {k: v for k, v in doc.items() if k != "proof"}
    envelope["payload"] = {}
    payload_bytes = len(canonical) - len(canonicalize(envelope)) + 2
    if payload_bytes > MAX_EVENT_PAYLOAD_BYTES:
        raise OversizedError(
            f"the event payload is {payload_bytes} bytes, more than the limit of "
            f"{MAX_EVENT_PAYLOAD_BYTES}"
        )
    if method.controller != source:
        raise ImpersonationError(
            f"the event's key {method.id} is controlled by {method.controller}, not by {source}"
        )
    if time > now + timedelta(seconds=MAX_CLOCK_SKEW_SECONDS):
        raise MalformedError(f"the event is dated in the future ({doc['time']})")
    registry.require_member(source, at=time)
    known = kind in EVENT_TYPES
    if known:
        _check_payload(kind, payload, source=source, endpoint=member.endpoint)
    digest_ = "sha256:" + hashlib.sha256(canonical).hexdigest()
    duplicate = _check_position(source, seq, prev, digest_, last, history)
    return VerifiedEvent(
        source=source,
        seq=seq,
        hash=digest_,
        prev=prev,
        type=kind,
        time=time,
        payload=MappingProxyType(dict(payload)),
        member=member,
        duplicate=duplicate,
        known_type=known,
        document=MappingProxyType(dict(doc)),
    )


def _check_position(
    source: str,
    seq: int,
    prev: str | None,
    digest_: str,
    last: Cursor,
    history: Callable[[int], str | None] | None,
) -> bool:
    """Place the event in its source's chain; return whether it was already applied."""
    if seq == last.seq + 1:
        if prev != last.hash:
            raise ForkError(
                f"{source} event {seq} follows {prev}, but event {last.seq} was {last.hash}: "
                "the source signed two different histories",
                seq=last.seq,
                seen=str(last.hash),
                received=str(prev),
            )
        return False
    if seq > last.seq + 1:
        raise ChainGapError(
            f"{source} event {seq} arrived after event {last.seq}: events "
            f"{last.seq + 1} to {seq - 1} are missing"
        )
    known = last.hash if seq == last.seq else (history(seq) if history is not None else None)
    if known is None:
        # Older than the last event and no history to compare with: already applied.
        return True
    if known != digest_:
        raise ForkError(
            f"{source} signed two different events with seq {seq} ({known} and {digest_})",
            seq=seq,
            seen=known,
            received=digest_,
        )
    return True


# -- feed pages and notices ---------------------------------------------------------------------


def build_feed_page(
    *, source: str, after: Cursor, events: Sequence[Mapping[str, Any]], head: Cursor
) -> dict[str, Any]:
    """A page of ``source``'s feed: the events after ``after``, oldest first.

    ``next`` is set when events remain after this page (the cursor to pull next).
    """
    c.did(source, "source")
    if len(events) > MAX_FEED_PAGE_EVENTS:
        raise ValueError(f"a page carries at most {MAX_FEED_PAGE_EVENTS} events")
    last = Cursor(events[-1]["seq"], event_hash(events[-1])) if events else after
    page: dict[str, Any] = {
        "type": "FederationFeedPage",
        "source": source,
        "after": str(after),
        "events": [dict(e) for e in events],
        "head": str(head),
        "next": str(last) if last.seq < head.seq else None,
    }
    return page


def resume_after(cursor: Cursor, *, head: Cursor, hash_at: Callable[[int], str | None]) -> int:
    """For the serving node: the seq after which to list events for a puller at ``cursor``.

    Raises :class:`ChainGapError` when the cursor is beyond the head, and :class:`ForkError`
    when the puller's event at ``cursor.seq`` is not ours (it followed another history).
    """
    if cursor.seq > head.seq:
        raise ChainGapError(f"cursor {cursor} is beyond the feed's head {head}")
    if cursor.seq and hash_at(cursor.seq) != cursor.hash:
        raise ForkError(
            f"cursor {cursor} names an event this feed does not hold",
            seq=cursor.seq,
            seen=str(hash_at(cursor.seq)),
            received=str(cursor.hash),
        )
    return cursor.seq


@dataclass(frozen=True)
class FeedUpdate:
    """The outcome of one verified feed page: the new events to apply (in order, duplicates
    left out), the cursor after them, and whether more remain."""

    events: list[VerifiedEvent]
    cursor: Cursor
    more: bool
    duplicates: int


def verify_feed_page(
    page: Mapping[str, Any],
    *,
    source: str,
    registry: Registry,
    resolver: Resolver,
    now: datetime,
    last_seen: Cursor | tuple[int, str] | None,
    history: Callable[[int], str | None] | None = None,
) -> FeedUpdate:
    """Verify a page pulled from ``source``'s feed; all or nothing.

    Every event must come from ``source`` and pass :func:`verify_event` in order; the first
    failure raises and nothing of the page should be applied.
    """
    doc = c.obj(page, "feed page")
    if doc.get("type") != "FederationFeedPage":
        raise MalformedError("a feed page has type FederationFeedPage")
    if doc.get("source") != source:
        raise ImpersonationError(f"the page is {doc.get('source')!r}'s feed, not {source}'s")
    events = doc.get("events")
    if not isinstance(events, list):
        raise MalformedError("a feed page's events must be a list")
    if len(events) > MAX_FEED_PAGE_EVENTS:
        raise OversizedError(
            f"the page carries {len(events)} events, more than {MAX_FEED_PAGE_EVENTS}"
        )
    head_text = doc.get("head")
    head = Cursor.parse(head_text) if isinstance(head_text, str) else None
    if head is None:
        raise MalformedError("a feed page names its head cursor")
    next_text = doc.get("next")
    if next_text is not None and not isinstance(next_text, str):
        raise MalformedError("a feed page's next is a cursor or null")
    cursor = _as_cursor(last_seen)
    fresh: list[VerifiedEvent] = []
    duplicates = 0
    for index, event in enumerate(events):
        if not isinstance(event, Mapping) or event.get("source") != source:
            raise ImpersonationError(f"event {index} of {source}'s page is not from {source}")
        verified = verify_event(
            event,
            registry=registry,
            resolver=resolver,
            now=now,
            last_seen=cursor,
            history=history,
        )
        if verified.duplicate:
            duplicates += 1
            continue
        fresh.append(verified)
        cursor = verified.cursor
    return FeedUpdate(
        events=fresh, cursor=cursor, more=next_text is not None, duplicates=duplicates
    )


def build_notice(*, source: str, head: Cursor) -> dict[str, Any]:
    """A push notice: ``source``'s feed has grown to ``head``; pull it early.

    The notice is a hint only (sent in a signed request): the puller trusts nothing in it but
    fetches and verifies the feed.
    """
    return {"type": "FederationFeedNotice", "source": c.did(source, "source"), "head": str(head)}


def parse_notice(document: Mapping[str, Any]) -> tuple[str, Cursor]:
    """Read a push notice: its source and head cursor."""
    doc = c.obj(document, "notice")
    if doc.get("type") != "FederationFeedNotice":
        raise MalformedError("a notice has type FederationFeedNotice")
    if set(doc) - {"type", "source", "head"}:
        raise MalformedError("a notice holds only type, source and head")
    head = doc.get("head")
    if not isinstance(head, str):
        raise MalformedError("a notice names its head cursor")
    return c.did(doc.get("source"), "notice source"), Cursor.parse(head)
