"""DIDs: did:key vectors, did:web mapping, document validation, offline resolution."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.did import (
    Resolver,
    VerificationMethod,
    did_key_for,
    did_web_to_url,
    key_pair_as_did_key,
    public_key_for_did_key,
    resolve_did_key,
    url_to_did_web,
    validate_controller_document,
    validate_did_document,
)
from protocol.encoding import b64url_decode, base58btc_decode, base58btc_encode, multicodec_wrap
from protocol.errors import KeyResolutionError, MalformedError, UnsupportedError
from protocol.keys import (
    Algorithm,
    KeyPair,
    PublicKey,
    generate,
    load_key_file,
    public_key_from_jwk,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"

EDDSA_DID = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
#: The EDDSA did:key with its last key byte cut off (base58 of the 33-byte value).
TRUNCATED_DID = "did:key:" + base58btc_encode(
    base58btc_decode(EDDSA_DID.removeprefix("did:key:"))[:-1]
)
ECDSA_DID = "did:key:zDnaepBuvsQ8cpsWrVKw8fbpGpvPeNSjVPTWoq6cRqaYzBKVP"
SIGNING_RELATIONSHIPS = (
    "authentication",
    "assertionMethod",
    "capabilityInvocation",
    "capabilityDelegation",
)


def load(relative: str) -> Any:
    return json.loads((VECTORS / relative).read_text(encoding="utf-8"))


def legacy_vm_key(method: dict[str, Any]) -> PublicKey:
    """Read a key from the legacy did:key vector shapes (compare keys, not documents)."""
    if "publicKeyJwk" in method:
        return public_key_from_jwk(method["publicKeyJwk"])
    raw = base58btc_decode("z" + method["publicKeyBase58"])
    algorithm: Algorithm = "P-256" if method["type"] == "P256Key2021" else "Ed25519"
    return PublicKey(algorithm, raw)


def check_identifiers(did: str, ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Compare our Multikey did:key document with a legacy one: ids, relationships and keys."""
    assert ours["id"] == theirs["id"] == did
    assert ours["@context"] == [
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/multikey/v1",
    ]
    (our_vm,) = ours["verificationMethod"]
    their_vm = theirs["verificationMethod"][0]
    assert our_vm["id"] == their_vm["id"] == f"{did}#{did.removeprefix('did:key:')}"
    assert our_vm["controller"] == their_vm["controller"] == did
    assert our_vm["type"] == "Multikey"
    assert legacy_vm_key(their_vm).multibase == our_vm["publicKeyMultibase"]
    for relationship in SIGNING_RELATIONSHIPS:
        assert ours[relationship] == theirs[relationship] == [our_vm["id"]]
    assert "keyAgreement" not in ours


# --- did:key vectors --------------------------------------------------------------------------


def test_ed25519_did_key_vectors() -> None:
    vectors = load("did-key/ed25519-x25519.json")
    assert len(vectors) == 5
    for did, entry in vectors.items():
        pair = KeyPair("Ed25519", bytes.fromhex(entry["seed"]))
        assert did_key_for(pair.public) == did
        assert legacy_vm_key(entry["verificationKeyPair"]) == pair.public
        check_identifiers(did, resolve_did_key(did), entry["didDocument"])
        # The legacy document is a valid DID document (its X25519 key is kept, unusable).
        validated = validate_did_document(entry["didDocument"], did=did)
        assert validated == entry["didDocument"]


def test_nist_curve_did_key_vectors() -> None:
    vectors = load("did-key/nist-curves.json")
    assert len(vectors) == 7
    computed = 0
    for did, entry in vectors.items():
        method = entry["verificationMethod"]
        if did.startswith("did:key:z2J9"):  # P-521
            with pytest.raises(UnsupportedError, match="p521"):
                resolve_did_key(did)
            continue
        public = legacy_vm_key(method)
        assert did_key_for(public) == did
        # Also derive the DID from the private key material.
        if "privateKeyJwk" in method:
            secret = b64url_decode(method["privateKeyJwk"]["d"])
        else:
            secret = base58btc_decode("z" + method["privateKeyBase58"])
        assert did_key_for(KeyPair(public.algorithm, secret).public) == did
        check_identifiers(did, resolve_did_key(did), entry["didDocument"])
        computed += 1
    assert computed == 5


@pytest.mark.parametrize(
    ("file", "match"),
    [
        ("secp256k1.json", "secp256k1"),
        ("bls12381.json", "bls12_381"),
        ("rsa.json", "rsa"),
    ],
)
def test_unsupported_did_key_vectors(file: str, match: str) -> None:
    vectors = load(f"did-key/{file}")
    assert vectors
    for did in vectors:
        with pytest.raises(UnsupportedError, match=match):
            resolve_did_key(did)


def test_x25519_did_key_is_not_a_signing_key() -> None:
    dids = list(load("did-key/x25519.json")["didDocument"])
    assert len(dids) == 4
    for did in dids:
        with pytest.raises(UnsupportedError, match="key-agreement key, not a signing key"):
            resolve_did_key(did)
    with pytest.raises(KeyResolutionError, match="key-agreement"):
        Resolver().verification_method(did, relationship="assertionMethod")


def test_w3c_suite_keys_as_did_keys() -> None:
    eddsa = load_key_file(load("vc-di-eddsa/keyPair.json"))
    ecdsa = load_key_file(load("vc-di-ecdsa/p256KeyPair.json"))
    assert did_key_for(eddsa.public) == EDDSA_DID
    assert did_key_for(ecdsa.public) == ECDSA_DID
    bound = key_pair_as_did_key(ecdsa)
    assert bound.controller == ECDSA_DID
    assert bound.id == f"{ECDSA_DID}#{ECDSA_DID.removeprefix('did:key:')}"
    # The proof configurations of the W3C vectors name exactly these method ids.
    configs = [
        *VECTORS.glob("vc-di-eddsa/**/proof*Config*.json"),
        *VECTORS.glob("vc-di-ecdsa/ecdsa-*-2019-*/**/proofConfig*.json"),
    ]
    assert len(configs) >= 14
    resolver = Resolver()
    for path in configs:
        vm_id = json.loads(path.read_text())["verificationMethod"]
        method = resolver.verification_method(vm_id, relationship="assertionMethod")
        assert method.id == vm_id
        assert method.controller == vm_id.split("#")[0]
        assert method.public_key.multibase == vm_id.split("#")[1]


def test_did_key_document_exact_shape() -> None:
    document = resolve_did_key(EDDSA_DID + "#anything")
    vm_id = f"{EDDSA_DID}#{EDDSA_DID.removeprefix('did:key:')}"
    assert document == {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": EDDSA_DID,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "Multikey",
                "controller": EDDSA_DID,
                "publicKeyMultibase": EDDSA_DID.removeprefix("did:key:"),
            }
        ],
        "authentication": [vm_id],
        "assertionMethod": [vm_id],
        "capabilityInvocation": [vm_id],
        "capabilityDelegation": [vm_id],
    }
    assert validate_did_document(document, did=EDDSA_DID) == document


@pytest.mark.parametrize(
    ("did", "error", "match"),
    [
        ("did:key:", MalformedError, "empty"),
        ("did:web:example.com", MalformedError, "not a did:key"),
        (
            "did:key:6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
            MalformedError,
            "start with 'z'",
        ),
        ("did:key:uAe0B", MalformedError, "start with 'z'"),
        (EDDSA_DID + "/path", MalformedError, "no path or query"),
        (EDDSA_DID + "?service=x", MalformedError, "no path or query"),
        ("did:key:1:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2", MalformedError, "versioned"),
        (
            "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ0",
            MalformedError,
            "non-base58btc",
        ),
        (TRUNCATED_DID, MalformedError, "invalidPublicKeyLength"),
        (
            "did:key:" + base58btc_encode(multicodec_wrap(0x1200, b"\x02" + b"\xff" * 32)),
            MalformedError,
            "invalidPublicKey",
        ),
        (
            "did:key:" + base58btc_encode(multicodec_wrap(0x1306, bytes(31) + b"\x01")),
            MalformedError,
            "secret key",
        ),
        (
            "did:key:" + base58btc_encode(multicodec_wrap(0xEC, bytes(32))),
            UnsupportedError,
            "unsupportedPublicKeyType",
        ),
    ],
)
def test_did_key_errors(did: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        resolve_did_key(did)


def test_did_key_non_string() -> None:
    with pytest.raises(MalformedError):
        resolve_did_key(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        did_key_for("z6Mk")  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), algorithm=st.sampled_from(["Ed25519", "P-256"]))
def test_did_key_round_trip(seed: bytes, algorithm: str) -> None:
    if algorithm == "P-256" and (seed == bytes(32) or seed >= b"\xff\xff\xff\xff"):
        seed = b"\x01" + seed[1:]
    pair = key_pair_as_did_key(KeyPair(algorithm, seed))  # type: ignore[arg-type]
    did = did_key_for(pair.public)
    assert public_key_for_did_key(did) == pair.public
    method = Resolver().verification_method(did, relationship="authentication")
    assert method.id == pair.id
    method.public_key.verify(pair.sign(b"challenge"), b"challenge")


# --- did:web ----------------------------------------------------------------------------------

DID_WEB_EXAMPLES = [
    ("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"),
    ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
    ("did:web:example.com%3A3000", "https://example.com:3000/.well-known/did.json"),
    ("did:web:example.com%3A3000:user:alice", "https://example.com:3000/user/alice/did.json"),
    ("did:web:example.com%3a3000:user:alice", "https://example.com:3000/user/alice/did.json"),
    ("did:web:localhost%3A8443", "https://localhost:8443/.well-known/did.json"),
    ("did:web:node-a.test:issuers:a%20b", "https://node-a.test/issuers/a%20b/did.json"),
]


@pytest.mark.parametrize(("did", "url"), DID_WEB_EXAMPLES)
def test_did_web_examples(did: str, url: str) -> None:
    assert did_web_to_url(did) == url
    assert did_web_to_url(did + "#key-1") == url
    assert url_to_did_web(url) == did.replace("%3a", "%3A")


@pytest.mark.parametrize(
    ("did", "match"),
    [
        ("did:web:127.0.0.1", "IP address"),
        ("did:web:192.168.0.1%3A3000", "IP address"),
        ("did:web:example.123", "IP address"),
        ("did:web:0x7f000001", "IP address"),
        ("did:web:%5B%3A%3A1%5D", "more than one encoded port colon"),
        ("did:web:%5B%3A%3A1%5D%3A443", "more than one encoded port colon"),
        ("did:web:%5B1%5D%3A443", "percent-encode the port"),
        ("did:web:exa%6Dple.com", "percent-encode the port"),
        ("did:web:user%40example.com", "userinfo"),
        ("did:web:user@example.com", "not a valid DNS name"),
        ("did:web:", "domain is empty"),
        ("did:web::user", "domain is empty"),
        ("did:web:example.com::alice", "empty segment"),
        ("did:web:example.com:", "empty segment"),
        ("did:web:example..com", "empty label"),
        ("did:web:example.com.", "empty label"),
        ("did:web:example.com:a%zz", "bad percent-encoding"),
        ("did:web:example.com:a%2", "bad percent-encoding"),
        ("did:web:example.com:..", "path traversal"),
        ("did:web:example.com:.", "path traversal"),
        ("did:web:example.com:%2E%2E", "path traversal"),
        ("did:web:example.com:a%2Fb", "slash"),
        ("did:web:example.com:a%5Cb", "backslash"),
        ("did:web:example.com:a%00b", "control"),
        ("did:web:example.com:%FF", "not UTF-8"),
        ("did:web:example.com%3A0", "port"),
        ("did:web:example.com%3A65536", "port"),
        ("did:web:example.com%3Ahttp", "port"),
        ("did:web:example.com%3A080", "port"),
        ("did:web:example.com%3A1%3A2", "more than one"),
        ("did:web:intranet", "fully qualified"),
        ("did:web:under_score.example.com", "not a valid DNS name"),
        ("did:web:-bad.example.com", "not a valid DNS name"),
        ("did:web:exämple.com", "not a valid DNS name"),
        ("did:web:example.com/path", "path or query"),
        ("did:web:example.com?query", "path or query"),
        ("did:key:z6Mk", "not a did:web"),
        ("did:web:" + "a" * 250 + ".com", "longer than"),
    ],
)
def test_did_web_rejections(did: str, match: str) -> None:
    with pytest.raises(MalformedError, match=match):
        did_web_to_url(did)


def test_did_web_non_string() -> None:
    with pytest.raises(MalformedError):
        did_web_to_url(42)  # type: ignore[arg-type]
    with pytest.raises(MalformedError):
        url_to_did_web(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "did"),
    [
        ("https://example.com", "did:web:example.com"),
        ("https://example.com/", "did:web:example.com"),
        ("https://Example.COM/.well-known/did.json", "did:web:example.com"),
        ("https://example.com:443/.well-known/did.json", "did:web:example.com"),
        ("https://example.com:3000", "did:web:example.com%3A3000"),
        ("https://example.com/user/alice", "did:web:example.com:user:alice"),
        ("https://example.com/user/alice/", "did:web:example.com:user:alice"),
        ("https://localhost:8443/", "did:web:localhost%3A8443"),
    ],
)
def test_url_to_did_web(url: str, did: str) -> None:
    assert url_to_did_web(url) == did


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://example.com/", "https"),
        ("ftp://example.com/", "https"),
        ("https://user:pw@example.com/", "userinfo"),
        ("https://example.com/?x=1", "query or fragment"),
        ("https://example.com/#key", "query or fragment"),
        ("https://127.0.0.1/", "IP address"),
        ("https://[::1]:8443/", "IP address"),
        ("https://[::1/", "not a valid URL"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://example.com:0/", "port"),
        ("https://example.com/did.json", "not a did:web location"),
        ("https://example.com/a/../b", "path traversal"),
        ("https://example.com//a", "empty segment"),
        ("https://example.com/a:b", "outside the DID syntax"),
        ("https://example.com/a%2Fb", "slash"),
        ("https:///path", "no host"),
        ("https://intranet/", "fully qualified"),
    ],
)
def test_url_to_did_web_rejections(url: str, match: str) -> None:
    with pytest.raises(MalformedError, match=match):
        url_to_did_web(url)


labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
hosts = st.lists(labels, min_size=1, max_size=4).map(lambda ls: ".".join([*ls, "example"]))
segments = st.from_regex(r"([A-Za-z0-9_-]|%[0-9A-F]{2}){1,8}", fullmatch=True).filter(
    lambda s: s not in (".well-known",)
)


@settings(max_examples=200, deadline=None)
@given(
    host=hosts,
    port=st.one_of(st.none(), st.integers(min_value=1, max_value=65535).filter(lambda p: p != 443)),
    path=st.lists(segments, max_size=4),
)
def test_did_web_round_trip(host: str, port: int | None, path: list[str]) -> None:
    did = "did:web:" + host + (f"%3A{port}" if port else "") + "".join(":" + s for s in path)
    try:
        url = did_web_to_url(did)
    except MalformedError:
        # Only encoded characters that are refused on purpose (slash, control, non-UTF-8).
        assert any("%" in s for s in path)
        return
    assert url.startswith("https://") and url.endswith("/did.json")
    assert url_to_did_web(url) == did


# --- Document validation ----------------------------------------------------------------------

WEB_DID = "did:web:issuer.example"


def web_document(pair: KeyPair, **extra: Any) -> dict[str, Any]:
    bound = pair.with_controller(WEB_DID, f"{WEB_DID}#key-1")
    document: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": WEB_DID,
        "verificationMethod": [bound.to_public_multikey()],
        "assertionMethod": [f"{WEB_DID}#key-1"],
    }
    document.update(extra)
    return document


def test_validate_accepts_supported_types_and_returns_a_copy() -> None:
    ed = generate()
    p256 = generate("P-256")
    document = web_document(ed)
    document["verificationMethod"] += [
        {
            "id": f"{WEB_DID}#k2020",
            "type": "Ed25519VerificationKey2020",
            "controller": WEB_DID,
            "publicKeyMultibase": ed.public.multibase,
        },
        {
            "id": f"{WEB_DID}#k2018",
            "type": "Ed25519VerificationKey2018",
            "controller": WEB_DID,
            "publicKeyBase58": base58btc_encode(ed.public.raw)[1:],
        },
        {
            "id": f"{WEB_DID}#jwk2020",
            "type": "JsonWebKey2020",
            "controller": WEB_DID,
            "publicKeyJwk": p256.public.to_jwk(),
        },
        {
            # Kept but unusable: a key-agreement key.
            "id": f"{WEB_DID}#x25519",
            "type": "X25519KeyAgreementKey2020",
            "controller": WEB_DID,
            "publicKeyMultibase": "z6LSeu9HkTHSfLLeUs2nnzUSNedgDUevfNQgQjQC23ZCit6F",
        },
        {
            "id": f"{WEB_DID}#x25519-multikey",
            "type": "Multikey",
            "controller": WEB_DID,
            "publicKeyMultibase": "z6LSeu9HkTHSfLLeUs2nnzUSNedgDUevfNQgQjQC23ZCit6F",
        },
    ]
    document["authentication"] = [
        {
            "id": f"{WEB_DID}#jwk",
            "type": "JsonWebKey",
            "controller": WEB_DID,
            "publicKeyJwk": p256.public.to_jwk(),
        }
    ]
    document["keyAgreement"] = [f"{WEB_DID}#x25519"]
    original = copy.deepcopy(document)
    validated = validate_did_document(document, did=WEB_DID)
    assert validated == original
    validated["verificationMethod"][0]["publicKeyMultibase"] = "changed"
    assert document == original


def _invalid(document: dict[str, Any], match: str) -> None:
    with pytest.raises(MalformedError, match=match):
        validate_did_document(document, did=WEB_DID)


def test_validate_rejections() -> None:
    pair = generate()
    good = web_document(pair)
    _invalid({**good, "id": "did:web:other.example"}, "does not equal")
    _invalid({k: v for k, v in good.items() if k != "id"}, "does not equal")
    relative_vm = copy.deepcopy(good)
    relative_vm["verificationMethod"][0]["id"] = "#key-1"
    _invalid(relative_vm, r"not an absolute URL; relative references such as '#key-1'")
    _invalid({**good, "assertionMethod": ["#key-1"]}, "relative reference '#key-1'")
    no_controller = copy.deepcopy(good)
    del no_controller["verificationMethod"][0]["controller"]
    _invalid(no_controller, "has no controller")
    relative_controller = copy.deepcopy(good)
    relative_controller["verificationMethod"][0]["controller"] = "issuer.example"
    _invalid(relative_controller, "controller 'issuer.example' is not an absolute URL")
    no_type = copy.deepcopy(good)
    del no_type["verificationMethod"][0]["type"]
    _invalid(no_type, "has no type")
    duplicate = copy.deepcopy(good)
    other = pair.with_controller(WEB_DID, f"{WEB_DID}#key-1")
    duplicate["verificationMethod"].append(
        {**other.to_public_multikey(), "publicKeyMultibase": generate().public.multibase}
    )
    _invalid(duplicate, "share the id")
    _invalid({**good, "assertionMethod": f"{WEB_DID}#key-1"}, "assertionMethod must be a list")
    _invalid({**good, "verificationMethod": {}}, "verificationMethod must be a list")
    _invalid({**good, "verificationMethod": ["x"]}, "must be a JSON object")
    _invalid({**good, "controller": "relative"}, "document controller")
    truncated = copy.deepcopy(good)
    truncated["verificationMethod"][0]["publicKeyMultibase"] = base58btc_encode(
        base58btc_decode(pair.public.multibase)[:-1]
    )
    _invalid(truncated, "invalidPublicKeyLength")
    wrong_2020 = copy.deepcopy(good)
    wrong_2020["verificationMethod"][0]["type"] = "Ed25519VerificationKey2020"
    wrong_2020["verificationMethod"][0]["publicKeyMultibase"] = generate("P-256").public.multibase
    _invalid(wrong_2020, "must hold an ed25519-pub key")
    no_key = copy.deepcopy(good)
    del no_key["verificationMethod"][0]["publicKeyMultibase"]
    _invalid(no_key, "has no publicKeyMultibase")
    bad_jwk = copy.deepcopy(good)
    bad_jwk["verificationMethod"][0] = {
        "id": f"{WEB_DID}#key-1",
        "type": "JsonWebKey2020",
        "controller": WEB_DID,
    }
    _invalid(bad_jwk, "has no publicKeyJwk")
    with pytest.raises(MalformedError, match="JSON object"):
        validate_did_document([], did=WEB_DID)  # type: ignore[arg-type]
    with pytest.raises(MalformedError, match="is not a DID"):
        validate_did_document(good, did="https://issuer.example")
    with pytest.raises(MalformedError, match="is not a DID"):
        validate_did_document(good, did=WEB_DID + "#key-1")


# --- Resolver ---------------------------------------------------------------------------------

OB_ISSUER = "https://example.com/issuers/876543"


@pytest.fixture
def web_pair() -> KeyPair:
    return load_key_file(load("vc-di-eddsa/keyPair.json")).with_controller(
        WEB_DID, f"{WEB_DID}#key-1"
    )


def test_resolver_did_web_by_reference_and_by_value(web_pair: KeyPair) -> None:
    embedded = generate("P-384").with_controller(WEB_DID, f"{WEB_DID}#auth")
    document = web_document(web_pair, authentication=[embedded.to_public_multikey()])
    resolver = Resolver({WEB_DID: document})
    method = resolver.verification_method(f"{WEB_DID}#key-1", relationship="assertionMethod")
    assert method == VerificationMethod(
        id=f"{WEB_DID}#key-1", type="Multikey", controller=WEB_DID, public_key=web_pair.public
    )
    method.public_key.verify(web_pair.sign(b"m"), b"m")
    auth = resolver.verification_method(f"{WEB_DID}#auth", relationship="authentication")
    assert auth.public_key == embedded.public
    with pytest.raises(KeyResolutionError, match="not listed under assertionMethod"):
        resolver.verification_method(f"{WEB_DID}#auth", relationship="assertionMethod")
    assert resolver.resolve(WEB_DID) == validate_did_document(document, did=WEB_DID)
    assert resolver.resolve(f"{WEB_DID}#key-1")["id"] == WEB_DID


def test_resolver_https_controller_document_as_in_ob_examples() -> None:
    credential = load("ob3-examples/simple.json")
    vm_id = credential["proof"][0]["verificationMethod"]
    assert vm_id.startswith(OB_ISSUER + "#z6Mk")
    multibase = vm_id.split("#")[1]
    document = {
        "@context": ["https://www.w3.org/ns/cid/v1"],
        "id": OB_ISSUER,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "Multikey",
                "controller": OB_ISSUER,
                "publicKeyMultibase": multibase,
            }
        ],
        "assertionMethod": [vm_id],
    }
    method = Resolver({OB_ISSUER: document}).verification_method(
        vm_id, relationship="assertionMethod"
    )
    assert method.public_key.multibase == multibase
    assert validate_controller_document(document, controller_id=OB_ISSUER) == document


def test_fragment_only_key_is_never_trusted() -> None:
    credential = load("ob3-examples/simple.json")
    vm_id = credential["proof"][0]["verificationMethod"]
    # The fragment decodes as a valid Ed25519 key, but no document vouches for it.
    with pytest.raises(KeyResolutionError, match="was not provided"):
        Resolver().verification_method(vm_id, relationship="assertionMethod")
    # A document for the issuer that does not hold that key.
    other = generate().with_controller(OB_ISSUER, f"{OB_ISSUER}#key-1")
    document = {
        "id": OB_ISSUER,
        "verificationMethod": [other.to_public_multikey()],
        "assertionMethod": [vm_id, other.id],
    }
    with pytest.raises(KeyResolutionError, match="has no verification method"):
        Resolver({OB_ISSUER: document}).verification_method(vm_id, relationship="assertionMethod")
    # did:key: the fragment must be the DID's own key.
    attacker = generate().public.multibase
    with pytest.raises(KeyResolutionError, match="has no verification method"):
        Resolver().verification_method(f"{EDDSA_DID}#{attacker}", relationship="assertionMethod")


def test_bare_did_key_method_id_as_in_ob_examples() -> None:
    credential = load("ob3-examples/simple-did-key-method.json")
    vm_id = credential["proof"][0]["verificationMethod"]
    assert "#" not in vm_id
    method = Resolver().verification_method(vm_id, relationship="assertionMethod")
    assert method.id == f"{vm_id}#{vm_id.removeprefix('did:key:')}"


def test_resolver_unknown_controller_message(web_pair: KeyPair) -> None:
    with pytest.raises(KeyResolutionError) as info:
        Resolver().resolve(WEB_DID)
    assert "for 'did:web:issuer.example' was not provided" in info.value.message


def test_resolver_negative_cases(web_pair: KeyPair) -> None:
    good = web_document(web_pair)
    vm_id = f"{WEB_DID}#key-1"

    # Wrong relationship.
    with pytest.raises(KeyResolutionError, match="not authorized for authentication"):
        Resolver({WEB_DID: good}).verification_method(vm_id, relationship="authentication")
    # Not a relationship at all.
    with pytest.raises(KeyResolutionError, match="not a verification relationship"):
        Resolver({WEB_DID: good}).verification_method(vm_id, relationship="verificationMethod")
    # Controller mismatch.
    foreign = copy.deepcopy(good)
    foreign["verificationMethod"][0]["controller"] = "did:web:attacker.example"
    with pytest.raises(KeyResolutionError, match=r"is controlled by 'did:web:attacker\.example'"):
        Resolver({WEB_DID: foreign}).verification_method(vm_id, relationship="assertionMethod")
    # Document id mismatch (a document served for one DID claiming to be another).
    with pytest.raises(KeyResolutionError, match="does not equal the identifier"):
        Resolver({WEB_DID: {**good, "id": "did:web:other.example"}}).verification_method(
            vm_id, relationship="assertionMethod"
        )
    # Document keyed by an https URL but claiming another id.
    with pytest.raises(KeyResolutionError, match="does not equal the identifier"):
        Resolver({OB_ISSUER: {**good}}).verification_method(
            f"{OB_ISSUER}#key-1", relationship="assertionMethod"
        )
    # Unknown controller.
    with pytest.raises(KeyResolutionError, match=r"did:web:unknown\.example"):
        Resolver({WEB_DID: good}).verification_method(
            "did:web:unknown.example#key-1", relationship="assertionMethod"
        )
    # Method id without fragment, relative, empty or not a string.
    for bad in (WEB_DID, "#key-1", f"{WEB_DID}#", "", None, 7):
        with pytest.raises(KeyResolutionError):
            Resolver({WEB_DID: good}).verification_method(
                bad,  # type: ignore[arg-type]
                relationship="assertionMethod",
            )
    # An invalid document (relative reference) is reported as a resolution failure.
    relative = {**good, "assertionMethod": ["#key-1"]}
    with pytest.raises(KeyResolutionError, match="invalid: assertionMethod holds the relative"):
        Resolver({WEB_DID: relative}).verification_method(vm_id, relationship="assertionMethod")
    # A listed method of an unusable type.
    x25519 = {
        **good,
        "verificationMethod": [
            *good["verificationMethod"],
            {
                "id": f"{WEB_DID}#kex",
                "type": "X25519KeyAgreementKey2020",
                "controller": WEB_DID,
                "publicKeyMultibase": "z6LSeu9HkTHSfLLeUs2nnzUSNedgDUevfNQgQjQC23ZCit6F",
            },
        ],
        "keyAgreement": [f"{WEB_DID}#kex"],
        "assertionMethod": [vm_id, f"{WEB_DID}#kex"],
    }
    with pytest.raises(KeyResolutionError, match="unsupported type 'X25519KeyAgreementKey2020'"):
        Resolver({WEB_DID: x25519}).verification_method(
            f"{WEB_DID}#kex", relationship="assertionMethod"
        )
    # A reference to a method held by another document is not followed.
    elsewhere = {**good, "assertionMethod": [vm_id, "did:web:other.example#key-1"]}
    with pytest.raises(KeyResolutionError, match="was not provided"):
        Resolver({WEB_DID: elsewhere}).verification_method(
            "did:web:other.example#key-1", relationship="assertionMethod"
        )
    # Malformed did:key.
    with pytest.raises(KeyResolutionError, match="invalidPublicKeyLength"):
        Resolver().verification_method(TRUNCATED_DID, relationship="assertionMethod")
    with pytest.raises(KeyResolutionError, match="invalidPublicKeyLength"):
        Resolver().resolve(TRUNCATED_DID)


def test_resolver_ignores_provided_did_key_documents_and_copies_input(web_pair: KeyPair) -> None:
    attacker = key_pair_as_did_key(generate())
    forged = resolve_did_key(did_key_for(attacker.public))
    forged["id"] = EDDSA_DID
    vm_id = f"{EDDSA_DID}#{EDDSA_DID.removeprefix('did:key:')}"
    forged["verificationMethod"][0].update(
        id=vm_id, controller=EDDSA_DID, publicKeyMultibase=attacker.public.multibase
    )
    resolver = Resolver({EDDSA_DID: forged})
    method = resolver.verification_method(vm_id, relationship="assertionMethod")
    assert method.public_key.multibase == EDDSA_DID.removeprefix("did:key:")

    document = web_document(web_pair)
    resolver = Resolver({WEB_DID: document})
    document["assertionMethod"] = []  # mutating the input after the fact changes nothing
    resolved = resolver.resolve(WEB_DID)
    assert resolved["assertionMethod"] == [f"{WEB_DID}#key-1"]
    resolved["assertionMethod"].clear()  # nor does mutating a result
    assert resolver.verification_method(f"{WEB_DID}#key-1", relationship="assertionMethod")


def test_resolver_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError):
        Resolver([])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Resolver({1: {}})  # type: ignore[dict-item]
    with pytest.raises(KeyResolutionError):
        Resolver().resolve("")
