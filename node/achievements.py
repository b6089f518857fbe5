"""Achievements (badge classes): create, edit (a new version each time), retire, publish.

Staff API (JSON, under ``/api/achievements``)::

    GET    /api/achievements                 list (``?retired=1`` includes retired ones)
    POST   /api/achievements                 create            (scope achievements:write)
    GET    /api/achievements/{id}            one record, with its versions
    PUT    /api/achievements/{id}            edit -> new version (scope achievements:write)
    POST   /api/achievements/{id}/retire     retire            (scope achievements:write)

Public: ``GET /achievements/{id}`` serves the OB 3.0 Achievement JSON whose ``id`` is that URL
(``?version=N`` for an older version, ``?lang=xx`` or ``Accept-Language`` for a language variant).

Input fields (API and staff form): ``name`` and ``description`` as a string (the default
language) or an object ``{language: text}``; ``criteria`` ``{"narrative", "id"}`` (narrative per
language too); ``image`` (a ``data:`` URI of a PNG or SVG, at most :data:`MAX_IMAGE_BYTES`, or
an https URL; or ``{"id", "caption"}``); ``alignment`` (``targetName``, ``targetUrl`` e.g. an ESCO
URI, ``targetFramework``, ``targetCode``, ``targetDescription``, ``targetType``);
``resultDescription`` (OB ResultDescription objects; ``id`` generated when absent); ``tag``;
``achievementType``; ``humanCode``, ``fieldOfStudy``, ``specialization``, ``creditsAvailable``.
The OB JSON carries one language (the default unless asked) and names it in ``inLanguage``.
Every input is checked here and then through :func:`protocol.ob.validate` on a credential built
around the achievement; failures are 422 problems listing ``errors: [{field, message}]``.

Publishes ``app[SERVICES]["achievements"]``, an :class:`AchievementService`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import uuid
from datetime import datetime
from typing import Any, cast
from urllib.parse import quote, urlsplit

import defusedxml.ElementTree
from aiohttp import web
from sqlite_utils import Database

from protocol.ob import OB_CONTEXT_3_0_3, VC_CONTEXT_V2, validate

from .appkeys import CLOCK, CONFIG, DB, SERVICES
from .auth import public
from .config import NodeConfig
from .problems import Problem, read_json
from .storage import register

__all__ = [
    "MAX_IMAGE_BYTES",
    "AchievementService",
    "InvalidAchievement",
    "UnknownAchievement",
    "normalize_input",
    "setup",
]

#: Largest image accepted (decoded bytes of a data: URI). Images are embedded in every credential
#: issued for the achievement, so they must stay small.
MAX_IMAGE_BYTES = 256 * 1024
#: Longest name, in characters.
MAX_NAME_CHARS = 300
#: Longest description, criteria narrative or other text, in characters.
MAX_TEXT_CHARS = 20_000
#: Most items in each list (alignments, result descriptions, tags).
MAX_LIST_ITEMS = 100
#: Longest URL accepted in a field, in characters.
MAX_URL_CHARS = 2048
#: Seconds a client may cache the public achievement JSON.
ACHIEVEMENT_MAX_AGE_SECONDS = 300

_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*\Z")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+\Z")
_DATA_URI = re.compile(r"data:(image/png|image/svg\+xml)(;base64)?,(.*)\Z", re.DOTALL)
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SVG_NS = "{http://www.w3.org/2000/svg}"
_ALIGNMENT_FIELDS = (
    "targetName",
    "targetUrl",
    "targetFramework",
    "targetCode",
    "targetDescription",
    "targetType",
)
_TEXT_FIELDS = ("humanCode", "fieldOfStudy", "specialization", "achievementType")
_KNOWN_FIELDS = frozenset(
    {
        "name",
        "description",
        "criteria",
        "image",
        "alignment",
        "alignments",
        "resultDescription",
        "resultDescriptions",
        "tag",
        "tags",
        "creditsAvailable",
        *_TEXT_FIELDS,
    }
)

migrations = register("node.achievements")


@migrations()
def m001_achievements(db: Database) -> None:
    db["achievements"].create(  # type: ignore[union-attr]
        {
            "id": str,
            "current_version": int,
            "created_at": str,
            "updated_at": str,
            "retired_at": str,
        },
        pk="id",
        not_null={"current_version", "created_at", "updated_at"},
    )
    db["achievement_versions"].create(  # type: ignore[union-attr]
        {
            "achievement_id": str,
            "version": int,
            "data": str,
            "created_at": str,
            "created_by": str,
        },
        pk=("achievement_id", "version"),
        not_null={"data", "created_at"},
        foreign_keys=[("achievement_id", "achievements", "id")],
    )


class InvalidAchievement(Problem):
    """Achievement input that cannot make a valid OB 3.0 Achievement (422, with ``errors``)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        super().__init__(422, "invalid-achievement", summary, errors=errors)
        self.errors = errors


class UnknownAchievement(Problem):
    """No achievement (or version) with this id (404)."""

    def __init__(self, achievement_id: str) -> None:
        super().__init__(404, "not-found", f"no achievement {achievement_id!r}")


# -- input normalisation ----------------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append({"field": path, "message": message})


def _text(value: object, path: str, errors: _Errors, *, limit: int = MAX_TEXT_CHARS) -> str | None:
    if not isinstance(value, str):
        errors.add(path, f"expected a string, got {type(value).__name__}")
        return None
    text = value.strip()
    if not text:
        errors.add(path, "must not be empty")
        return None
    if len(text) > limit:
        errors.add(path, f"is longer than {limit} characters")
        return None
    if any(ord(c) < 0x20 and c not in "\n\r\t" for c in text):
        errors.add(path, "holds control characters")
        return None
    return text


def _localized(
    value: object,
    path: str,
    errors: _Errors,
    languages: tuple[str, ...],
    *,
    required: bool,
    limit: int = MAX_TEXT_CHARS,
) -> dict[str, str] | None:
    """``"text"`` (default language) or ``{"en": "...", "fr": "..."}`` -> ``{lang: text}``."""
    default = languages[0]
    if value is None:
        if required:
            errors.add(path, "required")
        return None
    if isinstance(value, str):
        text = _text(value, path, errors, limit=limit)
        return None if text is None else {default: text}
    if not isinstance(value, dict):
        errors.add(path, "expected a string or an object {language: text}")
        return None
    out: dict[str, str] = {}
    for lang, text in value.items():
        lpath = f"{path}.{lang}"
        if not isinstance(lang, str) or not _LANGUAGE_TAG.match(lang):
            errors.add(lpath, f"{lang!r} is not a language tag (BCP 47, e.g. 'en' or 'fr-CA')")
            continue
        if lang not in languages:
            errors.add(
                lpath,
                f"language {lang!r} is not one of this node's languages ({', '.join(languages)})",
            )
            continue
        if text in (None, ""):
            continue  # an empty variant in a form means "no translation"
        checked = _text(text, lpath, errors, limit=limit)
        if checked is not None:
            out[lang] = checked
    if default not in out and (required or out):
        errors.add(f"{path}.{default}", f"the default language ({default}) is required")
    return out or None


def _url(value: object, path: str, errors: _Errors, *, https: bool = False) -> str | None:
    if not isinstance(value, str) or not value.strip():
        errors.add(path, "expected a URL string")
        return None
    url = value.strip()
    if len(url) > MAX_URL_CHARS:
        errors.add(path, f"is longer than {MAX_URL_CHARS} characters")
        return None
    if not _URL.match(url):
        errors.add(path, f"{url[:60]!r} is not an absolute URL")
        return None
    if https:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            errors.add(path, "must be an https URL")
            return None
    return url


def _check_svg(data: bytes, path: str, errors: _Errors) -> None:
    try:
        root = defusedxml.ElementTree.fromstring(data)
    except Exception:  # defusedxml raises ParseError and its own DefusedXmlException types
        errors.add(path, "the SVG image is not well-formed XML (or uses forbidden DTD features)")
        return
    if root.tag not in (f"{_SVG_NS}svg", "svg"):
        errors.add(path, "the SVG image's root element is not <svg>")
        return
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1].lower() if isinstance(element.tag, str) else ""
        if tag in ("script", "foreignobject"):
            errors.add(path, f"the SVG image holds a <{tag}> element")
            return
        for name, attr in element.attrib.items():
            local = name.rsplit("}", 1)[-1].lower()
            if local.startswith("on"):
                errors.add(path, f"the SVG image holds an event handler ({local})")
                return
            if local == "href" and not attr.strip().startswith("#"):
                errors.add(path, "the SVG image links outside itself")
                return


def _image(
    value: object, path: str, errors: _Errors, languages: tuple[str, ...]
) -> dict[str, Any] | None:
    caption: dict[str, str] | None = None
    if isinstance(value, dict):
        extra = sorted(set(value) - {"id", "caption", "type"})
        if extra:
            errors.add(path, f"unexpected members {extra}")
        caption = _localized(
            value.get("caption"),
            f"{path}.caption",
            errors,
            languages,
            required=False,
            limit=MAX_NAME_CHARS,
        )
        value = value.get("id")
        path = f"{path}.id"
    if not isinstance(value, str) or not value:
        errors.add(path, "expected a data: URI (PNG or SVG) or an https URL")
        return None
    if value.startswith("data:"):
        match = _DATA_URI.match(value)
        if match is None:
            errors.add(path, "a data: image must be image/png or image/svg+xml")
            return None
        media, is_base64, payload = match.groups()
        if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 8:
            errors.add(path, f"the image is larger than {MAX_IMAGE_BYTES} bytes")
            return None
        try:
            raw = (
                base64.b64decode(payload, validate=True)
                if is_base64
                else bytes(_unquote(payload), "utf-8")
            )
        except (binascii.Error, ValueError):
            errors.add(path, "the data: URI's base64 payload is invalid")
            return None
        if len(raw) > MAX_IMAGE_BYTES:
            errors.add(path, f"the image is larger than {MAX_IMAGE_BYTES} bytes")
            return None
        if media == "image/png" and not raw.startswith(_PNG_MAGIC):
            errors.add(path, "the image is not a PNG file")
            return None
        if media == "image/svg+xml":
            _check_svg(raw, path, errors)
        url = f"data:{media};base64,{base64.b64encode(raw).decode('ascii')}"
    else:
        checked = _url(value, path, errors, https=True)
        if checked is None:
            return None
        url = checked
    out: dict[str, Any] = {"id": url}
    if caption:
        out["caption"] = caption
    return out


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text)


def _list(value: object, path: str, errors: _Errors) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(path, "expected a list")
        return []
    if len(value) > MAX_LIST_ITEMS:
        errors.add(path, f"has more than {MAX_LIST_ITEMS} items")
        return []
    return value


def _alignment(value: object, path: str, errors: _Errors) -> dict[str, str] | None:
    if not isinstance(value, dict):
        errors.add(path, "expected an object with targetName and targetUrl")
        return None
    extra = sorted(set(value) - set(_ALIGNMENT_FIELDS) - {"type"})
    if extra:
        errors.add(path, f"unexpected members {extra}")
    out: dict[str, str] = {}
    name = _text(value.get("targetName"), f"{path}.targetName", errors, limit=MAX_NAME_CHARS)
    url = _url(value.get("targetUrl"), f"{path}.targetUrl", errors)
    if name is None or url is None:
        return None
    out["targetName"] = name
    out["targetUrl"] = url
    for key in ("targetFramework", "targetCode", "targetDescription", "targetType"):
        if value.get(key) not in (None, ""):
            text = _text(value[key], f"{path}.{key}", errors)
            if text is not None:
                out[key] = text
    return out


def normalize_input(data: object, languages: tuple[str, ...]) -> dict[str, Any]:
    """Check achievement input and return its stored form (raises :class:`InvalidAchievement`).

    The stored form keeps every language variant: ``name``, ``description``,
    ``criteria.narrative`` and ``image.caption`` are ``{language: text}`` objects.
    """
    errors = _Errors()
    if not isinstance(data, dict):
        raise InvalidAchievement([{"field": "", "message": "expected a JSON object"}])
    unknown = sorted(set(data) - _KNOWN_FIELDS)
    for key in unknown:
        errors.add(key, "unknown field")
    out: dict[str, Any] = {}
    out["name"] = _localized(
        data.get("name"), "name", errors, languages, required=True, limit=MAX_NAME_CHARS
    )
    out["description"] = _localized(
        data.get("description"), "description", errors, languages, required=True
    )
    criteria = data.get("criteria")
    if not isinstance(criteria, dict):
        errors.add("criteria", "required: an object with a narrative and/or an id (URL)")
    else:
        extra = sorted(set(criteria) - {"narrative", "id"})
        if extra:
            errors.add("criteria", f"unexpected members {extra}")
        crit: dict[str, Any] = {}
        if criteria.get("narrative") not in (None, ""):
            narrative = _localized(
                criteria["narrative"], "criteria.narrative", errors, languages, required=False
            )
            if narrative:
                crit["narrative"] = narrative
        if criteria.get("id") not in (None, ""):
            crit_id = _url(criteria["id"], "criteria.id", errors)
            if crit_id:
                crit["id"] = crit_id
        if not crit and not any(e["field"].startswith("criteria") for e in errors.items):
            errors.add("criteria", "needs a narrative or an id (URL)")
        out["criteria"] = crit
    if data.get("image") not in (None, ""):
        image = _image(data["image"], "image", errors, languages)
        if image:
            out["image"] = image
    key = "alignments" if "alignments" in data else "alignment"
    alignments = []
    for i, item in enumerate(_list(data.get(key), key, errors)):
        checked = _alignment(item, f"{key}[{i}]", errors)
        if checked:
            alignments.append(checked)
    if alignments:
        out["alignment"] = alignments
    key = "resultDescriptions" if "resultDescriptions" in data else "resultDescription"
    results = []
    for i, item in enumerate(_list(data.get(key), key, errors)):
        if not isinstance(item, dict):
            errors.add(f"{key}[{i}]", "expected a ResultDescription object")
            continue
        result = copy.deepcopy(item)
        result.setdefault("type", ["ResultDescription"])
        results.append(result)
    if results:
        out["resultDescription"] = results
    key = "tags" if "tags" in data else "tag"
    tags = []
    for i, item in enumerate(_list(data.get(key), key, errors)):
        tag = _text(item, f"{key}[{i}]", errors, limit=MAX_NAME_CHARS)
        if tag is not None and tag not in tags:
            tags.append(tag)
    if tags:
        out["tag"] = tags
    for field in _TEXT_FIELDS:
        if data.get(field) not in (None, ""):
            text = _text(data[field], field, errors, limit=MAX_NAME_CHARS)
            if text is not None:
                out[field] = text
    if data.get("creditsAvailable") not in (None, ""):
        credits = data["creditsAvailable"]
        if isinstance(credits, bool) or not isinstance(credits, (int, float)) or credits < 0:
            errors.add("creditsAvailable", "expected a non-negative number")
        else:
            out["creditsAvailable"] = credits
    if errors.items:
        raise InvalidAchievement(errors.items)
    return {k: v for k, v in out.items() if v is not None}


def render(
    stored: dict[str, Any],
    *,
    url: str,
    version: int,
    language: str | None,
    languages: tuple[str, ...],
) -> dict[str, Any]:
    """The OB 3.0 Achievement JSON of a stored version, in ``language`` when available."""
    default = languages[0]
    lang = language if language is not None and language in stored["name"] else default

    def pick(texts: dict[str, str]) -> str:
        return texts.get(lang) or texts[default]

    doc: dict[str, Any] = {
        "id": url,
        "type": ["Achievement"],
        "name": pick(stored["name"]),
        "description": pick(stored["description"]),
    }
    criteria: dict[str, Any] = {}
    if "id" in stored["criteria"]:
        criteria["id"] = stored["criteria"]["id"]
    if "narrative" in stored["criteria"]:
        criteria["narrative"] = pick(stored["criteria"]["narrative"])
    doc["criteria"] = criteria
    if "image" in stored:
        image: dict[str, Any] = {"id": stored["image"]["id"], "type": "Image"}
        if "caption" in stored["image"]:
            image["caption"] = pick(stored["image"]["caption"])
        doc["image"] = image
    if "achievementType" in stored:
        doc["achievementType"] = stored["achievementType"]
    if "alignment" in stored:
        doc["alignment"] = [{"type": ["Alignment"], **a} for a in stored["alignment"]]
    if "resultDescription" in stored:
        results = []
        for i, item in enumerate(stored["resultDescription"], 1):
            result = dict(item)
            result.setdefault("id", f"{url}#result-{i}")
            results.append(result)
        doc["resultDescription"] = results
    if "tag" in stored:
        doc["tag"] = list(stored["tag"])
    for field in ("humanCode", "fieldOfStudy", "specialization", "creditsAvailable"):
        if field in stored:
            doc[field] = stored[field]
    doc["inLanguage"] = lang
    doc["version"] = str(version)
    return doc


def check_with_protocol(achievement: dict[str, Any]) -> None:
    """Validate an Achievement by validating a credential built around it (422 on failure)."""
    credential = {
        "@context": [VC_CONTEXT_V2, OB_CONTEXT_3_0_3],
        "id": "urn:uuid:00000000-0000-4000-8000-000000000000",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": "did:example:issuer", "type": ["Profile"]},
        "validFrom": "2025-01-01T00:00:00Z",
        "name": "validation",
        "credentialSubject": {
            "id": "did:example:holder",
            "type": ["AchievementSubject"],
            "achievement": achievement,
        },
    }
    prefix = "credentialSubject.achievement"
    issues = validate(credential)
    if issues:
        errors = []
        for issue in issues:
            field = issue.path
            if field == prefix:
                field = ""
            elif field.startswith(prefix + "."):
                field = field[len(prefix) + 1 :]
            errors.append({"field": field, "message": issue.message})
        raise InvalidAchievement(errors)


class AchievementService:
    """Achievement storage and rendering (the ``"achievements"`` service)."""

    def __init__(self, config: NodeConfig, db: Database) -> None:
        self._config = config
        self._db = db
        self.prefix = f"{config.base_url}/achievements/"

    def url(self, achievement_id: str) -> str:
        """The public URL (and OB ``id``) of an achievement."""
        return self.prefix + quote(achievement_id, safe="")

    def _local_id(self, achievement_id: str) -> str:
        if achievement_id.startswith(self.prefix):
            return achievement_id[len(self.prefix) :]
        return achievement_id

    def _row(self, achievement_id: str) -> dict[str, Any]:
        row = self._db.execute(
            "SELECT id, current_version, created_at, updated_at, retired_at FROM achievements "
            "WHERE id = ?",
            [self._local_id(achievement_id)],
        ).fetchone()
        if row is None:
            raise UnknownAchievement(achievement_id)
        keys = ("id", "current_version", "created_at", "updated_at", "retired_at")
        return dict(zip(keys, row, strict=True))

    def _stored(self, achievement_id: str, version: int) -> dict[str, Any]:
        row = self._db.execute(
            "SELECT data FROM achievement_versions WHERE achievement_id = ? AND version = ?",
            [achievement_id, version],
        ).fetchone()
        if row is None:
            raise UnknownAchievement(f"{achievement_id} version {version}")
        return cast(dict[str, Any], json.loads(row[0]))

    def get(
        self, achievement_id: str, *, version: int | None = None, language: str | None = None
    ) -> dict[str, Any]:
        """The OB Achievement JSON (current version unless ``version``); 404 problem if unknown.

        ``achievement_id`` may be the local id or the public URL.
        """
        row = self._row(achievement_id)
        number = row["current_version"] if version is None else version
        stored = self._stored(row["id"], number)
        return render(
            stored,
            url=self.url(row["id"]),
            version=number,
            language=language,
            languages=self._config.languages,
        )

    def is_retired(self, achievement_id: str) -> bool:
        """True when the achievement was retired (no new issuance)."""
        return self._row(achievement_id)["retired_at"] is not None

    def record(self, achievement_id: str) -> dict[str, Any]:
        """The staff view: state, stored input (every language) and the OB JSON."""
        row = self._row(achievement_id)
        versions = self._db.execute(
            "SELECT version, created_at, created_by FROM achievement_versions "
            "WHERE achievement_id = ? ORDER BY version",
            [row["id"]],
        ).fetchall()
        return {
            "id": row["id"],
            "url": self.url(row["id"]),
            "version": row["current_version"],
            "retired": row["retired_at"] is not None,
            "retiredAt": row["retired_at"],
            "createdAt": row["created_at"],
            "updatedAt": row["updated_at"],
            "input": self._stored(row["id"], row["current_version"]),
            "achievement": self.get(row["id"]),
            "versions": [{"version": v, "createdAt": c, "createdBy": b} for v, c, b in versions],
        }

    def list(self, *, include_retired: bool = False) -> list[dict[str, Any]]:
        """Summaries of the achievements, newest first."""
        rows = self._db.execute(
            "SELECT a.id, a.current_version, a.updated_at, a.retired_at, v.data "
            "FROM achievements a JOIN achievement_versions v "
            "ON v.achievement_id = a.id AND v.version = a.current_version "
            "ORDER BY a.created_at DESC, a.id"
        ).fetchall()
        default = self._config.languages[0]
        out = []
        for achievement_id, version, updated, retired, data in rows:
            if retired and not include_retired:
                continue
            stored = json.loads(data)
            out.append(
                {
                    "id": achievement_id,
                    "url": self.url(achievement_id),
                    "name": stored["name"][default],
                    "achievementType": stored.get("achievementType"),
                    "version": version,
                    "updatedAt": updated,
                    "retired": retired is not None,
                }
            )
        return out

    def _prepare(self, data: object, url: str, version: int) -> dict[str, Any]:
        stored = normalize_input(data, self._config.languages)
        for language in self._config.languages:
            check_with_protocol(
                render(
                    stored,
                    url=url,
                    version=version,
                    language=language,
                    languages=self._config.languages,
                )
            )
        return stored

    def create(
        self, data: object, *, now: datetime, created_by: str | None = None
    ) -> dict[str, Any]:
        """Create an achievement from input ``data``; returns its :meth:`record`."""
        achievement_id = str(uuid.uuid4())
        stored = self._prepare(data, self.url(achievement_id), 1)
        stamp = now.isoformat()
        with self._db.atomic():
            self._db.table("achievements").insert(
                {
                    "id": achievement_id,
                    "current_version": 1,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "retired_at": None,
                }
            )
            self._db.table("achievement_versions").insert(
                {
                    "achievement_id": achievement_id,
                    "version": 1,
                    "data": json.dumps(stored, ensure_ascii=False, sort_keys=True),
                    "created_at": stamp,
                    "created_by": created_by,
                }
            )
        return self.record(achievement_id)

    def update(
        self, achievement_id: str, data: object, *, now: datetime, created_by: str | None = None
    ) -> dict[str, Any]:
        """Store ``data`` as a new version (409 when retired); returns the :meth:`record`."""
        row = self._row(achievement_id)
        if row["retired_at"] is not None:
            raise Problem(409, "conflict", "a retired achievement cannot be edited")
        version = row["current_version"] + 1
        stored = self._prepare(data, self.url(row["id"]), version)
        stamp = now.isoformat()
        with self._db.atomic():
            self._db.table("achievement_versions").insert(
                {
                    "achievement_id": row["id"],
                    "version": version,
                    "data": json.dumps(stored, ensure_ascii=False, sort_keys=True),
                    "created_at": stamp,
                    "created_by": created_by,
                }
            )
            self._db.execute(
                "UPDATE achievements SET current_version = ?, updated_at = ? WHERE id = ?",
                [version, stamp, row["id"]],
            )
        return self.record(row["id"])

    def retire(self, achievement_id: str, *, now: datetime) -> dict[str, Any]:
        """Retire an achievement (kept and still served; no new issuance)."""
        row = self._row(achievement_id)
        if row["retired_at"] is None:
            self._db.execute(
                "UPDATE achievements SET retired_at = ?, updated_at = ? WHERE id = ?",
                [now.isoformat(), now.isoformat(), row["id"]],
            )
        return self.record(row["id"])


# -- handlers -------------------------------------------------------------------------------


def _service(request: web.Request) -> AchievementService:
    return cast(AchievementService, request.app[SERVICES]["achievements"])


def _auth(request: web.Request) -> Any:
    return request.app[SERVICES]["auth"]


def _who(principal: Any) -> str:
    if principal.email:
        return str(principal.email)
    return f"token:{principal.token_id}"


def _language(request: web.Request, languages: tuple[str, ...]) -> str | None:
    lang = request.query.get("lang")
    if lang:
        return lang if lang in languages else None
    for part in request.headers.get("Accept-Language", "").split(","):
        tag = part.split(";")[0].strip()
        if tag in languages:
            return tag
        base = tag.split("-")[0]
        if base in languages:
            return base
    return None


@public("achievements are public: credentials point at them by URL")
async def public_achievement(request: web.Request) -> web.Response:
    """``GET /achievements/{id}``: the OB 3.0 Achievement JSON."""
    service = _service(request)
    version: int | None = None
    if "version" in request.query:
        try:
            version = int(request.query["version"])
        except ValueError:
            raise Problem(400, "bad-request", "version must be a number") from None
    language = _language(request, request.app[CONFIG].languages)
    doc = service.get(request.match_info["id"], version=version, language=language)
    body = {"@context": [VC_CONTEXT_V2, OB_CONTEXT_3_0_3], **doc}
    return web.json_response(
        body,
        headers={
            "Cache-Control": f"public, max-age={ACHIEVEMENT_MAX_AGE_SECONDS}",
            "Content-Language": doc["inLanguage"],
            "Vary": "Accept-Language",
            "Access-Control-Allow-Origin": "*",
        },
    )


async def list_achievements(request: web.Request) -> web.Response:
    """``GET /api/achievements``."""
    await _auth(request).require_staff(request)
    include = request.query.get("retired", "") in ("1", "true", "yes")
    return web.json_response({"achievements": _service(request).list(include_retired=include)})


async def create_achievement(request: web.Request) -> web.Response:
    """``POST /api/achievements``: 201 with the record."""
    principal = await _auth(request).require_scope(request, "achievements:write")
    body = await read_json(request)
    record = _service(request).create(body, now=request.app[CLOCK](), created_by=_who(principal))
    return web.json_response(record, status=201, headers={"Location": record["url"]})


async def get_achievement(request: web.Request) -> web.Response:
    """``GET /api/achievements/{id}``."""
    await _auth(request).require_staff(request)
    return web.json_response(_service(request).record(request.match_info["id"]))


async def update_achievement(request: web.Request) -> web.Response:
    """``PUT /api/achievements/{id}``: a new version."""
    principal = await _auth(request).require_scope(request, "achievements:write")
    body = await read_json(request)
    record = _service(request).update(
        request.match_info["id"], body, now=request.app[CLOCK](), created_by=_who(principal)
    )
    return web.json_response(record)


async def retire_achievement(request: web.Request) -> web.Response:
    """``POST /api/achievements/{id}/retire``."""
    await _auth(request).require_scope(request, "achievements:write")
    record = _service(request).retire(request.match_info["id"], now=request.app[CLOCK]())
    return web.json_response(record)


def setup(app: web.Application) -> None:
    """Publish the achievements service and its routes."""
    app[SERVICES]["achievements"] = AchievementService(app[CONFIG], app[DB])
    app.router.add_get("/achievements/{id}", public_achievement)
    app.router.add_get("/api/achievements", list_achievements)
    app.router.add_post("/api/achievements", create_achievement)
    app.router.add_get("/api/achievements/{id}", get_achievement)
    app.router.add_put("/api/achievements/{id}", update_achievement)
    app.router.add_post("/api/achievements/{id}/retire", retire_achievement)
