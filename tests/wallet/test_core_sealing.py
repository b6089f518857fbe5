"""The sealed envelope: Argon2id + SecretBox, versioned header, precise errors."""

from __future__ import annotations

import struct

import nacl.pwhash.argon2id as argon2id
import pytest

from tests.wallet.conftest import FAST_KDF
from wallet.errors import BadPassphrase, WalletCorrupt
from wallet.sealing import (
    DEFAULT_KDF,
    HEADER_BYTES,
    MAGIC,
    MAX_KDF_MEMLIMIT,
    KdfParams,
    SealingKey,
    open_envelope,
    parse_header,
)


def _sealed(body: bytes = b"hello wallet" * 50, passphrase: str = "pass") -> bytes:
    return SealingKey.derive(passphrase, FAST_KDF).seal(body)


def test_defaults_are_libsodium_interactive() -> None:
    assert DEFAULT_KDF.opslimit == argon2id.OPSLIMIT_INTERACTIVE == 2
    assert DEFAULT_KDF.memlimit == argon2id.MEMLIMIT_INTERACTIVE == 64 * 1024 * 1024
    assert not DEFAULT_KDF.weaker_than_default
    assert FAST_KDF.weaker_than_default


def test_round_trip_and_header() -> None:
    data = _sealed()
    assert data.startswith(MAGIC)
    header = parse_header(data)
    assert header.version == 1
    assert header.params == FAST_KDF
    body, key = open_envelope(data, "pass")
    assert body == b"hello wallet" * 50
    # The key re-seals with the same salt and parameters and a fresh nonce.
    again = key.seal(b"next")
    assert again[:HEADER_BYTES] == data[:HEADER_BYTES]
    assert again[HEADER_BYTES : HEADER_BYTES + 24] != data[HEADER_BYTES : HEADER_BYTES + 24]
    assert open_envelope(again, "pass")[0] == b"next"


def test_uncompressed_body() -> None:
    data = SealingKey.derive("p", FAST_KDF).seal(b"raw", compress=False)
    assert parse_header(data).flags == 0
    assert open_envelope(data, "p")[0] == b"raw"


def test_passphrases_are_nfc_normalised() -> None:
    composed = "caf\u00e9"
    decomposed = "cafe\u0301"
    data = SealingKey.derive(composed, FAST_KDF).seal(b"x")
    assert open_envelope(data, decomposed)[0] == b"x"


def test_wrong_passphrase() -> None:
    with pytest.raises(BadPassphrase, match="wrong passphrase"):
        open_envelope(_sealed(), "Pass")


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (0, "not a Passeport wallet file"),
        (8, "unsupported wallet format version"),
        (9, "unknown key derivation function"),
        (10, "unacceptable KDF costs"),
        (40, "passphrase check value was changed"),
        (54, "unknown flags"),
        (HEADER_BYTES + 1, "fail authentication"),
        (-1, "fail authentication"),
    ],
)
def test_damage_is_reported_precisely(offset: int, message: str) -> None:
    data = bytearray(_sealed())
    data[offset] ^= 0x80
    with pytest.raises(WalletCorrupt, match=message):
        open_envelope(bytes(data), "pass")


def test_header_bytes_are_authenticated() -> None:
    # Change the memlimit by a few bytes: Argon2 rounds memory to KiB blocks, so the key is the
    # same, and only the authenticated header copy catches the change.
    data = bytearray(_sealed())
    ops, mem = struct.unpack_from(">IQ", data, 10)
    struct.pack_into(">IQ", data, 10, ops, mem + 1)
    with pytest.raises(WalletCorrupt, match="header was changed"):
        open_envelope(bytes(data), "pass")


def test_truncated_file() -> None:
    data = _sealed()
    for size in (0, 5, HEADER_BYTES, HEADER_BYTES + 30):
        with pytest.raises(WalletCorrupt):
            open_envelope(data[:size], "pass")
    with pytest.raises(WalletCorrupt, match="fail authentication"):
        open_envelope(data[:-3], "pass")


def test_hostile_kdf_parameters_are_refused_before_deriving() -> None:
    data = bytearray(_sealed())
    struct.pack_into(">Q", data, 14, MAX_KDF_MEMLIMIT * 4)
    with pytest.raises(WalletCorrupt, match="memlimit"):
        parse_header(bytes(data))
    struct.pack_into(">IQ", data, 10, 10_000, FAST_KDF.memlimit)
    with pytest.raises(WalletCorrupt, match="opslimit"):
        parse_header(bytes(data))


def test_params_validation() -> None:
    with pytest.raises(ValueError):
        KdfParams(0, FAST_KDF.memlimit)
    with pytest.raises(ValueError):
        KdfParams(2, 1024)
    assert DEFAULT_KDF.describe() == "Argon2id, 2 passes, 64 MiB"
    assert "SealingKey(" in repr(SealingKey.derive("x", FAST_KDF))
