"""W3C Bitstring Status List v1.0: the bitstring codec, status entries and list credentials, and
the check of one entry against its (signed, current) list.

* :mod:`protocol.status.bitstring`: :class:`StatusBitstring` (get/set, deterministic GZIP +
  multibase encoding, bounded decoding);
* :mod:`protocol.status.credential`: :func:`build_status_entry`,
  :func:`build_status_list_credential`, :func:`parse_status_entry`, :func:`check_status`.

Pure: nothing is fetched, the clock arrives as ``now``. How Passeport allocates, serves and
checks status lists is written in ``specs/status.md``.
"""

from __future__ import annotations

from .bitstring import StatusBitstring, decode, gunzip_bounded, gzip_deterministic
from .credential import (
    BITSTRING_ENTRY,
    BITSTRING_LIST,
    BITSTRING_LIST_CREDENTIAL,
    LEGACY_ENTRY,
    LEGACY_LIST,
    LEGACY_LIST_CREDENTIAL,
    STATUS_ENTRY_TYPES,
    StatusEntry,
    StatusResult,
    build_status_entry,
    build_status_list_credential,
    check_status,
    entry_types,
    parse_status_entry,
)

__all__ = [
    "BITSTRING_ENTRY",
    "BITSTRING_LIST",
    "BITSTRING_LIST_CREDENTIAL",
    "LEGACY_ENTRY",
    "LEGACY_LIST",
    "LEGACY_LIST_CREDENTIAL",
    "STATUS_ENTRY_TYPES",
    "StatusBitstring",
    "StatusEntry",
    "StatusResult",
    "build_status_entry",
    "build_status_list_credential",
    "check_status",
    "decode",
    "entry_types",
    "gunzip_bounded",
    "gzip_deterministic",
    "parse_status_entry",
]
