"""Selective-disclosure functions of W3C Data Integrity ECDSA.

https://www.w3.org/TR/vc-di-ecdsa/#selective-disclosure-functions: label replacement
canonicalization (HMAC blank node labels), skolemization with ``urn:bnid:`` IRIs, JSON Pointer
selection, canonicalize-and-group and the mandatory hash. ``protocol.di.ecdsa_sd_2023`` builds
the cryptosuite on them.

N-Quads travel as :mod:`protocol.rdf` quads (tuples of term strings) inside this module and as
N-Quad strings (one line with its ``\\n``) at its surface, as in the specification.

Two ways to skolemize
---------------------

The specification skolemizes a compact document by expanding it, giving every node object an
``@id`` and compacting the result again (:func:`skolemize_compact_jsonld`, the reference path,
through pyld). Compaction is the slowest JSON-LD operation, so :func:`canonicalize_and_group`
first tries to add the ``id`` members to the compact document directly. That is exact when every
JSON object of the document that is not a value or list object is a node object, which holds
when the document (a) uses no term that its contexts (embedded ones included) define with
``@type: @json``, a container other than ``@set``/``@list``, ``@reverse``, ``@nest`` or as a
keyword alias other than ``id``/``type``, (b) has contexts that define ``id`` and ``type`` as
``@id`` and ``@type`` only and use no ``@import``, (c) uses no keyword other than
``@id``, ``@type``, ``@index``, ``@value``, ``@language``, ``@list``, ``@set``, and (d) holds no
blank node identifier (no string starting with ``_:``). Skolem identifiers are issued in the
order of the reference path (keys in code point order, children before their parent), so both
paths give the same labels. Any other document takes the reference path.

The reference path inherits a weakness of JSON-LD compaction: a type IRI may come back as
another term with the same IRI but without that type's scoped context (the OB 3.0 contexts
define ``geo`` and ``GeoCoordinates`` that way), and the compacted document then loses terms
that only the scoped context defined. Passeport then refuses it (``DataLossError``) rather
than sign or derive something else.

RDF lists and graph containers
------------------------------

The nodes of an RDF list, and the name of the graph a ``@graph`` container makes (the ``proof``
of an embedded endorsement), are blank nodes that no JSON object stands for, so no skolem
identifier reaches them, and JSON-LD to RDF labels them afresh in every selection. Both paths
therefore name each such node after the statement that links to it (subject, predicate, graph),
which is the same in the whole document and in any selection that holds the whole list or
graph. A selection that holds part of a list describes another list, which was never signed:
the ecdsa-sd-2023 functions refuse it. Two lists or graphs under the same subject and predicate
(a proof set on an embedded credential, say) cannot be told apart and are refused.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyld import jsonld

from protocol.encoding import b64url_encode
from protocol.errors import MalformedError, ProtocolError, UnsupportedError
from protocol.jsonld.canonicalize import to_dataset
from protocol.jsonld.loader import StaticDocumentLoader
from protocol.limits import MAX_CONTEXTS, MAX_JSON_DEPTH, MAX_SD_POINTERS
from protocol.rdf import Quad, serialize_quad
from protocol.rdfc import canonicalize as rdfc_canonicalize

__all__ = [
    "SKOLEM_SCHEME",
    "Group",
    "Grouped",
    "LabelMapFactory",
    "LabelledNQuads",
    "SelectedNQuads",
    "Skolemized",
    "canonicalize_and_group",
    "create_hmac_id_label_map_function",
    "create_label_map_function",
    "deskolemize_nquads",
    "hash_mandatory_nquads",
    "json_copy",
    "json_pointer_to_paths",
    "label_replacement_canonicalize_jsonld",
    "label_replacement_canonicalize_nquads",
    "relabel_blank_nodes",
    "select_canonical_nquads",
    "select_jsonld",
    "skolemize_compact_jsonld",
    "skolemize_expanded_jsonld",
    "skolemize_nquads",
    "sort_nquads",
    "to_deskolemized_nquads",
]

#: The URN prefix of skolemized blank nodes (``urn:bnid:<label>``).
SKOLEM_SCHEME = "urn:bnid:"

#: A label map factory: canonical identifier map (input label -> ``c14nN``) to a blank node
#: identifier map (input label -> new label). Labels carry no ``_:``.
LabelMapFactory = Callable[[Mapping[str, str]], dict[str, str]]

_RANDOM = re.compile(r"[A-Za-z0-9-]{1,64}\Z")
# A literal (kept as it is) or a blank node label / skolem IRI: the specification's regular
# expressions would also rewrite "_:" inside literals.
_LITERAL = r'("(?:[^"\\]|\\.)*")'
_BLANK = re.compile(_LITERAL + r"|_:([^\s]+)")
_SKOLEM = re.compile(_LITERAL + r"|<urn:bnid:([^>]+)>")
_INDEX = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_ESCAPES = re.compile(r"(?:[^~]|~[01])*\Z")


# --------------------------------------------------------------------------------------------
# Label maps and label replacement canonicalization
# --------------------------------------------------------------------------------------------


def create_hmac_id_label_map_function(hmac_key: bytes) -> LabelMapFactory:
    """createHmacIdLabelMapFunction: each ``c14nN`` becomes ``u`` + base64url(HMAC-SHA-256)."""
    if not isinstance(hmac_key, bytes) or len(hmac_key) != 32:
        raise ValueError("the HMAC key must be 32 bytes (the SHA-256 digest size, RFC 2104)")
    keyed = hmac.new(hmac_key, digestmod=hashlib.sha256)

    def factory(canonical_id_map: Mapping[str, str]) -> dict[str, str]:
        # 1. A new blank node identifier map. 2. For each entry: 2.1 HMAC the canonical
        #    identifier, 2.2 "u" + base64url-no-pad of the digest, 2.3 keyed by the input label.
        out: dict[str, str] = {}
        for input_label, c14n_label in canonical_id_map.items():
            mac = keyed.copy()
            mac.update(c14n_label.encode("utf-8"))
            out[input_label] = "u" + b64url_encode(mac.digest())
        return out

    return factory


def create_label_map_function(label_map: Mapping[str, str]) -> LabelMapFactory:
    """createLabelMapFunction: each ``c14nN`` becomes ``label_map[c14nN]``.

    A canonical label that the map lacks raises :class:`MalformedError` (the verifier's label
    map must cover every blank node of the revealed document).
    """

    def factory(canonical_id_map: Mapping[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for input_label, c14n_label in canonical_id_map.items():
            new_label = label_map.get(c14n_label)
            if new_label is None:
                raise MalformedError(f"the label map has no entry for blank node _:{c14n_label}")
            out[input_label] = new_label
        return out

    return factory


def _utf16_key(line: str) -> bytes:
    return line.encode("utf-16-be", "surrogatepass")


def sort_nquads(lines: list[str]) -> list[str]:
    """Sort N-Quad strings in place the way the reference implementation does (and return them).

    Digital Bazaar's di-sd-primitives sorts relabelled N-Quads with JavaScript's default sort,
    which compares UTF-16 code units. That differs from code point order only between a
    character above U+FFFF and one in U+E000-U+FFFF; the order decides which signature goes
    with which statement, so verifiers must agree on it, and we follow the reference.
    """
    if all(line.isascii() for line in lines):
        lines.sort()
    else:
        lines.sort(key=_utf16_key)
    return lines


@dataclass(frozen=True)
class LabelledNQuads:
    """The output of labelReplacementCanonicalizeNQuads, plus the canonical issuer's map."""

    #: Relabelled canonical N-Quads, sorted (see :func:`sort_nquads`).
    nquads: list[str]
    #: Input blank node label -> new label.
    label_map: dict[str, str]
    #: Input blank node label -> canonical label (``c14nN``).
    canonical_id_map: dict[str, str]


def _label_replacement(quads: Iterable[Quad], factory: LabelMapFactory) -> LabelledNQuads:
    # 1. RDFC-1.0 on the dataset; its canonical identifier map (input label -> c14nN).
    canonical = rdfc_canonicalize(quads)
    # 2. The factory turns it into the new label map (input label -> new label).
    label_map = factory(canonical.issued)
    # 3. Relabel the canonical quads (c14nN -> new label) and serialise them, sorted.
    by_c14n = {canonical.issued[label]: new for label, new in label_map.items()}

    def swap(term: str) -> str:
        return "_:" + by_c14n[term[2:]] if term.startswith("_:") else term

    lines = [
        serialize_quad((swap(s), p, swap(o), swap(g)) if "_:" in s + o + g else (s, p, o, g))
        for s, p, o, g in canonical.quads
    ]
    # 4. Return the label map and the N-Quads.
    return LabelledNQuads(sort_nquads(lines), label_map, dict(canonical.issued))


def label_replacement_canonicalize_nquads(
    quads: Iterable[Quad], label_map_factory: LabelMapFactory
) -> LabelledNQuads:
    """labelReplacementCanonicalizeNQuads, on parsed quads (see :mod:`protocol.rdf`)."""
    return _label_replacement(quads, label_map_factory)


def label_replacement_canonicalize_jsonld(
    document: Mapping[str, Any],
    label_map_factory: LabelMapFactory,
    *,
    loader: StaticDocumentLoader,
) -> LabelledNQuads:
    """labelReplacementCanonicalizeJsonLd: JSON-LD to RDF (lossless), then label replacement."""
    # 1. Deserialize JSON-LD to RDF; 2.-3. label replacement canonicalization of its N-Quads.
    return _label_replacement(to_dataset(document, loader=loader), label_map_factory)


def relabel_blank_nodes(nquads: Iterable[str], label_map: Mapping[str, str]) -> list[str]:
    """relabelBlankNodes on N-Quad strings; a label missing from the map is an error."""

    def swap(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(1)
        new = label_map.get(match.group(2))
        if new is None:
            raise MalformedError(f"blank node _:{match.group(2)} has no entry in the label map")
        return "_:" + new

    return [_BLANK.sub(swap, line) for line in nquads]


def hash_mandatory_nquads(mandatory: Iterable[str]) -> bytes:
    """hashMandatoryNQuads: SHA-256 of the UTF-8 bytes of the joined N-Quads."""
    return hashlib.sha256("".join(mandatory).encode("utf-8")).digest()


# --------------------------------------------------------------------------------------------
# Skolemization
# --------------------------------------------------------------------------------------------


def _skolem_match(match: re.Match[str]) -> str:
    literal = match.group(1)
    return literal if literal is not None else f"<{SKOLEM_SCHEME}{match.group(2)}>"


def _deskolem_match(match: re.Match[str]) -> str:
    literal = match.group(1)
    return literal if literal is not None else "_:" + match.group(2)


def skolemize_nquads(nquads: Iterable[str]) -> list[str]:
    """skolemizeNQuads: every ``_:label`` becomes ``<urn:bnid:label>``."""
    return [_BLANK.sub(_skolem_match, line) if "_:" in line else line for line in nquads]


def deskolemize_nquads(nquads: Iterable[str]) -> list[str]:
    """deskolemizeNQuads: every ``<urn:bnid:label>`` becomes ``_:label``."""
    return [_SKOLEM.sub(_deskolem_match, line) if "<urn:bnid:" in line else line for line in nquads]


def skolemize_expanded_jsonld(
    expanded: Sequence[Any], *, random_string: str, count: list[int] | None = None
) -> list[Any]:
    """skolemizeExpandedJsonLd: give every node object of an expanded document an ``@id``.

    Unlabelled nodes get ``urn:bnid:_<random_string>_<count>`` (``count`` is shared across the
    recursion, children first); ``_:b`` identifiers become ``urn:bnid:b``. List and set objects
    are not nodes and get no identifier (the specification's text would give them one, which
    JSON-LD then rejects).
    """
    counter = count if count is not None else [0]
    out: list[Any] = []
    for element in expanded:
        # 1. Literals (non-objects and value objects) are copied.
        if not isinstance(element, dict) or "@value" in element:
            out.append(copy.deepcopy(element))
            continue
        # 2. Recurse into every property.
        node: dict[str, Any] = {}
        for key, value in element.items():
            if isinstance(value, list):
                node[key] = skolemize_expanded_jsonld(
                    value, random_string=random_string, count=counter
                )
            else:
                node[key] = skolemize_expanded_jsonld(
                    [value], random_string=random_string, count=counter
                )[0]
        if "@list" in node or "@set" in node:
            out.append(node)
            continue
        # 3. A new skolem identifier, or 4. the existing blank node identifier kept.
        current = node.get("@id")
        if current is None:
            node["@id"] = f"{SKOLEM_SCHEME}_{random_string}_{counter[0]}"
            counter[0] += 1
        elif isinstance(current, str) and current.startswith("_:"):
            node["@id"] = SKOLEM_SCHEME + current[2:]
        out.append(node)
    return out


@dataclass(frozen=True)
class Skolemized:
    """A skolemized document: its compact form and, on the reference path, its expanded form."""

    compact: dict[str, Any]
    expanded: list[Any] | None
    #: Prefix of the skolem IRIs this run issued (``urn:bnid:_<random>_``).
    prefix: str
    #: Whether the reference path (expand, skolemize, compact) made it.
    reference: bool


def _new_random(random_string: str | None) -> str:
    if random_string is None:
        return str(uuid.uuid4())
    if not isinstance(random_string, str) or _RANDOM.match(random_string) is None:
        raise ValueError("random_string must be 1-64 letters, digits or '-'")
    return random_string


def _pyld_error(exc: Exception) -> ProtocolError:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ProtocolError):
            return seen
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, jsonld.JsonLdError):
        code = f" ({exc.code})" if getattr(exc, "code", None) else ""
        return MalformedError(f"invalid JSON-LD{code}: {exc.args[0] if exc.args else exc}")
    if isinstance(exc, RecursionError):
        return MalformedError("JSON-LD document nested too deeply")
    return MalformedError(f"invalid JSON-LD: {type(exc).__name__}: {exc}")


def skolemize_compact_jsonld(
    document: Mapping[str, Any],
    *,
    loader: StaticDocumentLoader,
    random_string: str | None = None,
) -> Skolemized:
    """skolemizeCompactJsonLd, the reference path: expand, skolemize, compact (pyld).

    ``random_string`` defaults to a fresh UUID; tests fix it to reproduce published vectors.
    """
    if not isinstance(document, Mapping) or "@context" not in document:
        raise MalformedError("a compact JSON-LD document with an @context is required")
    random = _new_random(random_string)
    options: dict[str, Any] = {"documentLoader": loader, "base": None}
    try:
        # 1. Expand the document.
        expanded = jsonld.expand(copy.deepcopy(dict(document)), dict(options))
        # 2. Skolemize the expanded document.
        skolemized = skolemize_expanded_jsonld(expanded, random_string=random)
        # 3. Compact it with the document's context.
        compact = jsonld.compact(
            copy.deepcopy(skolemized), copy.deepcopy(document["@context"]), dict(options)
        )
    except Exception as exc:  # pyld raises JsonLdError, and sometimes others
        raise _pyld_error(exc) from exc
    # 4. Both forms.
    return Skolemized(compact, skolemized, f"{SKOLEM_SCHEME}_{random}_", reference=True)


#: Containers whose values are node objects (or arrays of them). A ``@graph`` container puts its
#: node in a named graph whose (blank) name has no JSON object; it is named like a list node.
_SAFE_CONTAINERS = frozenset({"@set", "@list", "@graph"})
_FAST_KEYWORDS = frozenset({"@id", "@type", "@index", "@value", "@language", "@list", "@set"})


@dataclass
class _Profile:
    """What the fast path needs to know about a set of contexts."""

    risky: set[str] = field(default_factory=set)
    id_ok: bool = False
    obstacle: str | None = None


_PROFILES: weakref.WeakKeyDictionary[StaticDocumentLoader, dict[tuple[str, ...], _Profile]] = (
    weakref.WeakKeyDictionary()
)


def _scan_context(
    ctx: Any, loader: StaticDocumentLoader, profile: _Profile, seen: set[str]
) -> None:
    """Collect the terms whose values are not node objects, and check the id/type aliases."""
    for item in ctx if isinstance(ctx, list) else [ctx]:
        if isinstance(item, str):
            if item in seen:
                continue
            seen.add(item)
            if len(seen) > MAX_CONTEXTS:
                raise MalformedError(f"document references more than {MAX_CONTEXTS} contexts")
            remote = loader.get(item)
            if isinstance(remote, dict):
                _scan_context(remote.get("@context"), loader, profile, seen)
        elif isinstance(item, dict):
            if "@import" in item:
                profile.obstacle = "a context uses @import"
            for term, definition in item.items():
                if term.startswith("@"):
                    continue
                target = definition.get("@id") if isinstance(definition, dict) else definition
                if term in ("id", "type"):
                    if target != "@" + term:
                        profile.obstacle = f"a context does not define {term!r} as @{term}"
                    elif term == "id":
                        profile.id_ok = True
                    continue
                if isinstance(target, str) and target.startswith("@"):
                    profile.risky.add(term)  # a keyword alias
                if not isinstance(definition, dict):
                    continue
                if "@reverse" in definition or "@nest" in definition:
                    profile.risky.add(term)
                if definition.get("@type") == "@json":
                    profile.risky.add(term)
                container = definition.get("@container")
                containers = container if isinstance(container, list) else [container]
                if any(c is not None and c not in _SAFE_CONTAINERS for c in containers) or (
                    "@graph" in containers and "@list" in containers
                ):
                    profile.risky.add(term)
                if "@context" in definition:
                    _scan_context(definition["@context"], loader, profile, seen)


def _profile_for(context: Any, loader: StaticDocumentLoader) -> _Profile:
    urls = context if isinstance(context, list) else [context]
    cacheable = all(isinstance(url, str) for url in urls)
    if cacheable:
        per_loader = _PROFILES.setdefault(loader, {})
        key = tuple(urls)
        cached = per_loader.get(key)
        if cached is not None:
            return cached
    profile = _Profile()
    _scan_context(context, loader, profile, set())
    if not profile.id_ok and profile.obstacle is None:
        profile.obstacle = "no context aliases 'id' to @id"
    if cacheable:
        per_loader[key] = profile
    return profile


class _UseReferencePath(Exception):
    """The compact document cannot be skolemized in place; take the reference path."""


class _FastSkolemizer:
    __slots__ = ("count", "loader", "prefix", "risky")

    def __init__(self, prefix: str, risky: set[str], loader: StaticDocumentLoader) -> None:
        self.prefix = prefix
        self.risky = risky
        self.loader = loader
        self.count = 0

    def value(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            if value.startswith("_:"):
                raise _UseReferencePath("blank node identifier")
            return value
        if isinstance(value, list):
            if depth > MAX_JSON_DEPTH:
                raise MalformedError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            return [self.value(item, depth + 1) for item in value]
        if isinstance(value, dict):
            return self.node(value, depth + 1)
        return value

    def node(self, obj: dict[str, Any], depth: int, top: bool = False) -> dict[str, Any]:
        if depth > MAX_JSON_DEPTH:
            raise MalformedError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        risky = self.risky
        children: dict[str, Any] = {}
        # Keys in code point order and children before the node: the order in which the
        # reference path (JSON-LD expansion, then skolemizeExpandedJsonLd) issues identifiers.
        for key in sorted(obj):
            if key == "@context":
                if not top:
                    # An embedded context (an embedded credential, say): its terms join the
                    # risky set for the rest of the walk, which is conservative.
                    embedded = _profile_for(obj[key], self.loader)
                    if embedded.obstacle is not None:
                        raise _UseReferencePath(embedded.obstacle)
                    self.risky = self.risky | embedded.risky
                continue
            if key in risky or (key.startswith("@") and key not in _FAST_KEYWORDS):
                raise _UseReferencePath(key)
            item = obj[key]
            if key == "@value":
                if isinstance(item, dict | list):
                    raise _UseReferencePath("JSON literal")
                children[key] = item
            elif isinstance(item, str) and not item.startswith("_:"):
                children[key] = item
            else:
                children[key] = self.value(item, depth)
        out = {key: children[key] if key in children else obj[key] for key in obj}
        if "@value" in obj or "@list" in obj or "@set" in obj:
            return out
        if "id" not in obj and "@id" not in obj:
            out["id"] = f"{self.prefix}{self.count}"
            self.count += 1
        return out


def _skolemize(
    document: Mapping[str, Any],
    *,
    loader: StaticDocumentLoader,
    random_string: str | None,
) -> Skolemized:
    """Skolemize in place when that is exact (see the module docs), else the reference path."""
    if not isinstance(document, Mapping) or "@context" not in document:
        raise MalformedError("a compact JSON-LD document with an @context is required")
    random = _new_random(random_string)
    profile = _profile_for(document["@context"], loader)
    if profile.obstacle is None:
        prefix = f"{SKOLEM_SCHEME}_{random}_"
        try:
            skolemizer = _FastSkolemizer(prefix, profile.risky, loader)
            compact = skolemizer.node(dict(document), 0, top=True)
        except _UseReferencePath:
            pass
        else:
            return Skolemized(compact, None, prefix, reference=False)
    # The reference path: refuse data loss first (pyld's expansion would drop undefined terms
    # silently), and IRIs that deskolemization would mistake for skolem identifiers.
    for s, _, o, g in to_dataset(document, loader=loader):
        for term in (s, o, g):
            if term.startswith(SKOLEM_SCHEME):
                raise MalformedError(
                    f"the document uses the IRI {term!r}; ecdsa-sd-2023 reserves {SKOLEM_SCHEME} "
                    "for skolemized blank nodes"
                )
    return skolemize_compact_jsonld(document, loader=loader, random_string=random)


def _name_fresh_blank_nodes(quads: list[Quad], prefix: str) -> list[Quad]:
    """Name the blank nodes that JSON-LD to RDF created (RDF list nodes, the names of the graphs
    of ``@graph`` containers) after the statement that links to them, so that a selection names
    them as the whole document does."""
    incoming: dict[str, list[Quad]] = {}
    fresh = False
    for quad in quads:
        s, _, o, g = quad
        if o.startswith("_:"):
            incoming.setdefault(o, []).append(quad)
            fresh = True
        elif s.startswith("_:") or g.startswith("_:"):
            fresh = True
    if not fresh:
        return quads
    label = prefix[len(SKOLEM_SCHEME) :]
    names: dict[str, str] = {}
    taken: dict[str, str] = {}
    naming: set[str] = set()

    def name(node: str) -> str:
        if node in naming:  # pragma: no cover - JSON trees cannot produce it
            raise UnsupportedError("the document's blank nodes link to each other in a cycle")
        naming.add(node)
        # Walk up the chain of links (an rdf:rest chain may be long) to a named node.
        chain: list[str] = []
        current = node
        while current.startswith("_:") and current not in names:
            links = incoming.get(current)
            if links is None or len(links) != 1:
                raise UnsupportedError(
                    "the document has a blank node that is neither a JSON object nor a node "
                    "that one statement links to (an RDF list node, a graph name); "
                    "ecdsa-sd-2023 cannot select it"
                )
            chain.append(current)
            current = links[0][0]
            if len(chain) > len(quads):  # pragma: no cover - a cycle of fresh nodes
                raise UnsupportedError("the document's blank nodes link to each other in a cycle")
        parent = names.get(current, current)
        for blank in reversed(chain):
            _, predicate, _, graph = incoming[blank][0]
            if graph.startswith("_:"):
                graph = names.get(graph) or name(graph)
            digest = hashlib.sha256(f"{parent}\x00{predicate}\x00{graph}".encode()).hexdigest()
            parent = f"{SKOLEM_SCHEME}{label}l{digest[:32]}"
            if taken.setdefault(parent, blank) != blank:
                raise UnsupportedError(
                    "two RDF lists or graphs hang from the same subject and predicate; "
                    "ecdsa-sd-2023 cannot tell their selections apart"
                )
            names[blank] = parent
        naming.discard(node)
        return parent

    out: list[Quad] = []
    for s, p, o, g in quads:
        if s.startswith("_:"):
            s = names.get(s) or name(s)
        if o.startswith("_:"):
            o = names.get(o) or name(o)
        if g.startswith("_:"):
            g = names.get(g) or name(g)
        out.append((s, p, o, g))
    return out


def _deskolemize_quads(quads: list[Quad], prefix: str, reference: bool) -> list[Quad]:
    """Skolem IRIs back to blank nodes (``urn:bnid:X`` -> ``_:X``)."""
    cut = len(SKOLEM_SCHEME)
    out: list[Quad] = []
    for quad in quads:
        s, p, o, g = quad
        if not (
            s.startswith(SKOLEM_SCHEME)
            or o.startswith(SKOLEM_SCHEME)
            or g.startswith(SKOLEM_SCHEME)
        ):
            out.append(quad)
            continue
        terms = []
        for term in (s, o, g):
            if term.startswith(SKOLEM_SCHEME):
                if not reference and not term.startswith(prefix):
                    raise MalformedError(
                        f"the document uses the IRI {term!r}; ecdsa-sd-2023 reserves "
                        f"{SKOLEM_SCHEME} for skolemized blank nodes"
                    )
                term = "_:" + term[cut:]
            terms.append(term)
        out.append((terms[0], p, terms[1], terms[2]))
    return out


def _document_quads(
    document: Any, skolemized: Skolemized, loader: StaticDocumentLoader
) -> list[Quad]:
    """toDeskolemizedNQuads on quads: to RDF, name list nodes, deskolemize."""
    quads = to_dataset(document, loader=loader)
    quads = _name_fresh_blank_nodes(quads, skolemized.prefix)
    return _deskolemize_quads(quads, skolemized.prefix, skolemized.reference)


def _skolem_line(quad: Quad) -> str:
    s, p, o, g = quad
    return serialize_quad(
        (
            SKOLEM_SCHEME + s[2:] if s.startswith("_:") else s,
            p,
            SKOLEM_SCHEME + o[2:] if o.startswith("_:") else o,
            SKOLEM_SCHEME + g[2:] if g.startswith("_:") else g,
        )
    )


def _deskolemized_lines(quads: Iterable[Quad]) -> list[str]:
    """N-Quad strings in the reference order: jsonld.js sorts the skolemized lines."""
    pairs = sorted(
        ((_skolem_line(q), serialize_quad(q)) for q in quads), key=lambda p: _utf16_key(p[0])
    )
    return [line for _, line in pairs]


def to_deskolemized_nquads(document: Any, *, loader: StaticDocumentLoader) -> list[str]:
    """toDeskolemizedNQuads: JSON-LD to RDF, then ``urn:bnid:X`` IRIs back to ``_:X``."""
    # 1. Deserialize JSON-LD to RDF; 2. split it into N-Quads (in jsonld.js's sorted order);
    # 3. deskolemize.
    quads = to_dataset(document, loader=loader)
    return deskolemize_nquads(sort_nquads([serialize_quad(q) for q in quads]))


# --------------------------------------------------------------------------------------------
# JSON Pointer selection
# --------------------------------------------------------------------------------------------


def json_pointer_to_paths(pointer: str) -> list[str | int]:
    """jsonPointerToPaths (RFC 6901): ``/a/0/b~1c`` -> ``["a", 0, "b/c"]``.

    A token without ``~`` that is an array index (``0`` or no leading zero) becomes an int.
    Raises :class:`MalformedError` for a pointer that is neither empty nor starts with ``/``,
    and for an escape other than ``~0``/``~1``.
    """
    if not isinstance(pointer, str):
        raise MalformedError(f"a JSON pointer must be a string, got {type(pointer).__name__}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise MalformedError(f"invalid JSON pointer {pointer!r}: it must start with '/'")
    paths: list[str | int] = []
    for token in pointer[1:].split("/"):
        if "~" not in token:
            paths.append(int(token) if _INDEX.match(token) else token)
        elif _ESCAPES.match(token) is None:
            raise MalformedError(
                f"invalid JSON pointer {pointer!r}: '~' must be followed by 0 or 1"
            )
        else:
            paths.append(token.replace("~1", "/").replace("~0", "~"))
    return paths


class _Sparse(dict[int, Any]):
    """A selected array while pointers are applied (index -> value); made dense at the end."""


_MISSING = object()


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars), several times faster than deepcopy."""
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    return value


def _init_selection(source: Any) -> dict[str, Any]:
    # createInitialSelection: the non-blank id and the type of the source.
    selection: dict[str, Any] = {}
    if isinstance(source, dict):
        node_id = source.get("id")
        if isinstance(node_id, str) and not node_id.startswith("_:"):
            selection["id"] = node_id
        node_type = source.get("type")
        if node_type is not None and node_type != "":
            selection["type"] = json_copy(node_type)
    return selection


def _child(value: Any, path: str | int, pointer: str) -> Any:
    if isinstance(value, dict):
        key = path if isinstance(path, str) else str(path)
        if key not in value:
            raise MalformedError(
                f"JSON pointer {pointer!r} does not match the document: no {key!r}"
            )
        return value[key]
    if isinstance(value, list):
        if not isinstance(path, int):
            raise MalformedError(
                f"JSON pointer {pointer!r} does not match the document: {path!r} is not an "
                "array index"
            )
        if path >= len(value):
            raise MalformedError(
                f"JSON pointer {pointer!r} does not match the document: index {path} is past "
                f"the end of an array of {len(value)}"
            )
        return value[path]
    raise MalformedError(
        f"JSON pointer {pointer!r} does not match the document: it goes through a "
        f"{type(value).__name__} value"
    )


def _get(selected: Any, path: str | int) -> Any:
    if isinstance(selected, _Sparse):
        return selected.get(path, _MISSING) if isinstance(path, int) else _MISSING
    if isinstance(selected, list):
        return selected[path] if isinstance(path, int) and path < len(selected) else _MISSING
    if isinstance(selected, dict):
        return selected.get(path if isinstance(path, str) else str(path), _MISSING)
    return _MISSING  # pragma: no cover - the document walk fails first


def _put(selected: Any, path: str | int, value: Any) -> None:
    if isinstance(selected, dict) and not isinstance(selected, _Sparse):
        selected[path if isinstance(path, str) else str(path)] = value
    else:
        selected[path] = value


class _Selector:
    """selectPaths over one selection document.

    With ``copy`` false, selected values are shared with the source document instead of
    copied (the selection is only read, then dropped); a container shared that way is copied
    (one level) before a later pointer writes into it, so the source is never modified.
    """

    __slots__ = ("copy", "owned")

    def __init__(self, copy: bool) -> None:
        self.copy = copy
        self.owned: set[int] = set()

    def own(self, value: Any) -> Any:
        self.owned.add(id(value))
        return value

    def select(
        self, document: Any, pointer: str, paths: list[str | int], selection: dict[str, Any]
    ) -> None:
        # 1.-4. Start at the roots of the document and of the selection.
        value: Any = document
        selected_parent: Any = selection
        selected_value: Any = selection
        # 5. Walk the paths, building the selection on the way.
        for path in paths:
            selected_parent = selected_value
            value = _child(value, path, pointer)
            selected_value = _get(selected_parent, path)
            if selected_value is _MISSING:
                selected_value = self.own(
                    _Sparse() if isinstance(value, list) else _init_selection(value)
                )
                _put(selected_parent, path, selected_value)
            elif (
                not self.copy
                and isinstance(selected_value, dict | list)
                and id(selected_value) not in self.owned
            ):
                selected_value = self.own(
                    dict(selected_value)
                    if isinstance(selected_value, dict)
                    else list(selected_value)
                )
                _put(selected_parent, path, selected_value)
        # 6. The selected value: a literal, a copy of an array, or the object merged over the
        #    selection made so far (whose id and type it repeats).
        if isinstance(value, list):
            selected_value = json_copy(value) if self.copy else value
        elif isinstance(value, dict):
            base = selected_value if isinstance(selected_value, dict) else {}
            merged = {**base, **(json_copy(value) if self.copy else value)}
            selected_value = self.own(merged)
        else:
            selected_value = value
        # 7. Set it at the last path.
        _put(selected_parent, paths[-1], selected_value)

    def dense(self, value: Any) -> Any:
        """Replace the sparse arrays by dense ones, in the containers this selection owns."""
        if isinstance(value, _Sparse):
            return [self.dense(value[index]) for index in sorted(value)]
        if id(value) not in self.owned:
            return value
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, dict | list):
                    value[key] = self.dense(item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict | list):
                    value[index] = self.dense(item)
        return value


def _select(
    document: Mapping[str, Any], pointers: Sequence[str], *, copy: bool
) -> dict[str, Any] | None:
    if isinstance(pointers, str):
        raise TypeError("pointers must be a sequence of JSON pointers, not one string")
    if len(pointers) > MAX_SD_POINTERS:
        raise MalformedError(f"more than {MAX_SD_POINTERS} JSON pointers")
    parsed = [(pointer, json_pointer_to_paths(pointer)) for pointer in pointers]
    # 1. No pointers: nothing selected.
    if not parsed:
        return None
    selector = _Selector(copy)
    # 2.-4. The initial selection of the root, with a copy of its @context.
    selection: dict[str, Any] = selector.own({})
    if "@context" in document:
        selection["@context"] = json_copy(document["@context"])
    selection.update(_init_selection(document))
    # 5. Apply each pointer.
    for pointer, paths in parsed:
        if not paths:
            return json_copy(dict(document)) if copy else dict(document)
        selector.select(document, pointer, paths, selection)
    # 6. Make the selected arrays dense.
    dense: dict[str, Any] = selector.dense(selection)
    return dense


def select_jsonld(document: Mapping[str, Any], pointers: Sequence[str]) -> dict[str, Any] | None:
    """selectJsonLd: the part of a compact document that ``pointers`` select, or ``None``.

    Every non-blank ``id`` and every ``type`` on the path of a pointer is kept; arrays that
    pointers select elements of are made dense (in document order). The empty pointer selects
    the whole document. A pointer that does not match raises :class:`MalformedError`. The
    result shares nothing with ``document``.
    """
    return _select(document, pointers, copy=True)


@dataclass(frozen=True)
class SelectedNQuads:
    """The output of selectCanonicalNQuads."""

    selection: dict[str, Any] | None
    deskolemized_nquads: list[str]
    nquads: list[str]


def select_canonical_nquads(
    pointers: Sequence[str],
    skolemized_compact: Mapping[str, Any],
    label_map: Mapping[str, str],
    *,
    loader: StaticDocumentLoader,
) -> SelectedNQuads:
    """selectCanonicalNQuads: select, to deskolemized N-Quads, relabel with ``label_map``."""
    # 1. The selection.
    selection = select_jsonld(skolemized_compact, pointers)
    # 2. Its deskolemized N-Quads.
    deskolemized = [] if selection is None else to_deskolemized_nquads(selection, loader=loader)
    # 3. Relabelled with the label map.
    return SelectedNQuads(selection, deskolemized, relabel_blank_nodes(deskolemized, label_map))


# --------------------------------------------------------------------------------------------
# canonicalizeAndGroup
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """One named group: canonical N-Quads (by index) that the selection matches, and not."""

    matching: dict[int, str]
    non_matching: dict[int, str]
    #: The selection's deskolemized quads (blank nodes carry the input labels).
    quads: list[Quad]
    #: Relabelled selection N-Quads that are not among the document's canonical N-Quads.
    unmatched: list[str]

    @property
    def deskolemized_nquads(self) -> list[str]:
        """The selection's deskolemized N-Quad strings, in the reference order."""
        return _deskolemized_lines(self.quads)


@dataclass(frozen=True)
class Grouped:
    """The output of canonicalizeAndGroup."""

    groups: dict[str, Group]
    skolemized: Skolemized
    #: The whole document's deskolemized quads.
    quads: list[Quad]
    #: Input blank node label -> new label.
    label_map: dict[str, str]
    #: The relabelled canonical N-Quads, sorted.
    nquads: list[str]

    @property
    def deskolemized_nquads(self) -> list[str]:
        """The whole document's deskolemized N-Quad strings, in the reference order."""
        return _deskolemized_lines(self.quads)


def _match(
    selected: list[Quad], label_map: Mapping[str, str], index_of: Mapping[str, int]
) -> tuple[set[int], list[str]]:
    """Indexes of the canonical N-Quads that the selected quads are, and the ones they are not."""
    hits: set[int] = set()
    unmatched: list[str] = []
    for s, p, o, g in selected:
        try:
            line = serialize_quad(
                (
                    "_:" + label_map[s[2:]] if s.startswith("_:") else s,
                    p,
                    "_:" + label_map[o[2:]] if o.startswith("_:") else o,
                    "_:" + label_map[g[2:]] if g.startswith("_:") else g,
                )
            )
        except KeyError:
            unmatched.append(serialize_quad((s, p, o, g)))
            continue
        index = index_of.get(line)
        if index is None:
            unmatched.append(line)
        else:
            hits.add(index)
    return hits, unmatched


def _union_of_earlier(
    pointers: list[str], done: list[tuple[list[str], Group]]
) -> tuple[list[Quad] | None, set[int], list[str]]:
    """The quads of a group whose pointers are two earlier groups' pointers end to end.

    Selecting ``A + B`` merges the selections of ``A`` and ``B``; every merged object keeps its
    (skolem) id, so its statements are the union of theirs, except where a list is selected in
    part, which the earlier groups show as unmatched statements. Then this returns ``None``
    and the group is selected afresh (as it always may be).
    """
    for first, (head, group_a) in enumerate(done):
        if pointers[: len(head)] != head:
            continue
        for tail, group_b in done[first + 1 :]:
            if head + tail == pointers and not group_a.unmatched and not group_b.unmatched:
                quads = list(dict.fromkeys([*group_a.quads, *group_b.quads]))
                return quads, set(group_a.matching) | set(group_b.matching), []
    return None, set(), []


def canonicalize_and_group(
    document: Mapping[str, Any],
    label_map_factory: LabelMapFactory,
    group_definitions: Mapping[str, Sequence[str]],
    *,
    loader: StaticDocumentLoader,
    random_string: str | None = None,
) -> Grouped:
    """canonicalizeAndGroup: canonicalize with replaced labels, group by JSON pointers.

    The document is converted to RDF and canonicalized once; each group costs a selection and
    the JSON-LD conversion of that (smaller) selection. ``random_string`` fixes the skolem
    identifiers (tests); by default it is a fresh UUID.
    """
    # 1. Skolemize the document.
    skolemized = _skolemize(document, loader=loader, random_string=random_string)
    # 2. Its deskolemized N-Quads.
    quads = _document_quads(skolemized.compact, skolemized, loader)
    # 3. Label replacement canonicalization: the label map and the canonical N-Quads.
    labelled = _label_replacement(quads, label_map_factory)
    label_map = labelled.label_map
    index_of = {line: index for index, line in enumerate(labelled.nquads)}
    groups: dict[str, Group] = {}
    done: list[tuple[list[str], Group]] = []
    for name, pointers in group_definitions.items():
        # 4. selectCanonicalNQuads for the group's pointers.
        selected, hits, unmatched = _union_of_earlier(list(pointers), done)
        if selected is None:
            selection = _select(skolemized.compact, pointers, copy=False)
            selected = [] if selection is None else _document_quads(selection, skolemized, loader)
            hits, unmatched = _match(selected, label_map, index_of)
        # 5. Matching and non-matching canonical N-Quads, by index.
        matching: dict[int, str] = {}
        non_matching: dict[int, str] = {}
        for index, line in enumerate(labelled.nquads):
            if index in hits:
                matching[index] = line
            else:
                non_matching[index] = line
        group = Group(matching, non_matching, selected, unmatched)
        groups[name] = group
        done.append((list(pointers), group))
    # 6. Groups, skolemized forms, deskolemized quads, label map and canonical N-Quads.
    return Grouped(groups, skolemized, quads, label_map, labelled.nquads)
