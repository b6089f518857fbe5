"""Self-made badges, endorsement requests, peer endorsements, re-issue with embedded
endorsements -- all verifying anywhere with protocol.verify."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest

from protocol.verify import verify
from tests.wallet.conftest import FAST_KDF, NOW, Issuer
from wallet.importing import import_bytes
from wallet.selfmade import (
    ENDORSEMENT_REQUEST_TYPE,
    EndorsementError,
    attach_endorsement,
    create_selfmade,
    endorsement_request,
    parse_endorsement_request,
    reissue,
    sign_endorsement,
)
from wallet.store import Wallet

LATER = NOW + timedelta(minutes=5)


@pytest.fixture
def peer(tmp_path: Path) -> Wallet:
    wallet = Wallet.create(tmp_path / "peer.ppw", "peer pass", kdf=FAST_KDF, now=NOW)
    yield wallet  # type: ignore[misc]
    wallet.close()


def _badge(wallet: Wallet, **extra: object) -> str:
    record = create_selfmade(
        wallet,
        name="Community gardening",
        description="I run the neighbourhood garden.",
        criteria="Two seasons of weekly sessions.",
        alignments=["gardening|http://data.europa.eu/esco/skill/garden|G7"],
        issuer_name="Earner",
        now=NOW,
        **extra,  # type: ignore[arg-type]
    )
    return record.local_id


def test_selfmade_badge_is_signed_by_the_holder_and_verifies_anywhere(wallet: Wallet) -> None:
    lid = _badge(wallet, tags=["hobby"])
    record = wallet.get(lid)
    holder = wallet.default_identity.did
    document = record.document
    assert document["issuer"] == {"id": holder, "type": ["Profile"], "name": "Earner"}
    assert document["credentialSubject"]["id"] == holder
    assert document["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
    assert document["proof"][0]["verificationMethod"].startswith(holder + "#")
    achievement = document["credentialSubject"]["achievement"]
    assert achievement["alignment"][0]["targetCode"] == "G7"
    assert record.status == "valid" and record.selfmade == {
        "identity": holder,
        "achievement": achievement["id"],
    }
    assert record.tags == ["hobby"]
    assert verify(json.loads(record.text), now=LATER).verified  # no wallet needed


def test_selfmade_with_a_p256_identity(wallet: Wallet) -> None:
    identity = wallet.new_identity("P-256", "ecdsa", now=NOW)
    record = wallet.get(_badge(wallet, identity="ecdsa"))
    assert record.document["issuer"]["id"] == identity.did
    assert record.document["proof"][0]["cryptosuite"] == "ecdsa-rdfc-2019"
    assert verify(record.document, now=LATER).verified


def test_endorsement_round_trip_between_two_wallets(wallet: Wallet, peer: Wallet) -> None:
    lid = _badge(wallet)
    badge = wallet.get(lid)
    first_valid_from = badge.document["validFrom"]
    request = endorsement_request(wallet, lid, now=NOW, message="Could you vouch for me?")
    assert request["type"] == ENDORSEMENT_REQUEST_TYPE and request["version"] == 1
    assert request["subject"] == {"id": badge.id, "type": "credential"}
    assert request["requester"]["id"] == wallet.default_identity.did
    # The request travels as a file.
    parsed = parse_endorsement_request(json.loads(json.dumps(request)))
    assert "asks you to endorse the credential 'Community gardening'" in parsed.describe()
    endorsement = sign_endorsement(
        peer, request, now=LATER, comment="Saw it myself: **great** work.", endorser_name="Pat"
    )
    assert endorsement["type"] == ["VerifiableCredential", "EndorsementCredential"]
    assert endorsement["credentialSubject"]["id"] == badge.id
    assert endorsement["issuer"]["id"] == peer.default_identity.did
    assert verify(endorsement, now=LATER).verified  # anywhere, offline: did:key
    attached = attach_endorsement(wallet, endorsement, now=LATER)
    assert attached.kind == "endorsement" and attached.status == "valid"
    assert wallet.get(lid).endorsements == [attached.local_id]
    assert attached.endorses == [lid]
    # An endorsement of the achievement, too.
    request2 = endorsement_request(wallet, lid, now=NOW, about="achievement")
    assert request2["subject"]["id"] == badge.summary["achievement"]["id"]
    on_achievement = sign_endorsement(peer, request2, now=LATER, comment="Good programme")
    attach_endorsement(wallet, on_achievement, now=LATER)
    assert len(wallet.get(lid).endorsements) == 2
    # Re-issue: the endorsements travel inside the badge and verify with it.
    reissued = reissue(wallet, lid, now=LATER + timedelta(seconds=1))
    assert reissued.local_id == lid and reissued.id == badge.id
    document = reissued.document
    assert document["endorsement"] == [endorsement]
    assert document["credentialSubject"]["achievement"]["endorsement"] == [on_achievement]
    assert document["awardedDate"] == first_valid_from
    assert document["validFrom"] > first_valid_from
    later = LATER + timedelta(seconds=2)
    assert verify(document, now=later).verified
    for embedded in (
        document["endorsement"][0],
        document["credentialSubject"]["achievement"]["endorsement"][0],
    ):
        assert verify(embedded, now=later).verified
    assert [r["verdict"] for r in reissued.verification["endorsements"]] == ["valid", "valid"]
    # Another wallet importing the re-issued badge sees the endorsements verified.
    other = Wallet.create(wallet.path.with_name("third.ppw"), "x", kdf=FAST_KDF)
    [outcome] = import_bytes(other, reissued.text.encode(), source="b.json", now=later)
    assert outcome.record is not None and outcome.record.status == "valid"
    assert [r["verdict"] for r in outcome.record.verification["endorsements"]] == ["valid"] * 2
    other.close()


def test_importing_an_endorsement_file_attaches_it(wallet: Wallet, peer: Wallet) -> None:
    lid = _badge(wallet)
    endorsement = sign_endorsement(peer, endorsement_request(wallet, lid, now=NOW), now=LATER)
    [outcome] = import_bytes(wallet, json.dumps(endorsement).encode(), source="e.json", now=LATER)
    assert outcome.record is not None and outcome.record.kind == "endorsement"
    assert wallet.get(lid).endorsements == [outcome.record.local_id]


def test_endorser_refusals(wallet: Wallet, peer: Wallet, make_issuer: type[Issuer]) -> None:
    lid = _badge(wallet)
    request = endorsement_request(wallet, lid, now=NOW)
    with pytest.raises(EndorsementError, match="cannot endorse your own credential"):
        sign_endorsement(wallet, request, now=LATER)
    tampered = copy.deepcopy(request)
    tampered["credential"]["name"] = "Olympic gardening"
    with pytest.raises(EndorsementError, match="does not verify"):
        sign_endorsement(peer, tampered, now=LATER)
    swapped = copy.deepcopy(request)
    swapped["subject"]["id"] = "urn:uuid:something-else"
    with pytest.raises(EndorsementError, match="is not the credential it carries"):
        sign_endorsement(peer, swapped, now=LATER)
    stranger = copy.deepcopy(request)
    stranger["requester"]["id"] = "did:example:stranger"
    with pytest.raises(EndorsementError, match="neither the issuer nor the subject"):
        sign_endorsement(peer, stranger, now=LATER)
    with pytest.raises(EndorsementError, match="not an endorsement request"):
        sign_endorsement(peer, {"type": "Something"}, now=LATER)
    with pytest.raises(EndorsementError, match="version"):
        sign_endorsement(peer, dict(request, version=9), now=LATER)


def test_attach_refuses_bad_endorsements(wallet: Wallet, peer: Wallet) -> None:
    lid = _badge(wallet)
    endorsement = sign_endorsement(peer, endorsement_request(wallet, lid, now=NOW), now=LATER)
    forged = copy.deepcopy(endorsement)
    forged["credentialSubject"]["endorsementComment"] = "forged praise"
    with pytest.raises(EndorsementError, match="does not verify"):
        attach_endorsement(wallet, forged, now=LATER)
    with pytest.raises(EndorsementError, match="not an EndorsementCredential"):
        attach_endorsement(wallet, wallet.get(lid).document, now=LATER)
    with pytest.raises(EndorsementError, match="no valid endorsement"):
        reissue(wallet, lid, now=LATER)


def test_only_selfmade_badges_are_reissued(wallet: Wallet, issuer: Issuer) -> None:
    credential = issuer.credential()
    record = wallet.add_credential(
        credential, source="t", verification=verify(credential, now=NOW).to_dict()
    )
    with pytest.raises(EndorsementError, match="only self-made badges"):
        reissue(wallet, record.local_id, now=LATER)
    # A credential about someone else cannot be put up for endorsement.
    with pytest.raises(EndorsementError, match="is not one of your identities"):
        endorsement_request(wallet, record.local_id, now=NOW)
