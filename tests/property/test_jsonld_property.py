"""Generated Open Badges 3.0 credentials: our JSON-LD to RDF gives pyld's canonical form.

The credentials come from :mod:`tests.property.strategies` (valid OB 3.0, Unicode with control
characters and RTL text, arrays, results, evidence, numbers, booleans, alignments) and gain
JSON-LD features of their own here: a language map and a default language from an embedded
context, language-tagged values, ``@json`` values (``_sd``), numbers of every kind, lists
(``allowedValue``) and embedded endorsement credentials.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn
from pyld import jsonld

from protocol.errors import DataLossError
from protocol.jsonld.canonicalize import canonicalize, to_dataset
from protocol.jsonld.loader import StaticDocumentLoader, default_loader
from protocol.rdf import RDF_LANGSTRING, XSD_STRING, Quad, literal
from protocol.rdfc import canonicalize as rdfc
from tests.property.strategies import (
    LANGUAGE_TAGS,
    RTL_PHRASES,
    ob_credentials,
    profiles,
    subject_ids,
    unicode_text,
)

V2 = "https://www.w3.org/ns/credentials/v2"
OB = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
LOADER = default_loader()
SLOW = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# RDFC-1.0 escapes every control character; pyld only \t \n \r " and \.
_ESCAPES_DIFFER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _escapes_differ(value: Any) -> bool:
    if isinstance(value, str):
        return _ESCAPES_DIFFER.search(value) is not None
    if isinstance(value, list):
        return any(_escapes_differ(item) for item in value)
    if isinstance(value, dict):
        return any(_escapes_differ(k) or _escapes_differ(v) for k, v in value.items())
    return False


def pyld_quads(document: Any, loader: StaticDocumentLoader) -> list[Quad]:
    dataset = jsonld.to_rdf(document, {"documentLoader": loader, "base": None})
    quads: list[Quad] = []
    for graph_name, triples in dataset.items():
        graph = "" if graph_name == "@default" else graph_name
        for triple in triples:
            obj = triple["object"]
            if obj["type"] != "literal":
                term = obj["value"]
            elif "language" in obj:
                term = literal(obj["value"], RDF_LANGSTRING, obj["language"])
            else:
                term = literal(obj["value"], obj.get("datatype") or XSD_STRING)
            quads.append((triple["subject"]["value"], triple["predicate"]["value"], term, graph))
    return quads


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------

_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    unicode_text(max_size=20),
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(unicode_text(max_size=6), children, max_size=3),
    ),
    max_leaves=8,
)
_numbers = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.sampled_from((0.0, 2.0, 1e21, 1e-7, 123456789012345678901234)),
)


@st.composite
def _endorsement(draw: DrawFn) -> dict[str, Any]:
    return {
        "@context": [V2, OB],
        "id": f"urn:uuid:{draw(st.uuids())}",
        "type": ["VerifiableCredential", "EndorsementCredential"],
        "issuer": draw(profiles(draw(subject_ids()))),
        "validFrom": "2024-05-01T00:00:00Z",
        "name": draw(unicode_text(max_size=30)),
        "credentialSubject": {
            "id": f"urn:uuid:{draw(st.uuids())}",
            "type": ["EndorsementSubject"],
            "endorsementComment": draw(unicode_text(max_size=60)),
        },
    }


@st.composite
def credentials(draw: DrawFn) -> dict[str, Any]:
    """An OB 3.0 credential with extra JSON-LD features."""
    doc = draw(ob_credentials(draw(subject_ids())))
    contexts = list(doc["@context"])
    extra_context: dict[str, Any] = {}
    if draw(st.booleans()):
        # A language map, defined by an embedded context after the protected ones.
        extra_context["nameMap"] = {"@id": "https://schema.org/name", "@container": "@language"}
        languages = draw(
            st.lists(st.sampled_from((*LANGUAGE_TAGS, "@none")), unique=True, max_size=3)
        )
        doc["nameMap"] = {
            tag: draw(
                st.one_of(
                    unicode_text(max_size=20), st.lists(unicode_text(max_size=20), max_size=2)
                )
            )
            for tag in languages
        }
    if draw(st.booleans()):
        extra_context["@language"] = draw(st.sampled_from(LANGUAGE_TAGS))
    if extra_context:
        contexts.append(extra_context)
    doc["@context"] = contexts
    if draw(st.booleans()):
        doc["name"] = {
            "@value": draw(st.one_of(st.sampled_from(RTL_PHRASES), unicode_text(max_size=30))),
            "@language": draw(st.sampled_from(LANGUAGE_TAGS)),
        }
    if draw(st.booleans()):
        doc["_sd"] = draw(_json_values)
    subject = doc["credentialSubject"]
    achievement = subject["achievement"]
    if draw(st.booleans()):
        subject["creditsEarned"] = draw(_numbers)
    if draw(st.booleans()):
        achievement["creditsAvailable"] = draw(_numbers)
    if draw(st.booleans()):
        identity = {
            "type": "IdentityObject",
            "identityHash": draw(unicode_text(max_size=20)),
            "identityType": "emailAddress",
            "hashed": draw(st.booleans()),
        }
        subject["identifier"] = [*subject.get("identifier", []), identity]
    if draw(st.booleans()):
        achievement["resultDescription"] = [
            *achievement.get("resultDescription", []),
            {
                "id": f"urn:uuid:{draw(st.uuids())}",
                "type": ["ResultDescription"],
                "name": draw(unicode_text(max_size=20)),
                "resultType": "LetterGrade",
                "allowedValue": draw(st.lists(unicode_text(max_size=5), max_size=4)),
            },
        ]
    if draw(st.booleans()):
        doc["endorsement"] = draw(st.lists(_endorsement(), min_size=1, max_size=2))
    return doc


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@SLOW
@given(credentials())
def test_same_canonical_form_as_pyld(document: dict[str, Any]) -> None:
    ours = canonicalize(document, loader=LOADER)
    # The same dataset: through the same RDFC-1.0, the canonical forms are equal.
    assert ours == rdfc(pyld_quads(document, LOADER)).nquads
    # The same text as pyld's URDNA2015, wherever both escape literals alike.
    if not _escapes_differ(document):
        assert ours == jsonld.normalize(
            document,
            {
                "algorithm": "URDNA2015",
                "format": "application/n-quads",
                "documentLoader": LOADER,
                "base": None,
            },
        )


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(item, rng) for item in value]
    return value


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(credentials(), st.randoms(use_true_random=False))
def test_member_order_does_not_matter(document: dict[str, Any], rng: random.Random) -> None:
    assert canonicalize(_shuffled(document, rng), loader=LOADER) == canonicalize(
        document, loader=LOADER
    )


def _nodes(value: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
    """Node objects of a compacted credential with their JSON paths (not value objects)."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(value, dict):
        if "@value" in value:
            return found
        if "type" in value or "id" in value:
            found.append((path, value))
        for key, item in value.items():
            if key in ("@context", "nameMap", "_sd"):
                continue
            found += _nodes(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _nodes(item, f"{path}[{index}]")
    return found


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(credentials(), st.data())
def test_an_undefined_term_anywhere_is_refused(
    document: dict[str, Any], data: st.DataObject
) -> None:
    nodes = _nodes(document, "$")
    path, node = data.draw(st.sampled_from(nodes))
    node["notInAnyContext"] = data.draw(st.one_of(unicode_text(max_size=10), st.integers()))
    try:
        to_dataset(document, loader=LOADER)
    except DataLossError as exc:
        assert "'notInAnyContext'" in exc.message
        assert f"{path}.notInAnyContext" in exc.message
    else:
        raise AssertionError(f"no data loss reported for {path}.notInAnyContext")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(credentials())
def test_dataset_is_stable(document: dict[str, Any]) -> None:
    """The same document twice gives the same dataset (memoised contexts change nothing)."""
    before = json.dumps(document, sort_keys=True)
    assert to_dataset(document, loader=LOADER) == to_dataset(document, loader=LOADER)
    assert json.dumps(document, sort_keys=True) == before
