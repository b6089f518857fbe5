"""Builders for unsigned OB 3.0 credentials, endorsements and hashed e-mail identities.

The documents follow the OB serialization rules (https://www.imsglobal.org/spec/ob/v3p0/#serialization):
multi-valued properties are arrays even with one value, nulls and empty arrays are omitted,
timestamps are UTC ``YYYY-MM-DDThh:mm:ssZ``. ``@context`` is ``[credentials/v2, OB context-3.0.3]``,
plus ``extensions.json`` only when a 1EdTech extension type (``1EdTechJsonSchemaValidator2019``,
``1EdTechRevocationList``, ``1EdTechCredentialRefresh``) appears, because OB context 3.0.3 does
not define those terms (standards.md 1.1).

Every builder validates its result with :func:`protocol.ob.validate` and raises ``ValueError``
listing the issues if the inputs cannot make a conforming document: bad builder input is a
programmer error, not untrusted data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from protocol.timeutil import require_aware

from .model import (
    OB_CONTEXT_3_0_3,
    OB_EXTENSIONS_CONTEXT,
    VC_CONTEXT_V2,
    Achievement,
    AchievementSubject,
    EndorsementCredential,
    EndorsementSubject,
    Evidence,
    IdentityObject,
    OpenBadgeCredential,
    Profile,
    Result,
)
from .validate import validate

__all__ = [
    "EXTENSION_TYPES",
    "build_credential",
    "build_endorsement",
    "contexts_for",
    "hashed_email_identity",
    "normalize_email",
]

#: Types defined by ``extensions.json`` and not by the OB 3.0.3 context.
EXTENSION_TYPES = frozenset(
    {"1EdTechJsonSchemaValidator2019", "1EdTechRevocationList", "1EdTechCredentialRefresh"}
)


def normalize_email(email: str) -> str:
    """The form of an e-mail address that :func:`hashed_email_identity` hashes.

    OB 3.0 defines ``IdentityHash`` as ``sha256$`` + hex(SHA-256(UTF-8(identity + salt))) and
    says nothing about normalising the identity. We trim surrounding whitespace and lower-case
    the whole address: mail providers treat addresses case-insensitively, and a recipient who
    types ``Alice@Example.org`` must still match. :func:`protocol.ob.check_recipient` tries both
    the address as given and this form, so issuers that hash the exact text also match.
    """
    if not isinstance(email, str):
        raise TypeError("email must be a string")
    normalized = email.strip().lower()
    local, sep, domain = normalized.rpartition("@")
    if not sep or not local or not domain or any(c.isspace() for c in normalized):
        raise ValueError(f"not an e-mail address: {email!r}")
    return normalized


def hashed_email_identity(email: str, salt: str) -> dict[str, Any]:
    """An OB 3.0 IdentityObject for a salted SHA-256 hash of an e-mail address.

    >>> hashed_email_identity("a@example.com", "Kosher")["identityHash"]
    'sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399'

    Args:
        email: the recipient's address (normalised by :func:`normalize_email`).
        salt: the salt appended to the address before hashing (use a fresh random value per
            credential, e.g. ``secrets.token_hex(16)``; an empty salt is omitted).
    """
    if not isinstance(salt, str):
        raise TypeError("salt must be a string")
    digest = hashlib.sha256((normalize_email(email) + salt).encode("utf-8")).hexdigest()
    identity: dict[str, Any] = {
        "type": "IdentityObject",
        "identityHash": f"sha256${digest}",
        "identityType": "emailAddress",
        "hashed": True,
    }
    if salt:
        identity["salt"] = salt
    return identity


def contexts_for(document: Mapping[str, Any]) -> list[str]:
    """``[credentials/v2, OB 3.0.3]`` plus ``extensions.json`` when an extension type is used."""
    contexts = [VC_CONTEXT_V2, OB_CONTEXT_3_0_3]
    if _uses_extension_types(document):
        contexts.append(OB_EXTENSIONS_CONTEXT)
    return contexts


def build_credential(
    *,
    issuer: Profile | Mapping[str, Any] | str,
    achievement: Achievement | Mapping[str, Any],
    subject_id: str | None,
    identity: Mapping[str, Any] | IdentityObject | None,
    credential_id: str,
    valid_from: datetime,
    valid_until: datetime | None = None,
    name: str | None = None,
    evidence: Iterable[Evidence | Mapping[str, Any]] = (),
    results: Iterable[Result | Mapping[str, Any]] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An unsigned OB 3.0 OpenBadgeCredential.

    Args:
        issuer: the issuer Profile (object or dict), or its URI.
        achievement: the achievement awarded.
        subject_id: the holder's identifier (e.g. their did:key), or ``None``.
        identity: an IdentityObject (e.g. from :func:`hashed_email_identity`), or ``None``.
            At least one of ``subject_id`` and ``identity`` is required.
        credential_id: the credential's URI (e.g. ``urn:uuid:...``).
        valid_from: start of validity (timezone-aware).
        valid_until: end of validity (timezone-aware), if any.
        name: display name of the credential; defaults to the achievement's name.
        evidence: Evidence objects or dicts.
        results: Result objects or dicts for ``credentialSubject.result``.
        extra: further top-level members (``description``, ``image``, ``awardedDate``,
            ``credentialStatus``, ``credentialSchema``, ``refreshService``, ``termsOfUse``, ...).
            They may not replace a member the builder sets.

    Returns:
        The credential as a JSON-ready ``dict``.

    Raises:
        ValueError: a datetime is naive, neither ``subject_id`` nor ``identity`` is given, an
            ``extra`` member collides, or the result does not validate.
    """
    require_aware(valid_from, "valid_from")
    if valid_until is not None:
        require_aware(valid_until, "valid_until")
    if subject_id is None and identity is None:
        raise ValueError("a credential subject needs subject_id, identity, or both")
    award = (
        achievement
        if isinstance(achievement, Achievement)
        else Achievement.from_dict(achievement, path="achievement")
    )
    identifiers = []
    if identity is not None:
        identifiers.append(
            identity
            if isinstance(identity, IdentityObject)
            else IdentityObject.from_dict(identity, path="identity")
        )
    subject = AchievementSubject(
        id=subject_id,
        achievement=award,
        identifier=identifiers,
        result=[r if isinstance(r, Result) else Result.from_dict(r) for r in results],
    )
    credential = OpenBadgeCredential(
        id=credential_id,
        name=name if name is not None else award.name,
        issuer=_profile_ref(issuer),
        valid_from=valid_from,
        valid_until=valid_until,
        credential_subject=subject,
        evidence=[e if isinstance(e, Evidence) else Evidence.from_dict(e) for e in evidence],
    )
    document = _merge(credential.to_dict(normalize=True), extra)
    return _finish(OpenBadgeCredential, document)


def build_endorsement(
    *,
    issuer: Profile | Mapping[str, Any] | str,
    subject_id: str,
    credential_id: str,
    valid_from: datetime,
    name: str,
    comment: str | None = None,
    valid_until: datetime | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An unsigned OB 3.0 EndorsementCredential about ``subject_id``.

    Args:
        issuer: the endorser's Profile, or its URI.
        subject_id: id of the endorsed credential, achievement or profile.
        credential_id: the endorsement's URI.
        valid_from: start of validity (timezone-aware).
        name: display name (required for endorsements).
        comment: the Markdown ``endorsementComment``.
        valid_until: end of validity, if any.
        extra: further top-level members, as for :func:`build_credential`.

    Raises:
        ValueError: as for :func:`build_credential`.
    """
    require_aware(valid_from, "valid_from")
    if valid_until is not None:
        require_aware(valid_until, "valid_until")
    endorsement = EndorsementCredential(
        id=credential_id,
        name=name,
        issuer=_profile_ref(issuer),
        valid_from=valid_from,
        valid_until=valid_until,
        credential_subject=EndorsementSubject(id=subject_id, endorsement_comment=comment),
    )
    document = _merge(endorsement.to_dict(normalize=True), extra)
    return _finish(EndorsementCredential, document)


def _profile_ref(issuer: Profile | Mapping[str, Any] | str) -> Profile | str:
    if isinstance(issuer, Profile | str):
        return issuer
    return Profile.from_dict(issuer, path="issuer")


def _merge(document: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    for key, value in (extra or {}).items():
        if key in document or key == "@context":
            raise ValueError(f"extra member {key!r} would replace a member the builder sets")
        document[key] = value
    return document


def _finish(
    model: type[OpenBadgeCredential] | type[EndorsementCredential], document: dict[str, Any]
) -> dict[str, Any]:
    # Parse the merged document once more so extra members get the same serialization rules
    # (arrays, member order, UTC timestamps), then pick the contexts the document needs.
    parsed = model.from_dict(document)
    parsed.context = list(contexts_for(document))
    result = parsed.to_dict(normalize=True)
    issues = validate(result)
    if issues:
        raise ValueError("built credential does not validate: " + "; ".join(map(str, issues)))
    return result


def _uses_extension_types(node: object) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Mapping):
            kind = current.get("type")
            kinds = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else []
            if any(k in EXTENSION_TYPES for k in kinds if isinstance(k, str)):
                return True
            stack.extend(v for k, v in current.items() if k != "proof")
        elif isinstance(current, list):
            stack.extend(current)
    return False
