"""The Open Badges 3.0 data model as dataclasses with lossless ``from_dict`` / ``to_dict``.

Each class mirrors one class of the OB 3.0 data model
(https://www.imsglobal.org/spec/ob/v3p0/#data-model). Attributes are the snake_case forms of the
JSON members (``targetUrl`` -> ``target_url``); members the model does not know are kept, in
order, in ``unrecognized``.

Round trips are exact (python-tuf ADR 0008: reading then writing a document must not change it):
``Model.from_dict(d).to_dict() == d`` with the same key order, because the model remembers

* the member order of the source object;
* which multi-valued members were given as a single value (the OB serialization rules ask for
  arrays, but JSON-LD compaction may produce a single value; parsing accepts both, and the source
  form is written back);
* the exact text of each timestamp, written back while the parsed instant is unchanged.

Objects built with the constructors follow the OB serialization rules: multi-valued members are
always arrays, timestamps are UTC ``...Z`` to the second, members come in the order of the
dataclass fields. Signed material (``proof``, ``endorsement``) is never rebuilt: the original
``dict`` objects are kept and returned as they are.

Parsing raises :class:`~protocol.errors.MalformedError` (with the JSON path) when a member the
model needs is missing or has the wrong JSON type, or a timestamp is not a ``dateTimeStamp``.
Conformance beyond that (types, contexts, schema rules) is :func:`protocol.ob.validate`'s job.

>>> subject = {"id": "did:example:1", "type": "AchievementSubject",
...            "achievement": {"id": "urn:uuid:1", "type": ["Achievement"], "name": "N",
...                            "description": "D", "criteria": {"narrative": "Do it"}}}
>>> AchievementSubject.from_dict(subject).to_dict() == subject
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Literal, Self

from protocol.errors import MalformedError
from protocol.timeutil import format_datetime, parse_datetime, require_aware

from .report import join_path

__all__ = [
    "OB_CONTEXT_3_0_3",
    "OB_EXTENSIONS_CONTEXT",
    "VC_CONTEXT_V2",
    "Achievement",
    "AchievementCredential",
    "AchievementSubject",
    "Alignment",
    "Criteria",
    "EndorsementCredential",
    "EndorsementSubject",
    "Evidence",
    "IdentityObject",
    "Image",
    "OpenBadgeCredential",
    "Profile",
    "Result",
    "ResultDescription",
    "RubricCriterionLevel",
]

#: The W3C Verifiable Credentials 2.0 base context; always the first ``@context`` item.
VC_CONTEXT_V2 = "https://www.w3.org/ns/credentials/v2"
#: The current Open Badges 3.0 context (last changed 2024-03, see standards.md 1.1).
OB_CONTEXT_3_0_3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
#: 1EdTech extension terms (1EdTechJsonSchemaValidator2019, 1EdTechRevocationList,
#: 1EdTechCredentialRefresh); only needed when one of those types is used.
OB_EXTENSIONS_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"

_Kind = Literal[
    "str",  # a string
    "strs",  # an array of strings (a single string accepted)
    "bool",  # a boolean
    "num",  # a JSON number (int or float, not bool)
    "dt",  # a dateTimeStamp string, held as an aware datetime
    "obj",  # a nested model object
    "objs",  # an array of nested model objects (a single object accepted)
    "ref",  # a Profile object or a URI string (ProfileRef)
    "rawobj",  # a JSON object kept as is (never rebuilt)
    "raws",  # an array of JSON objects kept as is (a single object accepted)
    "context",  # @context: an array of strings / objects (a single string accepted)
]
_LIST_KINDS = frozenset({"strs", "objs", "raws", "context"})


def _m(key: str, kind: _Kind, model: Callable[[], type[_Model]] | None = None) -> dict[str, Any]:
    """Field metadata binding a dataclass field to the JSON member ``key``.

    A field without a default is a required member.
    """
    return {"key": key, "kind": kind, "model": model}


@dataclass
class _Meta:
    """What a parsed object remembers about its source, to write it back unchanged."""

    order: tuple[str, ...] = ()
    scalars: frozenset[str] = frozenset()
    texts: Mapping[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class _Model:
    """Shared ``from_dict`` / ``to_dict`` machinery driven by the field declarations."""

    #: JSON members this class does not model, in source order, kept verbatim.
    unrecognized: dict[str, Any] = field(default_factory=dict)
    _meta: _Meta = field(default_factory=_Meta, init=False, repr=False, compare=False)

    _DATETIME_FIELDS: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for name in self._DATETIME_FIELDS:
            value = getattr(self, name)
            if value is not None:
                require_aware(value, name)

    @classmethod
    def _members(cls) -> list[tuple[Field[Any], Mapping[str, Any]]]:
        return _members_of(cls)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "") -> Self:
        """Parse a JSON object into this class.

        Args:
            data: the parsed JSON object.
            path: JSON path of ``data`` in its document, used in error messages.

        Raises:
            MalformedError: a required member is missing, a member has the wrong JSON type, or
                a timestamp is not an RFC 3339 ``dateTimeStamp`` with a time zone.
        """
        if not isinstance(data, Mapping):
            raise MalformedError(f"{path or 'document'}: expected an object, got {_jtype(data)}")
        kwargs: dict[str, Any] = {}
        scalars: set[str] = set()
        texts: dict[str, str] = {}
        consumed: set[str] = set()
        for f, md in cls._members():
            key = md["key"]
            value = data.get(key)
            if value is None:
                if f.default is MISSING and f.default_factory is MISSING:
                    raise MalformedError(f"{join_path(path, key)}: required property missing")
                continue
            consumed.add(key)
            parsed, scalar = _parse(md, value, join_path(path, key))
            kwargs[f.name] = parsed
            if scalar:
                scalars.add(key)
            if md["kind"] == "dt":
                texts[key] = value
        unrecognized = {k: v for k, v in data.items() if k not in consumed}
        try:
            obj = cls(**kwargs, unrecognized=unrecognized)
        except (ValueError, TypeError) as exc:
            raise MalformedError(f"{path or 'document'}: {exc}") from exc
        obj._meta = _Meta(order=tuple(data), scalars=frozenset(scalars), texts=texts)
        return obj

    def to_dict(self, *, normalize: bool = False) -> dict[str, Any]:
        """Serialize to a JSON object.

        Args:
            normalize: ignore what was remembered from the source and apply the OB
                serialization rules: multi-valued members as arrays, members in field order
                (unrecognized ones after), timestamps as UTC ``...Z``, no null and no empty
                array for modelled members. By default a parsed object is written back exactly
                as it was read.
        """
        meta = _Meta() if normalize else self._meta
        known: dict[str, Any] = {}
        for f, md in self._members():
            key = md["key"]
            value = getattr(self, f.name)
            if value is None:
                continue
            if md["kind"] in _LIST_KINDS and not value and key not in meta.order:
                continue  # OB serialization: omit empty arrays (unless the source had one)
            known[key] = _serialize(
                md, value, key in meta.scalars, meta.texts.get(key), normalize=normalize
            )
        out: dict[str, Any] = {}
        for key in meta.order:
            if key in known:
                out[key] = known.pop(key)
            elif key in self.unrecognized:
                out[key] = self.unrecognized[key]
        out.update(known)
        modelled = {md["key"] for _, md in self._members()} if normalize else set()
        for key, value in self.unrecognized.items():
            if key not in modelled:
                out.setdefault(key, value)
        return out


_MEMBERS: dict[str, list[tuple[Field[Any], Mapping[str, Any]]]] = {}


def _members_of(cls: type[_Model]) -> list[tuple[Field[Any], Mapping[str, Any]]]:
    name = f"{cls.__module__}.{cls.__qualname__}"
    members = _MEMBERS.get(name)
    if members is None:
        members = [(f, f.metadata) for f in fields(cls) if "key" in f.metadata]
        _MEMBERS[name] = members
    return members


def _jtype(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _wrong(path: str, expected: str, value: object) -> MalformedError:
    return MalformedError(f"{path}: expected {expected}, got {_jtype(value)}")


def _parse(md: Mapping[str, Any], value: Any, path: str) -> tuple[Any, bool]:
    """Parse one member; returns (value, given-as-a-single-value)."""
    kind: _Kind = md["kind"]
    if kind == "str":
        if not isinstance(value, str):
            raise _wrong(path, "a string", value)
        return value, False
    if kind == "bool":
        if not isinstance(value, bool):
            raise _wrong(path, "a boolean", value)
        return value, False
    if kind == "num":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _wrong(path, "a number", value)
        return value, False
    if kind == "dt":
        try:
            return parse_datetime(value), False
        except MalformedError as exc:
            raise MalformedError(f"{path}: {exc.message}") from exc
    if kind == "obj":
        return md["model"]().from_dict(value, path=path), False
    if kind == "ref":
        if isinstance(value, str):
            return value, False
        if isinstance(value, Mapping):
            return Profile.from_dict(value, path=path), False
        raise _wrong(path, "a URI string or a Profile object", value)
    if kind == "rawobj":
        if not isinstance(value, Mapping):
            raise _wrong(path, "a single object", value)
        return value, False
    # Multi-valued members: accept a single value, remember that it was one.
    scalar = not isinstance(value, list)
    items: list[Any] = [value] if scalar else value
    if kind == "strs":
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise _wrong(path if scalar else join_path(path, i), "a string", item)
        return list(items), scalar
    if kind == "context":
        for i, item in enumerate(items):
            if not isinstance(item, str | Mapping):
                raise _wrong(join_path(path, i), "a context URL or object", item)
        return list(items), scalar
    if kind == "raws":
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise _wrong(path if scalar else join_path(path, i), "an object", item)
        return list(items), scalar
    model = md["model"]()
    return [
        model.from_dict(item, path=path if scalar else join_path(path, i))
        for i, item in enumerate(items)
    ], scalar


def _serialize(
    md: Mapping[str, Any], value: Any, scalar: bool, text: str | None, *, normalize: bool
) -> Any:
    kind: _Kind = md["kind"]
    if kind == "dt":
        if text is not None and parse_datetime(text) == value:
            return text
        return format_datetime(value)
    if kind == "obj":
        return value.to_dict(normalize=normalize)
    if kind == "ref":
        return value if isinstance(value, str) else value.to_dict(normalize=normalize)
    if kind in ("str", "bool", "num", "rawobj"):
        return value
    items = [v.to_dict(normalize=normalize) for v in value] if kind == "objs" else list(value)
    if scalar and len(items) == 1:
        return items[0]
    return items


# -- Classes ------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Image(_Model):
    """An image: a URI or ``data:`` URI and an optional caption (``type`` is the string 'Image')."""

    id: str = field(metadata=_m("id", "str"))
    type: str = field(default="Image", metadata=_m("type", "str"))
    caption: str | None = field(default=None, metadata=_m("caption", "str"))


@dataclass(kw_only=True)
class Profile(_Model):
    """An issuer, creator, source or endorser profile."""

    id: str = field(metadata=_m("id", "str"))
    type: list[str] = field(default_factory=lambda: ["Profile"], metadata=_m("type", "strs"))
    name: str | None = field(default=None, metadata=_m("name", "str"))
    url: str | None = field(default=None, metadata=_m("url", "str"))
    phone: str | None = field(default=None, metadata=_m("phone", "str"))
    description: str | None = field(default=None, metadata=_m("description", "str"))
    endorsement: list[Mapping[str, Any]] = field(
        default_factory=list, metadata=_m("endorsement", "raws")
    )
    image: Image | None = field(default=None, metadata=_m("image", "obj", lambda: Image))
    email: str | None = field(default=None, metadata=_m("email", "str"))
    official: str | None = field(default=None, metadata=_m("official", "str"))
    parent_org: Profile | None = field(
        default=None, metadata=_m("parentOrg", "obj", lambda: Profile)
    )


@dataclass(kw_only=True)
class Criteria(_Model):
    """How the achievement is earned: a criteria page URI and/or a Markdown narrative."""

    id: str | None = field(default=None, metadata=_m("id", "str"))
    narrative: str | None = field(default=None, metadata=_m("narrative", "str"))


@dataclass(kw_only=True)
class Alignment(_Model):
    """An alignment to a node of an educational framework."""

    type: list[str] = field(default_factory=lambda: ["Alignment"], metadata=_m("type", "strs"))
    target_code: str | None = field(default=None, metadata=_m("targetCode", "str"))
    target_description: str | None = field(default=None, metadata=_m("targetDescription", "str"))
    target_name: str = field(metadata=_m("targetName", "str"))
    target_framework: str | None = field(default=None, metadata=_m("targetFramework", "str"))
    target_type: str | None = field(default=None, metadata=_m("targetType", "str"))
    target_url: str = field(metadata=_m("targetUrl", "str"))


@dataclass(kw_only=True)
class RubricCriterionLevel(_Model):
    """One level of a rubric criterion."""

    id: str = field(metadata=_m("id", "str"))
    type: list[str] = field(
        default_factory=lambda: ["RubricCriterionLevel"], metadata=_m("type", "strs")
    )
    alignment: list[Alignment] = field(
        default_factory=list, metadata=_m("alignment", "objs", lambda: Alignment)
    )
    description: str | None = field(default=None, metadata=_m("description", "str"))
    level: str | None = field(default=None, metadata=_m("level", "str"))
    name: str = field(metadata=_m("name", "str"))
    points: str | None = field(default=None, metadata=_m("points", "str"))


@dataclass(kw_only=True)
class ResultDescription(_Model):
    """A result that may be asserted with the achievement."""

    id: str = field(metadata=_m("id", "str"))
    type: list[str] = field(
        default_factory=lambda: ["ResultDescription"], metadata=_m("type", "strs")
    )
    alignment: list[Alignment] = field(
        default_factory=list, metadata=_m("alignment", "objs", lambda: Alignment)
    )
    allowed_value: list[str] = field(default_factory=list, metadata=_m("allowedValue", "strs"))
    name: str = field(metadata=_m("name", "str"))
    required_level: str | None = field(default=None, metadata=_m("requiredLevel", "str"))
    required_value: str | None = field(default=None, metadata=_m("requiredValue", "str"))
    result_type: str = field(metadata=_m("resultType", "str"))
    rubric_criterion_level: list[RubricCriterionLevel] = field(
        default_factory=list,
        metadata=_m("rubricCriterionLevel", "objs", lambda: RubricCriterionLevel),
    )
    value_max: str | None = field(default=None, metadata=_m("valueMax", "str"))
    value_min: str | None = field(default=None, metadata=_m("valueMin", "str"))


@dataclass(kw_only=True)
class Achievement(_Model):
    """The accomplishment a credential recognises."""

    id: str = field(metadata=_m("id", "str"))
    type: list[str] = field(default_factory=lambda: ["Achievement"], metadata=_m("type", "strs"))
    name: str = field(metadata=_m("name", "str"))
    description: str = field(metadata=_m("description", "str"))
    criteria: Criteria = field(metadata=_m("criteria", "obj", lambda: Criteria))
    image: Image | None = field(default=None, metadata=_m("image", "obj", lambda: Image))
    achievement_type: str | None = field(default=None, metadata=_m("achievementType", "str"))
    creator: Profile | None = field(default=None, metadata=_m("creator", "obj", lambda: Profile))
    credits_available: float | None = field(default=None, metadata=_m("creditsAvailable", "num"))
    alignment: list[Alignment] = field(
        default_factory=list, metadata=_m("alignment", "objs", lambda: Alignment)
    )
    endorsement: list[Mapping[str, Any]] = field(
        default_factory=list, metadata=_m("endorsement", "raws")
    )
    field_of_study: str | None = field(default=None, metadata=_m("fieldOfStudy", "str"))
    human_code: str | None = field(default=None, metadata=_m("humanCode", "str"))
    in_language: str | None = field(default=None, metadata=_m("inLanguage", "str"))
    result_description: list[ResultDescription] = field(
        default_factory=list, metadata=_m("resultDescription", "objs", lambda: ResultDescription)
    )
    specialization: str | None = field(default=None, metadata=_m("specialization", "str"))
    tag: list[str] = field(default_factory=list, metadata=_m("tag", "strs"))
    version: str | None = field(default=None, metadata=_m("version", "str"))


@dataclass(kw_only=True)
class IdentityObject(_Model):
    """A recipient identifier, plain or hashed (``identityHash`` = ``sha256$<hex>``)."""

    type: str = field(default="IdentityObject", metadata=_m("type", "str"))
    identity_hash: str = field(metadata=_m("identityHash", "str"))
    identity_type: str = field(metadata=_m("identityType", "str"))
    hashed: bool = field(metadata=_m("hashed", "bool"))
    salt: str | None = field(default=None, metadata=_m("salt", "str"))


@dataclass(kw_only=True)
class Result(_Model):
    """A result achieved, linked to a :class:`ResultDescription` of the achievement by id."""

    type: list[str] = field(default_factory=lambda: ["Result"], metadata=_m("type", "strs"))
    achieved_level: str | None = field(default=None, metadata=_m("achievedLevel", "str"))
    alignment: list[Alignment] = field(
        default_factory=list, metadata=_m("alignment", "objs", lambda: Alignment)
    )
    result_description: str | None = field(default=None, metadata=_m("resultDescription", "str"))
    status: str | None = field(default=None, metadata=_m("status", "str"))
    value: str | None = field(default=None, metadata=_m("value", "str"))


@dataclass(kw_only=True)
class AchievementSubject(_Model):
    """The recipient: a holder ``id`` (e.g. a did:key) and/or ``identifier`` objects."""

    id: str | None = field(default=None, metadata=_m("id", "str"))
    type: list[str] = field(
        default_factory=lambda: ["AchievementSubject"], metadata=_m("type", "strs")
    )
    activity_end_date: str | None = field(default=None, metadata=_m("activityEndDate", "str"))
    activity_start_date: str | None = field(default=None, metadata=_m("activityStartDate", "str"))
    credits_earned: float | None = field(default=None, metadata=_m("creditsEarned", "num"))
    achievement: Achievement = field(metadata=_m("achievement", "obj", lambda: Achievement))
    identifier: list[IdentityObject] = field(
        default_factory=list, metadata=_m("identifier", "objs", lambda: IdentityObject)
    )
    image: Image | None = field(default=None, metadata=_m("image", "obj", lambda: Image))
    license_number: str | None = field(default=None, metadata=_m("licenseNumber", "str"))
    narrative: str | None = field(default=None, metadata=_m("narrative", "str"))
    result: list[Result] = field(
        default_factory=list, metadata=_m("result", "objs", lambda: Result)
    )
    role: str | None = field(default=None, metadata=_m("role", "str"))
    source: Profile | None = field(default=None, metadata=_m("source", "obj", lambda: Profile))
    term: str | None = field(default=None, metadata=_m("term", "str"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.id is None and not self.identifier:
            raise ValueError("an AchievementSubject needs an 'id' or at least one 'identifier'")


@dataclass(kw_only=True)
class Evidence(_Model):
    """Evidence of the work that earned the achievement."""

    id: str | None = field(default=None, metadata=_m("id", "str"))
    type: list[str] = field(default_factory=lambda: ["Evidence"], metadata=_m("type", "strs"))
    narrative: str | None = field(default=None, metadata=_m("narrative", "str"))
    name: str | None = field(default=None, metadata=_m("name", "str"))
    description: str | None = field(default=None, metadata=_m("description", "str"))
    genre: str | None = field(default=None, metadata=_m("genre", "str"))
    audience: str | None = field(default=None, metadata=_m("audience", "str"))


@dataclass(kw_only=True)
class OpenBadgeCredential(_Model):
    """An OB 3.0 AchievementCredential (``OpenBadgeCredential`` is its alias type).

    ``credential_status`` is a single object (the OB schema allows no array). ``endorsement``
    and ``proof`` entries are the original signed ``dict`` objects, never rebuilt.
    """

    _DATETIME_FIELDS: ClassVar[tuple[str, ...]] = ("valid_from", "valid_until", "awarded_date")

    context: list[str | Mapping[str, Any]] = field(
        default_factory=lambda: [VC_CONTEXT_V2, OB_CONTEXT_3_0_3],
        metadata=_m("@context", "context"),
    )
    id: str = field(metadata=_m("id", "str"))
    type: list[str] = field(
        default_factory=lambda: ["VerifiableCredential", "OpenBadgeCredential"],
        metadata=_m("type", "strs"),
    )
    name: str | None = field(default=None, metadata=_m("name", "str"))
    description: str | None = field(default=None, metadata=_m("description", "str"))
    image: Image | None = field(default=None, metadata=_m("image", "obj", lambda: Image))
    issuer: Profile | str = field(metadata=_m("issuer", "ref"))
    valid_from: datetime = field(metadata=_m("validFrom", "dt"))
    valid_until: datetime | None = field(default=None, metadata=_m("validUntil", "dt"))
    awarded_date: datetime | None = field(default=None, metadata=_m("awardedDate", "dt"))
    credential_subject: AchievementSubject = field(
        metadata=_m("credentialSubject", "obj", lambda: AchievementSubject)
    )
    evidence: list[Evidence] = field(
        default_factory=list, metadata=_m("evidence", "objs", lambda: Evidence)
    )
    endorsement: list[Mapping[str, Any]] = field(
        default_factory=list, metadata=_m("endorsement", "raws")
    )
    credential_schema: list[Mapping[str, Any]] = field(
        default_factory=list, metadata=_m("credentialSchema", "raws")
    )
    credential_status: Mapping[str, Any] | None = field(
        default=None, metadata=_m("credentialStatus", "rawobj")
    )
    refresh_service: Mapping[str, Any] | None = field(
        default=None, metadata=_m("refreshService", "rawobj")
    )
    terms_of_use: list[Mapping[str, Any]] = field(
        default_factory=list, metadata=_m("termsOfUse", "raws")
    )
    proof: list[Mapping[str, Any]] = field(default_factory=list, metadata=_m("proof", "raws"))

    @property
    def issuer_id(self) -> str:
        """The issuer's URI, whether ``issuer`` is a URI or a Profile."""
        return self.issuer if isinstance(self.issuer, str) else self.issuer.id


#: OB 3.0 names the class AchievementCredential; ``OpenBadgeCredential`` is the alias type.
AchievementCredential = OpenBadgeCredential


@dataclass(kw_only=True)
class EndorsementSubject(_Model):
    """What an endorsement is about (a credential, achievement or profile id)."""

    id: str = field(metadata=_m("id", "str"))
    type: list[str] = field(
        default_factory=lambda: ["EndorsementSubject"], metadata=_m("type", "strs")
    )
    endorsement_comment: str | None = field(default=None, metadata=_m("endorsementComment", "str"))


@dataclass(kw_only=True)
class EndorsementCredential(_Model):
    """An OB 3.0 EndorsementCredential (``name`` is required, unlike AchievementCredential)."""

    _DATETIME_FIELDS: ClassVar[tuple[str, ...]] = ("valid_from", "valid_until", "awarded_date")

    context: list[str | Mapping[str, Any]] = field(
        default_factory=lambda: [VC_CONTEXT_V2, OB_CONTEXT_3_0_3],
        metadata=_m("@context", "context"),
    )
    id: str = field(metadata=_m("id", "str"))
    type: list[str] = field(
        default_factory=lambda: ["VerifiableCredential", "EndorsementCredential"],
        metadata=_m("type", "strs"),
    )
    name: str = field(metadata=_m("name", "str"))
    description: str | None = field(default=None, metadata=_m("description", "str"))
    issuer: Profile | str = field(metadata=_m("issuer", "ref"))
    valid_from: datetime = field(metadata=_m("validFrom", "dt"))
    valid_until: datetime | None = field(default=None, metadata=_m("validUntil", "dt"))
    awarded_date: datetime | None = field(default=None, metadata=_m("awardedDate", "dt"))
    credential_subject: EndorsementSubject = field(
        metadata=_m("credentialSubject", "obj", lambda: EndorsementSubject)
    )
    credential_schema: list[Mapping[str, Any]] = field(
        default_factory=list, metadata=_m("credentialSchema", "raws")
    )
    credential_status: Mapping[str, Any] | None = field(
        default=None, metadata=_m("credentialStatus", "rawobj")
    )
    refresh_service: Mapping[str, Any] | None = field(
        default=None, metadata=_m("refreshService", "rawobj")
    )
    terms_of_use: list[Mapping[str, Any]] = field(
        default_factory=list, metadata=_m("termsOfUse", "raws")
    )
    proof: list[Mapping[str, Any]] = field(default_factory=list, metadata=_m("proof", "raws"))

    @property
    def issuer_id(self) -> str:
        """The issuer's URI, whether ``issuer`` is a URI or a Profile."""
        return self.issuer if isinstance(self.issuer, str) else self.issuer.id
