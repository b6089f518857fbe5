"""RDFC-1.0 (protocol.rdfc) against the W3C rdf-canon test suite, cross-checked with pyld's
URDNA2015, plus property tests on random datasets.

The suite is driven from ``tests/vectors/rdf-canon/manifest.jsonld``: every
``rdfc:RDFC10EvalTest`` compares the canonical N-Quads bytes with the ``-rdfc10.nq`` file, every
``rdfc:RDFC10MapTest`` compares the issued identifiers map with the ``-rdfc10map.json`` file, and
every ``rdfc:RDFC10NegativeEvalTest`` must raise ``CanonicalizationError``. Per-test parameters
come from the manifest: ``hashAlgorithm`` (SHA256 when absent) and, for negative tests, a low work
factor (the vectors README: "negative tests, which must error with maxWorkFactor 1"; the honest
tests run with the library default, which must admit all of them).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import FrozenInstanceError
from itertools import permutations
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyld import jsonld

from protocol import limits
from protocol.errors import CanonicalizationError, MalformedError
from protocol.limits import RDFC_MAX_WORK_FACTOR
from protocol.rdf import (
    XSD_STRING,
    Quad,
    literal,
    parse_nquads,
    serialize_nquads,
    serialize_quad,
)
from protocol.rdfc import (
    HASH_NAMES,
    _smallest_concatenation,
    _work_budget,
    canonicalize,
    relabel,
)
from tests.conftest import vector_path

SUITE = vector_path("rdf-canon")
MANIFEST: dict[str, Any] = json.loads((SUITE / "manifest.jsonld").read_text("utf-8"))
ENTRIES: list[dict[str, Any]] = MANIFEST["entries"]

EVAL = "rdfc:RDFC10EvalTest"
MAP = "rdfc:RDFC10MapTest"
NEGATIVE = "rdfc:RDFC10NegativeEvalTest"

# Counts of the copied suite (tests/vectors/README.md). A suite that grows, shrinks or comes up
# empty fails here instead of passing silently.
EXPECTED_COUNTS = {EVAL: 64, MAP: 21, NEGATIVE: 1}

HASHES = {"SHA256": "sha256", "SHA384": "sha384"}

# The negative (poison) tests run with this work factor, as the suite's README prescribes.
NEGATIVE_WORK_FACTOR = 1

# Inputs that protocol.rdf.parse_nquads cannot read yet: test060 writes IRIs with \uXXXX
# escapes (IRIREF allows UCHAR), and the IRI pattern of protocol/rdf.py rejects any backslash.
# Strict xfail: once the parser is fixed these flip to XPASS and fail, so the mark gets removed.
PARSER_GAPS: dict[str, str] = {}


def _stem(entry: dict[str, Any]) -> str:
    return str(entry["action"]).rsplit("/", 1)[-1].removesuffix("-in.nq")


def _params(kind: str) -> list[Any]:
    params = []
    for entry in ENTRIES:
        if entry["type"] != kind:
            continue
        gap = PARSER_GAPS.get(_stem(entry))
        marks = [pytest.mark.xfail(raises=MalformedError, strict=True, reason=gap)] if gap else []
        params.append(pytest.param(entry, id=entry["id"].lstrip("#"), marks=marks))
    return params


def _read_input(entry: dict[str, Any]) -> list[Quad]:
    return parse_nquads((SUITE / entry["action"]).read_text("utf-8"))


def _hash_name(entry: dict[str, Any]) -> str:
    # An unknown algorithm (say SHA512 in a future suite) is a KeyError, not a silent default.
    return HASHES[entry.get("hashAlgorithm", "SHA256")]


def _blank_labels(quads: list[Quad]) -> set[str]:
    return {t[2:] for q in quads for t in (q[0], q[2], q[3]) if t.startswith("_:")}


def test_manifest_counts() -> None:
    counts = Counter(entry["type"] for entry in ENTRIES)
    assert dict(counts) == EXPECTED_COUNTS
    # Every per-test parameter we read is one we understand.
    assert {entry.get("hashAlgorithm", "SHA256") for entry in ENTRIES} <= set(HASHES)
    assert len(_params(EVAL)) == EXPECTED_COUNTS[EVAL]
    assert len(_params(MAP)) == EXPECTED_COUNTS[MAP]
    assert len(_params(NEGATIVE)) == EXPECTED_COUNTS[NEGATIVE]


def test_default_work_factor_is_the_suite_minimum() -> None:
    # The vectors README: "The eval tests need maxWorkFactor: 3". If the default ever drops,
    # the eval tests below (which run with the default) fail; if it grows, poison datasets get
    # more room than any honest test needs.
    assert RDFC_MAX_WORK_FACTOR == 3


@pytest.mark.parametrize("entry", _params(EVAL))
def test_eval(entry: dict[str, Any]) -> None:
    expected = (SUITE / entry["result"]).read_text("utf-8")
    result = canonicalize(_read_input(entry), hash_name=_hash_name(entry))
    assert result.nquads == expected
    # The quads and the text agree, line by line, with protocol.rdf.serialize_quad.
    assert "".join(serialize_quad(q) for q in result.quads) == expected
    assert parse_nquads(expected) == result.quads


@pytest.mark.parametrize("entry", _params(MAP))
def test_map(entry: dict[str, Any]) -> None:
    expected = json.loads((SUITE / entry["result"]).read_text("utf-8"))
    quads = _read_input(entry)
    result = canonicalize(quads, hash_name=_hash_name(entry))
    assert result.issued == expected
    # The keys are exactly the input blank node identifiers (suite README).
    assert set(result.issued) == _blank_labels(quads)


@pytest.mark.parametrize("entry", _params(NEGATIVE))
def test_negative(entry: dict[str, Any]) -> None:
    quads = _read_input(entry)
    with pytest.raises(CanonicalizationError):
        canonicalize(quads, hash_name=_hash_name(entry), max_work_factor=NEGATIVE_WORK_FACTOR)
    # The library default refuses the poison dataset too.
    with pytest.raises(CanonicalizationError):
        canonicalize(quads, hash_name=_hash_name(entry))


# --- Cross-check with pyld's URDNA2015 -------------------------------------------------------
#
# pyld's normalize(algorithm="URDNA2015") is the same algorithm under its pre-REC name, so its
# output must equal ours byte for byte, with these documented exceptions:
#
# 1. Escaping (RDFC-1.0 appendix A, canonical n-quads form): RDFC-1.0 writes U+0008 as \b,
#    U+000C as \f, and U+0000-U+0007, U+000B, U+000E-U+001F, U+007F as \uXXXX (upper-case hex).
#    pyld (nquads.escape) escapes only \\ \t \n \r and ", and writes every other control
#    character raw. Since first-degree hashes hash those lines, a control character in a quad
#    that mentions a blank node could even change the labelling; the suite has none there.
#    test_pyld_control_character_escaping pins the difference.
# 2. Repeated blank nodes: RDFC-1.0 step 2.1 adds a quad once to the mention set of each blank
#    node in it; pyld (canon.URDNA2015.main) appends it once per occurrence, so a quad such as
#    `_:a <p> _:a .` is hashed twice and first-degree hashes change. rdf-canonize (the JS
#    reference) uses a set, as we do. test_pyld_repeated_blank_node_divergence pins it.
# 3. pyld's N-Quads reader (nquads.unescape, a chain of str.replace) decodes no \uXXXX escape
#    and mis-reads a backslash followed by t, n, r or ", so inputs written with those escapes
#    reach pyld as a different dataset. Only test060 does so, and it is also a parser gap of
#    ours (PARSER_GAPS), so it is left out of this cross-check (PYLD_READER_GAPS).
# 4. pyld (canon.URDNA2015.main, step 7) leaves alone any input blank node whose label already
#    starts with "c14n", whatever the canonical issuer gave it, so an input labelled _:c14nN in
#    a non-canonical order comes out wrong. The suite has no such input; the random datasets
#    below use other labels. test_pyld_keeps_c14n_input_labels pins it.
PYLD_READER_GAPS = {"test060"}
PYLD_OPTIONS = {
    "algorithm": "URDNA2015",
    "inputFormat": "application/n-quads",
    "format": "application/n-quads",
}


def _pyld_normalize(text: str) -> str:
    return str(jsonld.normalize(text, dict(PYLD_OPTIONS)))


def _rdfc_escaped(nquads: str) -> str:
    """Re-read N-Quads text and write it in RDFC-1.0 canonical form, sorted."""
    return "".join(sorted(serialize_quad(q) for q in parse_nquads(nquads)))


PYLD_ENTRIES = [
    pytest.param(entry, id=entry["id"].lstrip("#"))
    for entry in ENTRIES
    # pyld hashes with SHA-256 only.
    if entry["type"] == EVAL
    and "hashAlgorithm" not in entry
    and _stem(entry) not in PYLD_READER_GAPS
]


def test_pyld_cross_check_covers_the_suite() -> None:
    sha384 = sum(1 for e in ENTRIES if e["type"] == EVAL and "hashAlgorithm" in e)
    gaps = sum(1 for e in ENTRIES if e["type"] == EVAL and _stem(e) in PYLD_READER_GAPS)
    assert len(PYLD_ENTRIES) == EXPECTED_COUNTS[EVAL] - sha384 - gaps == 62


@pytest.mark.parametrize("entry", PYLD_ENTRIES)
def test_pyld_agrees(entry: dict[str, Any]) -> None:
    text = (SUITE / entry["action"]).read_text("utf-8")
    ours = canonicalize(parse_nquads(text)).nquads
    assert _pyld_normalize(text) == ours


def test_pyld_control_character_escaping() -> None:
    # Raw control characters, which both N-Quads readers take as they are. (pyld splits its
    # input with str.splitlines, so U+000B, U+000C and U+001C-U+001E cannot reach it raw.)
    text = (
        '<urn:ex:s> <urn:ex:p> "soh\x01 bell\x07 backspace\x08 us\x1f del\x7f" .\n'
        '<urn:ex:s> <urn:ex:q> _:b0 .\n_:b0 <urn:ex:p> "tab\t" .\n'
    )
    ours = canonicalize(parse_nquads(text)).nquads
    theirs = _pyld_normalize(text)
    assert '"soh\\u0001 bell\\u0007 backspace\\b us\\u001F del\\u007F"' in ours
    assert theirs != ours  # difference 1 above
    assert _rdfc_escaped(theirs) == ours  # and nothing else differs


def test_pyld_repeated_blank_node_divergence() -> None:
    quads: list[Quad] = [
        ("_:x", "urn:ex:p", "_:x", ""),
        ("_:x", "urn:ex:q", "urn:ex:o", ""),
        ("_:y", "urn:ex:p", "urn:ex:o", "_:y"),
        ("_:y", "urn:ex:q", "urn:ex:o", ""),
    ]
    ours = canonicalize(quads)
    # Mention sets of one quad each: sha256 of the first-degree lines of _:y ("290f...") sorts
    # before that of _:x ("81a7..."). Counting `_:x <urn:ex:p> _:x` twice, as pyld does, gives
    # "19c4..." for _:x and "3068..." for _:y: the other order. The W3C suite does not pin this.
    assert ours.issued == {"y": "c14n0", "x": "c14n1"}
    theirs = _pyld_normalize(serialize_nquads(quads))
    assert ours.nquads != theirs  # difference 2 above
    # The same datasets, labelled differently.
    assert canonicalize(parse_nquads(theirs)).nquads == ours.nquads


def test_pyld_keeps_c14n_input_labels() -> None:
    text = '_:c14n0 <urn:ex:p> "b" .\n_:c14n1 <urn:ex:p> "a" .\n'
    ours = canonicalize(parse_nquads(text))
    assert ours.issued == {"c14n0": "c14n1", "c14n1": "c14n0"}
    assert ours.nquads == '_:c14n0 <urn:ex:p> "a" .\n_:c14n1 <urn:ex:p> "b" .\n'
    assert _pyld_normalize(text.replace("_:c14n", "_:x")) == ours.nquads
    assert _pyld_normalize(text) == text  # difference 4 above


# --- Behaviour outside the suite ---------------------------------------------------------------

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def _identical_list(length: int) -> list[Quad]:
    """An RDF list of identical items: its middle nodes share a first-degree hash, and the
    gossip path of each runs along the whole list."""
    quads: list[Quad] = [("urn:ex:s", "urn:ex:list", "_:l0", "")]
    for i in range(length):
        rest = f"_:l{i + 1}" if i < length - 1 else RDF + "nil"
        quads.append((f"_:l{i}", RDF + "first", literal("same"), ""))
        quads.append((f"_:l{i}", RDF + "rest", rest, ""))
    return quads


def _clique(size: int) -> list[Quad]:
    return [
        (f"_:n{i}", "urn:ex:p", f"_:n{j}", "") for i in range(size) for j in range(size) if i != j
    ]


def test_no_blank_nodes_and_empty() -> None:
    quads: list[Quad] = [
        ("urn:ex:b", "urn:ex:p", literal("x"), "urn:ex:g"),
        ("urn:ex:a", "urn:ex:p", "urn:ex:o", ""),
        ("urn:ex:a", "urn:ex:p", "urn:ex:o", ""),
    ]
    result = canonicalize(quads)
    assert result.issued == {}
    assert result.nquads == (
        '<urn:ex:a> <urn:ex:p> <urn:ex:o> .\n<urn:ex:b> <urn:ex:p> "x" <urn:ex:g> .\n'
    )
    empty = canonicalize([])
    assert (empty.quads, empty.issued, empty.nquads) == ([], {}, "")


def test_canonical_is_frozen() -> None:
    result = canonicalize([("_:a", "urn:ex:p", "urn:ex:o", "")])
    with pytest.raises(FrozenInstanceError):
        result.nquads = ""  # type: ignore[misc]


def test_input_is_any_iterable() -> None:
    quads = _identical_list(3)
    assert canonicalize(iter(quads)) == canonicalize(quads)
    assert canonicalize(q for q in quads) == canonicalize(tuple(quads))


def test_hash_names() -> None:
    assert frozenset({"sha256", "sha384"}) == HASH_NAMES
    quads = _identical_list(4)
    assert canonicalize(quads, hash_name="sha384").nquads == canonicalize(quads).nquads
    with pytest.raises(ValueError, match="hash"):
        canonicalize(quads, hash_name="md5")
    with pytest.raises(ValueError, match="max_work_factor"):
        canonicalize(quads, max_work_factor=-1)


def test_work_factor_zero_allows_only_unique_first_degree_hashes() -> None:
    unique = [("_:a", "urn:ex:p", literal("1"), ""), ("_:b", "urn:ex:p", literal("2"), "")]
    assert sorted(canonicalize(unique, max_work_factor=0).issued.items()) == [
        ("a", "c14n1"),  # sha256 of '_:a <urn:ex:p> "1" .\n' sorts after that of "2"
        ("b", "c14n0"),
    ]
    with pytest.raises(CanonicalizationError, match="work limit"):
        canonicalize(_identical_list(4), max_work_factor=0)


def test_poison_budget_scales_with_blank_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 6-clique needs a few thousand Hash N-Degree Quads calls: over 6**3, under 6**5.
    with pytest.raises(CanonicalizationError, match="work limit"):
        canonicalize(_clique(6))
    assert (
        canonicalize(_clique(6), max_work_factor=5).nquads
        == canonicalize(list(reversed(_clique(6))), max_work_factor=5).nquads
    )
    # Whatever the work factor, the hard ceiling applies.
    monkeypatch.setattr(limits, "RDFC_MAX_DEEP_ITERATIONS", 1000)
    with pytest.raises(CanonicalizationError, match="1000"):
        canonicalize(_clique(6), max_work_factor=50)


def test_deep_gossip_paths() -> None:
    # 50 identical items: ~2,300 calls, 50 deep; pyld agrees.
    quads = _identical_list(50)
    ours = canonicalize(quads).nquads
    assert ours == _pyld_normalize(serialize_nquads(quads))
    # 300 identical items: the recursion bound stops the descent.
    with pytest.raises(CanonicalizationError, match="recursion"):
        canonicalize(_identical_list(300))


def test_size_limits() -> None:
    too_many_quads = [
        (f"urn:ex:s{i}", "urn:ex:p", "urn:ex:o", "") for i in range(limits.MAX_QUADS + 1)
    ]
    with pytest.raises(CanonicalizationError, match="quads"):
        canonicalize(too_many_quads)
    too_many_blank_nodes = [
        (f"_:b{i}", "urn:ex:p", literal(str(i)), "") for i in range(limits.MAX_BLANK_NODES + 1)
    ]
    with pytest.raises(CanonicalizationError, match="blank nodes"):
        canonicalize(too_many_blank_nodes)
    # At the limit, it works.
    canonicalize(too_many_blank_nodes[:-1])


def test_relabel() -> None:
    quads: list[Quad] = [
        ("_:c14n0", "urn:ex:p", "_:c14n1", "_:c14n0"),
        ("urn:ex:s", "urn:ex:p", literal("_:c14n0"), ""),
    ]
    out = relabel(quads, {"c14n0": "uAbc", "c14n1": "uXyz"})
    assert out == [
        ("_:uAbc", "urn:ex:p", "_:uXyz", "_:uAbc"),
        ("urn:ex:s", "urn:ex:p", '"_:c14n0"', ""),
    ]
    with pytest.raises(MalformedError, match="c14n1"):
        relabel(quads, {"c14n0": "uAbc"})


# --- Properties on random datasets --------------------------------------------------------------

_IRIS = ["urn:ex:a", "urn:ex:b", "http://example.org/vocab#thing"]
_PREDICATES = ["urn:ex:p", "urn:ex:q", RDF + "type"]
_LITERALS = [
    literal("v"),
    literal("v", language="en"),
    literal("1", "http://www.w3.org/2001/XMLSchema#integer"),
    literal('say "hi"\nthen tab\t'),
    literal("caf\u00e9 \U0001f303", XSD_STRING),
]


@st.composite
def _datasets(draw: st.DrawFn, *, repeated_blank_nodes: bool = True) -> list[Quad]:
    size = draw(st.integers(min_value=1, max_value=6))
    blank = st.integers(min_value=0, max_value=size - 1).map(lambda i: f"_:n{i}")
    quad = st.tuples(
        st.one_of(blank, st.sampled_from(_IRIS)),
        st.sampled_from(_PREDICATES),
        st.one_of(blank, st.sampled_from(_IRIS), st.sampled_from(_LITERALS)),
        st.one_of(st.just(""), blank, st.just("urn:ex:g")),
    )
    quads = draw(st.lists(quad, min_size=1, max_size=14))
    if not repeated_blank_nodes:
        quads = [q for q in quads if not _repeats_blank(q)]
        assume(quads)
    return quads


def _repeats_blank(quad: Quad) -> bool:
    blanks = [t for t in (quad[0], quad[2], quad[3]) if t.startswith("_:")]
    return len(blanks) != len(set(blanks))


def _isomorphic_copy(quads: list[Quad], seed: int, prefix: str) -> list[Quad]:
    """Rename every blank node (bijectively), shuffle, and duplicate some quads."""
    rng = random.Random(seed)
    labels = sorted(_blank_labels(quads))
    targets = [f"{prefix}{i}" for i in range(len(labels))]
    rng.shuffle(targets)
    renamed = relabel(quads, dict(zip(labels, targets, strict=True)))
    renamed += rng.sample(renamed, k=len(renamed) // 3)
    rng.shuffle(renamed)
    return renamed


# Enough budget for any dataset of 6 blank nodes (a 6-clique needs ~3,600 calls).
_PROPERTY_WORK_FACTOR = 6
_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


@_SETTINGS
@given(
    quads=_datasets(),
    seed=st.integers(min_value=0, max_value=2**32),
    prefix=st.sampled_from(["b", "c14n", "e", "x_", "n"]),
)
def test_isomorphic_datasets_canonicalize_identically(
    quads: list[Quad], seed: int, prefix: str
) -> None:
    result = canonicalize(quads, max_work_factor=_PROPERTY_WORK_FACTOR)
    other = canonicalize(
        _isomorphic_copy(quads, seed, prefix), max_work_factor=_PROPERTY_WORK_FACTOR
    )
    assert other.nquads == result.nquads
    assert other.quads == result.quads

    labels = _blank_labels(quads)
    # The issued map covers every blank node with c14n0..c14nN-1.
    assert set(result.issued) == labels
    assert sorted(result.issued.values()) == sorted(f"c14n{i}" for i in range(len(labels)))
    # It is the map that relabels the input into the output.
    assert sorted(set(relabel(quads, result.issued)), key=serialize_quad) == result.quads
    # The output is sorted, duplicate-free, and made of serialize_quad lines.
    lines = [serialize_quad(q) for q in result.quads]
    assert lines == sorted(set(lines))
    assert "".join(lines) == result.nquads
    # Canonicalizing the canonical form changes nothing.
    again = canonicalize(result.quads, max_work_factor=_PROPERTY_WORK_FACTOR)
    assert again.nquads == result.nquads
    assert sorted(again.issued) == sorted(again.issued.values())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(quads=_datasets(repeated_blank_nodes=False))
def test_random_datasets_agree_with_pyld(quads: list[Quad]) -> None:
    # Literals here use only characters both implementations escape alike (see above).
    ours = canonicalize(quads, max_work_factor=_PROPERTY_WORK_FACTOR).nquads
    assert _pyld_normalize(serialize_nquads(quads)) == ours


@settings(max_examples=300, deadline=None)
@given(
    labels=st.lists(
        st.builds(
            "_:{}{}".format,
            st.sampled_from(["b", "c14n"]),
            st.integers(min_value=0, max_value=120),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_labelled_permutations_shortcut(labels: list[str]) -> None:
    # When every related blank node of a Hash N-Degree Quads step 5.4 is already labelled, the
    # chosen path is computed without enumerating permutations; it must be the smallest one.
    brute_force = min("".join(p) for p in permutations(labels))
    assert _smallest_concatenation(labels) == brute_force


def test_work_budget() -> None:
    assert _work_budget(10, 0) == 0
    assert _work_budget(0, 3) == _work_budget(1, 3) == 1
    assert _work_budget(10, 1) == 10
    assert _work_budget(10, 3) == 1000
    assert _work_budget(10, 10**9) == limits.RDFC_MAX_DEEP_ITERATIONS
    assert _work_budget(limits.MAX_BLANK_NODES, 3) == limits.RDFC_MAX_DEEP_ITERATIONS
