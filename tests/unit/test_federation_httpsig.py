"""HTTP Message Signatures between nodes (RFC 9421) and Content-Digest (RFC 9530).

The generic part is checked against RFC 9421's own Ed25519 example (Appendix B.2.6, with the
test key of Appendix B.1.4 and the test request of Appendix B.2); the Passeport profile with
did:web members of a signed registry.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from protocol.did import Resolver
from protocol.errors import (
    InvalidProof,
    KeyResolutionError,
    MalformedError,
    UnsupportedError,
)
from protocol.federation import (
    PROFILE_TAG,
    ExpiredError,
    HttpRequest,
    Member,
    NotAMemberError,
    ReplayError,
    build_registry,
    check_content_digest,
    content_digest,
    parse_signatures,
    sign_request,
    signature_base,
    verify_member_request,
    verify_registry,
    verify_request_signature,
)
from protocol.federation.sfv import InnerList, Item, Token, parse_dictionary, serialize_inner_list
from protocol.keys import KeyPair, PublicKey, generate
from protocol.limits import MAX_HTTP_SIGNATURE_LIFETIME_SECONDS

# -- RFC 9421 Appendix B ---------------------------------------------------------------------------

# RFC 9421 Appendix B.1.4, "Example Ed25519 Test Key" (test-key-ed25519).
RFC_PUBLIC_PEM = b"""-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----
"""
RFC_PRIVATE_PEM = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
"""

# RFC 9421 Appendix B.2, the "test-request" message (its Content-Digest is RFC 9530's sha-512 of
# the body).
RFC_REQUEST_HEADERS = [
    ("Host", "example.com"),
    ("Date", "Tue, 20 Apr 2021 02:07:55 GMT"),
    ("Content-Type", "application/json"),
    (
        "Content-Digest",
        "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWX"
        "vJwew==:",
    ),
    ("Content-Length", "18"),
]
RFC_BODY = b'{"hello": "world"}'

# RFC 9421 Appendix B.2.6, "Signing a Request Using ed25519": the signature base, and the
# Signature-Input and Signature fields (RFC 8792 line wrapping undone).
RFC_B26_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    '"@method": POST\n'
    '"@path": /foo\n'
    '"@authority": example.com\n'
    '"content-type": application/json\n'
    '"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" '
    '"content-length");created=1618884473;keyid="test-key-ed25519"'
)
RFC_B26_INPUT = (
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
RFC_B26_SIGNATURE = (
    "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1"
    "u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"
)


def rfc_request(*extra: tuple[str, str]) -> HttpRequest:
    return HttpRequest.of(
        "POST",
        "https://example.com/foo?param=Value&Pet=dog",
        [*RFC_REQUEST_HEADERS, *extra],
        RFC_BODY,
    )


def rfc_key() -> KeyPair:
    private = load_pem_private_key(RFC_PRIVATE_PEM, password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    return KeyPair(
        "Ed25519", private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    )


def rfc_public() -> PublicKey:
    public = load_pem_public_key(RFC_PUBLIC_PEM)
    assert isinstance(public, ed25519.Ed25519PublicKey)
    return PublicKey("Ed25519", public.public_bytes(Encoding.Raw, PublicFormat.Raw))


def test_rfc9421_b26_signature_base() -> None:
    request = rfc_request(("Signature-Input", RFC_B26_INPUT), ("Signature", RFC_B26_SIGNATURE))
    params, _ = parse_signatures(request)["sig-b26"]
    assert signature_base(request, params).decode() == RFC_B26_BASE
    assert serialize_inner_list(params) == RFC_B26_INPUT.removeprefix("sig-b26=")


def test_rfc9421_b26_signature_is_reproduced_and_verifies() -> None:
    key = rfc_key()
    assert key.public == rfc_public()
    request = rfc_request(("Signature-Input", RFC_B26_INPUT), ("Signature", RFC_B26_SIGNATURE))
    params, signature = parse_signatures(request)["sig-b26"]
    base = signature_base(request, params)
    # Ed25519 is deterministic: signing the base with the RFC key gives the RFC's signature.
    assert key.sign(base) == signature
    expected = RFC_B26_SIGNATURE.removeprefix("sig-b26=:").removesuffix(":")
    assert base64.b64encode(signature).decode() == expected
    rfc_public().verify(signature, base)
    # The RFC's test request carries a correct RFC 9530 digest of its body.
    check_content_digest(request.header("content-digest") or "", RFC_BODY)
    # A changed covered field breaks it.
    moved = HttpRequest.of(
        request.method,
        "https://example.com/bar",
        request.headers,
        request.body,
    )
    with pytest.raises(InvalidProof):
        rfc_public().verify(signature, signature_base(moved, params))


def test_derived_components() -> None:
    request = HttpRequest.of("GET", "https://Example.COM:443/a%20b/c?x=1&y=%2F")
    params = InnerList(
        tuple(
            Item(name, {})
            for name in ("@method", "@authority", "@scheme", "@path", "@query", "@request-target")
        ),
        {"created": 1},
    )
    lines = signature_base(request, params).decode().split("\n")
    assert lines[:6] == [
        '"@method": GET',
        '"@authority": example.com',
        '"@scheme": https',
        '"@path": /a%20b/c',
        '"@query": ?x=1&y=%2F',
        '"@request-target": /a%20b/c?x=1&y=%2F',
    ]
    other_port = HttpRequest.of("GET", "http://localhost:8080")
    one = InnerList((Item("@authority", {}), Item("@path", {}), Item("@query", {})), {})
    assert signature_base(other_port, one).decode().split("\n")[:3] == [
        '"@authority": localhost:8080',
        '"@path": /',
        '"@query": ?',
    ]
    with pytest.raises(UnsupportedError):
        signature_base(request, InnerList((Item("@status", {}),), {}))
    with pytest.raises(UnsupportedError):
        signature_base(request, InnerList((Item("date", {"sf": True}),), {}))
    with pytest.raises(InvalidProof, match="absent"):
        signature_base(request, InnerList((Item("date", {}),), {}))
    with pytest.raises(MalformedError, match="twice"):
        signature_base(request, InnerList((Item("@method", {}), Item("@method", {})), {}))
    # Repeated fields are joined with ", " (RFC 9421 section 2.1).
    repeated = HttpRequest.of("GET", "https://a.test/", [("X-A", " 1 "), ("x-a", "2")])
    assert repeated.header("X-a") == "1, 2"


def test_structured_fields() -> None:
    parsed = parse_dictionary('a=(1 "x" tok ?0 :AAE=:);n=-5;d=1.5, b, c=?1;p')
    inner = parsed["a"]
    assert isinstance(inner, InnerList)
    assert [i.value for i in inner.items] == [1, "x", Token("tok"), False, b"\x00\x01"]
    assert inner.params == {"n": -5, "d": pytest.approx(1.5)}
    assert parsed["b"] == Item(True, {})
    assert parsed["c"] == Item(True, {"p": True})
    for bad in ('a=("x" ', "A=1", "a=1,", 'a="\\n"', "a=:***:", "a=1;", "a=?2", "a=é", "a=1 b=2"):
        with pytest.raises(MalformedError):
            parse_dictionary(bad)


def test_content_digest() -> None:
    body = b'{"a": 1}'
    value = content_digest(body)
    assert value.startswith("sha-256=:") and value.endswith(":")
    check_content_digest(value, body)
    with pytest.raises(InvalidProof):
        check_content_digest(value, body + b" ")
    with pytest.raises(UnsupportedError):
        check_content_digest("md5=:AAAA:", body)
    with pytest.raises(MalformedError):
        check_content_digest("sha-256=1", body)


# -- the Passeport profile ---------------------------------------------------------------------

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
NETWORK = "https://steward.test/network"
NONCE = "f3Kq9vX0bT2mN8yZ"


@dataclass(frozen=True)
class Node:
    did: str
    key: KeyPair
    document: dict[str, Any]


def make_node(host: str) -> Node:
    did = f"did:web:{host}"
    pair = generate("Ed25519").with_controller(did, f"{did}#key-1")
    document = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [pair.to_public_multikey()],
        "assertionMethod": [pair.id],
        "authentication": [pair.id],
    }
    return Node(did, pair, document)


STEWARD, A, B, OUTSIDER = (make_node(h) for h in ("steward.test", "a.test", "b.test", "x.test"))
RESOLVER = Resolver({n.did: n.document for n in (STEWARD, A, B, OUTSIDER)})


def _member(node: Node) -> Member:
    host = node.did.removeprefix("did:web:")
    return Member(
        did=node.did,
        name=host,
        endpoint=f"https://{host}/",
        feed=f"https://{host}/feed",
        member_from=NOW - timedelta(days=30),
    )


REGISTRY = verify_registry(
    build_registry(
        network=NETWORK,
        name="Réseau",
        members=[_member(A), _member(B)],
        steward_key=STEWARD.key,
        created=NOW - timedelta(days=30),
    ),
    steward_resolver=RESOLVER,
    now=NOW,
    steward=STEWARD.did,
)


def signed(
    node: Node = A,
    *,
    method: str = "POST",
    url: str = "https://b.test/federation/notify?x=1",
    body: bytes = b'{"type":"FederationFeedNotice"}',
    nonce: str = NONCE,
    created: datetime = NOW,
    **kw: Any,
) -> HttpRequest:
    request = HttpRequest.of(method, url, {"Content-Type": "application/json"}, body)
    fields = sign_request(request, key=node.key, created=created, nonce=nonce, **kw)
    return request.with_headers(fields)


def accept(request: HttpRequest, seen: set[str] | None = None, now: datetime = NOW) -> Any:
    return verify_member_request(
        request,
        registry=REGISTRY,
        resolver=RESOLVER,
        now=now,
        seen_nonces=set() if seen is None else seen,
    )


def test_member_request_verifies_once() -> None:
    request = signed()
    params, _ = parse_signatures(request)["sig1"]
    assert [i.value for i in params.items] == ["@method", "@target-uri", "content-digest"]
    assert params.params["tag"] == PROFILE_TAG and params.params["alg"] == "ed25519"
    assert params.params["keyid"] == A.key.id
    seen: set[str] = set()
    verified = accept(request, seen)
    assert verified.signer == A.did and verified.member is not None
    assert verified.member.name == "a.test" and verified.nonce == NONCE
    assert verified.expires == NOW + timedelta(seconds=MAX_HTTP_SIGNATURE_LIFETIME_SECONDS)
    assert seen == {NONCE}
    with pytest.raises(ReplayError):
        accept(request, seen)
    # A GET without a body needs no digest.
    get = signed(method="GET", url="https://b.test/federation/feed?after=0", body=b"")
    assert "content-digest" not in [i.value for i in parse_signatures(get)["sig1"][0].items]
    assert accept(get).signer == A.did


def test_tampered_requests_are_refused() -> None:
    request = signed()
    body_changed = HttpRequest(request.method, request.url, request.headers, b'{"type":"X"}')
    with pytest.raises(InvalidProof, match="Content-Digest"):
        accept(body_changed)
    for url in ("https://b.test/federation/notify?x=2", "https://evil.test/federation/notify?x=1"):
        moved = HttpRequest(request.method, url, request.headers, request.body)
        with pytest.raises(InvalidProof):
            accept(moved)
    method = HttpRequest("PUT", request.url, request.headers, request.body)
    with pytest.raises(InvalidProof):
        accept(method)
    # The digest recomputed for the new body, but the signature covers the old digest.
    headers = tuple(
        (k, content_digest(b"{}")) if k == "Content-Digest" else (k, v) for k, v in request.headers
    )
    with pytest.raises(InvalidProof):
        accept(HttpRequest(request.method, request.url, headers, b"{}"))


def test_time_windows() -> None:
    request = signed()
    with pytest.raises(ExpiredError, match="expired"):
        accept(request, now=NOW + timedelta(minutes=11))
    with pytest.raises(ExpiredError, match="future"):
        accept(request, now=NOW - timedelta(minutes=10))
    with pytest.raises(ValueError):
        signed(expires=NOW + timedelta(hours=1))


def test_impersonation_and_non_members() -> None:
    with pytest.raises(NotAMemberError):
        accept(signed(OUTSIDER))
    # B's key claiming A's keyid.
    forged = signed(Node(A.did, B.key.with_controller(A.did, A.key.id), {}))
    with pytest.raises(InvalidProof):
        accept(forged)
    # Any signer the resolver knows passes the generic check, and is then no member.
    assert (
        verify_request_signature(
            signed(OUTSIDER), resolver=RESOLVER, now=NOW, seen_nonces=set()
        ).signer
        == OUTSIDER.did
    )
    with pytest.raises(KeyResolutionError):
        verify_request_signature(signed(), resolver=Resolver(), now=NOW, seen_nonces=set())


def test_profile_requirements() -> None:
    request = HttpRequest.of("POST", "https://b.test/x", {}, b"{}")
    # Unsigned.
    with pytest.raises(InvalidProof, match="no Signature"):
        accept(request)
    # Signed under another tag only (the RFC example's signature).
    rfc = rfc_request(("Signature-Input", RFC_B26_INPUT), ("Signature", RFC_B26_SIGNATURE))
    with pytest.raises(InvalidProof, match="exactly one"):
        accept(rfc)
    # A profile signature that does not cover the digest of its body.
    digested = request.with_headers({"Content-Digest": content_digest(b"{}")})
    params = InnerList(
        (Item("@method", {}), Item("@target-uri", {})),
        {
            "created": int(NOW.timestamp()),
            "expires": int(NOW.timestamp()) + 60,
            "nonce": NONCE,
            "keyid": A.key.id or "",
            "alg": "ed25519",
            "tag": PROFILE_TAG,
        },
    )
    signature = base64.b64encode(A.key.sign(signature_base(digested, params))).decode()
    partial = digested.with_headers(
        {"Signature-Input": f"s={serialize_inner_list(params)}", "Signature": f"s=:{signature}:"}
    )
    with pytest.raises(InvalidProof, match="does not cover"):
        accept(partial)
    # The same signature with the body's digest covered verifies.
    covered = InnerList((*params.items, Item("content-digest", {})), params.params)
    signature = base64.b64encode(A.key.sign(signature_base(digested, covered))).decode()
    whole = digested.with_headers(
        {"Signature-Input": f"s={serialize_inner_list(covered)}", "Signature": f"s=:{signature}:"}
    )
    assert accept(whole).components == ("@method", "@target-uri", "content-digest")
    # The target as @authority, @path and @query is accepted too, but not without the query.
    split = sign_request(
        request,
        key=A.key,
        created=NOW,
        nonce=NONCE,
        components=("@method", "@authority", "@path", "@query"),
    )
    assert accept(request.with_headers(split)).components[-1] == "content-digest"
    no_query = sign_request(
        request, key=A.key, created=NOW, nonce=NONCE, components=("@method", "@authority", "@path")
    )
    with pytest.raises(InvalidProof, match="@query"):
        accept(request.with_headers(no_query))
    # Another algorithm, or a missing parameter.
    for name, value in (("alg", "rsa-pss-sha512"), ("nonce", None), ("expires", None)):
        changed = {k: v for k, v in covered.params.items() if k != name}
        if value is not None:
            changed[name] = value
        bad = InnerList(covered.items, changed)
        sig = base64.b64encode(A.key.sign(signature_base(digested, bad))).decode()
        with pytest.raises((UnsupportedError, InvalidProof)):
            accept(
                digested.with_headers(
                    {"Signature-Input": f"s={serialize_inner_list(bad)}", "Signature": f"s=:{sig}:"}
                )
            )
    with pytest.raises(ValueError, match="nonce"):
        signed(nonce="x")
