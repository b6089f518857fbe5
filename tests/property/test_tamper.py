"""Every change to a signed credential breaks it: each leaf value in turn, each member name, the
order of the contexts, and an added undefined property."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings

from protocol.di import sign, verify_proofs
from protocol.did import Resolver, key_pair_as_did_key
from protocol.keys import key_pair_from_multibase
from protocol.timeutil import parse_datetime
from protocol.verify import verify
from tests.conftest import load_vector
from tests.property.strategies import ob_credentials

NOW = datetime(2025, 6, 1, tzinfo=UTC)
_PAIR = load_vector("vc-di-eddsa", "keyPair.json")
KEY = key_pair_as_did_key(
    key_pair_from_multibase(_PAIR["publicKeyMultibase"], _PAIR["privateKeyMultibase"])
)
Path = tuple[str | int, ...]


def _leaves(value: Any, path: Path = ()) -> Iterator[Path]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path


def _members(value: Any, path: Path = ()) -> Iterator[Path]:
    if isinstance(value, dict):
        for key, item in value.items():
            if not key.startswith("@"):
                yield (*path, key)
            yield from _members(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _members(item, (*path, index))


def _parent(document: Any, path: Path) -> Any:
    target = document
    for step in path[:-1]:
        target = target[step]
    return target


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 0.5
    if isinstance(value, str):
        return value + "x"
    raise AssertionError(f"unexpected leaf {value!r}")


def _fails(document: dict[str, Any]) -> bool:
    results = verify_proofs(document, resolver=Resolver(), now=NOW)
    return not results or not all(r.verified for r in results)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ob_credentials(KEY.controller or ""))
def test_every_change_fails(credential: dict[str, Any]) -> None:
    # Sign and verify at a time inside the generated validity period.
    at = parse_datetime(credential["validFrom"]) + timedelta(seconds=1)
    signed = sign(credential, key=KEY, created=at)
    report = verify(signed, now=at)
    # Untouched, nothing fails (a status entry stays "unknown" without its list).
    assert not report.errors and report.verdict in ("valid", "unknown"), report.errors
    unsigned_part = {k: v for k, v in signed.items() if k != "proof"}

    for path in _leaves(unsigned_part):
        tampered = copy.deepcopy(signed)
        parent = _parent(tampered, path)
        parent[path[-1]] = _changed(parent[path[-1]])
        assert _fails(tampered), f"changing {path} went unnoticed"

    for path in _members(unsigned_part):
        tampered = copy.deepcopy(signed)
        parent = _parent(tampered, path)
        parent[f"{path[-1]}Renamed"] = parent.pop(path[-1])
        assert _fails(tampered), f"renaming {path} went unnoticed"

    # The order of @context is meaningful to VC 2.0 (credentials/v2 must come first) although
    # these two contexts give the same RDF either way: the report must refuse the swap.
    tampered = copy.deepcopy(signed)
    tampered["@context"][0], tampered["@context"][1] = (
        tampered["@context"][1],
        tampered["@context"][0],
    )
    assert verify(tampered, now=at).verdict == "invalid"

    # An added property that no context defines is data loss: it must not verify.
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["undefinedClaim"] = "not signed"
    assert _fails(tampered)
    report = verify(tampered, now=at)
    assert report.verdict == "invalid"
    assert any("undefinedClaim" in c.reason for c in report.checks if c.status == "fail")


@settings(max_examples=8, deadline=None)
@given(ob_credentials(KEY.controller or ""))
def test_every_proof_member_change_fails(credential: dict[str, Any]) -> None:
    signed = sign(credential, key=KEY, created=NOW)
    proof = signed["proof"][0]
    for member in proof:
        tampered = copy.deepcopy(signed)
        tampered["proof"][0][member] = _changed(proof[member])
        assert _fails(tampered), f"changing proof.{member} went unnoticed"
