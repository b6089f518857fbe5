"""Data-model validation of OB 3.0 credentials and W3C VC 2.0 credentials / presentations.

:func:`validate` never raises on bad input: it returns every finding as an
:class:`~protocol.ob.report.Issue` (an empty list means the document conforms). It applies

1. the W3C VC Data Model 2.0 rules that JSON Schema cannot express or that the OB schemas leave
   out (https://www.w3.org/TR/vc-data-model-2.0/): ``@context`` order, ``type``, ``issuer``,
   ``credentialSubject``, the validity period (``dateTimeStamp`` values, ``validFrom`` <=
   ``validUntil``), and a ``type`` on every status / schema / evidence / terms-of-use / refresh
   entry;
2. the Open Badges 3.0 rules (https://www.imsglobal.org/spec/ob/v3p0/): the OB context second,
   one ``credentialStatus`` object with ``id`` and ``type``, an AchievementSubject with ``id`` or
   ``identifier``, results that point into the asserted achievement;
3. the packaged 1EdTech JSON Schema picked from ``type`` (AchievementCredential /
   OpenBadgeCredential, or EndorsementCredential). A plain VerifiableCredential gets the VC
   rules only.

Embedded endorsements (``endorsement`` arrays anywhere in the document) get the VC and OB context
rules too; their proofs are not checked here.

Proofs, status and the clock are out of scope: this is the pure data-model step that runs before
them (digitalbazaar/vc ``_checkCredential``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator, Mapping
from typing import Any

from protocol.errors import MalformedError
from protocol.limits import MAX_CREDENTIALS_PER_PRESENTATION, MAX_JSON_DEPTH
from protocol.timeutil import parse_datetime

from .model import VC_CONTEXT_V2, AchievementSubject, IdentityObject
from .report import Issue, join_path
from .schema import SchemaName, json_type_name, schema_issues

__all__ = [
    "OB_CONTEXT_PATTERN",
    "check_recipient",
    "credential_kind",
    "validate",
    "validate_presentation",
    "validate_profile",
]

#: Second ``@context`` item of an OB 3.0 credential (the 1EdTech schema's own pattern).
OB_CONTEXT_PATTERN = re.compile(
    r"^https:\/\/purl\.imsglobal\.org\/spec\/ob\/v3p0\/context(-3\.\d\.\d)*\.json$"
)
_VC_CONTEXT_V1 = "https://www.w3.org/2018/credentials/v1"

#: An absolute IRI (what the VC data model calls a URL): a scheme, a colon, no whitespace.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")

_OB_TYPES = frozenset({"OpenBadgeCredential", "AchievementCredential"})
_LANGUAGE_KEYS = frozenset({"@value", "@language", "@direction"})


def credential_kind(document: Mapping[str, Any]) -> SchemaName | None:
    """Which OB schema applies to ``document`` by its ``type`` (``None``: a plain VC)."""
    types = _types(document.get("type"))
    if types & _OB_TYPES:
        return "achievementcredential"
    if "EndorsementCredential" in types:
        return "endorsementcredential"
    return None


def validate(document: Mapping[str, Any]) -> list[Issue]:
    """Check a credential against the VC 2.0 and (by its ``type``) the OB 3.0 rules.

    Args:
        document: the parsed JSON credential, with or without ``proof``.

    Returns:
        Every finding, in discovery order, without duplicates; empty when the document conforms.
    """
    return _dedupe(_credential_issues(document, ""))


def validate_presentation(document: Mapping[str, Any]) -> list[Issue]:
    """Check a Verifiable Presentation (VC 2.0 section 4.13) and every credential it embeds."""
    return _dedupe(_presentation_issues(document))


def validate_profile(document: Mapping[str, Any]) -> list[Issue]:
    """Check an OB 3.0 Profile (issuer) document against the 1EdTech Profile schema."""
    return _dedupe(_profile_issues(document))


def _profile_issues(document: object) -> list[Issue]:
    if not isinstance(document, Mapping):
        return [Issue("", f"expected a JSON object, got {json_type_name(document)}")]
    too_deep = _depth_issue(document)
    if too_deep is not None:
        return [too_deep]
    issues = list(_url_member(document, "id", "", required=True))
    return issues + schema_issues(document, "profile")


# -- credentials ---------------------------------------------------------------------------------


def _credential_issues(document: object, base: str) -> list[Issue]:
    if not isinstance(document, Mapping):
        return [Issue(base, f"expected a credential object, got {json_type_name(document)}")]
    too_deep = _depth_issue(document, base)
    if too_deep is not None:
        return [too_deep]
    kind = credential_kind(document)
    issues = list(_vc_rules(document, base, ob=kind is not None))
    if kind == "achievementcredential":
        issues.extend(_achievement_rules(document, base))
    for path, endorsement in _endorsements(document, base):
        issues.extend(_vc_rules(endorsement, path, ob=True))
    if kind is not None:
        schema_view = _compaction_tolerant(document)
        issues.extend(_without_covered(schema_issues(schema_view, kind, base=base), issues))
    return issues


#: Members that JSON-LD compaction may leave as a single value although the 1EdTech schema wants
#: an array (OB 3.0 "Serialization": such documents "MAY not pass" the canonical schema, and the
#: 1EdTech validator reports them as warnings only). Digital Bazaar's stack writes a single proof
#: as an object, so rejecting it would reject valid credentials.
COMPACTION_TOLERANT = ("proof", "credentialSchema", "termsOfUse")


def _compaction_tolerant(document: Mapping[str, Any]) -> Mapping[str, Any]:
    wrapped = {
        name: [document[name]]
        for name in COMPACTION_TOLERANT
        if isinstance(document.get(name), Mapping)
    }
    if not wrapped:
        return document
    return {**document, **wrapped}


def _vc_rules(doc: Mapping[str, Any], base: str, *, ob: bool) -> Iterator[Issue]:
    yield from _context_rules(doc, base, ob=ob)
    yield from _url_member(doc, "id", base)
    yield from _type_rules(doc, base, "VerifiableCredential")
    yield from _issuer_rules(doc, base)
    yield from _subject_rules(doc, base)
    yield from _validity_rules(doc, base, ob=ob)
    yield from _status_rules(doc, base, ob=ob)
    for prop in ("credentialSchema", "evidence", "termsOfUse", "refreshService"):
        yield from _typed_entries(doc, prop, base, need_id=prop == "credentialSchema")
    for prop in ("name", "description"):
        if prop in doc:
            yield from _language_value(doc[prop], join_path(base, prop))


def _context_rules(doc: Mapping[str, Any], base: str, *, ob: bool) -> Iterator[Issue]:
    path = join_path(base, "@context")
    if "@context" not in doc:
        yield Issue(path, "required property missing")
        return
    value = doc["@context"]
    contexts: list[Any] = [value] if isinstance(value, str) else value
    if not isinstance(contexts, list) or not contexts:
        yield Issue(path, f"expected a non-empty array of contexts, got {json_type_name(value)}")
        return
    for i, item in enumerate(contexts):
        if not isinstance(item, str | Mapping):
            yield Issue(join_path(path, i), f"expected a URL or an object, got {_jt(item)}")
    if contexts[0] != VC_CONTEXT_V2:
        hint = " (this is the VC 1.1 context)" if contexts[0] == _VC_CONTEXT_V1 else ""
        yield Issue(join_path(path, 0), f"first item must be {VC_CONTEXT_V2!r}{hint}")
    if not ob:
        return
    if len(contexts) < 2:
        yield Issue(path, "second item must be an Open Badges 3.0 context")
    elif not (isinstance(contexts[1], str) and OB_CONTEXT_PATTERN.match(contexts[1])):
        yield Issue(
            join_path(path, 1),
            "second item must be an Open Badges 3.0 context such as "
            "'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json'",
        )


def _type_rules(doc: Mapping[str, Any], base: str, required_type: str) -> Iterator[Issue]:
    path = join_path(base, "type")
    if "type" not in doc:
        yield Issue(path, "required property missing")
        return
    value = doc["type"]
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
        yield Issue(path, "expected a string or an array of strings")
        return
    if required_type not in items:
        yield Issue(path, f"must include {required_type!r}")


def _issuer_rules(doc: Mapping[str, Any], base: str) -> Iterator[Issue]:
    path = join_path(base, "issuer")
    if "issuer" not in doc:
        yield Issue(path, "required property missing")
        return
    issuer = doc["issuer"]
    if isinstance(issuer, str):
        if not _URL.match(issuer):
            yield Issue(path, f"{_short(issuer)} is not a URL")
    elif isinstance(issuer, Mapping):
        yield from _url_member(issuer, "id", path, required=True)
    else:
        yield Issue(path, f"expected a URL or an object with a URL 'id', got {_jt(issuer)}")


def _subject_rules(doc: Mapping[str, Any], base: str) -> Iterator[Issue]:
    path = join_path(base, "credentialSubject")
    if "credentialSubject" not in doc:
        yield Issue(path, "required property missing")
        return
    value = doc["credentialSubject"]
    if isinstance(value, list):
        if not value:
            yield Issue(path, "must hold at least one subject")
        subjects = [(join_path(path, i), s) for i, s in enumerate(value)]
    else:
        subjects = [(path, value)]
    for spath, subject in subjects:
        if not isinstance(subject, Mapping):
            yield Issue(spath, f"expected an object, got {_jt(subject)}")
        elif not subject:
            yield Issue(spath, "must not be empty (a subject carries at least one claim)")
        else:
            yield from _url_member(subject, "id", spath)


def _validity_rules(doc: Mapping[str, Any], base: str, *, ob: bool) -> Iterator[Issue]:
    parsed = {}
    names = ("validFrom", "validUntil", "awardedDate") if ob else ("validFrom", "validUntil")
    for name in names:
        if name not in doc:
            continue
        try:
            parsed[name] = parse_datetime(doc[name])
        except MalformedError as exc:
            yield Issue(join_path(base, name), f"not an XML Schema dateTimeStamp: {exc.message}")
    start, end = parsed.get("validFrom"), parsed.get("validUntil")
    if start is not None and end is not None and end < start:
        yield Issue(
            join_path(base, "validUntil"),
            f"{doc['validUntil']} is earlier than validFrom {doc['validFrom']}",
        )


def _status_rules(doc: Mapping[str, Any], base: str, *, ob: bool) -> Iterator[Issue]:
    path = join_path(base, "credentialStatus")
    if "credentialStatus" not in doc:
        return
    value = doc["credentialStatus"]
    if ob and isinstance(value, list):
        yield Issue(path, "must be a single object in Open Badges 3.0, not an array")
        return
    yield from _typed_entries(doc, "credentialStatus", base, need_id=ob)
    entries = value if isinstance(value, list) else [value]
    for i, entry in enumerate(entries):
        if isinstance(entry, Mapping):
            epath = join_path(path, i) if isinstance(value, list) else path
            yield from _url_member(entry, "id", epath)


def _typed_entries(
    doc: Mapping[str, Any], prop: str, base: str, *, need_id: bool = False
) -> Iterator[Issue]:
    """Each entry of ``prop`` (one object or an array of objects) must be an object with a type."""
    if prop not in doc:
        return
    path = join_path(base, prop)
    value = doc[prop]
    if isinstance(value, list):
        entries = [(join_path(path, i), e) for i, e in enumerate(value)]
    else:
        entries = [(path, value)]
    for epath, entry in entries:
        if not isinstance(entry, Mapping):
            yield Issue(epath, f"expected an object, got {_jt(entry)}")
            continue
        if "type" not in entry:
            yield Issue(join_path(epath, "type"), "required property missing")
        if need_id and "id" not in entry:
            yield Issue(join_path(epath, "id"), "required property missing")


def _language_value(value: object, path: str) -> Iterator[Issue]:
    """``name`` / ``description``: a string, a language value object, or an array of those."""
    items = value if isinstance(value, list) else [value]
    for i, item in enumerate(items):
        ipath = join_path(path, i) if isinstance(value, list) else path
        if isinstance(item, str):
            continue
        if not isinstance(item, Mapping) or not isinstance(item.get("@value"), str):
            yield Issue(ipath, "expected a string or a language value object with '@value'")
            continue
        extra = sorted(set(item) - _LANGUAGE_KEYS)
        if extra:
            yield Issue(ipath, f"language value object has unexpected members {extra}")
        if "@language" in item and not isinstance(item["@language"], str):
            yield Issue(join_path(ipath, "@language"), "expected a language tag string")
        if "@direction" in item and item["@direction"] not in ("ltr", "rtl"):
            yield Issue(join_path(ipath, "@direction"), "must be 'ltr' or 'rtl'")


def _url_member(
    obj: Mapping[str, Any], key: str, base: str, *, required: bool = False
) -> Iterator[Issue]:
    path = join_path(base, key)
    if key not in obj:
        if required:
            yield Issue(path, "required property missing")
        return
    value = obj[key]
    if not isinstance(value, str):
        yield Issue(path, f"expected a URL string, got {_jt(value)}")
    elif not _URL.match(value):
        yield Issue(path, f"{_short(value)} is not a URL")


# -- Open Badges AchievementCredential -----------------------------------------------------------


def _achievement_rules(doc: Mapping[str, Any], base: str) -> Iterator[Issue]:
    path = join_path(base, "credentialSubject")
    subject = doc.get("credentialSubject")
    if not isinstance(subject, Mapping):
        return  # reported by the schema ("expected an object") or by the VC rules
    identifiers = subject.get("identifier")
    if "id" not in subject and not (isinstance(identifiers, list) and identifiers):
        yield Issue(path, "an AchievementSubject needs an 'id' or at least one 'identifier'")
    achievement = subject.get("achievement")
    if not isinstance(achievement, Mapping):
        return
    descriptions = {
        rd["id"]: rd
        for rd in _objects(achievement.get("resultDescription"))
        if isinstance(rd.get("id"), str)
    }
    levels = {
        level["id"]
        for rd in descriptions.values()
        for level in _objects(rd.get("rubricCriterionLevel"))
        if isinstance(level.get("id"), str)
    }
    results = subject.get("result")
    for i, result in enumerate(results if isinstance(results, list) else []):
        if not isinstance(result, Mapping):
            continue
        rpath = join_path(path, "result", i)
        linked = result.get("resultDescription")
        if isinstance(linked, str):
            description = descriptions.get(linked)
            if description is None:
                yield Issue(
                    join_path(rpath, "resultDescription"),
                    "no resultDescription with this id in credentialSubject.achievement",
                )
            elif description.get("resultType") == "Status" and "status" not in result:
                yield Issue(
                    join_path(rpath, "status"),
                    "required property missing (the linked resultDescription has resultType "
                    "'Status')",
                )
        level = result.get("achievedLevel")
        if isinstance(level, str) and level not in levels:
            yield Issue(
                join_path(rpath, "achievedLevel"),
                "no rubricCriterionLevel with this id in the achievement's resultDescriptions",
            )


def _objects(value: object) -> list[Mapping[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, Mapping)]


def _endorsements(doc: Mapping[str, Any], base: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every embedded EndorsementCredential object (an item of any ``endorsement`` array)."""
    stack: list[tuple[str, object]] = [(base, doc)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key == "proof":
                    continue
                kpath = join_path(path, str(key))
                if key == "endorsement" and isinstance(value, list):
                    for i, item in enumerate(value):
                        if isinstance(item, Mapping):
                            yield join_path(kpath, i), item
                    continue
                stack.append((kpath, value))
        elif isinstance(node, list):
            stack.extend((join_path(path, i), item) for i, item in enumerate(node))


# -- presentations -------------------------------------------------------------------------------


def _presentation_issues(doc: object) -> list[Issue]:
    if not isinstance(doc, Mapping):
        return [Issue("", f"expected a presentation object, got {json_type_name(doc)}")]
    too_deep = _depth_issue(doc)
    if too_deep is not None:
        return [too_deep]
    issues = list(_context_rules(doc, "", ob=False))
    issues.extend(_url_member(doc, "id", ""))
    issues.extend(_type_rules(doc, "", "VerifiablePresentation"))
    if "holder" in doc:
        holder = doc["holder"]
        if isinstance(holder, Mapping):
            issues.extend(_url_member(holder, "id", "holder", required=True))
        elif not (isinstance(holder, str) and _URL.match(holder)):
            issues.append(Issue("holder", "expected a URL or an object with a URL 'id'"))
    issues.extend(_typed_entries(doc, "termsOfUse", ""))
    if "verifiableCredential" not in doc:
        return issues
    value = doc["verifiableCredential"]
    items = value if isinstance(value, list) else [value]
    if len(items) > MAX_CREDENTIALS_PER_PRESENTATION:
        issues.append(
            Issue(
                "verifiableCredential",
                f"holds {len(items)} credentials, more than the limit of "
                f"{MAX_CREDENTIALS_PER_PRESENTATION}",
            )
        )
        return issues
    for i, item in enumerate(items):
        path = (
            join_path("verifiableCredential", i)
            if isinstance(value, list)
            else "verifiableCredential"
        )
        if not isinstance(item, Mapping):
            issues.append(
                Issue(path, f"must be a credential object, not {json_type_name(item)} (a URL)")
            )
        elif "EnvelopedVerifiableCredential" in _types(item.get("type")):
            credential_id = item.get("id")
            if not (isinstance(credential_id, str) and credential_id.startswith("data:")):
                issues.append(Issue(join_path(path, "id"), "must be a data: URL"))
        else:
            issues.extend(_credential_issues(item, path))
    return issues


# -- recipient -----------------------------------------------------------------------------------


def check_recipient(subject: Mapping[str, Any] | AchievementSubject, email: str) -> bool:
    """True when an ``emailAddress`` identifier of ``subject`` matches ``email``.

    Follows OB 3.0 "Verify the Recipient Using an Identifier": for each IdentityObject whose
    ``identityType`` is ``emailAddress``, hash the address with its ``salt`` when ``hashed``
    (``sha256$`` or ``md5$``, hex in either case), otherwise compare the plaintext. The spec
    defines no normalisation, so the address is tried as given (trimmed) and lower-cased, which
    matches both :func:`~protocol.ob.build.hashed_email_identity` (lower-cases) and issuers
    that hash the address exactly as typed. Comparisons are constant-time.
    """
    identifiers: list[IdentityObject] = []
    if isinstance(subject, AchievementSubject):
        identifiers = subject.identifier
    elif isinstance(subject, Mapping):
        for item in _objects(subject.get("identifier")):
            try:
                identifiers.append(IdentityObject.from_dict(item))
            except MalformedError:
                continue
    else:
        raise TypeError("subject must be a credentialSubject mapping or an AchievementSubject")
    trimmed = email.strip()
    candidates = list(dict.fromkeys((trimmed, trimmed.lower())))
    for identity in identifiers:
        if identity.identity_type != "emailAddress":
            continue
        if any(_identity_matches(identity, candidate) for candidate in candidates):
            return True
    return False


def _identity_matches(identity: IdentityObject, value: str) -> bool:
    if not identity.hashed:
        return hmac.compare_digest(
            identity.identity_hash.strip().lower().encode("utf-8"), value.lower().encode("utf-8")
        )
    algorithm, sep, digest = identity.identity_hash.partition("$")
    if not sep or algorithm.lower() not in ("sha256", "md5"):
        return False
    material = (value + (identity.salt or "")).encode("utf-8")
    if algorithm.lower() == "sha256":
        expected = hashlib.sha256(material).hexdigest()
    else:
        expected = hashlib.md5(material, usedforsecurity=False).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), digest.strip().lower().encode("utf-8"))


# -- helpers -------------------------------------------------------------------------------------


def _types(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {t for t in value if isinstance(t, str)}
    return set()


def _jt(value: object) -> str:
    return json_type_name(value)


def _short(value: str, limit: int = 60) -> str:
    return repr(value) if len(value) <= limit else repr(value[: limit - 3] + "...")


def _depth_issue(doc: object, base: str = "") -> Issue | None:
    """An Issue when ``doc`` nests deeper than :data:`~protocol.limits.MAX_JSON_DEPTH`."""
    stack: list[tuple[object, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return Issue(base, f"nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(node, Mapping):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return None


def _without_covered(found: list[Issue], covered: list[Issue]) -> list[Issue]:
    """Drop schema findings that a data-model rule already explained.

    A schema finding is dropped when a rule reported the same path, or an ancestor path whose
    whole shape was wrong (a rule message starting with "expected" / "must be a single").
    """
    same = {issue.path for issue in covered}
    shapes = {
        issue.path
        for issue in covered
        if issue.message.startswith(("expected ", "must be a single"))
    }

    def is_covered(path: str) -> bool:
        return path in same or any(
            path.startswith(p + ".") or path.startswith(p + "[") for p in shapes
        )

    return [issue for issue in found if not is_covered(issue.path)]


def _dedupe(issues: list[Issue]) -> list[Issue]:
    return list(dict.fromkeys(issues))
