"""JSON-LD to RDF and RDFC-1.0 canonical N-Quads, offline and lossless.

Interface (implemented in this module):

* ``to_dataset(document, *, loader) -> list[Quad]``: JSON-LD to RDF (``rdfDirection`` i18n-datatype,
  ``produceGeneralizedRdf`` false, base IRI null). Raises ``DataLossError`` when a term or a
  relative IRI would be dropped, ``DocumentLoaderError`` for a context outside the loader,
  ``MalformedError`` for invalid JSON-LD.
* ``canonicalize(document, *, loader, hash_name="sha256") -> str``: RDFC-1.0 canonical N-Quads
  of ``to_dataset`` (``hash_name`` is RDFC-1.0's hash: ecdsa-rdfc-2019 with P-384 uses
  ``"sha384"``).

Two engines produce the dataset:

* :mod:`protocol.jsonld.torrdf`, our JSON-LD 1.1 toRdf engine with memoised context processing,
  which checks for data loss as it expands (jsonld.js ``safe`` mode);
* pyld, the reference, for the few features our engine leaves out (``@import``, type maps).
  pyld has no safe mode, so that path checks for data loss itself: it expands the document with
  a sentinel ``@vocab`` (:data:`SENTINEL_VOCAB`) added before the document's own contexts, so
  that a term no context defines expands to a sentinel IRI instead of vanishing, then refuses
  any sentinel IRI, relative IRI, blank-node predicate or ``@direction`` in the expanded form.
  ``@protected`` contexts accept this: ``@vocab`` is not a term. The contexts themselves (those
  of the document and those of the loader) are guarded the same way: a ``null`` term
  definition, ``@vocab: null`` or a context reset to ``null`` (the VC 2.0 context resets the
  context of ``verifiableCredential``) maps to the sentinel instead of to nothing.

pyld is always called with ``documentLoader`` and ``base: None``; the process-wide loader
(``jsonld.set_document_loader``) is never touched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NoReturn

from pyld import jsonld

from protocol.errors import (
    CanonicalizationError,
    DataLossError,
    MalformedError,
    ProtocolError,
)
from protocol.jsonld import torrdf
from protocol.jsonld.loader import StaticDocumentLoader
from protocol.limits import MAX_CONTEXTS, MAX_JSON_DEPTH, MAX_QUADS
from protocol.rdf import RDF_LANGSTRING, XSD_STRING, Quad, literal
from protocol.rdfc import canonicalize as rdfc_canonicalize

__all__ = ["SENTINEL_VOCAB", "canonicalize", "memoized", "to_dataset"]

#: Canonical forms computed within the current :func:`memoized` scope.
_MEMO: ContextVar[dict[tuple[str, int, str], str] | None] = ContextVar(
    "passeport_canonical_memo", default=None
)


@contextmanager
def memoized() -> Iterator[None]:
    """Within this scope, canonicalising the same document twice costs one canonicalisation.

    One verification canonicalises the unsecured document for its JSON-LD check and again for
    each proof of a set; the scope ends with the verification, so nothing is kept across calls.
    """
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)

#: The ``@vocab`` that the pyld path puts under the document's contexts: an IRI starting with it
#: in the expanded document is a term that no context defines.
SENTINEL_VOCAB = "urn:passeport:dataloss:"


def to_dataset(document: Any, *, loader: StaticDocumentLoader) -> list[Quad]:
    """The RDF dataset of a JSON-LD document, losslessly.

    Base IRI null, rdfDirection i18n-datatype.

    Blank nodes are labelled ``_:b0``, ``_:b1``, ...; RDFC-1.0 relabels them anyway.

    Raises :class:`DataLossError` when JSON-LD would drop a property, a type, an IRI or a
    value; :class:`DocumentLoaderError` for a context the loader does not serve;
    :class:`MalformedError` for invalid JSON-LD or a document nested deeper than
    ``MAX_JSON_DEPTH``; :class:`CanonicalizationError` above ``MAX_QUADS``.
    """
    try:
        return torrdf.to_quads(document, loader=loader)
    except torrdf.Unsupported:
        return _pyld_dataset(document, loader)
    except RecursionError as exc:
        raise MalformedError("JSON-LD document nested too deeply") from exc


def canonicalize(document: Any, *, loader: StaticDocumentLoader, hash_name: str = "sha256") -> str:
    """RDFC-1.0 canonical N-Quads of :func:`to_dataset`.

    ``hash_name`` is the hash RDFC-1.0 uses to label blank nodes (``"sha256"``, or
    ``"sha384"`` for ecdsa-rdfc-2019 with P-384).
    """
    memo = _MEMO.get()
    if memo is None:
        return rdfc_canonicalize(to_dataset(document, loader=loader), hash_name=hash_name).nquads
    # Key order does not change the dataset; the text of everything else does.
    key = (json.dumps(document, sort_keys=True, ensure_ascii=False), id(loader), hash_name)
    canonical = memo.get(key)
    if canonical is None:
        dataset = to_dataset(document, loader=loader)
        canonical = rdfc_canonicalize(dataset, hash_name=hash_name).nquads
        memo[key] = canonical
    return canonical


# --------------------------------------------------------------------------------------------
# The pyld path
# --------------------------------------------------------------------------------------------


def _pyld_dataset(document: Any, loader: StaticDocumentLoader) -> list[Quad]:
    """toRdf through pyld, with our own data-loss, depth and size checks."""
    _check_depth(document, 0)
    guarded = _GuardedLoader(loader)
    try:
        expanded = jsonld.expand(
            _guard_document(document), {"documentLoader": guarded, "base": None}
        )
    except Exception as exc:  # pyld raises JsonLdError, and sometimes leaks others
        raise _wrap(exc) from exc
    # No sentinel IRI, relative IRI or other loss: the guarded expansion is the plain one.
    _check_expanded(expanded, "$")
    try:
        dataset = jsonld.to_rdf(
            expanded, {"documentLoader": loader, "base": None, "rdfDirection": "i18n-datatype"}
        )
    except Exception as exc:
        raise _wrap(exc) from exc
    quads: dict[Quad, None] = {}
    for graph_name, triples in dataset.items():
        graph = "" if graph_name == "@default" else graph_name
        for triple in triples:
            quad = (
                triple["subject"]["value"],
                triple["predicate"]["value"],
                _pyld_object(triple["object"]),
                graph,
            )
            quads[quad] = None
    if len(quads) > MAX_QUADS:
        raise CanonicalizationError(f"document produces more than {MAX_QUADS} RDF quads")
    return list(quads)


def _pyld_object(term: dict[str, Any]) -> str:
    value: str = term["value"]
    if term["type"] != "literal":
        return value
    if not value.isascii() and re.search("[\ud800-\udfff]", value):
        raise MalformedError(f"the string {value!r} holds a lone surrogate code point")
    if "language" in term:
        return literal(value, RDF_LANGSTRING, term["language"])
    datatype = term.get("datatype") or XSD_STRING
    if datatype.startswith(torrdf.I18N_BASE):
        # pyld keeps the language's case in the i18n datatype; JSON-LD 1.1 and jsonld.js lower it.
        datatype = torrdf.i18n_datatype(*datatype[len(torrdf.I18N_BASE) :].rsplit("_", 1))
    return literal(value, datatype)


def _wrap(exc: BaseException) -> ProtocolError:
    """Translate a pyld failure: a loader refusal stays one, the rest is malformed JSON-LD."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ProtocolError):
            return seen
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, jsonld.JsonLdError):
        message = exc.args[0] if exc.args else "JSON-LD error"
        code = f" ({exc.code})" if exc.code else ""
        return MalformedError(f"invalid JSON-LD{code}: {message}")
    if isinstance(exc, RecursionError):
        return MalformedError("JSON-LD document nested too deeply")
    return MalformedError(f"invalid JSON-LD: {type(exc).__name__}: {exc}")


def _check_depth(value: Any, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise MalformedError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            _check_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_depth(item, depth + 1)


# The sentinel, as a context. Where a context would leave a term with no IRI (a ``null`` term
# definition, ``@vocab: null``, a context reset to ``null``), the guarded copy maps it to a
# sentinel IRI instead, so that whatever the reference processor would drop shows up in its
# output. If no sentinel IRI shows up, the guarded expansion equals the plain one.
_SENTINEL_CONTEXT = {"@vocab": SENTINEL_VOCAB}


def _guard_context(context: Any) -> list[Any]:
    """A context (or array of contexts) with every way of dropping a term made visible."""
    out: list[Any] = []
    for item in context if isinstance(context, list) else [context]:
        if item is None:
            out += [None, _SENTINEL_CONTEXT]
        elif isinstance(item, dict):
            guarded: dict[str, Any] = {}
            for term, definition in item.items():
                if term == "@vocab" and definition is None:
                    definition = SENTINEL_VOCAB
                elif term.startswith("@"):
                    pass
                elif definition is None:
                    definition = {"@id": SENTINEL_VOCAB + term}
                elif isinstance(definition, dict):
                    definition = dict(definition)
                    if "@id" in definition and definition["@id"] is None:
                        definition["@id"] = SENTINEL_VOCAB + term
                    if "@context" in definition:
                        definition["@context"] = _guard_context(definition["@context"])
                guarded[term] = definition
            out.append(guarded)
        else:
            out.append(item)
    return out


def _guard_document(value: Any, *, top: bool = True) -> Any:
    """A copy of the document with the sentinel under its top-level contexts, all guarded."""
    if isinstance(value, list):
        return [_guard_document(item, top=top) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    if top:
        out["@context"] = [_SENTINEL_CONTEXT]
    for key, item in value.items():
        if key == "@context":
            out[key] = ([_SENTINEL_CONTEXT] if top else []) + _guard_context(item)
        else:
            out[key] = _guard_document(item, top=False)
    return out


class _GuardedLoader:
    """A pyld document loader serving guarded copies of the loader's context documents."""

    def __init__(self, loader: StaticDocumentLoader) -> None:
        self._loader = loader
        self._served = 0

    def __call__(self, url: str, options: Any = None) -> dict[str, Any]:
        self._served += 1
        if self._served > MAX_CONTEXTS * 8:
            raise MalformedError(f"document references more than {MAX_CONTEXTS} JSON-LD contexts")
        document = self._loader.get(url)
        if isinstance(document, dict) and "@context" in document:
            document = {**document, "@context": _guard_context(document["@context"])}
        return {"contextUrl": None, "documentUrl": url, "document": document}


def _check_expanded(value: Any, path: str) -> None:
    """Refuse sentinel IRIs, relative IRIs, blank-node predicates and @direction."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_expanded(item, f"{path}[{index}]")
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        where = f"{path}[{key!r}]"
        if key.startswith(SENTINEL_VOCAB):
            _lost(where, key[len(SENTINEL_VOCAB) :], "the property is not defined by any @context")
        if key == "@id":
            _check_iri(item, where, "@id")
        elif key == "@type":
            for type_ in item if isinstance(item, list) else [item]:
                if type_ != "@json":
                    _check_iri(type_, where, "@type")
        elif key == "@language":
            if isinstance(item, str) and not torrdf.language_tag_ok(item):
                _lost(where, None, f"the language tag {item!r} is not well-formed")
        elif key == "@value":
            continue
        elif key == "@reverse" and isinstance(item, dict):
            for prop, values in item.items():
                _check_predicate(prop, f"{where}[{prop!r}]")
                _check_expanded(values, f"{where}[{prop!r}]")
        elif not key.startswith("@"):
            _check_predicate(key, where)
            _check_expanded(item, where)
        else:
            _check_expanded(item, where)


def _check_predicate(iri: str, where: str) -> None:
    if iri.startswith(SENTINEL_VOCAB):
        _lost(where, iri[len(SENTINEL_VOCAB) :], "the property is not defined by any @context")
    if iri.startswith("_:"):
        _lost(where, None, f"the property {iri!r} is a blank node, not an RDF predicate")
    if not torrdf.well_formed_iri(iri):
        _lost(where, None, f"the property {iri!r} is not an absolute IRI")


def _check_iri(iri: Any, where: str, what: str) -> None:
    if not isinstance(iri, str):
        return
    if iri.startswith(SENTINEL_VOCAB):
        _lost(where, iri[len(SENTINEL_VOCAB) :], f"the {what} is not defined by any @context")
    if not iri.startswith("_:") and not torrdf.well_formed_iri(iri):
        _lost(where, None, f"the {what} {iri!r} is a relative or ill-formed IRI")


def _lost(where: str, term: str | None, what: str) -> NoReturn:
    named = f" (term {term!r})" if term is not None else ""
    raise DataLossError(f"JSON-LD data loss at {where} in the expanded document{named}: {what}")
