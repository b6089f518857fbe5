"""The network registry: the steward's signed list of members, membership credentials, and
invitations to join (``specs/federation.md``, "Registry", "Membership credential",
"Invitation").

A network is defined by its steward's registry: a VC 2.0 ``FederationRegistryCredential``
signed with eddsa-rdfc-2022 under the packaged context
``https://passeport.example/ns/federation/v1``, so any Data Integrity verifier can check it. Each
change (a member joins, leaves, is removed, or changes its keys or endpoints) is a new version:
``registryVersion`` grows by one and ``previousRegistry`` names the digest of the version it
replaces, so a node that has verified version n accepts version n+1 only if it links to it.

Members who leave or are removed stay listed with ``memberUntil`` and ``endReason``, so that
badges they issued while members keep verifying; :meth:`Registry.without_member` deletes an
entry outright (for a compromised member whose past signatures must no longer count).
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

from ..di import sign, verify_proofs
from ..did import Resolver, parse_verification_method, validate_did_document
from ..errors import InvalidProof, MalformedError, ProtocolError
from ..keys import KeyPair, public_key_from_multibase
from ..limits import (
    MAX_CLOCK_SKEW_SECONDS,
    MAX_INVITATION_LIFETIME_SECONDS,
    MAX_MEMBER_KEYS,
    MAX_REGISTRY_BYTES,
    MAX_REGISTRY_MEMBERS,
)
from ..timeutil import format_datetime, require_aware
from . import _common as c
from .errors import (
    ExpiredError,
    ImpersonationError,
    NotAMemberError,
    RegistryLinkError,
    ReplayError,
)
from .jcs import digest

__all__ = [
    "ROLES",
    "Invitation",
    "Member",
    "Membership",
    "Registry",
    "build_invitation",
    "build_membership_credential",
    "build_registry",
    "member_keys",
    "verify_invitation",
    "verify_membership_credential",
    "verify_registry",
    "verify_registry_chain",
]

Role = Literal["member", "steward", "verifier"]

#: Member roles. ``member`` issues badges and publishes a feed; ``steward`` signs the registry
#: (and may also issue); ``verifier`` only reads feeds and exports bundles, its badges are not
#: reported as issued by a network member.
ROLES: tuple[str, ...] = ("member", "steward", "verifier")

#: Why a membership ended.
END_REASONS: tuple[str, ...] = ("left", "removed")

_ISSUING_ROLES = frozenset({"member", "steward"})
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,128}\Z")
_MEMBER_KEYS = frozenset(
    {
        "id",
        "type",
        "name",
        "role",
        "endpoint",
        "feed",
        "memberFrom",
        "memberUntil",
        "endReason",
        "memberKey",
    }
)


# -- members -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One entry of the registry.

    Attributes:
        did: the member's DID (did:web for a node, did:key allowed).
        name: display name, shown in verification reports ("issued by ...").
        endpoint: the node's base URL.
        feed: the URL of its event feed.
        roles: a subset of :data:`ROLES`.
        member_from: start of membership.
        member_until: end of membership (left or removed), if any.
        end_reason: ``"left"`` or ``"removed"`` when ``member_until`` is set.
        keys: ``publicKeyMultibase`` values of the member's keys that the steward vouches for
            (current and retired). Offline bundles only trust these keys of a member.
    """

    did: str
    name: str
    endpoint: str
    feed: str
    member_from: datetime
    roles: tuple[str, ...] = ("member",)
    member_until: datetime | None = None
    end_reason: str | None = None
    keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        c.did(self.did, "member id")
        c.text(self.name, "member name", max_chars=256)
        c.url(self.endpoint, "member endpoint")
        c.url(self.feed, "member feed")
        object.__setattr__(self, "member_from", require_aware(self.member_from, "member_from"))
        if not self.roles or any(role not in ROLES for role in self.roles):
            raise ValueError(f"roles must be a non-empty subset of {ROLES}, got {self.roles!r}")
        if len(set(self.roles)) != len(self.roles):
            raise ValueError("a role is listed twice")
        if self.member_until is not None:
            until = require_aware(self.member_until, "member_until")
            object.__setattr__(self, "member_until", until)
            if until < self.member_from:
                raise ValueError("member_until is before member_from")
            if self.end_reason not in END_REASONS:
                raise ValueError(f"end_reason must be one of {END_REASONS} when membership ends")
        elif self.end_reason is not None:
            raise ValueError("end_reason needs member_until")
        if len(self.keys) > MAX_MEMBER_KEYS:
            raise ValueError(f"at most {MAX_MEMBER_KEYS} keys may be pinned per member")
        if len(set(self.keys)) != len(self.keys):
            raise ValueError("a key is pinned twice")
        for key in self.keys:
            try:
                public_key_from_multibase(key)
            except ProtocolError as exc:
                raise ValueError(f"pinned key {key!r}: {exc.message}") from exc

    @property
    def issues(self) -> bool:
        """Whether this member issues badges (role ``member`` or ``steward``)."""
        return bool(_ISSUING_ROLES.intersection(self.roles))

    def active_at(self, when: datetime) -> bool:
        """Whether ``when`` falls within the membership (start and end inclusive)."""
        when = require_aware(when, "when")
        if when < self.member_from:
            return False
        return self.member_until is None or when <= self.member_until

    def ended(self, *, at: datetime, reason: Literal["left", "removed"]) -> Member:
        """A copy whose membership ends ``at`` for ``reason``."""
        return replace(self, member_until=at, end_reason=reason)

    def to_dict(self) -> dict[str, Any]:
        """The registry entry (a ``FederationMember`` node object)."""
        out: dict[str, Any] = {
            "id": self.did,
            "type": "FederationMember",
            "name": self.name,
            "role": list(self.roles),
            "endpoint": self.endpoint,
            "feed": self.feed,
            "memberFrom": format_datetime(self.member_from),
        }
        if self.member_until is not None:
            out["memberUntil"] = format_datetime(self.member_until)
            out["endReason"] = self.end_reason
        if self.keys:
            out["memberKey"] = list(self.keys)
        return out

    @classmethod
    def from_dict(cls, data: object, *, where: str = "member") -> Member:
        """Read a registry entry; :class:`MalformedError` when it breaks the format."""
        entry = c.obj(data, where)
        unknown = set(entry) - _MEMBER_KEYS
        if unknown:
            raise MalformedError(f"{where} has unknown members {sorted(unknown)}")
        if entry.get("type") != "FederationMember":
            raise MalformedError(f"{where} must have type FederationMember")
        keys = entry.get("memberKey", [])
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise MalformedError(f"{where}.memberKey must be a list of multibase keys")
        try:
            return cls(
                did=c.did(entry.get("id"), f"{where}.id"),
                name=c.text(entry.get("name"), f"{where}.name", max_chars=256),
                endpoint=c.url(entry.get("endpoint"), f"{where}.endpoint"),
                feed=c.url(entry.get("feed"), f"{where}.feed"),
                roles=c.strings(entry.get("role"), f"{where}.role", max_items=len(ROLES)),
                member_from=c.when(entry.get("memberFrom"), f"{where}.memberFrom"),
                member_until=(
                    c.when(entry["memberUntil"], f"{where}.memberUntil")
                    if "memberUntil" in entry
                    else None
                ),
                end_reason=entry.get("endReason"),
                keys=tuple(keys),
            )
        except ValueError as exc:
            raise MalformedError(f"{where}: {exc}") from exc


def member_keys(did_document: Mapping[str, Any]) -> tuple[str, ...]:
    """The ``publicKeyMultibase`` of every usable key a DID document lists under
    ``assertionMethod`` or ``authentication``: what the steward pins for a member (FED-5).

    Raises :class:`MalformedError` when the document is not a valid DID document.
    """
    did = c.did(c.obj(did_document, "DID document").get("id"), "DID document id")
    document = validate_did_document(did_document, did=did)
    methods = {m["id"]: m for m in document.get("verificationMethod", []) if isinstance(m, Mapping)}
    keys: list[str] = []
    for relationship in ("assertionMethod", "authentication"):
        for entry in document.get(relationship, []) or []:
            method = methods.get(entry) if isinstance(entry, str) else entry
            if not isinstance(method, Mapping):
                continue
            try:
                key = parse_verification_method(method).public_key.multibase
            except ProtocolError:
                continue
            if key not in keys:
                keys.append(key)
    return tuple(keys[:MAX_MEMBER_KEYS])


# -- the registry --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registry:
    """A verified registry version. Build one with :func:`verify_registry` only."""

    network: str
    name: str
    steward: str
    version: int
    previous: str | None
    members: tuple[Member, ...]
    issued: datetime
    valid_until: datetime | None
    digest: str
    document: Mapping[str, Any] = field(repr=False, compare=False)
    _by_did: Mapping[str, Member] = field(repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_did", MappingProxyType({m.did: m for m in self.members}))

    def member(self, did: str) -> Member | None:
        """The entry for ``did`` (current or former member), or ``None``."""
        return self._by_did.get(did.split("#", 1)[0]) if isinstance(did, str) else None

    def require_member(self, did: str, *, at: datetime) -> Member:
        """The entry for ``did`` if it is a member at ``at``; :class:`NotAMemberError` if not."""
        member = self.member(did)
        if member is None:
            raise NotAMemberError(
                f"{did} is not a member of {self.name} (registry version {self.version})"
            )
        if not member.active_at(at):
            if at < member.member_from:
                raise NotAMemberError(
                    f"{did} ({member.name}) is a member of {self.name} only from "
                    f"{format_datetime(member.member_from)}"
                )
            assert member.member_until is not None
            raise NotAMemberError(
                f"{did} ({member.name}) {member.end_reason} {self.name} at "
                f"{format_datetime(member.member_until)}"
            )
        return member

    def active_members(self, at: datetime) -> list[Member]:
        """Members at ``at``, in registry order."""
        return [m for m in self.members if m.active_at(at)]

    # Steward-side edits: each returns the member list of the next version, for build_registry.

    def with_member(self, member: Member) -> tuple[Member, ...]:
        """The members plus ``member`` (a new DID), or with ``member`` replacing its entry."""
        if not isinstance(member, Member):
            raise TypeError("member must be a Member")
        if member.did in self._by_did:
            return tuple(member if m.did == member.did else m for m in self.members)
        return (*self.members, member)

    def with_member_ended(
        self, did: str, *, at: datetime, reason: Literal["left", "removed"]
    ) -> tuple[Member, ...]:
        """The members with ``did``'s membership ended ``at`` (it stays listed)."""
        if did not in self._by_did:
            raise ValueError(f"{did} is not in the registry")
        return tuple(m.ended(at=at, reason=reason) if m.did == did else m for m in self.members)

    def without_member(self, did: str) -> tuple[Member, ...]:
        """The members without ``did`` at all (its past signatures stop counting)."""
        if did not in self._by_did:
            raise ValueError(f"{did} is not in the registry")
        return tuple(m for m in self.members if m.did != did)


def build_registry(
    *,
    network: str,
    name: str,
    members: Iterable[Member],
    steward_key: KeyPair,
    created: datetime,
    previous: Registry | None = None,
    valid_until: datetime | None = None,
) -> dict[str, Any]:
    """A signed ``FederationRegistryCredential``: version 1, or ``previous.version + 1``.

    Args:
        network: the network's identifier, an https URL run by the steward.
        name: the network's display name.
        members: the entries of this version (see the ``Registry.with_*`` helpers).
        steward_key: the steward's Ed25519 or P-256 key, with ``controller`` (the steward's DID)
            and ``id`` (a verification method listed under ``assertionMethod``).
        created: the signing time (``validFrom`` and the proof's ``created``).
        previous: the version this one replaces, already verified.
        valid_until: an optional end of validity of this version.
    """
    c.url(network, "network")
    c.text(name, "network name", max_chars=256)
    require_aware(created, "created")
    if steward_key.controller is None:
        raise ValueError("steward_key needs its controller (the steward's DID)")
    steward = c.did(steward_key.controller, "steward")
    listed = list(members)
    if not all(isinstance(m, Member) for m in listed):
        raise TypeError("members must be Member objects")
    _check_unique(listed)
    if len(listed) > MAX_REGISTRY_MEMBERS:
        raise ValueError(f"a registry lists at most {MAX_REGISTRY_MEMBERS} members")
    version = 1 if previous is None else previous.version + 1
    if previous is not None:
        if previous.network != network:
            raise ValueError("previous is the registry of another network")
        if previous.steward != steward:
            raise ValueError("previous was signed by another steward")
    subject: dict[str, Any] = {
        "id": network,
        "type": "FederationRegistry",
        "name": name,
        "registryVersion": version,
    }
    if previous is not None:
        subject["previousRegistry"] = previous.digest
    subject["member"] = [m.to_dict() for m in listed]
    credential: dict[str, Any] = {
        "@context": list(c.CONTEXTS),
        "id": f"{network.rstrip('/')}/registry/{version}",
        "type": ["VerifiableCredential", "FederationRegistryCredential"],
        "issuer": steward,
        "validFrom": format_datetime(created),
    }
    if valid_until is not None:
        credential["validUntil"] = format_datetime(valid_until)
    credential["credentialSubject"] = subject
    return sign(credential, key=steward_key, created=created)


def _check_unique(members: Sequence[Member]) -> None:
    seen: set[str] = set()
    for member in members:
        if member.did in seen:
            raise MalformedError(f"the registry lists {member.did} twice")
        seen.add(member.did)


def _check_vc_envelope(document: Mapping[str, Any], *, credential_type: str, what: str) -> None:
    c.obj(document, what)
    if document.get("@context") != c.CONTEXTS:
        raise MalformedError(f"a {what} has the @context {c.CONTEXTS}")
    types = c.types_of(document)
    if "VerifiableCredential" not in types or credential_type not in types:
        raise MalformedError(f"a {what} has type [VerifiableCredential, {credential_type}]")


def _check_signed_by(
    document: Mapping[str, Any], *, signer: str, resolver: Resolver, now: datetime, what: str
) -> None:
    """Verify the single eddsa/ecdsa-rdfc proof and that ``signer`` controls its key."""
    try:
        results = verify_proofs(document, resolver=resolver, now=now)
    except ProtocolError as exc:
        raise InvalidProof(f"{what}: {exc.message}") from exc
    if len(results) != 1:
        raise InvalidProof(f"a {what} carries exactly one proof, found {len(results)}")
    result = results[0]
    if result.error is not None:
        raise result.error
    if result.controller != signer:
        raise ImpersonationError(
            f"the {what} names {signer} as its issuer but is signed with a key of "
            f"{result.controller}"
        )


def _check_window(
    document: Mapping[str, Any], *, now: datetime, what: str, require_until: bool = False
) -> tuple[datetime, datetime | None]:
    skew = timedelta(seconds=MAX_CLOCK_SKEW_SECONDS)
    valid_from = c.when(document.get("validFrom"), f"{what} validFrom")
    until_text = document.get("validUntil")
    if until_text is None and require_until:
        raise MalformedError(f"a {what} must carry validUntil")
    valid_until = c.when(until_text, f"{what} validUntil") if until_text is not None else None
    if valid_until is not None and valid_until < valid_from:
        raise MalformedError(f"the {what} ends before it starts")
    if now + skew < valid_from:
        raise ExpiredError(f"the {what} is not valid before {document.get('validFrom')}")
    if valid_until is not None and now - skew > valid_until:
        raise ExpiredError(f"the {what} expired at {until_text}")
    return valid_from, valid_until


def _parse_registry(document: Mapping[str, Any], *, now: datetime, check_window: bool) -> Registry:
    c.sized(document, limit=MAX_REGISTRY_BYTES, what="registry")
    _check_vc_envelope(document, credential_type="FederationRegistryCredential", what="registry")
    steward = c.did(document.get("issuer"), "registry issuer")
    if check_window:
        issued, valid_until = _check_window(document, now=now, what="registry")
    else:
        issued = c.when(document.get("validFrom"), "registry validFrom")
        until = document.get("validUntil")
        valid_until = c.when(until, "registry validUntil") if until is not None else None
    subject = c.obj(document.get("credentialSubject"), "registry credentialSubject")
    if subject.get("type") != "FederationRegistry":
        raise MalformedError("the registry subject must have type FederationRegistry")
    network = c.url(subject.get("id"), "registry network id")
    if document.get("id") != f"{network.rstrip('/')}/registry/{subject.get('registryVersion')}":
        raise MalformedError("the registry id must be <network>/registry/<registryVersion>")
    name = c.text(subject.get("name"), "network name", max_chars=256)
    version = subject.get("registryVersion")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise MalformedError("registryVersion must be an integer >= 1")
    previous: str | None = None
    if version > 1:
        previous = c.digest_text(subject.get("previousRegistry"), "previousRegistry")
    elif "previousRegistry" in subject:
        raise MalformedError("registry version 1 has no previousRegistry")
    entries = subject.get("member", [])
    if not isinstance(entries, list):
        raise MalformedError("the registry's member must be a list")
    if len(entries) > MAX_REGISTRY_MEMBERS:
        raise MalformedError(f"a registry lists at most {MAX_REGISTRY_MEMBERS} members")
    members = tuple(
        Member.from_dict(entry, where=f"member[{index}]") for index, entry in enumerate(entries)
    )
    _check_unique(members)
    return Registry(
        network=network,
        name=name,
        steward=steward,
        version=version,
        previous=previous,
        members=members,
        issued=issued,
        valid_until=valid_until,
        digest=digest(document),
        document=MappingProxyType(dict(document)),
    )


def verify_registry(
    document: Mapping[str, Any],
    *,
    steward_resolver: Resolver,
    now: datetime,
    steward: str | None = None,
    previous: Registry | None = None,
    check_window: bool = True,
) -> Registry:
    """Verify a registry version and return it.

    Args:
        document: the signed ``FederationRegistryCredential``.
        steward_resolver: resolves the steward's verification methods.
        now: the verification time.
        steward: the DID of the steward the caller trusts. Required unless ``previous`` is given
            (then the steward is ``previous.steward``).
        previous: the last version the caller verified; the new one must be the same document,
            or version ``previous.version + 1`` of the same network linking to it.
        check_window: whether ``validFrom``/``validUntil`` must contain ``now`` (an older
            version, read only to follow a chain, need not).

    Raises:
        MalformedError: the document breaks the format (a duplicate member, a missing field).
        InvalidProof, KeyResolutionError: the signature does not verify.
        ImpersonationError: signed by someone other than its issuer.
        UntrustedError-like RegistryLinkError: another steward, a rollback, a gap or a broken
            link to ``previous``.
        ExpiredError: outside its validity period.
    """
    now = require_aware(now, "now")
    if steward is None and previous is None:
        raise ValueError("name the trusted steward (steward=) or give the previous registry")
    registry = _parse_registry(document, now=now, check_window=check_window)
    expected = previous.steward if previous is not None else steward
    if steward is not None and previous is not None and steward != previous.steward:
        raise ValueError("steward and previous.steward differ")
    if registry.steward != expected:
        raise RegistryLinkError(
            f"the registry is issued by {registry.steward}, not by the steward {expected}"
        )
    _check_signed_by(
        document, signer=registry.steward, resolver=steward_resolver, now=now, what="registry"
    )
    if previous is not None:
        if registry.digest == previous.digest:
            return previous
        if registry.network != previous.network:
            raise RegistryLinkError(
                f"the registry is for network {registry.network}, not {previous.network}"
            )
        if registry.version <= previous.version:
            raise RegistryLinkError(
                f"registry version {registry.version} does not follow version "
                f"{previous.version} (a rollback, or a fork of the same version)"
            )
        if registry.version != previous.version + 1:
            raise RegistryLinkError(
                f"registry version {registry.version} skips versions after {previous.version}: "
                "verify each version in turn (verify_registry_chain)"
            )
        if registry.previous != previous.digest:
            raise RegistryLinkError(
                f"registry version {registry.version} links to {registry.previous}, not to the "
                f"verified version {previous.version} ({previous.digest})"
            )
    return registry


def verify_registry_chain(
    documents: Sequence[Mapping[str, Any]],
    *,
    steward_resolver: Resolver,
    now: datetime,
    steward: str | None = None,
    previous: Registry | None = None,
) -> Registry:
    """Verify consecutive registry versions (oldest first) and return the newest.

    Only the newest must be valid at ``now``; every version must link to the one before.
    """
    if not documents:
        raise ValueError("documents is empty")
    current = previous
    for index, document in enumerate(documents):
        last = index == len(documents) - 1
        current = verify_registry(
            document,
            steward_resolver=steward_resolver,
            now=now,
            steward=steward if current is None else None,
            previous=current,
            check_window=last,
        )
    assert current is not None
    return current


# -- membership credentials -----------------------------------------------------------------------


def build_membership_credential(
    *,
    registry: Registry,
    member: str,
    steward_key: KeyPair,
    credential_id: str,
    issued: datetime,
    valid_until: datetime | None = None,
) -> dict[str, Any]:
    """A ``FederationMembershipCredential`` the steward issues to ``member``, signed with
    eddsa-rdfc-2022, that the member can show to anyone (a plain VC 2.0)."""
    require_aware(issued, "issued")
    entry = registry.require_member(member, at=issued)
    if steward_key.controller != registry.steward:
        raise ValueError("only the registry's steward issues membership credentials")
    until = entry.member_until
    if valid_until is not None:
        until = valid_until if until is None else min(until, valid_until)
    subject: dict[str, Any] = {
        "id": entry.did,
        "type": "FederationMembership",
        "network": registry.network,
        "name": entry.name,
        "role": list(entry.roles),
        "registryVersion": registry.version,
        "memberFrom": format_datetime(entry.member_from),
    }
    if entry.member_until is not None:
        subject["memberUntil"] = format_datetime(entry.member_until)
    credential: dict[str, Any] = {
        "@context": list(c.CONTEXTS),
        "id": credential_id,
        "type": ["VerifiableCredential", "FederationMembershipCredential"],
        "issuer": registry.steward,
        "validFrom": format_datetime(issued),
    }
    if until is not None:
        credential["validUntil"] = format_datetime(until)
    credential["credentialSubject"] = subject
    return sign(credential, key=steward_key, created=issued)


@dataclass(frozen=True)
class Membership:
    """What a verified membership credential says."""

    member: str
    network: str
    name: str
    roles: tuple[str, ...]
    member_from: datetime
    member_until: datetime | None
    registry_version: int


def verify_membership_credential(
    document: Mapping[str, Any],
    *,
    steward: str,
    resolver: Resolver,
    now: datetime,
    registry: Registry | None = None,
) -> Membership:
    """Verify a membership credential issued by ``steward``; return what it says.

    With ``registry`` (a verified version of the same network), the member must still be listed
    and active at ``now``: a departure or removal recorded in the registry outweighs the
    credential.

    Raises:
        ImpersonationError: not issued or not signed by ``steward``.
        InvalidProof, KeyResolutionError: the signature does not verify.
        ExpiredError, NotAMemberError: outside its validity, or no longer a member.
    """
    now = require_aware(now, "now")
    c.sized(document, limit=MAX_REGISTRY_BYTES, what="membership credential")
    _check_vc_envelope(
        document, credential_type="FederationMembershipCredential", what="membership credential"
    )
    if document.get("issuer") != steward:
        raise ImpersonationError(
            f"the membership credential is issued by {document.get('issuer')!r}, not by the "
            f"steward {steward}"
        )
    _check_window(document, now=now, what="membership credential")
    _check_signed_by(document, signer=steward, resolver=resolver, now=now, what="membership")
    subject = c.obj(document.get("credentialSubject"), "membership credentialSubject")
    if subject.get("type") != "FederationMembership":
        raise MalformedError("the membership subject must have type FederationMembership")
    version = subject.get("registryVersion")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise MalformedError("the membership's registryVersion must be an integer >= 1")
    until = subject.get("memberUntil")
    membership = Membership(
        member=c.did(subject.get("id"), "membership subject id"),
        network=c.url(subject.get("network"), "membership network"),
        name=c.text(subject.get("name"), "membership name", max_chars=256),
        roles=c.strings(subject.get("role"), "membership role", max_items=len(ROLES)),
        member_from=c.when(subject.get("memberFrom"), "memberFrom"),
        member_until=c.when(until, "memberUntil") if until is not None else None,
        registry_version=version,
    )
    if any(role not in ROLES for role in membership.roles):
        raise MalformedError(f"membership roles must be among {ROLES}")
    if now < membership.member_from or (
        membership.member_until is not None and now > membership.member_until
    ):
        raise NotAMemberError(
            f"the membership of {membership.member} is not current at {format_datetime(now)}"
        )
    if registry is not None:
        if registry.network != membership.network:
            raise NotAMemberError(
                f"the credential is for network {membership.network}, not {registry.network}"
            )
        registry.require_member(membership.member, at=now)
    return membership


# -- invitations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    """A verified invitation to join ``network``."""

    network: str
    nonce: str
    invitee: str | None
    name: str | None
    roles: tuple[str, ...]
    expires: datetime


def build_invitation(
    *,
    network: str,
    steward_key: KeyPair,
    nonce: str,
    created: datetime,
    expires: datetime,
    invitee: str | None = None,
    name: str | None = None,
    roles: Sequence[str] = ("member",),
) -> dict[str, Any]:
    """A steward-signed ``FederationInvitationCredential``.

    ``nonce`` makes it single-use: draw it from a CSPRNG (``secrets.token_urlsafe(16)`` or
    more; 16 to 128 base64url characters) and record it when the invitation is redeemed.
    ``invitee`` binds it to one DID; without it, whoever holds the invitation may redeem it.
    """
    c.url(network, "network")
    require_aware(created, "created")
    require_aware(expires, "expires")
    if not _NONCE.match(nonce):
        raise ValueError("nonce must be 16 to 128 base64url characters")
    if expires <= created:
        raise ValueError("expires must be after created")
    if expires - created > timedelta(seconds=MAX_INVITATION_LIFETIME_SECONDS):
        raise ValueError(
            f"an invitation is valid at most {MAX_INVITATION_LIFETIME_SECONDS} seconds"
        )
    if any(role not in ROLES for role in roles) or not roles:
        raise ValueError(f"roles must be a non-empty subset of {ROLES}")
    if steward_key.controller is None:
        raise ValueError("steward_key needs its controller (the steward's DID)")
    subject: dict[str, Any] = {}
    if invitee is not None:
        subject["id"] = c.did(invitee, "invitee")
    subject["type"] = "FederationInvitation"
    subject["network"] = network
    if name is not None:
        subject["name"] = c.text(name, "invitee name", max_chars=256)
    subject["role"] = list(roles)
    subject["invitationNonce"] = nonce
    credential: dict[str, Any] = {
        "@context": list(c.CONTEXTS),
        "id": f"{network.rstrip('/')}/invitations/{nonce}",
        "type": ["VerifiableCredential", "FederationInvitationCredential"],
        "issuer": steward_key.controller,
        "validFrom": format_datetime(created),
        "validUntil": format_datetime(expires),
        "credentialSubject": subject,
    }
    return sign(credential, key=steward_key, created=created)


def verify_invitation(
    document: Mapping[str, Any],
    *,
    steward: str,
    resolver: Resolver,
    now: datetime,
    used_nonces: Container[str],
    invitee: str | None = None,
) -> Invitation:
    """Verify an invitation the steward signed, unexpired and not yet redeemed.

    Args:
        document: the invitation credential.
        steward: the DID of the steward (this node, when it is the one redeeming).
        resolver: resolves the steward's keys.
        now: the verification time.
        used_nonces: nonces of invitations already redeemed (the caller records the nonce of
            this one when the member joins).
        invitee: the DID asking to join (proved by the caller, e.g. by a signed request); must
            match the invitation's subject when the invitation names one.

    Raises:
        ReplayError: the nonce was already used. ExpiredError: outside validFrom/validUntil.
        ImpersonationError: another invitee, or not signed by the steward.
    """
    now = require_aware(now, "now")
    c.sized(document, limit=MAX_REGISTRY_BYTES, what="invitation")
    _check_vc_envelope(
        document, credential_type="FederationInvitationCredential", what="invitation"
    )
    if document.get("issuer") != steward:
        raise ImpersonationError(
            f"the invitation is issued by {document.get('issuer')!r}, not by the steward {steward}"
        )
    valid_from, valid_until = _check_window(
        document, now=now, what="invitation", require_until=True
    )
    _check_signed_by(document, signer=steward, resolver=resolver, now=now, what="invitation")
    assert valid_until is not None
    if valid_until - valid_from > timedelta(seconds=MAX_INVITATION_LIFETIME_SECONDS):
        raise MalformedError(
            f"an invitation is valid at most {MAX_INVITATION_LIFETIME_SECONDS} seconds"
        )
    subject = c.obj(document.get("credentialSubject"), "invitation credentialSubject")
    if subject.get("type") != "FederationInvitation":
        raise MalformedError("the invitation subject must have type FederationInvitation")
    nonce = subject.get("invitationNonce")
    if not isinstance(nonce, str) or not _NONCE.match(nonce):
        raise MalformedError("invitationNonce must be 16 to 128 base64url characters")
    if nonce in used_nonces:
        raise ReplayError("this invitation was already used")
    named = c.did(subject["id"], "invitee") if "id" in subject else None
    if named is not None and invitee != named:
        raise ImpersonationError(f"the invitation is for {named}, not for {invitee!r}")
    name = subject.get("name")
    return Invitation(
        network=c.url(subject.get("network"), "invitation network"),
        nonce=nonce,
        invitee=named,
        name=c.text(name, "invitee name", max_chars=256) if name is not None else None,
        roles=c.strings(subject.get("role"), "invitation role", max_items=len(ROLES)),
        expires=valid_until,
    )
