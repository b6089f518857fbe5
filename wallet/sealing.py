"""The sealed envelope of a wallet file: Argon2id key derivation and SecretBox encryption.

Only this module knows the key derivation function and the cipher. The envelope layout
(``specs/wallet.md``, "Envelope") is, all integers big-endian::

    magic      8 bytes   b"PPWALLET"
    version    1 byte    0x01
    kdf        1 byte    0x01 = Argon2id v1.3 (libsodium crypto_pwhash_argon2id)
    opslimit   4 bytes   Argon2id passes
    memlimit   8 bytes   Argon2id memory, in bytes
    salt      16 bytes   random, new for every passphrase
    check     16 bytes   BLAKE2b-128 keyed with the second half of the Argon2id output
    flags      1 byte    bit 0: the body is zlib-compressed; other bits must be zero
    ---------------------------------------------------------------- (55-byte header)
    nonce     24 bytes   random, new for every write
    box        rest      XSalsa20-Poly1305 (SecretBox) of  header || body

The key is the first 32 bytes of a 64-byte Argon2id output; the ``check`` value (a digest of
the other 32 bytes) tells a wrong passphrase from a damaged file without weakening anything an
attacker who holds the file could not already test by trial decryption. The header is copied
into the plaintext and compared after decryption, so every header byte is authenticated.

Passphrases are NFC-normalised and UTF-8 encoded before derivation, so the same passphrase
typed on two systems opens the same wallet.
"""

from __future__ import annotations

import hmac
import struct
import time
import unicodedata
import zlib
from dataclasses import dataclass

import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.pwhash.argon2id as argon2id
import nacl.secret
import nacl.utils

from .errors import BadPassphrase, WalletCorrupt

__all__ = [
    "DEFAULT_KDF",
    "ENVELOPE_VERSION",
    "HEADER_BYTES",
    "MAGIC",
    "MAX_KDF_MEMLIMIT",
    "MAX_KDF_OPSLIMIT",
    "MAX_PLAINTEXT_BYTES",
    "Header",
    "KdfParams",
    "SealingKey",
    "open_envelope",
    "parse_header",
]

#: First bytes of every wallet and backup file.
MAGIC = b"PPWALLET"
#: Envelope layout version (bump when the layout, the KDF or the cipher changes).
ENVELOPE_VERSION = 1
#: ``kdf`` byte for Argon2id v1.3.
KDF_ARGON2ID = 1
#: Flag bit: the body is zlib-compressed.
FLAG_ZLIB = 0x01

_HEADER = struct.Struct(">8sBBIQ16s16sB")
#: Size of the cleartext header, in bytes.
HEADER_BYTES = _HEADER.size
_NONCE_BYTES = nacl.secret.SecretBox.NONCE_SIZE
_MAC_BYTES = nacl.secret.SecretBox.MACBYTES
_SALT_BYTES = argon2id.SALTBYTES
_CHECK_PERSON = b"ppwallet-check"

#: Highest Argon2id pass count a file may ask for, so a hostile file cannot stall the opener
#: (libsodium's SENSITIVE level is 4 passes).
MAX_KDF_OPSLIMIT = 16
#: Largest Argon2id memory a file may ask for, in bytes (libsodium's SENSITIVE level, 1 GiB),
#: so a hostile file cannot make the opener allocate more.
MAX_KDF_MEMLIMIT = 1024 * 1024 * 1024
#: Largest decrypted (and decompressed) wallet content, in bytes: about 100,000 typical
#: credentials; bounds the memory a file can make the opener use.
MAX_PLAINTEXT_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters: ``opslimit`` passes over ``memlimit`` bytes of memory."""

    opslimit: int
    memlimit: int

    def __post_init__(self) -> None:
        if not isinstance(self.opslimit, int) or not isinstance(self.memlimit, int):
            raise TypeError("opslimit and memlimit must be integers")
        if not argon2id.OPSLIMIT_MIN <= self.opslimit <= MAX_KDF_OPSLIMIT:
            raise ValueError(f"opslimit must be within {argon2id.OPSLIMIT_MIN}..{MAX_KDF_OPSLIMIT}")
        if not argon2id.MEMLIMIT_MIN <= self.memlimit <= MAX_KDF_MEMLIMIT:
            raise ValueError(
                f"memlimit must be within {argon2id.MEMLIMIT_MIN}..{MAX_KDF_MEMLIMIT} bytes"
            )

    @property
    def weaker_than_default(self) -> bool:
        """True when either cost is below :data:`DEFAULT_KDF`."""
        return self.opslimit < DEFAULT_KDF.opslimit or self.memlimit < DEFAULT_KDF.memlimit

    def describe(self) -> str:
        """``Argon2id, 2 passes, 64 MiB`` (for messages and ``wallet info``)."""
        mem = self.memlimit
        size = f"{mem // (1024 * 1024)} MiB" if mem % (1024 * 1024) == 0 else f"{mem} bytes"
        return f"Argon2id, {self.opslimit} pass{'es' if self.opslimit != 1 else ''}, {size}"


#: Default cost: libsodium's INTERACTIVE level (2 passes over 64 MiB), about 0.15 s on a
#: 2020s laptop core. Tests may pass cheaper parameters explicitly through the API.
DEFAULT_KDF = KdfParams(argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE)


@dataclass(frozen=True)
class Header:
    """The cleartext header of an envelope."""

    version: int
    params: KdfParams
    salt: bytes
    check: bytes
    flags: int

    def pack(self) -> bytes:
        """The header bytes."""
        return _HEADER.pack(
            MAGIC,
            self.version,
            KDF_ARGON2ID,
            self.params.opslimit,
            self.params.memlimit,
            self.salt,
            self.check,
            self.flags,
        )


def _normalise(passphrase: str) -> bytes:
    if not isinstance(passphrase, str):
        raise TypeError("the passphrase must be a string")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _derive(passphrase: str, salt: bytes, params: KdfParams) -> tuple[bytes, bytes]:
    """(SecretBox key, passphrase check value) for ``passphrase`` under ``salt`` and ``params``."""
    try:
        out = argon2id.kdf(
            64,
            _normalise(passphrase),
            salt,
            opslimit=params.opslimit,
            memlimit=params.memlimit,
        )
    except (nacl.exceptions.RuntimeError, MemoryError) as exc:
        raise WalletCorrupt(
            f"key derivation failed ({params.describe()}): not enough memory?"
        ) from exc
    check = nacl.hash.blake2b(
        b"", key=out[32:], person=_CHECK_PERSON, digest_size=16, encoder=nacl.encoding.RawEncoder
    )
    return out[:32], check


class SealingKey:
    """A derived key with the salt and parameters it came from; seals new envelope versions.

    Holding one means the passphrase was right (or has just been chosen): saves reuse it, so a
    wallet derives its key once per session.
    """

    __slots__ = ("_box", "check", "params", "salt")

    def __init__(self, box_key: bytes, *, salt: bytes, params: KdfParams, check: bytes) -> None:
        """Wrap a derived key (use :meth:`derive` rather than this constructor)."""
        self._box = nacl.secret.SecretBox(box_key)
        self.salt = salt
        self.params = params
        self.check = check

    def __repr__(self) -> str:
        return f"SealingKey({self.params.describe()})"

    def __reduce__(self) -> str:
        raise TypeError("a SealingKey is not picklable")

    @classmethod
    def derive(cls, passphrase: str, params: KdfParams = DEFAULT_KDF) -> SealingKey:
        """A new key for ``passphrase`` with a fresh random salt."""
        salt = nacl.utils.random(_SALT_BYTES)
        key, check = _derive(passphrase, salt, params)
        return cls(key, salt=salt, params=params, check=check)

    def seal(self, body: bytes, *, compress: bool = True) -> bytes:
        """The envelope for ``body`` (zlib-compressed first unless ``compress`` is false)."""
        if len(body) > MAX_PLAINTEXT_BYTES:
            raise ValueError(f"wallet content exceeds {MAX_PLAINTEXT_BYTES} bytes")
        flags = FLAG_ZLIB if compress else 0
        payload = zlib.compress(body, 6) if compress else body
        header = Header(ENVELOPE_VERSION, self.params, self.salt, self.check, flags).pack()
        nonce = nacl.utils.random(_NONCE_BYTES)
        sealed = self._box.encrypt(header + payload, nonce)
        return header + bytes(sealed)

    def _decrypt(self, data: bytes) -> bytes | None:
        """The plaintext, or None when authentication fails."""
        try:
            return bytes(self._box.decrypt(data[HEADER_BYTES:]))
        except nacl.exceptions.CryptoError:
            return None

    def _open(self, header: Header, raw_header: bytes, data: bytes) -> bytes:
        plain = self._decrypt(data)
        if plain is None:
            raise WalletCorrupt(
                "the file is damaged: its contents fail authentication (bytes were changed)"
            )
        if not hmac.compare_digest(plain[:HEADER_BYTES], raw_header):
            raise WalletCorrupt("the file is damaged: its header was changed")
        body = plain[HEADER_BYTES:]
        if header.flags & FLAG_ZLIB:
            body = _inflate(body)
        return body


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_PLAINTEXT_BYTES + 1)
    except zlib.error as exc:
        raise WalletCorrupt(f"the file is damaged: its contents do not inflate ({exc})") from exc
    if len(out) > MAX_PLAINTEXT_BYTES or inflater.unconsumed_tail:
        raise WalletCorrupt(f"the wallet content inflates beyond {MAX_PLAINTEXT_BYTES} bytes")
    if not inflater.eof or inflater.unused_data:
        raise WalletCorrupt("the file is damaged: its compressed contents are incomplete")
    return out


def parse_header(data: bytes) -> Header:
    """Read and check the cleartext header; raise :class:`WalletCorrupt` for anything odd."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise WalletCorrupt("not a Passeport wallet file (wrong magic bytes)")
    if len(data) < HEADER_BYTES + _NONCE_BYTES + _MAC_BYTES + HEADER_BYTES:
        raise WalletCorrupt(f"the file is truncated ({len(data)} bytes)")
    _magic, version, kdf, ops, mem, salt, check, flags = _HEADER.unpack_from(data)
    if version != ENVELOPE_VERSION:
        raise WalletCorrupt(
            f"unsupported wallet format version {version} (this program reads version "
            f"{ENVELOPE_VERSION}); upgrade Passeport"
        )
    if kdf != KDF_ARGON2ID:
        raise WalletCorrupt(f"unknown key derivation function {kdf} in the file header")
    if flags & ~FLAG_ZLIB:
        raise WalletCorrupt(f"unknown flags 0x{flags:02x} in the file header")
    try:
        params = KdfParams(ops, mem)
    except ValueError as exc:
        raise WalletCorrupt(f"the file header asks for unacceptable KDF costs: {exc}") from None
    return Header(version, params, salt, check, flags)


def open_envelope(
    data: bytes, passphrase: str, *, timings: dict[str, float] | None = None
) -> tuple[bytes, SealingKey]:
    """Decrypt an envelope: return the body and the key (for later saves).

    Raises :class:`BadPassphrase` when the passphrase is wrong, :class:`WalletCorrupt` when the
    file is damaged or not a wallet file. Never writes anything. ``timings``, when given,
    receives the seconds spent in key derivation (``kdf``) and decryption (``decrypt``).
    """
    header = parse_header(data)
    raw_header = data[:HEADER_BYTES]
    started = time.perf_counter()
    box_key, check = _derive(passphrase, header.salt, header.params)
    derived = time.perf_counter()
    key = SealingKey(box_key, salt=header.salt, params=header.params, check=header.check)
    if not hmac.compare_digest(check, header.check):
        # Either the passphrase is wrong or the check bytes were damaged: decryption decides.
        if key._decrypt(data) is None:
            raise BadPassphrase("wrong passphrase")
        raise WalletCorrupt("the file is damaged: its passphrase check value was changed")
    body = key._open(header, raw_header, data)
    if timings is not None:
        timings["kdf"] = derived - started
        timings["decrypt"] = time.perf_counter() - derived
    return body, key
