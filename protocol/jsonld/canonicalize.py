"""JSON-LD to RDF and RDFC-1.0 canonical N-Quads, offline and lossless.

Interface (implemented in this module):

* ``to_dataset(document, *, loader) -> list[Quad]``: JSON-LD to RDF (``rdfDirection`` unset,
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
  ``@protected`` contexts accept this: ``@vocab`` is not a term. What the sentinel cannot see on
  that path (a value dropped because a context maps its term to ``null``, or resets itself to
  ``null`` and leaves a subtree without ``@vocab``) is refused up front.

pyld is always called with ``documentLoader`` and ``base: None``; the process-wide loader
(``jsonld.set_document_loader``) is never touched.
"""

from __future__ import annotations

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

__all__ = ["SENTINEL_VOCAB", "canonicalize", "to_dataset"]

#: The ``@vocab`` that the pyld path puts under the document's contexts: an IRI starting with it
#: in the expanded document is a term that no context defines.
SENTINEL_VOCAB = "urn:passeport:dataloss:"


def to_dataset(document: Any, *, loader: StaticDocumentLoader) -> list[Quad]:
    """The RDF dataset of a JSON-LD document, losslessly (base IRI null, rdfDirection unset).

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
    from protocol.rdfc import canonicalize as rdfc_canonicalize

    return rdfc_canonicalize(to_dataset(document, loader=loader), hash_name=hash_name).nquads


# --------------------------------------------------------------------------------------------
# The pyld path
# --------------------------------------------------------------------------------------------


def _pyld_dataset(document: Any, loader: StaticDocumentLoader) -> list[Quad]:
    """toRdf through pyld, with our own data-loss, depth and size checks."""
    _check_depth(document, 0)
    _refuse_hidden_drops(document, loader)
    options: dict[str, Any] = {"documentLoader": loader, "base": None}
    try:
        expanded = jsonld.expand(_with_sentinel(document, top=True), dict(options))
    except Exception as exc:  # pyld raises JsonLdError, and sometimes leaks others
        raise _wrap(exc) from exc
    _check_expanded(expanded, "$")
    try:
        dataset = jsonld.to_rdf(expanded, dict(options))
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
    if "language" in term:
        return literal(value, RDF_LANGSTRING, term["language"])
    return literal(value, term.get("datatype") or XSD_STRING)


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


def _with_sentinel(value: Any, *, top: bool = False) -> Any:
    """A copy of the document whose contexts fall back to the sentinel ``@vocab``.

    The sentinel goes before the top-level context, and again after every ``null`` in an
    embedded context (a reset would drop it) and before every embedded context (which may
    follow a reset made by a scoped ``null`` context). The last can only make this path refuse
    a document whose nested terms relied on an outer ``@vocab``; it never hides a drop.
    """
    sentinel = {"@vocab": SENTINEL_VOCAB}
    if isinstance(value, list):
        return [_with_sentinel(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "@context":
            contexts: list[Any] = [sentinel]
            for ctx in item if isinstance(item, list) else [item]:
                contexts.append(ctx)
                if ctx is None:
                    contexts.append(sentinel)
            out[key] = contexts
        else:
            out[key] = _with_sentinel(item)
    if top and "@context" not in out:
        out = {"@context": sentinel, **out}
    return out


def _refuse_hidden_drops(document: Any, loader: StaticDocumentLoader) -> None:
    """Refuse what the sentinel cannot reveal: null terms, null @vocab, scoped null contexts.

    Scans the contexts embedded in the document and the loader documents they reference.
    """
    seen: set[str] = set()
    budget = [MAX_CONTEXTS * 8]

    def scan_context(ctx: Any, scoped: bool) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise MalformedError(f"document references more than {MAX_CONTEXTS} JSON-LD contexts")
        for item in ctx if isinstance(ctx, list) else [ctx]:
            if item is None:
                if scoped:
                    _hidden("a scoped context resets to null")
            elif isinstance(item, str):
                if item not in seen:
                    seen.add(item)
                    remote = loader.get(item)
                    if isinstance(remote, dict) and "@context" in remote:
                        scan_context(remote["@context"], scoped)
            elif isinstance(item, dict):
                if "@vocab" in item and item["@vocab"] is None:
                    _hidden("a context sets @vocab to null")
                for term, definition in item.items():
                    if term.startswith("@"):
                        continue
                    if definition is None or (
                        isinstance(definition, dict)
                        and "@id" in definition
                        and definition["@id"] is None
                        and "@reverse" not in definition
                    ):
                        _hidden(f"a context maps the term {term!r} to null")
                    if isinstance(definition, dict) and "@context" in definition:
                        scan_context(definition["@context"], True)

    def scan(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                scan(item)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key == "@context":
                    scan_context(item, False)
                else:
                    scan(item)

    scan(document)


def _hidden(what: str) -> NoReturn:
    raise DataLossError(
        f"JSON-LD data loss cannot be ruled out: {what}, and the document needs the reference "
        "processor (it uses @import or a type map), whose output cannot be checked for it"
    )


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
        elif key == "@direction":
            _lost(where, None, "@direction is dropped when rdfDirection is unset")
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
