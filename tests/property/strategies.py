"""Hypothesis strategies for realistic, valid, unsigned Open Badges 3.0 credentials.

Stable entry point: :func:`ob_credentials` (``issuer_id -> SearchStrategy[dict]``). Signing,
JSON-LD and interop property tests build on it, so its guarantees are kept:

* every document passes :func:`protocol.ob.validate` (VC 2.0 rules + the 1EdTech schema);
* every member and type is a term of the VC v2 + OB 3.0.3 contexts (+ ``extensions.json``,
  listed in ``@context`` only when ``credentialSchema`` uses ``1EdTechJsonSchemaValidator2019``):
  JSON-LD expansion drops nothing;
* text exercises Unicode: accents and combining marks, CJK, emoji (ZWJ sequences), RTL
  scripts, line/paragraph separators, BOM, zero-width characters, and C0/C1 controls such as
  ``\\b``, ``\\f``, ``\\u0007`` (never NUL, never a lone surrogate);
* ``description`` of a ResultDescription is sometimes an array of language-tagged values
  (``{"@value", "@language"}``): the OB schema types every other ``name``/``description`` as a
  plain string, so that is the one place language values stay schema-valid;
* numbers appear where the model has them (``creditsAvailable``, ``creditsEarned``, geo
  coordinates: integers or values with an exact binary fraction, never ``x.0``) and booleans in
  ``IdentityObject.hashed``;
* arrays of alignments, results (linked to result descriptions with rubric levels), evidence;
* IRIs are ASCII; language tags are lower case; no ``@direction`` (its RDF mapping differs between
  JSON-LD processors when ``rdfDirection`` is unset); endorsements are omitted (they are signed
  documents of their own).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, SearchStrategy

from protocol.ob import OB_CONTEXT_3_0_3, OB_EXTENSIONS_CONTEXT, VC_CONTEXT_V2

__all__ = [
    "ACCENTED_PHRASES",
    "ALL_PHRASES",
    "CJK_PHRASES",
    "CONTROL_PHRASES",
    "EMOJI_PHRASES",
    "LANGUAGE_TAGS",
    "RTL_PHRASES",
    "achievements",
    "alignments",
    "evidence_items",
    "images",
    "language_values",
    "ob_credentials",
    "profiles",
    "result_descriptions",
    "subject_ids",
    "unicode_text",
]

ACHIEVEMENT_SCHEMA_URL = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)

ACCENTED_PHRASES = (
    "Compétences numériques",
    "Ingénierie logicielle — niveau avancé",
    "Über Zusammenarbeit im Team",
    "Año académico 2025",
    "Ørsted-kursus i ærlig håndværk",
    "Žluťoučký kůň",
    "Łódź: współpraca",
    "Café e\u0301te\u0301",  # combining acute accents (NFD)
)
CJK_PHRASES = ("協働スキル", "团队合作能力", "한국어 능력 인증", "日本語能力試験 N2", "數位素養")
EMOJI_PHRASES = (
    "🏅 Badge d'excellence",
    "🚀 Lancement réussi",
    "👩🏽‍💻 Développeuse confirmée",
    "🇫🇷🇯🇵 échange",
    "✅ Validé",
)
RTL_PHRASES = (
    "مهارات العمل الجماعي",
    "עבודת צוות",
    "شهادة إتمام الدورة",
    "مدرسهٔ تابستانی",
    "Mixed עברית and English",
)
CONTROL_PHRASES = (
    "Bell\u0007ring",
    "Back\bspace",
    "Form\ffeed",
    "Tab\tseparated",
    "Line\nbreak",
    "CR\r\nLF",
    "Unit\u001fseparator",
    "Delete\u007f",
    "Next\u0085line",
    "Line\u2028separator\u2029paragraph",
    "\ufeffBOM first",
    "zero\u200bwidth\u200djoiner",
)
ALL_PHRASES = ACCENTED_PHRASES + CJK_PHRASES + EMOJI_PHRASES + RTL_PHRASES + CONTROL_PHRASES

#: Any code point but NUL and surrogates (which UTF-8 cannot carry).
_CHARACTERS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")

LANGUAGE_TAGS = ("en", "fr", "de", "es", "ar", "he", "fa", "ja", "zh", "ko", "pt-br")
IN_LANGUAGE = ("en", "fr", "fr-CA", "ar", "he", "ja", "zh-Hans-CN", "pt-BR", "es-419")
ACHIEVEMENT_TYPES = (
    "Achievement",
    "Badge",
    "Certificate",
    "Competency",
    "Course",
    "MicroCredential",
    "Assessment",
    "ext:PeerRecognition",
)
TARGET_TYPES = ("ceasn:Competency", "CFItem", "CFRubric", "CFRubricCriterionLevel", "CTDL")
RESULT_TYPES = ("LetterGrade", "Percent", "PerformanceLevel", "RawScore", "RubricCriterionLevel")
RESULT_STATUSES = ("Completed", "Enrolled", "Failed", "InProgress", "OnHold", "Provisional")
HOSTS = (
    "example.org",
    "badges.example.edu",
    "node-a.test",
    "école.example".encode("idna").decode(),
)
_SLUG = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=16)
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def unicode_text(*, min_size: int = 1, max_size: int = 40) -> SearchStrategy[str]:
    """Text mixing curated multilingual phrases, controls and arbitrary code points."""
    arbitrary = st.text(_CHARACTERS, min_size=min_size, max_size=max_size)
    phrase = st.sampled_from(ALL_PHRASES)
    mixed = st.lists(st.one_of(phrase, arbitrary), min_size=1, max_size=3).map(" ".join)
    return st.one_of(phrase, arbitrary, mixed).filter(lambda s: min_size <= len(s))


def _markdown() -> SearchStrategy[str]:
    return st.lists(unicode_text(max_size=60), min_size=1, max_size=4).map(
        lambda parts: "# " + parts[0] + "\n\n" + "\n".join(f"- {p}" for p in parts[1:])
    )


def language_values() -> SearchStrategy[list[dict[str, str]]]:
    """An array of language-tagged values, one per distinct language."""
    return st.lists(
        st.tuples(st.sampled_from(LANGUAGE_TAGS), unicode_text(max_size=60)),
        min_size=1,
        max_size=3,
        unique_by=lambda pair: pair[0],
    ).map(lambda pairs: [{"@value": text, "@language": tag} for tag, text in pairs])


def _https_url(prefix: str = "") -> SearchStrategy[str]:
    return st.builds(
        lambda host, slugs: f"https://{host}/{prefix}{'/'.join(slugs)}",
        st.sampled_from(HOSTS),
        st.lists(_SLUG, min_size=1, max_size=3),
    )


def _urn_uuids(count: int) -> SearchStrategy[list[str]]:
    return st.lists(st.uuids(), min_size=count, max_size=count, unique=True).map(
        lambda ids: [f"urn:uuid:{i}" for i in ids]
    )


def _number() -> SearchStrategy[int | float]:
    """Integers, or floats with an exact short binary fraction (never ``x.0``)."""
    whole = st.integers(min_value=0, max_value=400)
    return st.one_of(
        whole,
        st.builds(lambda n, f: n + f, whole, st.sampled_from((0.25, 0.5, 0.75))),
    )


def subject_ids() -> SearchStrategy[str]:
    """Holder identifiers: did:key-shaped DIDs, did:web, urn:uuid."""
    did_key = st.text(_BASE58, min_size=44, max_size=44).map(lambda s: f"did:key:z6Mk{s}")
    did_web = st.sampled_from(HOSTS).map(lambda h: f"did:web:{h}:people:{h[:4]}")
    urn = st.uuids().map(lambda u: f"urn:uuid:{u}")
    return st.one_of(did_key, did_web, urn)


def images() -> SearchStrategy[dict[str, Any]]:
    """An OB Image (``type`` is a string; no other members are allowed)."""
    data_uri = st.sampled_from(
        (
            "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNk"
            "YAAAAAYAAjCB0C8AAAAASUVORK5CYII=",
            "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4=",
        )
    )
    return st.builds(
        _compact,
        id=st.one_of(_https_url("img/").map(lambda u: u + ".png"), data_uri),
        type=st.just("Image"),
        caption=st.none() | unicode_text(max_size=60),
    )


def _geo() -> SearchStrategy[dict[str, Any]]:
    coordinate = st.builds(
        lambda n, f, neg: (-1 if neg else 1) * (n + f),
        st.integers(0, 80),
        st.sampled_from((0.0, 0.5, 0.25, 0.125)),
        st.booleans(),
    ).map(lambda v: int(v) if v == int(v) else v)
    return st.builds(
        lambda lat, lon: {"type": "GeoCoordinates", "latitude": lat, "longitude": lon},
        coordinate,
        coordinate,
    )


def _address() -> SearchStrategy[dict[str, Any]]:
    return st.builds(
        _compact,
        type=st.just(["Address"]),
        addressCountry=st.none() | unicode_text(max_size=30),
        addressCountryCode=st.none() | st.sampled_from(("FR", "JP", "IL", "EG", "US", "DE")),
        addressLocality=st.none() | unicode_text(max_size=30),
        streetAddress=st.none() | unicode_text(max_size=40),
        postalCode=st.none() | st.from_regex(r"[0-9]{5}", fullmatch=True),
        geo=st.none() | _geo(),
    )


def profiles(profile_id: str | SearchStrategy[str]) -> SearchStrategy[dict[str, Any]]:
    """An OB Profile with the given id (issuer) or ids drawn from a strategy (creators)."""
    ids = profile_id if isinstance(profile_id, SearchStrategy) else st.just(profile_id)
    return st.builds(
        _compact,
        id=ids,
        type=st.just(["Profile"]),
        name=unicode_text(max_size=50),
        url=st.none() | _https_url(),
        email=st.none() | st.sampled_from(("registrar@example.edu", "badges@node-a.test")),
        description=st.none() | unicode_text(max_size=120),
        image=st.none() | images(),
        address=st.none() | _address(),
    )


def alignments() -> SearchStrategy[dict[str, Any]]:
    """An Alignment to a framework node."""
    return st.builds(
        _compact,
        type=st.just(["Alignment"]),
        targetCode=st.none() | _SLUG,
        targetDescription=st.none() | unicode_text(max_size=80),
        targetName=unicode_text(max_size=50),
        targetFramework=st.none() | unicode_text(max_size=50),
        targetType=st.none() | st.sampled_from(TARGET_TYPES),
        targetUrl=_https_url("frameworks/"),
    )


@st.composite
def result_descriptions(draw: DrawFn) -> list[dict[str, Any]]:
    """1-3 ResultDescriptions; rubric ones carry 1-3 RubricCriterionLevels."""
    count = draw(st.integers(1, 3))
    ids = draw(_urn_uuids(count))
    out = []
    for rd_id in ids:
        result_type = draw(st.sampled_from((*RESULT_TYPES, "Status")))
        rd: dict[str, Any] = {"id": rd_id, "type": ["ResultDescription"]}
        rd["name"] = draw(unicode_text(max_size=50))
        if draw(st.booleans()):
            rd["description"] = draw(language_values())
        rd["resultType"] = result_type
        if draw(st.booleans()):
            rd["alignment"] = draw(st.lists(alignments(), min_size=1, max_size=2))
        if result_type == "LetterGrade":
            rd["allowedValue"] = ["D", "C", "B", "A"]
            rd["requiredValue"] = draw(st.sampled_from(rd["allowedValue"]))
        elif result_type in ("Percent", "RawScore"):
            rd["valueMin"], rd["valueMax"] = "0", "100"
        elif result_type == "RubricCriterionLevel":
            level_ids = draw(_urn_uuids(draw(st.integers(1, 3))))
            levels = []
            for points, level_id in enumerate(level_ids, start=1):
                level: dict[str, Any] = {"id": level_id, "type": ["RubricCriterionLevel"]}
                if draw(st.booleans()):
                    level["alignment"] = draw(st.lists(alignments(), min_size=1, max_size=2))
                level["description"] = draw(unicode_text(max_size=80))
                level["level"] = draw(unicode_text(max_size=20))
                level["name"] = draw(unicode_text(max_size=30))
                level["points"] = str(points)
                levels.append(level)
            rd["rubricCriterionLevel"] = levels
            rd["requiredLevel"] = level_ids[0]
        out.append(rd)
    return out


def _results_for(descriptions: list[dict[str, Any]]) -> SearchStrategy[list[dict[str, Any]]]:
    """Results that each point at one of the achievement's result descriptions."""

    @st.composite
    def one(draw: DrawFn) -> dict[str, Any]:
        rd = draw(st.sampled_from(descriptions))
        result: dict[str, Any] = {"type": ["Result"]}
        levels = rd.get("rubricCriterionLevel")
        if levels:
            result["achievedLevel"] = draw(st.sampled_from([lv["id"] for lv in levels]))
        if draw(st.booleans()):
            result["alignment"] = draw(st.lists(alignments(), min_size=1, max_size=2))
        result["resultDescription"] = rd["id"]
        if rd["resultType"] == "Status" or draw(st.booleans()):
            result["status"] = draw(st.sampled_from(RESULT_STATUSES))
        if "allowedValue" in rd:
            result["value"] = draw(st.sampled_from(rd["allowedValue"]))
        elif "valueMax" in rd:
            result["value"] = str(draw(st.integers(0, 100)))
        return result

    return st.lists(one(), min_size=0, max_size=3)


@st.composite
def achievements(draw: DrawFn, with_results: bool = True) -> dict[str, Any]:
    """An Achievement (with result descriptions when ``with_results``)."""
    achievement: dict[str, Any] = {
        "id": draw(st.one_of(_https_url("achievements/"), _urn_uuids(1).map(lambda x: x[0]))),
        "type": ["Achievement"],
    }
    optional: dict[str, Any] = {
        "alignment": st.lists(alignments(), min_size=1, max_size=3),
        "achievementType": st.sampled_from(ACHIEVEMENT_TYPES),
        "creator": profiles(_https_url("issuers/")),
        "creditsAvailable": _number(),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            achievement[key] = draw(strategy)
    criteria: dict[str, Any] = {}
    if draw(st.booleans()):
        criteria["id"] = draw(_https_url("criteria/"))
    criteria["narrative"] = draw(_markdown())
    achievement["criteria"] = criteria
    achievement["description"] = draw(unicode_text(max_size=200))
    more: dict[str, Any] = {
        "fieldOfStudy": unicode_text(max_size=40),
        "humanCode": _SLUG.map(str.upper),
        "image": images(),
        "inLanguage": st.sampled_from(IN_LANGUAGE),
    }
    for key, strategy in more.items():
        if draw(st.booleans()):
            achievement[key] = draw(strategy)
    achievement["name"] = draw(unicode_text(max_size=60))
    if draw(st.booleans()):
        achievement["otherIdentifier"] = [
            {"type": "IdentifierEntry", "identifier": draw(_SLUG), "identifierType": "sourcedId"}
        ]
    if with_results and draw(st.booleans()):
        achievement["resultDescription"] = draw(result_descriptions())
    tail: dict[str, Any] = {
        "specialization": unicode_text(max_size=40),
        "tag": st.lists(unicode_text(max_size=20), min_size=1, max_size=4),
        "version": st.sampled_from(("1.0", "2.1", "2025-09", "v3 ✨")),
    }
    for key, strategy in tail.items():
        if draw(st.booleans()):
            achievement[key] = draw(strategy)
    return achievement


def evidence_items() -> SearchStrategy[dict[str, Any]]:
    """An Evidence entry."""
    return st.builds(
        _compact,
        id=st.none() | _https_url("evidence/"),
        type=st.just(["Evidence"]),
        narrative=st.none() | _markdown(),
        name=st.none() | unicode_text(max_size=50),
        description=st.none() | unicode_text(max_size=120),
        genre=st.none() | st.sampled_from(("Research", "Poésie", "映画", "Portfolio")),
        audience=st.none() | unicode_text(max_size=30),
    )


@st.composite
def _identity(draw: DrawFn) -> dict[str, Any]:
    email = draw(st.sampled_from(("conformance@imsglobal.org", "élève@example.fr", "a@b.test")))
    if draw(st.booleans()):
        salt = draw(st.binary(min_size=8, max_size=16)).hex()
        digest = hashlib.sha256((email + salt).encode("utf-8")).hexdigest()
        return {
            "type": "IdentityObject",
            "identityHash": f"sha256${digest}",
            "identityType": "emailAddress",
            "hashed": True,
            "salt": salt,
        }
    return {
        "type": "IdentityObject",
        "identityHash": email,
        "identityType": "emailAddress",
        "hashed": False,
    }


def _timestamp(low: int, high: int) -> SearchStrategy[tuple[int, str]]:
    """(epoch seconds, UTC dateTimeStamp text) between two years."""
    start = int(datetime(low, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(high, 1, 1, tzinfo=UTC).timestamp())
    return st.integers(start, end).map(
        lambda s: (s, datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    )


@st.composite
def _credential(draw: DrawFn, issuer_id: str) -> dict[str, Any]:
    uses_schema = draw(st.booleans())
    contexts = [VC_CONTEXT_V2, OB_CONTEXT_3_0_3]
    if uses_schema:
        contexts.append(OB_EXTENSIONS_CONTEXT)
    credential_uuid: UUID = draw(st.uuids())
    doc: dict[str, Any] = {
        "@context": contexts,
        "id": f"urn:uuid:{credential_uuid}",
        "type": [
            "VerifiableCredential",
            draw(st.sampled_from(("OpenBadgeCredential",) * 3 + ("AchievementCredential",))),
        ],
    }
    if draw(st.booleans()):
        doc["name"] = draw(unicode_text(max_size=60))
    if draw(st.booleans()):
        doc["description"] = draw(unicode_text(max_size=200))
    if draw(st.booleans()):
        doc["image"] = draw(images())
    doc["issuer"] = draw(st.one_of(profiles(issuer_id), st.just(issuer_id)))
    _, valid_from = draw(_timestamp(2015, 2030))
    doc["validFrom"] = valid_from
    if draw(st.booleans()):
        _, doc["validUntil"] = draw(_timestamp(2031, 2040))
    if draw(st.booleans()):
        doc["awardedDate"] = valid_from
    achievement = draw(achievements())
    subject: dict[str, Any] = {}
    has_id = draw(st.booleans())
    has_identifier = not has_id or draw(st.booleans())
    if has_id:
        subject["id"] = draw(subject_ids())
    subject["type"] = ["AchievementSubject"]
    subject_optional: dict[str, Any] = {
        "activityStartDate": _timestamp(2014, 2015).map(lambda t: t[1]),
        "creditsEarned": _number(),
        "licenseNumber": _SLUG,
        "narrative": _markdown(),
        "role": unicode_text(max_size=30),
        "source": profiles(_https_url("issuers/")),
        "term": st.sampled_from(("Fall", "Printemps 2025", "春学期")),
        "image": images(),
    }
    for key, strategy in subject_optional.items():
        if draw(st.booleans()):
            subject[key] = draw(strategy)
    subject["achievement"] = achievement
    if has_identifier:
        subject["identifier"] = draw(st.lists(_identity(), min_size=1, max_size=2))
    descriptions = achievement.get("resultDescription")
    if descriptions:
        results = draw(_results_for(descriptions))
        if results:
            subject["result"] = results
    doc["credentialSubject"] = subject
    if draw(st.booleans()):
        doc["evidence"] = draw(st.lists(evidence_items(), min_size=1, max_size=3))
    if uses_schema:
        doc["credentialSchema"] = [
            {"id": ACHIEVEMENT_SCHEMA_URL, "type": "1EdTechJsonSchemaValidator2019"}
        ]
    if draw(st.booleans()):
        index = draw(st.integers(0, 131_071))
        list_url = f"https://{draw(st.sampled_from(HOSTS))}/status/{draw(st.integers(1, 9))}"
        doc["credentialStatus"] = {
            "id": f"{list_url}#{index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": draw(st.sampled_from(("revocation", "suspension"))),
            "statusListIndex": str(index),
            "statusListCredential": list_url,
        }
    return doc


def ob_credentials(issuer_id: str) -> SearchStrategy[dict[str, Any]]:
    """Unsigned OB 3.0 credentials issued by ``issuer_id`` (see the module docs)."""
    return _credential(issuer_id)


def _compact(**members: Any) -> dict[str, Any]:
    """A dict of the given members minus the ``None`` ones (OB: omit nulls), in order."""
    return {key: value for key, value in members.items() if value is not None}
