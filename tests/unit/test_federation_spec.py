"""The signed examples of specs/federation.md verify (so the specification cannot drift).

The examples were made with fixed seeds: 32 bytes of 0x01 (steward), 0x02 (node A), 0x03
(node B), each key being ``#key-1`` of the node's did:web document.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from protocol.did import Resolver
from protocol.federation import (
    Cursor,
    HttpRequest,
    event_hash,
    parse_notice,
    verify_invitation,
    verify_jcs,
    verify_membership_credential,
    verify_registry,
    verify_request_signature,
)
from protocol.keys import KeyPair

SPEC = Path(__file__).resolve().parents[2] / "specs" / "federation.md"
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def _node(host: str, seed: int) -> tuple[str, dict[str, Any]]:
    did = f"did:web:{host}"
    key = KeyPair("Ed25519", bytes([seed]) * 32).with_controller(did, f"{did}#key-1")
    return did, {
        "id": did,
        "verificationMethod": [key.to_public_multikey()],
        "assertionMethod": [key.id],
        "authentication": [key.id],
    }


STEWARD, STEWARD_DOC = _node("steward.example", 1)
A, A_DOC = _node("node-a.example", 2)
B, B_DOC = _node("node-b.example", 3)
RESOLVER = Resolver({STEWARD: STEWARD_DOC, A: A_DOC, B: B_DOC})


def _blocks(language: str) -> list[str]:
    text = SPEC.read_text("utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def _signed(kind: str) -> dict[str, Any]:
    for block in _blocks("json"):
        if '"proofValue"' in block and kind in block:
            document: dict[str, Any] = json.loads(block)
            return document
    raise AssertionError(f"no signed {kind} example in the spec")


def test_registry_example() -> None:
    registry = verify_registry(
        _signed("FederationRegistryCredential"),
        steward_resolver=RESOLVER,
        now=NOW,
        steward=STEWARD,
    )
    assert registry.version == 2 and [m.did for m in registry.members] == [A, B]


def test_membership_and_invitation_examples() -> None:
    membership = verify_membership_credential(
        _signed("FederationMembershipCredential"), steward=STEWARD, resolver=RESOLVER, now=NOW
    )
    assert membership.member == A
    invitation = verify_invitation(
        _signed("FederationInvitationCredential"),
        steward=STEWARD,
        resolver=RESOLVER,
        now=NOW,
        used_nonces=set(),
        invitee="did:web:node-c.example",
    )
    assert invitation.nonce == "Jd2Q0l1b3T9mN8xYvKp4sA"


def test_event_example_and_its_cursor() -> None:
    event = _signed("StatusListUpdated")
    assert verify_jcs(event, resolver=RESOLVER, now=NOW).controller == A
    notice = next(json.loads(b) for b in _blocks("json") if "FederationFeedNotice" in b)
    source, head = parse_notice(notice)
    assert source == A and head == Cursor(2, event_hash(event))


def test_signed_request_example() -> None:
    [message] = _blocks("http")
    head, _, _ = message.partition("\n\n")
    request_line, *field_lines = head.strip().split("\n")
    method, path, _ = request_line.split(" ")
    fields = [tuple(line.split(": ", 1)) for line in field_lines]
    host = dict(fields)["Host"]
    notice = next(b for b in _blocks("json") if "FederationFeedNotice" in b)
    body = json.dumps(json.loads(notice), separators=(",", ":")).encode()
    request = HttpRequest.of(method, f"https://{host}{path}", fields, body)
    verified = verify_request_signature(request, resolver=RESOLVER, now=NOW, seen_nonces=set())
    assert verified.signer == A and verified.nonce == "f3Kq9vX0bT2mN8yZ"
    [base] = _blocks("text")
    assert base.strip().startswith('"@method": POST')
