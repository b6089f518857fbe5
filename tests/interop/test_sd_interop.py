"""ecdsa-sd-2023 both ways with Digital Bazaar's ecdsa-sd-2023-cryptosuite: their base proof
derived by us and verified by both stacks, our base proof derived by them, and presentations of
derived credentials across."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from protocol.di.ecdsa_sd_2023 import derive, sign_base, verify_base
from protocol.did import Resolver, key_pair_as_did_key
from protocol.keys import generate, load_key_file
from protocol.ob.disclosure import mandatory_pointers
from protocol.presentation import build_presentation, sign_presentation
from protocol.verify import verify
from tests.interop import fixtures
from tests.interop.dbstack_client import DbStack
from tests.interop.helpers import CREATED, NOW, failed_checks, only_proof, parse_time

pytestmark = pytest.mark.interop

CHALLENGE = "3f8e2a10-sd-interop"
DOMAIN = "verifier.example"
REVEAL = ["/credentialSubject/achievement/name", "/credentialSubject/result"]


@pytest.fixture(scope="module")
def holder() -> Any:
    return key_pair_as_did_key(generate("Ed25519"))


def _credential(issuer_did: str, holder_did: str) -> dict[str, Any]:
    credential = fixtures.credential("nested-results", issuer_did)
    credential["credentialSubject"]["id"] = holder_did
    return credential


def test_their_base_proof_derived_by_us_verifies_on_both_sides(
    dbstack: DbStack, holder: Any
) -> None:
    issuer = dbstack.call("generateKey", type="P-256")
    credential = _credential(issuer["did"], holder.controller)
    base = dbstack.call(
        "signSd",
        credential=credential,
        keyFile=issuer["keyFile"],
        mandatoryPointers=mandatory_pointers(credential),
        created=CREATED,
    )["signed"]
    # The holder checks the issuer's base proof on receipt.
    verify_base(base, resolver=Resolver())
    derived = derive(base, selective_pointers=REVEAL)
    assert "identifier" not in derived["credentialSubject"]
    report = verify(derived, now=parse_time(NOW))
    assert report.verified, failed_checks(report)
    result = dbstack.call("verifySd", credential=derived, now=NOW)
    assert result["verified"], result
    tampered = copy.deepcopy(derived)
    tampered["credentialSubject"]["achievement"]["name"] = "Autre chose"
    assert not verify(tampered, now=parse_time(NOW)).verified
    assert not dbstack.call("verifySd", credential=tampered, now=NOW)["verified"]


def test_our_base_proof_derived_by_them_verifies_on_both_sides(
    dbstack: DbStack, holder: Any
) -> None:
    issuer = key_pair_as_did_key(generate("P-256"))
    credential = _credential(issuer.controller, holder.controller)
    base = sign_base(
        credential,
        key=issuer,
        created=parse_time(CREATED),
        mandatory_pointers=mandatory_pointers(credential),
    )
    # Their derive needs the issuer's key only through the proof: nothing to hand over.
    derived = dbstack.call("derive", credential=base, selectivePointers=REVEAL)["derived"]
    result = dbstack.call("verifySd", credential=derived, now=NOW)
    assert result["verified"], result
    report = verify(derived, now=parse_time(NOW))
    assert report.verified, failed_checks(report)
    # Both stacks derive the same disclosed document from the same base proof.
    ours = derive(base, selective_pointers=REVEAL)
    assert {k: v for k, v in ours.items() if k != "proof"} == {
        k: v for k, v in derived.items() if k != "proof"
    }


def test_our_presentation_of_a_derived_credential_verifies_in_js(
    dbstack: DbStack, holder: Any
) -> None:
    issuer = key_pair_as_did_key(generate("P-256"))
    credential = _credential(issuer.controller, holder.controller)
    base = sign_base(
        credential,
        key=issuer,
        created=parse_time(CREATED),
        mandatory_pointers=mandatory_pointers(credential),
    )
    presentation = sign_presentation(
        build_presentation(
            holder=holder.controller, credentials=[derive(base, selective_pointers=REVEAL)]
        ),
        key=holder,
        challenge=CHALLENGE,
        domain=DOMAIN,
        created=parse_time(CREATED),
    )
    result = dbstack.call(
        "verifyPresentation", presentation=presentation, challenge=CHALLENGE, domain=DOMAIN, now=NOW
    )
    assert result["verified"], result["errors"]
    replay = dbstack.call(
        "verifyPresentation", presentation=presentation, challenge="other", domain=DOMAIN, now=NOW
    )
    assert not replay["verified"]


def test_their_presentation_of_a_derived_credential_verifies_in_passeport(
    dbstack: DbStack, holder: Any
) -> None:
    issuer = dbstack.call("generateKey", type="P-256")
    credential = _credential(issuer["did"], holder.controller)
    base = dbstack.call(
        "signSd",
        credential=credential,
        keyFile=issuer["keyFile"],
        mandatoryPointers=mandatory_pointers(credential),
        created=CREATED,
    )["signed"]
    derived = dbstack.call("derive", credential=base, selectivePointers=REVEAL)["derived"]
    presentation = dbstack.call(
        "signPresentation",
        credentials=[derived],
        holder=holder.controller,
        keyFile=holder.to_key_file(),
        challenge=CHALLENGE,
        domain=DOMAIN,
        created=CREATED,
    )["signed"]
    report = verify(presentation, now=parse_time(NOW), challenge=CHALLENGE, domain=DOMAIN)
    assert report.verified, failed_checks(report) + [
        line for sub in report.credentials for line in failed_checks(sub)
    ]
    assert only_proof(presentation)["proofPurpose"] == "authentication"
    # Replayed elsewhere, or signed by another key: refused with a precise reason.
    elsewhere = verify(
        presentation, now=parse_time(NOW), challenge=CHALLENGE, domain="evil.example"
    )
    assert not elsewhere.verified and any("domain" in line for line in failed_checks(elsewhere))
    intruder = key_pair_as_did_key(
        load_key_file(dbstack.call("generateKey", type="Ed25519")["keyFile"])
    )
    forged = dbstack.call(
        "signPresentation",
        credentials=[derived],
        holder=holder.controller,
        keyFile=intruder.to_key_file(),
        challenge=CHALLENGE,
        domain=DOMAIN,
        created=CREATED,
    )["signed"]
    report = verify(forged, now=parse_time(NOW), challenge=CHALLENGE, domain=DOMAIN)
    assert not report.verified
    assert any("holder" in line for line in failed_checks(report)), failed_checks(report)
