"""Hand-written Open Badges 3.0 credentials that stress what two implementations can disagree on.

Each builder takes the issuer's DID and returns an unsigned ``AchievementCredential``. Between
them they cover Unicode (non-BMP, combining marks, right-to-left text, control characters that
canonical N-Quads must escape), language-tagged values with a base direction (the
``i18n-datatype`` rdfDirection of Data Integrity), arrays and ``@list`` containers (blank nodes
for RDFC-1.0 to label), nested results and result descriptions, evidence, hashed identities,
typed numbers and dates.

None carries ``credentialStatus``: status lists are not available offline, and Passeport reports
such a credential as ``unknown``, not valid (the benchmark credential has one on purpose).
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Callable
from typing import Any

OB_CONTEXTS = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]
SUBJECT = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
VALID_FROM = "2024-03-01T09:30:00Z"
ESCO = "http://data.europa.eu/esco/skill/"
SALT = b"sel-de-mer"


def _issuer(did: str, **extra: Any) -> dict[str, Any]:
    return {"id": did, "type": ["Profile"], "name": "Université de Test", **extra}


def _base(did: str, name: str, achievement: dict[str, Any], **subject: Any) -> dict[str, Any]:
    return {
        "@context": list(OB_CONTEXTS),
        "id": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": name,
        "issuer": _issuer(did),
        "validFrom": VALID_FROM,
        "credentialSubject": {
            "id": SUBJECT,
            "type": ["AchievementSubject"],
            "achievement": achievement,
            **subject,
        },
    }


def _achievement(ident: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"https://badges.example/achievements/{ident}",
        "type": ["Achievement"],
        "name": name,
        "description": f"Description of {name}.",
        "criteria": {"narrative": f"Earned by completing {name}."},
        **extra,
    }


def minimal(did: str) -> dict[str, Any]:
    """The smallest useful badge, issuer as a plain string."""
    doc = _base(did, "Minimal badge", _achievement("minimal", "Minimal"))
    doc["issuer"] = did
    return doc


def unicode_text(did: str) -> dict[str, Any]:
    """Non-ASCII everywhere, including what canonical N-Quads must escape."""
    name = "Maîtrise « avancée » – 中文 – العربية – 😀 – e\u0301 (NFD) vs é (NFC)"
    achievement = _achievement(
        "unicode",
        name,
        description='Quotes " and \\ backslash, tab\tnewline\nreturn\r, bell \u0007, del \u007f.',
        criteria={"narrative": "# Critères\n\n* Écrire en 日本語\n* Lire ℌ𝔢𝔟𝔯𝔢𝔴 \U0001f9ea"},
        tag=["ünïcödé", "ß", "\u200bzero-width"],
    )
    doc = _base(did, name, achievement)
    doc["description"] = "Ligne 1\nLigne 2 \u2028 séparateur \u00a0insécable"
    doc["issuer"] = _issuer(did, description="Établissement d'enseignement supérieur 🇫🇷")
    return doc


def language_values(did: str) -> dict[str, Any]:
    """Language-tagged literals, mixed-case tags and a right-to-left base direction."""
    achievement = _achievement(
        "languages",
        "Langues",
        inLanguage="fr-FR",
        # Not an OB term: defined by the inline context below (safe mode rejects undefined terms).
        motto=[
            {"@value": "Fiat lux", "@language": "la"},
            {"@value": "Que la lumière soit", "@language": "fr-FR"},
            {"@value": "ليكن نور", "@language": "ar", "@direction": "rtl"},
            {"@value": "Let there be light", "@language": "en-GB", "@direction": "ltr"},
        ],
    )
    doc = _base(did, "Badge multilingue", achievement)
    doc["@context"].append({"motto": "https://schema.org/slogan"})
    return doc


def arrays_and_lists(did: str) -> dict[str, Any]:
    """Many alignments, tags, identifiers and an ordered ``allowedValue`` list."""
    alignments = [
        {
            "type": ["Alignment"],
            "targetName": label,
            "targetUrl": f"{ESCO}{code}",
            "targetFramework": "ESCO",
            "targetType": "ext:ESCOSkill",
            "targetCode": code,
        }
        for code, label in [
            ("b6e4f3b4-41d6-4b0e-9c5b-1c7c8c0f7a1d", "travailler en équipe"),
            ("a6b4b8b1-2f0b-4d7c-8b2f-0d8b8a1c6e22", "communiquer"),
            ("0b1c7b9e-6a8d-4b35-8f6a-2c0f0f9b1e3a", "résoudre des problèmes"),
        ]
    ]
    achievement = _achievement(
        "arrays",
        "Tableaux",
        alignment=alignments,
        tag=["b", "a", "c", "a"],
        resultDescription=[
            {
                "id": "urn:uuid:7a3c0f0e-0000-4000-8000-000000000001",
                "type": ["ResultDescription"],
                "name": "Niveau",
                "resultType": "LetterGrade",
                "allowedValue": ["D", "C", "B", "A", "A"],
            }
        ],
    )
    return _base(
        did,
        "Badge à tableaux",
        achievement,
        result=[
            {
                "type": ["Result"],
                "resultDescription": "urn:uuid:7a3c0f0e-0000-4000-8000-000000000001",
                "value": "A",
            }
        ],
    )


def nested_results(did: str) -> dict[str, Any]:
    """Rubric levels, several result descriptions and results, typed numbers and dates."""
    rubric = [
        {
            "id": f"urn:uuid:0c8e1d2a-0000-4000-8000-00000000010{i}",
            "type": ["RubricCriterionLevel"],
            "name": level,
            "description": f"Niveau {level}",
            "level": str(i),
            "points": str(i * 10),
        }
        for i, level in enumerate(["novice", "intermédiaire", "expert"], start=1)
    ]
    descriptions = [
        {
            "id": "urn:uuid:0c8e1d2a-0000-4000-8000-000000000201",
            "type": ["ResultDescription"],
            "name": "Rubrique",
            "resultType": "RubricCriterionLevel",
            "rubricCriterionLevel": rubric,
            "requiredLevel": rubric[1]["id"],
        },
        {
            "id": "urn:uuid:0c8e1d2a-0000-4000-8000-000000000202",
            "type": ["ResultDescription"],
            "name": "Note sur 20",
            "resultType": "ext:Score",
            "valueMin": "0",
            "valueMax": "20",
        },
    ]
    achievement = _achievement(
        "nested",
        "Résultats imbriqués",
        achievementType="Competency",
        creditsAvailable=6.0,  # JSON "6.0": JS reads the integer 6, both must canonicalize "6"
        resultDescription=descriptions,
    )
    return _base(
        did,
        "Badge à résultats",
        achievement,
        activityStartDate="2024-01-15",
        activityEndDate="2024-02-28",
        creditsEarned=4.5,
        result=[
            {
                "type": ["Result"],
                "resultDescription": descriptions[0]["id"],
                "achievedLevel": rubric[2]["id"],
                "status": "Completed",
            },
            {
                "type": ["Result"],
                "resultDescription": descriptions[1]["id"],
                "value": "17.5",
            },
        ],
    )


def evidence_and_identity(did: str) -> dict[str, Any]:
    """Evidence items and a salted, hashed e-mail identity instead of a subject id."""
    doc = _base(did, "Badge avec preuves", _achievement("evidence", "Preuves"))
    subject = doc["credentialSubject"]
    del subject["id"]
    subject["identifier"] = [
        {
            "type": "IdentityObject",
            "identityHash": "sha256$" + hashlib.sha256(b"etudiante@example.org" + SALT).hexdigest(),
            "identityType": "emailAddress",
            "hashed": True,
            "salt": SALT.decode(),
        }
    ]
    doc["evidence"] = [
        {
            "id": "https://portfolio.example/etudiant/projet-1",
            "type": ["Evidence"],
            "name": "Projet 1",
            "narrative": "Un *projet* mené à plusieurs.",
            "genre": "Portfolio",
            "audience": "Jury",
        },
        {
            "type": ["Evidence"],
            "name": "Attestation sans URL",
            "description": "Preuve anonyme (nœud blanc)",
        },
    ]
    doc["validUntil"] = "2034-03-01T09:30:00+01:00"
    return doc


FIXTURES: dict[str, Callable[[str], dict[str, Any]]] = {
    "minimal": minimal,
    "unicode": unicode_text,
    "language": language_values,
    "arrays": arrays_and_lists,
    "nested-results": nested_results,
    "evidence": evidence_and_identity,
}


def credential(name: str, did: str) -> dict[str, Any]:
    """A fresh copy of fixture ``name`` issued by ``did``."""
    return copy.deepcopy(FIXTURES[name](did))
