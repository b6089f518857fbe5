"""Search and filters, tags, collections and pathways."""

from __future__ import annotations

from datetime import timedelta

import pytest

from protocol.verify import verify
from tests.wallet.conftest import BAKED, NOW, PASSPHRASE, Issuer
from wallet import organise
from wallet.errors import NotFound
from wallet.importing import import_bytes
from wallet.organise import Query, Requirement
from wallet.store import StoredCredential, Wallet

ESCO_PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
ESCO_TEAM = "http://data.europa.eu/esco/skill/f6e8b2c4-team"


def _store(wallet: Wallet, credential: dict[str, object]) -> StoredCredential:
    report = verify(credential, now=NOW).to_dict()
    return wallet.add_credential(credential, source="test", verification=report)


@pytest.fixture
def filled(
    wallet: Wallet, issuer: Issuer, make_issuer: type[Issuer]
) -> dict[str, StoredCredential]:
    other = make_issuer("Night School")
    records = {
        "python": _store(
            wallet,
            issuer.credential(
                name="Python programming",
                achievement_id="https://academy.example/a/python",
                alignments=[
                    {"targetName": "use Python", "targetUrl": ESCO_PYTHON, "targetCode": "S1.2"}
                ],
                valid_from=NOW - timedelta(days=300),
            ),
        ),
        "teamwork": _store(
            wallet,
            other.credential(
                name="Teamwork",
                achievement_id="https://night.example/a/teamwork",
                alignments=[{"targetName": "work in teams", "targetUrl": ESCO_TEAM}],
                valid_from=NOW - timedelta(days=100),
            ),
        ),
        "expired": _store(
            wallet,
            other.credential(
                name="First aid",
                achievement_id="https://night.example/a/first-aid",
                valid_from=NOW - timedelta(days=800),
                valid_until=NOW - timedelta(days=10),
            ),
        ),
    }
    legacy = import_bytes(
        wallet,
        (BAKED / "ob20/simple-badge.png").read_bytes(),
        source="legacy.png",
        now=NOW,
    )
    records["legacy"] = legacy[0].record  # type: ignore[assignment]
    return records


def _names(wallet: Wallet, **query: object) -> list[str]:
    return [r.name for r in wallet.search(Query(**query), now=NOW)]  # type: ignore[arg-type]


def test_text_search(wallet: Wallet, filled: dict[str, StoredCredential]) -> None:
    assert _names(wallet, text="python") == ["Python programming"]
    assert _names(wallet, text="PYTHON   programming") == ["Python programming"]
    assert _names(wallet, text="python teamwork") == []
    assert _names(wallet, text="night school") == ["Teamwork", "First aid"]
    assert _names(wallet, text="S1.2") == ["Python programming"]


def test_issuer_filter(wallet: Wallet, filled: dict[str, StoredCredential], issuer: Issuer) -> None:
    assert _names(wallet, issuer=issuer.did) == ["Python programming"]
    assert _names(wallet, issuer="night") == ["Teamwork", "First aid"]


def test_skill_filter_by_esco_uri_code_and_name(
    wallet: Wallet, filled: dict[str, StoredCredential]
) -> None:
    assert _names(wallet, skill=ESCO_PYTHON) == ["Python programming"]
    assert _names(wallet, skill="s1.2") == ["Python programming"]
    assert _names(wallet, skill="teams") == ["Teamwork"]
    assert _names(wallet, skill="http://data.europa.eu/esco/skill/unknown") == []


def test_date_range(wallet: Wallet, filled: dict[str, StoredCredential]) -> None:
    assert _names(wallet, since=NOW - timedelta(days=200)) == ["Teamwork"]
    assert _names(wallet, until=NOW - timedelta(days=200)) == [
        "Python programming",
        "First aid",
        "OB 2.0 badge https://example.org/robotics-badge.json",
    ]
    assert _names(wallet, since=NOW - timedelta(days=400), until=NOW - timedelta(days=50)) == [
        "Teamwork",
        "Python programming",
    ]


def test_status_filters(wallet: Wallet, filled: dict[str, StoredCredential]) -> None:
    assert _names(wallet, status="valid") == ["Teamwork", "Python programming"]
    assert _names(wallet, status="expired") == ["First aid"]
    assert _names(wallet, status="invalid") == ["First aid"]  # expired when verified
    assert _names(wallet, status="legacy") == [filled["legacy"].name]
    assert _names(wallet, status="unknown") == [filled["legacy"].name]
    assert _names(wallet, kind="ob2") == [filled["legacy"].name]
    with pytest.raises(ValueError):
        Query(status="revoked-ish")


def test_tags_and_collections_persist(wallet: Wallet, filled: dict[str, StoredCredential]) -> None:
    python, team = filled["python"].local_id, filled["teamwork"].local_id
    organise.tag(wallet, python, add=["Job application", "code"])
    organise.tag(wallet, python, add=["job APPLICATION"])  # case-insensitive duplicate
    organise.tag(wallet, team, add=["job application"])
    organise.tag(wallet, python, remove=["code"])
    assert wallet.get(python).tags == ["Job application"]
    assert _names(wallet, tag="job application") == ["Teamwork", "Python programming"]
    assert _names(wallet, text="application") == ["Teamwork", "Python programming"]
    organise.create_collection(wallet, "CV 2025", description="for the CV", now=NOW)
    organise.add_to_collection(wallet, "CV 2025", [python, team[:6], python])
    organise.remove_from_collection(wallet, "CV 2025", [team])
    with pytest.raises(ValueError):
        organise.create_collection(wallet, "CV 2025", now=NOW)
    with pytest.raises(NotFound):
        organise.add_to_collection(wallet, "nope", [python])
    wallet.save()
    wallet.close()
    with Wallet.open(wallet.path, PASSPHRASE) as again:
        assert again.collections["CV 2025"].members == [python]
        assert _names(again, collection="CV 2025") == ["Python programming"]
        assert _names(again, collection="CV 2025", text="teamwork") == []
        assert again.get(python).tags == ["Job application"]
        again.remove(python)
        assert again.collections["CV 2025"].members == []
        organise.delete_collection(again, "CV 2025")
        with pytest.raises(NotFound):
            again.search(Query(collection="CV 2025"), now=NOW)


def test_pathway_progress(
    wallet: Wallet, filled: dict[str, StoredCredential], issuer: Issuer
) -> None:
    pathway = organise.create_pathway(
        wallet,
        "Junior developer",
        [
            Requirement(achievement="https://academy.example/a/python", label="Python"),
            {"alignment": ESCO_TEAM, "label": "Teamwork"},
            {"achievement": "https://night.example/a/first-aid"},
            {"alignment": "databases"},
        ],
        description="what I need for my first job",
        now=NOW,
    )
    progress = organise.progress(wallet, pathway, now=NOW)
    assert [s.met for s in progress.steps] == [True, True, False, False]
    assert progress.steps[2].not_valid == [filled["expired"].local_id]  # held, but expired
    assert (progress.met, progress.needed, progress.percent, progress.complete) == (2, 4, 50, False)
    # Earning the missing skill moves the pathway forward.
    _store(
        wallet,
        issuer.credential(
            name="SQL",
            alignments=[{"targetName": "manage databases", "targetUrl": "http://x.example/db"}],
        ),
    )
    progress = organise.progress(wallet, pathway, now=NOW)
    assert progress.met == 3
    pathway.required = 3
    assert organise.progress(wallet, pathway, now=NOW).complete
    as_json = organise.progress(wallet, pathway, now=NOW).to_dict()
    assert as_json["steps"][0]["label"] == "Python" and as_json["complete"] is True
    wallet.save()
    wallet.close()
    with Wallet.open(wallet.path, PASSPHRASE) as again:
        found = organise.find_pathway(again, "Junior developer")
        assert found.id == pathway.id and found.required == 3
        organise.delete_pathway(again, pathway.id)
        with pytest.raises(NotFound):
            organise.find_pathway(again, pathway.id)


def test_pathway_validation() -> None:
    with pytest.raises(ValueError):
        Requirement()
    with pytest.raises(ValueError):
        Requirement(achievement="a", alignment="b")
    with pytest.raises(ValueError):
        organise.Pathway(id="x", name="x", requirements=[])
    with pytest.raises(ValueError):
        organise.Pathway(id="x", name="x", requirements=[Requirement(achievement="a")], required=2)


def test_the_index_follows_changes(wallet: Wallet, issuer: Issuer) -> None:
    record = _store(wallet, issuer.credential(name="Carpentry"))
    assert _names(wallet, text="carpentry") == ["Carpentry"]
    wallet.remove(record.local_id)
    assert _names(wallet, text="carpentry") == []
    assert len(wallet.index) == 0
