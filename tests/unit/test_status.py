"""Bitstring Status List v1.0: the codec, the builders, check_status against signed lists, and the
status checks of protocol.verify (specs/status.md).

Lists are signed for real (eddsa-rdfc-2022, did:key issuers from protocol.keys.generate); the W3C
example of BSL appendix A.2 is checked as published.
"""

from __future__ import annotations

import base64
import copy
import gzip
import struct
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from protocol.di import sign, verify_proofs
from protocol.did import Resolver, key_pair_as_did_key
from protocol.encoding import b64url_encode
from protocol.errors import (
    MalformedError,
    StatusListLengthError,
    StatusRangeError,
    StatusRetrievalError,
    StatusVerificationError,
    UnsupportedError,
    VerificationError,
)
from protocol.jsonld.loader import StaticDocumentLoader
from protocol.keys import KeyPair, generate
from protocol.limits import MAX_STATUS_LIST_BITS, MIN_STATUS_LIST_ENTRIES
from protocol.ob import build_credential
from protocol.presentation import build_presentation, sign_presentation
from protocol.status import (
    StatusBitstring,
    build_status_entry,
    build_status_list_credential,
    check_status,
    decode,
    gunzip_bounded,
    gzip_deterministic,
    parse_status_entry,
)
from protocol.verify import Report, verify

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
LIST_URL = "https://node-a.test/status/1"
SUSPENSION_URL = "https://node-a.test/status/2"
ISSUER = key_pair_as_did_key(generate("Ed25519"))
OTHER = key_pair_as_did_key(generate("Ed25519"))
HOLDER = key_pair_as_did_key(generate("Ed25519"))
ISSUER_DID = ISSUER.controller or ""
OTHER_DID = OTHER.controller or ""

# BSL 2.2 Example 3 and appendix A.2 Example 5 (the same list: 131,072 zero bits).
SPEC_ENCODED_LIST = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"
# BSL appendix A.2, Example 5, the "eddsa" tab: the status list secured with eddsa-rdfc-2022.
SPEC_SIGNED_LIST: dict[str, Any] = {
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/examples/v2",
    ],
    "id": "https://example.com/credentials/status/3",
    "type": ["VerifiableCredential", "BitstringStatusListCredential"],
    "issuer": "did:example:12345",
    "validFrom": "2021-04-05T14:27:40Z",
    "credentialSubject": {
        "id": "https://example.com/status/3#list",
        "type": "BitstringStatusList",
        "statusPurpose": "revocation",
        "encodedList": SPEC_ENCODED_LIST,
    },
    "proof": {
        "type": "DataIntegrityProof",
        "created": "2025-04-27T20:53:40Z",
        "verificationMethod": "did:key:z6MkeVw6bAm59CopQquZcVLUpapvEEELqfpdWfHkSont8HR6",
        "cryptosuite": "eddsa-rdfc-2022",
        "proofPurpose": "assertionMethod",
        "proofValue": "z4hwxiLnXHLUAomJXtfoowKc1ZBNpw1Wjw1vYsXEvifETSh6odbtmh6qfEDijRBxCZJ5hjg"
        "uPotaywncvcHQ9yfRf",
    },
}
# BSL appendix A.1, Example 4: the entry of the revocable credential that points to that list.
SPEC_ENTRY: dict[str, Any] = {
    "id": "https://example.com/credentials/status/3#94567",
    "type": "BitstringStatusListEntry",
    "statusPurpose": "revocation",
    "statusListIndex": "94567",
    "statusListCredential": "https://example.com/credentials/status/3",
}


def _gzip_bytes(encoded: str) -> bytes:
    assert encoded.startswith("u")
    text = encoded[1:]
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _encoded(raw: bytes) -> str:
    return "u" + b64url_encode(raw)


# -- codec --------------------------------------------------------------------------------------


def test_index_zero_is_the_most_significant_bit_of_byte_zero() -> None:
    bits = StatusBitstring(24)
    bits.set(0, 1)
    assert bits.to_bytes() == b"\x80\x00\x00"
    bits.set(7, 1)
    bits.set(8, 1)
    bits.set(23, 1)
    assert bits.to_bytes() == b"\x81\x80\x01"
    assert [i for i in range(24) if bits.get(i)] == [0, 7, 8, 23]
    bits.set(0, 0)
    assert bits.to_bytes() == b"\x01\x80\x01"
    assert bits.count() == 3


def test_multi_bit_entries_read_most_significant_bit_first() -> None:
    two = StatusBitstring(8, status_size=2)
    two.set(0, 2)
    assert two.to_bytes() == b"\x80\x00"
    two.set(1, 3)
    assert two.to_bytes() == b"\xb0\x00"
    three = StatusBitstring(8, status_size=3)  # entry 2 spans bits 6 to 8, across a byte
    three.set(2, 0b101)
    assert three.to_bytes() == b"\x02\x80\x00"
    assert [three.get(i) for i in range(8)] == [0, 0, 5, 0, 0, 0, 0, 0]
    three.set(2, 0)
    assert three.to_bytes() == bytes(3)


def test_get_and_set_bounds() -> None:
    bits = StatusBitstring(10)
    assert len(bits.to_bytes()) == 2  # padded to whole bytes
    with pytest.raises(StatusRangeError, match="outside the list"):
        bits.get(10)
    with pytest.raises(StatusRangeError):
        bits.set(-1, 1)
    with pytest.raises(ValueError, match="does not fit"):
        bits.set(0, 2)
    with pytest.raises(ValueError, match="does not fit"):
        StatusBitstring(4, status_size=2).set(0, 4)
    with pytest.raises(ValueError):
        StatusBitstring(0)
    with pytest.raises(ValueError):
        StatusBitstring(8, status_size=0)
    with pytest.raises(ValueError):
        StatusBitstring(MAX_STATUS_LIST_BITS + 1)


def test_encoding_is_deterministic_gzip_readable_by_the_standard_library() -> None:
    bits = StatusBitstring(MIN_STATUS_LIST_ENTRIES)
    for index in (0, 94567, MIN_STATUS_LIST_ENTRIES - 1):
        bits.set(index, 1)
    encoded = bits.encode()
    assert encoded.startswith("uH4sI")
    assert encoded == bits.encode()
    assert StatusBitstring.decode(encoded) == bits
    raw = _gzip_bytes(encoded)
    # RFC 1952 header: deflate, no flags, MTIME 0, OS 255; nothing depends on the clock.
    assert raw[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    assert gzip.decompress(raw) == bits.to_bytes()
    copy_of = StatusBitstring.from_bytes(bits.to_bytes())
    assert copy_of.encode() == encoded


def test_spec_example_encoded_list() -> None:
    # BSL 2.2 Example 3: a revocation list of 131,072 entries, none set.
    bits = decode(SPEC_ENCODED_LIST)
    assert bits.length == MIN_STATUS_LIST_ENTRIES
    assert bits.to_bytes() == bytes(16 * 1024)
    assert bits.get(94567) == 0  # the index of the A.1 credential
    # The same list re-encoded by us decodes to the same bits (our GZIP header differs).
    assert decode(StatusBitstring(MIN_STATUS_LIST_ENTRIES).encode()) == bits


def test_minimum_length() -> None:
    short = StatusBitstring(MIN_STATUS_LIST_ENTRIES - 8)
    with pytest.raises(StatusListLengthError, match=r"131064 entries.*minimum of 131072") as info:
        decode(short.encode())
    assert info.value.code == "STATUS_LIST_LENGTH_ERROR"
    assert isinstance(info.value, VerificationError)
    # An ecosystem may lower the bound.
    assert decode(short.encode(), min_entries=1024).length == MIN_STATUS_LIST_ENTRIES - 8
    # The length is counted in entries: 16 KB of 2-bit entries is only 65,536 entries.
    two = StatusBitstring(MIN_STATUS_LIST_ENTRIES // 2, status_size=2)
    with pytest.raises(StatusListLengthError, match="65536 entries of 2 bit"):
        decode(two.encode(), status_size=2)
    assert decode(StatusBitstring(MIN_STATUS_LIST_ENTRIES, status_size=2).encode(), status_size=2)


def _with_crc(member: bytes, crc: int) -> bytes:
    return member[:-8] + struct.pack("<I", crc) + member[-4:]


@pytest.mark.parametrize(
    ("encoded", "match"),
    [
        ("", "non-empty"),
        ("H4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA", "prefix 'u'"),
        ("zH4sIAAAAAAAAA", "prefix 'u'"),
        (SPEC_ENCODED_LIST + "==", "no padding"),
        ("uH4sI+AAA/AAA", "alphabet"),
        ("uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAAx", "base64url"),
        (_encoded(b"not gzip at all"), "not GZIP data"),
        (_encoded(zlib.compress(bytes(16384))), "not GZIP data"),  # zlib, not gzip
        (_encoded(gzip_deterministic(bytes(16384))[:-9]), "truncated"),
        (_encoded(gzip_deterministic(bytes(16384)) + b"\x00"), "follow the GZIP member"),
        (_encoded(gzip_deterministic(bytes(16384)) * 2), "follow the GZIP member"),
        (_encoded(_with_crc(gzip_deterministic(bytes(16384)), 1)), "not valid GZIP"),
        (_encoded(b"\x1f\x8b\x08\x00" + bytes(6) + b"\xff\xff\xff"), "not valid GZIP"),
    ],
)
def test_malformed_encoded_lists(encoded: str, match: str) -> None:
    with pytest.raises(MalformedError, match=match) as info:
        decode(encoded)
    assert info.value.code == "MALFORMED_VALUE_ERROR"


def test_legacy_lists_are_plain_base64url() -> None:
    bits = StatusBitstring(MIN_STATUS_LIST_ENTRIES)
    bits.set(5, 1)
    plain = bits.encode()[1:]
    assert decode(plain, multibase=False).get(5) == 1
    padded = base64.urlsafe_b64encode(gzip_deterministic(bits.to_bytes())).decode()
    assert padded.endswith("=")
    assert decode(padded, multibase=False).get(5) == 1
    assert decode(bits.encode(), multibase=False).get(5) == 1
    with pytest.raises(MalformedError, match="prefix 'u'"):
        decode(plain)


def test_gzip_bomb_is_refused_at_the_cap() -> None:
    # 32 MiB of zeros compress to about 32 KB; the cap is 16 MiB (MAX_STATUS_LIST_BITS).
    bomb = gzip_deterministic(bytes(32 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    with pytest.raises(MalformedError, match="gzip bomb"):
        decode(_encoded(bomb))
    # Exactly at the cap is accepted; one byte over is not.
    small = gzip_deterministic(bytes(1000))
    assert gunzip_bounded(small, max_bytes=1000) == bytes(1000)
    with pytest.raises(MalformedError, match="more than 999 bytes"):
        gunzip_bounded(small, max_bytes=999)


# -- builders -----------------------------------------------------------------------------------


def test_build_status_entry() -> None:
    entry = build_status_entry(list_credential_url=LIST_URL, index=94567)
    assert entry == {
        "id": f"{LIST_URL}#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": LIST_URL,
    }
    suspended = build_status_entry(
        list_credential_url=SUSPENSION_URL, index=0, purpose="suspension", entry_id="urn:uuid:1"
    )
    assert suspended["id"] == "urn:uuid:1"
    assert suspended["statusListIndex"] == "0"
    with pytest.raises(ValueError, match="must not be the status list URL"):
        build_status_entry(list_credential_url=LIST_URL, index=1, entry_id=LIST_URL)
    with pytest.raises(ValueError):
        build_status_entry(list_credential_url=LIST_URL, index=-1)
    with pytest.raises(ValueError):
        build_status_entry(list_credential_url="not a url", index=1)
    with pytest.raises(ValueError, match="statusMessage must be present"):
        build_status_entry(list_credential_url=LIST_URL, index=1, status_size=2)


def test_build_status_list_credential() -> None:
    bits = StatusBitstring(MIN_STATUS_LIST_ENTRIES)
    bits.set(3, 1)
    unsigned = build_status_list_credential(
        list_url=LIST_URL,
        issuer=ISSUER_DID,
        purpose="revocation",
        bitstring=bits,
        valid_from=NOW,
        valid_until=NOW + timedelta(days=1),
        ttl_ms=300_000,
    )
    assert unsigned == {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": LIST_URL,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": ISSUER_DID,
        "validFrom": "2025-06-01T12:00:00Z",
        "validUntil": "2025-06-02T12:00:00Z",
        "credentialSubject": {
            "id": f"{LIST_URL}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": bits.encode(),
            "ttl": 300_000,
        },
    }
    # An unchanged list re-signed at the same time is byte-identical (Ed25519 is deterministic).
    again = build_status_list_credential(
        list_url=LIST_URL,
        issuer=ISSUER_DID,
        purpose="revocation",
        bitstring=StatusBitstring.from_bytes(bits.to_bytes()),
        valid_from=NOW,
        valid_until=NOW + timedelta(days=1),
        ttl_ms=300_000,
    )
    assert sign(again, key=ISSUER, created=NOW) == sign(unsigned, key=ISSUER, created=NOW)
    both = build_status_list_credential(
        list_url=LIST_URL,
        issuer={"id": ISSUER_DID, "name": "Nœud A"},
        purpose=["revocation", "suspension"],
        bitstring=bits,
        valid_from=NOW,
    )
    assert both["credentialSubject"]["statusPurpose"] == ["revocation", "suspension"]
    assert both["issuer"] == {"id": ISSUER_DID, "name": "Nœud A"}
    with pytest.raises(ValueError, match="at least 131072 entries"):
        build_status_list_credential(
            list_url=LIST_URL,
            issuer=ISSUER_DID,
            purpose="revocation",
            bitstring=StatusBitstring(1024),
            valid_from=NOW,
        )
    with pytest.raises(ValueError, match="fragment"):
        build_status_list_credential(
            list_url=LIST_URL + "#x",
            issuer=ISSUER_DID,
            purpose="revocation",
            bitstring=bits,
            valid_from=NOW,
        )


# -- signed lists -------------------------------------------------------------------------------


def signed_list(
    *revoked: int,
    url: str = LIST_URL,
    purpose: str | list[str] = "revocation",
    issuer: str = ISSUER_DID,
    key: KeyPair = ISSUER,
    valid_from: datetime = NOW - timedelta(hours=1),
    valid_until: datetime | None = NOW + timedelta(days=1),
    length: int = MIN_STATUS_LIST_ENTRIES,
    status_size: int = 1,
    values: dict[int, int] | None = None,
    created: datetime | None = None,
) -> dict[str, Any]:
    bits = StatusBitstring(length, status_size=status_size)
    for index in revoked:
        bits.set(index, 1)
    for index, value in (values or {}).items():
        bits.set(index, value)
    unsigned = build_status_list_credential(
        list_url=url,
        issuer=issuer,
        purpose=purpose,
        bitstring=bits,
        valid_from=valid_from,
        valid_until=valid_until,
        min_entries=min(length, MIN_STATUS_LIST_ENTRIES),
    )
    return sign(unsigned, key=key, created=created or valid_from)


def entry(
    index: int, *, url: str = LIST_URL, purpose: str = "revocation", **extra: Any
) -> dict[str, Any]:
    return {**build_status_entry(list_credential_url=url, index=index, purpose=purpose), **extra}


@pytest.fixture(scope="module")
def revocation_list() -> dict[str, Any]:
    """Revocation list with entries 7 and 131071 set."""
    return signed_list(7, MIN_STATUS_LIST_ENTRIES - 1)


def check(status_entry: dict[str, Any], list_credential: dict[str, Any], **kw: Any) -> Any:
    return check_status(status_entry, list_credential, resolver=Resolver(), now=NOW, **kw)


def test_not_revoked_and_revoked(revocation_list: dict[str, Any]) -> None:
    clear = check(entry(42), revocation_list)
    assert (clear.value, clear.active, clear.valid) == (0, False, True)
    assert clear.purpose == "revocation"
    assert clear.index == 42
    assert clear.list_id == LIST_URL
    assert clear.list_issuer == ISSUER_DID
    assert clear.message is None
    assert clear.valid_until == NOW + timedelta(days=1)
    assert clear.to_dict() == {
        "status": 0,
        "purpose": "revocation",
        "valid": True,
        "statusListCredential": LIST_URL,
        "statusListIndex": "42",
        "statusListIssuer": ISSUER_DID,
    }
    for index in (7, MIN_STATUS_LIST_ENTRIES - 1):
        revoked = check(entry(index), revocation_list)
        assert (revoked.value, revoked.active, revoked.valid) == (1, True, False)
    assert not check(entry(8), revocation_list).active


def test_suspension_and_multi_purpose_lists() -> None:
    suspension = signed_list(11, url=SUSPENSION_URL, purpose="suspension")
    result = check(entry(11, url=SUSPENSION_URL, purpose="suspension"), suspension)
    assert (result.purpose, result.active) == ("suspension", True)
    with pytest.raises(StatusVerificationError, match="serves suspension, not revocation"):
        check(entry(11, url=SUSPENSION_URL), suspension)
    both = signed_list(3, purpose=["revocation", "suspension"])
    assert check(entry(3), both).active
    assert check(entry(3, purpose="suspension"), both).active


def test_tampered_list_is_rejected(revocation_list: dict[str, Any]) -> None:
    tampered = copy.deepcopy(revocation_list)
    tampered["credentialSubject"]["encodedList"] = signed_list()["credentialSubject"]["encodedList"]
    with pytest.raises(StatusVerificationError, match=r"proof\[0\].*does not verify") as info:
        check(entry(7), tampered)
    assert info.value.code == "STATUS_VERIFICATION_ERROR"
    later = copy.deepcopy(revocation_list)
    later["validUntil"] = "2099-01-01T00:00:00Z"
    with pytest.raises(StatusVerificationError, match="does not verify"):
        check(entry(42), later)


def test_unsigned_list_is_rejected(revocation_list: dict[str, Any]) -> None:
    unsigned = {k: v for k, v in revocation_list.items() if k != "proof"}
    with pytest.raises(StatusVerificationError, match="is not signed"):
        check(entry(42), unsigned)


def test_list_signed_by_someone_else_is_rejected() -> None:
    forged = signed_list(issuer=ISSUER_DID, key=OTHER)  # names the issuer, signed by OTHER
    with pytest.raises(StatusVerificationError, match=f"signed by {OTHER_DID}, not by"):
        check(entry(7), forged)


def test_list_with_an_unresolvable_key_is_rejected() -> None:
    did_web = KeyPair("Ed25519", bytes(32)).with_controller(
        "did:web:node-b.test", "did:web:node-b.test#key-1"
    )
    listed = signed_list(issuer="did:web:node-b.test", key=did_web)
    with pytest.raises(StatusVerificationError, match=r"did:web:node-b\.test"):
        check(entry(7), listed)


def test_wrong_list_and_wrong_type(revocation_list: dict[str, Any]) -> None:
    with pytest.raises(StatusVerificationError, match="but the entry names"):
        check(entry(7, url="https://node-a.test/status/9"), revocation_list)
    not_a_list = dict(revocation_list, type=["VerifiableCredential"])
    with pytest.raises(StatusVerificationError, match="not a BitstringStatusListCredential"):
        check(entry(7), not_a_list)
    with pytest.raises(MalformedError):
        check(entry(7), ["not", "an", "object"])  # type: ignore[arg-type]


def test_index_out_of_range(revocation_list: dict[str, Any]) -> None:
    with pytest.raises(StatusRangeError, match="outside status list") as info:
        check(entry(MIN_STATUS_LIST_ENTRIES), revocation_list)
    assert info.value.code == "RANGE_ERROR"
    huge = entry(0, statusListIndex="9" * 400)
    with pytest.raises(StatusRangeError, match="beyond any status list"):
        check(huge, revocation_list)


def test_expired_or_not_yet_valid_list_means_unknown() -> None:
    expired = signed_list(valid_from=NOW - timedelta(days=3), valid_until=NOW - timedelta(days=1))
    with pytest.raises(StatusRetrievalError, match="expired at") as info:
        check(entry(7), expired)
    assert info.value.code == "STATUS_RETRIEVAL_ERROR"
    future = signed_list(7, valid_from=NOW + timedelta(days=1), valid_until=None, created=NOW)
    with pytest.raises(StatusRetrievalError, match="not valid before"):
        check(entry(7), future)
    tomorrow = NOW + timedelta(days=1, seconds=1)
    assert check_status(entry(7), future, resolver=Resolver(), now=tomorrow).active
    # Inside the clock skew tolerance the list is still accepted.
    edge = signed_list(valid_from=NOW - timedelta(days=1), valid_until=NOW - timedelta(seconds=60))
    assert check(entry(42), edge).value == 0


def test_stale_list_by_policy(revocation_list: dict[str, Any]) -> None:
    assert check(entry(42), revocation_list, max_age=timedelta(hours=2)).value == 0
    with pytest.raises(StatusRetrievalError, match="stale"):
        check(entry(42), revocation_list, max_age=timedelta(minutes=30))


def test_short_list_and_lowered_minimum() -> None:
    short = signed_list(3, length=1024)
    with pytest.raises(StatusListLengthError, match="fewer than the minimum"):
        check(entry(3), short)
    assert check(entry(3), short, min_entries=1024).active


def test_status_messages() -> None:
    messages = [(0, "pending_review"), (1, "accepted"), (2, "rejected"), (3, "undefined")]
    listed = signed_list(purpose="message", status_size=2, values={5: 2, 6: 1})
    status_entry = build_status_entry(
        list_credential_url=LIST_URL,
        index=5,
        purpose="message",
        status_size=2,
        status_messages=messages,
    )
    assert status_entry["statusMessage"][2] == {"status": "0x2", "message": "rejected"}
    result = check(status_entry, listed)
    assert (result.value, result.message, result.status_size) == (2, "rejected", 2)
    assert check(dict(status_entry, statusListIndex="6"), listed).message == "accepted"
    assert check(dict(status_entry, statusListIndex="7"), listed).message == "pending_review"
    # Without statusMessage, a one-bit message entry reads "set" / "unset" (BSL 2.1).
    one_bit = signed_list(1, purpose="message")
    assert check(entry(1, purpose="message"), one_bit).message == "set"
    assert check(entry(2, purpose="message"), one_bit).message == "unset"


def test_legacy_status_list_2021() -> None:
    bits = StatusBitstring(MIN_STATUS_LIST_ENTRIES)
    bits.set(9, 1)
    legacy_url = "https://node-a.test/status/2021"
    unsigned = {
        "@context": [
            "https://www.w3.org/2018/credentials/v1",
            "https://w3id.org/vc/status-list/2021/v1",
        ],
        "id": legacy_url,
        "type": ["VerifiableCredential", "StatusList2021Credential"],
        "issuer": ISSUER_DID,
        "issuanceDate": "2025-05-01T00:00:00Z",
        "credentialSubject": {
            "id": f"{legacy_url}#list",
            "type": "StatusList2021",
            "statusPurpose": "revocation",
            "encodedList": bits.encode()[1:],  # plain base64url, no multibase prefix
        },
    }
    listed = sign(unsigned, key=ISSUER, created=NOW - timedelta(days=1))
    legacy_entry = {
        "id": f"{legacy_url}#9",
        "type": "StatusList2021Entry",
        "statusPurpose": "revocation",
        "statusListIndex": "9",
        "statusListCredential": legacy_url,
    }
    assert check(legacy_entry, listed).active
    assert not check(dict(legacy_entry, statusListIndex="10"), listed).active
    # A StatusList2021 entry does not accept a Bitstring list, nor the reverse.
    with pytest.raises(StatusVerificationError, match="not a StatusList2021Credential"):
        check(dict(legacy_entry, statusListCredential=LIST_URL), signed_list())
    with pytest.raises(StatusVerificationError, match="not a BitstringStatusListCredential"):
        check(entry(9, url=legacy_url), listed)


def test_spec_example_list(test_loader: StaticDocumentLoader) -> None:
    # The example uses the credentials/examples/v2 context, a test-only context.
    loader = test_loader
    # The published eddsa-rdfc-2022 proof of BSL A.2 verifies with our stack.
    results = verify_proofs(SPEC_SIGNED_LIST, resolver=Resolver(), now=NOW, loader=loader)
    assert [r.verified for r in results] == [True]
    # But the example's list names did:example:12345 as issuer while a did:key signed it, and
    # Passeport only reads lists signed by their issuer (specs/status.md).
    with pytest.raises(StatusVerificationError, match="not by the list's issuer did:example:12345"):
        check_status(SPEC_ENTRY, SPEC_SIGNED_LIST, resolver=Resolver(), now=NOW, loader=loader)
    # With its issuer set to the signer, the (now re-signed) list answers for the A.1 entry.
    key = key_pair_as_did_key(generate("Ed25519"))
    resigned = sign(
        dict({k: v for k, v in SPEC_SIGNED_LIST.items() if k != "proof"}, issuer=key.controller),
        key=key,
        created=NOW,
        loader=loader,
    )
    result = check_status(SPEC_ENTRY, resigned, resolver=Resolver(), now=NOW, loader=loader)
    assert (result.index, result.value, result.valid) == (94567, 0, True)


# -- entries ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"statusListIndex": 42}, MalformedError, "base-10 integer written as a string"),
        ({"statusListIndex": "-1"}, MalformedError, "base-10"),
        ({"statusListIndex": "4.2"}, MalformedError, "base-10"),
        ({"statusListIndex": ""}, MalformedError, "base-10"),
        ({"statusListIndex": "٤٢"}, MalformedError, "base-10"),  # Arabic-Indic digits
        ({"statusListIndex": "0x2a"}, MalformedError, "base-10"),
        ({"statusPurpose": ""}, MalformedError, "statusPurpose"),
        ({"statusPurpose": ["revocation"]}, MalformedError, "statusPurpose"),
        ({"statusListCredential": "status/1"}, MalformedError, "statusListCredential"),
        ({"id": LIST_URL}, MalformedError, "must not be the URL of the status list"),
        ({"statusSize": 0}, MalformedError, "greater than zero"),
        ({"statusSize": True}, MalformedError, "greater than zero"),
        ({"statusSize": 2}, MalformedError, "statusMessage must be present"),
        ({"statusSize": 64}, UnsupportedError, "larger than"),
        ({"statusMessage": [{"status": "0x0", "message": "a"}]}, MalformedError, "exactly 2"),
        (
            {
                "statusMessage": [
                    {"status": "0x0", "message": "a"},
                    {"status": "0x0", "message": "b"},
                ]
            },
            MalformedError,
            "repeats",
        ),
        (
            {"statusMessage": [{"status": "0", "message": "a"}, {"status": "0x1", "message": "b"}]},
            MalformedError,
            "hexadecimal",
        ),
        (
            {
                "statusMessage": [
                    {"status": "0x0", "message": "a"},
                    {"status": "0x2", "message": "b"},
                ]
            },
            MalformedError,
            "does not fit",
        ),
        ({"statusReference": "not a url"}, MalformedError, "statusReference"),
        ({"type": "1EdTechRevocationList"}, UnsupportedError, "1EdTechRevocationList"),
        ({"type": None}, UnsupportedError, "no type"),
    ],
)
def test_malformed_entries(change: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        parse_status_entry({**entry(42), **change})


def test_entry_forms() -> None:
    parsed = parse_status_entry(entry(42, statusReference=["https://node-a.test/why"]))
    assert (parsed.kind, parsed.index, parsed.list_url, parsed.id) == (
        "BitstringStatusList",
        42,
        LIST_URL,
        f"{LIST_URL}#42",
    )
    assert parse_status_entry(entry(7, type=["BitstringStatusListEntry"])).index == 7
    assert parse_status_entry(entry(7, statusListIndex="007")).index == 7
    with pytest.raises(MalformedError):
        parse_status_entry("not an object")


# -- through protocol.verify --------------------------------------------------------------------

ACHIEVEMENT = {
    "id": "https://node-a.test/achievements/teamwork",
    "type": ["Achievement"],
    "name": "Teamwork",
    "description": "Works well with others.",
    "criteria": {"narrative": "Led a team project."},
}


def ob_credential(status: Any, *, key: KeyPair = ISSUER) -> dict[str, Any]:
    unsigned = build_credential(
        issuer={"id": key.controller, "type": ["Profile"], "name": "Nœud A"},
        achievement=ACHIEVEMENT,
        subject_id=HOLDER.controller,
        identity=None,
        credential_id="urn:uuid:6f1c2f3a-2d9e-4f6b-9b1a-0c1d2e3f4a5b",
        valid_from=NOW - timedelta(days=30),
        extra={"credentialStatus": status} if isinstance(status, dict) else None,
    )
    if isinstance(status, list):  # VC 2.0 allows several entries; the OB builder does not
        unsigned["credentialStatus"] = status
    return sign(unsigned, key=key, created=NOW - timedelta(days=30))


def status_checks(report: Report) -> list[tuple[str, str, str]]:
    return [(c.check, c.status, c.reason) for c in report.checks if c.check.startswith("status")]


@pytest.fixture(scope="module")
def lists() -> dict[str, dict[str, Any]]:
    return {
        LIST_URL: signed_list(7),
        SUSPENSION_URL: signed_list(11, url=SUSPENSION_URL, purpose="suspension"),
    }


def test_verify_not_revoked(lists: dict[str, dict[str, Any]]) -> None:
    report = verify(ob_credential(entry(42)), now=NOW, status_lists=lists)
    assert report.verdict == "valid", report.to_dict()
    [(name, status, reason)] = status_checks(report)
    assert (name, status) == ("status", "pass")
    assert LIST_URL in reason and "not revoked" in reason and "revocation" in reason


def test_verify_revoked_and_suspended(lists: dict[str, dict[str, Any]]) -> None:
    report = verify(ob_credential(entry(7)), now=NOW, status_lists=lists)
    assert report.verdict == "invalid"
    [(_, status, reason)] = status_checks(report)
    assert status == "fail" and reason.startswith("revoked") and LIST_URL in reason
    assert report.errors == [f"status: {reason}"]
    suspended = ob_credential(entry(11, url=SUSPENSION_URL, purpose="suspension"))
    report = verify(suspended, now=NOW, status_lists=lists)
    assert report.verdict == "invalid"
    assert status_checks(report)[0][2].startswith("suspended")
    # Lifting the suspension (a new list with the bit cleared) makes it valid again.
    lifted = {SUSPENSION_URL: signed_list(url=SUSPENSION_URL, purpose="suspension")}
    assert verify(suspended, now=NOW, status_lists=lifted).verdict == "valid"


def test_verify_without_the_list_is_unknown(lists: dict[str, dict[str, Any]]) -> None:
    credential = ob_credential(entry(7))
    for given in (None, {}, {SUSPENSION_URL: lists[SUSPENSION_URL]}):
        report = verify(credential, now=NOW, status_lists=given)
        assert report.verdict == "unknown"
        [(_, status, reason)] = status_checks(report)
        assert status == "unknown" and "was not provided" in reason and LIST_URL in reason


def test_verify_with_an_unusable_list_is_unknown(lists: dict[str, dict[str, Any]]) -> None:
    credential = ob_credential(entry(7))  # revoked in the real list
    tampered = copy.deepcopy(lists[LIST_URL])
    tampered["credentialSubject"]["encodedList"] = StatusBitstring(
        MIN_STATUS_LIST_ENTRIES
    ).encode()  # "nobody is revoked", but the proof no longer verifies
    expired = signed_list(
        7, valid_from=NOW - timedelta(days=9), valid_until=NOW - timedelta(days=2)
    )
    stranger = KeyPair("Ed25519", bytes(range(32))).with_controller(
        "did:web:elsewhere.test", "did:web:elsewhere.test#k"
    )
    cases: list[tuple[dict[str, Any], str, Callable[..., Report]]] = [
        (tampered, "does not verify", verify),
        ({k: v for k, v in lists[LIST_URL].items() if k != "proof"}, "is not signed", verify),
        (expired, "expired at", verify),
        (
            signed_list(7, key=stranger, issuer="did:web:elsewhere.test"),
            "did:web:elsewhere.test",
            verify,
        ),
        (lists[SUSPENSION_URL], "but the entry names", verify),
    ]
    for given, why, run in cases:
        report = run(credential, now=NOW, status_lists={LIST_URL: given})
        assert report.verdict == "unknown", (why, report.to_dict())
        [(_, status, reason)] = status_checks(report)
        assert status == "unknown" and why in reason, reason
        assert reason.startswith("revocation status unknown")


def test_verify_stale_list_by_policy(lists: dict[str, dict[str, Any]]) -> None:
    credential = ob_credential(entry(42))
    fresh = verify(credential, now=NOW, status_lists=lists, status_max_age=timedelta(hours=2))
    assert fresh.verdict == "valid"
    stale = verify(credential, now=NOW, status_lists=lists, status_max_age=timedelta(minutes=5))
    assert stale.verdict == "unknown"
    assert "stale" in status_checks(stale)[0][2]


def test_verify_list_from_another_issuer(lists: dict[str, dict[str, Any]]) -> None:
    # A list signed by its own issuer, who is not the credential's issuer.
    theirs = signed_list(7, issuer=OTHER_DID, key=OTHER)
    clear = verify(ob_credential(entry(42)), now=NOW, status_lists={LIST_URL: theirs})
    [(_, status, reason)] = status_checks(clear)
    assert status == "unknown" and f"issued by {OTHER_DID}" in reason
    revoked = verify(ob_credential(entry(7)), now=NOW, status_lists={LIST_URL: theirs})
    [(_, status, reason)] = status_checks(revoked)
    assert status == "fail" and f"issued by {OTHER_DID}" in reason


def test_verify_several_entries_and_unknown_types(lists: dict[str, dict[str, Any]]) -> None:
    # VC 2.0 allows an array of entries (OB 3.0 wants one object: the schema check says so).
    entries = [entry(42), entry(11, url=SUSPENSION_URL, purpose="suspension")]
    report = verify(ob_credential(entries), now=NOW, status_lists=lists)
    assert [(n, s) for n, s, _ in status_checks(report)] == [
        ("status[0]", "pass"),
        ("status[1]", "fail"),
    ]
    revocation_list_1edtech = {
        "id": "https://node-a.test/revocations/1",
        "type": "1EdTechRevocationList",
    }
    report = verify(ob_credential(revocation_list_1edtech), now=NOW, status_lists=lists)
    [(_, status, reason)] = status_checks(report)
    assert status == "unknown" and "1EdTechRevocationList" in reason
    bad = verify(ob_credential(entry(42, statusListIndex="forty-two")), now=NOW, status_lists=lists)
    [(_, status, reason)] = status_checks(bad)
    assert status == "fail" and "malformed status entry" in reason


def test_verify_presentation_checks_status(lists: dict[str, dict[str, Any]]) -> None:
    def presented(status_entry: dict[str, Any]) -> dict[str, Any]:
        vp = build_presentation(
            holder=HOLDER.controller or "", credentials=[ob_credential(status_entry)]
        )
        return sign_presentation(vp, key=HOLDER, challenge="c-1", domain="node-b.test", created=NOW)

    kwargs: dict[str, Any] = {"now": NOW, "challenge": "c-1", "domain": "node-b.test"}
    assert verify(presented(entry(42)), status_lists=lists, **kwargs).verdict == "valid"
    revoked = verify(presented(entry(7)), status_lists=lists, **kwargs)
    assert revoked.verdict == "invalid"
    assert revoked.credentials[0].verdict == "invalid"
    assert verify(presented(entry(42)), **kwargs).verdict == "unknown"
