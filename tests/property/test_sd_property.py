"""ecdsa-sd-2023 properties over generated Open Badges 3.0 credentials.

For any generated credential (``tests/property/strategies.py``), signed with the OB disclosure
profile's mandatory pointers by a did:key P-256 issuer, and any subset of pointers the holder
may choose (the profile's selectable pointers and arbitrary member and item paths):

* the derived credential verifies (``protocol.di.verify_proofs`` with a bare ``Resolver()``),
  passes ``protocol.ob.validate`` and is exactly the JSON selection of the pointers;
* no undisclosed value appears anywhere in it, proof included: every string leaf of the
  original that occurs once in the original's JSON text and is not disclosed is absent from
  the derived credential's JSON text;
* changing any revealed value, or flipping any bit of the derived proofValue, makes
  verification fail;
* revealing nothing optional gives a credential that still passes ``protocol.ob.validate``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.di import verify_proofs
from protocol.di.ecdsa_sd_2023 import derive, sign_base, verify_base
from protocol.di.sd_cbor import parse_base_proof_value
from protocol.di.sd_primitives import (
    canonicalize_and_group,
    create_hmac_id_label_map_function,
    json_pointer_to_paths,
    relabel_blank_nodes,
    select_jsonld,
)
from protocol.did import Resolver, key_pair_as_did_key
from protocol.encoding import b64url_encode
from protocol.jsonld.loader import default_loader
from protocol.keys import KeyPair
from protocol.ob import validate
from protocol.ob.disclosure import mandatory_pointers, selectable_pointers
from tests.conftest import load_vector
from tests.property.strategies import ob_credentials

ISSUER = key_pair_as_did_key(KeyPair("P-256", bytes.fromhex("5a" * 31 + "01")))
assert ISSUER.controller is not None
ISSUER_ID: str = ISSUER.controller
CREATED = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
NOW = datetime(2025, 6, 1, tzinfo=UTC)
LOADER = default_loader()
SD_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _paths(value: Any, pointer: str = "") -> Iterator[str]:
    """Every member and item pointer of a document, except inside value objects and RDF lists
    (a part of either is not a statement of its own)."""
    if isinstance(value, dict):
        if "@value" in value:
            return
        for key, item in value.items():
            if key.startswith("@"):
                continue
            child = f"{pointer}/{_escape(key)}"
            yield child
            if key != "allowedValue":
                yield from _paths(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            child = f"{pointer}/{index}"
            yield child
            yield from _paths(item, child)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _disclosed(document: dict[str, Any], pointers: list[str]) -> set[str]:
    """The string leaves that ``pointers`` reveal, computed independently of the suite: the
    contexts, the id and type of every object on each path, the whole target."""
    found = set(_strings(document["@context"]))
    for pointer in pointers:
        value: Any = document
        for path in json_pointer_to_paths(pointer):
            if isinstance(value, dict):
                for key in ("id", "type"):
                    if key in value:
                        found.update(_strings(value[key]))
                value = value[str(path)]
            else:
                value = value[int(path)]
        found.update(_strings(value))
    found.update(_strings({k: document[k] for k in ("id", "type") if k in document}))
    return found


def _verified(document: dict[str, Any]) -> bool:
    results = verify_proofs(document, resolver=Resolver(), now=NOW, loader=LOADER)
    return len(results) == 1 and results[0].verified


def _flip_leaf(document: dict[str, Any], target: int) -> dict[str, Any]:
    """A copy with the ``target``-th scalar leaf (outside @context and proof) changed."""
    copy: dict[str, Any] = json.loads(json.dumps(document))
    leaves: list[tuple[Any, Any]] = []

    def walk(value: Any) -> None:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if key in ("@context", "proof") and value is copy:
                continue
            if isinstance(item, dict | list):
                walk(item)
            else:
                leaves.append((value, key))

    walk(copy)
    container, key = leaves[target % len(leaves)]
    old = container[key]
    if isinstance(old, bool):
        container[key] = not old
    elif isinstance(old, int | float):
        container[key] = old + 1
    else:
        container[key] = f"{old}x"
    return copy


def _flip_bit(proof_value: str, bit: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(proof_value[1:] + "=" * (-len(proof_value[1:]) % 4)))
    index = bit // 8 % len(raw)
    raw[index] ^= 1 << (bit % 8)
    return "u" + b64url_encode(bytes(raw))


@SD_SETTINGS
@given(credential=ob_credentials(ISSUER_ID), data=st.data())
def test_derived_credentials_verify_and_reveal_only_the_selection(
    credential: dict[str, Any], data: st.DataObject
) -> None:
    mandatory = mandatory_pointers(credential)
    signed = sign_base(
        credential, key=ISSUER, created=CREATED, mandatory_pointers=mandatory, loader=LOADER
    )
    profile = selectable_pointers(credential)
    selective = data.draw(st.lists(st.sampled_from(profile), unique=True)) if profile else []
    # Arbitrary member and item paths too: any part of the credential can be disclosed, though
    # only the profile's pointers keep it schema-valid.
    arbitrary = data.draw(
        st.lists(st.sampled_from(sorted(_paths(credential))), unique=True, max_size=4)
    )
    selective += [p for p in arbitrary if p not in selective]
    derived = derive(signed, selective_pointers=selective, loader=LOADER)

    # It verifies, is the JSON selection of the pointers and, with the profile's pointers
    # only, passes the OB validation.
    assert _verified(derived)
    if not arbitrary:
        assert validate(derived) == []
    unsigned = {k: v for k, v in derived.items() if k != "proof"}
    assert unsigned == select_jsonld(credential, [*mandatory, *selective])

    # The combined group, which derive assembles from the mandatory and selective groups, is
    # what selecting the combined pointers afresh gives.
    parsed = parse_base_proof_value(signed["proof"]["proofValue"])
    factory = create_hmac_id_label_map_function(parsed.hmac_key)
    unsigned_base = {k: v for k, v in signed.items() if k != "proof"}
    pointers = {"mandatory": mandatory, "selective": selective}
    grouped = canonicalize_and_group(
        unsigned_base, factory, {**pointers, "combined": [*mandatory, *selective]}, loader=LOADER
    )
    fresh = canonicalize_and_group(
        unsigned_base, factory, {"combined": [*mandatory, *selective]}, loader=LOADER
    )
    assert grouped.groups["combined"].matching == fresh.groups["combined"].matching
    # (blank node labels differ between runs: compare the statements under their HMAC labels)
    assert sorted(
        relabel_blank_nodes(grouped.groups["combined"].deskolemized_nquads, grouped.label_map)
    ) == sorted(relabel_blank_nodes(fresh.groups["combined"].deskolemized_nquads, fresh.label_map))
    assert grouped.nquads == fresh.nquads

    # No undisclosed value appears anywhere in it, proof included.
    disclosed = _disclosed(credential, [*mandatory, *selective])
    original_text = json.dumps(credential)
    derived_text = json.dumps(derived)
    for leaf in set(_strings(credential)) - disclosed:
        needle = json.dumps(leaf)[1:-1]
        if len(needle) >= 4 and original_text.count(needle) == 1:
            assert needle not in derived_text, leaf

    # Any changed revealed value, or any flipped proofValue bit, fails.
    assert not _verified(_flip_leaf(derived, data.draw(st.integers(0, 10_000))))
    tampered = dict(derived, proof=dict(derived["proof"]))
    bit = data.draw(st.integers(0, 8 * 4096))
    tampered["proof"]["proofValue"] = _flip_bit(derived["proof"]["proofValue"], bit)
    assert not _verified(tampered)


@SD_SETTINGS
@given(credential=ob_credentials(ISSUER_ID))
def test_revealing_nothing_optional_still_validates(credential: dict[str, Any]) -> None:
    signed = sign_base(
        credential,
        key=ISSUER,
        created=CREATED,
        mandatory_pointers=mandatory_pointers(credential),
        loader=LOADER,
    )
    verify_base(signed, resolver=Resolver(), loader=LOADER)
    derived = derive(signed, selective_pointers=[], loader=LOADER)
    assert validate(derived) == []
    assert _verified(derived)
    # The profile's promises: issuer, achievement, validity and status are still named.
    for member in ("issuer", "validFrom", "validUntil", "credentialStatus"):
        assert (member in derived) == (member in credential)
    assert (
        derived["credentialSubject"]["achievement"]
        == (credential["credentialSubject"]["achievement"])
    )
    # Nothing selectable is revealed.
    for pointer in selectable_pointers(credential):
        with pytest.raises(Exception, match="does not match"):
            select_jsonld(derived, [pointer])


@pytest.mark.parametrize("name", ["simple.json", "simple-did-key-method.json", "complete.json"])
def test_profile_on_the_official_examples(name: str) -> None:
    """The 1EdTech examples (complete.json: evidence, results, an embedded endorsement with its
    own proof graph, an RDF list) derive to valid, verifiable credentials, revealing nothing
    optional or everything selectable."""
    credential = {k: v for k, v in load_vector("ob3-examples", name).items() if k != "proof"}
    mandatory = mandatory_pointers(credential)
    assert mandatory[:5] == ["/id", "/type", "/name", "/issuer", "/validFrom"]
    assert mandatory[-2:] == ["/credentialSubject/type", "/credentialSubject/achievement"]
    signed = sign_base(
        credential, key=ISSUER, created=CREATED, mandatory_pointers=mandatory, loader=LOADER
    )
    verify_base(signed, resolver=Resolver(), loader=LOADER)
    for selective in ([], selectable_pointers(credential)):
        derived = derive(signed, selective_pointers=selective, loader=LOADER)
        assert validate(derived) == []
        assert _verified(derived)
    assert {k: v for k, v in derived.items() if k != "proof"} == credential


def test_profile_pointer_lists() -> None:
    credential: dict[str, Any] = {
        "@context": [],
        "id": "urn:x",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": "did:example:1",
        "validFrom": "2025-01-01T00:00:00Z",
        "description": "d",
        "evidence": [{"type": ["Evidence"]}, {"type": ["Evidence"]}],
        "credentialStatus": {"id": "https://s.test/1#3", "type": "BitstringStatusListEntry"},
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{"type": "IdentityObject"}],
            "result": [{"type": ["Result"]}],
            "narrative": "n",
            "achievement": {},
        },
    }
    assert mandatory_pointers(credential) == [
        "/id",
        "/type",
        "/issuer",
        "/validFrom",
        "/credentialStatus",
        "/credentialSubject/type",
        "/credentialSubject/achievement",
        "/credentialSubject/identifier",  # no subject id: the identifier identifies
    ]
    assert selectable_pointers(credential) == [
        "/description",
        "/evidence/0",
        "/evidence/1",
        "/credentialSubject/result/0",
        "/credentialSubject/narrative",
    ]
    credential["credentialSubject"]["id"] = "did:example:holder"
    assert "/credentialSubject/identifier" not in mandatory_pointers(credential)
    assert "/credentialSubject/identifier/0" in selectable_pointers(credential)
    with pytest.raises(ValueError, match="one credentialSubject"):
        mandatory_pointers({**credential, "credentialSubject": [{}]})
