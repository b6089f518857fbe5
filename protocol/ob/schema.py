"""The 1EdTech Open Badges 3.0 JSON Schemas, packaged and compiled once.

The schemas (JSON Schema draft 2019-09) ship in ``protocol/ob/schemas`` and are read with
:mod:`importlib.resources`. Every ``$ref`` in them is document-local; they are resolved through a
:class:`referencing.Registry` that holds only the packaged schemas and refuses any other URI, so
validation never touches the network. A validator is built once per schema and reused (jsonschema
validators are stateless across calls).

jsonschema's own messages (``'criteria' is a required property``) are rewritten into
:class:`~protocol.ob.report.Issue` objects whose path names the offending member, e.g.
``credentialSubject.achievement.criteria: required property missing``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any, Literal

import jsonschema_rs
from jsonschema import Draft201909Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT201909

from .report import Issue, join_path, path_of

__all__ = ["SCHEMA_FILES", "SchemaName", "load_schema", "schema_issues", "schema_validator"]

SchemaName = Literal["achievementcredential", "endorsementcredential", "profile"]

#: Packaged schema file for each schema name.
SCHEMA_FILES: Mapping[SchemaName, str] = {
    "achievementcredential": "achievementcredential.json",
    "endorsementcredential": "endorsementcredential.json",
    "profile": "profile.json",
}


@cache
def load_schema(name: SchemaName) -> Mapping[str, Any]:
    """The parsed packaged schema ``name`` (shared: do not mutate it)."""
    try:
        filename = SCHEMA_FILES[name]
    except KeyError:
        raise ValueError(f"unknown Open Badges schema {name!r}") from None
    text = (resources.files("protocol.ob") / "schemas" / filename).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _registry() -> Registry[Any]:
    resources_ = []
    for name in SCHEMA_FILES:
        schema = load_schema(name)
        resources_.append(
            (str(schema["$id"]), Resource.from_contents(schema, default_specification=DRAFT201909))
        )
    # A Registry built without ``retrieve`` raises Unresolvable for any URI it does not hold:
    # nothing outside the packaged schemas is ever dereferenced.
    registry: Registry[Any] = Registry()
    return registry.with_resources(resources_).crawl()


@cache
def schema_validator(name: SchemaName) -> Draft201909Validator:
    """The compiled, reusable draft 2019-09 validator for schema ``name``."""
    return Draft201909Validator(load_schema(name), registry=_registry())


def _refuse_retrieval(uri: str) -> Any:
    raise ValueError(f"schema reference {uri!r} is not packaged: nothing is fetched")


@cache
def _fast_validator(name: SchemaName) -> Any:
    """A compiled jsonschema-rs validator: the fast yes/no answer for valid documents.

    Formats are annotations in draft 2019-09 (as in the jsonschema validator above), references
    are document-local, and retrieval is refused: the validator works offline.
    """
    return jsonschema_rs.Draft201909Validator(
        dict(load_schema(name)), validate_formats=False, retriever=_refuse_retrieval
    )


def schema_issues(instance: object, name: SchemaName, *, base: str = "") -> list[Issue]:
    """Validate ``instance`` against schema ``name``; one :class:`Issue` per finding.

    A valid document is answered by the compiled validator alone (two orders of magnitude
    faster); an invalid one is re-checked by jsonschema, whose errors give the precise issues.

    Args:
        instance: the parsed JSON document (or sub-document).
        name: which packaged schema to apply.
        base: path prefix for the issues (when ``instance`` is embedded in a larger document).
    """
    if _fast_validator(name).is_valid(instance):
        return []
    found: dict[Issue, None] = {}
    for error in schema_validator(name).iter_errors(instance):
        for issue in _translate(error, base):
            found.setdefault(issue, None)
    return list(found)


# -- jsonschema error -> Issue -------------------------------------------------------------------

_ARTICLE_TYPE = {
    "array": "an array",
    "object": "an object",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "null": "null",
}


def json_type_name(value: object) -> str:
    """The JSON type of a parsed value, with an article ('an array', 'a string', ...)."""
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
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def _expected(types: object) -> str:
    names = [types] if isinstance(types, str) else list(types) if isinstance(types, list) else []
    return " or ".join(_ARTICLE_TYPE.get(str(t), str(t)) for t in names) or "another type"


def _short(value: object, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _translate(error: ValidationError, base: str) -> Iterator[Issue]:
    path = path_of(error.absolute_path, base)
    kind = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    if kind == "required":
        present = instance if isinstance(instance, Mapping) else {}
        for prop in value:
            if prop not in present:
                yield Issue(join_path(path, str(prop)), "required property missing")
    elif kind == "type":
        yield Issue(path, f"expected {_expected(value)}, got {json_type_name(instance)}")
    elif kind == "enum":
        yield Issue(path, _enum_message(instance, value))
    elif kind == "const":
        yield Issue(path, f"must be {_short(value)}")
    elif kind == "contains":
        wanted = value.get("enum", []) if isinstance(value, Mapping) else []
        if wanted:
            yield Issue(path, "must include " + " or ".join(repr(w) for w in wanted))
        else:
            yield Issue(path, "has no item of the required form")
    elif kind == "pattern":
        yield Issue(path, f"{_short(instance)} does not match the pattern {value}")
    elif kind == "minItems":
        yield Issue(path, f"must have at least {value} item{'s' if value != 1 else ''}")
    elif kind == "additionalProperties":
        known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        for key in instance if isinstance(instance, Mapping) else ():
            if key not in known:
                yield Issue(join_path(path, str(key)), "property not allowed here")
    elif kind in ("oneOf", "anyOf"):
        yield from _alternatives(error, path, base)
    else:
        yield Issue(path, error.message)


def _enum_message(instance: object, allowed: Iterable[object]) -> str:
    options = list(allowed)
    if len(options) == 1:
        return f"must be {_short(options[0])}"
    if len(options) <= 6:
        return f"must be one of {', '.join(_short(o) for o in options)}"
    return f"{_short(instance)} is not one of the {len(options)} defined values"


def _alternatives(error: ValidationError, path: str, base: str) -> Iterator[Issue]:
    """Explain a failed ``oneOf``/``anyOf`` through the branch the value was meant for."""
    if not error.context:
        yield Issue(path, "matches more than one of the allowed forms")
        return
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    candidates = {
        index: errors
        for index, errors in branches.items()
        if not any(e.validator == "type" and not e.relative_path for e in errors)
    }
    if len(candidates) == 1:
        (errors,) = candidates.values()
        for sub in errors:
            yield from _translate(sub, base)
        return
    if not candidates:
        types = [
            e.validator_value
            for errors in branches.values()
            for e in errors
            if e.validator == "type" and not e.relative_path
        ]
        flat: list[str] = []
        for t in types:
            flat.extend([t] if isinstance(t, str) else list(t))
        expected = _expected(list(dict.fromkeys(flat)))
        yield Issue(path, f"expected {expected}, got {json_type_name(error.instance)}")
        return
    patterns = [
        e.validator_value
        for errors in candidates.values()
        for e in errors
        if e.validator == "pattern"
    ]
    message = f"{_short(error.instance)} is not one of the defined values"
    if patterns:
        message += f" and does not match the extension pattern {patterns[0]}"
    yield Issue(path, message)
