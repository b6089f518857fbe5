"""``passeport demo``: issue a sample badge with a fresh key, verify it, tamper with it."""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Iterator
from datetime import datetime

from protocol.di import sign
from protocol.did import key_pair_as_did_key
from protocol.keys import generate
from protocol.ob import build_credential, hashed_email_identity
from protocol.verify import Report, verify


def _summary(report: Report) -> Iterator[str]:
    yield f"  verdict: {report.verdict}"
    for check in report.checks:
        yield f"    [{check.status:>7}] {check.check}: {check.reason}"


def run_demo(now: datetime) -> Iterator[str]:
    """Yield the lines of the demonstration."""
    issuer_key = key_pair_as_did_key(generate("Ed25519"))
    yield f"issuer DID (fresh did:key): {issuer_key.controller}"
    credential = build_credential(
        issuer={"id": issuer_key.controller, "type": ["Profile"], "name": "Université d'exemple"},
        achievement={
            "id": "https://badges.example.org/achievements/data-literacy",
            "type": ["Achievement"],
            "name": "Data literacy",
            "description": "Reads, interprets and questions data in everyday work.",
            "criteria": {"narrative": "Completed the data literacy workshop and its project."},
        },
        subject_id=None,
        identity=hashed_email_identity("learner@example.org", secrets.token_hex(8)),
        credential_id=f"urn:uuid:{uuid.uuid4()}",
        valid_from=now,
        name="Data literacy",
    )
    signed = sign(credential, key=issuer_key, created=now)
    proof = signed["proof"][0] if isinstance(signed["proof"], list) else signed["proof"]
    yield f"signed an Open Badges 3.0 credential with {proof['cryptosuite']}"
    report = verify(signed, now=now)
    yield "verified offline:"
    yield from _summary(report)
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["achievement"]["name"] = "Rocket science"
    yield "after changing the achievement's name:"
    yield from _summary(verify(tampered, now=now))
