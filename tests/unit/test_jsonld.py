"""JSON-LD to RDF (protocol.jsonld): our engine against the vectors, against pyld, and lossless.

pyld is the oracle: its dataset (``jsonld.to_rdf``) must equal ours, and its canonical N-Quads
(``jsonld.normalize``) must equal ours wherever both escape literals alike (pyld escapes fewer
control characters than RDFC-1.0). Where pyld departs from the JSON-LD 1.1 specification and
jsonld.js, the test says so and checks the specified behaviour.
"""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyld import jsonld

from protocol.errors import (
    CanonicalizationError,
    DataLossError,
    DocumentLoaderError,
    MalformedError,
)
from protocol.jsonld import torrdf
from protocol.jsonld.canonicalize import SENTINEL_VOCAB, canonicalize, to_dataset
from protocol.jsonld.loader import StaticDocumentLoader, default_loader
from protocol.limits import MAX_CONTEXTS, MAX_JSON_DEPTH, MAX_QUADS
from protocol.rdf import RDF_LANGSTRING, XSD_STRING, Quad, literal
from protocol.rdfc import canonicalize as rdfc
from tests.conftest import VECTORS, load_vector

EX = "http://example.org/"
V1 = "https://www.w3.org/2018/credentials/v1"
V2 = "https://www.w3.org/ns/credentials/v2"
OB = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_EXT = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
DI2 = "https://w3id.org/security/data-integrity/v2"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_JSON = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"


# --------------------------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------------------------


def pyld_quads(document: Any, loader: StaticDocumentLoader) -> list[Quad]:
    """pyld's dataset, as our quads (base IRI null)."""
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


def pyld_normalize(document: Any, loader: StaticDocumentLoader) -> str:
    return str(
        jsonld.normalize(
            document,
            {
                "algorithm": "URDNA2015",
                "format": "application/n-quads",
                "documentLoader": loader,
                "base": None,
            },
        )
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


def assert_same_as_pyld(document: Any, loader: StaticDocumentLoader) -> str:
    """Our canonical form equals pyld's: dataset for dataset, and text for text."""
    ours = canonicalize(document, loader=loader)
    assert ours == rdfc(pyld_quads(document, loader)).nquads
    if not _escapes_differ(document):
        assert ours == pyld_normalize(document, loader)
    return ours


# --------------------------------------------------------------------------------------------
# Known vectors, byte for byte
# --------------------------------------------------------------------------------------------

KNOWN = [
    ("vc-di-eddsa/unsigned.json", "vc-di-eddsa/eddsa-rdfc-2022/canonDocDataInt.txt", "sha256"),
    (
        "vc-di-eddsa/eddsa-rdfc-2022/proofConfigDataInt.json",
        "vc-di-eddsa/eddsa-rdfc-2022/proofCanonDataInt.txt",
        "sha256",
    ),
    (
        "vc-di-eddsa/employmentAuth.json",
        "vc-di-eddsa/eddsa-rdfc-2022/employ/canonDocDataInt.txt",
        "sha256",
    ),
    (
        "vc-di-eddsa/eddsa-rdfc-2022/employ/proofConfigDataInt.json",
        "vc-di-eddsa/eddsa-rdfc-2022/employ/proofCanonDataInt.txt",
        "sha256",
    ),
    ("vc-di-eddsa/unsigned.json", "vc-di-eddsa/Ed25519Signature2020/canonDocEdSig.txt", "sha256"),
    (
        "vc-di-eddsa/Ed25519Signature2020/proofConfigEdSig.json",
        "vc-di-eddsa/Ed25519Signature2020/proofCanonEdSig.txt",
        "sha256",
    ),
    (
        "vc-di-ecdsa/unsigned.json",
        "vc-di-ecdsa/ecdsa-rdfc-2019-p256/canonDocECDSAP256.txt",
        "sha256",
    ),
    (
        "vc-di-ecdsa/ecdsa-rdfc-2019-p256/proofConfigECDSAP256.json",
        "vc-di-ecdsa/ecdsa-rdfc-2019-p256/proofCanonECDSAP256.txt",
        "sha256",
    ),
    (
        "vc-di-ecdsa/employmentAuth.json",
        "vc-di-ecdsa/ecdsa-rdfc-2019-p256/employ/canonDocECDSAP256.txt",
        "sha256",
    ),
    (
        "vc-di-ecdsa/unsigned.json",
        "vc-di-ecdsa/ecdsa-rdfc-2019-p384/canonDocECDSAP384.txt",
        "sha384",
    ),
    (
        "vc-di-ecdsa/ecdsa-rdfc-2019-p384/proofConfigECDSAP384.json",
        "vc-di-ecdsa/ecdsa-rdfc-2019-p384/proofCanonECDSAP384.txt",
        "sha384",
    ),
    (
        "vc-di-ecdsa/employmentAuth.json",
        "vc-di-ecdsa/ecdsa-rdfc-2019-p384/employ/canonDocECDSAP384.txt",
        "sha384",
    ),
]


@pytest.mark.parametrize(("document", "expected", "hash_name"), KNOWN)
def test_known_vectors(document: str, expected: str, hash_name: str, test_loader: Any) -> None:
    doc = load_vector(*document.split("/"))
    assert canonicalize(doc, loader=test_loader, hash_name=hash_name) == load_vector(
        *expected.split("/")
    )


def test_open_badges_linked_data_proof_vector() -> None:
    """1EdTech's OB 3.0 test vector, with the packaged loader alone."""
    extracted = load_vector(
        "ob3-examples", "ob-ldp-test-vector", "linked-data-proof-ob.EXTRACTED.json"
    )
    credential = extracted["unsignedCredential"]
    options = {"@context": credential["@context"], **extracted["proofOptions"]}
    loader = default_loader()
    assert canonicalize(credential, loader=loader) == load_vector(
        "ob3-examples", "ob-ldp-test-vector", "document-canon.txt"
    )
    assert canonicalize(options, loader=loader) == load_vector(
        "ob3-examples", "ob-ldp-test-vector", "proof-canon.txt"
    )


# --------------------------------------------------------------------------------------------
# Every JSON-LD document among the vectors, against pyld
# --------------------------------------------------------------------------------------------


def _corpus() -> list[tuple[str, Any]]:
    """Every map with an @context in the JSON files of the credential vectors."""
    found: list[tuple[str, Any]] = []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            if "@context" in value:
                found.append((where, value))
                return
            for key, item in value.items():
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]")

    for folder in ("vc-di-eddsa", "vc-di-ecdsa", "ob3-examples", "did-key"):
        for path in sorted((VECTORS / folder).rglob("*.json")):
            walk(json.loads(path.read_text("utf-8")), str(path.relative_to(VECTORS)))
    return found


CORPUS = _corpus()
# Documents whose contexts are all in the test loader; the others (DID documents using the
# jws-2020, x25519-2019 ... contexts) must be refused by the loader. Grows with the vectors.
LOADABLE = 48
UNLOADABLE = 30


def test_corpus_size() -> None:
    assert len(CORPUS) == LOADABLE + UNLOADABLE


@pytest.mark.parametrize(("name", "document"), CORPUS, ids=[name for name, _ in CORPUS])
def test_corpus_matches_pyld(name: str, document: Any, test_loader: Any) -> None:
    try:
        expected = pyld_normalize(document, test_loader)
    except jsonld.JsonLdError:
        with pytest.raises(DocumentLoaderError):
            to_dataset(document, loader=test_loader)
        return
    assert canonicalize(document, loader=test_loader) == expected
    assert sorted(set(to_dataset(document, loader=test_loader))) != []


def test_corpus_loadable_count(test_loader: Any) -> None:
    loadable = 0
    for _, document in CORPUS:
        try:
            to_dataset(document, loader=test_loader)
            loadable += 1
        except DocumentLoaderError:
            pass
    assert loadable == LOADABLE


def test_ob_examples_with_packaged_loader() -> None:
    """The OB 3.0 examples need nothing outside the packaged contexts."""
    for name in (
        "simple.json",
        "complete.json",
        "endorsement-valid.json",
        "simple-did-key-method.json",
    ):
        document = load_vector("ob3-examples", name)
        assert_same_as_pyld(document, default_loader())


# --------------------------------------------------------------------------------------------
# JSON-LD features, against pyld
# --------------------------------------------------------------------------------------------

FEATURES: dict[str, Any] = {
    "vocab, compact IRIs, typed terms, blank nodes": {
        "@context": {
            "@vocab": EX,
            "ex": EX,
            "xsd": XSD,
            "d": {"@id": "ex:d", "@type": "xsd:date"},
        },
        "@id": "ex:a",
        "@type": ["T", "ex:U"],
        "name": "x",
        "ex:q": 1,
        "d": "2020-01-01",
        "ex:r": {"@id": "_:n1", "p": {"@id": "_:n1"}},
    },
    "default language, term language, language map, language value": {
        "@context": {
            "@vocab": EX,
            "@language": "EN-us",
            "ex": EX,
            "n": {"@id": "ex:n", "@language": None},
            "m": {"@id": "ex:m", "@container": "@language"},
        },
        "@id": "ex:a",
        "a": "hi",
        "n": "no language",
        "m": {"FR": "bonjour", "@none": "none", "de": ["a", "b", None]},
        "v": {"@value": "x", "@language": "De-CH"},
    },
    "lists and sets": {
        "@context": {"@vocab": EX, "l": {"@container": "@list"}, "s": {"@container": "@set"}},
        "@id": "http://a.example/",
        "l": [1, [2, 3], [], "x", {"@id": "http://b.example/"}, {"q": 1}],
        "s": [1, 1, 2],
        "e": {"@list": []},
        "ll": {"@list": [{"@list": ["a"]}]},
    },
    "top-level @graph": {
        "@context": {"@vocab": EX},
        "@graph": [
            {"@id": "http://a.example/", "p": 1},
            {"@id": "http://b.example/", "q": {"@id": "http://a.example/"}},
        ],
    },
    "named graph": {
        "@context": {"@vocab": EX},
        "@id": "http://g.example/",
        "p": "outer",
        "@graph": [{"@id": "http://a.example/", "p": 1}],
    },
    "graph containers": {
        "@context": {
            "@vocab": EX,
            "g": {"@container": "@graph"},
            "gi": {"@container": ["@graph", "@id"]},
            "gx": {"@container": ["@graph", "@index"]},
        },
        "@id": "http://a.example/",
        "g": [{"p": 1}, {"@id": "http://b.example/", "p": 2}],
        "gi": {"http://g1.example/": {"p": 3}, "@none": {"p": 4}},
        "gx": {"k": {"p": 5}},
    },
    "index map": {
        "@context": {"@vocab": EX, "i": {"@container": "@index"}},
        "@id": "http://a.example/",
        "i": {"k1": "v1", "k2": {"p": 1}},
    },
    "id map": {
        "@context": {"@vocab": EX, "m": {"@container": "@id"}},
        "@id": "http://a.example/",
        "m": {"http://x.example/": {"p": 1}, "_:b": {"p": 2}},
    },
    "@nest": {
        "@context": {"@vocab": EX, "meta": "@nest", "p": {"@nest": "meta"}},
        "@id": "http://a.example/",
        "meta": {"p": 1, "q": 2, "meta": {"r": 3}},
    },
    "@nest with a property-scoped context": {
        "@context": {
            "@vocab": EX,
            "nest": {"@id": "@nest", "@context": {"@vocab": "http://example.org/nest/"}},
        },
        "@id": "http://a.example/",
        "nest": {"property": "in /nest"},
    },
    "@reverse": {
        "@context": {"@vocab": EX, "ex": EX, "parent": {"@reverse": "ex:child"}},
        "@id": "http://a.example/",
        "parent": [{"@id": "http://p.example/"}, {"name": "anonymous"}],
        "@reverse": {"ex:knows": {"@id": "http://k.example/"}},
    },
    "@included": {
        "@context": {"@vocab": EX},
        "@id": "http://a.example/",
        "p": 1,
        "@included": [{"@id": "http://b.example/", "q": 2}],
    },
    "@json": {
        "@context": {"@vocab": EX, "j": {"@type": "@json"}},
        "@id": "http://a.example/",
        "j": {
            "b": [1, 2.5, 1e21, 1e-7, 100, -0.0, True, None, "é"],
            "a": {"z": 1, "é": 2, "\U0001f600": 3, "\uff10": 4},
        },
        "k": {"@value": [1, "x"], "@type": "@json"},
        "n": {"@value": None, "@type": "@json"},
    },
    "numbers and booleans": {
        "@context": {
            "@vocab": EX,
            "xsd": XSD,
            "f": {"@type": "xsd:float"},
            "dd": {"@type": "xsd:double"},
            "ii": {"@type": "xsd:integer"},
        },
        "@id": "http://a.example/",
        "n": [1, -5, 0, 1.5, 2.0, 1e21, 123456789012345678901234, 1e-7, 3.14159265358979, 1e300],
        "b": [True, False],
        "f": [1, 2.5],
        "dd": [5, 5.5],
        "ii": [7, 7.5],
        "t": {"@value": "abc", "@type": "xsd:token"},
    },
    "property-scoped context": {
        "@context": {
            "@vocab": EX,
            "ex": EX,
            "p": {"@id": "ex:p", "@context": {"q": "http://other.example/q"}},
        },
        "@id": "http://a.example/",
        "p": {"q": 1, "r": {"q": 2}},
    },
    "type-scoped contexts do not propagate unless asked": {
        "@context": {
            "@vocab": EX,
            "ex": EX,
            "T": {"@id": "ex:T", "@context": {"q": "http://other.example/q"}},
            "U": {"@id": "ex:U", "@context": {"@propagate": True, "w": "http://other.example/w"}},
        },
        "@id": "http://a.example/",
        "@type": "T",
        "q": 1,
        "r": {"q": 2, "s": {"@type": "U", "w": 1, "t": {"w": 2}}},
        "z": {"@value": "v"},
    },
    "property-scoped context with @propagate false": {
        "@context": {
            "@vocab": EX,
            "p": {"@context": {"@propagate": False, "q": "http://other.example/q"}},
        },
        "@id": "http://a.example/",
        "p": {"q": 1, "r": {"q": 2}},
    },
    "type-scoped context applies to value objects": {
        "@context": {
            "@vocab": EX,
            "ex": EX,
            "T": {"@id": "ex:T", "@context": {"@language": "fr"}},
        },
        "@id": "http://a.example/",
        "@type": "T",
        "p": "x",
        "q": {"@value": "y"},
        "r": {"@id": "http://r.example/"},
    },
    "keyword aliases": {
        "@context": {
            "@vocab": EX,
            "kind": "@type",
            "ident": "@id",
            "val": "@value",
            "lang": "@language",
        },
        "ident": "http://a.example/",
        "kind": ["A", "B"],
        "p": {"val": "x", "lang": "en"},
    },
    "@type @vocab and @id coercion": {
        "@context": {
            "@vocab": EX,
            "t": {"@type": "@vocab"},
            "i": {"@type": "@id"},
            "Known": "http://k.example/K",
        },
        "@id": "http://a.example/",
        "t": ["Known", "Unknown", "http://abs.example/x"],
        "i": "http://i.example/",
    },
    "@type @none": {
        "@context": {"@vocab": EX, "@language": "en", "n": {"@type": "@none"}},
        "@id": "http://a.example/",
        "n": ["s", 1],
    },
    "@prefix false": {
        "@context": {
            "@vocab": EX,
            "foo": {"@id": "http://foo.example/", "@prefix": False},
            "bar": "http://bar.example/",
        },
        "@id": "http://a.example/",
        "bar:x": 1,
        "foo:y": 2,
    },
    "blank node identifiers and types": {
        "@context": {"@vocab": EX},
        "@id": "_:x",
        "@type": "_:t",
        "p": {"@id": "_:x"},
    },
    "top-level array": [
        {"@context": {"@vocab": EX}, "@id": "http://a.example/", "p": 1},
        {"@context": {"@vocab": "http://other.example/"}, "@id": "http://b.example/", "p": 2},
    ],
    "open badge with alignments and evidence": {
        "@context": [V2, OB],
        "id": "urn:uuid:1",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": "https://i.example/", "type": "Profile", "name": "I"},
        "validFrom": "2024-01-01T00:00:00Z",
        "name": "N",
        "credentialSubject": {
            "type": "AchievementSubject",
            "achievement": {
                "id": "https://a.example/",
                "type": "Achievement",
                "name": "A",
                "description": "D",
                "criteria": {"narrative": "n"},
                "alignment": [
                    {"type": "Alignment", "targetName": "t", "targetUrl": "https://t.example/"}
                ],
            },
        },
        "evidence": [{"type": ["Evidence"], "name": "e"}],
    },
    "presentation embedding a credential (scoped null context)": {
        "@context": [V2],
        "type": "VerifiablePresentation",
        "holder": "did:example:h",
        "verifiableCredential": [
            {
                "@context": [V2, OB],
                "id": "urn:uuid:2",
                "type": ["VerifiableCredential", "OpenBadgeCredential"],
                "issuer": "https://i.example/",
                "credentialSubject": {
                    "type": "AchievementSubject",
                    "achievement": {
                        "id": "https://a.example/",
                        "type": "Achievement",
                        "name": "A",
                        "criteria": {"narrative": "n"},
                        "description": "d",
                    },
                },
            }
        ],
    },
    "proof as a graph container, with data integrity v2": {
        "@context": [V2, DI2],
        "id": "urn:uuid:3",
        "type": "VerifiableCredential",
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:s"},
        "proof": [
            {
                "type": "DataIntegrityProof",
                "cryptosuite": "eddsa-rdfc-2022",
                "created": "2024-01-01T00:00:00Z",
                "verificationMethod": "did:example:issuer#k",
                "proofPurpose": "assertionMethod",
                "proofValue": "z1",
            }
        ],
    },
}


@pytest.mark.parametrize("name", list(FEATURES))
def test_features_match_pyld(name: str) -> None:
    assert_same_as_pyld(FEATURES[name], default_loader())


def _sorted_json(value: Any) -> Any:
    if isinstance(value, list):
        return sorted((_sorted_json(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, dict):
        return {k: _sorted_json(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("name", list(FEATURES))
def test_expansion_matches_pyld(name: str) -> None:
    loader = default_loader()
    ours = torrdf.expand(FEATURES[name], loader=loader)
    theirs = jsonld.expand(FEATURES[name], {"documentLoader": loader, "base": None})
    assert _sorted_json(ours) == _sorted_json(theirs)


def test_property_valued_index_follows_the_specification() -> None:
    """JSON-LD 1.1 expansion step 13.8.3.7.2.2 expands the index property; pyld does not.

    pyld adds the unexpanded key (``prop``), which toRdf then drops; jsonld.js and the
    specification give ``http://example.org/prop``.
    """
    document = {
        "@context": {"@vocab": EX, "pi": {"@container": "@index", "@index": "prop"}},
        "@id": "http://a.example/",
        "pi": {"k3": {"@id": "http://b.example/"}, "@none": {"@id": "http://c.example/"}},
    }
    quads = set(to_dataset(document, loader=default_loader()))
    assert ("http://b.example/", EX + "prop", '"k3"', "") in quads
    assert ("http://a.example/", EX + "pi", "http://c.example/", "") in quads
    assert len(quads) == 3


def test_base_in_context_follows_the_specification() -> None:
    """A context's @base resolves relative IRIs even with a null document base.

    IRI expansion step 8 uses the active context's base IRI; jsonld.js does, pyld ignores it
    when the ``base`` option is None (and then drops the triples).
    """
    document = {
        "@context": {"@vocab": EX, "@base": "http://base.example/dir/"},
        "@id": "rel",
        "p": {"@id": "../up"},
        "q": {"@id": "#frag"},
    }
    assert set(to_dataset(document, loader=default_loader())) == {
        ("http://base.example/dir/rel", EX + "p", "http://base.example/up", ""),
        ("http://base.example/dir/rel", EX + "q", "http://base.example/dir/#frag", ""),
    }


def test_string_typed_double_keeps_its_lexical_form() -> None:
    """Only numbers are converted to canonical xsd:double (JSON-LD 1.1 toRdf, jsonld.js).

    pyld also rewrites the string ``"1.50"`` typed xsd:double to ``1.5E0``.
    """
    document = {
        "@context": {"@vocab": EX},
        "@id": "http://a.example/",
        "p": {"@value": "1.50", "@type": XSD + "double"},
        "q": {"@value": 5, "@type": XSD + "double"},
    }
    assert set(to_dataset(document, loader=default_loader())) == {
        ("http://a.example/", EX + "p", f'"1.50"^^<{XSD}double>', ""),
        ("http://a.example/", EX + "q", f'"5.0E0"^^<{XSD}double>', ""),
    }


# --------------------------------------------------------------------------------------------
# Literals
# --------------------------------------------------------------------------------------------


def test_literal_forms() -> None:
    document = {
        "@context": {"@vocab": EX, "j": {"@type": "@json"}},
        "@id": "http://a.example/",
        "i": 42,
        "f": 1.1,
        "g": 2.0,
        "big": 1e21,
        "t": True,
        "s": 'a"b\\c\n\u0001',
        "l": {"@value": "bonjour", "@language": "FR-ca"},
        "j": {"b": 1, "a": [True, None, 0.5]},
    }
    objects = {p[len(EX) :]: o for _, p, o, _ in to_dataset(document, loader=default_loader())}
    assert objects == {
        "i": f'"42"^^<{XSD}integer>',
        "f": f'"1.1E0"^^<{XSD}double>',
        "g": f'"2"^^<{XSD}integer>',
        "big": f'"1.0E21"^^<{XSD}double>',
        "t": f'"true"^^<{XSD}boolean>',
        "s": '"a\\"b\\\\c\\n\\u0001"',
        "l": '"bonjour"@fr-ca',
        "j": f'"{{\\"a\\":[true,null,0.5],\\"b\\":1}}"^^<{RDF_JSON}>',
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-1.5, "-1.5"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (123.456, "123.456"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (0.1 + 0.2, "0.30000000000000004"),
        (9007199254740993, "9007199254740992"),
        (333333333.3333333, "333333333.3333333"),
    ],
)
def test_jcs_numbers(value: float, expected: str) -> None:
    """RFC 8785 section 3.2.2.3 (ECMAScript Number::toString)."""
    assert torrdf.jcs(value) == expected


@settings(max_examples=500)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_jcs_numbers_match_pyld_canonicaliser(value: float) -> None:
    from c14n.NumberToJson import convert2Es6Format  # pyld's own RFC 8785 dependency

    assert torrdf.jcs(value) == convert2Es6Format(value)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_jcs_numbers_from_bits(bits: int) -> None:
    from c14n.NumberToJson import convert2Es6Format

    value = struct.unpack("<d", struct.pack("<Q", bits))[0]
    if math.isfinite(value):
        assert torrdf.jcs(value) == convert2Es6Format(value)


def test_jcs_sorts_keys_by_utf16_code_units() -> None:
    assert torrdf.jcs({"\uff10": 1, "\U0001f600": 2, "a": 3}) == '{"a":3,"😀":2,"０":1}'
    assert torrdf.jcs({"k": '\u0001\n\u2028"é'}) == '{"k":"\\u0001\\n\u2028\\"é"}'


def test_canonical_double() -> None:
    assert torrdf.canonical_double(1.1) == "1.1E0"
    assert torrdf.canonical_double(5.0) == "5.0E0"
    assert torrdf.canonical_double(-0.00012) == "-1.2E-4"
    assert torrdf.canonical_double(1e21) == "1.0E21"


def test_blank_node_labels() -> None:
    document = {"@context": {"@vocab": EX}, "p": {"q": {"@id": "_:mine"}}, "r": {"@id": "_:mine"}}
    labels = {
        t
        for quad in to_dataset(document, loader=default_loader())
        for t in quad
        if t.startswith("_:")
    }
    assert labels == {"_:b0", "_:b1", "_:b2"}


# --------------------------------------------------------------------------------------------
# Data loss and errors
# --------------------------------------------------------------------------------------------


def _credential(**extra: Any) -> dict[str, Any]:
    subject: dict[str, Any] = {
        "id": "did:example:subject",
        "type": ["AchievementSubject"],
        "achievement": {
            "id": "https://example.com/achievements/1",
            "type": ["Achievement"],
            "name": "Teamwork",
            "description": "Works with others.",
            "criteria": {"narrative": "Nominated by peers."},
        },
    }
    document: dict[str, Any] = {
        "@context": [V2, OB],
        "id": "urn:uuid:00000000-0000-4000-8000-000000000000",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": "https://example.com/issuer", "type": ["Profile"], "name": "Example"},
        "validFrom": "2024-01-01T00:00:00Z",
        "name": "Teamwork Badge",
        "credentialSubject": subject,
    }
    document.update(extra)
    return document


def test_credential_template_is_lossless() -> None:
    assert_same_as_pyld(_credential(), default_loader())


def _loss(document: Any, *fragments: str) -> None:
    with pytest.raises(DataLossError) as caught:
        to_dataset(document, loader=default_loader())
    for fragment in fragments:
        assert fragment in caught.value.message, caught.value.message


def test_undefined_top_level_term() -> None:
    _loss(
        _credential(favouriteColour="blue"), "$.favouriteColour", "'favouriteColour'", "not defined"
    )


def test_undefined_term_inside_the_achievement() -> None:
    document = _credential()
    document["credentialSubject"]["achievement"]["secretLevel"] = 7
    _loss(document, "$.credentialSubject.achievement.secretLevel", "'secretLevel'")


def test_undefined_term_in_a_list_item() -> None:
    document = _credential()
    document["credentialSubject"]["achievement"]["alignment"] = [
        {"type": ["Alignment"], "targetName": "t", "targetUrl": "https://t.example/"},
        {"type": ["Alignment"], "targetName": "u", "targetUrl": "https://u.example/", "oops": 1},
    ]
    _loss(document, "$.credentialSubject.achievement.alignment[1].oops", "'oops'")


def test_term_not_propagated_past_its_type() -> None:
    """``narrative`` is a top-level OB term, but ``targetName`` only exists inside Alignment."""
    document = _credential()
    document["credentialSubject"]["achievement"]["criteria"]["targetName"] = "t"
    _loss(document, "$.credentialSubject.achievement.criteria.targetName")


def test_relative_id() -> None:
    _loss(_credential(id="credentials/1"), "$", "'credentials/1'", "relative")


def test_relative_iri_in_an_id_typed_property() -> None:
    document = _credential()
    document["credentialSubject"]["achievement"]["image"] = "badge.png"
    _loss(document, "$.credentialSubject.achievement.image", "'badge.png'", "relative")


def test_undefined_type() -> None:
    _loss(_credential(type=["VerifiableCredential", "MadeUpCredential"]), "'MadeUpCredential'")


def test_relative_type_without_vocab() -> None:
    document = {
        "@context": {"p": "http://example.org/p"},
        "@id": "http://a.example/",
        "@type": "Thing",
        "p": 1,
    }
    _loss(document, "'Thing'")


def test_null_mapped_term() -> None:
    document = _credential()
    document["@context"] = [V2, OB, {"nickname": None}]
    document["nickname"] = "x"
    _loss(document, "$.nickname", "'nickname'")


def test_keyword_like_key() -> None:
    _loss(_credential(**{"@unknown": 1}), "'@unknown'")


def test_blank_node_predicate() -> None:
    document = {"@context": {"@vocab": EX}, "@id": "http://a.example/", "_:p": 1}
    _loss(document, "blank node")


def test_ill_formed_iri() -> None:
    _loss(_credential(id="https://example.com/a b"), "well-formed")
    _loss(_credential(id="https://example.com/<x>"), "well-formed")


def test_iri_with_two_fragments() -> None:
    _loss(_credential(id="https://example.com/a#b#c"), "well-formed")


I18N = "https://www.w3.org/ns/i18n#"


def test_direction_maps_to_an_i18n_datatype() -> None:
    # rdfDirection "i18n-datatype", as Digital Bazaar's cryptosuites canonicalise (lower-cased
    # language, then "_" and the direction).
    quads = to_dataset(
        _credential(name={"@value": "مرحبا", "@language": "AR-eg", "@direction": "rtl"}),
        loader=default_loader(),
    )
    assert any(q[2] == f'"مرحبا"^^<{I18N}ar-eg_rtl>' for q in quads), quads
    quads = to_dataset(
        _credential(name={"@value": "abc", "@direction": "ltr"}), loader=default_loader()
    )
    assert any(q[2] == f'"abc"^^<{I18N}_ltr>' for q in quads), quads


def test_ill_formed_language_tag() -> None:
    _loss(_credential(name={"@value": "x", "@language": "en us"}), "language tag")


def test_null_value_object() -> None:
    _loss(_credential(name={"@value": None}), "null @value")


def test_free_floating_node() -> None:
    _loss({"@context": [V2], "id": "urn:uuid:1"}, "only an @id")
    _loss({"@context": [V2]}, "empty object")
    _loss({"@context": {"@vocab": EX}, "@graph": ["scalar"]}, "free-floating")


def test_null_property_value_is_no_value() -> None:
    """A JSON null means "no value" in JSON-LD (expansion step 13.10), as in jsonld.js."""
    loader = default_loader()
    assert to_dataset(_credential(description=None), loader=loader) == to_dataset(
        _credential(), loader=loader
    )


def test_rtl_and_unicode_text_is_kept() -> None:
    document = _credential(name="שלום عالم 👋🏽 e\u0301", description="\u202bembedded\u202c\u0000")
    assert_same_as_pyld(document, default_loader())


def test_lone_surrogates_are_refused() -> None:
    """A JSON "\\ud800" escape gives a string that no UTF-8 N-Quads can carry."""
    with pytest.raises(MalformedError, match="surrogate"):
        to_dataset(_credential(name="broken \ud800"), loader=default_loader())
    with pytest.raises(MalformedError, match="surrogate"):
        to_dataset(_credential(_sd={"k": "\udc00"}), loader=default_loader())
    _loss(_credential(id="urn:x:\ud800"), "well-formed")


def test_unknown_context_url() -> None:
    with pytest.raises(DocumentLoaderError, match=re.escape("https://example.com/unknown-context")):
        to_dataset(
            {"@context": "https://example.com/unknown-context", "@id": "urn:x"},
            loader=default_loader(),
        )


def test_unknown_scoped_context_url() -> None:
    document = {
        "@context": {"@vocab": EX, "p": {"@context": "https://example.com/scoped"}},
        "p": {"q": 1},
    }
    with pytest.raises(DocumentLoaderError):
        to_dataset(document, loader=default_loader())


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ({"@context": [V2, {"name": "http://example.org/myname"}], "name": "x"}, "protected term"),
        ({"@context": {"@vocab": EX}, "@id": 5}, "invalid @id value"),
        ({"@context": 5}, "invalid local context"),
        ({"@context": {"p": {"@id": EX + "p", "@container": "@bogus"}}}, "container"),
        ({"@context": {"@vocab": EX}, "@value": "x", "p": 1}, "invalid value object"),
        ({"@context": {"@vocab": EX}, "p": {"@value": "x", "@type": "_:t"}}, "invalid typed value"),
        ({"@context": {"@vocab": EX}, "p": {"@value": {"a": 1}}}, "invalid value object value"),
        ({"@context": {"@vocab": EX}, "@id": EX, "@type": 5}, "invalid type value"),
        ({"@context": {"@vocab": EX, "id": "@id"}, "id": EX, "@id": EX}, "colliding keywords"),
        ({"@context": {"@id": EX}}, "keyword redefinition"),
        ({"@context": {"p": {"@id": EX + "p", "@bogus": 1}}}, "invalid term definition"),
        ({"@context": {"a": "b:x", "b": "a:y"}, "a": 1}, "cyclic IRI mapping"),
        ({"@context": {"@vocab": EX, "@version": 1.0}}, "invalid @version value"),
        ({"@context": [V2, None], "name": "x"}, "invalid context nullification"),
        (
            {"@context": {"@vocab": EX, "p": {"@reverse": EX + "q"}}, "p": "literal"},
            "invalid reverse property value",
        ),
    ],
)
def test_invalid_json_ld(document: Any, code: str) -> None:
    with pytest.raises(MalformedError, match=re.escape(code)) as caught:
        to_dataset(document, loader=default_loader())
    assert not isinstance(caught.value, DataLossError)


def test_depth_limit() -> None:
    document: dict[str, Any] = {"@context": {"@vocab": EX}, "@id": "http://a.example/"}
    node = document
    for _ in range(MAX_JSON_DEPTH + 1):
        node["p"] = {}
        node = node["p"]
    node["q"] = 1
    with pytest.raises(MalformedError, match="deeper"):
        to_dataset(document, loader=default_loader())


def test_quad_limit() -> None:
    document = {
        "@context": {"@vocab": EX},
        "@id": "http://a.example/",
        "p": list(range(MAX_QUADS + 1)),
    }
    with pytest.raises(CanonicalizationError, match=str(MAX_QUADS)):
        to_dataset(document, loader=default_loader())


def test_context_limit() -> None:
    node: dict[str, Any] = {"@id": "http://a.example/", "@context": {"@vocab": EX}}
    document = node
    for index in range(MAX_CONTEXTS + 1):
        child = {"@context": {f"t{index}": EX + f"t{index}"}, f"t{index}": 1}
        node["p"] = child
        node = child
    with pytest.raises(MalformedError, match="contexts"):
        to_dataset(document, loader=default_loader())


# --------------------------------------------------------------------------------------------
# The pyld path
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def import_loader() -> StaticDocumentLoader:
    """A loader with a context meant for @import, which our engine leaves to pyld."""
    return default_loader().extend(
        {"https://example.com/importable": {"@context": {"extra": "http://example.org/extra"}}}
    )


def _importing(**extra: Any) -> dict[str, Any]:
    document = _credential(**extra)
    document["@context"] = [V2, OB, {"@import": "https://example.com/importable"}]
    return document


def test_import_falls_back_to_pyld(import_loader: StaticDocumentLoader) -> None:
    document = _importing(extra="value")
    with pytest.raises(torrdf.Unsupported):
        torrdf.to_quads(document, loader=import_loader)
    quads = to_dataset(document, loader=import_loader)
    assert (
        "urn:uuid:00000000-0000-4000-8000-000000000000",
        "http://example.org/extra",
        '"value"',
        "",
    ) in quads
    assert (
        canonicalize(document, loader=import_loader)
        == rdfc(pyld_quads(document, import_loader)).nquads
    )


def test_type_map_falls_back_to_pyld() -> None:
    document = {
        "@context": {"@vocab": EX, "byType": {"@container": "@type"}},
        "@id": "http://a.example/",
        "byType": {"Thing": {"@id": "http://t.example/"}},
    }
    assert canonicalize(document, loader=default_loader()) == pyld_normalize(
        document, default_loader()
    )


def test_pyld_path_detects_undefined_terms_under_protected_contexts(
    import_loader: StaticDocumentLoader,
) -> None:
    """The sentinel @vocab goes under the @protected VC and OB contexts without a conflict."""
    document = _importing()
    document["credentialSubject"]["achievement"]["secretLevel"] = 7
    with pytest.raises(DataLossError, match="secretLevel"):
        to_dataset(document, loader=import_loader)
    with pytest.raises(DataLossError, match="MadeUpType"):
        to_dataset(_importing(type=["VerifiableCredential", "MadeUpType"]), loader=import_loader)


def test_pyld_path_detects_relative_iris(import_loader: StaticDocumentLoader) -> None:
    with pytest.raises(DataLossError, match="relative"):
        to_dataset(_importing(id="relative/id"), loader=import_loader)
    document = _importing()
    document["credentialSubject"]["achievement"]["image"] = "badge.png"
    with pytest.raises(DataLossError, match="relative"):
        to_dataset(document, loader=import_loader)


def test_pyld_path_refuses_null_terms(import_loader: StaticDocumentLoader) -> None:
    document = _importing(nickname="x")
    document["@context"].append({"nickname": None})
    with pytest.raises(DataLossError, match="nickname"):
        to_dataset(document, loader=import_loader)


def test_pyld_path_sees_through_scoped_null_contexts(import_loader: StaticDocumentLoader) -> None:
    """VC 2.0 resets the context of ``verifiableCredential`` to null; the guard survives it."""
    credential = _credential()
    credential["credentialSubject"]["achievement"]["secretLevel"] = 7
    presentation = {
        "@context": [V2, {"@import": "https://example.com/importable"}],
        "type": "VerifiablePresentation",
        "verifiableCredential": [credential],
    }
    with pytest.raises(DataLossError, match="secretLevel"):
        to_dataset(presentation, loader=import_loader)
    bare = {k: v for k, v in _credential().items() if k != "@context"}
    presentation["verifiableCredential"] = [bare]
    with pytest.raises(DataLossError):
        to_dataset(presentation, loader=import_loader)
    presentation["verifiableCredential"] = [_credential()]
    assert canonicalize(presentation, loader=import_loader) == pyld_normalize(
        presentation, import_loader
    )


def test_pyld_path_detects_undefined_types_in_type_maps() -> None:
    document = {
        "@context": {"p": EX + "p", "byType": {"@id": EX + "byType", "@container": "@type"}},
        "@id": "http://a.example/",
        "byType": {"Thing": {"@id": "http://t.example/", "p": 1}},
    }
    with pytest.raises(DataLossError, match="Thing"):
        to_dataset(document, loader=default_loader())


def test_pyld_path_maps_direction_like_the_fast_path(import_loader: StaticDocumentLoader) -> None:
    quads = to_dataset(
        _importing(name={"@value": "x", "@language": "EN", "@direction": "ltr"}),
        loader=import_loader,
    )
    assert any(q[2] == f'"x"^^<{I18N}en_ltr>' for q in quads), quads


def test_pyld_path_wraps_errors(import_loader: StaticDocumentLoader) -> None:
    document = _importing()
    document["@context"] = [
        V2,
        {"@import": "https://example.com/importable"},
        {"name": "http://x.example/n"},
    ]
    with pytest.raises(MalformedError, match="protected term redefinition"):
        to_dataset(document, loader=import_loader)
    document["@context"] = [V2, {"@import": "https://example.com/not-served"}]
    with pytest.raises(DocumentLoaderError, match="not-served"):
        to_dataset(document, loader=import_loader)


def test_sentinel_is_not_a_real_vocabulary() -> None:
    assert SENTINEL_VOCAB.startswith("urn:") and SENTINEL_VOCAB.endswith(":")


def test_pyld_global_loader_untouched(import_loader: StaticDocumentLoader) -> None:
    before = jsonld.get_document_loader()
    to_dataset(_importing(), loader=import_loader)
    assert jsonld.get_document_loader() is before


# --------------------------------------------------------------------------------------------
# Memoisation
# --------------------------------------------------------------------------------------------


def test_contexts_are_processed_once() -> None:
    loader = default_loader().extend({})
    document = load_vector("ob3-examples", "complete.json")
    first = to_dataset(document, loader=loader)
    root = torrdf._root_for(loader)
    cached = root.cached
    assert cached > 0
    assert to_dataset(document, loader=loader) == first
    assert root.cached == cached


def test_embedded_contexts_stay_out_of_shared_caches() -> None:
    loader = default_loader().extend({})
    root = torrdf._root_for(loader)
    for index in range(5):
        document = _credential()
        document["@context"] = [V2, OB, {f"custom{index}": f"http://example.org/c{index}"}]
        document[f"custom{index}"] = index
        to_dataset(document, loader=loader)
    cached = root.cached
    document = _credential()
    document["@context"] = [V2, OB, {"custom": "http://example.org/c"}]
    document["custom"] = 1
    to_dataset(document, loader=loader)
    assert root.cached == cached


def test_loaders_do_not_share_contexts() -> None:
    """The same URL may mean different contexts in two loaders."""
    url = "https://example.com/ctx"
    one = StaticDocumentLoader({url: {"@context": {"p": "http://one.example/p"}}})
    two = StaticDocumentLoader({url: {"@context": {"p": "http://two.example/p"}}})
    document = {"@context": url, "@id": "http://a.example/", "p": 1}
    assert to_dataset(document, loader=one)[0][1] == "http://one.example/p"
    assert to_dataset(document, loader=two)[0][1] == "http://two.example/p"


def test_documents_are_not_modified() -> None:
    document = load_vector("ob3-examples", "complete.json")
    before = json.dumps(document, sort_keys=True)
    to_dataset(document, loader=default_loader())
    assert json.dumps(document, sort_keys=True) == before


def test_packaged_vectors_exist() -> None:
    assert Path(VECTORS / "ob3-examples" / "complete.json").exists()
