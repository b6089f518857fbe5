"""Baking round trips checked with another implementation's reading rules.

The readers here are written from the 1EdTech validator's rules, independently of
``wallet.baking``: PNG -- walk the chunks, take the *first* ``iTXt`` whose keyword is
``openbadgecredential``; SVG -- look the element up by qualified name
``{https://purl.imsglobal.org/ob/v3p0}credential`` (JSON text, or the ``verify`` attribute).
"""

from __future__ import annotations

import base64
import json
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from typing import Any

import pytest

from protocol.verify import verify
from tests.wallet.conftest import BAKED, NOW, Issuer
from wallet.baking import (
    bake_png,
    bake_svg,
    default_png,
    default_svg,
    image_from_credential,
)
from wallet.errors import ImportRefused
from wallet.importing import extract, import_bytes
from wallet.store import Wallet

OB3_NS = "https://purl.imsglobal.org/ob/v3p0"


# -- the independent readers -------------------------------------------------------------------


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        out.append((kind, body))
        pos += 12 + length
    return out


def read_png_badge(data: bytes) -> dict[str, Any] | None:
    """First iTXt with keyword openbadgecredential: its fields, per the PNG iTXt layout."""
    for kind, body in png_chunks(data):
        if kind != b"iTXt":
            continue
        keyword, rest = body.split(b"\x00", 1)
        if keyword != b"openbadgecredential":
            continue
        flag, method = rest[0], rest[1]
        language, rest = rest[2:].split(b"\x00", 1)
        translated, text = rest.split(b"\x00", 1)
        if flag:
            text = zlib.decompress(text)
        return {
            "flag": flag,
            "method": method,
            "language": language,
            "translated": translated,
            "text": text.decode("utf-8"),
        }
    return None


def read_svg_badge(data: bytes) -> str | None:
    root = ET.fromstring(data)
    element = root.find(f".//{{{OB3_NS}}}credential")
    if element is None:
        return None
    return element.get("verify") or (element.text or "").strip()


# -- round trips -------------------------------------------------------------------------------


def test_png_round_trip(issuer: Issuer) -> None:
    credential = issuer.credential(name="Baked")
    text = json.dumps(credential, indent=2)
    base = default_png("Baked")
    baked = bake_png(base, text)
    found = read_png_badge(baked)
    assert found == {"flag": 0, "method": 0, "language": b"", "translated": b"", "text": text}
    chunks = png_chunks(baked)
    assert [k for k, _ in chunks][-2:] == [b"iTXt", b"IEND"]  # inserted right before IEND
    assert [c for c in chunks if c[0] != b"iTXt"] == png_chunks(base)  # the image is intact
    assert verify(json.loads(found["text"]), now=NOW).verified


def test_svg_round_trip_json_in_cdata(issuer: Issuer) -> None:
    credential = issuer.credential(name="Vector", description="Tricky ]]> text & <tags>")
    text = json.dumps(credential)
    baked = bake_svg(default_svg("Vector"), text, jws=False)
    raw = baked.decode("utf-8")
    start = re.search(r"<svg\b[^>]*>", raw)
    assert start is not None
    assert f'xmlns:openbadges="{OB3_NS}"' in start.group(0)
    assert raw[start.end() :].lstrip().startswith("<openbadges:credential><![CDATA[")
    root = ET.fromstring(baked)
    assert root[0].tag == f"{{{OB3_NS}}}credential"
    extracted = json.loads(read_svg_badge(baked) or "")
    assert extracted == credential
    assert verify(extracted, now=NOW).verified


def test_svg_jws_goes_in_the_verify_attribute() -> None:
    token = "eyJhbGciOiJFZERTQSJ9.eyJhIjoxfQ.c2ln"
    baked = bake_svg(default_svg("JWT"), token, jws=True)
    root = ET.fromstring(baked)
    element = root[0]
    assert element.tag == f"{{{OB3_NS}}}credential"
    assert element.get("verify") == token
    assert (element.text or "") == ""


def test_rebaking_the_1edtech_samples_replaces_the_credential(issuer: Issuer) -> None:
    png = (BAKED / "ob30/simple-json.png").read_bytes()
    text = json.dumps(issuer.credential(name="Replacement"))
    baked = bake_png(png, text)
    keywords = [
        body.split(b"\x00", 1)[0]
        for kind, body in png_chunks(baked)
        if kind in (b"iTXt", b"tEXt", b"zTXt")
    ]
    assert keywords.count(b"openbadgecredential") == 1
    assert read_png_badge(baked)["text"] == text  # type: ignore[index]
    svg = (BAKED / "ob30/simple-json.svg").read_bytes()
    baked_svg = bake_svg(svg, text, jws=False)
    root = ET.fromstring(baked_svg)
    assert len(root.findall(f".//{{{OB3_NS}}}credential")) == 1
    assert json.loads(read_svg_badge(baked_svg) or "")["name"] == "Replacement"


def test_our_importer_reads_what_we_bake_and_the_samples(wallet: Wallet, issuer: Issuer) -> None:
    credential = issuer.credential(name="Both ways")
    record = wallet.add_credential(
        credential, source="t", verification=verify(credential, now=NOW).to_dict()
    )
    for baked in (
        bake_png(default_png(), record.text),
        bake_svg(default_svg(), record.text, jws=False),
    ):
        [outcome] = import_bytes(wallet, baked, source="baked", now=NOW)
        assert outcome.outcome == "duplicate" and outcome.record.local_id == record.local_id  # type: ignore[union-attr]
    # The 1EdTech samples: our reader finds exactly what the independent readers find.
    for name in ("simple-json.png", "simple-jwt.png"):
        data = (BAKED / "ob30" / name).read_bytes()
        assert extract(data)[0].text == read_png_badge(data)["text"].strip()  # type: ignore[index]
    for name in ("simple-json.svg", "simple-jwt.svg"):
        data = (BAKED / "ob30" / name).read_bytes()
        found = extract(data)[0]
        independent = read_svg_badge(data) or ""
        if found.format == "jwt":
            assert found.text == independent
        else:
            assert found.document == json.loads(independent)
    outcomes = [
        import_bytes(wallet, (BAKED / "ob30" / n).read_bytes(), source=n, now=NOW)[0]
        for n in ("simple-json.png", "simple-jwt.png", "simple-json.svg", "simple-jwt.svg")
    ]
    assert [o.outcome for o in outcomes] == ["added", "added", "duplicate", "duplicate"]


def test_jwt_credential_bakes_as_a_jws(wallet: Wallet) -> None:
    data = (BAKED / "ob30/simple-jwt.svg").read_bytes()
    [outcome] = import_bytes(wallet, data, source="jwt.svg", now=NOW)
    record = outcome.record
    assert record is not None and record.format == "jwt"
    png = bake_png(default_png(), record.text)
    assert read_png_badge(png)["text"] == record.text  # type: ignore[index]
    svg = bake_svg(default_svg(), record.text, jws=True)
    assert read_svg_badge(svg) == record.text


def test_bad_bases_are_refused() -> None:
    with pytest.raises(ImportRefused, match="not a PNG file"):
        bake_png(b"GIF89a....", "{}")
    with pytest.raises(ImportRefused, match="not an SVG"):
        bake_svg(b"<html xmlns='http://www.w3.org/1999/xhtml'/>", "{}", jws=False)
    evil = b'<!DOCTYPE svg [<!ENTITY a "b">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>'
    with pytest.raises(ImportRefused, match="declares XML entities"):
        bake_svg(evil, "{}", jws=False)
    clash = b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="urn:other"/>'
    with pytest.raises(ImportRefused, match="another namespace"):
        bake_svg(clash, "{}", jws=False)


def test_the_credential_image_is_used_when_it_is_a_data_uri(issuer: Issuer) -> None:
    png = default_png("own")
    credential = issuer.credential()
    credential["credentialSubject"]["achievement"]["image"] = {
        "id": "data:image/png;base64," + base64.b64encode(png).decode(),
        "type": "Image",
    }
    assert image_from_credential(credential, "png") == png
    assert image_from_credential(credential, "svg") is None
    ihdr = png_chunks(default_png("x", size=64))[0]
    assert ihdr[0] == b"IHDR" and struct.unpack(">II", ihdr[1][:8]) == (64, 64)
