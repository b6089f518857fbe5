"""The wallet file: one sealed file the earner can copy, back up and restore.

A wallet is a single file (``specs/wallet.md``): the :mod:`wallet.sealing` envelope around a
*content body* made of zlib-compressed sections::

    body = count (u32) || count x length (u64) || meta || segment 1 || ... || segment n

The meta section (JSON) holds the identities, collections, pathways and one row per credential:
its metadata, the columns the search index needs, and where its verbatim text and verification
report sit in the blob segments. Opening a wallet inflates and parses the meta only and builds
the index from the rows; segments are inflated when a credential is first read. A save writes
unchanged segments back as they are and puts new texts in one new segment (compacting when dead
bytes pile up), so adding a credential to a large wallet does not recompress it all.

Writes are atomic: the new file is written beside the old one, flushed (``fsync``), renamed over
it (``os.replace``) and the folder is flushed, so a crash at any moment leaves either the old or
the new wallet on disk, never a mix. A lock file next to the wallet keeps two processes from
writing at once. Nothing is ever written when the passphrase is wrong or the file is damaged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from protocol.encoding import b64url_decode, parse_json
from protocol.errors import MalformedError
from protocol.keys import Algorithm, KeyPair
from protocol.timeutil import format_datetime

from .errors import (
    NotFound,
    WalletCorrupt,
    WalletError,
    WalletExists,
    WalletLocked,
    WalletMissing,
)
from .identity import Identity, new_identity
from .organise import Collection, Index, Pathway, Query, equality_key, search, summarize
from .sealing import (
    DEFAULT_KDF,
    MAX_PLAINTEXT_BYTES,
    KdfParams,
    SealingKey,
    open_envelope,
)

__all__ = [
    "CONTENT_FORMAT",
    "CONTENT_VERSION",
    "KINDS",
    "Progress",
    "StoredCredential",
    "Wallet",
    "atomic_write",
]

#: ``format`` member of the meta JSON.
CONTENT_FORMAT = "passeport-wallet"
#: Version of the content layout (meta members and the blob addressing).
CONTENT_VERSION = 1
#: Version of the summary computation; summaries of an older version are recomputed at open.
SUMMARY_VERSION = 1

#: What a stored credential is.
KINDS = ("ob3", "vc", "endorsement", "ob2")
Kind = Literal["ob3", "vc", "endorsement", "ob2"]
Format = Literal["json", "jwt"]

#: ``progress(stage, done, total)``: called during long operations (open, import).
Progress = Callable[[str, int, int], None]

#: Wallets smaller than this open without progress messages.
_PROGRESS_FROM = 2000


def _now() -> datetime:
    return datetime.now(UTC)


def _jwt_payload(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedError("a compact JWS has three dot-separated parts")
    payload = parse_json(b64url_decode(parts[1]))
    if not isinstance(payload, dict):
        raise MalformedError("the JWS payload is not a JSON object")
    return payload


def jwt_document(token: str) -> dict[str, Any]:
    """The credential a compact JWS carries: its ``vc`` claim (VC 1.1 JWT) or its payload."""
    payload = _jwt_payload(token)
    inner = payload.get("vc")
    if isinstance(inner, dict):
        return inner
    return payload


class _Segment:
    """One zlib-compressed part of the credential blob, inflated on first use."""

    __slots__ = ("_compressed", "_data", "size")

    def __init__(
        self, *, compressed: bytes | None = None, data: bytes | None = None, size: int = 0
    ) -> None:
        if data is not None:
            size = len(data)
        elif compressed is None:
            raise ValueError("a segment needs its bytes")
        self._compressed = compressed
        self._data = data
        self.size = size

    @property
    def compressed(self) -> bytes:
        """The zlib stream as stored in the file."""
        if self._compressed is None:
            assert self._data is not None
            self._compressed = zlib.compress(self._data, 6)
        return self._compressed

    @property
    def data(self) -> bytes:
        """The inflated bytes."""
        if self._data is None:
            assert self._compressed is not None
            data = _inflate_section(self._compressed, "a credential segment")
            if len(data) != self.size:
                raise WalletCorrupt("the wallet content is damaged: a segment has the wrong size")
            self._data = data
        return self._data

    def slice(self, start: int, length: int) -> bytes:
        """``length`` bytes from ``start``; a reference outside the segment is damage."""
        data = self.data
        if start + length > len(data):
            raise WalletCorrupt("the wallet content is damaged: a reference leaves its segment")
        return data[start : start + length]


def _inflate_section(data: bytes, what: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_PLAINTEXT_BYTES + 1)
    except zlib.error as exc:
        raise WalletCorrupt(f"the wallet content is damaged: {what} does not inflate") from exc
    if len(out) > MAX_PLAINTEXT_BYTES or inflater.unconsumed_tail or not inflater.eof:
        raise WalletCorrupt(f"the wallet content is damaged: {what} is incomplete or too large")
    return out


#: Where a text lives: the segment, the offset and the length of its bytes.
Span = tuple[_Segment, int, int]

#: Columns of a credential row in the meta JSON (``specs/wallet.md``, "Content").
COLUMNS = (
    "lid",
    "key",
    "kind",
    "format",
    "status",
    "tags",
    "name",
    "id",
    "issuer",
    "issuerName",
    "issued",
    "validUntil",
    "summary",
    "extra",
    "textSegment",
    "textOffset",
    "textLength",
    "reportSegment",
    "reportOffset",
    "reportLength",
    "searchText",
    "achievement",
    "skillKeys",
    "skillNames",
)
_COLUMN = {name: n for n, name in enumerate(COLUMNS)}
_TEXT_SPAN = _COLUMN["textSegment"]
_REPORT_SPAN = _COLUMN["reportSegment"]


def _extra_defaults() -> dict[str, Any]:
    """The metadata members a row's ``extra`` JSON may omit (fresh lists each time)."""
    return {
        "source": "",
        "added": "",
        "updated": "",
        "verifiedAt": "",
        "endorsements": [],
        "endorses": [],
        "selfmade": None,
        "legacy": None,
        "holderCopy": None,
    }


class StoredCredential:
    """One credential in the wallet: the verbatim text, its verification report, metadata.

    ``local_id`` is the wallet's id for it (stable: derived from the Open Badges equality key);
    ``id`` is the credential's own ``id``. The text, the report, the summary and the rest of the
    metadata are read from the wallet content on first use, so opening a large wallet stays
    fast.
    """

    __slots__ = (
        "_cid",
        "_document",
        "_extra",
        "_extra_json",
        "_issued",
        "_issuer",
        "_issuer_name",
        "_name",
        "_report",
        "_report_span",
        "_summary",
        "_summary_json",
        "_text",
        "_text_span",
        "_valid_until",
        "format",
        "key",
        "kind",
        "local_id",
        "status",
        "tags",
    )

    local_id: str
    key: str
    kind: Kind
    format: Format
    status: str
    tags: list[str]
    _summary: dict[str, Any] | None
    _summary_json: str | None
    _extra: dict[str, Any] | None
    _extra_json: str | None
    _name: str
    _cid: str | None
    _issuer: str | None
    _issuer_name: str | None
    _issued: str | None
    _valid_until: str | None

    def __init__(
        self,
        *,
        local_id: str,
        key: str,
        kind: Kind,
        format: Format,
        status: str,
        summary: dict[str, Any],
        text: str,
        verification: Mapping[str, Any],
        source: str,
        added: str,
        updated: str,
        verified_at: str,
        tags: Sequence[str] = (),
        legacy: dict[str, Any] | None = None,
        selfmade: dict[str, Any] | None = None,
    ) -> None:
        """A new record (internal: use :meth:`Wallet.add_credential`)."""
        self.local_id = local_id
        self.key = key
        self.kind = kind
        self.format = format
        self.status = status
        self.tags = list(tags)
        self._document: dict[str, Any] | None = None
        self._text: str | None = text
        self._text_span: Span | None = None
        self._report: dict[str, Any] | None = dict(verification)
        self._report_span: Span | None = None
        self._summary_json = None
        self._extra_json = None
        self._extra = {
            "source": source,
            "added": added,
            "updated": updated,
            "verifiedAt": verified_at,
            "endorsements": [],
            "endorses": [],
            "selfmade": selfmade,
            "legacy": legacy,
        }
        self.summary = summary

    @classmethod
    def _from_row(cls, row: Sequence[Any], segments: Sequence[_Segment]) -> StoredCredential:
        record = cls.__new__(cls)
        c = _COLUMN
        record.local_id = row[c["lid"]]
        record.key = row[c["key"]]
        record.kind = row[c["kind"]]
        record.format = row[c["format"]]
        record.status = row[c["status"]]
        record.tags = list(row[c["tags"]])
        record._name = row[c["name"]]
        record._cid = row[c["id"]] or None
        record._issuer = row[c["issuer"]] or None
        record._issuer_name = row[c["issuerName"]] or None
        record._issued = row[c["issued"]] or None
        record._valid_until = row[c["validUntil"]] or None
        record._summary = None
        record._summary_json = row[c["summary"]]
        record._extra = None
        record._extra_json = row[c["extra"]]
        record._document = None
        record._text = None
        record._report = None
        record._text_span = _span(segments, row, _TEXT_SPAN, "text")
        record._report_span = _span(segments, row, _REPORT_SPAN, "report")
        if not (
            type(record.local_id) is str
            and type(record.key) is str
            and type(record._summary_json) is str
            and type(record._extra_json) is str
        ):
            raise WalletCorrupt("a credential row of the wallet is malformed")
        return record

    def __repr__(self) -> str:
        return f"StoredCredential({self.local_id}, {self.kind}, {self._name!r})"

    # -- summary and quick fields ---------------------------------------------------------------

    @property
    def summary(self) -> dict[str, Any]:
        """The summary kept for search and display (see :func:`wallet.organise.summarize`)."""
        if self._summary is None:
            value = json.loads(self._summary_json or "{}")
            self._summary = value if isinstance(value, dict) else {}
        return self._summary

    @summary.setter
    def summary(self, value: dict[str, Any]) -> None:
        self._summary = value
        self._summary_json = None
        self._cid = value.get("id") if isinstance(value.get("id"), str) else None
        self._name = str(value.get("name") or value.get("id") or self.local_id)
        self._issuer = value.get("issuer")
        self._issuer_name = value.get("issuer_name")
        self._issued = value.get("issued")
        self._valid_until = value.get("valid_until")

    @property
    def id(self) -> str | None:
        """The credential's own ``id`` (None when it has none)."""
        return self._cid

    @property
    def name(self) -> str:
        """A display name."""
        return self._name

    @property
    def issuer(self) -> str | None:
        """The issuer id."""
        return self._issuer

    @property
    def issuer_name(self) -> str | None:
        """The issuer's display name, when it has one."""
        return self._issuer_name

    @property
    def issued(self) -> str | None:
        """When it was awarded (``YYYY-MM-DDThh:mm:ssZ``), when known."""
        return self._issued

    @property
    def valid_until(self) -> str | None:
        """End of validity (``YYYY-MM-DDThh:mm:ssZ``), when it has one."""
        return self._valid_until

    # -- the other metadata (parsed on first use) ----------------------------------------------

    def _extras(self) -> dict[str, Any]:
        if self._extra is None:
            value = json.loads(self._extra_json or "{}")
            self._extra = {**_extra_defaults(), **(value if isinstance(value, dict) else {})}
            self._extra_json = None
        return self._extra

    @property
    def source(self) -> str:
        """Where it came from (a file name, ``self-made``, an offer...)."""
        return str(self._extras()["source"])

    @source.setter
    def source(self, value: str) -> None:
        self._extras()["source"] = value

    @property
    def added(self) -> str:
        """When it entered the wallet."""
        return str(self._extras()["added"])

    @property
    def updated(self) -> str:
        """When its record last changed."""
        return str(self._extras()["updated"])

    @updated.setter
    def updated(self, value: str) -> None:
        self._extras()["updated"] = value

    @property
    def verified_at(self) -> str:
        """When it was last verified."""
        return str(self._extras()["verifiedAt"])

    @property
    def endorsements(self) -> list[str]:
        """Local ids of the endorsements attached to it (a live list)."""
        value: list[str] = self._extras()["endorsements"]
        return value

    @property
    def endorses(self) -> list[str]:
        """For an endorsement: local ids of the credentials it endorses (a live list)."""
        value: list[str] = self._extras()["endorses"]
        return value

    @property
    def selfmade(self) -> dict[str, Any] | None:
        """For a self-made badge: the identity that signed it and its achievement id."""
        value: dict[str, Any] | None = self._extras()["selfmade"]
        return value

    @selfmade.setter
    def selfmade(self, value: dict[str, Any] | None) -> None:
        self._extras()["selfmade"] = value

    @property
    def legacy(self) -> dict[str, Any] | None:
        """For an Open Badges 2.0 assertion: what was and was not checked offline."""
        value: dict[str, Any] | None = self._extras()["legacy"]
        return value

    @legacy.setter
    def legacy(self, value: dict[str, Any] | None) -> None:
        self._extras()["legacy"] = value

    @property
    def holder_copy(self) -> dict[str, Any] | None:
        """The holder's ecdsa-sd-2023 base-proof copy of this badge (the issuer sends it beside
        the credential a verifier checks; selective disclosures are derived from it)."""
        kept = self._extras().get("holderCopy")
        if isinstance(kept, dict) and isinstance(kept.get("credential"), dict):
            copy: dict[str, Any] = kept["credential"]
            return copy
        return None

    @property
    def holder_copy_verification(self) -> dict[str, Any] | None:
        """The report of the holder-side check of :attr:`holder_copy` (base proof, issuer key)."""
        kept = self._extras().get("holderCopy")
        if isinstance(kept, dict) and isinstance(kept.get("verification"), dict):
            report: dict[str, Any] = kept["verification"]
            return report
        return None

    # -- text, document, report ------------------------------------------------------------------

    @property
    def text(self) -> str:
        """The credential exactly as received: JSON text, or a compact JWS."""
        if self._text is None:
            assert self._text_span is not None
            segment, start, length = self._text_span
            self._text = segment.slice(start, length).decode("utf-8")
        return self._text

    def _text_bytes(self) -> bytes:
        if self._text is None and self._text_span is not None:
            segment, start, length = self._text_span
            return segment.slice(start, length)
        return self.text.encode("utf-8")

    @property
    def document(self) -> dict[str, Any]:
        """The credential as a JSON object (for a JWS: the credential it carries). A copy is
        not made: do not modify it."""
        if self._document is None:
            if self.format == "jwt":
                self._document = jwt_document(self.text)
            else:
                value = parse_json(self.text)
                if not isinstance(value, dict):
                    raise WalletCorrupt(f"credential {self.local_id} is not a JSON object")
                self._document = value
        return self._document

    @property
    def verification(self) -> dict[str, Any]:
        """The verification report stored with the credential (``specs/verification-report.md``)."""
        if self._report is None:
            if self._report_span is None:
                return {}
            segment, start, length = self._report_span
            value = json.loads(segment.slice(start, length))
            self._report = value if isinstance(value, dict) else {}
        return self._report

    def _report_bytes(self) -> bytes:
        if self._report is None and self._report_span is not None:
            segment, start, length = self._report_span
            return segment.slice(start, length)
        return json.dumps(self.verification, ensure_ascii=False, separators=(",", ":")).encode()

    def set_verification(self, report: Mapping[str, Any], status: str, *, at: str) -> None:
        """Replace the stored report (after a new verification)."""
        self._report = dict(report)
        self._report_span = None
        self.status = status
        self._extras()["verifiedAt"] = at

    def _replace_text(self, text: str, format: Format) -> None:
        self._text = text
        self._text_span = None
        self._document = None
        self.format = format

    def _summary_text(self) -> str:
        if self._summary_json is None:
            self._summary_json = json.dumps(self.summary, ensure_ascii=False, separators=(",", ":"))
        return self._summary_json

    def _extra_text(self) -> str:
        if self._extra_json is None:
            defaults = _extra_defaults()
            extra = {k: v for k, v in self._extras().items() if v != defaults.get(k)}
            return json.dumps(extra, ensure_ascii=False, separators=(",", ":"))
        return self._extra_json


# -- files -------------------------------------------------------------------------------------


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file, whole.

    Temp file in the same folder, write, ``fsync``, ``os.replace``, ``fsync`` of the folder.
    """
    tmp = _temp_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise WalletError(f"{path}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise WalletError(f"{path}: cannot write ({exc.strerror})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


class _Lock:
    """An advisory lock on ``.<wallet>.lock`` beside the wallet (POSIX ``flock``)."""

    def __init__(self, path: Path, *, shared: bool, timeout: float) -> None:
        self.path = path.with_name(f".{path.name}.lock")
        self._fh: IO[bytes] | None = None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no locking
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._fh = os.fdopen(fd, "r+b")
        except OSError as exc:
            raise WalletError(
                f"{self.path}: cannot create the lock file ({exc.strerror})"
            ) from None
        flag = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._fh.fileno(), flag | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._fh.close()
                    self._fh = None
                    raise WalletLocked(
                        f"{path}: the wallet is in use by another process; try again"
                    ) from None
                time.sleep(0.05)

    def __del__(self) -> None:
        self.release()

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing releases the flock
            self._fh = None


def _read_file(path: Path) -> bytes:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise WalletMissing(
            f"{path}: no wallet here (create one with 'passeport wallet init')"
        ) from None
    except OSError as exc:
        raise WalletError(f"{path}: cannot read ({exc.strerror})") from None
    if size > MAX_PLAINTEXT_BYTES + 4096:
        raise WalletCorrupt(f"{path}: too large to be a wallet file ({size} bytes)")
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise WalletCorrupt(f"{path}: is a folder, not a wallet file") from None
    except OSError as exc:
        raise WalletError(f"{path}: cannot read ({exc.strerror})") from None


_SECTION_COUNT = struct.Struct(">I")
_SECTION_LENGTH = struct.Struct(">Q")
#: Most sections (meta + blob segments) a content body may declare.
MAX_SECTIONS = 1024
#: Blob segments before a save compacts them into one.
MAX_SEGMENTS = 8


def _split_body(body: bytes) -> tuple[dict[str, Any], list[_Segment]]:
    """``count (u32) || count x length (u64) || sections``: section 0 is the zlib meta JSON,
    the others the zlib blob segments (inflated on first use)."""
    if len(body) < _SECTION_COUNT.size:
        raise WalletCorrupt("the wallet content is truncated")
    (count,) = _SECTION_COUNT.unpack_from(body)
    if not 1 <= count <= MAX_SECTIONS:
        raise WalletCorrupt("the wallet content declares an impossible number of sections")
    pos = _SECTION_COUNT.size
    lengths = []
    for _ in range(count):
        if pos + _SECTION_LENGTH.size > len(body):
            raise WalletCorrupt("the wallet content is truncated")
        (length,) = _SECTION_LENGTH.unpack_from(body, pos)
        lengths.append(length)
        pos += _SECTION_LENGTH.size
    if pos + sum(lengths) != len(body):
        raise WalletCorrupt("the wallet content sections do not add up")
    sections = []
    for length in lengths:
        sections.append(body[pos : pos + length])
        pos += length
    raw_meta = _inflate_section(sections[0], "the index")
    try:
        meta = json.loads(raw_meta)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WalletCorrupt(f"the wallet content is unreadable: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != CONTENT_FORMAT:
        raise WalletCorrupt("the decrypted content is not a Passeport wallet")
    version = meta.get("version")
    if version != CONTENT_VERSION:
        raise WalletCorrupt(
            f"unsupported wallet content version {version!r} (this program reads "
            f"{CONTENT_VERSION}); upgrade Passeport"
        )
    sizes = meta.get("segments", [])
    if (
        not isinstance(sizes, list)
        or len(sizes) != len(sections) - 1
        or not all(isinstance(n, int) and n >= 0 for n in sizes)
    ):
        raise WalletCorrupt("the wallet content lists its segments wrongly")
    return meta, [_Segment(compressed=s, size=n) for s, n in zip(sections[1:], sizes, strict=True)]


def _join_body(meta: Mapping[str, Any], segments: Sequence[_Segment]) -> bytes:
    # Level 1: the meta is rewritten by every save; speed matters more than a few kilobytes.
    meta_bytes = zlib.compress(
        json.dumps(meta, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), 1
    )
    sections = [meta_bytes, *(s.compressed for s in segments)]
    header = _SECTION_COUNT.pack(len(sections)) + b"".join(
        _SECTION_LENGTH.pack(len(s)) for s in sections
    )
    return b"".join([header, *sections])


def _span(segments: Sequence[_Segment], row: Sequence[Any], first: int, which: str) -> Span:
    index, offset, length = row[first], row[first + 1], row[first + 2]
    if not (
        type(index) is int
        and type(offset) is int
        and type(length) is int
        and 0 <= index < len(segments)
        and offset >= 0
        and length >= 0
    ):
        raise WalletCorrupt(f"the wallet content has a bad {which} reference")
    return segments[index], offset, length


def _local_id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _text_of(document: Mapping[str, Any] | str | bytes) -> tuple[str, Format]:
    if isinstance(document, bytes):
        document = document.decode("utf-8")
    if isinstance(document, str):
        stripped = document.strip()
        if stripped.startswith("{"):
            return document, "json"
        if stripped.count(".") == 2 and " " not in stripped:
            return stripped, "jwt"
        raise ValueError("a credential text must be JSON or a compact JWS")
    if isinstance(document, Mapping):
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")), "json"
    raise TypeError("document must be a JSON object, JSON text or a compact JWS")


def guess_kind(document: Mapping[str, Any]) -> Kind:
    """``ob3``, ``endorsement``, ``vc`` or ``ob2`` from the types and contexts."""
    types = document.get("type")
    type_list = types if isinstance(types, list) else [types]
    context = document.get("@context")
    contexts = context if isinstance(context, list) else [context]
    ob2_context = any(
        isinstance(c, str)
        and c.startswith(("https://w3id.org/openbadges/v2", "https://w3id.org/openbadges/v1"))
        for c in contexts
    )
    if "Assertion" in type_list or (
        "VerifiableCredential" not in type_list and "recipient" in document and "badge" in document
    ):
        return "ob2"
    if ob2_context and "VerifiableCredential" not in type_list:
        return "ob2"
    if "EndorsementCredential" in type_list:
        return "endorsement"
    if "OpenBadgeCredential" in type_list or "AchievementCredential" in type_list:
        return "ob3"
    return "vc"


class Wallet:
    """An open wallet. Create with :meth:`create`, open with :meth:`open`, then ``save()``.

    Changes are kept in memory until :meth:`save`; leaving a ``with`` block closes the wallet
    (releases its lock) without saving.
    """

    def __init__(
        self,
        path: Path,
        key: SealingKey,
        meta: Mapping[str, Any],
        segments: Sequence[_Segment],
        *,
        lock: _Lock | None,
        readonly: bool = False,
        progress: Progress | None = None,
    ) -> None:
        """Internal: use :meth:`create`, :meth:`open` or :meth:`restore`."""
        self.path = path
        self._key = key
        self._lock = lock
        self.readonly = readonly
        self.created: str = str(meta.get("created", ""))
        self.updated: str = str(meta.get("updated", ""))
        self._changed = False
        self._segments: list[_Segment] = list(segments)
        self._identities: dict[str, Identity] = {}
        for item in meta.get("identities", []):
            identity = Identity.from_dict(item)
            self._identities[identity.did] = identity
        self._default_did: str | None = meta.get("defaultIdentity")
        self._records: dict[str, StoredCredential] = {}
        self._by_key: dict[str, str] = {}
        rows = meta.get("credentials", [])
        if not isinstance(rows, list) or meta.get("columns", list(COLUMNS)) != list(COLUMNS):
            raise WalletCorrupt("the wallet content has no readable credential list")
        total = len(rows)
        stale_summaries = meta.get("summaryVersion") != SUMMARY_VERSION
        self.index = Index()
        loaded = []
        for n, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(COLUMNS):
                raise WalletCorrupt("a credential row of the wallet is malformed")
            record = StoredCredential._from_row(row, self._segments)
            self._records[record.local_id] = record
            self._by_key[record.key] = record.local_id
            loaded.append((record, row))
            if progress is not None and total >= _PROGRESS_FROM and (n + 1) % 2000 == 0:
                progress("reading credentials", n + 1, total)
        if stale_summaries:
            for record in self._records.values():
                record.summary = summarize(record.document, kind=record.kind)
                self.index.add(record)
            self._changed = bool(self._records)
        else:
            for record, row in loaded:
                self.index.add_stored(
                    record,
                    text=row[_COLUMN["searchText"]],
                    achievement=row[_COLUMN["achievement"]],
                    skill_keys=row[_COLUMN["skillKeys"]],
                    skill_names=row[_COLUMN["skillNames"]],
                )
        self.collections: dict[str, Collection] = {
            c.name: c for c in (Collection.from_dict(x) for x in meta.get("collections", []))
        }
        self.pathways: dict[str, Pathway] = {
            p.id: p for p in (Pathway.from_dict(x) for x in meta.get("pathways", []))
        }
        self.requests: list[dict[str, Any]] = list(meta.get("requests", []))
        if progress is not None and total >= _PROGRESS_FROM:
            progress("indexing", total, total)
        self.open_timings: dict[str, float] = {}

    # -- life cycle ----------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        passphrase: str,
        *,
        kdf: KdfParams = DEFAULT_KDF,
        identity_algorithm: Algorithm = "Ed25519",
        now: datetime | None = None,
        lock_timeout: float = 10.0,
    ) -> Wallet:
        """Create a new wallet file at ``path`` with one holder identity; refuse to overwrite."""
        target = Path(path)
        if not passphrase:
            raise ValueError("the passphrase must not be empty")
        if target.exists():
            raise WalletExists(f"{target}: a file already exists; not replacing it")
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = _Lock(target, shared=False, timeout=lock_timeout)
        try:
            if target.exists():
                raise WalletExists(f"{target}: a file already exists; not replacing it")
            stamp = format_datetime(now or _now())
            meta = {"format": CONTENT_FORMAT, "version": CONTENT_VERSION, "created": stamp}
            wallet = cls(target, SealingKey.derive(passphrase, kdf), meta, [], lock=lock)
            wallet.new_identity(identity_algorithm, label="default", now=now)
            wallet.save()
        except BaseException:
            lock.release()
            raise
        return wallet

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        passphrase: str,
        *,
        readonly: bool = False,
        progress: Progress | None = None,
        lock_timeout: float = 10.0,
    ) -> Wallet:
        """Open a wallet. ``open_timings`` then holds the seconds spent deriving the key
        (``kdf``), decrypting (``decrypt``) and reading + indexing (``load``).

        Raises :class:`BadPassphrase`, :class:`WalletCorrupt`, :class:`WalletMissing`,
        :class:`WalletLocked`; never writes to the wallet file.
        """
        target = Path(path)
        lock = _Lock(target, shared=readonly, timeout=lock_timeout)
        try:
            data = _read_file(target)
            if progress is not None:
                progress("deriving the key", 0, 1)
            timings: dict[str, float] = {}
            body, key = open_envelope(data, passphrase, timings=timings)
            started = time.perf_counter()
            meta, segments = _split_body(body)
            wallet = cls(
                target, key, meta, segments, lock=lock, readonly=readonly, progress=progress
            )
            timings["load"] = time.perf_counter() - started
            wallet.open_timings = timings
            if not readonly:
                _remove_stale_temps(target)
        except BaseException:
            lock.release()
            raise
        return wallet

    def close(self) -> None:
        """Release the lock (unsaved changes are dropped)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Wallet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def kdf(self) -> KdfParams:
        """The Argon2id parameters of the file."""
        return self._key.params

    @property
    def changed(self) -> bool:
        """True when there are unsaved changes."""
        return self._changed

    def mark_changed(self) -> None:
        """Note an in-memory change (collections, pathways...) to be written by :meth:`save`."""
        self._changed = True

    def add_holder_copy(
        self,
        record: StoredCredential,
        document: Mapping[str, Any],
        *,
        verification: Mapping[str, Any],
        source: str = "",
    ) -> None:
        """Keep the holder's base-proof copy of ``record``'s badge with it (replacing any)."""
        self._check_writable()
        record._extras()["holderCopy"] = {
            "credential": dict(document),
            "verification": dict(verification),
            "source": source or record.source,
        }
        self.touch(record)

    def touch(self, record: StoredCredential) -> None:
        """Note a change to ``record`` (tags, endorsements...) and re-index it."""
        record.updated = format_datetime(_now())
        self.index.add(record)
        self._changed = True

    def _check_writable(self) -> None:
        if self.readonly:
            raise WalletError(f"{self.path}: opened read-only")
        if self._lock is None:
            raise WalletError(f"{self.path}: the wallet is closed")

    # -- serialisation -------------------------------------------------------------------------

    def _serialise(self, *, kind: str = "wallet") -> tuple[bytes, Callable[[], None]]:
        """The content body, and a function that points the records at the segment just
        written (to call once the body is safely on disk).

        Unchanged texts and reports stay in their segment, which is written again as it is
        (never re-compressed); new ones go to one new segment. When dead bytes (replaced or
        removed credentials) outweigh live ones, or segments pile up, everything is compacted
        into a single segment.
        """
        records = list(self._records.values())
        live: dict[int, int] = {}
        for record in records:
            for span in (record._text_span, record._report_span):
                if span is not None:
                    live[id(span[0])] = live.get(id(span[0]), 0) + span[2]
        kept = [s for s in self._segments if live.get(id(s), 0) > 0]
        dead = sum(s.size - live[id(s)] for s in kept)
        compact = dead > sum(live[id(s)] for s in kept) or len(kept) >= MAX_SEGMENTS
        if compact:
            kept = []
        position = {id(s): n for n, s in enumerate(kept)}
        parts: list[bytes] = []
        offset = 0
        pending: list[tuple[StoredCredential, str, int, int]] = []
        rows: list[list[Any]] = []
        for record in records:
            row: list[Any] = [
                record.local_id,
                record.key,
                record.kind,
                record.format,
                record.status,
                record.tags,
                record.name,
                record.id or "",
                record.issuer or "",
                record.issuer_name or "",
                record.issued or "",
                record.valid_until or "",
                record._summary_text(),
                record._extra_text(),
            ]
            for which, span in (("text", record._text_span), ("report", record._report_span)):
                if span is not None and id(span[0]) in position:
                    row.extend([position[id(span[0])], span[1], span[2]])
                    continue
                data = record._text_bytes() if which == "text" else record._report_bytes()
                row.extend([len(kept), offset, len(data)])
                pending.append((record, which, offset, len(data)))
                parts.append(data)
                offset += len(data)
            row.extend(self.index.stored_columns(record.local_id))
            rows.append(row)
        segments = list(kept)
        fresh = _Segment(data=b"".join(parts)) if parts else None
        if fresh is not None:
            segments.append(fresh)
        meta: dict[str, Any] = {
            "format": CONTENT_FORMAT,
            "version": CONTENT_VERSION,
            "kind": kind,
            "created": self.created,
            "updated": self.updated,
            "summaryVersion": SUMMARY_VERSION,
            "defaultIdentity": self._default_did,
            "identities": [i.to_dict() for i in self._identities.values()],
            "collections": [c.to_dict() for c in self.collections.values()],
            "pathways": [p.to_dict() for p in self.pathways.values()],
            "requests": self.requests,
            "segments": [s.size for s in segments],
            "columns": list(COLUMNS),
            "credentials": rows,
        }
        body = _join_body(meta, segments)

        def commit() -> None:
            for record, which, start, length in pending:
                assert fresh is not None
                if which == "text":
                    record._text_span = (fresh, start, length)
                else:
                    record._report_span = (fresh, start, length)
            self._segments = segments

        return body, commit

    def save(self) -> None:
        """Write the wallet atomically (a crash leaves the previous or the new file)."""
        self._check_writable()
        self.updated = format_datetime(_now())
        body, commit = self._serialise()
        atomic_write(self.path, self._key.seal(body, compress=False))
        commit()
        self._changed = False

    def change_passphrase(self, old: str, new: str, *, kdf: KdfParams = DEFAULT_KDF) -> None:
        """Re-key the wallet under ``new`` (fresh salt) and save it; ``old`` must open it."""
        self._check_writable()
        if not new:
            raise ValueError("the new passphrase must not be empty")
        open_envelope(_read_file(self.path), old)  # raises BadPassphrase when old is wrong
        self._key = SealingKey.derive(new, kdf)
        self.save()

    def backup(
        self, path: str | os.PathLike[str], passphrase: str, *, kdf: KdfParams = DEFAULT_KDF
    ) -> None:
        """Write an encrypted backup (a single file, same envelope) under ``passphrase``."""
        target = Path(path)
        if target.resolve() == self.path.resolve():
            raise WalletError("the backup must not replace the wallet itself")
        target.parent.mkdir(parents=True, exist_ok=True)
        key = SealingKey.derive(passphrase, kdf)
        body, _ = self._serialise(kind="backup")
        atomic_write(target, key.seal(body, compress=False))

    @classmethod
    def restore(
        cls,
        backup: str | os.PathLike[str],
        path: str | os.PathLike[str],
        passphrase: str,
        *,
        backup_passphrase: str | None = None,
        kdf: KdfParams = DEFAULT_KDF,
        lock_timeout: float = 10.0,
    ) -> Wallet:
        """Restore a backup (or a copy of a wallet file) into a new wallet at ``path``.

        ``backup_passphrase`` opens the backup (default: ``passphrase``); the new wallet is
        sealed under ``passphrase``. Refuses to replace an existing file.
        """
        target = Path(path)
        if target.exists():
            raise WalletExists(f"{target}: a file already exists; restore into a new path")
        data = _read_file(Path(backup))
        body, _ = open_envelope(
            data, backup_passphrase if backup_passphrase is not None else passphrase
        )
        meta, segments = _split_body(body)
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = _Lock(target, shared=False, timeout=lock_timeout)
        try:
            if target.exists():
                raise WalletExists(f"{target}: a file already exists; restore into a new path")
            wallet = cls(target, SealingKey.derive(passphrase, kdf), meta, segments, lock=lock)
            wallet.save()
        except BaseException:
            lock.release()
            raise
        return wallet

    def export_plain(
        self, path: str | os.PathLike[str], *, metadata: str | os.PathLike[str] | None = None
    ) -> int:
        """Write every credential, verbatim, as a JSON array (JWS credentials as strings).

        ``metadata`` names an optional second file with the wallet's view of each credential
        (local id, source, status, tags, collections, verification report) plus the public
        identities, collections and pathways. No secret key is ever exported. Returns the count.
        """
        records = list(self._records.values())
        parts = []
        for record in records:
            if record.format == "json":
                parts.append(record.text.strip())
            else:
                parts.append(json.dumps(record.text))
        text = "[\n" + ",\n".join(parts) + "\n]\n" if parts else "[]\n"
        atomic_write(Path(path), text.encode("utf-8"), mode=0o600)
        if metadata is not None:
            member_of: dict[str, list[str]] = {}
            for collection in self.collections.values():
                for lid in collection.members:
                    member_of.setdefault(lid, []).append(collection.name)
            info = {
                "format": "passeport-wallet-export-metadata",
                "version": 1,
                "exported": format_datetime(_now()),
                "credentialsFile": Path(path).name,
                "credentials": [
                    {
                        "index": n,
                        "localId": r.local_id,
                        "id": r.id,
                        "kind": r.kind,
                        "format": r.format,
                        "source": r.source,
                        "added": r.added,
                        "status": r.status,
                        "tags": r.tags,
                        "collections": member_of.get(r.local_id, []),
                        "endorsements": r.endorsements,
                        "verification": r.verification,
                        **({"legacy": r.legacy} if r.legacy else {}),
                    }
                    for n, r in enumerate(records)
                ],
                "identities": [i.to_dict(secret=False) for i in self._identities.values()],
                "collections": [c.to_dict() for c in self.collections.values()],
                "pathways": [p.to_dict() for p in self.pathways.values()],
            }
            data = json.dumps(info, ensure_ascii=False, indent=2) + "\n"
            atomic_write(Path(metadata), data.encode("utf-8"), mode=0o600)
        return len(records)

    # -- credentials ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[StoredCredential]:
        return iter(list(self._records.values()))

    def credentials(
        self, *, kind: str | None = None, query: Query | None = None, now: datetime | None = None
    ) -> list[StoredCredential]:
        """Stored credentials, optionally of one kind or matching a search ``query``."""
        if query is not None:
            found = self.search(query, now=now or _now())
        else:
            found = list(self._records.values())
        if kind is not None:
            found = [r for r in found if r.kind == kind]
        return found

    def search(self, query: Query, *, now: datetime) -> list[StoredCredential]:
        """Credentials matching ``query`` (see :mod:`wallet.organise`), newest first."""
        lids = search(self.index, query, now=now, collections=self.collections)
        return [self._records[lid] for lid in lids]

    def get(self, ref: str) -> StoredCredential:
        """A credential by local id, unique local-id prefix (4+ characters), or credential id."""
        if not isinstance(ref, str) or not ref:
            raise NotFound("no credential named by an empty reference")
        record = self._records.get(ref)
        if record is not None:
            return record
        by_id = self.index.by_credential_id(ref)
        if len(by_id) == 1:
            return self._records[next(iter(by_id))]
        if len(by_id) > 1:
            raise NotFound(f"several credentials have id {ref!r}; use the wallet id")
        if len(ref) >= 4:
            matches = [lid for lid in self._records if lid.startswith(ref)]
            if len(matches) == 1:
                return self._records[matches[0]]
            if len(matches) > 1:
                raise NotFound(f"{ref!r} matches several credentials; give more characters")
        raise NotFound(f"no credential {ref!r} in the wallet")

    def put(
        self,
        document: Mapping[str, Any] | str | bytes,
        *,
        source: str,
        verification: Mapping[str, Any],
        status: str | None = None,
        kind: Kind | None = None,
        legacy: Mapping[str, Any] | None = None,
        selfmade: Mapping[str, Any] | None = None,
        replace: bool = False,
        now: datetime | None = None,
    ) -> tuple[StoredCredential, Literal["added", "replaced", "duplicate"]]:
        """Store a credential; return it with what happened.

        Open Badges equality (issuer id + credential id) decides duplicates: a credential with a
        newer ``validFrom`` replaces the stored one (keeping its tags, collections and
        endorsements); an older or equal one is a ``duplicate`` and changes nothing, unless
        ``replace`` is true.
        """
        self._check_writable()
        text, fmt = _text_of(document)
        parsed = (
            jwt_document(text)
            if fmt == "jwt"
            else (dict(document) if isinstance(document, Mapping) else parse_json(text))
        )
        if not isinstance(parsed, dict):
            raise ValueError("a credential must be a JSON object")
        the_kind: Kind = kind or guess_kind(parsed)
        summary = summarize(parsed, kind=the_kind)
        key = equality_key(summary.get("issuer"), summary.get("id")) if the_kind != "ob2" else None
        if key is None and the_kind == "ob2":
            # OB 2.0 assertions name their issuer only through the badge class, often a bare
            # URL: two assertions are the same when their content is.
            canonical = json.dumps(parsed, sort_keys=True, ensure_ascii=False)
            key = "ob2:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        if key is None:
            key = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
        stamp = format_datetime(now or _now())
        the_status = status if status is not None else str(verification.get("verdict", "unknown"))
        existing_lid = self._by_key.get(key)
        if existing_lid is not None:
            existing = self._records[existing_lid]
            newer = summary.get("valid_from", "") > existing.summary.get("valid_from", "")
            if not (newer or replace):
                return existing, "duplicate"
            existing._replace_text(text, fmt)
            existing._document = parsed
            existing.kind = the_kind
            existing.summary = summary
            existing.source = source
            existing.set_verification(verification, the_status, at=stamp)
            if legacy is not None:
                existing.legacy = dict(legacy)
            if selfmade is not None:
                existing.selfmade = dict(selfmade)
            self.touch(existing)
            return existing, "replaced"
        lid = _local_id(key)
        record = StoredCredential(
            local_id=lid,
            key=key,
            kind=the_kind,
            format=fmt,
            source=source,
            added=stamp,
            updated=stamp,
            verified_at=stamp,
            status=the_status,
            summary=summary,
            text=text,
            verification=dict(verification),
            legacy=dict(legacy) if legacy is not None else None,
            selfmade=dict(selfmade) if selfmade is not None else None,
        )
        record._document = parsed
        self._records[lid] = record
        self._by_key[key] = lid
        self.index.add(record)
        self._changed = True
        return record, "added"

    def add_credential(
        self,
        document: Mapping[str, Any] | str | bytes,
        *,
        source: str,
        verification: Mapping[str, Any],
        status: str | None = None,
        now: datetime | None = None,
    ) -> StoredCredential:
        """Store a credential verbatim with its verification report (see :meth:`put`).

        ``status`` defaults to the report's ``verdict``. Call :meth:`save` to write.
        """
        record, _ = self.put(
            document, source=source, verification=verification, status=status, now=now
        )
        return record

    def remove(self, ref: str) -> StoredCredential:
        """Delete a credential (and its collection memberships and endorsement links)."""
        self._check_writable()
        record = self.get(ref)
        del self._records[record.local_id]
        self._by_key.pop(record.key, None)
        self.index.remove(record.local_id)
        for collection in self.collections.values():
            if record.local_id in collection.members:
                collection.members.remove(record.local_id)
        for other in self._records.values():
            if record.local_id in other.endorsements:
                other.endorsements.remove(record.local_id)
            if record.local_id in other.endorses:
                other.endorses.remove(record.local_id)
        self._changed = True
        return record

    # -- identities ----------------------------------------------------------------------------

    def identities(self) -> list[Identity]:
        """The holder identities, default first."""
        ordered = list(self._identities.values())
        ordered.sort(key=lambda i: i.did != self._default_did)
        return ordered

    @property
    def default_identity(self) -> Identity:
        """The identity used when none is named."""
        if self._default_did is None or self._default_did not in self._identities:
            raise NotFound("the wallet has no holder identity; create one")
        return self._identities[self._default_did]

    def get_identity(self, ref: str | None = None) -> Identity:
        """An identity by DID, verification method id, or label; the default when ``None``."""
        if ref is None:
            return self.default_identity
        did = ref.split("#", 1)[0]
        if did in self._identities:
            return self._identities[did]
        labelled = [i for i in self._identities.values() if i.label == ref]
        if len(labelled) == 1:
            return labelled[0]
        if len(labelled) > 1:
            raise NotFound(f"several identities are labelled {ref!r}; use the DID")
        raise NotFound(f"no identity {ref!r} in the wallet")

    def identity(self, did: str | None = None) -> KeyPair:
        """The signing key of an identity (default: the default identity), bound to its did:key."""
        return self.get_identity(did).key_pair()

    def new_identity(
        self,
        algorithm: Algorithm = "Ed25519",
        label: str | None = None,
        *,
        make_default: bool = False,
        now: datetime | None = None,
    ) -> Identity:
        """Create a holder identity (e.g. a pairwise one for a verifier). Call :meth:`save`."""
        self._check_writable()
        if label is not None and any(i.label == label for i in self._identities.values()):
            raise ValueError(f"an identity labelled {label!r} already exists")
        identity = new_identity(algorithm, label=label, now=now or _now())
        self._identities[identity.did] = identity
        if make_default or self._default_did is None:
            self._default_did = identity.did
        self._changed = True
        return identity

    def set_default_identity(self, ref: str) -> Identity:
        """Make an identity the default."""
        self._check_writable()
        identity = self.get_identity(ref)
        self._default_did = identity.did
        self._changed = True
        return identity

    def records_by_ids(self, lids: Sequence[str]) -> list[StoredCredential]:
        """Records for local ids (unknown ids skipped)."""
        return [self._records[lid] for lid in lids if lid in self._records]


def _remove_stale_temps(path: Path) -> None:
    """Delete temp files a crashed writer left (we hold the exclusive lock: none is live)."""
    prefix = f".{path.name}."
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix) and name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                (path.parent / name).unlink()


def write_progress(stream: IO[str] | None = None) -> Progress:
    """A progress callback printing ``stage done/total`` lines on stderr."""
    out = stream or sys.stderr

    def report(stage: str, done: int, total: int) -> None:
        if total > 1:
            print(f"{stage}: {done}/{total}", file=out, flush=True)
        else:
            print(f"{stage}...", file=out, flush=True)

    return report
