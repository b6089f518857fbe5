"""eddsa-rdfc-2022 both ways between Passeport and Digital Bazaar's JS stack.

Passeport signs, the JS stack verifies; the JS stack signs, Passeport verifies; tampered copies
fail on both sides; one key file serves both; and, Ed25519 being deterministic, both sides sign
the same document with the same key and ``created`` into the same proofValue.

Passeport is driven through its CLI (``passeport keys new | sign | verify --json``) and through
its Python API (``protocol.di.sign``, ``protocol.verify.verify``, ``protocol.keys``,
``protocol.did``). The Python API is imported inside the tests, so that the JS-only tests of this
package still run while a module of Passeport is being written.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from protocol.encoding import base58btc_decode
from tests.interop import fixtures
from tests.interop.dbstack_client import DbStack
from tests.interop.helpers import (
    CREATED,
    NOW,
    CliKey,
    as_proof_set,
    assert_report_shape,
    cli_sign,
    cli_verify,
    failed_checks,
    only_proof,
    parse_time,
    proof_value,
    tamper_leaf,
    tamper_proof_value,
)

pytestmark = pytest.mark.interop

FIXTURES = sorted(fixtures.FIXTURES)
TAMPERINGS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "leaf": tamper_leaf,
    "proofValue": tamper_proof_value,
}


@dataclass(frozen=True)
class SignedPair:
    """One fixture signed with the same key file and ``created`` by each side."""

    passeport: dict[str, Any]
    js: dict[str, Any]


@pytest.fixture(scope="module")
def signed_by_both(
    cli_key: CliKey, dbstack: DbStack, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], SignedPair]:
    """Sign fixture ``name`` with ``passeport sign`` and with the JS stack (cached per module)."""
    cache: dict[str, SignedPair] = {}

    def get(name: str) -> SignedPair:
        if name not in cache:
            directory = tmp_path_factory.mktemp(f"signed-{name}")
            credential = fixtures.credential(name, cli_key.did)
            by_passeport = cli_sign(cli_key.path, credential, directory, created=CREATED)
            by_js = dbstack.sign(credential, cli_key.path, created=CREATED)
            cache[name] = SignedPair(by_passeport, by_js)
        return cache[name]

    return get


def _passeport_proof_failed(report: dict[str, Any]) -> bool:
    return any(c["check"].startswith("proof") and c["status"] == "fail" for c in report["checks"])


# -- the key file ----------------------------------------------------------------------------------


def test_cli_key_file_is_a_multikey_the_js_stack_loads(cli_key: CliKey, dbstack: DbStack) -> None:
    doc = cli_key.document
    public = doc["publicKeyMultibase"]
    assert cli_key.did == f"did:key:{public}"
    assert doc["type"] == "Multikey"
    context = doc.get("@context")
    assert context == "https://w3id.org/security/multikey/v1" or (
        isinstance(context, list) and "https://w3id.org/security/multikey/v1" in context
    )
    assert doc.get("controller", cli_key.did) == cli_key.did
    assert doc.get("id", f"{cli_key.did}#{public}") == f"{cli_key.did}#{public}"
    secret = base58btc_decode(doc["secretKeyMultibase"])
    assert secret[:2] == b"\x80\x26" and len(secret) == 2 + 32, "ed25519-priv multicodec + seed"
    credential = fixtures.credential("minimal", cli_key.did)
    signed = dbstack.sign(credential, cli_key.path, created=CREATED)
    assert only_proof(signed)["verificationMethod"] == f"{cli_key.did}#{public}"
    assert dbstack.verify(signed, now=NOW)["verified"]


@pytest.mark.parametrize("form", ["seed", "seed+public"])
def test_js_key_file_works_in_passeport(dbstack: DbStack, tmp_path: Path, form: str) -> None:
    """A key file exported by ed25519-multikey (32-byte seed, or its default 64-byte legacy
    form) signs in Passeport into what the JS stack signs and verifies."""
    generated = dbstack.call("generateKey", type="Ed25519", canonicalize=form == "seed")
    key_path = tmp_path / "js.key.json"
    key_path.write_text(json.dumps(generated["keyFile"]), "utf-8")
    credential = fixtures.credential("evidence", generated["did"])
    by_passeport = cli_sign(key_path, credential, tmp_path, created=CREATED)
    by_js = dbstack.sign(credential, key_path, created=CREATED)
    assert only_proof(by_passeport)["verificationMethod"] == generated["verificationMethod"]
    assert proof_value(by_passeport) == proof_value(by_js)
    assert dbstack.verify(by_passeport, now=NOW)["verified"]
    verdict = cli_verify([by_js, by_passeport], tmp_path)
    assert verdict.returncode == 0, verdict.explain()
    assert [r["verified"] for r in verdict.reports] == [True, True]


# -- CLI, both directions ------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_passeport_signed_verifies_in_js(
    name: str, cli_key: CliKey, dbstack: DbStack, signed_by_both: Callable[[str], SignedPair]
) -> None:
    signed = signed_by_both(name).passeport
    issuer = signed["issuer"]
    assert (issuer["id"] if isinstance(issuer, dict) else issuer) == cli_key.did
    assert only_proof(signed)["cryptosuite"] == "eddsa-rdfc-2022"
    assert only_proof(signed)["created"] == CREATED
    result = dbstack.verify(signed, now=NOW)
    assert result["verified"], result["errors"]


@pytest.mark.parametrize("name", FIXTURES)
def test_js_signed_verifies_in_passeport(
    name: str, tmp_path: Path, signed_by_both: Callable[[str], SignedPair]
) -> None:
    pair = signed_by_both(name)
    verdict = cli_verify([pair.js, pair.passeport], tmp_path)
    assert verdict.returncode == 0, verdict.explain()
    assert len(verdict.reports) == 2
    for report in verdict.reports:
        assert_report_shape(report)
        assert report["verified"] is True, failed_checks(report)


@pytest.mark.parametrize("name", FIXTURES)
def test_same_document_same_key_same_proof_value(
    name: str, signed_by_both: Callable[[str], SignedPair]
) -> None:
    """Ed25519 is deterministic: equal canonical forms and proof options give equal signatures."""
    pair = signed_by_both(name)
    assert proof_value(pair.passeport) == proof_value(pair.js), (
        "same key, same document, same created, different signatures: the canonical N-Quads "
        "or the proof options differ (see test_canonical_n_quads_agree)"
    )
    assert as_proof_set(pair.passeport) == as_proof_set(pair.js)


@pytest.mark.parametrize("name", FIXTURES)
def test_tampered_copies_fail_in_js(
    name: str, dbstack: DbStack, signed_by_both: Callable[[str], SignedPair]
) -> None:
    pair = signed_by_both(name)
    for signer, signed in (("passeport", pair.passeport), ("js", pair.js)):
        for how, tamper in TAMPERINGS.items():
            result = dbstack.verify(tamper(signed), now=NOW)
            assert not result["verified"], f"{signer}-signed, {how} changed: accepted by JS"
            assert "Invalid signature." in result["errors"], (signer, how, result)


@pytest.mark.parametrize("name", FIXTURES)
def test_tampered_copies_fail_in_passeport(
    name: str, tmp_path: Path, signed_by_both: Callable[[str], SignedPair]
) -> None:
    pair = signed_by_both(name)
    cases = [
        (signer, how, tamper(signed))
        for signer, signed in (("passeport", pair.passeport), ("js", pair.js))
        for how, tamper in TAMPERINGS.items()
    ]
    verdict = cli_verify([doc for _, _, doc in cases], tmp_path)
    assert verdict.returncode == 1, verdict.explain()
    assert len(verdict.reports) == len(cases)
    for (signer, how, _), report in zip(cases, verdict.reports, strict=True):
        assert_report_shape(report)
        assert report["verified"] is False, f"{signer}-signed, {how} changed: accepted"
        assert _passeport_proof_failed(report), (signer, how, failed_checks(report))


# -- canonical form ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_canonical_n_quads_agree(name: str, dbstack: DbStack) -> None:
    """The first thing to compare when proofValues differ: RDFC-1.0 N-Quads of each side."""
    from protocol.jsonld.canonicalize import canonicalize
    from protocol.jsonld.loader import default_loader

    document = fixtures.credential(name, "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2")
    js = dbstack.call("canonize", document=document)["nquads"]
    ours = canonicalize(document, loader=default_loader())
    diff = "".join(
        difflib.unified_diff(js.splitlines(True), ours.splitlines(True), "js", "passeport")
    )
    assert ours == js, f"canonical N-Quads differ:\n{diff}"


# -- Python API ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def py_key() -> Any:
    """A Passeport key pair bound to its did:key (``protocol.keys`` + ``protocol.did``)."""
    from protocol.did import key_pair_as_did_key
    from protocol.keys import generate

    return key_pair_as_did_key(generate("Ed25519"))


@pytest.mark.parametrize("name", FIXTURES)
def test_python_api_and_js_sign_alike_and_verify_each_other(
    name: str, py_key: Any, dbstack: DbStack
) -> None:
    from protocol.di import sign
    from protocol.verify import verify

    credential = fixtures.credential(name, py_key.controller)
    ours = sign(credential, key=py_key, created=parse_time(CREATED))
    theirs = dbstack.sign(credential, py_key.to_key_file(), created=CREATED)
    assert proof_value(ours) == proof_value(theirs)
    assert dbstack.verify(ours, now=NOW)["verified"]
    report = verify(theirs, now=parse_time(NOW))
    assert report.verified, failed_checks(report)
    for tamper in TAMPERINGS.values():
        assert not verify(tamper(theirs), now=parse_time(NOW)).verified


def test_python_api_loads_a_js_key_file(js_key: dict[str, Any], dbstack: DbStack) -> None:
    from protocol.di import sign
    from protocol.did import key_pair_as_did_key
    from protocol.keys import load_key_file

    pair = load_key_file(js_key["keyFile"])
    assert pair.public.multibase == js_key["keyFile"]["publicKeyMultibase"]
    bound = pair if pair.controller is not None else key_pair_as_did_key(pair)
    assert bound.controller == js_key["did"]
    assert bound.id == js_key["verificationMethod"]
    credential = fixtures.credential("unicode", js_key["did"])
    ours = sign(credential, key=bound, created=parse_time(CREATED))
    theirs = dbstack.sign(credential, js_key["keyFile"], created=CREATED)
    assert as_proof_set(ours) == as_proof_set(theirs)


# -- presentations -------------------------------------------------------------------------------

CHALLENGE = "d5c4f3e2-1b0a-4f9e-8d7c-6b5a4f3e2d1c"
DOMAIN = "verifier.example"


def _credential_for(holder_did: str, issuer: dict[str, Any], dbstack: DbStack) -> dict[str, Any]:
    credential = fixtures.credential("nested-results", str(issuer["did"]))
    credential["credentialSubject"]["id"] = holder_did
    return dbstack.sign(credential, issuer["keyFile"], created=CREATED)


def test_passeport_presentation_verifies_in_js(
    py_key: Any, js_key: dict[str, Any], dbstack: DbStack
) -> None:
    from protocol.di import sign

    presentation = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": py_key.controller,
        "verifiableCredential": [_credential_for(py_key.controller, js_key, dbstack)],
    }
    signed = sign(
        presentation,
        key=py_key,
        created=parse_time(CREATED),
        purpose="authentication",
        challenge=CHALLENGE,
        domain=DOMAIN,
    )
    result = dbstack.call(
        "verifyPresentation", presentation=signed, challenge=CHALLENGE, domain=DOMAIN, now=NOW
    )
    assert result["verified"], result["errors"]
    assert result["presentationVerified"]
    assert [r["verified"] for r in result["credentialResults"]] == [True]
    replay = dbstack.call(
        "verifyPresentation", presentation=signed, challenge="other", domain=DOMAIN, now=NOW
    )
    assert not replay["verified"]
    # and the same presentation signed by the JS stack carries the same proofValue
    theirs = dbstack.call(
        "signPresentation",
        presentation=presentation,
        keyFile=py_key.to_key_file(),
        challenge=CHALLENGE,
        domain=DOMAIN,
        created=CREATED,
    )["signed"]
    assert proof_value(theirs) == proof_value(signed)


def test_js_presentation_verifies_in_passeport(
    py_key: Any, js_key: dict[str, Any], dbstack: DbStack
) -> None:
    from protocol.verify import verify

    signed = dbstack.call(
        "signPresentation",
        credentials=[_credential_for(py_key.controller, js_key, dbstack)],
        holder=py_key.controller,
        keyFile=py_key.to_key_file(),
        challenge=CHALLENGE,
        domain=DOMAIN,
        created=CREATED,
    )["signed"]
    now = parse_time(NOW)
    report = verify(signed, now=now, challenge=CHALLENGE, domain=DOMAIN)
    assert report.verified, failed_checks(report) + [
        line for sub in report.credentials for line in failed_checks(sub)
    ]
    assert not verify(signed, now=now, challenge="other", domain=DOMAIN).verified
    assert not verify(signed, now=now, challenge=CHALLENGE, domain="elsewhere.example").verified


# -- generated content -----------------------------------------------------------------------------


def _ob_credentials() -> Any:
    try:
        from tests.property.strategies import ob_credentials
    except ImportError as exc:
        pytest.fail(
            f"tests/property/strategies.py with ob_credentials(issuer_id) is needed: {exc}",
            pytrace=False,
        )
    return ob_credentials


def test_generated_ob_credentials_interoperate(py_key: Any, dbstack: DbStack) -> None:
    """Over generated OB 3.0 content: same proofValue on both sides, and each side verifies the
    other's proof. Only the proof is judged here (generated validity windows and status entries
    are the data model's business, not the signature's)."""
    from hypothesis import HealthCheck, given, settings

    from protocol.di import sign
    from protocol.verify import verify

    strategy = _ob_credentials()(py_key.controller)
    now = parse_time(NOW)

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(strategy)
    def check(credential: dict[str, Any]) -> None:
        ours = sign(credential, key=py_key, created=parse_time(CREATED))
        theirs = dbstack.sign(credential, py_key.to_key_file(), created=CREATED)
        assert proof_value(ours) == proof_value(theirs)
        js_result = dbstack.verify(ours, purpose="assertionMethod")
        assert js_result["verified"], js_result["errors"]
        report = verify(theirs, now=now)
        proof_checks = [c for c in report.checks if c.check.startswith("proof")]
        assert proof_checks and all(c.status == "pass" for c in proof_checks), failed_checks(report)

    check()


@pytest.mark.parametrize("name", FIXTURES)
def test_js_signed_proof_as_a_one_element_set_verifies_both_sides(
    name: str, py_key: Any, dbstack: DbStack
) -> None:
    """The OB 3.0 JSON Schema wants ``proof`` as an array, while jsonld-signatures writes one
    proof as an object. The same proof written as a one-element set verifies on both sides."""
    from protocol.verify import verify

    credential = fixtures.credential(name, py_key.controller)
    signed = dbstack.sign(credential, py_key.to_key_file(), created=CREATED)
    as_set = dict(signed, proof=[only_proof(signed)])
    assert dbstack.verify(as_set, now=NOW)["verified"]
    report = verify(as_set, now=parse_time(NOW))
    assert report.verified, failed_checks(report)
