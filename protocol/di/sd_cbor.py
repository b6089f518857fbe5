"""ecdsa-sd-2023 proof values: CBOR serialisation and strict parsing.

https://www.w3.org/TR/vc-di-ecdsa/#ecdsa-sd-functions. A proof value is ``u`` + base64url (no
padding) of a three-byte header followed by one CBOR array of five items, with no CBOR tags:

* base proof (``d9 5d 00``): ``[baseSignature, publicKey, hmacKey, signatures, mandatoryPointers]``
  (64-byte signature, 35-byte P-256 Multikey, 32-byte HMAC key, 64-byte signatures, text);
* derived proof (``d9 5d 01``): ``[baseSignature, publicKey, signatures, compressedLabelMap,
  mandatoryIndexes]`` (the label map is ``{N: 32-byte HMAC digest}`` for ``c14nN``).

Encoding uses cbor2. Decoding uses the small parser below rather than a general CBOR decoder:
the two shapes are fixed, so it reads exactly them and reports what is wrong in terms of the
proof (which component, what length), refuses tags, indefinite lengths, floats and simple
values, duplicate map keys and trailing bytes, and never lets a foreign exception out. Every
failure is a :class:`~protocol.errors.MalformedError`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import cbor2

from protocol.encoding import b64url_encode
from protocol.errors import MalformedError
from protocol.limits import MAX_BLANK_NODES, MAX_DOCUMENT_BYTES, MAX_QUADS, MAX_SD_POINTERS

__all__ = [
    "BASE_PROOF_HEADER",
    "DERIVED_PROOF_HEADER",
    "P256_MULTIKEY_HEADER",
    "BaseProofValue",
    "DerivedProofValue",
    "compress_label_map",
    "decompress_label_map",
    "parse_base_proof_value",
    "parse_derived_proof_value",
    "proof_value_kind",
    "serialize_base_proof_value",
    "serialize_derived_proof_value",
]

#: ``0xd9`` is CBOR major type 6 with a 16-bit argument; ``0x5d 0x00`` marks an ECDSA-SD base
#: proof. The three bytes are a header, not a tag on the array that follows.
BASE_PROOF_HEADER = b"\xd9\x5d\x00"
#: Header of an ECDSA-SD derived (disclosure) proof.
DERIVED_PROOF_HEADER = b"\xd9\x5d\x01"
#: Multicodec varint of ``p256-pub`` (0x1200): the ephemeral key is these two bytes + 33.
P256_MULTIKEY_HEADER = b"\x80\x24"

SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 35
HMAC_KEY_BYTES = 32
LABEL_BYTES = 32

_B64URL_NO_PAD = re.compile(r"[A-Za-z0-9_-]*\Z")
_C14N_LABEL = re.compile(r"c14n(0|[1-9][0-9]*)\Z")


@dataclass(frozen=True)
class BaseProofValue:
    """The components of a base proof value (parseBaseProofValue)."""

    base_signature: bytes
    public_key: bytes
    hmac_key: bytes
    signatures: tuple[bytes, ...]
    mandatory_pointers: tuple[str, ...]


@dataclass(frozen=True)
class DerivedProofValue:
    """The components of a derived proof value (parseDerivedProofValue).

    ``label_map`` is decompressed: canonical label (``c14nN``) to HMAC label (``u`` + base64url).
    """

    base_signature: bytes
    public_key: bytes
    signatures: tuple[bytes, ...]
    label_map: dict[str, str]
    mandatory_indexes: tuple[int, ...]


# --------------------------------------------------------------------------------------------
# Label maps
# --------------------------------------------------------------------------------------------


def compress_label_map(label_map: Mapping[str, str]) -> dict[int, bytes]:
    """compressLabelMap: ``c14nN`` -> N, ``u``+base64url -> the 32 digest bytes.

    Raises ``ValueError`` for labels this suite never produces (a programming error).
    """
    compressed: dict[int, bytes] = {}
    for key, value in label_map.items():
        match = _C14N_LABEL.match(key)
        if match is None:
            raise ValueError(f"label map key {key!r} is not a canonical label c14nN")
        if not value.startswith("u") or _B64URL_NO_PAD.match(value, 1) is None:
            raise ValueError(f"label map value {value!r} is not u + base64url")
        digest = _b64url_decode_strict(value[1:], what="label map value")
        if len(digest) != LABEL_BYTES:
            raise ValueError(f"label map value {value!r} does not hold {LABEL_BYTES} bytes")
        compressed[int(match.group(1))] = digest
    # Keys in ascending order: the deterministic CBOR order for small unsigned integers, and
    # the order the reference implementation writes.
    return dict(sorted(compressed.items()))


def decompress_label_map(compressed: Mapping[int, bytes]) -> dict[str, str]:
    """decompressLabelMap: N -> ``c14nN``, digest bytes -> ``u`` + base64url-no-pad."""
    return {f"c14n{key}": "u" + b64url_encode(value) for key, value in compressed.items()}


# --------------------------------------------------------------------------------------------
# Serialisation
# --------------------------------------------------------------------------------------------


def _check_length(value: bytes, size: int, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        raise ValueError(f"{what} must be {size} bytes")


def serialize_base_proof_value(value: BaseProofValue) -> str:
    """serializeBaseProofValue: ``u`` + base64url(``d9 5d 00`` || CBOR(components))."""
    _check_length(value.base_signature, SIGNATURE_BYTES, "baseSignature")
    _check_length(value.public_key, PUBLIC_KEY_BYTES, "publicKey")
    _check_length(value.hmac_key, HMAC_KEY_BYTES, "hmacKey")
    for signature in value.signatures:
        _check_length(signature, SIGNATURE_BYTES, "every signature")
    if not all(isinstance(p, str) for p in value.mandatory_pointers):
        raise ValueError("mandatoryPointers must be strings")
    # 1. The header; 2. the five components; 3. CBOR without tags; 4. multibase base64url.
    components = [
        value.base_signature,
        value.public_key,
        value.hmac_key,
        list(value.signatures),
        list(value.mandatory_pointers),
    ]
    return "u" + b64url_encode(BASE_PROOF_HEADER + cbor2.dumps(components))


def serialize_derived_proof_value(value: DerivedProofValue) -> str:
    """serializeDerivedProofValue: ``u`` + base64url(``d9 5d 01`` || CBOR(components))."""
    _check_length(value.base_signature, SIGNATURE_BYTES, "baseSignature")
    _check_length(value.public_key, PUBLIC_KEY_BYTES, "publicKey")
    for signature in value.signatures:
        _check_length(signature, SIGNATURE_BYTES, "every signature")
    if not all(isinstance(i, int) and i >= 0 for i in value.mandatory_indexes):
        raise ValueError("mandatoryIndexes must be non-negative integers")
    # 1. Compress the label map; 2. the header; 3. the five components, CBOR without tags.
    components = [
        value.base_signature,
        value.public_key,
        list(value.signatures),
        compress_label_map(value.label_map),
        list(value.mandatory_indexes),
    ]
    return "u" + b64url_encode(DERIVED_PROOF_HEADER + cbor2.dumps(components))


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def _b64url_decode_strict(text: str, *, what: str) -> bytes:
    if _B64URL_NO_PAD.match(text) is None:
        raise MalformedError(f"{what} is not base64url without padding")
    if len(text) % 4 == 1:
        raise MalformedError(f"{what} has an impossible base64url length")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - excluded by the checks
        raise MalformedError(f"{what} is not valid base64url: {exc}") from exc


def _decode_multibase(proof_value: object) -> bytes:
    # parse*ProofValue, steps 1-2: a string starting with "u", then base64url-no-pad.
    if not isinstance(proof_value, str):
        raise MalformedError("ecdsa-sd-2023 proofValue must be a string")
    if not proof_value.startswith("u"):
        raise MalformedError(
            "ecdsa-sd-2023 proofValue must be multibase base64url-no-pad (starting with 'u'), "
            f"got {proof_value[:1]!r}"
        )
    if len(proof_value) > MAX_DOCUMENT_BYTES:
        raise MalformedError(f"ecdsa-sd-2023 proofValue is longer than {MAX_DOCUMENT_BYTES} chars")
    return _b64url_decode_strict(proof_value[1:], what="ecdsa-sd-2023 proofValue")


def proof_value_kind(proof_value: object) -> Literal["base", "derived"]:
    """Whether an ecdsa-sd-2023 proofValue holds a base or a derived proof (by its header)."""
    data = _decode_multibase(proof_value)
    header = data[:3]
    if header == BASE_PROOF_HEADER:
        return "base"
    if header == DERIVED_PROOF_HEADER:
        return "derived"
    raise MalformedError(
        f"ecdsa-sd-2023 proofValue starts with bytes {header.hex()}, neither the base proof "
        "header d95d00 nor the derived proof header d95d01"
    )


_MAJOR_NAMES = {
    0: "an unsigned integer",
    1: "a negative integer",
    2: "a byte string",
    3: "a text string",
    4: "an array",
    5: "a map",
    6: "a tag",
    7: "a float or simple value",
}


class _Reader:
    """A reader for the definite-length CBOR subset that ecdsa-sd-2023 proof values use."""

    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def fail(self, message: str) -> MalformedError:
        return MalformedError(f"{self.what}: {message}")

    def head(self, expected: int, name: str) -> int:
        """Read one item head of major type ``expected``; return its argument."""
        data = self.data
        if self.pos >= len(data):
            raise self.fail(f"CBOR ends before {name}")
        initial = data[self.pos]
        self.pos += 1
        major, info = initial >> 5, initial & 0x1F
        if major == 6:
            raise self.fail(f"{name} is CBOR-tagged; ecdsa-sd-2023 proof values use no tags")
        if major != expected:
            raise self.fail(f"{name} must be {_MAJOR_NAMES[expected]}, found {_MAJOR_NAMES[major]}")
        if info < 24:
            return info
        if info == 31:
            raise self.fail(f"{name} has an indefinite length, which is not allowed")
        if info > 27:
            raise self.fail(f"{name} uses reserved CBOR additional information {info}")
        size = 1 << (info - 24)
        end = self.pos + size
        if end > len(data):
            raise self.fail(f"CBOR ends inside the head of {name}")
        value = int.from_bytes(data[self.pos : end], "big")
        self.pos = end
        return value

    def count(self, major: int, name: str, limit: int) -> int:
        """An array or map length, bounded by ``limit`` and by the bytes left."""
        length = self.head(major, name)
        if length > limit:
            raise self.fail(f"{name} has {length} entries, more than the limit of {limit}")
        if length > len(self.data) - self.pos:
            raise self.fail(f"{name} declares {length} entries but the CBOR ends first")
        return length

    def byte_string(self, name: str, size: int | None = None) -> bytes:
        length = self.head(2, name)
        end = self.pos + length
        if end > len(self.data):
            raise self.fail(f"CBOR ends inside {name}")
        value = self.data[self.pos : end]
        self.pos = end
        if size is not None and length != size:
            raise self.fail(f"{name} must be {size} bytes, got {length}")
        return value

    def text(self, name: str) -> str:
        length = self.head(3, name)
        end = self.pos + length
        if end > len(self.data):
            raise self.fail(f"CBOR ends inside {name}")
        raw = self.data[self.pos : end]
        self.pos = end
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail(f"{name} is not valid UTF-8") from exc

    def uint(self, name: str) -> int:
        return self.head(0, name)

    def signatures(self, name: str) -> tuple[bytes, ...]:
        count = self.count(4, name, MAX_QUADS)
        return tuple(
            self.byte_string(f"{name}[{index}]", SIGNATURE_BYTES) for index in range(count)
        )

    def end(self) -> None:
        if self.pos != len(self.data):
            raise self.fail(f"{len(self.data) - self.pos} bytes follow the CBOR array")


def _components(data: bytes, header: bytes, kind: str) -> _Reader:
    what = f"ecdsa-sd-2023 {kind} proofValue"
    if data[:3] != header:
        other = "derived" if kind == "base" else "base"
        if data[:3] in (BASE_PROOF_HEADER, DERIVED_PROOF_HEADER):
            raise MalformedError(f"{what}: the value is a {other} proof (header {data[:3].hex()})")
        raise MalformedError(
            f"{what}: must start with the header {header.hex()}, got {data[:3].hex()}"
        )
    reader = _Reader(data[3:], what)
    length = reader.head(4, "the proof value")
    if length != 5:
        raise reader.fail(f"the CBOR array must have 5 components, it has {length}")
    return reader


def _check_public_key(reader: _Reader, key: bytes) -> None:
    if key[:2] != P256_MULTIKEY_HEADER:
        raise reader.fail(
            f"publicKey must be a P-256 Multikey (header 8024), got header {key[:2].hex()}"
        )


def parse_base_proof_value(proof_value: object) -> BaseProofValue:
    """parseBaseProofValue, strictly: :class:`MalformedError` says what is wrong."""
    data = _decode_multibase(proof_value)
    reader = _components(data, BASE_PROOF_HEADER, "base")
    base_signature = reader.byte_string("baseSignature", SIGNATURE_BYTES)
    public_key = reader.byte_string("publicKey", PUBLIC_KEY_BYTES)
    _check_public_key(reader, public_key)
    hmac_key = reader.byte_string("hmacKey", HMAC_KEY_BYTES)
    signatures = reader.signatures("signatures")
    count = reader.count(4, "mandatoryPointers", MAX_SD_POINTERS)
    pointers = tuple(reader.text(f"mandatoryPointers[{i}]") for i in range(count))
    reader.end()
    return BaseProofValue(base_signature, public_key, hmac_key, signatures, pointers)


def parse_derived_proof_value(proof_value: object) -> DerivedProofValue:
    """parseDerivedProofValue, strictly: :class:`MalformedError` says what is wrong.

    The public key is 35 bytes (the spec's "36" is a known slip; the vectors and CID's
    Multikey encoding give 35). Label-map keys must be distinct.
    """
    data = _decode_multibase(proof_value)
    reader = _components(data, DERIVED_PROOF_HEADER, "derived")
    base_signature = reader.byte_string("baseSignature", SIGNATURE_BYTES)
    public_key = reader.byte_string("publicKey", PUBLIC_KEY_BYTES)
    _check_public_key(reader, public_key)
    signatures = reader.signatures("signatures")
    entries = reader.count(5, "labelMap", MAX_BLANK_NODES)
    compressed: dict[int, bytes] = {}
    for _ in range(entries):
        key = reader.uint("a labelMap key")
        if key in compressed:
            raise reader.fail(f"labelMap has the key {key} twice")
        compressed[key] = reader.byte_string(f"labelMap[{key}]", LABEL_BYTES)
    count = reader.count(4, "mandatoryIndexes", MAX_QUADS)
    indexes = tuple(reader.uint(f"mandatoryIndexes[{i}]") for i in range(count))
    reader.end()
    return DerivedProofValue(
        base_signature, public_key, signatures, decompress_label_map(compressed), indexes
    )
