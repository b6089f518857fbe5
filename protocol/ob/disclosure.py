"""The Open Badges 3.0 selective-disclosure profile: which JSON Pointers are mandatory, which
the holder may reveal.

Normative text: ``specs/ob-disclosure-profile.md``. An issuer that secures an OB 3.0 credential
with ecdsa-sd-2023 passes :func:`mandatory_pointers` as the mandatory pointers; a holder derives
with any subset of :func:`selectable_pointers`. Every such disclosure still passes
:func:`protocol.ob.validate` (VC 2.0 rules, OB rules, the 1EdTech schema) and still names the
credential, its issuer, the achievement, the validity period and the status entry.

Pure data: this module computes pointer lists and signs nothing (``protocol.di.ecdsa_sd_2023``
does). Ids and types on the path of a pointer are always revealed by ecdsa-sd-2023 itself, so
the credential ``id`` and the subject ``id`` (when there is one) are disclosed by every
derivation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "OB_MANDATORY_POINTERS",
    "OB_SELECTABLE_MEMBERS",
    "OB_SUBJECT_SELECTABLE_MEMBERS",
    "mandatory_pointers",
    "selectable_pointers",
]

#: Mandatory pointers of the profile, in order. Those whose member is absent are left out by
#: :func:`mandatory_pointers` (a JSON Pointer must match the document). ``/id`` and ``/type``
#: and the ids/types on every path are revealed anyway; they are listed so that the profile
#: states them.
OB_MANDATORY_POINTERS: tuple[str, ...] = (
    "/id",
    "/type",
    "/name",
    "/issuer",
    "/validFrom",
    "/validUntil",
    "/credentialStatus",
    "/credentialSchema",
    "/termsOfUse",
    "/credentialSubject/type",
    "/credentialSubject/achievement",
)

#: Top-level members the holder may reveal, one pointer each (arrays: one pointer per item).
OB_SELECTABLE_MEMBERS: tuple[str, ...] = (
    "description",
    "image",
    "awardedDate",
    "evidence",
    "endorsement",
    "endorsementJwt",
    "refreshService",
)

#: AchievementSubject members the holder may reveal (arrays: one pointer per item).
OB_SUBJECT_SELECTABLE_MEMBERS: tuple[str, ...] = (
    "identifier",
    "result",
    "narrative",
    "activityStartDate",
    "activityEndDate",
    "creditsEarned",
    "licenseNumber",
    "role",
    "source",
    "term",
    "image",
)

#: Arrays whose items are revealed one by one.
_PER_ITEM = frozenset({"evidence", "endorsement", "endorsementJwt", "identifier", "result"})


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _subject(credential: Mapping[str, Any]) -> Mapping[str, Any] | None:
    subject = credential.get("credentialSubject")
    return subject if isinstance(subject, Mapping) else None


def mandatory_pointers(credential: Mapping[str, Any]) -> list[str]:
    """The profile's mandatory pointers for ``credential`` (present members only).

    A subject without an ``id`` is identified by its ``identifier`` entries, which OB 3.0 then
    requires, so ``/credentialSubject/identifier`` becomes mandatory for it.

    Raises ``ValueError`` when ``credentialSubject`` is not a single object (OB 3.0 has one
    AchievementSubject).
    """
    subject = _subject(credential)
    if subject is None:
        raise ValueError("an OB 3.0 credential has one credentialSubject object")
    pointers = []
    for pointer in OB_MANDATORY_POINTERS:
        *parents, member = pointer[1:].split("/")
        if member in (subject if parents else credential):
            pointers.append(pointer)
    if "id" not in subject and "identifier" in subject:
        pointers.append("/credentialSubject/identifier")
    return pointers


def _member_pointers(
    container: Mapping[str, Any], base: str, members: tuple[str, ...]
) -> list[str]:
    pointers: list[str] = []
    for member in members:
        if member not in container:
            continue
        value = container[member]
        pointer = f"{base}/{_escape(member)}"
        if member in _PER_ITEM and isinstance(value, list):
            pointers.extend(f"{pointer}/{index}" for index in range(len(value)))
        else:
            pointers.append(pointer)
    return pointers


def selectable_pointers(credential: Mapping[str, Any]) -> list[str]:
    """The pointers the holder may reveal for ``credential``, in document-model order.

    Each one selects a whole member, or a whole item of an array (evidence, results,
    identifiers, endorsements), so any subset keeps every revealed object schema-valid.
    Members that :func:`mandatory_pointers` already reveals are not listed.
    """
    subject = _subject(credential)
    if subject is None:
        raise ValueError("an OB 3.0 credential has one credentialSubject object")
    mandatory = set(mandatory_pointers(credential))
    pointers = _member_pointers(credential, "", OB_SELECTABLE_MEMBERS)
    pointers += _member_pointers(subject, "/credentialSubject", OB_SUBJECT_SELECTABLE_MEMBERS)
    return [p for p in pointers if p not in mandatory and p.rsplit("/", 1)[0] not in mandatory]
