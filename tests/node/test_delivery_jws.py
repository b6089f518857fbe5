"""Compact JWS verification for OID4VCI jwt proofs (node/delivery/jws.py).

Signatures made here independently with pyca/cryptography (DER ECDSA converted to the JWS
``R || S`` form) check that our verifier reads the JWS encoding, not just our own output.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from node.delivery.jws import MAX_JWS_CHARS, parse_compact, sign_compact
from protocol.errors import InvalidProof, MalformedError, UnsupportedError
from protocol.keys import PublicKey, generate


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _part(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value).encode())


_DUPLICATE_ALG = _b64(b'{"alg":"EdDSA","alg":"none"}')


def test_ed25519_signed_by_cryptography_verifies() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    head, body = _part({"alg": "EdDSA", "typ": "openid4vci-proof+jwt"}), _part({"nonce": "n"})
    token = f"{head}.{body}.{_b64(private.sign(f'{head}.{body}'.encode()))}"
    jws = parse_compact(token)
    assert jws.alg == "EdDSA" and jws.payload == {"nonce": "n"}
    jws.verify(PublicKey("Ed25519", raw))
    with pytest.raises(InvalidProof):
        jws.verify(generate().public)


def test_es256_signed_by_cryptography_verifies() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    head, body = _part({"alg": "ES256"}), _part({"aud": "https://node.example"})
    der = private.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    token = f"{head}.{body}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
    parse_compact(token).verify(PublicKey("P-256", point))
    # A DER signature is not a JWS signature.
    with pytest.raises(InvalidProof):
        parse_compact(f"{head}.{body}.{_b64(der)}").verify(PublicKey("P-256", point))


def test_round_trip_and_tampering() -> None:
    for algorithm, alg in (("Ed25519", "EdDSA"), ("P-256", "ES256")):
        key = generate(algorithm)  # type: ignore[arg-type]
        token = sign_compact({"alg": alg}, {"nonce": "abc"}, key)
        parse_compact(token).verify(key.public)
        head, _, sig = token.split(".")
        tampered = f"{head}.{_part({'nonce': 'abd'})}.{sig}"
        with pytest.raises(InvalidProof):
            parse_compact(tampered).verify(key.public)


def test_algorithm_must_match_key() -> None:
    ed = generate("Ed25519")
    token = sign_compact({"alg": "EdDSA"}, {}, ed)
    with pytest.raises(InvalidProof, match="P-256"):
        parse_compact(token.replace(token.split(".")[0], _part({"alg": "ES256"}))).verify(ed.public)
    with pytest.raises(ValueError):
        sign_compact({"alg": "ES256"}, {}, ed)


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (None, MalformedError),
        ("a.b", MalformedError),
        ("a.b.c.d", MalformedError),
        (f"{_part({'alg': 'EdDSA'})}..c2ln", MalformedError),
        (f"{_part({'alg': 'none'})}.{_part({})}.c2ln", UnsupportedError),
        (f"{_part({'alg': 'HS256'})}.{_part({})}.c2ln", UnsupportedError),
        (f"{_part({'alg': 'RS256'})}.{_part({})}.c2ln", UnsupportedError),
        (f"{_part({'typ': 'x'})}.{_part({})}.c2ln", MalformedError),
        (f"{_part({'alg': 'EdDSA', 'crit': ['exp']})}.{_part({})}.c2ln", UnsupportedError),
        (f"{_part({'alg': 'EdDSA', 'b64': False})}.{_part({})}.c2ln", UnsupportedError),
        (f"{_b64(b'[1]')}.{_part({})}.c2ln", MalformedError),
        (f"{_part({'alg': 'EdDSA'})}.{_b64(b'not json')}.c2ln", MalformedError),
        (f"{_part({'alg': 'EdDSA'})}.{_part({})}.c2l+", MalformedError),
        (f"{_DUPLICATE_ALG}.{_part({})}.c2ln", MalformedError),
        ("a" * (MAX_JWS_CHARS + 1), MalformedError),
    ],
)
def test_malformed_or_refused(token: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_compact(token)
