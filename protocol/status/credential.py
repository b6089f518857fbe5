"""Status entries and status list credentials: build them, and check one entry against its list.

https://www.w3.org/TR/vc-bitstring-status-list/ (Bitstring Status List v1.0, REC 2025-05-15):
section 2.1 (``BitstringStatusListEntry``), 2.2 (``BitstringStatusListCredential``), 3.2 (the
Validate Algorithm). The legacy ``StatusList2021Entry`` / ``StatusList2021Credential`` pair
(context ``https://w3id.org/vc/status-list/2021/v1``) is read the same way, except that its
``encodedList`` is plain base64url rather than multibase.

Nothing here fetches: the caller hands in the list credential it retrieved (or that a holder
stapled), the resolver that knows the list signer's keys, and the time. Errors:

* :class:`~protocol.errors.MalformedError` / :class:`~protocol.errors.UnsupportedError`: the entry
  or a member of the list is not well-formed (MALFORMED_VALUE_ERROR), or the entry type is not one
  we read;
* :class:`~protocol.errors.StatusVerificationError`: the list cannot be trusted for this entry
  (not the list the entry names, unsigned, a proof that does not verify, a signer other than the
  list's issuer, the entry's purpose not in the list);
* :class:`~protocol.errors.StatusRetrievalError`: the list is outside its validity period, or
  older than ``max_age``. A list that is not current says nothing about the status *now*, so the
  status is unknown, never "not revoked";
* :class:`~protocol.errors.StatusListLengthError`, :class:`~protocol.errors.StatusRangeError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeGuard

from ..di import verify_proofs
from ..did import Resolver
from ..errors import (
    MalformedError,
    ProtocolError,
    StatusRangeError,
    StatusRetrievalError,
    StatusVerificationError,
    UnsupportedError,
)
from ..jsonld.loader import StaticDocumentLoader
from ..limits import MAX_CLOCK_SKEW_SECONDS, MAX_STATUS_SIZE_BITS, MIN_STATUS_LIST_ENTRIES
from ..timeutil import format_datetime, parse_datetime
from .bitstring import StatusBitstring, decode

__all__ = [
    "BITSTRING_ENTRY",
    "BITSTRING_LIST",
    "BITSTRING_LIST_CREDENTIAL",
    "LEGACY_ENTRY",
    "LEGACY_LIST",
    "LEGACY_LIST_CREDENTIAL",
    "STATUS_ENTRY_TYPES",
    "StatusEntry",
    "StatusResult",
    "build_status_entry",
    "build_status_list_credential",
    "check_status",
    "entry_types",
    "parse_status_entry",
]

VC_CONTEXT_V2 = "https://www.w3.org/ns/credentials/v2"
BITSTRING_ENTRY = "BitstringStatusListEntry"
BITSTRING_LIST_CREDENTIAL = "BitstringStatusListCredential"
BITSTRING_LIST = "BitstringStatusList"
LEGACY_ENTRY = "StatusList2021Entry"
LEGACY_LIST_CREDENTIAL = "StatusList2021Credential"
LEGACY_LIST = "StatusList2021"
#: The entry types :func:`check_status` reads.
STATUS_ENTRY_TYPES = frozenset({BITSTRING_ENTRY, LEGACY_ENTRY})

Kind = Literal["BitstringStatusList", "StatusList2021"]
_LIST_TYPES: Mapping[str, tuple[str, str]] = {
    "BitstringStatusList": (BITSTRING_LIST_CREDENTIAL, BITSTRING_LIST),
    "StatusList2021": (LEGACY_LIST_CREDENTIAL, LEGACY_LIST),
}
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_HEX_STATUS = re.compile(r"0[xX][0-9a-fA-F]+", re.ASCII)
_ABSOLUTE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+", re.ASCII)
#: Significant digits of the largest index worth parsing: any larger index lies outside every
#: list we accept (MAX_STATUS_LIST_BITS is about 1.3e8), and int() of a huge string is costly.
_MAX_INDEX_DIGITS = 18


def entry_types(entry: Mapping[str, Any]) -> list[str]:
    """The ``type`` of a status entry as a list of strings (a single string counts as one)."""
    value = entry.get("type")
    items = value if isinstance(value, list) else [value]
    return [t for t in items if isinstance(t, str)]


def _is_url(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _ABSOLUTE_URL.fullmatch(value) is not None


@dataclass(frozen=True)
class StatusEntry:
    """A well-formed status entry (``credentialStatus`` item)."""

    kind: Kind
    purpose: str
    index: int
    list_url: str
    status_size: int = 1
    #: ``statusMessage`` as (value, message) pairs, in the entry's order.
    messages: tuple[tuple[int, str], ...] | None = None
    id: str | None = None


def _parse_messages(value: object, status_size: int) -> tuple[tuple[int, str], ...]:
    expected = 1 << status_size
    if not isinstance(value, list):
        raise MalformedError("statusMessage must be an array")
    if len(value) != expected:
        raise MalformedError(
            f"statusMessage has {len(value)} items; a statusSize of {status_size} needs "
            f"exactly {expected} (one per possible value)"
        )
    pairs: list[tuple[int, str]] = []
    seen: set[int] = set()
    for position, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise MalformedError(f"statusMessage[{position}] must be an object")
        status, message = item.get("status"), item.get("message")
        if not isinstance(status, str) or _HEX_STATUS.fullmatch(status) is None:
            raise MalformedError(
                f"statusMessage[{position}].status must be a hexadecimal string such as '0x1'"
            )
        if not isinstance(message, str):
            raise MalformedError(f"statusMessage[{position}].message must be a string")
        number = int(status[2:], 16)
        if number >= expected:
            raise MalformedError(
                f"statusMessage[{position}].status {status} does not fit in {status_size} bit(s)"
            )
        if number in seen:
            raise MalformedError(f"statusMessage repeats the status {status}")
        seen.add(number)
        pairs.append((number, message))
    return tuple(pairs)


def parse_status_entry(entry: object) -> StatusEntry:
    """Check a ``credentialStatus`` entry against BSL 2.1 (or StatusList2021) and parse it.

    Raises:
        MalformedError: a member breaks a MUST of section 2.1 (MALFORMED_VALUE_ERROR).
        UnsupportedError: the entry is of another type (``1EdTechRevocationList``, say).
        StatusRangeError: ``statusListIndex`` is too large for any list we accept.
    """
    if not isinstance(entry, Mapping):
        raise MalformedError("a status entry must be a JSON object")
    types = entry_types(entry)
    if BITSTRING_ENTRY in types:
        kind: Kind = "BitstringStatusList"
    elif LEGACY_ENTRY in types:
        kind = "StatusList2021"
    else:
        named = ", ".join(types) if types else "(no type)"
        raise UnsupportedError(f"status entry type {named} is not supported")
    purpose = entry.get("statusPurpose")
    if not isinstance(purpose, str) or not purpose:
        raise MalformedError("statusPurpose must be a non-empty string")
    text = entry.get("statusListIndex")
    if not isinstance(text, str) or _DIGITS.fullmatch(text) is None:
        raise MalformedError(
            'statusListIndex must be a base-10 integer written as a string, such as "94567"'
        )
    if len(text.lstrip("0")) > _MAX_INDEX_DIGITS:
        raise StatusRangeError(f"statusListIndex {text[:24]}... is beyond any status list")
    index = int(text)
    list_url = entry.get("statusListCredential")
    if not _is_url(list_url):
        raise MalformedError("statusListCredential must be a URL")
    entry_id = entry.get("id")
    if entry_id is not None:
        if not _is_url(entry_id):
            raise MalformedError("the status entry id must be a URL")
        if entry_id == list_url:
            raise MalformedError("the status entry id must not be the URL of the status list")
    status_size = 1
    if "statusSize" in entry:
        status_size = entry["statusSize"]
        if isinstance(status_size, bool) or not isinstance(status_size, int) or status_size < 1:
            raise MalformedError("statusSize must be an integer greater than zero")
        if status_size > MAX_STATUS_SIZE_BITS:
            raise UnsupportedError(
                f"statusSize {status_size} is larger than the {MAX_STATUS_SIZE_BITS} bits "
                "Passeport accepts"
            )
    messages = None
    if "statusMessage" in entry:
        messages = _parse_messages(entry["statusMessage"], status_size)
    elif status_size > 1:
        raise MalformedError("statusMessage must be present when statusSize is greater than 1")
    if "statusReference" in entry:
        reference = entry["statusReference"]
        references = reference if isinstance(reference, list) else [reference]
        if not references or not all(_is_url(r) for r in references):
            raise MalformedError("statusReference must be a URL or an array of URLs")
    return StatusEntry(
        kind=kind,
        purpose=purpose,
        index=index,
        list_url=list_url,
        status_size=status_size,
        messages=messages,
        id=entry_id,
    )


@dataclass(frozen=True)
class StatusResult:
    """The status of one entry, read from a list credential that verified and is current.

    ``value`` is the entry's status (0 to 2**status_size - 1) and ``active`` says whether it is
    non-zero: for ``revocation`` the credential is revoked, for ``suspension`` suspended, for
    ``refresh`` a newer credential is available. ``list_issuer`` is the list credential's issuer,
    which MAY differ from the credential's (BSL 2.2): the caller decides whether it trusts it.
    """

    purpose: str
    index: int
    value: int
    active: bool
    message: str | None
    list_id: str
    list_issuer: str | None = None
    status_size: int = 1
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    #: The list's ``ttl``: milliseconds before a refresh of the list SHOULD be attempted.
    ttl_ms: int | None = None

    @property
    def valid(self) -> bool:
        """BSL 3.2 step 13: ``valid`` is true exactly when the status is 0."""
        return self.value == 0

    def to_dict(self) -> dict[str, Any]:
        """The result map of the Validate Algorithm (``status``, ``purpose``, ``valid``,
        ``message`` when known), plus where it came from."""
        out: dict[str, Any] = {
            "status": self.value,
            "purpose": self.purpose,
            "valid": self.valid,
        }
        if self.message is not None:
            out["message"] = self.message
        out["statusListCredential"] = self.list_id
        out["statusListIndex"] = str(self.index)
        if self.list_issuer is not None:
            out["statusListIssuer"] = self.list_issuer
        return out


# -- builders -----------------------------------------------------------------------------------


def build_status_entry(
    *,
    list_credential_url: str,
    index: int,
    purpose: str = "revocation",
    entry_id: str | None = None,
    status_size: int = 1,
    status_messages: Sequence[tuple[int, str]] | None = None,
) -> dict[str, Any]:
    """A ``BitstringStatusListEntry`` for ``credentialStatus`` (BSL 2.1).

    The ``id`` defaults to ``<list url>#<index>`` (it MUST NOT be the list URL itself). Indexes
    SHOULD be drawn at random by the issuer (``specs/status.md``); this function only writes it.
    ``status_messages`` are (value, message) pairs, required when ``status_size`` > 1.
    """
    if not _is_url(list_credential_url):
        raise ValueError("list_credential_url must be an absolute URL")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError("index must be an int >= 0")
    if not isinstance(purpose, str) or not purpose:
        raise ValueError("purpose must be a non-empty string")
    entry_id = f"{list_credential_url}#{index}" if entry_id is None else entry_id
    if entry_id == list_credential_url:
        raise ValueError("the entry id must not be the status list URL")
    entry: dict[str, Any] = {
        "id": entry_id,
        "type": BITSTRING_ENTRY,
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_credential_url,
    }
    if status_size != 1:
        entry["statusSize"] = status_size
    if status_messages is not None:
        entry["statusMessage"] = [
            {"status": hex(value), "message": message} for value, message in status_messages
        ]
    try:
        parse_status_entry(entry)
    except ProtocolError as exc:
        raise ValueError(f"cannot build this status entry: {exc.message}") from exc
    return entry


def build_status_list_credential(
    *,
    list_url: str,
    issuer: str | Mapping[str, Any],
    purpose: str | Sequence[str],
    bitstring: StatusBitstring,
    valid_from: datetime,
    valid_until: datetime | None = None,
    ttl_ms: int | None = None,
    min_entries: int = MIN_STATUS_LIST_ENTRIES,
) -> dict[str, Any]:
    """An unsigned VC 2.0 ``BitstringStatusListCredential`` (BSL 2.2) for ``bitstring``.

    Sign it with :func:`protocol.di.sign` (``assertionMethod``, the issuer's key). The subject
    is ``{id: <list url>#list, type: BitstringStatusList, statusPurpose, encodedList[, ttl]}``.
    The same bitstring and dates always give the same document (deterministic GZIP).
    """
    if not _is_url(list_url) or "#" in list_url:
        raise ValueError("list_url must be an absolute URL without a fragment")
    if isinstance(issuer, Mapping):
        if not _is_url(issuer.get("id")):
            raise ValueError("an issuer object needs an id URL")
    elif not _is_url(issuer):
        raise ValueError("issuer must be a URL (a DID) or an object with an id")
    purposes = [purpose] if isinstance(purpose, str) else list(purpose)
    if not purposes or not all(isinstance(p, str) and p for p in purposes):
        raise ValueError("purpose must be one or more non-empty strings")
    if not isinstance(bitstring, StatusBitstring):
        raise TypeError("bitstring must be a StatusBitstring")
    if bitstring.length < min_entries:
        raise ValueError(
            f"a status list needs at least {min_entries} entries, this one has {bitstring.length}"
        )
    if valid_until is not None and valid_until < valid_from:
        raise ValueError("valid_until is before valid_from")
    if ttl_ms is not None and (
        isinstance(ttl_ms, bool) or not isinstance(ttl_ms, int) or ttl_ms < 0
    ):
        raise ValueError("ttl_ms must be a non-negative int")
    subject: dict[str, Any] = {
        "id": f"{list_url}#list",
        "type": BITSTRING_LIST,
        "statusPurpose": purposes[0] if len(purposes) == 1 else purposes,
        "encodedList": bitstring.encode(),
    }
    if ttl_ms is not None:
        subject["ttl"] = ttl_ms
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT_V2],
        "id": list_url,
        "type": ["VerifiableCredential", BITSTRING_LIST_CREDENTIAL],
        "issuer": dict(issuer) if isinstance(issuer, Mapping) else issuer,
        "validFrom": format_datetime(valid_from),
    }
    if valid_until is not None:
        credential["validUntil"] = format_datetime(valid_until)
    credential["credentialSubject"] = subject
    return credential


# -- checking -----------------------------------------------------------------------------------


def _id_of(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _types(document: Mapping[str, Any]) -> list[str]:
    value = document.get("type", [])
    items = value if isinstance(value, list) else [value]
    return [t for t in items if isinstance(t, str)]


def _check_proofs(
    list_credential: Mapping[str, Any],
    *,
    url: str,
    issuer: str | None,
    resolver: Resolver,
    now: datetime,
    loader: StaticDocumentLoader | None,
) -> None:
    # BSL 3.2 step 4: "ensure that all proofs verify successfully" (STATUS_VERIFICATION_ERROR).
    try:
        results = verify_proofs(
            list_credential,
            resolver=resolver,
            now=now,
            expected_purpose="assertionMethod",
            loader=loader,
        )
    except ProtocolError as exc:
        raise StatusVerificationError(
            f"the proofs of status list {url} cannot be read: {exc.message}"
        ) from exc
    if not results:
        raise StatusVerificationError(f"the status list {url} is not signed (it has no proof)")
    for result in results:
        if result.error is not None:
            raise StatusVerificationError(
                f"proof[{result.index}] ({result.name}) of status list {url} does not verify: "
                f"{result.error.message}"
            ) from result.error
        if issuer is None or result.controller != issuer:
            raise StatusVerificationError(
                f"proof[{result.index}] of status list {url} is signed by {result.controller}, "
                f"not by the list's issuer {issuer or '(none named)'}"
            )


def _validity(
    list_credential: Mapping[str, Any],
    *,
    url: str,
    now: datetime,
    max_age: timedelta | None,
) -> tuple[datetime | None, datetime | None]:
    skew = timedelta(seconds=MAX_CLOCK_SKEW_SECONDS)
    try:
        if "validFrom" in list_credential:
            valid_from = parse_datetime(
                list_credential["validFrom"], what="validFrom", require_timezone=True
            )
        elif "issuanceDate" in list_credential:  # VC 1.1 StatusList2021 lists
            valid_from = parse_datetime(
                list_credential["issuanceDate"], what="issuanceDate", require_timezone=False
            )
        else:
            valid_from = None
        if "validUntil" in list_credential:
            valid_until = parse_datetime(
                list_credential["validUntil"], what="validUntil", require_timezone=True
            )
        elif "expirationDate" in list_credential:
            valid_until = parse_datetime(
                list_credential["expirationDate"], what="expirationDate", require_timezone=False
            )
        else:
            valid_until = None
    except MalformedError as exc:
        raise MalformedError(f"status list {url}: {exc.message}") from exc
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise MalformedError(f"status list {url}: validUntil is before validFrom")
    if valid_from is not None and now + skew < valid_from:
        raise StatusRetrievalError(
            f"status list {url} is not valid before {format_datetime(valid_from)}"
        )
    if valid_until is not None and now - skew > valid_until:
        raise StatusRetrievalError(
            f"status list {url} expired at {format_datetime(valid_until)}: a current list is needed"
        )
    if max_age is not None:
        if valid_from is None:
            raise StatusRetrievalError(
                f"status list {url} states no validFrom, so its age cannot be bounded by the "
                f"maximum age of {max_age}"
            )
        if valid_from < now - max_age:
            raise StatusRetrievalError(
                f"status list {url} is stale: valid from {format_datetime(valid_from)}, older than "
                f"the maximum age of {max_age}"
            )
    return valid_from, valid_until


def _subject(list_credential: Mapping[str, Any], *, url: str, list_type: str) -> Mapping[str, Any]:
    subject = list_credential.get("credentialSubject")
    if isinstance(subject, list) and len(subject) == 1:
        subject = subject[0]
    if not isinstance(subject, Mapping):
        raise MalformedError(f"status list {url}: credentialSubject must be a single object")
    if list_type not in _types(subject):
        raise StatusVerificationError(
            f"status list {url}: credentialSubject.type is not {list_type}"
        )
    return subject


def _purposes(subject: Mapping[str, Any], *, url: str) -> list[str]:
    value = subject.get("statusPurpose")
    purposes = value if isinstance(value, list) else [value]
    if not purposes or not all(isinstance(p, str) and p for p in purposes):
        raise MalformedError(
            f"status list {url}: credentialSubject.statusPurpose must be one or more strings"
        )
    return [str(p) for p in purposes]


def _message(entry: StatusEntry, subject: Mapping[str, Any], value: int) -> str | None:
    messages = entry.messages
    if messages is None:
        for member in ("statusMessages", "statusMessage"):  # BSL 2.2 names the former
            if member in subject:
                messages = _parse_messages(subject[member], entry.status_size)
                break
    if messages is not None:
        return dict(messages).get(value)
    if entry.purpose == "message" and entry.status_size == 1:
        return "set" if value else "unset"  # BSL 2.1, statusMessage absent
    return None


def check_status(
    entry: Mapping[str, Any],
    list_credential: Mapping[str, Any],
    *,
    resolver: Resolver,
    now: datetime,
    loader: StaticDocumentLoader | None = None,
    min_entries: int = MIN_STATUS_LIST_ENTRIES,
    max_age: timedelta | None = None,
) -> StatusResult:
    """Read the status of ``entry`` from ``list_credential`` (BSL 3.2, Validate Algorithm).

    Args:
        entry: one ``credentialStatus`` entry of the credential being verified.
        list_credential: the list credential the caller retrieved from the entry's
            ``statusListCredential`` URL (nothing is fetched here).
        resolver: resolves the verification methods of the list's proofs.
        now: the verification time (timezone-aware).
        loader: JSON-LD contexts for the list's proofs (the packaged ones by default).
        min_entries: the least number of entries a list may hold (BSL 3.2 step 2).
        max_age: when given, a list whose ``validFrom`` is older than ``now - max_age`` is stale.

    Returns:
        The entry's status. ``active`` is the bit (or a non-zero value); the caller decides what
        it means for its purpose, and whether it trusts ``list_issuer``.

    Raises:
        MalformedError, UnsupportedError: the entry or the list is malformed.
        StatusVerificationError: the list is not the entry's, is unsigned or badly signed, or
            does not serve the entry's purpose.
        StatusRetrievalError: the list is expired, not yet valid, or stale.
        StatusListLengthError: the list is shorter than ``min_entries``.
        StatusRangeError: the index is outside the list.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    parsed = parse_status_entry(entry)
    url = parsed.list_url
    if not isinstance(list_credential, Mapping):
        raise MalformedError(f"status list {url} must be a JSON object")
    credential_type, list_type = _LIST_TYPES[parsed.kind]
    # BSL 2.1: the dereferenced credential's type includes BitstringStatusListCredential.
    if credential_type not in _types(list_credential):
        raise StatusVerificationError(
            f"the document given for status list {url} is not a {credential_type}"
        )
    # The list credential must be the one the entry names (BSL 2.2, id).
    list_id = list_credential.get("id")
    if list_id != url:
        raise StatusVerificationError(
            f"the status list credential's id is {list_id!r}, but the entry names {url}"
        )
    list_issuer = _id_of(list_credential.get("issuer"))
    # 4. All proofs verify, each by a key of the list's issuer.
    _check_proofs(
        list_credential, url=url, issuer=list_issuer, resolver=resolver, now=now, loader=loader
    )
    # A list outside its validity period (or older than the policy allows) says nothing about now.
    valid_from, valid_until = _validity(list_credential, url=url, now=now, max_age=max_age)
    subject = _subject(list_credential, url=url, list_type=list_type)
    # 5. The entry's purpose must be one of the list's.
    purposes = _purposes(subject, url=url)
    if parsed.purpose not in purposes:
        raise StatusVerificationError(
            f"status list {url} serves {', '.join(purposes)}, not {parsed.purpose}"
        )
    if "statusSize" in subject and subject["statusSize"] != parsed.status_size:
        raise StatusVerificationError(
            f"status list {url} has entries of {subject['statusSize']!r} bit(s), the entry "
            f"expects {parsed.status_size}"
        )
    ttl = subject.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0):
        raise MalformedError(f"status list {url}: ttl must be a non-negative integer (ms)")
    # 6-9. Expand the bitstring; refuse a list shorter than the minimum (STATUS_LIST_LENGTH_ERROR).
    encoded = subject.get("encodedList")
    if not isinstance(encoded, str):
        raise MalformedError(f"status list {url}: encodedList must be a string")
    try:
        bits = decode(
            encoded,
            status_size=parsed.status_size,
            min_entries=min_entries,
            multibase=parsed.kind == "BitstringStatusList",
        )
    except ProtocolError as exc:
        raise type(exc)(f"status list {url}: {exc.message}") from exc
    # 10. The status at index * statusSize, or RANGE_ERROR.
    if parsed.index >= bits.length:
        raise StatusRangeError(
            f"statusListIndex {parsed.index} is outside status list {url} ({bits.length} entries)"
        )
    value = bits.get(parsed.index)
    # 11-14. The result.
    return StatusResult(
        purpose=parsed.purpose,
        index=parsed.index,
        value=value,
        active=value != 0,
        message=_message(parsed, subject, value),
        list_id=url,
        list_issuer=list_issuer,
        status_size=parsed.status_size,
        valid_from=valid_from,
        valid_until=valid_until,
        ttl_ms=ttl,
    )
