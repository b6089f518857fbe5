"""The VC API (W3C VCALM) endpoints, and the node's verifier (the ``"verifier"`` service).

* ``POST /credentials/issue`` (scope ``credentials:issue``): ``{credential, options}`` -> 201
  ``{"verifiableCredential": ...}``, signed as the node identity named by ``credential.issuer``:
  Ed25519 keys sign eddsa-rdfc-2022, P-256 keys ecdsa-rdfc-2019, or ecdsa-sd-2023 when
  ``options.mandatoryPointers`` is given. ``options.credentialStatus`` (``{"type":
  "BitstringStatusListEntry", "statusPurpose"?}``), or a ``credentialStatus`` template without
  an index in the credential, adds a status entry of the node's lists.
* ``POST /credentials/verify`` and ``POST /presentations/verify`` (public, size-limited): 200
  with ``{"verified": true, ...}`` only when every check passes; otherwise 422 problem details
  that carry ``verified: false`` and one ``problemDetails`` item per failed or undecided check.
* ``POST /credentials/derive`` (public, size-limited): ``{verifiableCredential, options:
  {selectivePointers}}`` -> 201 with the derived ecdsa-sd-2023 credential.
* ``POST /credentials/status`` (scope ``credentials:revoke``): ``{credentialId,
  credentialStatus: {type, statusPurpose}, status}`` sets or clears a credential's status.

Verification resolves what the document names through the fetcher (did:web documents, status
lists): the node's own DID document and status lists are read locally, other ones are fetched
under the fetcher's policy, and a status list that cannot be had (or is stale) leaves the
status ``unknown``, which is never ``verified``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from aiohttp import web

from protocol.di.ecdsa_sd_2023 import derive
from protocol.did import Resolver
from protocol.errors import ProtocolError
from protocol.limits import MAX_SD_POINTERS
from protocol.ob import validate
from protocol.verify import Report, verify

from .appkeys import CLOCK, SERVICES
from .auth import public
from .fetch import Fetcher, UpstreamError
from .issuing import IssuingService
from .problems import PROBLEM_BASE, Problem, read_json
from .status import PURPOSES, StatusService

__all__ = ["MAX_VERIFY_BYTES", "NodeVerifier", "setup"]

#: Largest body accepted by the public endpoints (verify, derive), in bytes: a credential or a
#: presentation with a handful of credentials, not an upload.
MAX_VERIFY_BYTES = 512 * 1024
#: Largest age of a status list of this node or a peer (a daily re-signing plus a margin).
PEER_LIST_MAX_AGE = timedelta(hours=25)
#: Most DIDs and status lists resolved for one verification (bounds the fetching work).
MAX_REFERENCES = 32
_ISSUE_OPTIONS = frozenset({"mandatoryPointers", "credentialId", "credentialStatus", "cryptosuite"})
_VERIFY_OPTIONS = frozenset(
    {"returnResults", "returnProblemDetails", "returnCredential", "statusListCredentials"}
)
_VP_OPTIONS = frozenset(
    {"challenge", "domain", "returnResults", "returnProblemDetails", "returnPresentation"}
    | {"statusListCredentials"}
)
_SUITES = {
    "eddsa-rdfc-2022": "Ed25519",
    "ecdsa-rdfc-2019": "P-256",
    "ecdsa-sd-2023": "P-256",
}


def _id_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


class NodeVerifier:
    """Gathers what a document needs (DID documents, status lists) and runs the verifier."""

    def __init__(self, services: Mapping[str, Any], clock: Any) -> None:
        self._services = services
        self._clock = clock

    @property
    def _fetcher(self) -> Fetcher:
        return cast(Fetcher, self._services["fetcher"])

    def _own_document(self, did: str) -> dict[str, Any] | None:
        identity = self._services.get("identity")
        if identity is not None and did == identity.default_issuer():
            return cast(dict[str, Any], identity.did_document())
        return None

    async def _resolve(
        self, ids: set[str], documents: dict[str, Any], notes: list[tuple[str, str]]
    ) -> None:
        for controller in sorted(ids):
            if controller in documents or controller.startswith("did:key:"):
                continue
            own = self._own_document(controller)
            if own is not None:
                documents[controller] = own
                continue
            if not controller.startswith("did:web:"):
                continue
            try:
                documents[controller] = await self._fetcher.resolve_did(controller)
            except (UpstreamError, ProtocolError) as exc:
                detail = exc.detail if isinstance(exc, UpstreamError) else exc.message
                notes.append((controller, detail))

    async def _status_lists(
        self,
        credentials: Sequence[Mapping[str, Any]],
        given: Mapping[str, Any],
        now: datetime,
        notes: list[tuple[str, str]],
    ) -> dict[str, Any]:
        lists: dict[str, Any] = {}
        status: StatusService | None = self._services.get("status")
        for credential in credentials:
            issuer = _id_of(credential.get("issuer"))
            for entry in _as_list(credential.get("credentialStatus"))[:MAX_REFERENCES]:
                url = entry.get("statusListCredential") if isinstance(entry, Mapping) else None
                if not isinstance(url, str) or url in lists:
                    continue
                if url in given:
                    lists[url] = given[url]
                    continue
                own = status.list_id_for_url(url) if status is not None else None
                if own is not None and status is not None:
                    try:
                        lists[url] = status.list_credential(own, now=now)
                    except Problem as problem:
                        notes.append((url, problem.detail))
                    continue
                try:
                    fetched = await self._fetcher.status_list(url, issuer=issuer)
                except UpstreamError as exc:
                    notes.append((url, exc.detail))
                    continue
                lists[url] = fetched.document
        return lists

    def _max_age(self, lists: Mapping[str, Any]) -> timedelta | None:
        """specs/status.md ST-17: lists of this node and of its peers (Passeport nodes, which
        re-sign daily) must be younger than :data:`PEER_LIST_MAX_AGE`; others keep only their
        own ``validUntil``."""
        status: StatusService | None = self._services.get("status")
        for url in lists:
            own = status is not None and status.list_id_for_url(url) is not None
            if not (own or self._fetcher.is_peer(url)):
                return None
        return PEER_LIST_MAX_AGE if lists else None

    async def verify(
        self,
        document: Any,
        *,
        challenge: str | None = None,
        domain: str | Sequence[str] | None = None,
        status_lists: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Report:
        """Verify a credential or presentation, fetching the DID documents and status lists
        it names (see the module docstring). Never raises for bad input: see the report."""
        now = now or self._clock()
        if not isinstance(document, Mapping):
            return verify(document, now=now)
        credentials: list[Mapping[str, Any]] = [document]
        if "VerifiablePresentation" in _as_list(document.get("type")):
            credentials = [
                c for c in _as_list(document.get("verifiableCredential")) if isinstance(c, Mapping)
            ][:MAX_REFERENCES]
        notes: list[tuple[str, str]] = []
        lists = await self._status_lists(credentials, status_lists or {}, now, notes)
        ids: set[str] = set()
        for item in [document, *credentials, *lists.values()]:
            if not isinstance(item, Mapping):
                continue
            for name in ("issuer", "holder"):
                found = _id_of(item.get(name))
                if found:
                    ids.add(found.split("#", 1)[0])
            for proof in _as_list(item.get("proof")):
                if isinstance(proof, Mapping) and isinstance(proof.get("verificationMethod"), str):
                    ids.add(proof["verificationMethod"].split("#", 1)[0])
        documents: dict[str, Any] = {}
        await self._resolve(set(sorted(ids)[:MAX_REFERENCES]), documents, notes)
        report = await asyncio.to_thread(
            verify,
            document,
            now=now,
            resolver=Resolver(documents),
            challenge=challenge,
            domain=domain,
            status_lists=lists,
            status_max_age=self._max_age(lists),
        )
        for reference, detail in notes:
            report.add("retrieval", "unknown", f"{reference} could not be retrieved: {detail}")
        return report


# -- responses --------------------------------------------------------------------------------


def _problem_details(report: Report) -> list[dict[str, str]]:
    details = []
    for check in report.checks:
        if check.status == "pass":
            continue
        kind = "check-failed" if check.status == "fail" else "check-undecided"
        details.append({"type": PROBLEM_BASE + kind, "title": check.check, "detail": check.reason})
    for index, sub in enumerate(report.credentials):
        for item in _problem_details(sub):
            details.append(dict(item, title=f"credential[{index}] {item['title']}"))
    return details


def _credential_results(report: Report, credential: Mapping[str, Any]) -> dict[str, Any]:
    checks = {c.check: c for c in report.checks}
    proofs = _as_list(credential.get("proof"))
    results: dict[str, Any] = {}
    proof_results = []
    for index, proof in enumerate(proofs):
        mine = [c for c in report.checks if c.check.startswith(f"proof[{index}]")]
        proof_results.append(
            {"verified": bool(mine) and all(c.status == "pass" for c in mine), "input": proof}
        )
    results["proof"] = proof_results
    validity = checks.get("validity")
    for name in ("validFrom", "validUntil"):
        if name in credential:
            results[name] = {
                "verified": validity is not None and validity.status == "pass",
                "input": credential[name],
            }
    entries = _as_list(credential.get("credentialStatus"))
    if entries:
        status_results = []
        for index, entry in enumerate(entries):
            check = checks.get("status") if len(entries) == 1 and "status" in checks else None
            check = check or checks.get(f"status[{index}]")
            status_results.append(
                {"verified": check is not None and check.status == "pass", "input": entry}
            )
        results["credentialStatus"] = status_results
    return results


def _verification_response(
    report: Report,
    *,
    document: Mapping[str, Any],
    options: Mapping[str, Any],
    return_member: str,
    input_member: str,
) -> web.Response:
    body: dict[str, Any] = {"verified": report.verified}
    if options.get(return_member):
        body[input_member] = document
    if options.get("returnProblemDetails", True):
        body["problemDetails"] = _problem_details(report)
    if options.get("returnResults", True):
        if report.kind == "presentation":
            credentials = [
                c for c in _as_list(document.get("verifiableCredential")) if isinstance(c, Mapping)
            ]
            checks = {c.check: c for c in report.checks}
            presentation: dict[str, Any] = {"proof": _credential_results(report, document)["proof"]}
            if "challenge" in options:
                presentation["challenge"] = {
                    "verified": not any(
                        c.status != "pass" and ("challenge" in c.check or "proof" in c.check)
                        for c in report.checks
                    ),
                    "input": options["challenge"],
                }
            if report.holder is not None:
                bindings = [c for c in checks.values() if c.check.endswith("holder binding")]
                presentation["holder"] = {
                    "verified": all(c.status == "pass" for c in bindings),
                    "input": report.holder,
                }
            body["results"] = {
                "presentation": presentation,
                "credentials": [
                    {
                        "verified": sub.verified,
                        "problemDetails": _problem_details(sub),
                        "results": _credential_results(sub, credential),
                    }
                    for sub, credential in zip(report.credentials, credentials, strict=False)
                ],
            }
        else:
            body["results"] = _credential_results(report, document)
    if report.verified:
        return web.json_response(body)
    verdict = report.verdict
    problem = Problem(
        422,
        "verification-failed" if verdict == "invalid" else "verification-undecided",
        "; ".join(f"{d['title']}: {d['detail']}" for d in _problem_details(report)[:5])
        or "the document did not verify",
        verdict=verdict,
        **body,
    )
    raise problem


# -- handlers ---------------------------------------------------------------------------------


async def _require(request: web.Request, scope: str) -> Any:
    auth = request.app[SERVICES].get("auth")
    if auth is None:
        raise Problem(503, "unavailable", "this node has no authentication service")
    result = auth.require_scope(request, scope)
    return await result if asyncio.iscoroutine(result) else result


async def _body(request: web.Request, *, max_bytes: int | None = None) -> dict[str, Any]:
    body = await read_json(request, max_bytes=max_bytes)
    if not isinstance(body, dict):
        raise Problem(400, "malformed", "the request body must be a JSON object")
    return body


def _options(body: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    options = body.get("options", {})
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise Problem(400, "malformed", "options must be a JSON object")
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise Problem(400, "malformed", f"unknown options {unknown}", options=unknown)
    return options


def _pointers(value: Any, name: str) -> list[str]:
    if (
        not isinstance(value, list)
        or len(value) > MAX_SD_POINTERS
        or not all(isinstance(p, str) for p in value)
    ):
        raise Problem(400, "malformed", f"{name} must be an array of JSON Pointers", field=name)
    return value


def _given_lists(options: Mapping[str, Any]) -> dict[str, Any]:
    given = options.get("statusListCredentials")
    if given is None:
        return {}
    if not isinstance(given, list) or len(given) > MAX_REFERENCES:
        raise Problem(400, "malformed", "statusListCredentials must be an array of credentials")
    out = {}
    for item in given:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise Problem(400, "malformed", "each status list credential needs an id")
        out[item["id"]] = item
    return out


def _algorithms(identity: Any, issuer: str) -> list[str]:
    known = getattr(identity, "algorithms", None)
    if known is not None:
        return list(known(issuer))
    found = []
    for algorithm in ("Ed25519", "P-256"):
        try:
            identity.signing_key(issuer, algorithm)
        except Problem:
            continue
        found.append(algorithm)
    return found


def _status_purpose(credential: Mapping[str, Any], options: Mapping[str, Any]) -> str | None:
    asked = options.get("credentialStatus")
    template = credential.get("credentialStatus")
    if asked is None and isinstance(template, Mapping) and "statusListIndex" not in template:
        asked = template
    if asked is None:
        return None
    if not isinstance(asked, Mapping) or asked.get("type") not in (
        "BitstringStatusListEntry",
        "BitstringStatusList",
    ):
        raise Problem(
            400, "malformed", "credentialStatus must name the type BitstringStatusListEntry"
        )
    purpose = asked.get("statusPurpose", "revocation")
    if purpose not in PURPOSES:
        raise Problem(422, "invalid-field", f"statusPurpose must be one of {', '.join(PURPOSES)}")
    return str(purpose)


async def issue_credential(request: web.Request) -> web.Response:
    """``POST /credentials/issue``."""
    await _require(request, "credentials:issue")
    body = await _body(request)
    credential = body.get("credential")
    if not isinstance(credential, dict):
        raise Problem(400, "malformed", "credential must be a JSON object")
    options = _options(body, _ISSUE_OPTIONS)
    if "proof" in credential:
        raise Problem(400, "malformed", "the credential to issue must not carry a proof")
    issuer = _id_of(credential.get("issuer"))
    identity = request.app[SERVICES]["identity"]
    if issuer is None:
        raise Problem(422, "invalid-field", "credential.issuer must be a URL or an object with id")
    if issuer not in identity.issuer_ids():
        raise Problem(422, "unknown-issuer", f"this node does not hold the issuer {issuer}")
    algorithms = _algorithms(identity, issuer)
    mandatory = None
    if "mandatoryPointers" in options:
        mandatory = _pointers(options["mandatoryPointers"], "mandatoryPointers")
        suite = "ecdsa-sd-2023"
    elif "cryptosuite" in options:
        suite = options["cryptosuite"]
        if suite not in _SUITES:
            raise Problem(422, "invalid-field", f"cryptosuite must be one of {sorted(_SUITES)}")
        if suite == "ecdsa-sd-2023":
            mandatory = []
    else:
        suite = "eddsa-rdfc-2022" if "Ed25519" in algorithms else "ecdsa-rdfc-2019"
    algorithm = _SUITES[suite]
    if algorithm not in algorithms:
        raise Problem(422, "unsupported-suite", f"{issuer} has no {algorithm} key for {suite}")
    credential_id = options.get("credentialId")
    if credential_id is not None and not isinstance(credential_id, str):
        raise Problem(400, "malformed", "options.credentialId must be a string")
    purpose = _status_purpose(credential, options)
    unsigned = dict(credential)
    if purpose is None:
        issues = validate(unsigned)
    else:
        # The entry is added when signing: check the rest with a stand-in entry.
        unsigned.pop("credentialStatus", None)
        stand_in = {"id": "urn:status:entry", "type": "BitstringStatusListEntry"}
        issues = [
            i
            for i in validate({**unsigned, "credentialStatus": stand_in})
            if not (i.path or "").startswith("credentialStatus")
        ]
    if issues:
        raise Problem(
            422,
            "invalid-credential",
            "; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in issues[:5]),
            issues=[{"path": i.path, "message": i.message} for i in issues[:50]],
        )
    service = cast(IssuingService, request.app[SERVICES]["issuing"])
    try:
        text = await service.sign_document(
            unsigned,
            issuer=issuer,
            algorithm=algorithm,
            suite=suite,
            mandatory=mandatory,
            credential_id=credential_id,
            status_purpose=purpose,
            now=request.app[CLOCK](),
        )
    except ValueError as exc:
        raise Problem(422, "invalid-credential", str(exc)) from None
    return web.Response(
        text='{"verifiableCredential":' + text + "}",
        status=201,
        content_type="application/json",
    )


def _verifier(request: web.Request) -> NodeVerifier:
    return cast(NodeVerifier, request.app[SERVICES]["verifier"])


@public("VC API verifier: anyone may ask the node to verify a credential (size-limited)")
async def verify_credential(request: web.Request) -> web.Response:
    """``POST /credentials/verify``."""
    body = await _body(request, max_bytes=MAX_VERIFY_BYTES)
    credential = body.get("verifiableCredential")
    if not isinstance(credential, dict):
        raise Problem(400, "malformed", "verifiableCredential must be a JSON object")
    options = _options(body, _VERIFY_OPTIONS)
    report = await _verifier(request).verify(credential, status_lists=_given_lists(options))
    if report.kind != "credential":
        raise Problem(400, "malformed", "verifiableCredential is not a VerifiableCredential")
    return _verification_response(
        report,
        document=credential,
        options=options,
        return_member="returnCredential",
        input_member="credential",
    )


@public("VC API verifier: anyone may ask the node to verify a presentation (size-limited)")
async def verify_presentation(request: web.Request) -> web.Response:
    """``POST /presentations/verify``."""
    body = await _body(request, max_bytes=MAX_VERIFY_BYTES)
    presentation = body.get("verifiablePresentation")
    if not isinstance(presentation, dict):
        raise Problem(400, "malformed", "verifiablePresentation must be a JSON object")
    options = _options(body, _VP_OPTIONS)
    challenge = options.get("challenge")
    domain = options.get("domain")
    if challenge is not None and not isinstance(challenge, str):
        raise Problem(400, "malformed", "options.challenge must be a string")
    if domain is not None and not (
        isinstance(domain, str)
        or (isinstance(domain, list) and all(isinstance(d, str) for d in domain))
    ):
        raise Problem(400, "malformed", "options.domain must be a string or strings")
    report = await _verifier(request).verify(
        presentation, challenge=challenge, domain=domain, status_lists=_given_lists(options)
    )
    if report.kind != "presentation":
        raise Problem(400, "malformed", "verifiablePresentation is not a VerifiablePresentation")
    return _verification_response(
        report,
        document=presentation,
        options=options,
        return_member="returnPresentation",
        input_member="verifiablePresentation",
    )


@public("VC API holder: deriving a disclosure uses only the data sent (size-limited)")
async def derive_credential(request: web.Request) -> web.Response:
    """``POST /credentials/derive``."""
    body = await _body(request, max_bytes=MAX_VERIFY_BYTES)
    credential = body.get("verifiableCredential")
    if not isinstance(credential, dict):
        raise Problem(400, "malformed", "verifiableCredential must be a JSON object")
    options = _options(body, frozenset({"selectivePointers"}))
    pointers = _pointers(options.get("selectivePointers", []), "selectivePointers")
    try:
        derived = await asyncio.to_thread(derive, credential, selective_pointers=pointers)
    except ValueError as exc:
        raise Problem(400, "malformed", str(exc)) from None
    return web.Response(
        text=json.dumps(derived, ensure_ascii=False),
        status=201,
        content_type="application/json",
    )


async def update_status(request: web.Request) -> web.Response:
    """``POST /credentials/status``: VCALM UpdateCredentialStatusRequest."""
    await _require(request, "credentials:revoke")
    body = await _body(request)
    unknown = sorted(set(body) - {"credentialId", "credentialStatus", "status", "indexAllocator"})
    if unknown:
        raise Problem(400, "malformed", f"unknown members {unknown}")
    credential_id = body.get("credentialId")
    entry = body.get("credentialStatus")
    value = body.get("status")
    if not isinstance(credential_id, str):
        raise Problem(400, "malformed", "credentialId must be a string")
    if not isinstance(entry, dict) or not isinstance(entry.get("statusPurpose"), str):
        raise Problem(400, "malformed", "credentialStatus needs type and statusPurpose")
    if entry.get("type") not in ("BitstringStatusListEntry", "BitstringStatusList"):
        raise Problem(400, "malformed", "credentialStatus.type must be BitstringStatusListEntry")
    if not isinstance(value, bool):
        raise Problem(400, "malformed", "status must be true or false")
    service = cast(IssuingService, request.app[SERVICES]["issuing"])
    issued = service.get(credential_id)
    if issued is None:
        raise Problem(404, "not-found", f"no credential {credential_id!r}")
    purpose = entry["statusPurpose"]
    if purpose != issued.status_purpose:
        raise Problem(
            409,
            "conflict",
            f"the credential's status entry is for {issued.status_purpose or 'nothing'}, "
            f"not {purpose}",
        )
    now = request.app[CLOCK]()
    if purpose == "revocation":
        if not value:
            raise Problem(409, "conflict", "a revocation is permanent and cannot be undone")
        issued = service.revoke(credential_id, None, now=now)
    else:
        issued = service.suspend(credential_id, value, now=now)
    return web.json_response(
        {
            "credentialId": credential_id,
            "credentialStatus": issued.status,
            "status": value,
            "state": issued.state,
        }
    )


def setup(app: web.Application) -> None:
    """Publish the ``"verifier"`` service and the VC API routes."""
    app[SERVICES]["verifier"] = NodeVerifier(app[SERVICES], app[CLOCK])
    app.router.add_post("/credentials/issue", issue_credential)
    app.router.add_post("/credentials/verify", verify_credential)
    app.router.add_post("/presentations/verify", verify_presentation)
    app.router.add_post("/credentials/derive", derive_credential)
    app.router.add_post("/credentials/status", update_status)
