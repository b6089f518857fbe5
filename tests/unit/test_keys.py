"""Keys: Multikey/JWK encoding, W3C key vectors, signatures reproduced byte for byte, errors."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.encoding import b64url_decode, base58btc_decode, base58btc_encode, multicodec_wrap
from protocol.errors import InvalidProof, MalformedError, ProtocolError, UnsupportedError
from protocol.keys import (
    ALGORITHMS,
    KeyPair,
    PublicKey,
    generate,
    key_pair_from_multibase,
    load_key_file,
    public_key_from_jwk,
    public_key_from_multibase,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P384_N = int(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    16,
)


def load(relative: str) -> Any:
    return json.loads((VECTORS / relative).read_text(encoding="utf-8"))


def secret_of(entry: dict[str, str]) -> str:
    return entry.get("secretKeyMultibase") or entry["privateKeyMultibase"]


# --- W3C key vectors: derive the public key from the secret and compare -----------------------

KEY_VECTORS: list[tuple[str, dict[str, str], str]] = [
    ("vc-di-eddsa/keyPair.json", load("vc-di-eddsa/keyPair.json"), "Ed25519"),
    *(
        (f"multiKeyPairs/{name}", entry, "Ed25519")
        for name, entry in load("vc-di-eddsa/proof-set-chain/multiKeyPairs.json").items()
    ),
    ("vc-di-ecdsa/p256KeyPair.json", load("vc-di-ecdsa/p256KeyPair.json"), "P-256"),
    ("vc-di-ecdsa/p384KeyPair.json", load("vc-di-ecdsa/p384KeyPair.json"), "P-384"),
    *(
        (
            f"SDKeyMaterial/{name}",
            load("vc-di-ecdsa/ecdsa-sd-2023/SDKeyMaterial.json")[name],
            "P-256",
        )
        for name in ("baseKeyPair", "proofKeyPair")
    ),
]


def test_key_vector_count() -> None:
    # Four proof-set keys, the eddsa key, two ECDSA keys, two ecdsa-sd keys: fail if one is lost.
    assert len(KEY_VECTORS) == 9


@pytest.mark.parametrize(
    ("name", "entry", "algorithm"), KEY_VECTORS, ids=[v[0] for v in KEY_VECTORS]
)
def test_w3c_key_vectors(name: str, entry: dict[str, str], algorithm: str) -> None:
    pair = key_pair_from_multibase(entry["publicKeyMultibase"], secret_of(entry))
    assert pair.algorithm == algorithm
    assert pair.public.multibase == entry["publicKeyMultibase"]
    # Our export of the secret is byte-identical to the vector's.
    assert pair.secret_multibase == secret_of(entry)
    # The key files load as they are (no type, no @context; eddsa spells it privateKeyMultibase).
    assert load_key_file(entry) == pair
    # Derive the public key from the secret alone and compare.
    secret_bytes = base58btc_decode(secret_of(entry))
    derived = KeyPair(pair.algorithm, secret_bytes[2:])
    assert derived.public.multibase == entry["publicKeyMultibase"]
    parsed = public_key_from_multibase(entry["publicKeyMultibase"])
    assert parsed == pair.public
    assert public_key_from_jwk(parsed.to_jwk()) == parsed


def test_multibase_prefixes_and_headers() -> None:
    ed = public_key_from_multibase(load("vc-di-eddsa/keyPair.json")["publicKeyMultibase"])
    p256 = public_key_from_multibase(load("vc-di-ecdsa/p256KeyPair.json")["publicKeyMultibase"])
    p384 = public_key_from_multibase(load("vc-di-ecdsa/p384KeyPair.json")["publicKeyMultibase"])
    assert ed.multibase.startswith("z6Mk") and len(ed.raw) == 32
    assert p256.multibase.startswith("zDna") and len(p256.raw) == 33
    assert p384.multibase.startswith("z82L") and len(p384.raw) == 49
    assert base58btc_decode(ed.multibase)[:2] == b"\xed\x01"
    assert base58btc_decode(p256.multibase)[:2] == b"\x80\x24"
    assert base58btc_decode(p384.multibase)[:2] == b"\x81\x24"
    ed_pair = key_pair_from_multibase(
        ed.multibase, load("vc-di-eddsa/keyPair.json")["privateKeyMultibase"]
    )
    assert base58btc_decode(ed_pair.secret_multibase)[:2] == b"\x80\x26"
    p256_pair = load_key_file(load("vc-di-ecdsa/p256KeyPair.json"))
    assert base58btc_decode(p256_pair.secret_multibase)[:2] == b"\x86\x26"
    p384_pair = load_key_file(load("vc-di-ecdsa/p384KeyPair.json"))
    assert base58btc_decode(p384_pair.secret_multibase)[:2] == b"\x87\x26"
    assert len(base58btc_decode(p384_pair.secret_multibase)) == 2 + 48


# --- Signatures: every sigHex vector is reproduced from the key and proofHash||docHash ---------

SIGNATURE_VECTORS = sorted(
    str(p.relative_to(VECTORS)) for p in VECTORS.glob("vc-di-e*dsa/**/sigHex*.txt")
)


def test_signature_vector_count() -> None:
    assert len(SIGNATURE_VECTORS) == 10


def _signing_pair(relative: str) -> KeyPair:
    if relative.startswith("vc-di-eddsa"):
        return load_key_file(load("vc-di-eddsa/keyPair.json"))
    if "P384" in relative:
        return load_key_file(load("vc-di-ecdsa/p384KeyPair.json"))
    return load_key_file(load("vc-di-ecdsa/p256KeyPair.json"))


@pytest.mark.parametrize("relative", SIGNATURE_VECTORS)
def test_signature_vectors_reproduced(relative: str) -> None:
    path = VECTORS / relative
    suffix = path.name.removeprefix("sigHex")
    proof_hash = bytes.fromhex((path.parent / f"proofHash{suffix}").read_text().strip())
    doc_hash = bytes.fromhex((path.parent / f"docHash{suffix}").read_text().strip())
    combined = bytes.fromhex((path.parent / f"combinedHash{suffix}").read_text().strip())
    # The signature input is the concatenation proofHash || docHash (README, vc-di-* §3.3.x).
    assert combined == proof_hash + doc_hash
    expected = bytes.fromhex(path.read_text().strip())
    pair = _signing_pair(relative)
    signature = pair.sign(combined)
    assert signature == expected  # RFC 6979 / RFC 8032 determinism: byte for byte
    pair.public.verify(expected, combined)
    proof_value = (path.parent / f"sigBTC58{suffix}").read_text().strip()
    assert base58btc_encode(signature) == proof_value
    tampered = bytearray(expected)
    tampered[5] ^= 0x01
    with pytest.raises(InvalidProof):
        pair.public.verify(bytes(tampered), combined)
    with pytest.raises(InvalidProof):
        pair.public.verify(expected, combined[:-1] + bytes([combined[-1] ^ 1]))


def test_ecdsa_p256_sighex_exact() -> None:
    base = VECTORS / "vc-di-ecdsa/ecdsa-rdfc-2019-p256"
    combined = bytes.fromhex((base / "combinedHashECDSAP256.txt").read_text().strip())
    pair = load_key_file(load("vc-di-ecdsa/p256KeyPair.json"))
    assert pair.sign(combined).hex() == (base / "sigHexECDSAP256.txt").read_text().strip()


@pytest.mark.parametrize(("algorithm", "length"), [("Ed25519", 64), ("P-256", 64), ("P-384", 96)])
def test_wrong_signature_length_is_invalid_proof(algorithm: str, length: int) -> None:
    pair = generate(algorithm)  # type: ignore[arg-type]
    signature = pair.sign(b"data")
    assert len(signature) == length
    pair.public.verify(signature, b"data")
    for bad in (signature[:-1], signature + b"\x00", b"", signature * 2):
        with pytest.raises(InvalidProof, match=f"must be {length} bytes"):
            pair.public.verify(bad, b"data")


def test_ecdsa_signature_with_out_of_range_scalars() -> None:
    pair = generate("P-256")
    zero = bytes(64)
    with pytest.raises(InvalidProof):
        pair.public.verify(zero, b"data")
    over = P256_N.to_bytes(32, "big") * 2
    with pytest.raises(InvalidProof):
        pair.public.verify(over, b"data")
    ones = b"\xff" * 64
    with pytest.raises(InvalidProof):
        pair.public.verify(ones, b"data")


def test_wrong_key_does_not_verify() -> None:
    a, b = generate("Ed25519"), generate("Ed25519")
    with pytest.raises(InvalidProof):
        b.public.verify(a.sign(b"m"), b"m")
    c, d = generate("P-384"), generate("P-384")
    with pytest.raises(InvalidProof):
        d.public.verify(c.sign(b"m"), b"m")


def test_ecdsa_is_deterministic_and_verifies_high_s() -> None:
    pair = generate("P-256")
    assert pair.sign(b"hello") == pair.sign(b"hello")
    assert pair.sign(b"hello") != pair.sign(b"hellp")
    # A verifier must accept the equivalent high-S form (WebCrypto does not normalise S).
    signature = pair.sign(b"hello")
    r, s = signature[:32], int.from_bytes(signature[32:], "big")
    pair.public.verify(r + (P256_N - s).to_bytes(32, "big"), b"hello")


def test_verify_rejects_non_bytes() -> None:
    pair = generate()
    with pytest.raises(TypeError):
        pair.public.verify("sig", b"data")  # type: ignore[arg-type]


# --- Key files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["Ed25519", "P-256", "P-384"])
def test_key_file_shape_and_round_trip(algorithm: str) -> None:
    pair = generate(algorithm).with_controller("did:web:example.com")  # type: ignore[arg-type]
    assert pair.controller == "did:web:example.com"
    assert pair.id == f"did:web:example.com#{pair.public.multibase}"
    document = pair.to_key_file()
    assert list(document) == [
        "@context",
        "id",
        "type",
        "controller",
        "publicKeyMultibase",
        "secretKeyMultibase",
    ]
    assert document["@context"] == "https://w3id.org/security/multikey/v1"
    assert document["type"] == "Multikey"
    assert load_key_file(json.loads(json.dumps(document))) == pair
    # Optional members.
    bare = {k: v for k, v in document.items() if k not in ("@context", "controller", "id")}
    loaded = load_key_file(bare)
    assert loaded.controller is None and loaded.id is None
    assert loaded.public == pair.public
    assert loaded.sign(b"x") == pair.sign(b"x")


def test_copy_and_pickle() -> None:
    pair = generate("P-256")
    assert copy.deepcopy(pair) is pair
    assert copy.copy(pair.public) is pair.public
    assert pickle.loads(pickle.dumps(pair.public)) == pair.public
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(pair)


def test_key_file_without_controller_omits_members() -> None:
    document = generate().to_key_file()
    assert list(document) == ["@context", "type", "publicKeyMultibase", "secretKeyMultibase"]


def test_with_controller_explicit_id_and_immutability() -> None:
    pair = generate()
    bound = pair.with_controller("did:web:example.com", "did:web:example.com#key-1")
    assert bound.id == "did:web:example.com#key-1"
    assert pair.controller is None  # the original is unchanged
    with pytest.raises(AttributeError):
        pair.controller = "x"
    with pytest.raises(AttributeError):
        pair.public = generate().public
    with pytest.raises(ValueError):
        pair.with_controller("")
    assert pair.secret_multibase not in repr(pair)
    assert pair.public.multibase in repr(pair)
    with pytest.raises(AttributeError):
        pair.public.raw = b""  # type: ignore[misc]


def test_key_file_mismatch_and_errors() -> None:
    a = load("vc-di-eddsa/proof-set-chain/multiKeyPairs.json")
    with pytest.raises(MalformedError, match="does not match"):
        key_pair_from_multibase(
            a["keyPair1"]["publicKeyMultibase"], a["keyPair2"]["privateKeyMultibase"]
        )
    p256 = load("vc-di-ecdsa/p256KeyPair.json")
    with pytest.raises(MalformedError, match="P-256 but the public key is Ed25519"):
        key_pair_from_multibase(a["keyPair1"]["publicKeyMultibase"], p256["secretKeyMultibase"])
    with pytest.raises(MalformedError, match="holds a public key"):
        key_pair_from_multibase(p256["publicKeyMultibase"], p256["publicKeyMultibase"])
    with pytest.raises(MalformedError, match="no secretKeyMultibase"):
        load_key_file({"type": "Multikey", "publicKeyMultibase": p256["publicKeyMultibase"]})
    with pytest.raises(MalformedError, match="no publicKeyMultibase"):
        load_key_file({"type": "Multikey", "secretKeyMultibase": p256["secretKeyMultibase"]})
    with pytest.raises(UnsupportedError, match="unsupported key file type"):
        load_key_file({"type": "RsaVerificationKey2018"})
    with pytest.raises(MalformedError, match="@context"):
        load_key_file({**p256, "@context": "https://example.com/other"})
    with pytest.raises(MalformedError, match="controller"):
        load_key_file({**p256, "controller": 7})
    with pytest.raises(MalformedError):
        load_key_file([])  # type: ignore[arg-type]
    # An out-of-range ECDSA scalar (zero, or n) is refused.
    for scalar in (0, P256_N):
        bad = base58btc_encode(multicodec_wrap(0x1306, scalar.to_bytes(32, "big")))
        with pytest.raises(MalformedError, match="not a valid scalar"):
            key_pair_from_multibase(p256["publicKeyMultibase"], bad)
    short = base58btc_encode(multicodec_wrap(0x1306, bytes(30) + b"\x01"))
    with pytest.raises(MalformedError, match="secret key must be 32 bytes, got 31"):
        key_pair_from_multibase(p256["publicKeyMultibase"], short)
    secp = base58btc_encode(multicodec_wrap(0x1301, bytes(31) + b"\x01"))
    with pytest.raises(UnsupportedError, match="secp256k1"):
        key_pair_from_multibase(p256["publicKeyMultibase"], secp)


def test_legacy_ed25519_2020_key_file_with_64_byte_secret() -> None:
    vector = load("vc-di-eddsa/keyPair.json")
    pair = load_key_file(vector)
    seed = base58btc_decode(pair.secret_multibase)[2:]
    legacy_secret = base58btc_encode(multicodec_wrap(0x1300, seed + pair.public.raw))
    document = {
        "@context": "https://w3id.org/security/suites/ed25519-2020/v1",
        "id": "did:example:123#key-1",
        "type": "Ed25519VerificationKey2020",
        "controller": "did:example:123",
        "publicKeyMultibase": pair.public.multibase,
        "privateKeyMultibase": legacy_secret,
    }
    loaded = load_key_file(document)
    assert loaded.public == pair.public and loaded.controller == "did:example:123"
    assert loaded.sign(b"m") == pair.sign(b"m")
    other = generate()
    wrong = base58btc_encode(multicodec_wrap(0x1300, seed + other.public.raw))
    with pytest.raises(MalformedError, match="does not match"):
        load_key_file({**document, "privateKeyMultibase": wrong})
    p256 = load("vc-di-ecdsa/p256KeyPair.json")
    with pytest.raises(MalformedError, match="must hold an Ed25519 key"):
        load_key_file(
            {
                "type": "Ed25519VerificationKey2020",
                "publicKeyMultibase": p256["publicKeyMultibase"],
                "privateKeyMultibase": p256["secretKeyMultibase"],
            }
        )


def test_legacy_ed25519_2018_key_file() -> None:
    # did-key vector: seed 00..00 gives publicKeyBase58 4zvw… (did:key:z6MkiTBz…).
    entry = load("did-key/ed25519-x25519.json")[
        "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
    ]
    seed = bytes.fromhex(entry["seed"])
    public_b58 = entry["verificationKeyPair"]["publicKeyBase58"]
    public_raw = base58btc_decode("z" + public_b58)
    for secret in (seed, seed + public_raw):
        pair = load_key_file(
            {
                "type": "Ed25519VerificationKey2018",
                "publicKeyBase58": public_b58,
                "privateKeyBase58": base58btc_encode(secret)[1:],
            }
        )
        assert pair.public.raw == public_raw
    with pytest.raises(MalformedError, match="does not match"):
        load_key_file(
            {
                "type": "Ed25519VerificationKey2018",
                "publicKeyBase58": public_b58,
                "privateKeyBase58": base58btc_encode(bytes(31) + b"\x01")[1:],
            }
        )


# --- Parsing errors ------------------------------------------------------------------------------

X25519_DID = "did:key:z6LSeu9HkTHSfLLeUs2nnzUSNedgDUevfNQgQjQC23ZCit6F"


def test_x25519_key_handed_as_signing_key() -> None:
    assert X25519_DID in load("did-key/x25519.json")["didDocument"]
    with pytest.raises(UnsupportedError, match="key-agreement key, not a signing key"):
        public_key_from_multibase(X25519_DID.removeprefix("did:key:"))


@pytest.mark.parametrize(
    ("file", "match"),
    [("secp256k1.json", "secp256k1"), ("bls12381.json", "bls12_381"), ("rsa.json", "rsa")],
)
def test_unsupported_did_key_types(file: str, match: str) -> None:
    for did in load(f"did-key/{file}"):
        with pytest.raises(UnsupportedError, match=match):
            public_key_from_multibase(did.removeprefix("did:key:"))


def test_p521_is_unsupported() -> None:
    for did in load("did-key/nist-curves.json"):
        if did.startswith("did:key:z2J9"):
            with pytest.raises(UnsupportedError, match="p521"):
                public_key_from_multibase(did.removeprefix("did:key:"))


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ("", MalformedError, "base58btc"),
        ("6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2", MalformedError, "starting with 'z'"),
        ("uAe0B", MalformedError, "starting with 'z'"),
        ("z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ0", MalformedError, "base58btc"),
        ("z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQl", MalformedError, "base58btc"),
        ("z", MalformedError, "empty"),
        ("z" + "2" * 70_000, MalformedError, "longer than"),
    ],
)
def test_bad_multibase(text: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        public_key_from_multibase(text)


def test_non_string_multibase() -> None:
    with pytest.raises(MalformedError, match="must be a string"):
        public_key_from_multibase(b"z6Mk")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "length", "name"),
    [(0xED, 31, "Ed25519"), (0xED, 33, "Ed25519"), (0x1200, 32, "P-256"), (0x1201, 48, "P-384")],
)
def test_truncated_or_long_key(code: int, length: int, name: str) -> None:
    text = base58btc_encode(multicodec_wrap(code, b"\x02" * length))
    with pytest.raises(MalformedError, match=f"invalidPublicKeyLength: {name} public key must be"):
        public_key_from_multibase(text)


def test_truncated_w3c_key() -> None:
    good = load("vc-di-eddsa/keyPair.json")["publicKeyMultibase"]
    raw = base58btc_decode(good)
    with pytest.raises(MalformedError, match="invalidPublicKeyLength"):
        public_key_from_multibase(base58btc_encode(raw[:-1]))


def _p256_x_off_curve() -> bytes:
    # Find an x for which x^3 - 3x + b is not a square mod p: no point has that x.
    p = 2**256 - 2**224 + 2**192 + 2**96 - 1
    b = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
    x = 1
    while pow((x**3 - 3 * x + b) % p, (p - 1) // 2, p) == 1:
        x += 1
    return x.to_bytes(32, "big")


def test_bad_points() -> None:
    off_curve = base58btc_encode(multicodec_wrap(0x1200, b"\x02" + _p256_x_off_curve()))
    with pytest.raises(MalformedError, match="not a point on the curve"):
        public_key_from_multibase(off_curve)
    # x >= p is not a field element.
    too_big = base58btc_encode(multicodec_wrap(0x1200, b"\x02" + b"\xff" * 32))
    with pytest.raises(MalformedError, match="invalidPublicKey"):
        public_key_from_multibase(too_big)
    # A 33-byte value whose first byte is not a compressed-point tag.
    bad_tag = base58btc_encode(multicodec_wrap(0x1200, b"\x04" + b"\x01" * 32))
    with pytest.raises(MalformedError, match="compressed point"):
        public_key_from_multibase(bad_tag)
    # Ed25519: the identity (small order), a non-canonical y, and a y with no x on the curve.
    for raw in (b"\x01" + bytes(31), b"\xff" * 31 + b"\x7f", (2).to_bytes(32, "little")):
        text = base58btc_encode(multicodec_wrap(0xED, raw))
        with pytest.raises(MalformedError, match="not a valid point"):
            public_key_from_multibase(text)


def test_uncompressed_p256_refused() -> None:
    pair = generate("P-256")
    key = pair.public.verifier_key()
    uncompressed = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    with pytest.raises(MalformedError, match="invalidPublicKeyLength"):
        public_key_from_multibase(base58btc_encode(multicodec_wrap(0x1200, uncompressed)))


def test_secret_key_handed_as_public_key() -> None:
    secret = load("vc-di-ecdsa/p256KeyPair.json")["secretKeyMultibase"]
    with pytest.raises(MalformedError, match="holds a secret key"):
        public_key_from_multibase(secret)


def test_unknown_codec_and_bad_varint() -> None:
    with pytest.raises(UnsupportedError, match="unknown public key multicodec 0x55"):
        public_key_from_multibase(base58btc_encode(multicodec_wrap(0x55, bytes(32))))
    # A truncated varint header (continuation bit set, then nothing).
    with pytest.raises(MalformedError, match="multicodec header"):
        public_key_from_multibase(base58btc_encode(b"\x80"))
    # A non-minimal varint for 0xed (three bytes) is refused.
    with pytest.raises(MalformedError, match="multicodec header"):
        public_key_from_multibase(base58btc_encode(b"\xed\x81\x00" + bytes(32)))


def test_direct_construction_validates() -> None:
    with pytest.raises(UnsupportedError):
        PublicKey("secp256k1", bytes(33))  # type: ignore[arg-type]
    with pytest.raises(MalformedError):
        PublicKey("Ed25519", bytes(32))  # all-zero y: small order
    with pytest.raises(TypeError):
        PublicKey("Ed25519", "z6Mk")  # type: ignore[arg-type]
    with pytest.raises(UnsupportedError):
        generate("P-521")  # type: ignore[arg-type]
    with pytest.raises(UnsupportedError):
        KeyPair("P-521", bytes(66))  # type: ignore[arg-type]


# --- JWK ----------------------------------------------------------------------------------------


def test_nist_curve_jwks_match_did_keys() -> None:
    vectors = load("did-key/nist-curves.json")
    checked = 0
    for did, entry in vectors.items():
        jwk = entry["verificationMethod"].get("publicKeyJwk")
        if jwk is None or jwk["crv"] not in ("P-256", "P-384"):
            continue
        key = public_key_from_jwk(jwk)
        assert "did:key:" + key.multibase == did
        assert key.to_jwk() == {k: jwk[k] for k in ("kty", "crv", "x", "y")}
        private = entry["verificationMethod"]["privateKeyJwk"]
        scalar = b64url_decode(private["d"])
        assert KeyPair(key.algorithm, scalar).public == key
        checked += 1
    assert checked == 4


def test_ed25519_jwk_round_trip() -> None:
    pair = load_key_file(load("vc-di-eddsa/keyPair.json"))
    jwk = pair.public.to_jwk()
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and set(jwk) == {"kty", "crv", "x"}
    assert public_key_from_jwk(jwk) == pair.public
    assert public_key_from_jwk({**jwk, "alg": "EdDSA"}) == pair.public


def test_jwk_errors() -> None:
    p256 = load_key_file(load("vc-di-ecdsa/p256KeyPair.json")).public.to_jwk()
    cases: list[tuple[Any, type[Exception], str]] = [
        ([], MalformedError, "JSON object"),
        ({**p256, "d": "AAAA"}, MalformedError, "private member"),
        ({**p256, "kty": "RSA"}, UnsupportedError, "key type"),
        ({**p256, "crv": "P-521"}, UnsupportedError, "EC curve"),
        ({**p256, "crv": "secp256k1"}, UnsupportedError, "EC curve"),
        ({"kty": "OKP", "crv": "X25519", "x": p256["x"]}, UnsupportedError, "OKP curve"),
        ({**p256, "alg": "ES384"}, MalformedError, "does not match"),
        ({**p256, "x": p256["x"][:-4]}, MalformedError, "invalidPublicKeyLength"),
        ({**p256, "y": p256["x"]}, MalformedError, "not a point"),
        ({**p256, "x": 5}, MalformedError, "'x' must be a string"),
        ({**p256, "x": "!!!"}, MalformedError, "base64url"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}, MalformedError, "invalidPublicKeyLength"),
    ]
    for jwk, error, match in cases:
        with pytest.raises(error, match=match):
            public_key_from_jwk(jwk)


# --- Properties ---------------------------------------------------------------------------------

seeds = st.binary(min_size=32, max_size=32)
p256_scalars = st.integers(min_value=1, max_value=P256_N - 1).map(lambda n: n.to_bytes(32, "big"))
p384_scalars = st.integers(min_value=1, max_value=P384_N - 1).map(lambda n: n.to_bytes(48, "big"))
pairs = st.one_of(
    seeds.map(lambda s: KeyPair("Ed25519", s)),
    p256_scalars.map(lambda s: KeyPair("P-256", s)),
    p384_scalars.map(lambda s: KeyPair("P-384", s)),
)


@settings(max_examples=60, deadline=None)
@given(pair=pairs, message=st.binary(max_size=200))
def test_round_trips(pair: KeyPair, message: bytes) -> None:
    public = pair.public
    assert public_key_from_multibase(public.multibase) == public
    assert public_key_from_jwk(public.to_jwk()) == public
    assert key_pair_from_multibase(public.multibase, pair.secret_multibase) == pair
    assert load_key_file(pair.to_key_file()) == pair
    signature = pair.sign(message)
    public.verify(signature, message)
    assert pair.sign(message) == signature
    flipped = bytearray(signature)
    flipped[len(flipped) // 3] ^= 0x40
    with pytest.raises(InvalidProof):
        public.verify(bytes(flipped), message)


@settings(max_examples=300, deadline=None)
@given(
    code=st.sampled_from([0xED, 0x1200, 0x1201, 0xEC, 0xE7, 0x1300, 0x1306, 0x00, 0x7F]),
    payload=st.binary(max_size=60),
)
def test_arbitrary_key_bytes_raise_only_protocol_errors(code: int, payload: bytes) -> None:
    text = base58btc_encode(multicodec_wrap(code, payload))
    try:
        key = public_key_from_multibase(text)
    except ProtocolError:
        return
    # Accepted values are canonical: re-encoding the key gives the same text.
    assert base58btc_encode(multicodec_wrap(code, key.raw)) == text
    assert key.multibase == text


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=80))
def test_arbitrary_text_raises_only_protocol_errors(text: str) -> None:
    try:
        public_key_from_multibase(text)
    except ProtocolError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    jwk=st.dictionaries(
        st.sampled_from(["kty", "crv", "x", "y", "alg", "d"]),
        st.one_of(
            st.sampled_from(["EC", "OKP", "P-256", "P-384", "Ed25519", "ES256"]),
            st.text(max_size=70),
            st.integers(),
        ),
    )
)
def test_arbitrary_jwk_raises_only_protocol_errors(jwk: dict[str, Any]) -> None:
    try:
        public_key_from_jwk(jwk)
    except ProtocolError:
        pass


def test_generate_all_algorithms() -> None:
    for algorithm in ALGORITHMS:
        pair = generate(algorithm)
        assert pair.algorithm == algorithm
        pair.public.verify(pair.sign(b"abc"), b"abc")
        assert generate(algorithm).public != pair.public


def test_cryptography_supports_deterministic_ecdsa() -> None:
    # RFC 6979 needs pyca/cryptography with deterministic_signing (added in release 44).
    key = ec.generate_private_key(ec.SECP256R1())
    assert key.sign(b"x", ec.ECDSA(hashes.SHA256(), deterministic_signing=True)) == key.sign(
        b"x", ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    )
