"""RFC 8785 (JCS) and the eddsa-jcs-2022 cryptosuite, against their published vectors.

* RFC 8785 Appendix B: IEEE 754 values and their canonical text (copied from the RFC table).
* RFC 8785 section 3.2.2 and 3.2.3: the worked example and the member-sorting example.
* W3C vc-di-eddsa eddsa-jcs-2022 test vectors, verbatim under tests/vectors/vc-di-eddsa.
"""

from __future__ import annotations

import copy
import json
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from protocol.did import Resolver
from protocol.errors import InvalidProof, MalformedError, PurposeMismatch
from protocol.federation.jcs import canonicalize, digest, format_number
from protocol.federation.jcs_proof import hash_data, sign_jcs, verify_jcs
from protocol.keys import key_pair_from_multibase

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "vc-di-eddsa"

# RFC 8785 Appendix B, "Number Serialization Samples": IEEE 754 binary64 (hex) -> JSON text.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),  # minus zero
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),  # round to even
]


def _double(hex_bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(hex_bits))[0]
    return value


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B, ids=[b for b, _ in APPENDIX_B])
def test_rfc8785_appendix_b_numbers(bits: str, expected: str) -> None:
    value = _double(bits)
    assert format_number(value) == expected
    assert canonicalize([value]) == f"[{expected}]".encode()


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_rfc8785_appendix_b_nan_and_infinity_are_errors(bits: str) -> None:
    with pytest.raises(MalformedError):
        canonicalize({"n": _double(bits)})


def test_rfc8785_section_3_2_2_example() -> None:
    # RFC 8785 section 3.2.2 (input) and 3.2.3 (result of the whole transformation).
    text = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonicalize(json.loads(text)) == expected.encode("utf-8")


def test_rfc8785_section_3_2_3_sorting() -> None:
    # Member names sort by their UTF-16 code units, not by code points.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    names = list(json.loads(canonicalize(value)))
    assert names == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_integers_and_refusals() -> None:
    assert canonicalize({"b": 2, "a": [1, -0, 2**53 - 1]}) == b'{"a":[1,0,9007199254740991],"b":2}'
    big = [2**53, 295147905179352830000]
    assert canonicalize(big) == b"[9007199254740992,295147905179352830000]"
    with pytest.raises(MalformedError, match="2\\*\\*53"):
        canonicalize([2**68])  # 295147905179352825856: a double would round it
    with pytest.raises(MalformedError, match="2\\*\\*53"):
        canonicalize([2**53 + 1])
    with pytest.raises(MalformedError, match="2\\*\\*53"):
        canonicalize([10**400])
    with pytest.raises(MalformedError, match="surrogate"):
        canonicalize(["\ud800"])
    with pytest.raises(TypeError):
        canonicalize({"x": object()})
    with pytest.raises(TypeError):
        canonicalize({1: "x"})
    deep: Any = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(MalformedError, match="deeper"):
        canonicalize(deep)
    assert (
        digest({}) == "sha256:" + "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )


# -- eddsa-jcs-2022 --------------------------------------------------------------------------------


def _vector_key() -> Any:
    pair = json.loads((VECTORS / "keyPair.json").read_text())
    did = "did:key:" + pair["publicKeyMultibase"]
    key = key_pair_from_multibase(pair["publicKeyMultibase"], pair["privateKeyMultibase"])
    return key.with_controller(did, f"{did}#{pair['publicKeyMultibase']}")


def _text(name: str) -> str:
    return (VECTORS / "eddsa-jcs-2022" / name).read_text().strip()


def test_eddsa_jcs_2022_vectors_step_by_step() -> None:
    unsigned = json.loads((VECTORS / "unsigned.json").read_text())
    config = json.loads(_text("proofConfigJCS.json"))
    assert canonicalize(unsigned).decode() == _text("canonDocJCS.txt")
    assert canonicalize(config).decode() == _text("proofCanonJCS.txt")
    data = hash_data(unsigned, config)
    assert data[32:].hex() == _text("docHashJCS.txt")
    assert data[:32].hex() == _text("proofHashJCS.txt")
    assert data.hex() == _text("combinedHashJCS.txt")
    assert _vector_key().sign(data).hex() == _text("sigHexJCS.txt")


def test_eddsa_jcs_2022_signed_vector_is_reproduced_and_verifies() -> None:
    unsigned = json.loads((VECTORS / "unsigned.json").read_text())
    expected = json.loads(_text("signedJCS.json"))
    signed = sign_jcs(
        unsigned, key=_vector_key(), created=datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)
    )
    assert signed == expected
    assert signed["proof"]["proofValue"] == _text("sigBTC58JCS.txt")
    now = datetime(2025, 1, 1, tzinfo=UTC)
    method = verify_jcs(expected, resolver=Resolver(), now=now)
    assert method.controller == _vector_key().controller


def test_eddsa_jcs_2022_refusals() -> None:
    signed = json.loads(_text("signedJCS.json"))
    now = datetime(2025, 1, 1, tzinfo=UTC)
    tampered = copy.deepcopy(signed)
    tampered["name"] = "Alumni Credential!"
    with pytest.raises(InvalidProof):
        verify_jcs(tampered, resolver=Resolver(), now=now)
    reordered = copy.deepcopy(signed)
    reordered["proof"]["created"] = "2023-02-24T23:36:39Z"
    with pytest.raises(InvalidProof):
        verify_jcs(reordered, resolver=Resolver(), now=now)
    with pytest.raises(PurposeMismatch):
        verify_jcs(signed, resolver=Resolver(), now=now, purpose="authentication")
    with pytest.raises(InvalidProof, match="future"):
        verify_jcs(signed, resolver=Resolver(), now=datetime(2020, 1, 1, tzinfo=UTC))
    context = copy.deepcopy(signed)
    context["@context"] = ["https://www.w3.org/ns/credentials/v2"]
    with pytest.raises(InvalidProof, match="prefix"):
        verify_jcs(context, resolver=Resolver(), now=now)
    for mutate in (
        lambda d: d.pop("proof"),
        lambda d: d["proof"].update(cryptosuite="eddsa-rdfc-2022"),
        lambda d: d["proof"].update(proofValue="uAAAA"),
        lambda d: d["proof"].update(proofValue="z111"),
        lambda d: d.update(proof=[d["proof"]]),
    ):
        broken = copy.deepcopy(signed)
        mutate(broken)
        with pytest.raises((MalformedError, InvalidProof)):
            verify_jcs(broken, resolver=Resolver(), now=now)
