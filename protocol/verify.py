"""Verification as a report: every check of a credential or presentation, each with a reason.

``verify(document, *, now, ...)`` never raises for bad input: it returns a :class:`Report` whose
verdict fails closed. ``valid`` needs every check to pass; any failed check makes the document
``invalid``; a check that could not be decided (a status list not at hand, say) makes it
``unknown``, which is never reported as valid.

Everything the verifier trusts arrives as an argument: the clock (``now``), the DID and controller
documents (``resolver``), the JSON-LD contexts (``loader``). Nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from .di import verify_proofs
from .did import Resolver
from .errors import DataLossError, DocumentLoaderError, MalformedError, ProtocolError
from .jsonld.canonicalize import canonicalize
from .jsonld.loader import StaticDocumentLoader, default_loader
from .limits import MAX_CLOCK_SKEW_SECONDS, MAX_CREDENTIALS_PER_PRESENTATION
from .ob import validate, validate_presentation
from .xsd import parse_datetime

__all__ = ["Check", "Report", "Status", "verify"]

Status = Literal["pass", "fail", "unknown"]
Verdict = Literal["valid", "invalid", "unknown"]


@dataclass(frozen=True)
class Check:
    """One verification step and its outcome."""

    check: str
    status: Status
    reason: str

    def to_dict(self) -> dict[str, str]:
        """The JSON form used by ``passeport verify --json`` and the VC API."""
        return {"check": self.check, "status": self.status, "reason": self.reason}


@dataclass
class Report:
    """The outcome of verifying one document."""

    kind: Literal["credential", "presentation", "document"]
    checks: list[Check] = field(default_factory=list)
    id: str | None = None
    issuer: str | None = None
    holder: str | None = None
    types: list[str] = field(default_factory=list)
    credentials: list[Report] = field(default_factory=list)

    def add(self, check: str, status: Status, reason: str) -> None:
        """Record a check."""
        self.checks.append(Check(check, status, reason))

    @property
    def verdict(self) -> Verdict:
        """``invalid`` if anything failed, ``unknown`` if anything is undecided, else ``valid``."""
        statuses = {c.status for c in self.checks}
        for sub in self.credentials:
            statuses.add(
                {"valid": "pass", "invalid": "fail", "unknown": "unknown"}[sub.verdict]  # type: ignore[arg-type]
            )
        if not self.checks or "fail" in statuses:
            return "invalid"
        if "unknown" in statuses:
            return "unknown"
        return "valid"

    @property
    def verified(self) -> bool:
        """True only when the verdict is ``valid``."""
        return self.verdict == "valid"

    @property
    def errors(self) -> list[str]:
        """The reasons of failed checks, for one-line summaries."""
        return [f"{c.check}: {c.reason}" for c in self.checks if c.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        """The structured report (documented in ``specs/verification-report.md``)."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "verified": self.verified,
            "verdict": self.verdict,
        }
        for name in ("id", "issuer", "holder"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.types:
            out["type"] = list(self.types)
        out["checks"] = [c.to_dict() for c in self.checks]
        if self.kind == "presentation":
            out["credentials"] = [r.to_dict() for r in self.credentials]
        return out


def _id_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _types(document: Mapping[str, Any]) -> list[str]:
    value = document.get("type", [])
    items = value if isinstance(value, list) else [value]
    return [t for t in items if isinstance(t, str)]


def _check_jsonld(
    report: Report, document: Mapping[str, Any], loader: StaticDocumentLoader
) -> bool:
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    try:
        canonicalize(unsecured, loader=loader)
    except (DocumentLoaderError, DataLossError, MalformedError) as exc:
        report.add("json-ld", "fail", exc.message)
        return False
    except ProtocolError as exc:
        report.add("json-ld", "fail", exc.message)
        return False
    report.add("json-ld", "pass", "contexts known, every term defined, no data loss")
    return True


def _check_proofs(
    report: Report,
    document: Mapping[str, Any],
    *,
    resolver: Resolver,
    now: datetime,
    purpose: str,
    challenge: str | None,
    domain: str | Sequence[str] | None,
    loader: StaticDocumentLoader,
    signer: str | None,
    signer_role: str,
) -> list[str]:
    """Record one check per proof; return the controllers of the proofs that verified."""
    try:
        results = verify_proofs(
            document,
            resolver=resolver,
            now=now,
            expected_purpose=purpose,
            challenge=challenge,
            domain=domain,
            loader=loader,
        )
    except ProtocolError as exc:
        report.add("proof", "fail", exc.message)
        return []
    if not results:
        report.add("proof", "fail", "the document carries no proof")
        return []
    controllers = []
    for result in results:
        label = f"proof[{result.index}] {result.name}"
        if result.error is not None:
            report.add(label, "fail", result.error.message)
            continue
        report.add(label, "pass", f"signature valid, key {result.verification_method}")
        if result.controller is not None:
            controllers.append(result.controller)
            if signer is not None:
                if result.controller == signer:
                    report.add(
                        f"{label} {signer_role}",
                        "pass",
                        f"the signing key belongs to the {signer_role} {signer}",
                    )
                else:
                    report.add(
                        f"{label} {signer_role}",
                        "fail",
                        f"the signing key belongs to {result.controller}, "
                        f"not to the {signer_role} {signer}",
                    )
            else:
                report.add(f"{label} {signer_role}", "fail", f"the document names no {signer_role}")
    return controllers


def _check_validity(report: Report, document: Mapping[str, Any], now: datetime) -> None:
    skew = timedelta(seconds=MAX_CLOCK_SKEW_SECONDS)
    try:
        valid_from = (
            parse_datetime(document["validFrom"], what="validFrom", require_timezone=True)
            if "validFrom" in document
            else None
        )
        valid_until = (
            parse_datetime(document["validUntil"], what="validUntil", require_timezone=True)
            if "validUntil" in document
            else None
        )
        # VC 1.1 names, still found on credentials in the field.
        if valid_from is None and "issuanceDate" in document:
            valid_from = parse_datetime(document["issuanceDate"], what="issuanceDate")
        if valid_until is None and "expirationDate" in document:
            valid_until = parse_datetime(document["expirationDate"], what="expirationDate")
    except MalformedError as exc:
        report.add("validity", "fail", exc.message)
        return
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        report.add("validity", "fail", "validUntil is before validFrom")
    elif valid_from is not None and now + skew < valid_from:
        report.add("validity", "fail", f"not valid before {document.get('validFrom')}")
    elif valid_until is not None and now - skew > valid_until:
        report.add("validity", "fail", f"expired at {document.get('validUntil')}")
    else:
        report.add("validity", "pass", "within its validity period")


def _check_status(report: Report, document: Mapping[str, Any]) -> None:
    status = document.get("credentialStatus")
    if status is None:
        report.add("status", "pass", "the credential declares no status list")
        return
    report.add(
        "status",
        "unknown",
        "the credential has a status entry and no status list was provided to check it",
    )


def verify_credential(
    document: Mapping[str, Any],
    *,
    now: datetime,
    resolver: Resolver | None = None,
    loader: StaticDocumentLoader | None = None,
) -> Report:
    """Verify a credential: syntax, schema, JSON-LD, proofs, issuer key, validity, status."""
    loader = loader or default_loader()
    resolver = resolver or Resolver()
    report = Report("credential", id=_id_of(document), types=_types(document))
    report.issuer = _id_of(document.get("issuer"))
    issues = validate(document)
    if issues:
        shown = "; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in issues[:5])
        more = f" (and {len(issues) - 5} more)" if len(issues) > 5 else ""
        report.add("schema", "fail", shown + more)
    else:
        report.add("schema", "pass", "valid against the data model and its JSON Schema")
    if _check_jsonld(report, document, loader):
        _check_proofs(
            report,
            document,
            resolver=resolver,
            now=now,
            purpose="assertionMethod",
            challenge=None,
            domain=None,
            loader=loader,
            signer=report.issuer,
            signer_role="issuer",
        )
    _check_validity(report, document, now)
    _check_status(report, document)
    return report


def _subject_ids(credential: Mapping[str, Any]) -> list[str]:
    subject = credential.get("credentialSubject")
    subjects = subject if isinstance(subject, list) else [subject]
    return [s["id"] for s in subjects if isinstance(s, Mapping) and isinstance(s.get("id"), str)]


def verify_presentation(
    document: Mapping[str, Any],
    *,
    now: datetime,
    challenge: str | None,
    domain: str | Sequence[str] | None,
    resolver: Resolver | None = None,
    loader: StaticDocumentLoader | None = None,
) -> Report:
    """Verify a presentation: its authentication proof (challenge, domain), the holder's key,
    each credential, and that each credential naming a subject is bound to the holder."""
    loader = loader or default_loader()
    resolver = resolver or Resolver()
    report = Report("presentation", id=_id_of(document), types=_types(document))
    report.holder = _id_of(document.get("holder"))
    issues = validate_presentation(document)
    if issues:
        report.add(
            "schema",
            "fail",
            "; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in issues[:5]),
        )
    else:
        report.add("schema", "pass", "a well-formed verifiable presentation")
    if challenge is None:
        report.add(
            "challenge", "fail", "no expected challenge was given: replay cannot be ruled out"
        )
    if _check_jsonld(report, document, loader):
        _check_proofs(
            report,
            document,
            resolver=resolver,
            now=now,
            purpose="authentication",
            challenge=challenge,
            domain=domain,
            loader=loader,
            signer=report.holder,
            signer_role="holder",
        )
    credentials = document.get("verifiableCredential", [])
    credentials = credentials if isinstance(credentials, list) else [credentials]
    if len(credentials) > MAX_CREDENTIALS_PER_PRESENTATION:
        report.add(
            "credentials", "fail", f"more than {MAX_CREDENTIALS_PER_PRESENTATION} credentials"
        )
        return report
    for index, credential in enumerate(credentials):
        if not isinstance(credential, Mapping):
            report.add(f"credential[{index}]", "fail", "not a JSON object")
            continue
        sub = verify_credential(credential, now=now, resolver=resolver, loader=loader)
        report.credentials.append(sub)
        subjects = _subject_ids(credential)
        if subjects:
            if report.holder is not None and report.holder in subjects:
                report.add(
                    f"credential[{index}] holder binding",
                    "pass",
                    "the credential's subject is the holder",
                )
            else:
                report.add(
                    f"credential[{index}] holder binding",
                    "fail",
                    f"the credential is bound to {subjects[0]}, not to the holder "
                    f"{report.holder or '(none named)'}",
                )
    return report


def verify(
    document: Any,
    *,
    now: datetime,
    resolver: Resolver | None = None,
    loader: StaticDocumentLoader | None = None,
    challenge: str | None = None,
    domain: str | Sequence[str] | None = None,
) -> Report:
    """Verify a credential or a presentation, whichever ``document`` is."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not isinstance(document, Mapping):
        report = Report("document")
        report.add("syntax", "fail", "a credential or presentation must be a JSON object")
        return report
    types = _types(document)
    if "VerifiablePresentation" in types:
        return verify_presentation(
            document, now=now, challenge=challenge, domain=domain, resolver=resolver, loader=loader
        )
    if "VerifiableCredential" in types:
        return verify_credential(document, now=now, resolver=resolver, loader=loader)
    report = Report("document", id=_id_of(document), types=types)
    report.add(
        "syntax", "fail", "type names neither VerifiableCredential nor VerifiablePresentation"
    )
    return report
