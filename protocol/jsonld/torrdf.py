"""A fast, lossless JSON-LD 1.1 to RDF engine with memoised context processing.

This module implements, for the ``toRdf`` operation only and with the base IRI fixed to null:

* the Context Processing Algorithm and Create Term Definition
  (https://www.w3.org/TR/json-ld11-api/#context-processing-algorithm,
  https://www.w3.org/TR/json-ld11-api/#create-term-definition);
* IRI Expansion (https://www.w3.org/TR/json-ld11-api/#iri-expansion);
* the Expansion Algorithm and Value Expansion
  (https://www.w3.org/TR/json-ld11-api/#expansion-algorithm,
  https://www.w3.org/TR/json-ld11-api/#value-expansion);
* Deserialize JSON-LD to RDF, Object to RDF Conversion and List to RDF Conversion
  (https://www.w3.org/TR/json-ld11-api/#deserialize-json-ld-to-rdf-algorithm), emitted
  straight from the expanded tree: no node map is built, because a dataset is a set and merging
  nodes that share an ``@id`` changes nothing in it.

Speed comes from memoisation. Active contexts are immutable once built and carry their own
cache of derived contexts, keyed by the local context applied to them (a context URL, or the
identity of a scoped context that belongs to a packaged context document) and the processing
flags. The root context is kept per loader, so a packaged context is processed once per process,
and a type-scoped or property-scoped context once per parent context. Contexts embedded in a
document are processed for that document only and never enter a shared cache.

Losslessness (Data Integrity, "Securing Data Losslessly"): wherever a JSON-LD processor would
silently drop data on the way to RDF, this engine raises :class:`DataLossError` naming the JSON
path and the term. The cases are those of jsonld.js ``safe`` mode: undefined terms, relative
IRIs, free-floating values, ``null`` ``@value``, ill-formed language tags, blank-node
predicates and terms reserved for future keywords. ``@direction`` maps to i18n datatypes.
IRIs that toRdf would skip as not well-formed (whitespace, angle brackets, quotes, braces,
two fragments, lone surrogates) are refused too. A JSON ``null`` value still means "no value",
as in JSON-LD.

Where pyld departs from the specification, this engine follows the specification and
jsonld.js: a context's ``@base`` applies even though the document base is null, a
property-valued index expands its property, and a string typed ``xsd:double`` keeps its
lexical form.

Features that the engine does not implement (``@import``, ``@container: @type``) raise
:class:`Unsupported`; the caller then falls back to pyld (see
:mod:`protocol.jsonld.canonicalize`). Checked against the W3C JSON-LD 1.1 toRdf and expand test
suites (with a document base for the tests that need one): no failure outside those features,
the JSON-LD 1.0-only tests and the tests of dropped data, which are refused.
"""

from __future__ import annotations

import json
import math
import re
import weakref
from functools import lru_cache
from typing import Any, NoReturn

from protocol.errors import (
    CanonicalizationError,
    DataLossError,
    DocumentLoaderError,
    MalformedError,
)
from protocol.jsonld.loader import StaticDocumentLoader
from protocol.limits import MAX_CONTEXTS, MAX_JSON_DEPTH, MAX_QUADS
from protocol.rdf import RDF_LANGSTRING, XSD_STRING, Quad, escape_string, literal

__all__ = [
    "Unsupported",
    "canonical_double",
    "expand",
    "jcs",
    "language_tag_ok",
    "to_quads",
    "well_formed_iri",
]

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDF_TYPE = RDF + "type"
RDF_FIRST = RDF + "first"
RDF_REST = RDF + "rest"
RDF_NIL = RDF + "nil"
RDF_JSON = RDF + "JSON"
XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_BOOLEAN = XSD + "boolean"
XSD_INTEGER = XSD + "integer"
XSD_DOUBLE = XSD + "double"

#: Most active contexts kept in the shared caches of one loader. The caches only ever hold
#: contexts built from packaged context documents, so honest use stays far below this; the bound
#: stops a stream of documents that chain packaged contexts in ever new orders from growing
#: memory without end (past it, contexts are still processed, just not remembered).
MAX_CACHED_CONTEXTS = 4096

KEYWORDS = frozenset(
    {
        "@base", "@container", "@context", "@default", "@direction", "@embed", "@explicit",
        "@graph", "@id", "@import", "@included", "@index", "@json", "@language", "@list",
        "@nest", "@none", "@omitDefault", "@prefix", "@preserve", "@protected", "@propagate",
        "@requireAll", "@reverse", "@set", "@type", "@value", "@version", "@vocab",
    }
)  # fmt: skip
_CONTEXT_KEYWORDS = frozenset(
    {
        "@base",
        "@direction",
        "@import",
        "@language",
        "@propagate",
        "@protected",
        "@version",
        "@vocab",
    }
)
_TERM_KEYS = frozenset(
    {
        "@id", "@reverse", "@container", "@context", "@direction", "@index", "@language",
        "@nest", "@prefix", "@protected", "@type",
    }
)  # fmt: skip
_CONTAINER_KEYWORDS = frozenset({"@graph", "@id", "@index", "@language", "@list", "@set", "@type"})
_VALUE_OBJECT_KEYS = frozenset({"@direction", "@index", "@language", "@type", "@value"})
_GEN_DELIMS = frozenset(":/?#[]@")

# "@"1*ALPHA: reserved for future keywords; such terms and keys are ignored by JSON-LD.
_KEYWORD_FORM = re.compile(r"^@[a-zA-Z]+$")
# The absolute-IRI test of pyld and jsonld.js, kept identical for parity.
_ABSOLUTE_IRI = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*|_):[^\s]*$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*|_):")
# A well-formed IRI (or blank node identifier) for toRdf: absolute, at most one fragment, and no
# character that an N-Quads IRIREF cannot hold. Any other IRI would be dropped by toRdf (or,
# worse, make the canonical N-Quads ambiguous).
_GOOD_IRI = re.compile(
    '^([A-Za-z][A-Za-z0-9+-.]*|_):[^#\\x00-\\x20<>"{}|^`\\\\\\s\ud800-\udfff]*'
    '(#[^#\\x00-\\x20<>"{}|^`\\\\\\s\ud800-\udfff]*)?$'
)
# A lone surrogate (from a JSON "\ud800" escape) has no UTF-8 form: no N-Quads can carry it.
_SURROGATE = re.compile("[\ud800-\udfff]")
# The well-formed language tag test of jsonld.js (BCP47 section 2.2.9, loosely).
_LANGUAGE_TAG = re.compile(r"^[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*$")
_UNSET: Any = object()  # marks an absent term-definition entry, distinct from JSON null


class Unsupported(Exception):
    """The document needs a JSON-LD feature this engine does not implement."""


# --------------------------------------------------------------------------------------------
# Term definitions and active contexts
# --------------------------------------------------------------------------------------------


class TermDef:
    """One term definition (https://www.w3.org/TR/json-ld11-api/#dfn-term-definition).

    ``language`` and ``direction`` are ``_UNSET`` when the definition has no such entry (the
    context default then applies) and ``None`` when it maps them to null.
    """

    __slots__ = (
        "base_url",
        "container",
        "context",
        "context_ident",
        "context_propagate",
        "direction",
        "index",
        "iri",
        "iri_ok",
        "language",
        "nest",
        "plain",
        "predicate",
        "prefix",
        "protected",
        "reverse",
        "stable",
        "type",
    )

    def __init__(self) -> None:
        self.iri: str | None = None
        self.prefix = False
        self.protected = False
        self.reverse = False
        self.type: str | None = None
        self.language: Any = _UNSET
        self.direction: Any = _UNSET
        self.container: frozenset[str] = frozenset()
        self.context: Any = _UNSET
        # The cache identity of the scoped context and its own @propagate, if any.
        self.context_ident: tuple[str, Any] = ("none", None)
        self.context_propagate: bool | None = None
        self.base_url: str | None = None
        self.index: str | None = None
        self.nest: str | None = None
        # Whether the IRI mapping is usable as an RDF predicate (absolute and well-formed).
        self.iri_ok = False
        # Whether the definition comes from a loader document (so its scoped context may be
        # cached by identity on shared contexts).
        self.stable = False
        # A plain property: an RDF predicate with no container, scoped context, reverse or
        # @json coercion, which expansion handles on its fast path.
        self.plain = False
        self.predicate = ""  # the IRI mapping of a plain property

    def same_as(self, other: TermDef) -> bool:
        """Equality other than ``protected`` (Create Term Definition step 27.1)."""
        return (
            self.iri == other.iri
            and self.prefix == other.prefix
            and self.reverse == other.reverse
            and self.type == other.type
            and self.language == other.language
            and self.direction == other.direction
            and self.container == other.container
            and self.index == other.index
            and self.nest == other.nest
            and (self.context is other.context or self.context == other.context)
        )


class ActiveContext:
    """An active context (https://www.w3.org/TR/json-ld11-api/#dfn-active-context).

    Immutable once ``frozen``; ``derived`` then memoises the contexts obtained by applying a
    local context to this one.
    """

    __slots__ = (
        "__weakref__",
        "base",
        "derived",
        "direction",
        "frozen",
        "has_protected",
        "id_keys",
        "language",
        "previous",
        "root",
        "shared",
        "terms",
        "type_keys",
        "value_keys",
        "vocab",
    )

    def __init__(self, root: _Root | None) -> None:
        self.terms: dict[str, TermDef] = {}
        self.vocab: str | None = None
        self.base: str | None = None  # the document base IRI is null when going to RDF
        self.language: str | None = None
        self.direction: str | None = None
        self.previous: ActiveContext | None = None
        self.has_protected = False
        self.frozen = False
        self.shared = False
        self.derived: dict[tuple[Any, ...], tuple[Any, ActiveContext]] = {}
        self.root = root
        # The map keys that expand to @value, @id and @type (the keyword and its aliases).
        self.value_keys: frozenset[str] = frozenset({"@value"})
        self.id_keys: frozenset[str] = frozenset({"@id"})
        self.type_keys: frozenset[str] = frozenset({"@type"})

    def freeze(self) -> None:
        """Make the context immutable, and index its keyword aliases."""
        aliases: dict[str | None, set[str]] = {"@value": set(), "@id": set(), "@type": set()}
        for term, definition in self.terms.items():
            if definition.iri in aliases:
                aliases[definition.iri].add(term)
        self.value_keys = frozenset({"@value", *aliases["@value"]})
        self.id_keys = frozenset({"@id", *aliases["@id"]})
        self.type_keys = frozenset({"@type", *aliases["@type"]})
        self.frozen = True

    def clone(self) -> ActiveContext:
        """A mutable copy (Context Processing step 1)."""
        result = ActiveContext(self.root)
        result.terms = dict(self.terms)
        result.vocab = self.vocab
        result.base = self.base
        result.language = self.language
        result.direction = self.direction
        result.previous = self.previous
        result.has_protected = self.has_protected
        return result


class _Defining:
    """The state of processing one context definition (Context Processing steps 5.12-5.13)."""

    __slots__ = (
        "base_url",
        "defined",
        "local",
        "override_protected",
        "protected",
        "remote",
        "stable",
    )

    def __init__(
        self,
        local: dict[str, Any],
        base_url: str | None,
        override_protected: bool,
        remote: tuple[str, ...],
        stable: bool,
    ) -> None:
        self.local = local
        self.defined: dict[str, bool] = {}
        self.base_url = base_url
        self.protected = local.get("@protected", False)
        if not isinstance(self.protected, bool):
            raise _json_error("invalid @protected value", "@protected must be a boolean")
        self.override_protected = override_protected
        self.remote = remote
        self.stable = stable


class _Root:
    """The initial context of one loader and the bookkeeping of its shared caches."""

    def __init__(self) -> None:
        self.context = ActiveContext(self)
        self.context.freeze()
        self.context.shared = True
        self.cached = 0


_ROOTS: weakref.WeakKeyDictionary[StaticDocumentLoader, _Root] = weakref.WeakKeyDictionary()


def _root_for(loader: StaticDocumentLoader) -> _Root:
    root = _ROOTS.get(loader)
    if root is None:
        root = _ROOTS.setdefault(loader, _Root())
    return root


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _is_absolute(iri: str) -> bool:
    return _ABSOLUTE_IRI.match(iri) is not None


def well_formed_iri(iri: str) -> bool:
    """An absolute IRI that N-Quads can carry (one fragment at most), or a blank node label."""
    return _GOOD_IRI.match(iri) is not None


@lru_cache(maxsize=512)
def language_tag_ok(tag: str) -> bool:
    return _LANGUAGE_TAG.match(tag) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resolve(ref: str, base: str) -> str:
    """RFC 3986 section 5.2 reference resolution (basic algorithm, no normalisation)."""
    m = re.match(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", ref)
    b = re.match(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", base)
    assert m is not None and b is not None  # both patterns match any string
    r_scheme, r_auth, r_path, r_query, r_frag = m.groups()
    b_scheme, b_auth, b_path, b_query, _ = b.groups()
    if r_scheme is not None:
        scheme, auth, path, query = r_scheme, r_auth, _remove_dots(r_path), r_query
    elif r_auth is not None:
        scheme, auth, path, query = b_scheme, r_auth, _remove_dots(r_path), r_query
    elif r_path == "":
        scheme, auth, path = b_scheme, b_auth, b_path
        query = r_query if r_query is not None else b_query
    else:
        if r_path.startswith("/"):
            path = _remove_dots(r_path)
        elif b_auth is not None and b_path == "":
            path = _remove_dots("/" + r_path)
        else:
            path = _remove_dots(b_path[: b_path.rfind("/") + 1] + r_path)
        scheme, auth, query = b_scheme, b_auth, r_query
    out = (scheme + ":" if scheme is not None else "") + ("//" + auth if auth is not None else "")
    out += path
    if query is not None:
        out += "?" + query
    if r_frag is not None:
        out += "#" + r_frag
    return out


def _remove_dots(path: str) -> str:
    """RFC 3986 section 5.2.4."""
    output: list[str] = []
    while path:
        if path.startswith("../"):
            path = path[3:]
        elif path.startswith(("./", "/./")):
            path = path[2:]
        elif path == "/.":
            path = "/"
        elif path.startswith("/../"):
            path = path[3:]
            if output:
                output.pop()
        elif path == "/..":
            path = "/"
            if output:
                output.pop()
        elif path in (".", ".."):
            path = ""
        else:
            start = 1 if path.startswith("/") else 0
            end = path.find("/", start)
            end = len(path) if end < 0 else end
            output.append(path[:end])
            path = path[end:]
    return "".join(output)


def _json_error(code: str, detail: str) -> MalformedError:
    return MalformedError(f"invalid JSON-LD ({code}): {detail}")


# --------------------------------------------------------------------------------------------
# JSON canonicalisation (RFC 8785) for @json literals, as JSON-LD 1.1 toRdf requires
# --------------------------------------------------------------------------------------------


def _es_number(value: float) -> str:
    """ECMAScript Number::toString, which RFC 8785 prescribes for numbers."""
    if not math.isfinite(value):
        raise MalformedError("a JSON literal holds a non-finite number")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    text = repr(abs(value))  # shortest round-trip digits, as ECMAScript uses
    mantissa, _, exponent = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    # The decimal point sits after ``n`` digits: value = 0.digits * 10**n.
    n = len(whole.lstrip("0")) if whole.strip("0") else -(len(frac) - len(frac.lstrip("0")))
    n += int(exponent) if exponent else 0
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    exp = n - 1
    exp_text = ("+" if exp >= 0 else "-") + str(abs(exp))
    if k == 1:
        return sign + digits + "e" + exp_text
    return sign + digits[0] + "." + digits[1:] + "e" + exp_text


def jcs(value: Any) -> str:
    """The RFC 8785 (JCS) serialisation of a JSON value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, float)):
        try:
            return _es_number(float(value))
        except OverflowError as exc:
            raise MalformedError("a JSON literal holds a number too large for a double") from exc
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return (
            "{"
            + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(value[k]) for k in keys)
            + "}"
        )
    raise MalformedError(f"a JSON literal holds a non-JSON value of type {type(value).__name__}")


def canonical_double(value: float) -> str:
    """The canonical xsd:double lexical form used by JSON-LD toRdf (``1.1E0``)."""
    if not math.isfinite(value):
        raise MalformedError("a number is not finite")
    return re.sub(r"(\d)0*E\+?(-)?0*(\d)", r"\1E\2\3", f"{value:1.15E}")


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


class _Engine:
    """The state of one toRdf run: loader, JSON path, counters and blank-node labels."""

    def __init__(self, loader: StaticDocumentLoader) -> None:
        self.loader = loader
        self.root = _root_for(loader)
        self.path: list[str | int] = []
        self.contexts_seen: set[Any] = set()
        # RDF emission state.
        self.quads: dict[Quad, None] = {}
        self.labels: dict[str, str] = {}
        self.counter = 0

    # ---------------------------------------------------------------- errors and paths

    def where(self, extra: str | int | None = None) -> str:
        parts = [*self.path, extra] if extra is not None else self.path
        out = "$"
        for part in parts:
            if isinstance(part, int):
                out += f"[{part}]"
            elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", part):
                out += "." + part
            else:
                out += "[" + json.dumps(part, ensure_ascii=False) + "]"
        return out

    def loss(self, what: str, term: str | None = None, extra: str | int | None = None) -> NoReturn:
        named = f" (term {term!r})" if term is not None else ""
        raise DataLossError(f"JSON-LD data loss at {self.where(extra)}{named}: {what}")

    def count_context(self, key: Any) -> None:
        """Enforce MAX_CONTEXTS over the distinct contexts a document names or embeds."""
        if key not in self.contexts_seen:
            self.contexts_seen.add(key)
            if len(self.contexts_seen) > MAX_CONTEXTS:
                raise MalformedError(
                    f"document references more than {MAX_CONTEXTS} JSON-LD contexts"
                )

    # ---------------------------------------------------------------- context processing

    def apply(
        self,
        active: ActiveContext,
        local: Any,
        base_url: str | None,
        *,
        stable: bool,
        override_protected: bool = False,
        propagate: bool = True,
        remote: tuple[str, ...] = (),
        validate: bool = True,
    ) -> ActiveContext:
        """The Context Processing Algorithm, memoised per item of the local context.

        https://www.w3.org/TR/json-ld11-api/#context-processing-algorithm. ``stable`` says the
        local context comes from a loader document (it never changes and outlives the run).
        """
        # 2. @propagate in a local context map overrides the caller's choice.
        if isinstance(local, dict) and "@propagate" in local:
            propagate = local["@propagate"]
            if not isinstance(propagate, bool):
                raise _json_error("invalid @propagate value", "@propagate must be a boolean")
        result = active
        # 4.-5. Apply each context in turn: applying [A, B] equals applying A then B.
        for item in _as_list(local):
            result = self._apply_one(
                result, active, item, base_url, stable, override_protected, propagate, remote,
                validate,
            )  # fmt: skip
        return result

    def _apply_one(
        self,
        active: ActiveContext,
        original: ActiveContext,
        item: Any,
        base_url: str | None,
        stable: bool,
        override_protected: bool,
        propagate: bool,
        remote: tuple[str, ...],
        validate: bool,
    ) -> ActiveContext:
        if isinstance(item, str):
            # 5.2.1 Resolve the context reference against the base URL.
            url = _resolve(item, base_url) if base_url is not None else item
            if not _is_absolute(url):
                raise _json_error("loading document failed", f"context URL {item!r} is relative")
            ident: Any = ("url", url)
            item_stable = True
        elif item is None:
            ident, item_stable = ("null",), True
        elif isinstance(item, dict):
            ident, item_stable = ("obj", id(item)), stable
        else:
            # 5.3
            raise _json_error("invalid local context", f"a context must be a map, got {item!r}")
        key = (ident, override_protected, propagate, validate)
        if active.frozen:
            hit = active.derived.get(key)
            if hit is not None and (hit[0] is item or ident[0] != "obj"):
                return hit[1]
        result = self._process_item(
            active, original, item, base_url, item_stable, override_protected, propagate,
            remote, validate,
        )  # fmt: skip
        result.freeze()
        result.shared = active.shared and item_stable
        # Remember the result if that cannot leak: on a context owned by this run, or when the
        # local context itself comes from a loader document.
        if active.frozen and (item_stable or not active.shared):
            root = self.root
            if not active.shared or root.cached < MAX_CACHED_CONTEXTS:
                if active.shared:
                    root.cached += 1
                active.derived[key] = (item, result)
        return result

    def _process_item(
        self,
        active: ActiveContext,
        original: ActiveContext,
        item: Any,
        base_url: str | None,
        stable: bool,
        override_protected: bool,
        propagate: bool,
        remote: tuple[str, ...],
        validate: bool,
    ) -> ActiveContext:
        """Context Processing steps 1, 3 and 5 for one context."""
        # 1. Clone the active context.
        result = active.clone()
        # 3. A non-propagated context remembers the context to revert to.
        if not propagate and result.previous is None:
            result.previous = original
        # 5.1 null resets to the initial context, unless protected terms forbid it.
        if item is None:
            if not override_protected and active.has_protected:
                raise _json_error(
                    "invalid context nullification", "a context with protected terms is nulled"
                )
            fresh = ActiveContext(self.root)
            if not propagate:
                fresh.previous = result.previous
            return fresh
        # 5.2 A context reference: dereference it and process the document's @context.
        if isinstance(item, str):
            url = _resolve(item, base_url) if base_url is not None else item
            if url in remote:
                if not validate:
                    return result  # 5.2.2
                raise _json_error("recursive context inclusion", f"context {url!r} includes itself")
            if len(remote) >= MAX_CONTEXTS:
                raise _json_error("context overflow", "too many nested context references")
            document = self.loader.get(url)  # raises DocumentLoaderError for unknown URLs
            if not isinstance(document, dict) or "@context" not in document:
                raise _json_error("invalid remote context", f"{url!r} has no top-level @context")
            loaded = self.apply(
                result, document["@context"], url, stable=True,
                override_protected=override_protected, propagate=propagate,
                remote=(*remote, url), validate=validate,
            )  # fmt: skip
            return loaded
        # 5.4 A context definition.
        ctx: dict[str, Any] = item
        # 5.5 @version
        if "@version" in ctx and ctx["@version"] != 1.1:
            raise _json_error("invalid @version value", f"@version is {ctx['@version']!r}")
        # 5.6 @import is not implemented here: fall back to the reference processor.
        if "@import" in ctx:
            raise Unsupported("@import")
        # 5.7 @base, only in contexts that do not come from a remote document.
        if "@base" in ctx and not remote:
            value = ctx["@base"]
            if value is None:
                result.base = None
            elif isinstance(value, str) and _is_absolute(value):
                result.base = value
            elif isinstance(value, str) and result.base is not None:
                result.base = _resolve(value, result.base)
            else:
                raise _json_error("invalid base IRI", f"@base {value!r} cannot be resolved")
        # 5.8 @vocab
        if "@vocab" in ctx:
            value = ctx["@vocab"]
            if value is None:
                result.vocab = None
            elif isinstance(value, str):
                vocab = self.expand_iri(result, value, vocab=True, document_relative=True)
                if vocab is None or not (_is_absolute(vocab) or vocab.startswith("_:")):
                    self.loss(f"@vocab {value!r} is a relative reference", "@vocab")
                result.vocab = vocab
            else:
                raise _json_error("invalid vocab mapping", f"@vocab {value!r} is not a string")
        # 5.9 @language
        if "@language" in ctx:
            value = ctx["@language"]
            if value is None:
                result.language = None
            elif isinstance(value, str):
                result.language = value.lower()
            else:
                raise _json_error("invalid default language", f"@language {value!r}")
        # 5.10 @direction
        if "@direction" in ctx:
            value = ctx["@direction"]
            if value is None or value in ("ltr", "rtl"):
                result.direction = value
            else:
                raise _json_error("invalid base direction", f"@direction {value!r}")
        # 5.11 @propagate
        if "@propagate" in ctx and not isinstance(ctx["@propagate"], bool):
            raise _json_error("invalid @propagate value", "@propagate must be a boolean")
        # 5.12-5.13 Define every term.
        state = _Defining(ctx, base_url, override_protected, remote, stable)
        for term in ctx:
            if term not in _CONTEXT_KEYWORDS:
                self.define_term(result, state, term, override_protected)
        return result

    def define_term(
        self, active: ActiveContext, state: _Defining, term: str, override_protected: bool
    ) -> None:
        """Create Term Definition, https://www.w3.org/TR/json-ld11-api/#create-term-definition.

        Dependencies found through IRI expansion are defined with ``override_protected`` false,
        as the specification, jsonld.js and pyld do.
        """
        local, defined = state.local, state.defined
        # 1.-2. Detect cycles and the empty term.
        status = defined.get(term)
        if status is True:
            return
        if status is False:
            raise _json_error("cyclic IRI mapping", f"term {term!r} is defined through itself")
        if term == "":
            raise _json_error("invalid term definition", "a term cannot be the empty string")
        defined[term] = False
        # 3.
        value = local[term]
        # 4.-5. Keywords cannot be redefined, except @type with @container @set.
        if term == "@type":
            if not (
                isinstance(value, dict)
                and value
                and value.get("@container", "@set") == "@set"
                and all(k in ("@container", "@protected") for k in value)
            ):
                raise _json_error("keyword redefinition", "@type can only be given @container @set")
        elif term in KEYWORDS:
            raise _json_error("keyword redefinition", f"{term!r} is a keyword")
        elif _KEYWORD_FORM.match(term):
            # Ignored by JSON-LD with a warning; jsonld.js safe mode refuses it.
            self.loss("the context defines a term reserved for future keywords", term)
        # 6. The previous definition, removed from the active context.
        previous = active.terms.pop(term, None)
        # 7.-9. Normalise the value to a map.
        simple = False
        if value is None:
            value = {"@id": None}
        elif isinstance(value, str):
            value = {"@id": value}
            simple = True
        elif not isinstance(value, dict):
            raise _json_error("invalid term definition", f"term {term!r} maps to {value!r}")
        # 10.-11.
        definition = TermDef()
        definition.stable = state.stable
        definition.protected = state.protected
        if "@protected" in value:
            if not isinstance(value["@protected"], bool):
                raise _json_error("invalid @protected value", f"term {term!r}")
            definition.protected = value["@protected"]
        # 12. @type
        if "@type" in value:
            type_ = value["@type"]
            if not isinstance(type_, str):
                raise _json_error("invalid type mapping", f"term {term!r} has @type {type_!r}")
            type_ = self.expand_iri(active, type_, vocab=True, state=state)
            if type_ not in ("@id", "@json", "@none", "@vocab") and not (
                type_ is not None and _is_absolute(type_) and not type_.startswith("_:")
            ):
                raise _json_error("invalid type mapping", f"term {term!r} has @type {type_!r}")
            definition.type = type_
        # 13. @reverse
        if "@reverse" in value:
            if "@id" in value or "@nest" in value:
                raise _json_error("invalid reverse property", f"term {term!r}")
            rev = value["@reverse"]
            if not isinstance(rev, str):
                raise _json_error("invalid IRI mapping", f"term {term!r} has @reverse {rev!r}")
            if _KEYWORD_FORM.match(rev):
                self.loss("the context maps a term to a reserved keyword form", term)
            iri = self.expand_iri(active, rev, vocab=True, state=state)
            if iri is None or not _is_absolute(iri):
                raise _json_error("invalid IRI mapping", f"term {term!r} has @reverse {rev!r}")
            definition.iri = iri
            definition.iri_ok = well_formed_iri(iri) and not iri.startswith("_:")
            if "@container" in value:
                container = value["@container"]
                if container not in ("@set", "@index", None):
                    raise _json_error("invalid reverse property", f"term {term!r} container")
                definition.container = frozenset(_as_list(container)) - {None}
            # A property-valued index (step 20) applies to reverse properties too (W3C test
            # expand/0131).
            index = value.get("@index")
            if index is not None:
                if "@index" not in definition.container or not isinstance(index, str):
                    raise _json_error("invalid term definition", f"term {term!r} @index")
                definition.index = index
            definition.reverse = True
            self._store_term(active, term, definition, previous, override_protected, defined)
            return
        # 14.-18. The IRI mapping.
        colon = term.find(":", 1)
        if "@id" in value and value["@id"] != term:
            id_ = value["@id"]
            if id_ is None:
                pass  # 14.1 kept to detect redefinitions, never used to expand
            elif not isinstance(id_, str):
                raise _json_error("invalid IRI mapping", f"term {term!r} has @id {id_!r}")
            elif id_ not in KEYWORDS and _KEYWORD_FORM.match(id_):
                self.loss("the context maps a term to a reserved keyword form", term)
            else:
                iri = self.expand_iri(active, id_, vocab=True, state=state)
                if iri is None or not (iri in KEYWORDS or _is_absolute(iri)):
                    raise _json_error("invalid IRI mapping", f"term {term!r} has @id {id_!r}")
                if iri == "@context":
                    raise _json_error("invalid keyword alias", "@context cannot be aliased")
                definition.iri = iri
                # 14.2.4 A term that looks like a compact IRI or IRI must expand to itself.
                if (0 < colon < len(term) - 1) or "/" in term:
                    defined[term] = True
                    if self.expand_iri(active, term, vocab=True, state=state) != iri:
                        raise _json_error(
                            "invalid IRI mapping", f"term {term!r} does not expand to its @id"
                        )
                # 14.2.5 Simple terms whose IRI ends with a gen-delim may serve as prefixes.
                if ":" not in term and "/" not in term and simple:
                    definition.prefix = iri.startswith("_:") or (
                        iri not in KEYWORDS and iri[-1:] in _GEN_DELIMS
                    )
        elif colon > 0:
            # 15. A compact IRI or an IRI.
            prefix, suffix = term[:colon], term[colon + 1 :]
            if prefix in local:
                self.define_term(active, state, prefix, False)
            prefix_def = active.terms.get(prefix)
            if prefix_def is not None and prefix_def.iri is not None:
                definition.iri = prefix_def.iri + suffix
            else:
                definition.iri = term
        elif "/" in term:
            # 16. A relative IRI reference.
            iri = self.expand_iri(active, term, document_relative=True)
            if iri is None or not _is_absolute(iri):
                raise _json_error("invalid IRI mapping", f"term {term!r} is a relative IRI")
            definition.iri = iri
        elif term == "@type":
            definition.iri = "@type"  # 17.
        elif active.vocab is not None:
            definition.iri = active.vocab + term  # 18.
        else:
            raise _json_error("invalid IRI mapping", f"term {term!r} has no IRI and no @vocab")
        iri = definition.iri
        definition.iri_ok = iri is not None and (iri in KEYWORDS or well_formed_iri(iri))
        # 19. @container
        if "@container" in value:
            container = value["@container"]
            items = frozenset(_as_list(container))
            if (
                not items
                or not all(isinstance(c, str) and c in _CONTAINER_KEYWORDS for c in items)
                or len(_as_list(container)) != len(items)
                or not _container_ok(items)
            ):
                raise _json_error("invalid container mapping", f"term {term!r}: {container!r}")
            definition.container = items
            if "@type" in items:
                if definition.type is None:
                    definition.type = "@id"
                if definition.type not in ("@id", "@vocab"):
                    raise _json_error("invalid type mapping", f"term {term!r} type map")
        # 20. @index
        if "@index" in value:
            index = value["@index"]
            if "@index" not in definition.container or not isinstance(index, str):
                raise _json_error("invalid term definition", f"term {term!r} @index")
            expanded = self.expand_iri(active, index, vocab=True)
            if expanded is None or not _is_absolute(expanded):
                raise _json_error("invalid term definition", f"term {term!r} @index {index!r}")
            definition.index = index
        # 21. @context: validated now, applied when the term is used.
        if "@context" in value:
            scoped = value["@context"]
            try:
                self.apply(
                    active, scoped, state.base_url, stable=state.stable, override_protected=True,
                    remote=state.remote, validate=False,
                )  # fmt: skip
            except (MalformedError, DocumentLoaderError) as exc:
                if isinstance(exc, (DataLossError, DocumentLoaderError)):
                    raise
                raise _json_error("invalid scoped context", f"term {term!r}: {exc}") from exc
            definition.context = scoped
            definition.context_ident = (
                ("url", scoped) if isinstance(scoped, str) else ("obj", id(scoped))
            )
            if isinstance(scoped, dict) and isinstance(scoped.get("@propagate"), bool):
                definition.context_propagate = scoped["@propagate"]
            definition.base_url = state.base_url
        # 22. @language
        if "@language" in value and "@type" not in value:
            language = value["@language"]
            if language is not None and not isinstance(language, str):
                raise _json_error("invalid language mapping", f"term {term!r}")
            definition.language = language.lower() if isinstance(language, str) else None
        # 23. @direction
        if "@direction" in value and "@type" not in value:
            direction = value["@direction"]
            if direction not in (None, "ltr", "rtl"):
                raise _json_error("invalid base direction", f"term {term!r}")
            definition.direction = direction
        # 24. @nest
        if "@nest" in value:
            nest = value["@nest"]
            if not isinstance(nest, str) or (nest in KEYWORDS and nest != "@nest"):
                raise _json_error("invalid @nest value", f"term {term!r}")
            definition.nest = nest
        # 25. @prefix
        if "@prefix" in value:
            if ":" in term or "/" in term:
                raise _json_error("invalid term definition", f"term {term!r} cannot be a prefix")
            if not isinstance(value["@prefix"], bool):
                raise _json_error("invalid @prefix value", f"term {term!r}")
            definition.prefix = value["@prefix"]
            if definition.prefix and iri in KEYWORDS:
                raise _json_error("invalid term definition", f"term {term!r} prefixes a keyword")
        # 26. No other entries.
        for key in value:
            if key not in _TERM_KEYS:
                raise _json_error("invalid term definition", f"term {term!r} has entry {key!r}")
        definition.plain = (
            definition.iri_ok
            and iri not in KEYWORDS
            and not definition.container
            and definition.type != "@json"
            and definition.context is _UNSET
        )
        if definition.plain and iri is not None:
            definition.predicate = iri
        self._store_term(active, term, definition, previous, override_protected, defined)

    @staticmethod
    def _store_term(
        active: ActiveContext,
        term: str,
        definition: TermDef,
        previous: TermDef | None,
        override_protected: bool,
        defined: dict[str, bool],
    ) -> None:
        # 27. A protected term keeps its definition, which must not change.
        if not override_protected and previous is not None and previous.protected:
            if not definition.same_as(previous):
                raise _json_error(
                    "protected term redefinition", f"term {term!r} is protected and redefined"
                )
            definition = previous
        # 28.
        active.terms[term] = definition
        if definition.protected:
            active.has_protected = True
        defined[term] = True

    def expand_iri(
        self,
        active: ActiveContext,
        value: str,
        *,
        vocab: bool = False,
        document_relative: bool = False,
        state: _Defining | None = None,
    ) -> str | None:
        """IRI Expansion, https://www.w3.org/TR/json-ld11-api/#iri-expansion."""
        # 1.
        if value in KEYWORDS:
            return value
        # 2. Keyword-like values are ignored.
        if value.startswith("@") and _KEYWORD_FORM.match(value):
            return None
        # 3. During context processing, define a term this one depends on.
        if state is not None and value in state.local and state.defined.get(value) is not True:
            self.define_term(active, state, value, False)
        # 4.-5.
        definition = active.terms.get(value)
        if definition is not None:
            if definition.iri in KEYWORDS:
                return definition.iri
            if vocab:
                return definition.iri
        # 6. A compact IRI, an IRI or a blank node identifier.
        colon = value.find(":", 1)
        if colon > 0:
            prefix, suffix = value[:colon], value[colon + 1 :]
            if prefix == "_" or suffix.startswith("//"):
                return value
            if (
                state is not None
                and prefix in state.local
                and state.defined.get(prefix) is not True
            ):
                self.define_term(active, state, prefix, False)
            prefix_def = active.terms.get(prefix)
            if prefix_def is not None and prefix_def.iri is not None and prefix_def.prefix:
                return prefix_def.iri + suffix
            if _is_absolute(value):
                return value
        # 7.
        if vocab and active.vocab is not None:
            return active.vocab + value
        # 8. The document base IRI is null, so only a context @base can resolve.
        if document_relative and active.base is not None:
            return _resolve(value, active.base)
        return value

    # ---------------------------------------------------------------- expansion

    def expand_document(self, document: Any) -> list[Any]:
        """The expand() entry point over the Expansion Algorithm (ordered false)."""
        expanded = self.expand(self.root.context, None, document, False, 0)
        # A top-level map holding only @graph is replaced by the graph's content.
        if isinstance(expanded, dict) and len(expanded) == 1 and "@graph" in expanded:
            expanded = expanded["@graph"]
        if expanded is None:
            return []
        return _as_list(expanded)

    def expand(
        self, active: ActiveContext, prop: str | None, element: Any, from_map: bool, depth: int
    ) -> Any:
        """The Expansion Algorithm, https://www.w3.org/TR/json-ld11-api/#expansion-algorithm.

        ``prop`` is the active property, unexpanded; its term definition lives in ``active``.
        """
        if depth > MAX_JSON_DEPTH:
            raise MalformedError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        # 1.
        if element is None:
            return None
        # 3. A property-scoped context.
        definition = active.terms.get(prop) if prop is not None else None
        # 4. Scalars.
        if not isinstance(element, (dict, list)):
            if prop is None or prop == "@graph":
                self.loss(f"the free-floating value {element!r} is dropped")
            if definition is not None and definition.context is not _UNSET:
                active = self.apply_scoped(active, definition, override_protected=True)
                definition = active.terms.get(prop)
            return self.expand_value(active, definition, element)
        # 5. Arrays.
        if isinstance(element, list):
            is_list = definition is not None and "@list" in definition.container
            result: list[Any] = []
            path = self.path
            for index, item in enumerate(element):
                path.append(index)
                expanded = self.expand(active, prop, item, from_map, depth + 1)
                path.pop()
                # 5.2.2 An array in a list container is a list of lists.
                if is_list and isinstance(expanded, list):
                    expanded = {"@list": expanded}
                if isinstance(expanded, list):
                    result.extend(expanded)
                elif expanded is not None:
                    result.append(expanded)
            return result
        # 6.-20. Maps.
        return self.expand_map(active, prop, definition, element, from_map, depth)

    def apply_scoped(
        self,
        active: ActiveContext,
        definition: TermDef,
        *,
        override_protected: bool = False,
        propagate: bool = True,
    ) -> ActiveContext:
        """Apply the scoped context of a term definition."""
        scoped = definition.context
        ident = definition.context_ident
        # Scoped contexts of loader documents are finite, trusted and memoised: only those
        # that the document brings itself count towards MAX_CONTEXTS.
        if not definition.stable and ident not in self.contexts_seen:
            self.count_context(ident)
        if ident[0] == "obj" and isinstance(scoped, dict):
            # The memoised result, probed without the generic machinery: this is the hot path
            # of type-scoped and property-scoped contexts.
            if definition.context_propagate is not None:
                propagate = definition.context_propagate
            hit = active.derived.get((ident, override_protected, propagate, True))
            if hit is not None:
                return hit[1]
        return self.apply(
            active, scoped, definition.base_url, stable=definition.stable,
            override_protected=override_protected, propagate=propagate,
        )  # fmt: skip

    def expand_map(
        self,
        active: ActiveContext,
        prop: str | None,
        prop_def: TermDef | None,
        element: dict[str, Any],
        from_map: bool,
        depth: int,
    ) -> Any:
        """Expansion Algorithm steps 7 to 20, for a map."""
        if depth > MAX_JSON_DEPTH:
            raise MalformedError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        # 7. Revert a type-scoped context that does not propagate to this node, unless the map
        # is a value object or a node reference. (Only a keyword or a term aliasing one
        # expands to a keyword, so the keys need no full IRI expansion here.)
        if active.previous is not None and not from_map:
            keys = element.keys()
            if keys.isdisjoint(active.value_keys) and not (
                len(element) == 1 and not keys.isdisjoint(active.id_keys)
            ):
                active = active.previous
        # 8. A property-scoped context.
        if prop_def is not None and prop_def.context is not _UNSET:
            active = self.apply_scoped(active, prop_def, override_protected=True)
        # 9. An embedded context.
        if "@context" in element:
            local = element["@context"]
            for item in _as_list(local):
                self.count_context(("url", item) if isinstance(item, str) else ("obj", id(item)))
            self.path.append("@context")
            active = self.apply(active, local, None, stable=False)
            self.path.pop()
        # 10.-11. Type-scoped contexts, applied in lexicographical order of the type terms.
        type_scoped = active
        type_keys = [k for k in element if k in active.type_keys]
        if type_keys:
            type_keys.sort()
            for key in type_keys:
                values = element[key]
                terms = sorted(v for v in _as_list(values) if isinstance(v, str))
                for term in terms:
                    term_def = type_scoped.terms.get(term)
                    if term_def is not None and term_def.context is not _UNSET:
                        active = self.apply_scoped(active, term_def, propagate=False)
        # 12. The input type, to detect @json value objects.
        input_type: str | None = None
        if type_keys:
            last = _as_list(element[type_keys[0]])
            if last and isinstance(last[-1], str):
                input_type = self.expand_iri(active, last[-1], vocab=True)
        result: dict[str, Any] = {}
        nests: list[str] = []
        self.expand_entries(active, type_scoped, prop, element, result, nests, input_type, depth)
        # 14. Nested properties.
        self.expand_nests(active, type_scoped, prop, element, result, nests, input_type, depth)
        return self.finish_map(result, prop)

    def expand_nests(
        self,
        active: ActiveContext,
        type_scoped: ActiveContext,
        prop: str | None,
        element: dict[str, Any],
        result: dict[str, Any],
        nests: list[str],
        input_type: str | None,
        depth: int,
    ) -> None:
        """Expansion Algorithm step 14: the content of @nest entries joins the node."""
        for nest_key in sorted(nests):
            self.path.append(nest_key)
            # Steps 3 and 8 again: the nesting key's own property-scoped context applies.
            nest_def = active.terms.get(nest_key)
            nest_ctx = active
            if nest_def is not None and nest_def.context is not _UNSET:
                nest_ctx = self.apply_scoped(active, nest_def, override_protected=True)
            for index, nested in enumerate(_as_list(element[nest_key])):
                self.path.append(index)
                if not isinstance(nested, dict) or any(k in nest_ctx.value_keys for k in nested):
                    raise _json_error("invalid @nest value", f"at {self.where()}")
                inner: list[str] = []
                self.expand_entries(
                    nest_ctx, type_scoped, prop, nested, result, inner, input_type, depth + 1
                )
                self.expand_nests(
                    nest_ctx, type_scoped, prop, nested, result, inner, input_type, depth + 1
                )
                self.path.pop()
            self.path.pop()

    def expand_entries(
        self,
        active: ActiveContext,
        type_scoped: ActiveContext,
        prop: str | None,
        element: dict[str, Any],
        result: dict[str, Any],
        nests: list[str],
        input_type: str | None,
        depth: int,
    ) -> None:
        """Expansion Algorithm step 13: each entry of a map."""
        path = self.path
        terms = active.terms
        expanded: Any
        for key, value in element.items():
            # 13.1
            if key == "@context":
                continue
            # 13.2
            definition = terms.get(key)
            if definition is not None and definition.plain:
                # The fast path: 13.9, 13.10 and 13.14 for a plain property.
                if value is None:
                    continue
                if isinstance(value, dict):
                    path.append(key)
                    expanded = self.expand_map(active, key, definition, value, False, depth + 1)
                    path.pop()
                elif isinstance(value, list):
                    path.append(key)
                    expanded = self.expand(active, key, value, False, depth + 1)
                    path.pop()
                else:
                    expanded = self.expand_value(active, definition, value, key)
                if expanded is None:
                    continue
                predicate = definition.predicate
                values = result.get(predicate)
                if values is None:
                    result[predicate] = expanded if isinstance(expanded, list) else [expanded]
                elif isinstance(expanded, list):
                    values.extend(expanded)
                else:
                    values.append(expanded)
                continue
            expanded_prop = (
                definition.iri
                if definition is not None
                else self.expand_iri(active, key, vocab=True)
            )
            # 13.3 A key that expands to nothing, or to a relative IRI, is dropped: data loss.
            if not expanded_prop:
                self.loss("the property is not defined by any @context", key, key)
            if expanded_prop[0] == "@" and expanded_prop in KEYWORDS:
                path.append(key)
                self.expand_keyword(
                    active, type_scoped, prop, key, expanded_prop, value, result, nests,
                    input_type, depth,
                )  # fmt: skip
                path.pop()
                continue
            if definition is None or not definition.iri_ok:
                if ":" not in expanded_prop:
                    self.loss("the property is not defined by any @context", key, key)
                if expanded_prop.startswith("_:"):
                    self.loss(
                        f"the property expands to the blank node {expanded_prop!r}, which "
                        "cannot be an RDF predicate", key, key,
                    )  # fmt: skip
                if not well_formed_iri(expanded_prop):
                    self.loss(
                        f"the property expands to {expanded_prop!r}, not an absolute IRI", key, key
                    )
            path.append(key)
            container = definition.container if definition is not None else frozenset()
            # 13.6 A JSON literal.
            if definition is not None and definition.type == "@json":
                expanded = {"@value": value, "@type": "@json"}
            # 13.7 A language map.
            elif "@language" in container and isinstance(value, dict):
                expanded = self.expand_language_map(active, definition, value)
            # 13.8 An index, id or type map.
            elif (
                container
                and isinstance(value, dict)
                and not container.isdisjoint(("@index", "@type", "@id"))
            ):
                assert definition is not None
                expanded = self.expand_index_map(active, key, definition, value, depth)
            # 13.9 Anything else (the common case: a scalar with no scoped context).
            elif (
                not isinstance(value, (dict, list))
                and value is not None
                and definition is not None
                and definition.context is _UNSET
            ):
                expanded = self.expand_value(active, definition, value)
            else:
                expanded = self.expand(active, key, value, False, depth + 1)
            path.pop()
            # 13.10
            if expanded is None:
                continue
            # 13.11 A list container.
            if "@list" in container and not (isinstance(expanded, dict) and "@list" in expanded):
                expanded = {"@list": _as_list(expanded)}
            # 13.12 A graph container wraps each value in a graph object.
            if "@graph" in container and "@id" not in container and "@index" not in container:
                expanded = [{"@graph": _as_list(ev)} for ev in _as_list(expanded)]
            # 13.13 A reverse property.
            if definition is not None and definition.reverse:
                reverse_map = result.setdefault("@reverse", {})
                for item in _as_list(expanded):
                    if isinstance(item, dict) and ("@value" in item or "@list" in item):
                        raise _json_error("invalid reverse property value", f"at {self.where(key)}")
                    reverse_map.setdefault(expanded_prop, []).append(item)
                continue
            # 13.14
            values = result.get(expanded_prop)
            if values is None:
                result[expanded_prop] = expanded if isinstance(expanded, list) else [expanded]
            elif isinstance(expanded, list):
                values.extend(expanded)
            else:
                values.append(expanded)

    def expand_keyword(
        self,
        active: ActiveContext,
        type_scoped: ActiveContext,
        prop: str | None,
        key: str,
        keyword: str,
        value: Any,
        result: dict[str, Any],
        nests: list[str],
        input_type: str | None,
        depth: int,
    ) -> None:
        """Expansion Algorithm step 13.4: an entry whose key expands to a keyword."""
        # 13.4.1
        if prop == "@reverse":
            raise _json_error("invalid reverse property map", f"keyword {key!r} at {self.where()}")
        # 13.4.2 (@reverse may already hold the values of reverse properties: they merge.)
        if keyword in result and keyword not in ("@included", "@type", "@reverse"):
            raise _json_error("colliding keywords", f"{keyword} twice at {self.where()}")
        expanded: Any
        if keyword == "@id":
            # 13.4.3
            if not isinstance(value, str):
                if value is None:
                    self.loss("a null @id is dropped", key)
                raise _json_error("invalid @id value", f"{value!r} at {self.where()}")
            expanded = self.expand_iri(active, value, document_relative=True)
            if expanded is None or expanded in KEYWORDS:
                self.loss(f"the @id {value!r} is reserved and dropped", key)
            self.check_node_iri(expanded, value, "@id")
        elif keyword == "@type":
            # 13.4.4 Types expand with the type-scoped context.
            if isinstance(value, str):
                values = [value]
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                values = value
            elif value == {}:
                values = []
            else:
                raise _json_error("invalid type value", f"{value!r} at {self.where()}")
            expanded = []
            for item in values:
                iri = self.expand_iri(type_scoped, item, vocab=True, document_relative=True)
                if iri is None:
                    self.loss(f"the type {item!r} is dropped", item)
                expanded.append(iri)
            # 15.5 (value objects) and toRdf (node types) check the IRIs later, where the kind
            # of object is known.
            if isinstance(value, str):
                expanded = expanded[0]
            if "@type" in result:
                expanded = [*_as_list(result["@type"]), *_as_list(expanded)]
        elif keyword == "@graph":
            # 13.4.5
            expanded = self.expand(active, "@graph", value, False, depth + 1)
            expanded = [e for e in _as_list(expanded) if isinstance(e, dict)]
        elif keyword == "@included":
            # 13.4.6
            expanded = _as_list(self.expand(active, None, value, False, depth + 1))
            for item in expanded:
                if not isinstance(item, dict) or "@value" in item or "@list" in item:
                    raise _json_error("invalid @included value", f"at {self.where()}")
            if "@included" in result:
                expanded = [*result["@included"], *expanded]
        elif keyword == "@value":
            # 13.4.7
            if input_type == "@json":
                expanded = value
            elif value is not None and isinstance(value, (dict, list)):
                raise _json_error("invalid value object value", f"at {self.where()}")
            else:
                expanded = value
            if expanded is None:
                result["@value"] = None
                return
        elif keyword == "@language":
            # 13.4.8
            if not isinstance(value, str):
                raise _json_error("invalid language-tagged string", f"at {self.where()}")
            expanded = value.lower()
        elif keyword == "@direction":
            # 13.4.9
            if value not in ("ltr", "rtl"):
                raise _json_error("invalid base direction", f"{value!r} at {self.where()}")
            expanded = value
        elif keyword == "@index":
            # 13.4.10
            if not isinstance(value, str):
                raise _json_error("invalid @index value", f"at {self.where()}")
            expanded = value
        elif keyword == "@list":
            # 13.4.11 A free-floating list is dropped.
            if prop is None or prop == "@graph":
                self.loss("a free-floating @list is dropped", key)
            expanded = self.expand(active, prop, value, False, depth + 1)
            expanded = _as_list(expanded) if expanded is not None else []
        elif keyword == "@set":
            # 13.4.12
            expanded = self.expand(active, prop, value, False, depth + 1)
        elif keyword == "@reverse":
            # 13.4.13
            if not isinstance(value, dict):
                raise _json_error("invalid @reverse value", f"at {self.where()}")
            inner = self.expand(active, "@reverse", value, False, depth + 1)
            if not isinstance(inner, dict):
                return
            for rprop, items in inner.get("@reverse", {}).items():
                result.setdefault(rprop, []).extend(items)
            others = {k: v for k, v in inner.items() if k != "@reverse"}
            if others:
                reverse_map = result.setdefault("@reverse", {})
                for rprop, items in others.items():
                    for item in _as_list(items):
                        if isinstance(item, dict) and ("@value" in item or "@list" in item):
                            raise _json_error(
                                "invalid reverse property value", f"at {self.where()}"
                            )
                        reverse_map.setdefault(rprop, []).append(item)
            return
        elif keyword == "@nest":
            # 13.4.14
            nests.append(key)
            return
        else:
            # Keywords with no meaning in a document body (@container, @version, ...) are
            # dropped by JSON-LD: data loss.
            self.loss(f"the keyword {keyword} has no meaning here and is dropped", key)
        # 13.4.16
        if expanded is None and keyword != "@value":
            return
        result[keyword] = expanded

    def check_node_iri(self, iri: str, original: str, what: str, key: str | None = None) -> None:
        """A node identifier must be an absolute, well-formed IRI or a blank node identifier."""
        if _GOOD_IRI.match(iri) is not None:
            return
        if _SCHEME.match(iri) is None:
            self.loss(
                f"the {what} {original!r} is a relative IRI reference (the base IRI is null)",
                None,
                key,
            )
        self.loss(f"the {what} {original!r} is not a well-formed IRI", None, key)

    def expand_value(
        self, active: ActiveContext, definition: TermDef | None, value: Any, key: str | None = None
    ) -> Any:
        """Value Expansion, https://www.w3.org/TR/json-ld11-api/#value-expansion.

        ``key`` is the map key of the value when it is not on the JSON path yet.
        """
        type_ = definition.type if definition is not None else None
        # 1.-2. IRI coercion.
        if (type_ == "@id" or type_ == "@vocab") and isinstance(value, str):
            iri = self.expand_iri(active, value, vocab=type_ == "@vocab", document_relative=True)
            if iri is None:
                self.loss(f"the IRI {value!r} is dropped", None, key)
            self.check_node_iri(iri, value, "IRI", key)
            return {"@id": iri}
        # 3.-4.
        if type_ is not None and type_ not in ("@id", "@vocab", "@none"):
            return {"@value": value, "@type": type_}
        # 5. Strings take the language and direction of the term, or the context defaults.
        if isinstance(value, str):
            language = active.language
            direction = active.direction
            if definition is not None:
                if definition.language is not _UNSET:
                    language = definition.language
                if definition.direction is not _UNSET:
                    direction = definition.direction
            if language is None and direction is None:
                return {"@value": value}
            result: dict[str, Any] = {"@value": value}
            if language is not None:
                result["@language"] = language
            if direction is not None:
                result["@direction"] = direction
            return result
        return {"@value": value}

    def expand_language_map(
        self, active: ActiveContext, definition: TermDef | None, value: dict[str, Any]
    ) -> list[Any]:
        """Expansion Algorithm step 13.7: a language map."""
        result: list[Any] = []
        direction = active.direction
        if definition is not None and definition.direction is not _UNSET:
            direction = definition.direction
        for language, items in value.items():
            for item in _as_list(items):
                if item is None:
                    continue
                if not isinstance(item, str):
                    raise _json_error("invalid language map value", f"at {self.where(language)}")
                v: dict[str, Any] = {"@value": item}
                if language != "@none" and self.expand_iri(active, language, vocab=True) != "@none":
                    v["@language"] = language.lower()
                if direction is not None:
                    v["@direction"] = direction
                result.append(v)
        return result

    def expand_index_map(
        self,
        active: ActiveContext,
        key: str,
        definition: TermDef,
        value: dict[str, Any],
        depth: int,
    ) -> list[Any]:
        """Expansion Algorithm step 13.8: an index, id or type map."""
        container = definition.container
        if "@type" in container:
            # Type maps are left to pyld: its handling of their scoped contexts departs from
            # the specification text, and no packaged context uses them.
            raise Unsupported("@container @type")
        index_key = definition.index or "@index"
        result: list[Any] = []
        for index, index_value in value.items():
            self.path.append(index)
            # 13.8.3.1-3 The context for the map's values.
            if "@id" in container or "@type" in container:
                map_ctx = active.previous or active
            else:
                map_ctx = active
            if "@type" in container:
                index_def = map_ctx.terms.get(index)
                if index_def is not None and index_def.context is not _UNSET:
                    map_ctx = self.apply_scoped(map_ctx, index_def)
            else:
                map_ctx = active
            expanded_index = self.expand_iri(active, index, vocab=True)
            items = self.expand(map_ctx, key, _as_list(index_value), True, depth + 1)
            for item in items:
                # 13.8.3.7.1
                if "@graph" in container and not (isinstance(item, dict) and "@graph" in item):
                    item = {"@graph": _as_list(item)}
                if "@index" in container and index_key != "@index" and expanded_index != "@none":
                    # 13.8.3.7.2 A property-valued index.
                    index_def = active.terms.get(index_key)
                    re_expanded = self.expand_value(active, index_def, index)
                    index_prop = self.expand_iri(active, index_key, vocab=True)
                    if index_prop is None or not well_formed_iri(index_prop):
                        self.loss("the index property is not defined by any @context", index_key)
                    if "@value" in item:
                        raise _json_error("invalid value object", f"at {self.where()}")
                    item[index_prop] = [re_expanded, *item.get(index_prop, [])]
                elif "@index" in container and "@index" not in item and expanded_index != "@none":
                    item["@index"] = index
                elif "@id" in container and "@id" not in item and expanded_index != "@none":
                    iri = self.expand_iri(active, index, document_relative=True)
                    if iri is None:
                        self.loss(f"the @id {index!r} is dropped")
                    self.check_node_iri(iri, index, "@id")
                    item["@id"] = iri
                elif "@type" in container and expanded_index != "@none":
                    if expanded_index is None:
                        self.loss(f"the type {index!r} is dropped", index)
                    item["@type"] = [expanded_index, *_as_list(item.get("@type", []))]
                result.append(item)
            self.path.pop()
        return result

    def finish_map(self, result: dict[str, Any], prop: str | None) -> Any:
        """Expansion Algorithm steps 15 to 20."""
        if "@value" in result:
            # 15.1
            if not result.keys() <= _VALUE_OBJECT_KEYS or (
                "@type" in result and ("@language" in result or "@direction" in result)
            ):
                raise _json_error("invalid value object", f"at {self.where()}")
            type_ = result.get("@type")
            if type_ == "@json":
                pass  # 15.2 any value
            elif result["@value"] is None:
                # 15.3 A null value object is dropped.
                self.loss("a value object with a null @value is dropped")
            elif "@language" in result and not isinstance(result["@value"], str):
                raise _json_error("invalid language-tagged value", f"at {self.where()}")
            elif type_ is not None:
                if not isinstance(type_, str) or type_.startswith("_:"):
                    raise _json_error("invalid typed value", f"@type {type_!r} at {self.where()}")
                if not well_formed_iri(type_):
                    self.loss(f"the datatype {type_!r} is not an absolute IRI")
        elif "@type" in result:
            # 16. (The node's types must become rdf:type triples: no relative IRI.)
            types = result["@type"]
            if not isinstance(types, list):
                types = result["@type"] = [types]
            for type_ in types:
                self.check_node_iri(type_, type_, "type")
        elif "@set" in result or "@list" in result:
            # 17.
            if len(result) > 2 or (len(result) == 2 and "@index" not in result):
                raise _json_error("invalid set or list object", f"at {self.where()}")
            if "@set" in result:
                return result["@set"]
        # 18.
        if len(result) == 1 and "@language" in result:
            self.loss("an object with only @language is dropped")
        # 19. Free-floating values at the top of a graph are dropped.
        if prop is None or prop == "@graph":
            if not result:
                self.loss("an empty object is dropped")
            if "@value" in result or "@list" in result:
                self.loss("a free-floating value is dropped")
            if len(result) == 1 and "@id" in result:
                self.loss("a node with only an @id is dropped")
        return result

    # ---------------------------------------------------------------- RDF

    def blank(self, label: str | None = None) -> str:
        """Issue a fresh blank node, or the one standing for a document label."""
        if label is not None:
            issued = self.labels.get(label)
            if issued is not None:
                return issued
        issued = f"_:b{self.counter}"
        self.counter += 1
        if label is not None:
            self.labels[label] = issued
        return issued

    def emit(self, s: str, p: str, o: str, g: str) -> None:
        quads = self.quads
        quads[(s, p, o, g)] = None
        if len(quads) > MAX_QUADS:
            raise CanonicalizationError(f"document produces more than {MAX_QUADS} RDF quads")

    def node_to_rdf(self, node: dict[str, Any], graph: str) -> str:
        """Emit a node object's triples into ``graph``; return its subject term.

        Deserialize JSON-LD to RDF
        (https://www.w3.org/TR/json-ld11-api/#deserialize-json-ld-to-rdf-algorithm) over the
        node as Node Map Generation would have flattened it. Expansion already refused every
        IRI that would not give a triple, so nothing is checked or skipped here.
        """
        node_id = node.get("@id")
        if node_id is None:
            subject = self.blank()
        elif node_id.startswith("_:"):
            subject = self.blank(node_id)
        else:
            subject = node_id
        quads = self.quads
        for key, values in node.items():
            if key[0] == "@":
                if key == "@type":
                    for type_ in values:
                        if type_.startswith("_:"):
                            type_ = self.blank(type_)
                        quads[(subject, RDF_TYPE, type_, graph)] = None
                elif key == "@reverse":
                    for prop, items in values.items():
                        for item in items:
                            self.emit(self.node_to_rdf(item, graph), prop, subject, graph)
                elif key == "@graph":
                    for inner in values:
                        self.node_to_rdf(inner, subject)
                elif key == "@included":
                    for inner in values:
                        self.node_to_rdf(inner, graph)
                continue
            # Object to RDF Conversion for each value, inlined: this is the hot loop.
            for item in values:
                if "@value" in item:
                    obj = self.literal_to_rdf(item)
                elif "@list" in item:
                    obj = self.list_to_rdf(item["@list"], graph)
                else:
                    obj = self.node_to_rdf(item, graph)
                quads[(subject, key, obj, graph)] = None
        if len(quads) > MAX_QUADS:
            raise CanonicalizationError(f"document produces more than {MAX_QUADS} RDF quads")
        return subject

    def object_to_rdf(self, item: dict[str, Any], graph: str) -> str:
        """Object to RDF Conversion, https://www.w3.org/TR/json-ld11-api/#object-to-rdf-conversion."""
        if "@value" in item:
            return self.literal_to_rdf(item)
        if "@list" in item:
            return self.list_to_rdf(item["@list"], graph)
        return self.node_to_rdf(item, graph)

    def list_to_rdf(self, items: list[Any], graph: str) -> str:
        """List to RDF Conversion, https://www.w3.org/TR/json-ld11-api/#list-to-rdf-conversion."""
        if not items:
            return RDF_NIL
        head = current = self.blank()
        last = len(items) - 1
        for position, item in enumerate(items):
            self.emit(current, RDF_FIRST, self.object_to_rdf(item, graph), graph)
            following = RDF_NIL if position == last else self.blank()
            self.emit(current, RDF_REST, following, graph)
            current = following
        return head

    @staticmethod
    def literal_to_rdf(item: dict[str, Any]) -> str:
        """Object to RDF Conversion steps 4 to 13, for a value object.

        Numbers follow JSON-LD toRdf as pyld and jsonld.js implement it: booleans give
        xsd:boolean; non-integral numbers, xsd:double-typed numbers and integers of 10^21 or
        more give canonical xsd:double (``1.1E0``); other numbers give xsd:integer.
        """
        value = item["@value"]
        if len(item) == 1 and type(value) is str:
            # The common case: a plain string.
            if not value.isascii() and _SURROGATE.search(value):
                raise MalformedError(f"the string {value!r} holds a lone surrogate code point")
            return '"' + escape_string(value) + '"'
        datatype: str | None = item.get("@type")
        if "@direction" in item and isinstance(value, str):
            # Object to RDF Conversion with rdfDirection "i18n-datatype", the mode Data Integrity
            # cryptosuites use (jsonld.js, and VC 2.0 section 11.1): the language, lower-cased,
            # and the direction become the datatype.
            if not value.isascii() and _SURROGATE.search(value):
                raise MalformedError(f"the string {value!r} holds a lone surrogate code point")
            return literal(value, i18n_datatype(item.get("@language") or "", item["@direction"]))
        if datatype == "@json":
            text = jcs(value)
            if not text.isascii() and _SURROGATE.search(text):
                raise MalformedError("a JSON literal holds a lone surrogate code point")
            return literal(text, RDF_JSON)
        if value is True or value is False:
            return literal("true" if value else "false", datatype or XSD_BOOLEAN)
        if isinstance(value, (int, float)):
            if isinstance(value, float) and not value.is_integer():
                return literal(canonical_double(value), datatype or XSD_DOUBLE)
            if datatype == XSD_DOUBLE or abs(value) >= 1e21:
                return literal(canonical_double(float(value)), datatype or XSD_DOUBLE)
            return literal(str(int(value)), datatype or XSD_INTEGER)
        if not isinstance(value, str):
            raise _json_error("invalid value object value", f"{value!r}")
        if not value.isascii() and _SURROGATE.search(value):
            raise MalformedError(f"the string {value!r} holds a lone surrogate code point")
        language: str | None = item.get("@language")
        if language is not None:
            if not language_tag_ok(language):
                raise DataLossError(
                    f"JSON-LD data loss: the language tag {language!r} is not well-formed"
                )
            return literal(value, RDF_LANGSTRING, language)
        return literal(value, datatype or XSD_STRING)


#: Base of the datatypes that carry a literal's language and base direction (rdfDirection
#: "i18n-datatype", https://www.w3.org/TR/json-ld11/#the-i18n-namespace).
I18N_BASE = "https://www.w3.org/ns/i18n#"


def i18n_datatype(language: str, direction: str) -> str:
    """The i18n datatype IRI of a language (may be empty) and a direction (``ltr``/``rtl``)."""
    return f"{I18N_BASE}{language.lower()}_{direction}"


def _container_ok(items: frozenset[str]) -> bool:
    """Create Term Definition step 19.1: the allowed container combinations."""
    if len(items) == 1:
        return True
    if "@list" in items:
        return False
    if "@graph" in items:
        return items <= {"@graph", "@id", "@set"} or items <= {"@graph", "@index", "@set"}
    return "@set" in items and items <= {"@set", "@index", "@graph", "@id", "@type", "@language"}


def expand(document: Any, *, loader: StaticDocumentLoader) -> list[Any]:
    """Expanded JSON-LD (base IRI null), with the data-loss checks of :func:`to_quads`.

    Raises :class:`Unsupported` for a feature this engine leaves to pyld.
    """
    return _Engine(loader).expand_document(document)


def to_quads(document: Any, *, loader: StaticDocumentLoader) -> list[Quad]:
    """JSON-LD to RDF dataset (base IRI null, no generalized RDF, rdfDirection unset).

    Raises :class:`DataLossError` when anything would be dropped, :class:`MalformedError` for
    invalid JSON-LD, :class:`DocumentLoaderError` for a context outside ``loader``, and
    :class:`Unsupported` for a feature this engine leaves to pyld.
    """
    engine = _Engine(loader)
    for node in engine.expand_document(document):
        # Top-level items are node objects: free-floating values were refused.
        engine.node_to_rdf(node, "")
    return list(engine.quads)
