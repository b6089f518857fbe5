"""Property tests of the federation layer: RFC 8785 canonical forms, tamper detection on signed
events, feed convergence under reordering, duplication and replay, and cursor / structured field
round trips."""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from protocol.did import Resolver
from protocol.errors import ProtocolError
from protocol.federation import (
    ChainGapError,
    Cursor,
    Member,
    build_event,
    build_registry,
    event_hash,
    verify_event,
    verify_registry,
)
from protocol.federation.jcs import _write, canonicalize, format_number
from protocol.federation.sfv import (
    InnerList,
    Item,
    Token,
    parse_dictionary,
    serialize_inner_list,
)
from protocol.keys import generate

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)

# -- RFC 8785 ------------------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(st.characters(exclude_categories=["Cs"]), max_size=6), children, max_size=4
        )
    ),
    max_leaves=20,
)
_json_no_floats = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(st.characters(exclude_categories=["Cs"], max_codepoint=0xFFFF), max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(st.characters(exclude_categories=["Cs"], max_codepoint=0xFFFF), max_size=6),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_number_text_round_trips(value: float) -> None:
    text = format_number(value)
    assert float(text) == value or (value == 0 and float(text) == 0)
    # ECMAScript's layout: no "+" mantissa, no trailing ".0", no leading zeros in exponents.
    assert not text.endswith(".0") and "e+0" not in text and "e-0" not in text
    if "e" not in text:
        assert abs(value) < 1e21 and (value == 0 or abs(value) >= 1e-6)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_canonical_form_parses_back_and_is_stable(value: Any) -> None:
    data = canonicalize(value)
    parsed = json.loads(data)
    assert _same(parsed, value)
    assert canonicalize(parsed) == data  # idempotent
    shuffled = _reverse_keys(value)
    assert canonicalize(shuffled) == data  # member order does not matter


@settings(max_examples=300, deadline=None)
@given(_json_no_floats)
def test_fast_path_equals_the_reference_serialiser(value: Any) -> None:
    out: list[str] = []
    _write(value, out, 0)
    assert canonicalize(value) == "".join(out).encode("utf-8")


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, float) and isinstance(a, int | float):
        return math.isclose(a, b, rel_tol=0, abs_tol=0) or a == b
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in b)
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(map(_same, a, b))
    return bool(a == b)


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


# -- events ---------------------------------------------------------------------------------------

_DID = "did:web:node-a.test"
_KEY = generate("Ed25519").with_controller(_DID, f"{_DID}#key-1")
_STEWARD = generate("Ed25519").with_controller("did:web:steward.test", "did:web:steward.test#k")


def _document(key: Any) -> dict[str, Any]:
    return {
        "id": key.controller,
        "verificationMethod": [key.to_public_multikey()],
        "assertionMethod": [key.id],
        "authentication": [key.id],
    }


_RESOLVER = Resolver({_DID: _document(_KEY), _STEWARD.controller: _document(_STEWARD)})
_REGISTRY = verify_registry(
    build_registry(
        network="https://steward.test/network",
        name="Réseau",
        members=[
            Member(
                did=_DID,
                name="A",
                endpoint="https://node-a.test/",
                feed="https://node-a.test/feed",
                member_from=NOW - timedelta(days=1),
            )
        ],
        steward_key=_STEWARD,
        created=NOW - timedelta(days=1),
    ),
    steward_resolver=_RESOLVER,
    now=NOW,
    steward=_STEWARD.controller,
)


def _chain(count: int) -> list[dict[str, Any]]:
    events, prev = [], None
    for seq in range(1, count + 1):
        event = build_event(
            key=_KEY,
            seq=seq,
            prev=prev,
            type="AchievementPublished",
            time=NOW - timedelta(hours=1) + timedelta(seconds=seq),
            payload={
                "achievement": {
                    "id": f"https://node-a.test/achievements/{seq}",
                    "name": f"Badge n°{seq}",
                    "level": seq,
                }
            },
        )
        prev = event_hash(event)
        events.append(event)
    return events


_EVENTS = _chain(8)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
        return out
    if isinstance(value, list):
        out = []
        for index, item in enumerate(value):
            out.extend(_paths(item, (*prefix, index)))
        return out
    return [prefix]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_change_to_a_signed_event_is_refused_or_harmless(data: st.DataObject) -> None:
    event = copy.deepcopy(_EVENTS[0])
    path = data.draw(st.sampled_from(_paths(event)))
    replacement = data.draw(_scalars)
    target = event
    for step in path[:-1]:
        target = target[step]
    assume(target[path[-1]] != replacement)
    target[path[-1]] = replacement
    try:
        verified = verify_event(
            event, registry=_REGISTRY, resolver=_RESOLVER, now=NOW, last_seen=None
        )
    except ProtocolError:
        return
    # Accepted only if what was signed is unchanged (e.g. -0 for 0, or 1.0 for 1).
    original = {k: v for k, v in _EVENTS[0].items() if k != "proof"}
    assert verified.hash == event_hash(original)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=len(_EVENTS) - 1), min_size=1, max_size=40))
def test_feeds_converge_whatever_the_delivery_order(order: list[int]) -> None:
    """Deliveries arrive in any order, duplicated and replayed; a puller that keeps early events
    aside and applies what follows its cursor ends with exactly the source's chain."""
    deliveries = [_EVENTS[i] for i in order] + list(_EVENTS)  # a final full pull catches up
    cursor = Cursor(0)
    applied: list[int] = []
    pending: dict[int, dict[str, Any]] = {}
    for event in deliveries:
        pending[event["seq"]] = event
        progressed = True
        while progressed:
            progressed = False
            for seq in sorted(pending):
                try:
                    verified = verify_event(
                        pending[seq],
                        registry=_REGISTRY,
                        resolver=_RESOLVER,
                        now=NOW,
                        last_seen=cursor,
                    )
                except ChainGapError:
                    break
                del pending[seq]
                if not verified.duplicate:
                    applied.append(verified.seq)
                    cursor = verified.cursor
                    progressed = True
    assert applied == list(range(1, len(_EVENTS) + 1))
    assert cursor == Cursor(len(_EVENTS), event_hash(_EVENTS[-1]))


# -- cursors and structured fields ----------------------------------------------------------------


@given(st.integers(min_value=1, max_value=2**53 - 1), st.binary(min_size=32, max_size=32))
def test_cursor_round_trip(seq: int, raw: bytes) -> None:
    cursor = Cursor(seq, "sha256:" + raw.hex())
    assert Cursor.parse(str(cursor)) == cursor


_sf_string = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
_sf_token = st.from_regex(r"[A-Za-z*][A-Za-z0-9:/!#$%&'*+.^_`|~-]{0,10}", fullmatch=True)
_sf_key = st.from_regex(r"[a-z*][a-z0-9_.*-]{0,8}", fullmatch=True)
_sf_bare = (
    st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1)
    | _sf_string
    | _sf_token.map(Token)
    | st.binary(max_size=20)
    | st.booleans()
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_sf_bare, st.dictionaries(_sf_key, _sf_bare, max_size=2)), max_size=5),
    st.dictionaries(_sf_key, _sf_bare, max_size=4),
)
def test_inner_lists_round_trip(
    items: list[tuple[Any, dict[str, Any]]], params: dict[str, Any]
) -> None:
    inner = InnerList(tuple(Item(v, p) for v, p in items), params)
    text = serialize_inner_list(inner)
    assert parse_dictionary(f"sig={text}")["sig"] == inner
