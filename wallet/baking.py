"""Baked badges: Open Badges credentials carried inside PNG and SVG images.

Reading (import) and writing (bake) follow Open Badges 3.0 "Document formats" (OB docformat):

* **PNG**: one ``iTXt`` chunk with keyword ``openbadgecredential``, compression flag 0, method 0,
  empty language tag and translated keyword, holding the JSON credential or its compact JWS;
  inserted before ``IEND``, replacing an existing one. Readers take the first such chunk.
  Open Badges 2.0 used the keyword ``openbadges`` (``iTXt``, or ``tEXt`` in older images).
* **SVG**: ``xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"`` on ``<svg>`` and an
  ``<openbadges:credential>`` element right after the opening tag, with the JSON in CDATA, or a
  ``verify`` attribute holding a compact JWS. Readers look the element up by qualified name.
  Open Badges 2.0 used ``<openbadges:assertion>`` in namespace ``http://openbadges.org``.

Images are hostile input. PNG chunks are parsed here with strict limits (file size, chunk size,
chunk count, CRC of every chunk, chunk order) and pixels are never decoded, so an image bomb
costs nothing; only the text chunks we need are inflated, up to :data:`MAX_BAKED_TEXT_BYTES`.
SVG is parsed with defusedxml, which refuses entity declarations (billion laughs) and external
entities; a DOCTYPE that only names the SVG DTD is accepted and never fetched.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote_to_bytes
from xml.dom.minidom import Document, Element
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError

import defusedxml
import defusedxml.ElementTree
import defusedxml.minidom

from protocol.limits import MAX_DOCUMENT_BYTES

from .errors import ImportRefused

__all__ = [
    "MAX_BAKED_TEXT_BYTES",
    "MAX_IMAGE_BYTES",
    "MAX_PNG_CHUNKS",
    "MAX_PNG_CHUNK_BYTES",
    "OB2_PNG_KEYWORD",
    "OB2_SVG_NAMESPACE",
    "OB3_PNG_KEYWORD",
    "OB3_SVG_NAMESPACE",
    "BakedPayload",
    "PngChunk",
    "bake_png",
    "bake_svg",
    "default_png",
    "default_svg",
    "image_from_credential",
    "read_png",
    "read_png_chunks",
    "read_svg",
]

#: Largest image accepted for import or as a baking base, in bytes (badge images are well
#: under 1 MB; this also bounds CRC work).
MAX_IMAGE_BYTES = 16 * 1024 * 1024
#: Largest single PNG chunk, in bytes (the PNG format allows 2**31 - 1; a badge needs far less).
MAX_PNG_CHUNK_BYTES = 8 * 1024 * 1024
#: Most chunks in one PNG, so a file of empty chunks cannot make parsing slow.
MAX_PNG_CHUNKS = 65_536
#: Largest baked credential text after inflation, in bytes: one JSON document at most.
MAX_BAKED_TEXT_BYTES = MAX_DOCUMENT_BYTES

#: PNG text keyword of an Open Badges 3.0 credential.
OB3_PNG_KEYWORD = "openbadgecredential"
#: PNG text keyword of an Open Badges 2.0 assertion.
OB2_PNG_KEYWORD = "openbadges"
#: Namespace of the Open Badges 3.0 ``credential`` SVG element.
OB3_SVG_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
#: Namespace of the Open Badges 2.0 ``assertion`` SVG element.
OB2_SVG_NAMESPACE = "http://openbadges.org"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
_XMLNS = "http://www.w3.org/2000/xmlns/"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_LENGTH = struct.Struct(">I")
_TEXT_CHUNKS = (b"iTXt", b"tEXt", b"zTXt")


@dataclass(frozen=True)
class PngChunk:
    """One PNG chunk: its type and data (CRC already checked)."""

    type: bytes
    data: bytes

    def encode(self) -> bytes:
        """Length, type, data, CRC."""
        crc = zlib.crc32(self.type + self.data) & 0xFFFFFFFF
        return _LENGTH.pack(len(self.data)) + self.type + self.data + _LENGTH.pack(crc)


@dataclass(frozen=True)
class BakedPayload:
    """A credential found in an image: the text, and where it came from."""

    version: Literal["ob3", "ob2"]
    text: str
    container: Literal["png", "svg"]
    where: str  # e.g. "iTXt openbadgecredential", "svg openbadges:credential verify"
    jws: bool  # True when the text is (or should be) a compact JWS
    hosted_url: str | None = None  # OB 2.0 SVG: a verify attribute holding a URL


def _refuse(message: str) -> ImportRefused:
    return ImportRefused(message)


def read_png_chunks(data: bytes) -> list[PngChunk]:
    """Parse every chunk of a PNG; refuse anything malformed.

    Checks: size cap, signature, chunk length and count caps, chunk type letters, every CRC,
    IHDR first (13 bytes), IEND last and empty, nothing after IEND.
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise _refuse(f"PNG is larger than {MAX_IMAGE_BYTES} bytes")
    if not data.startswith(PNG_SIGNATURE):
        raise _refuse("not a PNG file (bad signature)")
    chunks: list[PngChunk] = []
    pos = len(PNG_SIGNATURE)
    while True:
        if len(chunks) >= MAX_PNG_CHUNKS:
            raise _refuse(f"PNG holds more than {MAX_PNG_CHUNKS} chunks")
        if pos + 12 > len(data):
            raise _refuse(f"PNG is truncated at byte {pos} (no IEND chunk)")
        (length,) = _LENGTH.unpack_from(data, pos)
        kind = data[pos + 4 : pos + 8]
        name = kind.decode("latin-1")
        if length > 0x7FFFFFFF:
            raise _refuse(f"PNG chunk {name!r} at byte {pos} declares an invalid length")
        if length > MAX_PNG_CHUNK_BYTES:
            raise _refuse(
                f"PNG chunk {name!r} at byte {pos} is {length} bytes, more than "
                f"{MAX_PNG_CHUNK_BYTES}"
            )
        if not all(65 <= b <= 90 or 97 <= b <= 122 for b in kind):
            raise _refuse(f"PNG chunk at byte {pos} has an invalid type {kind!r}")
        end = pos + 12 + length
        if end > len(data):
            raise _refuse(f"PNG chunk {name!r} at byte {pos} is truncated")
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = _LENGTH.unpack_from(data, pos + 8 + length)
        if crc != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise _refuse(f"PNG chunk {name!r} at byte {pos} fails its CRC check")
        if not chunks and kind != b"IHDR":
            raise _refuse("PNG does not start with an IHDR chunk")
        if kind == b"IHDR" and (chunks or length != 13):
            raise _refuse("PNG has a misplaced or malformed IHDR chunk")
        chunks.append(PngChunk(kind, body))
        pos = end
        if kind == b"IEND":
            if length != 0:
                raise _refuse("PNG IEND chunk is not empty")
            if pos != len(data):
                raise _refuse(f"PNG has {len(data) - pos} bytes after its IEND chunk")
            return chunks


def _inflate_text(data: bytes, what: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_BAKED_TEXT_BYTES + 1)
    except zlib.error as exc:
        raise _refuse(f"{what}: compressed text is corrupt ({exc})") from None
    if len(out) > MAX_BAKED_TEXT_BYTES or inflater.unconsumed_tail:
        raise _refuse(
            f"{what}: compressed text inflates beyond {MAX_BAKED_TEXT_BYTES} bytes "
            "(refused as a decompression bomb)"
        )
    if not inflater.eof:
        raise _refuse(f"{what}: compressed text is truncated")
    return out


def _keyword(chunk: PngChunk) -> tuple[str, bytes]:
    """The keyword of a text chunk and the bytes after its NUL separator."""
    sep = chunk.data.find(b"\x00")
    name = chunk.type.decode("ascii")
    if sep < 1 or sep > 79:
        raise _refuse(f"PNG {name} chunk has a malformed keyword")
    return chunk.data[:sep].decode("latin-1"), chunk.data[sep + 1 :]


def _chunk_text(chunk: PngChunk, keyword: str) -> str:
    """The text of a ``tEXt``/``zTXt``/``iTXt`` chunk (inflated under the cap)."""
    what = f"PNG {chunk.type.decode('ascii')} {keyword!r}"
    _, rest = _keyword(chunk)
    if chunk.type == b"tEXt":
        raw = rest
        if len(raw) > MAX_BAKED_TEXT_BYTES:
            raise _refuse(f"{what}: text is larger than {MAX_BAKED_TEXT_BYTES} bytes")
        return raw.decode("latin-1")
    if chunk.type == b"zTXt":
        if not rest or rest[0] != 0:
            raise _refuse(f"{what}: unknown compression method")
        return _inflate_text(rest[1:], what).decode("latin-1")
    # iTXt: flag, method, language tag NUL, translated keyword NUL, text.
    if len(rest) < 2:
        raise _refuse(f"{what}: chunk is truncated")
    flag, method = rest[0], rest[1]
    if flag not in (0, 1) or method != 0:
        raise _refuse(f"{what}: invalid compression flag or method")
    lang_end = rest.find(b"\x00", 2)
    trans_end = rest.find(b"\x00", lang_end + 1) if lang_end >= 0 else -1
    if lang_end < 0 or trans_end < 0:
        raise _refuse(f"{what}: chunk is malformed (missing separators)")
    raw = rest[trans_end + 1 :]
    if flag == 1:
        raw = _inflate_text(raw, what)
    elif len(raw) > MAX_BAKED_TEXT_BYTES:
        raise _refuse(f"{what}: text is larger than {MAX_BAKED_TEXT_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse(f"{what}: text is not UTF-8") from None


def _looks_like_jws(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*", text) is not None


def read_png(data: bytes) -> list[BakedPayload]:
    """The credentials baked in a PNG: the first ``iTXt openbadgecredential`` (OB 3.0) and the
    first ``openbadges`` text chunk (OB 2.0), in that order. Refuses malformed images."""
    found: list[BakedPayload] = []
    seen: set[str] = set()
    for chunk in read_png_chunks(data):
        if chunk.type not in _TEXT_CHUNKS:
            continue
        keyword, _ = _keyword(chunk)
        if keyword == OB3_PNG_KEYWORD and chunk.type == b"iTXt" and "ob3" not in seen:
            seen.add("ob3")
            text = _chunk_text(chunk, keyword).strip()
            found.append(BakedPayload("ob3", text, "png", f"iTXt {keyword}", _looks_like_jws(text)))
        elif keyword == OB2_PNG_KEYWORD and "ob2" not in seen:
            seen.add("ob2")
            text = _chunk_text(chunk, keyword).strip()
            found.append(
                BakedPayload(
                    "ob2",
                    text,
                    "png",
                    f"{chunk.type.decode('ascii')} {keyword}",
                    _looks_like_jws(text),
                )
            )
    found.sort(key=lambda p: p.version != "ob3")
    return found


def _xml_error(exc: Exception, what: str) -> ImportRefused:
    if isinstance(exc, defusedxml.EntitiesForbidden):
        return _refuse(f"{what} declares XML entities; entity expansion is refused")
    if isinstance(exc, defusedxml.ExternalReferenceForbidden):
        return _refuse(f"{what} references an external entity; refused")
    if isinstance(exc, defusedxml.DTDForbidden):
        return _refuse(f"{what} has a DTD; refused")
    if isinstance(exc, defusedxml.DefusedXmlException):
        return _refuse(f"{what} uses a forbidden XML feature ({exc})")
    return _refuse(f"{what} is not well-formed XML ({exc})")


def _check_svg_size(data: bytes) -> None:
    if len(data) > MAX_IMAGE_BYTES:
        raise _refuse(f"SVG is larger than {MAX_IMAGE_BYTES} bytes")
    if data.startswith(b"\x1f\x8b"):
        raise _refuse("compressed SVG (svgz) is not supported; decompress it first")


def read_svg(data: bytes) -> list[BakedPayload]:
    """The credentials baked in an SVG: the first ``openbadges:credential`` (OB 3.0, by
    qualified name) and the first ``openbadges:assertion`` (OB 2.0).

    Refuses entity declarations, external entities and malformed XML.
    """
    _check_svg_size(data)
    try:
        root = defusedxml.ElementTree.fromstring(
            data, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
    except (ParseError, defusedxml.DefusedXmlException, ValueError) as exc:
        raise _xml_error(exc, "SVG") from None
    if root.tag != f"{{{SVG_NAMESPACE}}}svg":
        raise _refuse(f"not an SVG image (root element {root.tag!r})")
    found: list[BakedPayload] = []
    for version, namespace, local in (
        ("ob3", OB3_SVG_NAMESPACE, "credential"),
        ("ob2", OB2_SVG_NAMESPACE, "assertion"),
    ):
        element = next(root.iter(f"{{{namespace}}}{local}"), None)
        if element is None:
            continue
        verify = element.get("verify")
        text = (element.text or "").strip()
        where = f"svg openbadges:{local}"
        if verify and _looks_like_jws(verify.strip()):
            found.append(BakedPayload(version, verify.strip(), "svg", where + " verify", True))  # type: ignore[arg-type]
        elif text:
            if len(text.encode("utf-8")) > MAX_BAKED_TEXT_BYTES:
                raise _refuse(f"{where}: text is larger than {MAX_BAKED_TEXT_BYTES} bytes")
            found.append(
                BakedPayload(
                    version,  # type: ignore[arg-type]
                    text,
                    "svg",
                    where,
                    _looks_like_jws(text),
                    hosted_url=verify.strip() if verify else None,
                )
            )
        elif verify:
            found.append(
                BakedPayload(version, "", "svg", where + " verify", False, hosted_url=verify)  # type: ignore[arg-type]
            )
        else:
            raise _refuse(f"{where} is empty")
    return found


# -- baking ------------------------------------------------------------------------------------


def _itxt(keyword: str, text: str) -> PngChunk:
    # keyword NUL, compression flag 0, method 0, empty language tag NUL, empty translated
    # keyword NUL, UTF-8 text.
    data = keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8")
    return PngChunk(b"iTXt", data)


def bake_png(image: bytes, payload: str) -> bytes:
    """``image`` with ``payload`` (JSON credential or compact JWS) baked in: one ``iTXt``
    ``openbadgecredential`` chunk before ``IEND``; an existing one is replaced."""
    if len(payload.encode("utf-8")) > MAX_BAKED_TEXT_BYTES:
        raise ValueError(f"the credential is larger than {MAX_BAKED_TEXT_BYTES} bytes")
    chunks = read_png_chunks(image)
    kept = [c for c in chunks if not (c.type in _TEXT_CHUNKS and _keyword(c)[0] == OB3_PNG_KEYWORD)]
    out = [PNG_SIGNATURE]
    for chunk in kept:
        if chunk.type == b"IEND":
            out.append(_itxt(OB3_PNG_KEYWORD, payload).encode())
        out.append(chunk.encode())
    return b"".join(out)


def _cdata_safe(json_text: str) -> str:
    # "]]>" can only occur inside a JSON string, where ">" may be written "\u003e": the JSON
    # value is unchanged and the CDATA section stays closed where it should.
    return json_text.replace("]]>", "]]\\u003e")


def bake_svg(image: bytes, payload: str, *, jws: bool) -> bytes:
    """``image`` with ``payload`` baked in: ``xmlns:openbadges`` on ``<svg>`` and an
    ``<openbadges:credential>`` first child (JSON in CDATA, or ``verify="<JWS>"``); existing
    ``openbadges:credential`` elements are removed."""
    _check_svg_size(image)
    try:
        doc: Document = defusedxml.minidom.parseString(
            image, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
    except (ParseError, ExpatError, defusedxml.DefusedXmlException, ValueError) as exc:
        raise _xml_error(exc, "base SVG") from None
    root: Element | None = doc.documentElement
    if root is None or root.namespaceURI != SVG_NAMESPACE or root.localName != "svg":
        raise _refuse("the base image is not an SVG (root element is not svg)")
    for old in list(root.getElementsByTagNameNS(OB3_SVG_NAMESPACE, "credential")):
        parent = old.parentNode
        if parent is not None:
            parent.removeChild(old)
    bound = root.getAttribute("xmlns:openbadges")
    if bound and bound != OB3_SVG_NAMESPACE:
        raise _refuse(
            "the base SVG binds the prefix 'openbadges' to another namespace "
            f"({bound}); cannot bake"
        )
    root.setAttributeNS(_XMLNS, "xmlns:openbadges", OB3_SVG_NAMESPACE)
    element = doc.createElementNS(OB3_SVG_NAMESPACE, "openbadges:credential")
    if jws:
        element.setAttribute("verify", payload)
    else:
        element.appendChild(doc.createCDATASection(_cdata_safe(payload)))
    root.insertBefore(element, root.firstChild)
    baked: bytes = doc.toxml(encoding="utf-8")
    return baked


# -- default images ----------------------------------------------------------------------------


def _colour(seed: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return 40 + digest[0] % 150, 40 + digest[1] % 150, 40 + digest[2] % 150


def default_png(seed: str = "", size: int = 128) -> bytes:
    """A plain round badge image (RGBA), coloured from ``seed``, to bake into."""
    r, g, b = _colour(seed)
    centre = (size - 1) / 2
    outer, inner = (size / 2 - 1) ** 2, (size / 2 - 9) ** 2
    rows = []
    for y in range(size):
        row = bytearray([0])  # filter type 0
        for x in range(size):
            d = (x - centre) ** 2 + (y - centre) ** 2
            if d <= inner:
                row += bytes((r, g, b, 255))
            elif d <= outer:
                row += bytes((255, 255, 255, 255))
            else:
                row += bytes((0, 0, 0, 0))
        rows.append(bytes(row))
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"".join(
        [
            PNG_SIGNATURE,
            PngChunk(b"IHDR", ihdr).encode(),
            PngChunk(b"IDAT", zlib.compress(b"".join(rows), 9)).encode(),
            PngChunk(b"IEND", b"").encode(),
        ]
    )


def _xml_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def default_svg(title: str = "") -> bytes:
    """A plain round badge SVG with ``title`` written in it, to bake into."""
    r, g, b = _colour(title)
    label = title if len(title) <= 28 else title[:27] + "\u2026"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" '
        'viewBox="0 0 256 256">\n'
        f"  <title>{_xml_escape(title)}</title>\n"
        f'  <circle cx="128" cy="128" r="124" fill="rgb({r},{g},{b})" stroke="#ffffff" '
        'stroke-width="8"/>\n'
        '  <text x="128" y="136" text-anchor="middle" font-family="sans-serif" '
        f'font-size="16" fill="#ffffff">{_xml_escape(label)}</text>\n'
        "</svg>\n"
    ).encode()


def image_from_credential(document: dict[str, Any], fmt: Literal["png", "svg"]) -> bytes | None:
    """The credential's own image (achievement, then credential) when it is a ``data:`` URI of
    the wanted type, else ``None``."""
    wanted = "image/png" if fmt == "png" else "image/svg+xml"
    candidates: list[Any] = []
    subject = document.get("credentialSubject")
    subjects: Sequence[Any] = subject if isinstance(subject, list) else [subject]
    for item in subjects:
        if isinstance(item, dict):
            achievement = item.get("achievement")
            if isinstance(achievement, dict):
                candidates.append(achievement.get("image"))
    candidates.append(document.get("image"))
    for image in candidates:
        url = image.get("id") if isinstance(image, dict) else image
        if not isinstance(url, str) or not url.startswith("data:"):
            continue
        header, _, data = url.partition(",")
        media = header[5:].split(";")[0].strip().lower()
        if media != wanted:
            continue
        try:
            raw = (
                base64.b64decode(data, validate=True)
                if ";base64" in header
                else unquote_to_bytes(data)
            )
        except ValueError:
            continue
        if len(raw) <= MAX_IMAGE_BYTES:
            return raw
    return None
