"""Bitstring Status List properties: set/get against a reference model, encode/decode round trips,
only ProtocolError out of the decoder whatever the input, and signed lists answer for every index.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.di import sign
from protocol.did import Resolver, key_pair_as_did_key
from protocol.errors import MalformedError, ProtocolError
from protocol.keys import KeyPair
from protocol.limits import MIN_STATUS_LIST_ENTRIES
from protocol.status import (
    StatusBitstring,
    build_status_entry,
    build_status_list_credential,
    check_status,
    decode,
    gzip_deterministic,
)

NOW = datetime(2025, 6, 1, tzinfo=UTC)
KEY = key_pair_as_did_key(KeyPair("Ed25519", bytes.fromhex("5b" * 32)))
LIST_URL = "https://node-a.test/status/7"


@st.composite
def assignments(draw: st.DrawFn) -> tuple[int, int, dict[int, int]]:
    """A list shape (length, status_size) and values for some of its entries."""
    status_size = draw(st.integers(1, 9))
    length = draw(st.integers(1, 3000))
    values = draw(
        st.dictionaries(
            st.integers(0, length - 1), st.integers(0, (1 << status_size) - 1), max_size=64
        )
    )
    return length, status_size, values


def _reference_bytes(length: int, status_size: int, values: dict[int, int]) -> bytes:
    """The layout written out naively: entry i as status_size bits, MSB first, then padding."""
    text = "".join(format(values.get(i, 0), f"0{status_size}b") for i in range(length))
    text += "0" * (-len(text) % 8)
    return bytes(int(text[i : i + 8], 2) for i in range(0, len(text), 8))


@settings(max_examples=150, deadline=None)
@given(assignments())
def test_set_get_matches_the_reference_layout(shape: tuple[int, int, dict[int, int]]) -> None:
    length, status_size, values = shape
    bits = StatusBitstring(length, status_size=status_size)
    for index, value in values.items():
        bits.set(index, value)
    assert bits.to_bytes() == _reference_bytes(length, status_size, values)
    for index in range(length):
        assert bits.get(index) == values.get(index, 0)
    assert bits.count() == sum(1 for v in values.values() if v)


@settings(max_examples=100, deadline=None)
@given(assignments())
def test_encode_decode_round_trip(shape: tuple[int, int, dict[int, int]]) -> None:
    length, status_size, values = shape
    bits = StatusBitstring(length, status_size=status_size)
    for index, value in values.items():
        bits.set(index, value)
    encoded = bits.encode()
    assert encoded == bits.encode()  # deterministic
    back = decode(encoded, status_size=status_size, min_entries=1)
    # Padding bits become room for more entries only when a whole entry fits in them.
    assert back.to_bytes() == bits.to_bytes()
    assert back.length == len(bits.to_bytes()) * 8 // status_size >= length
    for index, value in values.items():
        assert back.get(index) == value


@settings(max_examples=40, deadline=None)
@given(st.sets(st.integers(0, MIN_STATUS_LIST_ENTRIES - 1), max_size=200))
def test_full_size_lists_round_trip(revoked: set[int]) -> None:
    bits = StatusBitstring(MIN_STATUS_LIST_ENTRIES)
    for index in revoked:
        bits.set(index, 1)
    back = decode(bits.encode())
    assert back == bits
    assert {i for i in revoked if back.get(i)} == revoked
    assert back.count() == len(revoked)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200).map(
            lambda b: "u" + base64.urlsafe_b64encode(b).decode().rstrip("=")
        ),
    )
)
def test_decoder_raises_only_protocol_errors(text: str) -> None:
    try:
        decode(text, min_entries=1)
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_corrupted_gzip_never_escapes_as_a_foreign_error(data: st.DataObject) -> None:
    member = bytearray(gzip_deterministic(bytes(range(256)) * 8))
    position = data.draw(st.integers(0, len(member) - 1))
    flip = data.draw(st.integers(1, 255))
    member[position] ^= flip
    encoded = "u" + base64.urlsafe_b64encode(bytes(member)).decode().rstrip("=")
    try:
        decoded = decode(encoded, min_entries=1)
    except MalformedError:
        return
    # A change that still decodes touched only what carries no data (MTIME, XFL, OS, the FTEXT
    # hint, the padding bits after the last deflate block): the CRC-32 vouches for the content.
    assert decoded.to_bytes() == bytes(range(256)) * 8, (position, flip)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sets(st.integers(0, MIN_STATUS_LIST_ENTRIES - 1), max_size=50),
    st.lists(st.integers(0, MIN_STATUS_LIST_ENTRIES - 1), min_size=1, max_size=10),
)
def test_signed_list_answers_for_every_index(revoked: set[int], probes: list[int]) -> None:
    bits = StatusBitstring(MIN_STATUS_LIST_ENTRIES)
    for index in revoked:
        bits.set(index, 1)
    listed = sign(
        build_status_list_credential(
            list_url=LIST_URL,
            issuer=KEY.controller or "",
            purpose="revocation",
            bitstring=bits,
            valid_from=NOW - timedelta(hours=1),
        ),
        key=KEY,
        created=NOW - timedelta(hours=1),
    )
    for index in [*probes, *list(revoked)[:5]]:
        entry = build_status_entry(list_credential_url=LIST_URL, index=index)
        result = check_status(entry, listed, resolver=Resolver(), now=NOW)
        assert result.active == (index in revoked)
        assert result.value == (1 if index in revoked else 0)
