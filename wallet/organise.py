"""Organise the wallet: summaries, the in-memory search index, tags, collections and pathways.

Every stored credential carries a small *summary* (issuer, names, skills, dates), computed once
when the credential is added and kept in the sealed content, so opening a wallet never parses
the credentials themselves. At open the wallet builds an :class:`Index` from the summaries; a
search is then a scan of pre-lowered strings and a few set lookups (10,000 credentials: a few
milliseconds, see ``bench/bench_wallet.py``).

Skills are the achievement's (and results') ``alignment`` entries: a search for a skill matches
an alignment whose ``targetUrl`` (an ESCO URI, say) or ``targetCode`` equals the query, or whose
``targetName`` contains it (case-insensitive).

A *pathway* is a goal made of requirements, each an achievement id or an alignment (URL, code or
name); its progress is computed against what the wallet holds.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from protocol.errors import MalformedError
from protocol.timeutil import format_datetime, parse_datetime

from .errors import NotFound

if TYPE_CHECKING:
    from .store import StoredCredential, Wallet

__all__ = [
    "STATUSES",
    "Collection",
    "Index",
    "Pathway",
    "PathwayProgress",
    "Query",
    "Requirement",
    "RequirementProgress",
    "add_to_collection",
    "create_collection",
    "create_pathway",
    "delete_collection",
    "delete_pathway",
    "equality_key",
    "progress",
    "remove_from_collection",
    "search",
    "summarize",
    "tag",
]

#: Wallet-level statuses a search can filter on.
STATUSES = ("valid", "invalid", "unknown", "expired", "legacy")

#: Longest text kept per summary field, in characters (descriptions and criteria can be long;
#: the search index needs their beginning, the credential itself keeps everything).
MAX_SUMMARY_TEXT = 2000


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _id_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _str(value: Any) -> str | None:
    if isinstance(value, str):
        return value[:MAX_SUMMARY_TEXT]
    if isinstance(value, Mapping):
        # A language map or a value object: take the first string.
        for item in value.values():
            if isinstance(item, str):
                return item[:MAX_SUMMARY_TEXT]
    return None


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _when(value: Any) -> str | None:
    """A timestamp normalised to ``YYYY-MM-DDThh:mm:ssZ`` (naive values read as UTC)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return format_datetime(datetime.fromtimestamp(value, tz=UTC))
        except (OverflowError, OSError, ValueError):
            return None
    try:
        return format_datetime(parse_datetime(value, require_timezone=False))
    except MalformedError:
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return value + "T00:00:00Z"
        return None


def equality_key(issuer: str | None, credential_id: str | None) -> str | None:
    """Open Badges equality: issuer id + credential id, percent-unescaped and trimmed.

    ``None`` when the credential has no id (it is then only equal to identical bytes).
    """
    if not credential_id:
        return None
    return f"{unquote(issuer or '').strip()} {unquote(credential_id).strip()}"


def _alignments(achievement: Mapping[str, Any], subject: Mapping[str, Any]) -> list[dict[str, str]]:
    found: list[Mapping[str, Any]] = []
    found.extend(a for a in _list(achievement.get("alignment")) if isinstance(a, Mapping))
    for rd in _list(achievement.get("resultDescription")):
        if isinstance(rd, Mapping):
            found.extend(a for a in _list(rd.get("alignment")) if isinstance(a, Mapping))
    for result in _list(subject.get("result")):
        if isinstance(result, Mapping):
            found.extend(a for a in _list(result.get("alignment")) if isinstance(a, Mapping))
    out: list[dict[str, str]] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for item in found:
        entry = {
            k: v
            for k, v in (
                ("name", _str(item.get("targetName"))),
                ("code", _str(item.get("targetCode"))),
                ("url", _str(item.get("targetUrl"))),
                ("framework", _str(item.get("targetFramework"))),
            )
            if v
        }
        marker = tuple(sorted(entry.items()))
        if entry and marker not in seen:
            seen.add(marker)
            out.append(entry)
    return out


def summarize(document: Mapping[str, Any], *, kind: str) -> dict[str, Any]:
    """The summary kept for a credential: ids, names, issuer, skills and dates.

    Works on OB 3.0 and other VC 2.0 / 1.1 credentials, endorsements and OB 2.0 assertions
    (whose badge class and issuer may be embedded objects or bare URLs).
    """
    out: dict[str, Any] = {}
    types = [t for t in _list(document.get("type")) if isinstance(t, str)]
    out["types"] = types
    if isinstance(document.get("id"), str):
        out["id"] = document["id"]
    if kind == "ob2":
        badge = document.get("badge")
        badge_obj = badge if isinstance(badge, Mapping) else {}
        issuer = badge_obj.get("issuer")
        out["issuer"] = _id_of(issuer)
        if isinstance(issuer, Mapping):
            out["issuer_name"] = _str(issuer.get("name"))
        out["achievement"] = {
            k: v
            for k, v in (
                ("id", _id_of(badge)),
                ("name", _str(badge_obj.get("name"))),
                ("description", _str(badge_obj.get("description"))),
            )
            if v
        }
        badge_ref = _id_of(badge)
        out["name"] = _str(badge_obj.get("name")) or (
            f"OB 2.0 badge {badge_ref}" if badge_ref else "Open Badges 2.0 assertion"
        )
        out["alignments"] = [
            {
                k: v
                for k, v in (
                    ("name", _str(a.get("targetName"))),
                    ("code", _str(a.get("targetCode"))),
                    ("url", _str(a.get("targetUrl"))),
                )
                if v
            }
            for a in _list(badge_obj.get("alignment"))
            if isinstance(a, Mapping)
        ]
        recipient = document.get("recipient")
        if isinstance(recipient, Mapping):
            out["subject"] = _str(recipient.get("identity"))
        out["issued"] = _when(document.get("issuedOn"))
        out["valid_until"] = _when(document.get("expires")) if "expires" in document else None
        return _compact(out)
    issuer = document.get("issuer")
    out["issuer"] = _id_of(issuer)
    if isinstance(issuer, Mapping):
        out["issuer_name"] = _str(issuer.get("name"))
    out["name"] = _str(document.get("name"))
    out["description"] = _str(document.get("description"))
    subjects = [s for s in _list(document.get("credentialSubject")) if isinstance(s, Mapping)]
    subject = subjects[0] if subjects else {}
    out["subject"] = _id_of(subject)
    achievement = subject.get("achievement")
    if isinstance(achievement, Mapping):
        criteria = achievement.get("criteria")
        out["achievement"] = {
            k: v
            for k, v in (
                ("id", _id_of(achievement)),
                ("name", _str(achievement.get("name"))),
                ("description", _str(achievement.get("description"))),
                ("type", _str(achievement.get("achievementType"))),
                (
                    "criteria",
                    _str(criteria.get("narrative")) if isinstance(criteria, Mapping) else None,
                ),
            )
            if v
        }
        tags = [t for t in _list(achievement.get("tag")) if isinstance(t, str)]
        if tags:
            out["keywords"] = tags
        out["alignments"] = _alignments(achievement, subject)
        if not out["name"]:
            out["name"] = _str(achievement.get("name"))
    if kind == "endorsement":
        out["endorses"] = _id_of(subject)
        out["comment"] = _str(subject.get("endorsementComment"))
    out["valid_from"] = _when(document.get("validFrom") or document.get("issuanceDate"))
    out["valid_until"] = _when(document.get("validUntil") or document.get("expirationDate"))
    out["issued"] = _when(document.get("awardedDate")) or out["valid_from"]
    return _compact(out)


def _compact(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if v not in (None, [], {}, "")}


# -- the index ---------------------------------------------------------------------------------

_SEP = "\x1f"


@dataclass(frozen=True)
class _Entry:
    lid: str
    text: str
    issuer: str
    issuer_name: str
    achievement: str
    cid: str
    skill_keys: frozenset[str]
    skill_names: str  # normalised names joined with _SEP
    issued: str
    valid_until: str
    status: str
    kind: str
    tags: frozenset[str]


def _search_columns(record: StoredCredential) -> tuple[str, str, str, str]:
    """(search text, achievement id, skill keys, skill names) computed from the summary."""
    s = record.summary
    achievement = s.get("achievement", {})
    parts: list[str] = [
        s.get("name", ""),
        s.get("description", ""),
        s.get("issuer_name", ""),
        s.get("issuer", ""),
        achievement.get("name", ""),
        achievement.get("description", ""),
        achievement.get("criteria", ""),
        achievement.get("type", ""),
        s.get("comment", ""),
        " ".join(s.get("keywords", [])),
    ]
    keys: set[str] = set()
    names: list[str] = []
    for a in s.get("alignments", []):
        if "url" in a:
            keys.add(_norm(a["url"]))
        if "code" in a:
            keys.add(_norm(a["code"]))
            parts.append(a["code"])
        if "name" in a:
            names.append(_norm(a["name"]))
            parts.append(a["name"])
    return (
        _norm(" \x00 ".join(p for p in parts if p)),
        achievement.get("id", ""),
        _SEP.join(sorted(keys)),
        _SEP.join(names),
    )


def _make_entry(
    record: StoredCredential, text: str, achievement: str, skill_keys: str, skill_names: str
) -> _Entry:
    tags = frozenset(_norm(t) for t in record.tags)
    if tags:
        text = text + " \x00 " + " ".join(tags)
    return _Entry(
        lid=record.local_id,
        text=text,
        issuer=_norm(record.issuer or ""),
        issuer_name=_norm(record.issuer_name or ""),
        achievement=achievement,
        cid=record.id or "",
        skill_keys=frozenset(k for k in skill_keys.split(_SEP) if k),
        skill_names=skill_names,
        issued=record.issued or "",
        valid_until=record.valid_until or "",
        status=record.status,
        kind=record.kind,
        tags=tags,
    )


class Index:
    """The decrypted in-memory index of a wallet's credentials (rebuilt at each open).

    Entries are kept newest first (by issue date, then id), so a search is one filtering pass.
    """

    def __init__(self, records: Iterable[StoredCredential] = ()) -> None:
        """Index ``records``."""
        self._entries: dict[str, _Entry] = {}
        self._columns: dict[str, tuple[str, str, str, str]] = {}
        self._by_achievement: dict[str, set[str]] = {}
        self._by_skill: dict[str, set[str]] = {}
        self._by_id: dict[str, set[str]] = {}
        self._endorsements: set[str] = set()
        self._ordered: list[_Entry] | None = None
        for record in records:
            self.add(record)

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, record: StoredCredential) -> None:
        """Index (or re-index) ``record`` from its summary."""
        self.add_stored(record, *_search_columns(record))

    def add_stored(
        self,
        record: StoredCredential,
        text: str,
        achievement: str,
        skill_keys: str,
        skill_names: str,
    ) -> None:
        """Index ``record`` with search columns read from the wallet file (no recomputation)."""
        if record.local_id in self._entries:
            self.remove(record.local_id)
        entry = _make_entry(record, text, achievement, skill_keys, skill_names)
        self._entries[entry.lid] = entry
        self._columns[entry.lid] = (text, achievement, skill_keys, skill_names)
        if entry.achievement:
            self._by_achievement.setdefault(entry.achievement, set()).add(entry.lid)
        for key in entry.skill_keys:
            self._by_skill.setdefault(key, set()).add(entry.lid)
        if entry.cid:
            self._by_id.setdefault(entry.cid, set()).add(entry.lid)
        if entry.kind == "endorsement":
            self._endorsements.add(entry.lid)
        self._ordered = None

    def stored_columns(self, lid: str) -> list[str]:
        """The search columns the wallet file keeps for ``lid``."""
        return list(self._columns[lid])

    def remove(self, lid: str) -> None:
        """Forget ``lid``."""
        entry = self._entries.pop(lid, None)
        if entry is None:
            return
        self._columns.pop(lid, None)
        self._endorsements.discard(lid)
        pairs = [(self._by_achievement, entry.achievement), (self._by_id, entry.cid)]
        pairs.extend((self._by_skill, key) for key in entry.skill_keys)
        for table, key in pairs:
            members = table.get(key)
            if members is not None:
                members.discard(lid)
                if not members:
                    del table[key]
        self._ordered = None

    def by_credential_id(self, credential_id: str) -> set[str]:
        """Local ids of the records whose credential ``id`` is ``credential_id``."""
        return set(self._by_id.get(credential_id, ()))

    def endorsements(self) -> set[str]:
        """Local ids of the stored endorsements."""
        return set(self._endorsements)

    def by_achievement(self, achievement_id: str) -> set[str]:
        """Local ids of the credentials awarding ``achievement_id``."""
        return set(self._by_achievement.get(achievement_id, ()))

    def by_skill(self, skill: str) -> set[str]:
        """Local ids of the credentials aligned to ``skill`` (URL, code, or part of a name)."""
        key = _norm(skill.strip())
        found = set(self._by_skill.get(key, ()))
        if "://" not in key:
            found.update(e.lid for e in self._entries.values() if key in e.skill_names)
        return found

    def entries(self) -> list[_Entry]:
        """Every entry, newest first."""
        if self._ordered is None:
            self._ordered = sorted(
                self._entries.values(), key=lambda e: (e.issued, e.lid), reverse=True
            )
        return self._ordered

    def issued(self, lid: str) -> str:
        """The normalised issue date of ``lid`` ('' when unknown)."""
        return self._entries[lid].issued


@dataclass(frozen=True)
class Query:
    """A search: every given criterion must hold (text words are all required)."""

    text: str | None = None
    issuer: str | None = None
    skill: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    status: str | None = None
    tag: str | None = None
    collection: str | None = None
    kind: str | None = None
    achievement: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r} (expected one of {STATUSES})")


def _by_status(entries: list[_Entry], status: str, now_text: str) -> list[_Entry]:
    if status == "expired":
        return [e for e in entries if e.valid_until and e.valid_until < now_text]
    if status == "legacy":
        return [e for e in entries if e.kind == "ob2"]
    if status == "valid":
        return [
            e
            for e in entries
            if e.status == "valid" and not (e.valid_until and e.valid_until < now_text)
        ]
    return [e for e in entries if e.status == status]


def search(
    index: Index,
    query: Query,
    *,
    now: datetime,
    collections: Mapping[str, Collection] | None = None,
) -> list[str]:
    """Local ids matching ``query``, newest first (by issue date, then id)."""
    candidates = index.entries()
    if query.collection is not None:
        found = (collections or {}).get(query.collection)
        if found is None:
            raise NotFound(f"no collection named {query.collection!r}")
        members = set(found.members)
        candidates = [e for e in candidates if e.lid in members]
    if query.skill:
        allowed = index.by_skill(query.skill)
        candidates = [e for e in candidates if e.lid in allowed]
    if query.achievement:
        allowed = index.by_achievement(query.achievement)
        candidates = [e for e in candidates if e.lid in allowed]
    if query.issuer:
        needle = _norm(query.issuer.strip())
        candidates = [e for e in candidates if e.issuer == needle or needle in e.issuer_name]
    if query.kind:
        candidates = [e for e in candidates if e.kind == query.kind]
    if query.tag:
        tag_key = _norm(query.tag.strip())
        candidates = [e for e in candidates if tag_key in e.tags]
    if query.since is not None:
        since = format_datetime(query.since)
        candidates = [e for e in candidates if e.issued >= since]
    if query.until is not None:
        until = format_datetime(query.until)
        candidates = [e for e in candidates if e.issued and e.issued <= until]
    if query.status:
        candidates = _by_status(candidates, query.status, format_datetime(now))
    if query.text:
        for word in _norm(query.text).split():
            candidates = [e for e in candidates if word in e.text]
    return [e.lid for e in candidates]


# -- tags and collections ----------------------------------------------------------------------


def _clean_tag(text: str) -> str:
    tag_text = " ".join(text.split())
    if not tag_text:
        raise ValueError("a tag must not be empty")
    if len(tag_text) > 100:
        raise ValueError("a tag is at most 100 characters")
    return tag_text


def tag(
    wallet: Wallet, ref: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
) -> StoredCredential:
    """Add and remove tags on a credential (tags compare case-insensitively)."""
    record = wallet.get(ref)
    tags = list(record.tags)
    for text in add:
        clean = _clean_tag(text)
        if _norm(clean) not in {_norm(t) for t in tags}:
            tags.append(clean)
    drop = {_norm(_clean_tag(t)) for t in remove}
    tags = [t for t in tags if _norm(t) not in drop]
    record.tags = tags
    wallet.touch(record)
    return record


@dataclass
class Collection:
    """A named, ordered set of credentials."""

    name: str
    description: str | None = None
    members: list[str] = field(default_factory=list)
    created: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The stored form."""
        out: dict[str, Any] = {"name": self.name, "members": list(self.members)}
        if self.description:
            out["description"] = self.description
        if self.created:
            out["created"] = self.created
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Collection:
        """Read the stored form."""
        return cls(
            name=str(data["name"]),
            description=data.get("description"),
            members=[str(m) for m in data.get("members", [])],
            created=str(data.get("created", "")),
        )


def _clean_name(name: str, what: str) -> str:
    clean = " ".join(str(name).split())
    if not clean:
        raise ValueError(f"a {what} name must not be empty")
    if len(clean) > 200:
        raise ValueError(f"a {what} name is at most 200 characters")
    return clean


def create_collection(
    wallet: Wallet, name: str, *, description: str | None = None, now: datetime
) -> Collection:
    """A new, empty collection."""
    clean = _clean_name(name, "collection")
    if clean in wallet.collections:
        raise ValueError(f"a collection named {clean!r} already exists")
    collection = Collection(clean, description, [], format_datetime(now))
    wallet.collections[clean] = collection
    wallet.mark_changed()
    return collection


def _collection(wallet: Wallet, name: str) -> Collection:
    try:
        return wallet.collections[name]
    except KeyError:
        raise NotFound(f"no collection named {name!r}") from None


def add_to_collection(wallet: Wallet, name: str, refs: Sequence[str]) -> Collection:
    """Add credentials (by local id, prefix or credential id) to a collection."""
    collection = _collection(wallet, name)
    for ref in refs:
        lid = wallet.get(ref).local_id
        if lid not in collection.members:
            collection.members.append(lid)
    wallet.mark_changed()
    return collection


def remove_from_collection(wallet: Wallet, name: str, refs: Sequence[str]) -> Collection:
    """Remove credentials from a collection (the credentials stay in the wallet)."""
    collection = _collection(wallet, name)
    drop = {wallet.get(ref).local_id for ref in refs}
    collection.members = [m for m in collection.members if m not in drop]
    wallet.mark_changed()
    return collection


def delete_collection(wallet: Wallet, name: str) -> None:
    """Delete a collection (its credentials stay in the wallet)."""
    _collection(wallet, name)
    del wallet.collections[name]
    wallet.mark_changed()


# -- pathways ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """One step of a pathway: an achievement id, or an alignment (URL, code or name)."""

    achievement: str | None = None
    alignment: str | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if (self.achievement is None) == (self.alignment is None):
            raise ValueError("a requirement names exactly one of achievement or alignment")

    def describe(self) -> str:
        """A short human label."""
        if self.label:
            return self.label
        return f"achievement {self.achievement}" if self.achievement else f"skill {self.alignment}"

    def to_dict(self) -> dict[str, Any]:
        """The stored form."""
        out: dict[str, Any] = {}
        if self.achievement is not None:
            out["achievement"] = self.achievement
        if self.alignment is not None:
            out["alignment"] = self.alignment
        if self.label is not None:
            out["label"] = self.label
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Requirement:
        """Read the stored form (also the pathway file format of ``specs/wallet.md``)."""
        if not isinstance(data, Mapping):
            raise ValueError("a requirement is a JSON object")
        return cls(
            achievement=data.get("achievement"),
            alignment=data.get("alignment"),
            label=data.get("label"),
        )


@dataclass
class Pathway:
    """A goal made of requirements; ``required`` of them must be met (default: all)."""

    id: str
    name: str
    requirements: list[Requirement]
    description: str | None = None
    required: int | None = None
    created: str = ""

    def __post_init__(self) -> None:
        if not self.requirements:
            raise ValueError("a pathway needs at least one requirement")
        if self.required is not None and not 1 <= self.required <= len(self.requirements):
            raise ValueError(f"required must be within 1..{len(self.requirements)}")

    def to_dict(self) -> dict[str, Any]:
        """The stored form."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "requirements": [r.to_dict() for r in self.requirements],
        }
        if self.description:
            out["description"] = self.description
        if self.required is not None:
            out["required"] = self.required
        if self.created:
            out["created"] = self.created
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Pathway:
        """Read the stored form."""
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            requirements=[Requirement.from_dict(r) for r in data["requirements"]],
            description=data.get("description"),
            required=data.get("required"),
            created=str(data.get("created", "")),
        )


def create_pathway(
    wallet: Wallet,
    name: str,
    requirements: Sequence[Requirement | Mapping[str, Any]],
    *,
    description: str | None = None,
    required: int | None = None,
    now: datetime,
) -> Pathway:
    """A new pathway, stored in the wallet."""
    pathway = Pathway(
        id=uuid.uuid4().hex[:12],
        name=_clean_name(name, "pathway"),
        requirements=[
            r if isinstance(r, Requirement) else Requirement.from_dict(r) for r in requirements
        ],
        description=description,
        required=required,
        created=format_datetime(now),
    )
    wallet.pathways[pathway.id] = pathway
    wallet.mark_changed()
    return pathway


def find_pathway(wallet: Wallet, ref: str) -> Pathway:
    """A pathway by id or by (unique) name."""
    if ref in wallet.pathways:
        return wallet.pathways[ref]
    named = [p for p in wallet.pathways.values() if p.name == ref]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise NotFound(f"several pathways are named {ref!r}; use its id")
    raise NotFound(f"no pathway {ref!r}")


def delete_pathway(wallet: Wallet, ref: str) -> None:
    """Delete a pathway."""
    pathway = find_pathway(wallet, ref)
    del wallet.pathways[pathway.id]
    wallet.mark_changed()


@dataclass(frozen=True)
class RequirementProgress:
    """How one requirement stands: the credentials that meet it, and those that would but
    are not (or no longer) valid."""

    requirement: Requirement
    met_by: list[str]
    not_valid: list[str]

    @property
    def met(self) -> bool:
        """True when a valid (or undecided offline, never invalid or expired) credential
        meets the requirement."""
        return bool(self.met_by)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "requirement": self.requirement.to_dict(),
            "label": self.requirement.describe(),
            "met": self.met,
            "metBy": list(self.met_by),
            "notValid": list(self.not_valid),
        }


@dataclass(frozen=True)
class PathwayProgress:
    """A pathway's progress against the wallet."""

    pathway: Pathway
    steps: list[RequirementProgress]

    @property
    def met(self) -> int:
        """How many requirements are met."""
        return sum(1 for s in self.steps if s.met)

    @property
    def needed(self) -> int:
        """How many must be met."""
        return self.pathway.required or len(self.steps)

    @property
    def complete(self) -> bool:
        """True when enough requirements are met."""
        return self.met >= self.needed

    @property
    def percent(self) -> int:
        """Progress towards ``needed``, 0..100."""
        return min(100, (100 * self.met) // self.needed)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "pathway": self.pathway.to_dict(),
            "met": self.met,
            "needed": self.needed,
            "complete": self.complete,
            "percent": self.percent,
            "steps": [s.to_dict() for s in self.steps],
        }


def progress(wallet: Wallet, pathway: Pathway, *, now: datetime) -> PathwayProgress:
    """Check each requirement against the wallet's credentials.

    A requirement is met by a credential that is valid, or whose status could not be decided
    offline (``unknown``); invalid and expired credentials are listed apart.
    """
    now_text = format_datetime(now)
    steps = []
    for requirement in pathway.requirements:
        if requirement.achievement is not None:
            lids = wallet.index.by_achievement(requirement.achievement)
        else:
            lids = wallet.index.by_skill(requirement.alignment or "")
        good: list[str] = []
        bad: list[str] = []
        for lid in sorted(lids):
            record = wallet.get(lid)
            if record.kind == "endorsement":
                continue
            until = str(record.summary.get("valid_until") or "")
            expired = bool(until) and until < now_text
            if record.status in ("valid", "unknown") and not expired:
                good.append(lid)
            else:
                bad.append(lid)
        steps.append(RequirementProgress(requirement, good, bad))
    return PathwayProgress(pathway, steps)
