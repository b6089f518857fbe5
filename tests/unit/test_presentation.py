"""Presentations: holder-bound, challenge and domain checked, each failure with a precise reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from protocol.di import sign
from protocol.di.ecdsa_sd_2023 import derive, sign_base
from protocol.did import key_pair_as_did_key
from protocol.keys import generate
from protocol.ob import build_credential
from protocol.ob.disclosure import mandatory_pointers
from protocol.presentation import build_presentation, sign_presentation
from protocol.verify import Report, verify

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
CHALLENGE = "9c1f0e3a-challenge"
DOMAIN = "verifier.example"

ISSUER = key_pair_as_did_key(generate("P-256"))
HOLDER = key_pair_as_did_key(generate("Ed25519"))
OTHER = key_pair_as_did_key(generate("Ed25519"))


def _credential(subject: str) -> dict[str, Any]:
    unsigned = build_credential(
        issuer={"id": ISSUER.controller, "type": ["Profile"], "name": "Institut"},
        achievement={
            "id": "https://badges.example.org/achievements/7",
            "type": ["Achievement"],
            "name": "Soudure",
            "description": "Soudure à l'arc.",
            "criteria": {"narrative": "Évaluation pratique réussie."},
        },
        subject_id=subject,
        identity=None,
        credential_id="urn:uuid:7b8c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d",
        valid_from=datetime(2025, 1, 1, tzinfo=UTC),
    )
    base = sign_base(
        unsigned, key=ISSUER, created=NOW, mandatory_pointers=mandatory_pointers(unsigned)
    )
    return derive(base, selective_pointers=[])


def _failures(report: Report) -> list[str]:
    lines = [f"{c.check}: {c.reason}" for c in report.checks if c.status == "fail"]
    for sub in report.credentials:
        lines += _failures(sub)
    return lines


def _present(key: Any, credential: dict[str, Any], holder: str | None = None, **kw: Any) -> Any:
    presentation = build_presentation(holder=holder or key.controller, credentials=[credential])
    return sign(
        presentation,
        key=key,
        created=NOW,
        purpose="authentication",
        challenge=kw.get("challenge", CHALLENGE),
        domain=kw.get("domain", DOMAIN),
        suite=kw.get("suite", "eddsa-rdfc-2022"),
    )


def test_a_holder_bound_presentation_verifies() -> None:
    vp = sign_presentation(
        build_presentation(holder=HOLDER.controller, credentials=[_credential(HOLDER.controller)]),
        key=HOLDER,
        challenge=CHALLENGE,
        domain=DOMAIN,
        created=NOW,
    )
    report = verify(vp, now=NOW, challenge=CHALLENGE, domain=DOMAIN)
    assert report.verified, _failures(report)


def test_legacy_ed25519signature2020_presentation_is_accepted() -> None:
    vp = _present(HOLDER, _credential(HOLDER.controller), suite="Ed25519Signature2020")
    assert vp["proof"]["type"] == "Ed25519Signature2020"
    report = verify(vp, now=NOW, challenge=CHALLENGE, domain=DOMAIN)
    assert report.verified, _failures(report)


@pytest.mark.parametrize(
    ("challenge", "domain", "expected"),
    [("another", DOMAIN, "challenge"), (CHALLENGE, "evil.example", "domain")],
)
def test_replay_with_another_challenge_or_domain_fails(
    challenge: str, domain: str, expected: str
) -> None:
    vp = _present(HOLDER, _credential(HOLDER.controller))
    report = verify(vp, now=NOW, challenge=challenge, domain=domain)
    assert report.verdict == "invalid"
    assert any(expected in line for line in _failures(report)), _failures(report)


def test_signed_by_a_key_that_is_not_the_holders_fails() -> None:
    vp = _present(OTHER, _credential(HOLDER.controller), holder=HOLDER.controller)
    report = verify(vp, now=NOW, challenge=CHALLENGE, domain=DOMAIN)
    assert report.verdict == "invalid"
    assert any("holder" in line and OTHER.controller in line for line in _failures(report)), (
        _failures(report)
    )


def test_credential_bound_to_someone_else_fails() -> None:
    vp = _present(HOLDER, _credential(OTHER.controller))
    report = verify(vp, now=NOW, challenge=CHALLENGE, domain=DOMAIN)
    assert report.verdict == "invalid"
    assert any("holder binding" in line for line in _failures(report)), _failures(report)


def test_missing_expected_challenge_fails_closed() -> None:
    vp = _present(HOLDER, _credential(HOLDER.controller))
    report = verify(vp, now=NOW, challenge=None, domain=DOMAIN)
    assert report.verdict == "invalid"
    assert any("replay" in line for line in _failures(report)), _failures(report)


def test_sign_presentation_refuses_a_key_that_is_not_the_holders() -> None:
    with pytest.raises(ValueError, match="holder"):
        sign_presentation(
            build_presentation(holder=HOLDER.controller, credentials=[]),
            key=OTHER,
            challenge=CHALLENGE,
            domain=DOMAIN,
            created=NOW,
        )
