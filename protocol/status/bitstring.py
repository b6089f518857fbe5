"""The Bitstring Status List codec: a bitstring of status entries, GZIP, multibase base64url.

https://www.w3.org/TR/vc-bitstring-status-list/ section 2.2 (``encodedList``), 3.3 (generation),
3.4 (expansion) and 7.1 (layout):

* entry ``i`` of ``status_size`` bits starts at bit ``i * status_size``; bit 0 is the left-most
  bit, the most significant bit of byte 0, and a multi-bit entry reads most significant bit first;
* ``encodedList`` is ``u`` + base64url without padding (RFC 4648 section 5) of a GZIP member
  (RFC 1952) holding the bytes;
* the uncompressed list holds at least 131,072 entries (``MIN_STATUS_LIST_ENTRIES``) unless an
  ecosystem lowers the bound.

Encoding is deterministic: the GZIP header is fixed (no name, ``MTIME`` 0, ``OS`` 255 "unknown"),
so re-encoding an unchanged list gives the same text and a re-signed unchanged list is
byte-identical (the deflate stream itself comes from the local zlib, level 6).

Decoding inflates incrementally and stops as soon as the output passes
``MAX_STATUS_LIST_BITS``: a small input that inflates to gigabytes (a gzip bomb) is refused after
at most that many bytes of work.

>>> bits = StatusBitstring(16)
>>> bits.set(3, 1)
>>> bits.to_bytes().hex()
'1000'
>>> StatusBitstring.decode(bits.encode(), min_entries=16).get(3)
1
"""

from __future__ import annotations

import re
import struct
import zlib

from ..encoding import b64url_decode, b64url_encode
from ..errors import MalformedError, StatusListLengthError, StatusRangeError
from ..limits import (
    MAX_DOCUMENT_BYTES,
    MAX_STATUS_LIST_BITS,
    MAX_STATUS_SIZE_BITS,
    MIN_STATUS_LIST_ENTRIES,
)

__all__ = ["StatusBitstring", "decode", "gunzip_bounded", "gzip_deterministic"]

#: RFC 1952 member header: ID1 ID2, CM=8 (deflate), FLG=0, MTIME=0, XFL=0, OS=255 (unknown).
#: Fixed, so the output does not depend on the clock or the platform.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
#: Deflate level. Level 9 is about 13 times slower than 6 on a sparse 16 KB revocation list
#: (long runs of zeros) for output about 12% smaller; see bench/bench_status.py.
_DEFLATE_LEVEL = 6
#: Size of the pieces handed to zlib while inflating, in bytes of output.
_INFLATE_CHUNK = 64 * 1024
_B64URL_TEXT = re.compile(r"[A-Za-z0-9_-]*", re.ASCII)


def gzip_deterministic(data: bytes) -> bytes:
    """One GZIP member (RFC 1952) of ``data`` with a fixed header: same input, same bytes."""
    compressor = zlib.compressobj(
        _DEFLATE_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, 8, zlib.Z_DEFAULT_STRATEGY
    )
    body = compressor.compress(data) + compressor.flush()
    trailer = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)
    return _GZIP_HEADER + body + trailer


def gunzip_bounded(data: bytes, *, max_bytes: int) -> bytes:
    """Inflate one GZIP member, refusing output beyond ``max_bytes`` before producing it.

    Raises :class:`MalformedError` when ``data`` is not a complete GZIP member (bad header,
    corrupt deflate stream, CRC-32 or length mismatch, truncation, bytes after the member) or
    when it inflates to more than ``max_bytes``.
    """
    if data[:2] != b"\x1f\x8b":
        raise MalformedError(
            "the status list is not GZIP data (RFC 1952 magic bytes 1f 8b missing)"
        )
    # wbits 16 + MAX_WBITS: a GZIP wrapper only; zlib checks the header, CRC-32 and ISIZE.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pieces: list[bytes] = []
    total = 0
    pending = data
    try:
        while True:
            # Never ask for more than one byte past the cap: that byte proves the overflow.
            want = min(_INFLATE_CHUNK, max_bytes - total + 1)
            before = len(pending)
            piece = inflater.decompress(pending, want)
            pending = inflater.unconsumed_tail
            total += len(piece)
            if total > max_bytes:
                raise MalformedError(
                    f"the status list inflates to more than {max_bytes} bytes "
                    f"({max_bytes * 8} bits, the limit); refused as a possible gzip bomb"
                )
            pieces.append(piece)
            if inflater.eof or (not piece and len(pending) == before):
                break  # the member ended, or zlib can make no more progress (truncated)
    except zlib.error as exc:
        raise MalformedError(f"the status list is not valid GZIP data: {exc}") from exc
    if not inflater.eof:
        raise MalformedError("the status list GZIP data is truncated (no complete member)")
    if inflater.unused_data:
        raise MalformedError(
            f"{len(inflater.unused_data)} bytes follow the GZIP member of the status list"
        )
    return b"".join(pieces)


def _check_status_size(status_size: int) -> None:
    if isinstance(status_size, bool) or not isinstance(status_size, int):
        raise TypeError("status_size must be an int")
    if not 1 <= status_size <= MAX_STATUS_SIZE_BITS:
        raise ValueError(f"status_size must be between 1 and {MAX_STATUS_SIZE_BITS} bits")


class StatusBitstring:
    """A list of ``length`` status entries of ``status_size`` bits each (all zero at first).

    Bits are packed into whole bytes; the padding bits after the last entry stay zero.
    """

    __slots__ = ("_bits", "length", "status_size")

    def __init__(self, length: int, *, status_size: int = 1) -> None:
        """An all-zero list of ``length`` entries (``ValueError`` for a bad length or size)."""
        _check_status_size(status_size)
        if isinstance(length, bool) or not isinstance(length, int):
            raise TypeError("length must be an int")
        if length < 1:
            raise ValueError("a status list holds at least one entry")
        if length * status_size > MAX_STATUS_LIST_BITS:
            raise ValueError(f"a status list holds at most {MAX_STATUS_LIST_BITS} bits")
        self.length = length
        self.status_size = status_size
        self._bits = bytearray(-(-length * status_size // 8))

    @classmethod
    def from_bytes(cls, data: bytes, *, status_size: int = 1) -> StatusBitstring:
        """The list whose uncompressed bytes are ``data``: ``len(data) * 8 // status_size``
        entries (trailing bits that do not fill an entry are padding)."""
        _check_status_size(status_size)
        length = len(data) * 8 // status_size
        if length < 1:
            raise ValueError("the bytes hold no complete status entry")
        bits = cls(length, status_size=status_size)
        bits._bits[:] = data
        return bits

    def to_bytes(self) -> bytes:
        """The uncompressed bitstring."""
        return bytes(self._bits)

    def _position(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError("a status list index must be an int")
        if not 0 <= index < self.length:
            raise StatusRangeError(
                f"status list index {index} is outside the list (0 to {self.length - 1})"
            )
        return index * self.status_size

    def get(self, index: int) -> int:
        """The status value of entry ``index`` (0 to 2**status_size - 1).

        Raises :class:`StatusRangeError` when ``index`` is outside the list.
        """
        start = self._position(index)
        if self.status_size == 1:
            return (self._bits[start >> 3] >> (7 - (start & 7))) & 1
        end = start + self.status_size
        first, last = start >> 3, (end - 1) >> 3
        window = int.from_bytes(self._bits[first : last + 1], "big")
        shift = (last + 1) * 8 - end
        return (window >> shift) & ((1 << self.status_size) - 1)

    def set(self, index: int, value: int) -> None:
        """Set entry ``index`` to ``value`` (``ValueError`` if it does not fit the entry)."""
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int):
            raise TypeError("a status value must be an int")
        if not 0 <= value < 1 << self.status_size:
            raise ValueError(f"status value {value} does not fit in {self.status_size} bit(s)")
        start = self._position(index)
        if self.status_size == 1:
            mask = 1 << (7 - (start & 7))
            if value:
                self._bits[start >> 3] |= mask
            else:
                self._bits[start >> 3] &= ~mask & 0xFF
            return
        end = start + self.status_size
        first, last = start >> 3, (end - 1) >> 3
        width = (last + 1 - first) * 8
        shift = (last + 1) * 8 - end
        window = int.from_bytes(self._bits[first : last + 1], "big")
        field_mask = ((1 << self.status_size) - 1) << shift
        window = (window & ~field_mask) | (value << shift)
        self._bits[first : last + 1] = window.to_bytes(width // 8, "big")

    def count(self) -> int:
        """How many entries have a non-zero value."""
        if self.status_size == 1:
            return int.from_bytes(self._bits, "big").bit_count()
        return sum(1 for i in range(self.length) if self.get(i))

    def encode(self) -> str:
        """``encodedList``: ``u`` + base64url-no-pad of the deterministic GZIP of the bytes."""
        return "u" + b64url_encode(gzip_deterministic(bytes(self._bits)))

    @classmethod
    def decode(
        cls,
        encoded: str,
        *,
        status_size: int = 1,
        min_entries: int = MIN_STATUS_LIST_ENTRIES,
        multibase: bool = True,
    ) -> StatusBitstring:
        """Parse an ``encodedList`` (see :func:`decode`)."""
        return decode(
            encoded, status_size=status_size, min_entries=min_entries, multibase=multibase
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StatusBitstring):
            return NotImplemented
        return (self.length, self.status_size, self._bits) == (
            other.length,
            other.status_size,
            other._bits,
        )

    def __repr__(self) -> str:
        return f"StatusBitstring(length={self.length}, status_size={self.status_size})"


def decode(
    encoded: str,
    *,
    status_size: int = 1,
    min_entries: int = MIN_STATUS_LIST_ENTRIES,
    multibase: bool = True,
) -> StatusBitstring:
    """Parse an ``encodedList`` into a :class:`StatusBitstring` (BSL 3.4, expansion).

    Args:
        encoded: the ``encodedList`` text.
        status_size: bits per entry (the entry's ``statusSize``, default 1).
        min_entries: the least number of entries accepted (BSL 3.2 step 2: 131,072 unless an
            ecosystem sets a lower bound).
        multibase: require the multibase ``u`` prefix (Bitstring Status List). ``False`` reads
            the legacy StatusList2021 form, plain base64url, with or without a ``u`` prefix
            (a GZIP member always starts ``H4sI`` in base64url, so the prefix is unambiguous).

    Raises:
        MalformedError: not multibase base64url, not a single valid GZIP member, or larger than
            ``MAX_STATUS_LIST_BITS`` once inflated.
        StatusListLengthError: fewer than ``min_entries`` entries.
    """
    _check_status_size(status_size)
    if isinstance(min_entries, bool) or not isinstance(min_entries, int) or min_entries < 1:
        raise ValueError("min_entries must be a positive int")
    if not isinstance(encoded, str) or not encoded:
        raise MalformedError("encodedList must be a non-empty string")
    if len(encoded) > MAX_DOCUMENT_BYTES:
        raise MalformedError(f"encodedList is longer than {MAX_DOCUMENT_BYTES} characters")
    if encoded.startswith("u"):
        text = encoded[1:]
    elif multibase:
        raise MalformedError(
            f"encodedList must be multibase base64url (prefix 'u'), not {encoded[:1]!r}"
        )
    else:
        text = encoded
    if not multibase:
        text = text.rstrip("=")  # StatusList2021 issuers sometimes kept the padding
    if _B64URL_TEXT.fullmatch(text) is None:
        raise MalformedError(
            "encodedList holds characters outside the base64url alphabet"
            + (" (multibase base64url has no padding)" if "=" in text else "")
        )
    compressed = b64url_decode(text)
    raw = gunzip_bounded(compressed, max_bytes=MAX_STATUS_LIST_BITS // 8)
    entries = len(raw) * 8 // status_size
    if entries < min_entries:
        raise StatusListLengthError(
            f"the status list holds {entries} entries of {status_size} bit(s) "
            f"({len(raw)} bytes), fewer than the minimum of {min_entries}"
        )
    return StatusBitstring.from_bytes(raw, status_size=status_size)
