"""Open Badges 3.0: timestamps, schemas, lossless model, builders, validation, strategies."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld import jsonld

from protocol.errors import MalformedError
from protocol.jsonld.loader import default_loader
from protocol.ob import (
    OB_CONTEXT_3_0_3,
    OB_EXTENSIONS_CONTEXT,
    VC_CONTEXT_V2,
    Achievement,
    AchievementSubject,
    Alignment,
    Criteria,
    EndorsementCredential,
    Evidence,
    IdentityObject,
    Issue,
    OpenBadgeCredential,
    Profile,
    Result,
    build_credential,
    build_endorsement,
    check_recipient,
    contexts_for,
    credential_kind,
    hashed_email_identity,
    load_schema,
    normalize_email,
    validate,
    validate_presentation,
    validate_profile,
)
from protocol.ob import schema as ob_schema
from protocol.timeutil import format_datetime, is_datetime_stamp, parse_datetime, require_aware
from tests.property.strategies import achievements, evidence_items, ob_credentials

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
EXAMPLES = VECTORS / "ob3-examples"
CREDENTIAL_EXAMPLES = ["simple.json", "simple-did-key-method.json", "complete.json"]
ALL_EXAMPLES = [*CREDENTIAL_EXAMPLES, "endorsement-valid.json"]
START = datetime(2025, 1, 1, tzinfo=UTC)


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text("utf-8"))
    return data


def simple() -> dict[str, Any]:
    return example("simple.json")


def issue_at(issues: list[Issue], path: str) -> Issue:
    matches = [i for i in issues if i.path == path]
    assert matches, f"no issue at {path!r}: {issues}"
    return matches[0]


# -- timeutil ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2010-01-01T00:00:00Z", datetime(2010, 1, 1, tzinfo=UTC)),
        ("2022-11-10T07:38:00-08:00", datetime(2022, 11, 10, 15, 38, tzinfo=UTC)),
        ("2010-01-01T00:00:00+14:00", datetime(2009, 12, 31, 10, tzinfo=UTC)),
        ("2010-01-01T00:00:00.123456789Z", datetime(2010, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2010-01-01T24:00:00Z", datetime(2010, 1, 2, tzinfo=UTC)),
        ("2024-02-29T12:00:00Z", datetime(2024, 2, 29, 12, tzinfo=UTC)),
    ],
)
def test_parse_datetime_accepts_datetime_stamps(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC
    assert is_datetime_stamp(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2010-01-01T00:00:00", "no time zone"),
        ("2010-01-01T00:00:00.5", "no time zone"),
        ("2010-01-01 00:00:00Z", "not an RFC 3339"),
        ("2010-01-01t00:00:00z", "not an RFC 3339"),
        ("2010-01-01", "not an RFC 3339"),
        ("2010-02-30T00:00:00Z", "not a valid date"),
        ("2010-13-01T00:00:00Z", "not a valid date"),
        ("2010-01-01T25:00:00Z", "not a valid date"),
        ("2010-01-01T24:00:01Z", "hour 24"),
        ("2016-12-31T23:59:60Z", "leap seconds"),
        ("2010-01-01T00:00:00+14:30", "offset"),
        ("2010-01-01T00:00:00+0100", "not an RFC 3339"),
        ("0000-01-01T00:00:00Z", "year 0000"),
        ("10000-01-01T00:00:00Z", "not an RFC 3339"),
        ("２０１０-01-01T00:00:00Z", "not an RFC 3339"),  # full-width digits
        ("2010-01-01T00:00:00Z" + "0" * 60, "too long"),
    ],
)
def test_parse_datetime_rejects(text: str, fragment: str) -> None:
    with pytest.raises(MalformedError, match=fragment):
        parse_datetime(text)
    assert not is_datetime_stamp(text)


def test_parse_datetime_rejects_non_strings() -> None:
    with pytest.raises(MalformedError, match="must be a timestamp string"):
        parse_datetime(1262304000)
    assert not is_datetime_stamp(None)


def test_format_datetime_is_utc_seconds_z() -> None:
    paris = timezone(timedelta(hours=2))
    assert format_datetime(datetime(2025, 6, 1, 12, 30, 15, 999999, tzinfo=paris)) == (
        "2025-06-01T10:30:15Z"
    )
    assert format_datetime(datetime(5, 1, 2, tzinfo=UTC)) == "0005-01-02T00:00:00Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_datetime(datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        require_aware(datetime(2025, 1, 1), "valid_from")
    with pytest.raises(TypeError):
        require_aware("2025-01-01T00:00:00Z", "x")  # type: ignore[arg-type]


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
    )
)
def test_format_then_parse_round_trips_to_the_second(value: datetime) -> None:
    # Compare in UTC: PEP 495 makes datetimes in a DST fold or gap unequal across zones.
    expected = value.astimezone(UTC).replace(microsecond=0)
    assert parse_datetime(format_datetime(value)) == expected


# -- packaged schemas ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["achievementcredential", "endorsementcredential", "profile"])
def test_packaged_schemas_are_verbatim_copies_of_the_vectors(name: str) -> None:
    packaged = ob_schema.SCHEMA_FILES[name]  # type: ignore[index]
    text = (Path(ob_schema.__file__).parent / "schemas" / packaged).read_bytes()
    assert text == (VECTORS / "ob3-schemas" / packaged).read_bytes()
    assert load_schema(name)["$schema"] == "https://json-schema.org/draft/2019-09/schema#"  # type: ignore[arg-type]


def test_validators_are_compiled_once_and_reused() -> None:
    first = ob_schema.schema_validator("achievementcredential")
    assert ob_schema.schema_validator("achievementcredential") is first
    assert ob_schema.schema_validator("endorsementcredential") is not first


def test_schema_registry_never_retrieves_unknown_uris() -> None:
    from referencing.exceptions import Unresolvable

    resolver = ob_schema._registry().resolver()
    with pytest.raises(Unresolvable):
        resolver.lookup("https://purl.imsglobal.org/spec/ob/v3p0/schema/json/unknown.json")
    local = resolver.lookup(
        "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/"
        "ob_v3p0_achievementcredential-jsonschema1.json#/$defs/Achievement"
    )
    assert local.contents["required"] == ["id", "type", "criteria", "description", "name"]


def test_unknown_schema_name() -> None:
    with pytest.raises(ValueError, match="unknown Open Badges schema"):
        load_schema("clr")  # type: ignore[arg-type]


# -- official examples ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_official_examples_validate_clean(name: str) -> None:
    assert validate(example(name)) == []


def test_example_kinds() -> None:
    assert credential_kind(example("simple.json")) == "achievementcredential"
    assert credential_kind(example("simple-did-key-method.json")) == "achievementcredential"
    assert credential_kind(example("endorsement-valid.json")) == "endorsementcredential"
    assert credential_kind(json.loads((VECTORS / "vc-di-eddsa/unsigned.json").read_text())) is None


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_official_examples_round_trip_exactly(name: str) -> None:
    raw = (EXAMPLES / name).read_text("utf-8")
    source = json.loads(raw)
    cls = EndorsementCredential if name.startswith("endorsement") else OpenBadgeCredential
    model = cls.from_dict(source)
    out = model.to_dict()
    assert out == source
    assert json.dumps(out) == json.dumps(source)
    assert json.dumps(out, indent=2) == json.dumps(json.loads(raw), indent=2)
    # Signed material is kept, never rebuilt.
    assert model.proof[0] is source["proof"][0]
    # A second parse of the output is equal to the first model.
    assert cls.from_dict(out) == model


def test_complete_example_model_contents() -> None:
    source = example("complete.json")
    model = OpenBadgeCredential.from_dict(source)
    assert model.issuer_id == "https://1edtech.edu/issuers/565049"
    assert model.valid_from == datetime(2010, 1, 1, tzinfo=UTC)
    assert model.valid_until == datetime(2030, 1, 1, tzinfo=UTC)
    subject = model.credential_subject
    assert subject.credits_earned == 42
    assert isinstance(subject.credits_earned, int)
    assert [i.identity_type for i in subject.identifier] == ["emailAddress", "emailAddress"]
    achievement = subject.achievement
    assert achievement.achievement_type == "Degree"
    assert achievement.tag == ["research", "computer science"]
    assert achievement.creator is not None and achievement.creator.parent_org is not None
    assert achievement.creator.parent_org.id == "did:example:123456789"
    rubric = achievement.result_description[1].rubric_criterion_level
    assert [level.name for level in rubric] == ["Mastery", "Basic"]
    assert rubric[0].alignment[0].target_type == "CFRubricCriterionLevel"
    assert (
        achievement.endorsement[0] is source["credentialSubject"]["achievement"]["endorsement"][0]
    )
    assert model.endorsement[0] is source["endorsement"][0]
    assert model.credential_status == {
        "id": "https://1edtech.edu/credentials/3732/revocations",
        "type": "1EdTechRevocationList",
    }
    assert model.evidence[1].id == "https://github.com/somebody/project"
    # Address and otherIdentifier are not modelled: they stay, in place, in `unrecognized`.
    assert list(model.issuer.unrecognized) == ["address", "otherIdentifier"]  # type: ignore[union-attr]


def test_timestamp_text_with_offset_is_kept_until_the_instant_changes() -> None:
    source = example("simple-did-key-method.json")
    model = OpenBadgeCredential.from_dict(source)
    assert model.to_dict()["validFrom"] == "2022-11-10T07:38:00-08:00"
    assert model.to_dict(normalize=True)["validFrom"] == "2022-11-10T15:38:00Z"
    model.valid_from += timedelta(hours=1)
    assert model.to_dict()["validFrom"] == "2022-11-10T16:38:00Z"


# -- model ---------------------------------------------------------------------------------------


def test_single_values_are_accepted_and_written_back_as_given() -> None:
    source = simple()
    source["type"] = "OpenBadgeCredential"
    source["credentialSubject"]["type"] = "AchievementSubject"
    source["credentialSubject"]["achievement"]["type"] = "Achievement"
    source["proof"] = source["proof"][0]
    model = OpenBadgeCredential.from_dict(source)
    assert model.type == ["OpenBadgeCredential"]
    assert model.credential_subject.achievement.type == ["Achievement"]
    assert model.to_dict() == source
    normalized = model.to_dict(normalize=True)
    assert normalized["type"] == ["OpenBadgeCredential"]
    assert normalized["credentialSubject"]["achievement"]["type"] == ["Achievement"]
    assert normalized["proof"] == [source["proof"]]
    assert normalized["proof"][0] is source["proof"]


def test_unknown_members_kept_in_order_and_nulls_preserved() -> None:
    source = simple()
    achievement = source["credentialSubject"]["achievement"]
    source["credentialSubject"]["achievement"] = {
        "x-first": {"nested": [1, 2]},
        **achievement,
        "version": None,
        "x-last": "z",
    }
    model = OpenBadgeCredential.from_dict(source)
    parsed = model.credential_subject.achievement
    assert parsed.version is None
    assert parsed.unrecognized == {"x-first": {"nested": [1, 2]}, "version": None, "x-last": "z"}
    out = model.to_dict()
    assert json.dumps(out) == json.dumps(source)
    assert "version" not in model.to_dict(normalize=True)["credentialSubject"]["achievement"]


def test_new_objects_follow_the_serialization_rules() -> None:
    achievement = Achievement(
        id="urn:uuid:a",
        name="Teamwork",
        description="Works well with others",
        criteria=Criteria(narrative="Peer nominated"),
        alignment=[Alignment(target_name="T", target_url="https://example.org/t")],
    )
    out = achievement.to_dict()
    assert list(out) == ["id", "type", "name", "description", "criteria", "alignment"]
    assert out["type"] == ["Achievement"]
    assert out["alignment"] == [
        {"type": ["Alignment"], "targetName": "T", "targetUrl": "https://example.org/t"}
    ]
    assert "tag" not in out  # empty arrays are omitted
    assert Achievement.from_dict(out) == achievement


def test_model_constructors_reject_naive_datetimes_and_anonymous_subjects() -> None:
    achievement = Achievement.from_dict(simple()["credentialSubject"]["achievement"])
    subject = AchievementSubject(id="did:example:1", achievement=achievement)
    with pytest.raises(ValueError, match="timezone-aware"):
        OpenBadgeCredential(
            id="urn:uuid:1",
            issuer="https://example.org/i",
            valid_from=datetime(2025, 1, 1),
            credential_subject=subject,
        )
    with pytest.raises(ValueError, match="'id' or at least one 'identifier'"):
        AchievementSubject(achievement=achievement)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("validFrom"), "validFrom: required property missing"),
        (lambda d: d.update(validFrom="2010-01-01T00:00:00"), "validFrom: timestamp"),
        (
            lambda d: d["credentialSubject"].pop("achievement"),
            "credentialSubject.achievement: required property missing",
        ),
        (
            lambda d: d["credentialSubject"]["achievement"].update(name=7),
            "credentialSubject.achievement.name: expected a string, got a number",
        ),
        (
            lambda d: d["credentialSubject"]["achievement"].update(tag=["a", 1]),
            r"credentialSubject.achievement.tag\[1\]: expected a string",
        ),
        (lambda d: d.update(credentialStatus=[{}]), "credentialStatus: expected a single object"),
        (lambda d: d.update(issuer=5), "issuer: expected a URI string or a Profile object"),
        (
            lambda d: d["credentialSubject"].pop("id"),
            "credentialSubject: an AchievementSubject needs",
        ),
        (lambda d: d.update(proof=["x"]), r"proof\[0\]: expected an object"),
        (lambda d: d.update({"@context": [3]}), r"@context\[0\]: expected a context URL"),
    ],
)
def test_from_dict_reports_malformed_members_with_their_path(mutate: Any, message: str) -> None:
    source = simple()
    mutate(source)
    with pytest.raises(MalformedError, match=message):
        OpenBadgeCredential.from_dict(source)


def test_from_dict_rejects_non_objects() -> None:
    with pytest.raises(MalformedError, match="document: expected an object, got an array"):
        OpenBadgeCredential.from_dict([])  # type: ignore[arg-type]


def test_identity_object_and_result_models() -> None:
    identity = IdentityObject.from_dict(hashed_email_identity("a@example.com", "Kosher"))
    assert identity.hashed is True and identity.salt == "Kosher"
    result = Result(result_description="urn:uuid:rd", status="Completed")
    assert result.to_dict() == {
        "type": ["Result"],
        "resultDescription": "urn:uuid:rd",
        "status": "Completed",
    }
    with pytest.raises(MalformedError, match="hashed: expected a boolean"):
        IdentityObject.from_dict({**identity.to_dict(), "hashed": "true"}, path="")


# -- builders ------------------------------------------------------------------------------------


def test_hashed_email_identity_matches_the_spec_example() -> None:
    identity = hashed_email_identity("a@example.com", "Kosher")
    assert identity == {
        "type": "IdentityObject",
        "identityHash": "sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399",
        "identityType": "emailAddress",
        "hashed": True,
        "salt": "Kosher",
    }
    assert hashed_email_identity("  A@Example.COM ", "Kosher") == identity
    assert "salt" not in hashed_email_identity("a@example.com", "")


@pytest.mark.parametrize("bad", ["", "no-at-sign", "@example.com", "a@", "a b@example.com"])
def test_normalize_email_rejects_non_addresses(bad: str) -> None:
    with pytest.raises(ValueError, match="not an e-mail address"):
        normalize_email(bad)


def _issuer() -> dict[str, Any]:
    return {"id": "did:web:node-a.test", "type": ["Profile"], "name": "Nœud A"}


def _achievement() -> dict[str, Any]:
    return simple()["credentialSubject"]["achievement"]


def test_built_credential_validates_and_uses_arrays() -> None:
    credential = build_credential(
        issuer=_issuer(),
        achievement=_achievement(),
        subject_id="did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        identity=hashed_email_identity("conformance@imsglobal.org", "c0ffee"),
        credential_id="urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5",
        valid_from=datetime(2025, 9, 1, 8, 30, tzinfo=timezone(timedelta(hours=2))),
        valid_until=datetime(2030, 1, 1, tzinfo=UTC),
        evidence=[Evidence(name="Rapport final", narrative="# Résumé")],
        results=[{"type": "Result", "value": "A"}],
    )
    assert validate(credential) == []
    assert credential["@context"] == [VC_CONTEXT_V2, OB_CONTEXT_3_0_3]
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["name"] == "Teamwork"  # defaults to the achievement's name
    assert credential["validFrom"] == "2025-09-01T06:30:00Z"
    assert credential["validUntil"] == "2030-01-01T00:00:00Z"
    subject = credential["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert subject["result"] == [{"type": ["Result"], "value": "A"}]
    assert credential["evidence"] == [
        {"type": ["Evidence"], "narrative": "# Résumé", "name": "Rapport final"}
    ]
    assert check_recipient(subject, "Conformance@imsglobal.org")
    assert list(credential)[:3] == ["@context", "id", "type"]


def test_build_adds_extensions_context_only_for_extension_types() -> None:
    common: dict[str, Any] = {
        "issuer": "did:web:node-a.test",
        "achievement": _achievement(),
        "subject_id": "did:example:holder",
        "identity": None,
        "credential_id": "urn:uuid:1",
        "valid_from": START,
    }
    status = {
        "id": "https://node-a.test/status/1#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "42",
        "statusListCredential": "https://node-a.test/status/1",
    }
    plain = build_credential(**common, extra={"credentialStatus": status})
    assert plain["@context"] == [VC_CONTEXT_V2, OB_CONTEXT_3_0_3]
    assert plain["credentialStatus"] == status
    with_schema = build_credential(
        **common,
        extra={
            "credentialSchema": {
                "id": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/"
                "ob_v3p0_achievementcredential_schema.json",
                "type": "1EdTechJsonSchemaValidator2019",
            },
            "awardedDate": "2024-12-31T23:00:00+00:00",
        },
    )
    assert with_schema["@context"] == [VC_CONTEXT_V2, OB_CONTEXT_3_0_3, OB_EXTENSIONS_CONTEXT]
    assert isinstance(with_schema["credentialSchema"], list)  # single value -> array
    assert with_schema["awardedDate"] == "2024-12-31T23:00:00Z"
    assert validate(with_schema) == []
    assert contexts_for(example("complete.json"))[-1] == OB_EXTENSIONS_CONTEXT


def test_build_credential_rejects_bad_input() -> None:
    common: dict[str, Any] = {
        "issuer": _issuer(),
        "achievement": _achievement(),
        "credential_id": "urn:uuid:1",
        "valid_from": START,
    }
    with pytest.raises(ValueError, match="subject_id, identity, or both"):
        build_credential(**common, subject_id=None, identity=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        build_credential(
            **{**common, "valid_from": datetime(2025, 1, 1)},
            subject_id="did:example:1",
            identity=None,
        )
    with pytest.raises(ValueError, match="would replace"):
        build_credential(**common, subject_id="did:example:1", identity=None, extra={"id": "x"})
    with pytest.raises(ValueError, match=r"validUntil: .* is earlier than validFrom"):
        build_credential(
            **common,
            subject_id="did:example:1",
            identity=None,
            valid_until=START - timedelta(days=1),
        )
    with pytest.raises(ValueError, match=r"issuer\.id: 'node-a' is not a URL"):
        build_credential(
            **{**common, "issuer": {"id": "node-a", "type": ["Profile"]}},
            subject_id="did:example:1",
            identity=None,
        )
    with pytest.raises(MalformedError, match=r"achievement\.criteria: required property missing"):
        build_credential(
            **{**common, "achievement": {"id": "urn:x", "name": "n", "description": "d"}},
            subject_id="did:example:1",
            identity=None,
        )


def test_built_endorsement_validates() -> None:
    endorsement = build_endorsement(
        issuer={"id": "https://accrediter.example/issuers/1", "type": ["Profile"], "name": "EAA"},
        subject_id="https://1edtech.edu/issuers/565049",
        credential_id="urn:uuid:e1",
        valid_from=START,
        valid_until=START + timedelta(days=365),
        name="Accréditation",
        comment="En règle ✅",
    )
    assert validate(endorsement) == []
    assert credential_kind(endorsement) == "endorsementcredential"
    assert endorsement["credentialSubject"] == {
        "id": "https://1edtech.edu/issuers/565049",
        "type": ["EndorsementSubject"],
        "endorsementComment": "En règle ✅",
    }
    assert EndorsementCredential.from_dict(endorsement).to_dict() == endorsement


# -- recipient -----------------------------------------------------------------------------------


def _subject_with(*identities: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": ["AchievementSubject"],
        "achievement": _achievement(),
        "identifier": [*identities],
    }


def test_check_recipient_hashed_and_plain() -> None:
    spec = hashed_email_identity("a@example.com", "Kosher")
    assert check_recipient(_subject_with(spec), "a@example.com")
    assert check_recipient(_subject_with(spec), " A@EXAMPLE.com ")
    assert not check_recipient(_subject_with(spec), "b@example.com")
    upper = {**spec, "identityHash": spec["identityHash"].upper().replace("SHA256$", "sha256$")}
    assert check_recipient(_subject_with(upper), "a@example.com")
    # An issuer that hashed the address exactly as typed (mixed case) still matches.
    exact = hashlib.sha256(b"Alice@Example.org" + b"pepper").hexdigest()
    typed = {**spec, "identityHash": f"sha256${exact}", "salt": "pepper"}
    assert check_recipient(_subject_with(typed), "Alice@Example.org")
    md5 = {**spec, "identityHash": "md5$" + hashlib.md5(b"a@example.comKosher").hexdigest()}
    assert check_recipient(_subject_with(md5), "a@example.com")
    unsalted = {
        **spec,
        "identityHash": "sha256$" + hashlib.sha256(b"a@example.com").hexdigest(),
    }
    del unsalted["salt"]
    assert check_recipient(_subject_with(unsalted), "a@example.com")
    plain = {
        "type": "IdentityObject",
        "identityHash": "Student@1EdTech.edu",
        "identityType": "emailAddress",
        "hashed": False,
    }
    assert check_recipient(_subject_with(plain), "student@1edtech.edu")
    other_type = {**plain, "identityType": "sourcedId"}
    assert not check_recipient(_subject_with(other_type), "student@1edtech.edu")
    unknown_algorithm = {**spec, "identityHash": "sha1$abc"}
    assert not check_recipient(_subject_with(unknown_algorithm), "a@example.com")
    assert not check_recipient({"type": ["AchievementSubject"], "id": "did:x:1"}, "a@example.com")


def test_check_recipient_on_models_and_the_complete_example() -> None:
    subject = example("complete.json")["credentialSubject"]
    assert check_recipient(subject, "somebody@gmail.com")
    assert check_recipient(AchievementSubject.from_dict(subject), "student@1edtech.edu")
    assert not check_recipient(subject, "nobody@gmail.com")
    with pytest.raises(TypeError):
        check_recipient("did:example:1", "a@example.com")  # type: ignore[arg-type]


# -- validation: negative cases ------------------------------------------------------------------


def test_missing_achievement() -> None:
    doc = simple()
    del doc["credentialSubject"]["achievement"]
    issues = validate(doc)
    assert issue_at(issues, "credentialSubject.achievement").message == "required property missing"


def test_missing_criteria_message_is_precise() -> None:
    doc = simple()
    del doc["credentialSubject"]["achievement"]["criteria"]
    assert [str(i) for i in validate(doc)] == [
        "credentialSubject.achievement.criteria: required property missing"
    ]


def test_credential_status_as_array() -> None:
    doc = example("complete.json")
    doc["credentialStatus"] = [doc["credentialStatus"]]
    assert validate(doc) == [
        Issue("credentialStatus", "must be a single object in Open Badges 3.0, not an array")
    ]


def test_credential_status_needs_id_and_type() -> None:
    doc = simple()
    doc["credentialStatus"] = {"statusPurpose": "revocation"}
    issues = validate(doc)
    assert issue_at(issues, "credentialStatus.type").message == "required property missing"
    assert issue_at(issues, "credentialStatus.id").message == "required property missing"


def test_wrong_context_order() -> None:
    doc = simple()
    doc["@context"].reverse()
    issues = validate(doc)
    assert issues == [
        Issue("@context[0]", f"first item must be {VC_CONTEXT_V2!r}"),
        Issue(
            "@context[1]",
            "second item must be an Open Badges 3.0 context such as "
            "'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json'",
        ),
    ]


def test_vc_1_1_context_is_named() -> None:
    doc = simple()
    doc["@context"][0] = "https://www.w3.org/2018/credentials/v1"
    assert "VC 1.1 context" in issue_at(validate(doc), "@context[0]").message


def test_missing_ob_context() -> None:
    doc = simple()
    doc["@context"] = [VC_CONTEXT_V2]
    assert issue_at(validate(doc), "@context").message == (
        "second item must be an Open Badges 3.0 context"
    )


@pytest.mark.parametrize(
    "context",
    [
        "https://purl.imsglobal.org/spec/ob/v3p0/context.json",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",
    ],
)
def test_older_ob_contexts_are_accepted(context: str) -> None:
    doc = simple()
    doc["@context"][1] = context
    assert validate(doc) == []


def test_naive_date() -> None:
    doc = simple()
    doc["validFrom"] = "2010-01-01T00:00:00"
    issue = issue_at(validate(doc), "validFrom")
    assert issue.message.startswith("not an XML Schema dateTimeStamp")
    assert "has no time zone" in issue.message


def test_valid_until_before_valid_from() -> None:
    doc = simple()
    doc["validUntil"] = "2009-12-31T23:59:59Z"
    assert validate(doc) == [
        Issue("validUntil", "2009-12-31T23:59:59Z is earlier than validFrom 2010-01-01T00:00:00Z")
    ]


def test_valid_until_compared_as_instants_not_text() -> None:
    doc = simple()
    doc["validFrom"] = "2010-01-01T10:00:00+10:00"  # 00:00Z
    doc["validUntil"] = "2010-01-01T01:00:00Z"
    assert validate(doc) == []


def test_subject_with_neither_id_nor_identifier() -> None:
    doc = simple()
    del doc["credentialSubject"]["id"]
    assert validate(doc) == [
        Issue(
            "credentialSubject", "an AchievementSubject needs an 'id' or at least one 'identifier'"
        )
    ]
    doc["credentialSubject"]["identifier"] = []
    assert issue_at(validate(doc), "credentialSubject").message.startswith("an AchievementSubject")
    doc["credentialSubject"]["identifier"] = [hashed_email_identity("a@example.com", "s")]
    assert validate(doc) == []


def test_type_needs_verifiable_credential() -> None:
    doc = simple()
    doc["type"] = ["OpenBadgeCredential"]
    assert issue_at(validate(doc), "type").message == "must include 'VerifiableCredential'"


def test_issuer_rules() -> None:
    doc = simple()
    del doc["issuer"]["id"]
    assert issue_at(validate(doc), "issuer.id").message == "required property missing"
    doc["issuer"] = "not a url"
    assert issue_at(validate(doc), "issuer").message == "'not a url' is not a URL"
    doc["issuer"] = ["https://example.com/issuers/876543"]
    assert issue_at(validate(doc), "issuer").message.startswith("expected a URL or an object")


@pytest.mark.parametrize("prop", ["credentialSchema", "evidence", "termsOfUse"])
def test_typed_entries_need_a_type(prop: str) -> None:
    doc = simple()
    doc[prop] = [{"id": "https://example.org/x"}]
    assert issue_at(validate(doc), f"{prop}[0].type").message == "required property missing"


def test_refresh_service_needs_a_type() -> None:
    doc = simple()
    doc["refreshService"] = {"id": "https://example.org/refresh"}
    assert issue_at(validate(doc), "refreshService.type").message == "required property missing"


def test_credential_schema_needs_an_id() -> None:
    doc = simple()
    doc["credentialSchema"] = [{"type": "JsonSchema"}]
    assert issue_at(validate(doc), "credentialSchema[0].id").message == "required property missing"


def test_schema_findings_are_precise() -> None:
    doc = example("complete.json")
    subject = doc["credentialSubject"]
    subject["achievement"]["achievementType"] = "Bogus"
    subject["achievement"]["type"] = ["Badge"]
    subject["identifier"][0]["identityType"] = 5
    subject["result"][2]["status"] = "Done"
    doc["issuer"]["image"]["width"] = 64
    doc["issuer"]["type"] = "Profile"
    doc["evidence"][0]["type"] = []
    found = {str(i) for i in validate(doc)}
    assert found == {
        "credentialSubject.achievement.achievementType: 'Bogus' is not one of the defined values "
        "and does not match the extension pattern (ext:)[a-z|A-Z|0-9|.|-|_]+",
        "credentialSubject.achievement.type: must include 'Achievement'",
        "credentialSubject.identifier[0].identityType: expected a string, got a number",
        "credentialSubject.result[2].status: 'Done' is not one of the 7 defined values",
        "issuer.image.width: property not allowed here",
        "issuer.type: expected an array, got a string",
        "evidence[0].type: must have at least 1 item",
        "evidence[0].type: must include 'Evidence'",
    }


def test_result_links_into_the_achievement() -> None:
    doc = example("complete.json")
    results = doc["credentialSubject"]["result"]
    results[0]["resultDescription"] = "urn:uuid:missing"
    results[1]["achievedLevel"] = "urn:uuid:missing-level"
    results.append(
        {"type": ["Result"], "resultDescription": "urn:uuid:b07c0387-f2d6-4b65-a3f4-f4e4302ea8f7"}
    )
    assert {str(i) for i in validate(doc)} == {
        "credentialSubject.result[0].resultDescription: no resultDescription with this id in "
        "credentialSubject.achievement",
        "credentialSubject.result[1].achievedLevel: no rubricCriterionLevel with this id in the "
        "achievement's resultDescriptions",
        "credentialSubject.result[3].status: required property missing (the linked "
        "resultDescription has resultType 'Status')",
    }


def test_embedded_endorsements_get_the_vc_rules() -> None:
    doc = example("complete.json")
    endorsement = doc["credentialSubject"]["achievement"]["endorsement"][0]
    endorsement["validFrom"] = "2010-01-01T00:00:00"
    endorsement["@context"] = endorsement["@context"][::-1]
    found = {i.path for i in validate(doc)}
    base = "credentialSubject.achievement.endorsement[0]"
    assert {f"{base}.validFrom", f"{base}.@context[0]", f"{base}.@context[1]"} <= found


def test_plain_verifiable_credential_gets_only_the_vc_rules() -> None:
    vc = json.loads((VECTORS / "vc-di-eddsa/unsigned.json").read_text("utf-8"))
    assert validate(vc) == []
    vc["credentialSubject"] = {}
    assert validate(vc) == [
        Issue("credentialSubject", "must not be empty (a subject carries at least one claim)")
    ]
    vc["credentialSubject"] = []
    assert validate(vc) == [Issue("credentialSubject", "must hold at least one subject")]
    vc["credentialSubject"] = [{"id": "did:example:1", "a": 1}, "did:example:2"]
    assert validate(vc) == [Issue("credentialSubject[1]", "expected an object, got a string")]


def test_plain_vc_status_may_be_an_array_but_each_entry_needs_a_type() -> None:
    vc = json.loads((VECTORS / "vc-di-eddsa/unsigned.json").read_text("utf-8"))
    vc["credentialStatus"] = [{"id": "https://example.org/s#1", "type": "X"}, {"id": "bad id"}]
    assert validate(vc) == [
        Issue("credentialStatus[1].type", "required property missing"),
        Issue("credentialStatus[1].id", "'bad id' is not a URL"),
    ]


def test_language_values() -> None:
    vc = json.loads((VECTORS / "vc-di-eddsa/unsigned.json").read_text("utf-8"))
    vc["name"] = [
        {"@value": "Diplôme", "@language": "fr"},
        {"@value": "شهادة", "@language": "ar", "@direction": "rtl"},
    ]
    assert validate(vc) == []
    vc["description"] = {"@value": "x", "@language": "en", "extra": 1}
    vc["name"] = [{"@language": "fr"}]
    assert validate(vc) == [
        Issue("name[0]", "expected a string or a language value object with '@value'"),
        Issue("description", "language value object has unexpected members ['extra']"),
    ]
    # OB types the credential name as a plain string.
    doc = simple()
    doc["name"] = {"@value": "Teamwork", "@language": "en"}
    assert validate(doc) == [Issue("name", "expected a string, got an object")]


def test_validate_never_raises_on_non_objects_and_deep_documents() -> None:
    assert validate([]) == [Issue("", "expected a credential object, got an array")]  # type: ignore[arg-type]
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(100):
        node["x"] = {}
        node = node["x"]
    assert validate(deep) == [Issue("", "nested deeper than 64 levels")]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
doc_members = st.sampled_from(
    [
        "@context",
        "type",
        "issuer",
        "validFrom",
        "validUntil",
        "credentialSubject",
        "credentialStatus",
        "evidence",
        "name",
        "id",
        "proof",
        "credentialSchema",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(doc_members, json_values, max_size=8))
def test_validate_and_from_dict_only_report_on_garbage(document: dict[str, Any]) -> None:
    for kind in (["VerifiableCredential", "OpenBadgeCredential"], ["VerifiableCredential"]):
        issues = validate({**document, "type": kind})
        assert all(isinstance(i, Issue) for i in issues)
    try:
        OpenBadgeCredential.from_dict(document)
    except MalformedError:
        pass


# -- presentations and profiles ------------------------------------------------------------------


def _presentation(*credentials: Any) -> dict[str, Any]:
    return {
        "@context": [VC_CONTEXT_V2],
        "type": ["VerifiablePresentation"],
        "holder": "did:example:ebfeb1f712ebc6f1c276e12ec21",
        "verifiableCredential": list(credentials),
    }


def test_valid_presentation() -> None:
    assert validate_presentation(_presentation(simple(), example("complete.json"))) == []
    enveloped = {
        "@context": [VC_CONTEXT_V2],
        "type": ["EnvelopedVerifiableCredential"],
        "id": "data:application/vc+jwt,eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
    }
    assert validate_presentation(_presentation(enveloped)) == []


def test_presentation_rules() -> None:
    bad = simple()
    bad["validUntil"] = "2000-01-01T00:00:00Z"
    vp = _presentation("https://example.org/credentials/1", bad)
    vp["type"] = ["VerifiableCredential"]
    vp["holder"] = {"name": "me"}
    assert validate_presentation(vp) == [
        Issue("type", "must include 'VerifiablePresentation'"),
        Issue("holder.id", "required property missing"),
        Issue("verifiableCredential[0]", "must be a credential object, not a string (a URL)"),
        Issue(
            "verifiableCredential[1].validUntil",
            "2000-01-01T00:00:00Z is earlier than validFrom 2010-01-01T00:00:00Z",
        ),
    ]
    vp = _presentation({"type": ["EnvelopedVerifiableCredential"], "id": "https://x"})
    vp["holder"] = 7
    assert validate_presentation(vp) == [
        Issue("holder", "expected a URL or an object with a URL 'id'"),
        Issue("verifiableCredential[0].id", "must be a data: URL"),
    ]
    assert validate_presentation(_presentation(*([simple()] * 65))) == [
        Issue("verifiableCredential", "holds 65 credentials, more than the limit of 64")
    ]
    assert validate_presentation("vp") == [  # type: ignore[arg-type]
        Issue("", "expected a presentation object, got a string")
    ]


def test_profile_validation() -> None:
    issuer = example("complete.json")["issuer"]
    assert validate_profile(issuer) == []
    assert Profile.from_dict(issuer).to_dict() == issuer
    del issuer["id"]
    assert validate_profile(issuer) == [Issue("id", "required property missing")]


# -- generated credentials (tests/property/strategies.py) ----------------------------------------

ISSUER = "did:web:node-a.test"
GENERATED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@GENERATED
@given(ob_credentials(ISSUER))
def test_generated_credentials_validate_and_round_trip(doc: dict[str, Any]) -> None:
    assert validate(doc) == []
    issuer = doc["issuer"]
    assert (issuer if isinstance(issuer, str) else issuer["id"]) == ISSUER
    model = OpenBadgeCredential.from_dict(doc)
    assert json.dumps(model.to_dict(), ensure_ascii=False) == json.dumps(doc, ensure_ascii=False)
    again = json.loads(json.dumps(doc))
    assert OpenBadgeCredential.from_dict(again) == model


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(achievements(), st.lists(evidence_items(), max_size=2), st.booleans())
def test_credentials_built_from_generated_parts_validate(
    achievement: dict[str, Any], evidence: list[dict[str, Any]], hashed: bool
) -> None:
    credential = build_credential(
        issuer=ISSUER,
        achievement=achievement,
        subject_id=None if hashed else "did:example:holder",
        identity=hashed_email_identity("élève@example.fr", "sel") if hashed else None,
        credential_id="urn:uuid:00000000-0000-4000-8000-000000000000",
        valid_from=START,
        evidence=evidence,
    )
    assert validate(credential) == []
    assert not hashed or check_recipient(credential["credentialSubject"], "Élève@example.fr")


_UNDEFINED = "urn:undefined-term:"


def undefined_terms(document: dict[str, Any]) -> list[str]:
    """Members and types JSON-LD cannot map with the document's own contexts.

    The document is expanded with a trailing ``@vocab`` context: every undefined member or
    type then expands under that sentinel vocabulary instead of being silently dropped.
    """
    probe = copy.deepcopy(document)
    probe["@context"] = [*probe["@context"], {"@vocab": _UNDEFINED}]
    expanded = jsonld.expand(probe, {"documentLoader": default_loader(), "base": None})
    found: list[str] = []
    stack: list[Any] = [expanded]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key.startswith(_UNDEFINED):
                    found.append(key)
                if key == "@type":
                    types = value if isinstance(value, list) else [value]
                    found.extend(t for t in types if t.startswith(_UNDEFINED) or ":" not in t)
                if key == "@id" and ":" not in value:
                    found.append(value)
                stack.append(value)
    return found


def test_undefined_term_probe_detects_undefined_terms() -> None:
    doc = simple()
    assert undefined_terms(doc) == []
    doc["credentialSubject"]["nickname"] = "x"
    doc["type"].append("HonoraryCredential")
    assert sorted(undefined_terms(doc)) == [
        f"{_UNDEFINED}HonoraryCredential",
        f"{_UNDEFINED}nickname",
    ]
    assert undefined_terms(example("complete.json")) == []


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ob_credentials(ISSUER))
def test_generated_credentials_use_only_defined_terms(doc: dict[str, Any]) -> None:
    assert undefined_terms(doc) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ob_credentials(ISSUER))
def test_generated_credentials_canonicalize_without_data_loss(doc: dict[str, Any]) -> None:
    from protocol.jsonld.canonicalize import canonicalize

    nquads = canonicalize(doc, loader=default_loader())
    assert "<https://purl.imsglobal.org/spec/vc/ob/vocab.html#achievement>" in nquads
