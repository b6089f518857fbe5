"""RDF Dataset Canonicalization (RDFC-1.0), https://www.w3.org/TR/rdf-canon/.

Interface (implemented in this module):

* ``canonicalize(quads, *, hash_name="sha256", max_work_factor=RDFC_MAX_WORK_FACTOR)
  -> Canonical`` where ``Canonical`` has ``quads`` (relabelled ``_:c14nN``, sorted by their
  N-Quads line), ``issued`` (input blank-node label without ``_:`` -> canonical label without
  ``_:``), and ``nquads`` (the canonical N-Quads document).
* ``relabel(quads, label_map) -> list[Quad]`` replaces blank-node labels.

Quads are the tuples of :mod:`protocol.rdf`: literals already carry their canonical N-Quads
form, so a quad is serialised by adding angle brackets around IRIs and nothing else.

Poison datasets (RDFC-1.0 section 7.1, "Dataset Poisoning") are refused with
:class:`~protocol.errors.CanonicalizationError`:

* every entry into Hash N-Degree Quads (section 4.8) is counted, and the run stops when the
  count exceeds ``max(1, blank nodes) ** max_work_factor`` or
  :data:`~protocol.limits.RDFC_MAX_DEEP_ITERATIONS`;
* the recursion of Hash N-Degree Quads is bounded by ``_MAX_RECURSION_DEPTH``, because each
  level holds a copy of the path issuer (memory quadratic in the depth) and Python frames;
* permutations that cannot recurse (every related blank node already labelled) are not
  enumerated: their shortest path is found by sorting (``_smallest_concatenation``), so the
  ``n!`` loop of step 5.4 only runs where every permutation pays at least one counted call.

``max_work_factor=0`` refuses every dataset that needs Hash N-Degree Quads at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cmp_to_key
from itertools import islice, permutations

from . import limits
from .errors import CanonicalizationError, MalformedError
from .limits import RDFC_MAX_RECURSION_DEPTH, RDFC_MAX_WORK_FACTOR
from .rdf import Quad

__all__ = ["HASH_NAMES", "Canonical", "canonicalize", "relabel"]

#: Deepest nesting of Hash N-Degree Quads calls (blank nodes on one gossip path). Credentials
#: need a few levels; an RDF list of identical items needs one per item. The bound keeps memory
#: (one issuer copy per level) and the Python stack small whatever the work budget.
_MAX_RECURSION_DEPTH = RDFC_MAX_RECURSION_DEPTH


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sha384(text: str) -> str:
    return hashlib.sha384(text.encode("utf-8")).hexdigest()


_HASHES: dict[str, Callable[[str], str]] = {"sha256": _sha256, "sha384": _sha384}

#: Hash algorithms accepted by :func:`canonicalize` (RDFC-1.0 section 3.1, "hash algorithm").
HASH_NAMES = frozenset(_HASHES)


@dataclass(frozen=True)
class Canonical:
    """The canonicalized dataset (RDFC-1.0 section 4.4.3, step 7).

    ``quads`` are relabelled with canonical blank node identifiers and sorted by their canonical
    N-Quads line; ``issued`` is the canonical issuer's issued identifiers map (labels without
    ``_:``); ``nquads`` is the serialized canonical form (section 5).
    """

    quads: list[Quad]
    issued: dict[str, str]
    nquads: str


class _State:
    """The canonicalization state (RDFC-1.0 section 4.2) plus the work accounting.

    Blank nodes are keyed by their full term (``"_:x"``); issued identifiers are kept with
    their ``_:`` prefix too, because every place that uses them (related hashes, paths,
    serialisation) needs that form.
    """

    __slots__ = (
        "budget",
        "calls",
        "canonical",
        "edges",
        "first_degree",
        "hash",
        "quads_of",
        "related_cache",
    )

    def __init__(
        self,
        quads_of: dict[str, list[_Frame]],
        first_degree: dict[str, str],
        canonical: dict[str, str],
        hash_fn: Callable[[str], str],
        budget: int,
    ) -> None:
        # Blank node to quads map (section 4.2), as pre-serialised frames.
        self.quads_of = quads_of
        # Result of Hash First Degree Quads for every blank node (section 4.6).
        self.first_degree = first_degree
        # Canonical issuer: input blank node -> "_:c14nN", in issue order (shared, mutated by
        # the caller in step 5.3).
        self.canonical = canonical
        self.hash = hash_fn
        # Hash N-Degree Quads calls allowed, and made so far.
        self.budget = budget
        self.calls = 0
        # Per blank node: (related blank node, position + "<predicate>") for step 3 of 4.8.3.
        self.edges: dict[str, list[tuple[str, str]]] = {}
        # Hash Related Blank Node results by their hashed input: the hash is a pure function
        # of the input string, so the cache is exact.
        self.related_cache: dict[str, str] = {}

    def related_edges(self, identifier: str) -> list[tuple[str, str]]:
        """For every quad mentioning ``identifier``, its other blank node components.

        Returns ``(related, prefix)`` pairs in quad order, then subject, object, graph order,
        where ``prefix`` is steps 1 and 2 of Hash Related Blank Node (section 4.7.3).
        """
        found = self.edges.get(identifier)
        if found is not None:
            return found
        edges: list[tuple[str, str]] = []
        for (s, p, o, g), _, _, _, _, mask in self.quads_of[identifier]:
            if mask & _S and s != identifier:
                edges.append((s, "s<" + p + ">"))
            if mask & _O and o != identifier:
                edges.append((o, "o<" + p + ">"))
            if mask & _G and g != identifier:
                edges.append((g, "g"))
        self.edges[identifier] = edges
        return edges

    def hash_n_degree_quads(
        self, identifier: str, issuer: dict[str, str], depth: int
    ) -> tuple[str, dict[str, str]]:
        """Hash N-Degree Quads, https://www.w3.org/TR/rdf-canon/#hash-nd-quads-algorithm.

        ``issuer`` is the path identifier issuer: input blank node -> ``"_:bN"``, its counter
        being ``len(issuer)``. It is never mutated; the returned issuer is a new dict or
        ``issuer`` itself.
        """
        self.calls += 1
        if self.calls > self.budget:
            raise CanonicalizationError(
                "RDFC-1.0 work limit exceeded: the dataset needs more than "
                f"{self.budget} Hash N-Degree Quads steps (a poison dataset)"
            )
        if depth > _MAX_RECURSION_DEPTH:
            raise CanonicalizationError(
                "RDFC-1.0 recursion limit exceeded: more than "
                f"{_MAX_RECURSION_DEPTH} nested blank nodes share one gossip path"
            )
        canonical = self.canonical
        hash_fn = self.hash
        cache = self.related_cache
        first_degree = self.first_degree
        # 1. Create a new map Hn for relating hashes to related blank nodes.
        hn: dict[str, list[str]] = {}
        # 2. quads: the mention set of identifier (pre-computed as edges).
        # 3. For each quad in quads:
        #   3.1. for each blank node component other than identifier:
        for related, prefix in self.related_edges(identifier):
            # 3.1.1. hash = Hash Related Blank Node (section 4.7.3), inlined:
            #   1.-2. input = position, then "<predicate>" unless the position is g;
            #   3. the canonical identifier, else the one issued by issuer, with "_:";
            #   4. otherwise the first-degree hash of related;
            label = canonical.get(related) or issuer.get(related) or first_degree[related]
            text = prefix + label
            #   5. the hash of input.
            related_hash = cache.get(text)
            if related_hash is None:
                related_hash = cache[text] = hash_fn(text)
            # 3.1.2. Add a mapping of hash to the blank node identifier for component to Hn.
            bucket = hn.get(related_hash)
            if bucket is None:
                hn[related_hash] = [related]
            else:
                bucket.append(related)
        # 4. Create an empty string, data to hash.
        data: list[str] = []
        # 5. For each related hash to blank node list mapping in Hn, code point ordered by
        #    related hash:
        for related_hash in sorted(hn):
            blank_nodes = hn[related_hash]
            # 5.1. Append the related hash to the data to hash.
            data.append(related_hash)
            if all(n in canonical or n in issuer for n in blank_nodes):
                # Every related blank node already has an identifier, so no permutation
                # issues one or recurses (5.4.4.2.1 never fires) and every path has the same
                # length: the chosen path of step 5.4 is the smallest concatenation of the
                # identifiers, which sorting with the "a + b < b + a" order gives without
                # enumerating the n! permutations. The chosen issuer is issuer itself.
                # 5.5. Append chosen path to data to hash.
                data.append(
                    _smallest_concatenation([canonical.get(n) or issuer[n] for n in blank_nodes])
                )
                # 5.6. (issuer is unchanged)
                continue
            # 5.2. Create a string chosen path.
            chosen_path = ""
            # 5.3. Create an unset chosen issuer variable.
            chosen_issuer: dict[str, str] | None = None
            # 5.4. For each permutation p of blank node list:
            for perm in permutations(blank_nodes):
                # 5.4.1. Create a copy of issuer, issuer copy.
                issuer_copy = dict(issuer)
                # 5.4.2. Create a string path.
                path = ""
                # 5.4.3. Create a recursion list.
                recursion: list[str] = []
                skip = False
                # 5.4.4. For each related in p:
                for related in perm:
                    issued = canonical.get(related)
                    if issued is not None:
                        # 5.4.4.1. Append "_:" and the canonical identifier to path.
                        path += issued
                    else:
                        # 5.4.4.2.1. If issuer copy has not issued an identifier for related,
                        #            append related to recursion list.
                        issued = issuer_copy.get(related)
                        if issued is None:
                            recursion.append(related)
                            # 5.4.4.2.2. Issue Identifier (section 4.5.2) on issuer copy.
                            issued = issuer_copy[related] = "_:b" + str(len(issuer_copy))
                        path += issued
                    # 5.4.4.3. Skip to the next permutation if path can no longer win.
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        skip = True
                        break
                if skip:
                    continue
                # 5.4.5. For each related in recursion list:
                for related in recursion:
                    # 5.4.5.1. result = Hash N-Degree Quads(related, issuer copy).
                    result_hash, result_issuer = self.hash_n_degree_quads(
                        related, issuer_copy, depth + 1
                    )
                    # 5.4.5.2. Issue Identifier on issuer copy for related; append it.
                    # 5.4.5.3. Append "<", the hash in result, and ">" to path.
                    # 5.4.5.4. Set issuer copy to the identifier issuer in result.
                    # (related was issued in 5.4.4.2.2 and result's issuer extends issuer
                    # copy, so the identifier is the one already issued.)
                    issuer_copy = result_issuer
                    path += issuer_copy[related] + "<" + result_hash + ">"
                    # 5.4.5.5. Skip to the next permutation if path can no longer win.
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        skip = True
                        break
                if skip:
                    continue
                # 5.4.6. Keep path if it is the first or the smallest so far.
                if not chosen_path or path < chosen_path:
                    chosen_path = path
                    chosen_issuer = issuer_copy
            # 5.5. Append chosen path to data to hash.
            data.append(chosen_path)
            # 5.6. Replace issuer, by reference, with chosen issuer.
            if chosen_issuer is not None:
                issuer = chosen_issuer
        # 6. Return issuer and the hash of data to hash.
        return hash_fn("".join(data)), issuer


def _concat_cmp(a: str, b: str) -> int:
    ab, ba = a + b, b + a
    return (ab > ba) - (ab < ba)


_CONCAT_ORDER = cmp_to_key(_concat_cmp)


def _smallest_concatenation(labels: list[str]) -> str:
    """The code point smallest concatenation of ``labels`` over all their orders.

    Ordering by ``a + b < b + a`` gives it (a plain sort does not: ``_:b1`` sorts before
    ``_:b10`` but ``_:b10_:b1`` is smaller than ``_:b1_:b10``).
    """
    return "".join(sorted(labels, key=_CONCAT_ORDER))


# A quad with blank nodes, pre-serialised once: (quad, subject, " <predicate> ", object,
# graph, mask). Subject and object are N-Quads text (blank nodes as their raw term); graph is ""
# or " <iri>" for IRIs and the raw term for a blank node; mask says which of subject (_S),
# object (_O) and graph (_G) are blank nodes. Joining the pieces, blank nodes replaced, gives
# the line of protocol.rdf.serialize_quad.
_Frame = tuple[Quad, str, str, str, str, int]
_S, _O, _G = 1, 2, 4


def _first_degree_line(frame: _Frame, reference: str) -> str:
    """Step 3.1 of Hash First Degree Quads: the canonical N-Quads line with blank nodes
    replaced by ``_:a`` (the reference blank node) or ``_:z`` (any other)."""
    _, s, p, o, g, mask = frame
    if mask & _S:
        s = "_:a" if s == reference else "_:z"
    if mask & _O:
        o = "_:a" if o == reference else "_:z"
    if mask & _G:
        g = " _:a" if g == reference else " _:z"
    return s + p + o + g + " .\n"


def canonicalize(
    quads: Iterable[Quad],
    *,
    hash_name: str = "sha256",
    max_work_factor: int = RDFC_MAX_WORK_FACTOR,
) -> Canonical:
    """Canonicalize a dataset with RDFC-1.0, https://www.w3.org/TR/rdf-canon/#canon-algo-algo.

    Duplicate quads are dropped (a dataset is a set). ``hash_name`` is one of
    :data:`HASH_NAMES`. ``max_work_factor`` bounds the Hash N-Degree Quads calls to
    ``max(1, blank nodes) ** max_work_factor`` (0 refuses any dataset that needs one).

    Raises :class:`CanonicalizationError` for datasets above ``MAX_QUADS`` or
    ``MAX_BLANK_NODES`` and for poison datasets; ``ValueError`` for an unknown hash name or a
    negative work factor.
    """
    hash_fn = _HASHES.get(hash_name)
    if hash_fn is None:
        raise ValueError(f"unsupported RDFC-1.0 hash algorithm {hash_name!r}")
    if max_work_factor < 0:
        raise ValueError("max_work_factor must be >= 0")
    # The input dataset is a set of quads: refuse oversized input before doing any work, then
    # drop duplicates, keeping the first-seen order.
    received = list(islice(quads, limits.MAX_QUADS + 1))
    if len(received) > limits.MAX_QUADS:
        raise CanonicalizationError(f"dataset has more than {limits.MAX_QUADS} quads")
    dataset = dict.fromkeys(received)

    # 1. Create the canonicalization state (the blank node labels of the input are the input
    #    blank node identifier map).
    # 2. For every quad Q in input dataset:
    #   2.1. for each blank node component of Q, add a reference to Q to the blank node to
    #        quads map entry of that blank node (once per quad).
    # Quads without blank nodes are serialised here, once: relabelling cannot change them.
    quads_of: dict[str, list[_Frame]] = {}
    ground: list[tuple[str, Quad]] = []
    with_blanks: list[_Frame] = []
    for quad in dataset:
        s, p, o, g = quad
        mask = 0
        if s.startswith("_:"):
            mask = _S
        else:
            s = "<" + s + ">"
        if o.startswith("_:"):
            mask |= _O
        elif not o.startswith('"'):
            o = "<" + o + ">"
        if g:
            if g.startswith("_:"):
                mask |= _G
            else:
                g = " <" + g + ">"
        p = " <" + p + "> "
        if not mask:
            ground.append((s + p + o + g + " .\n", quad))
            continue
        frame = (quad, s, p, o, g, mask)
        with_blanks.append(frame)
        if mask & _S:
            mentions = quads_of.get(s)
            if mentions is None:
                quads_of[s] = [frame]
            else:
                mentions.append(frame)
        if mask & _O:
            mentions = quads_of.get(o)
            if mentions is None:
                quads_of[o] = [frame]
            elif mentions[-1] is not frame:
                mentions.append(frame)
        if mask & _G:
            mentions = quads_of.get(g)
            if mentions is None:
                quads_of[g] = [frame]
            elif mentions[-1] is not frame:
                mentions.append(frame)

    if not quads_of:
        return _finish(ground, with_blanks, {})
    if len(quads_of) > limits.MAX_BLANK_NODES:
        raise CanonicalizationError(
            f"dataset has {len(quads_of)} blank nodes, more than the limit of "
            f"{limits.MAX_BLANK_NODES}"
        )

    # 3. For each blank node n, compute its first-degree hash (section 4.6: serialise each
    #    mention with _:a / _:z, 4. sort, 5. hash the concatenation) and 3.2. append n to the
    #    hash to blank nodes map entry of that hash.
    first_degree: dict[str, str] = {}
    by_hash: dict[str, list[str]] = {}
    for n, mentions in quads_of.items():
        if len(mentions) == 1:
            digest = hash_fn(_first_degree_line(mentions[0], n))
        else:
            digest = hash_fn("".join(sorted(_first_degree_line(q, n) for q in mentions)))
        first_degree[n] = digest
        group = by_hash.get(digest)
        if group is None:
            by_hash[digest] = [n]
        else:
            group.append(n)

    canonical: dict[str, str] = {}
    shared: list[tuple[str, list[str]]] = []
    # 4. For each hash to identifier list entry, code point ordered by hash:
    for digest in sorted(by_hash):
        group = by_hash[digest]
        if len(group) > 1:
            # 4.1. More than one blank node: left for step 5.
            shared.append((digest, group))
            continue
        # 4.2. Issue a canonical identifier for the single blank node.
        # 4.3. (the entry is not kept for step 5)
        canonical[group[0]] = "_:c14n" + str(len(canonical))

    if shared:
        budget = _work_budget(len(quads_of), max_work_factor)
        state = _State(quads_of, first_degree, canonical, hash_fn, budget)
        # 5. For each hash to identifier list entry (shared hashes), code point ordered by hash:
        for _digest, group in shared:
            # 5.1. Create hash path list.
            hash_path_list: list[tuple[str, dict[str, str]]] = []
            # 5.2. For each blank node identifier n in identifier list:
            for n in group:
                # 5.2.1. Skip n if a canonical identifier has already been issued for it.
                if n in canonical:
                    continue
                # 5.2.2.-5.2.3. A temporary issuer with prefix b, issuing _:b0 to n.
                temporary = {n: "_:b0"}
                # 5.2.4. Run Hash N-Degree Quads and append the result.
                hash_path_list.append(state.hash_n_degree_quads(n, temporary, 0))
            # 5.3. For each result, code point ordered by its hash (a stable sort):
            hash_path_list.sort(key=_result_hash)
            for _hash, issuer in hash_path_list:
                # 5.3.1. Issue canonical identifiers in the order of the result's issuer
                #        (Issue Identifier returns an existing one unchanged).
                for existing in issuer:
                    if existing not in canonical:
                        canonical[existing] = "_:c14n" + str(len(canonical))

    # 6. The issued identifiers map of the canonical issuer; 7. the serialized canonical form.
    return _finish(ground, with_blanks, canonical)


def _work_budget(blank_nodes: int, max_work_factor: int) -> int:
    """``min(max(1, blank_nodes) ** max_work_factor, RDFC_MAX_DEEP_ITERATIONS)``, without
    building a huge power for a large factor; 0 for a factor of 0."""
    if max_work_factor == 0:
        return 0
    ceiling = limits.RDFC_MAX_DEEP_ITERATIONS
    if blank_nodes <= 1:
        return min(1, ceiling)
    budget = 1
    for _ in range(max_work_factor):
        budget *= blank_nodes
        if budget >= ceiling:
            return ceiling
    return budget


def _result_hash(result: tuple[str, dict[str, str]]) -> str:
    return result[0]


def _finish(
    ground: list[tuple[str, Quad]], with_blanks: list[_Frame], canonical: dict[str, str]
) -> Canonical:
    """Steps 6 and 7: relabel with the canonical issuer, sort by canonical N-Quads line."""
    pairs = ground
    for (qs, qp, qo, qg), s, p, o, g, mask in with_blanks:
        if mask & _S:
            s = qs = canonical[s]
        if mask & _O:
            o = qo = canonical[o]
        if mask & _G:
            qg = canonical[g]
            g = " " + qg
        pairs.append((s + p + o + g + " .\n", (qs, qp, qo, qg)))
    # Lines are distinct (the dataset has no duplicates and relabelling is a bijection), so the
    # sort never compares the quads themselves.
    pairs.sort()
    return Canonical(
        quads=[quad for _, quad in pairs],
        issued={n[2:]: c[2:] for n, c in canonical.items()},
        nquads="".join([line for line, _ in pairs]),
    )


def relabel(quads: Iterable[Quad], label_map: Mapping[str, str]) -> list[Quad]:
    """Replace blank node labels using ``label_map`` (labels without ``_:`` on both sides).

    Quad order is kept. A blank node whose label is not in the map raises
    :class:`MalformedError` (a label map that does not cover the dataset is not usable).
    """

    def swap(term: str) -> str:
        if not term.startswith("_:"):
            return term
        new = label_map.get(term[2:])
        if new is None:
            raise MalformedError(f"blank node {term!r} has no entry in the label map")
        return "_:" + new

    return [(swap(s), p, swap(o), swap(g)) for s, p, o, g in quads]
