"""Verification as a report: every check of a credential or presentation, each with a reason.

``verify(document, *, now, ...)`` never raises for bad input: it returns a :class:`Report` whose
verdict fails closed. ``valid`` needs every check to pass; any failed check makes the document
``invalid``; a check that could not be decided (a status list not at hand, say) makes it
``unknown``, which is never reported as valid.

Everything the verifier trusts arrives as an argument: the clock (``now``), the DID and controller
documents (``resolver``), the JSON-LD contexts (``loader``), the status list credentials
(``status_lists``, keyed by their URL). Nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from .di import verify_proofs
from .did import Resolver
from .errors import (
    MalformedError,
    ProtocolError,
    StatusRangeError,
    UnsupportedError,
)
from .jsonld.canonicalize import canonicalize, memoized
from .jsonld.loader import StaticDocumentLoader, default_loader
from .limits import MAX_CLOCK_SKEW_SECONDS, MAX_CREDENTIALS_PER_PRESENTATION, MAX_STATUS_ENTRIES
from .ob import validate, validate_presentation
from .status import StatusResult, check_status, parse_status_entry
from .timeutil import parse_datetime

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
    except ProtocolError as exc:
        # Unknown context, data loss, invalid JSON-LD or a dataset too large to canonicalise.
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
            parse_datetime(document["validFrom"], what="validFrom")
            if "validFrom" in document
            else None
        )
        valid_until = (
            parse_datetime(document["validUntil"], what="validUntil")
            if "validUntil" in document
            else None
        )
        # VC 1.1 names, still found on credentials in the field.
        if valid_from is None and "issuanceDate" in document:
            valid_from = parse_datetime(
                document["issuanceDate"], what="issuanceDate", require_timezone=False
            )
        if valid_until is None and "expirationDate" in document:
            valid_until = parse_datetime(
                document["expirationDate"], what="expirationDate", require_timezone=False
            )
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


_ACTIVE_MEANS: Mapping[str, str] = {"revocation": "revoked", "suspension": "suspended"}


def _record_status(report: Report, label: str, result: StatusResult) -> None:
    """Turn one entry's status into a check (``specs/status.md``, "Checking")."""
    where = f"index {result.index} of status list {result.list_id}"
    value = f"0x{result.value:x}"
    said = f" ({result.message})" if result.message is not None else ""
    status: Status
    if result.purpose in _ACTIVE_MEANS:
        word = _ACTIVE_MEANS[result.purpose]
        if result.active:
            status, reason = "fail", f"{word}: {where} is set"
        else:
            status, reason = "pass", f"not {word}: {where} ({result.purpose}) is 0"
    elif result.purpose == "refresh":
        status = "pass"
        reason = (
            f"a refreshed credential is available ({where} is set); this does not invalidate it"
            if result.active
            else f"no refresh announced: {where} (refresh) is 0"
        )
    elif result.active:
        # message or an ecosystem's own purpose: Passeport cannot say what a set value means.
        status = "unknown"
        reason = (
            f"status {value}{said} for purpose {result.purpose!r} at {where}: "
            "Passeport does not interpret this purpose"
        )
    else:
        status, reason = "pass", f"status 0x0{said} for purpose {result.purpose!r} at {where}"
    # The list's issuer MAY differ from the credential's (BSL 2.2); only the credential's own
    # issuer is trusted here, so another issuer's "not set" decides nothing.
    if result.list_issuer != report.issuer:
        other = (
            f"the list is issued by {result.list_issuer}, not by the credential's issuer "
            f"{report.issuer}"
        )
        if status == "fail":
            reason = f"{reason} ({other})"
        else:
            status = "unknown"
            reason = (
                f"{reason}, but {other}: nothing says {result.list_issuer} may speak for "
                "this credential's status"
            )
    report.add(label, status, reason)


def _check_status(
    report: Report,
    document: Mapping[str, Any],
    *,
    now: datetime,
    resolver: Resolver,
    loader: StaticDocumentLoader,
    status_lists: Mapping[str, Mapping[str, Any]] | None,
    status_max_age: timedelta | None,
) -> None:
    status = document.get("credentialStatus")
    if status is None:
        report.add("status", "pass", "the credential declares no status list")
        return
    entries = status if isinstance(status, list) else [status]
    if not entries:
        report.add("status", "fail", "credentialStatus is an empty array")
        return
    if len(entries) > MAX_STATUS_ENTRIES:
        report.add("status", "fail", f"more than {MAX_STATUS_ENTRIES} status entries")
        return
    for position, entry in enumerate(entries):
        label = f"status[{position}]" if isinstance(status, list) else "status"
        try:
            parsed = parse_status_entry(entry)
        except UnsupportedError as exc:
            report.add(label, "unknown", f"{exc.message}: the status cannot be checked")
            continue
        except (MalformedError, StatusRangeError) as exc:
            report.add(label, "fail", f"malformed status entry: {exc.message}")
            continue
        list_credential = (status_lists or {}).get(parsed.list_url)
        if list_credential is None:
            report.add(
                label,
                "unknown",
                f"the {parsed.purpose} status list {parsed.list_url} was not provided "
                "(nothing is fetched), so the status is unknown",
            )
            continue
        try:
            result = check_status(
                entry,
                list_credential,
                resolver=resolver,
                now=now,
                loader=loader,
                max_age=status_max_age,
            )
        except ProtocolError as exc:
            report.add(label, "unknown", f"{parsed.purpose} status unknown: {exc.message}")
            continue
        _record_status(report, label, result)


def verify_credential(
    document: Mapping[str, Any],
    *,
    now: datetime,
    resolver: Resolver | None = None,
    loader: StaticDocumentLoader | None = None,
    status_lists: Mapping[str, Mapping[str, Any]] | None = None,
    status_max_age: timedelta | None = None,
) -> Report:
    """Verify a credential: syntax, schema, JSON-LD, proofs, issuer key, validity, status.

    ``status_lists`` maps status list credential URLs to the signed lists the caller retrieved;
    a list whose ``validFrom`` is older than ``status_max_age`` counts as stale (status unknown).
    """
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
    _check_status(
        report,
        document,
        now=now,
        resolver=resolver,
        loader=loader,
        status_lists=status_lists,
        status_max_age=status_max_age,
    )
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
    status_lists: Mapping[str, Mapping[str, Any]] | None = None,
    status_max_age: timedelta | None = None,
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
        sub = verify_credential(
            credential,
            now=now,
            resolver=resolver,
            loader=loader,
            status_lists=status_lists,
            status_max_age=status_max_age,
        )
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
    status_lists: Mapping[str, Mapping[str, Any]] | None = None,
    status_max_age: timedelta | None = None,
) -> Report:
    """Verify a credential or a presentation, whichever ``document`` is.

    ``status_lists`` (list credential URL -> signed list credential) and ``status_max_age`` are
    the status trust materials: see :func:`verify_credential`.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not isinstance(document, Mapping):
        report = Report("document")
        report.add("syntax", "fail", "a credential or presentation must be a JSON object")
        return report
    with memoized():
        return _verify_memoized(
            document,
            now=now,
            resolver=resolver,
            loader=loader,
            challenge=challenge,
            domain=domain,
            status_lists=status_lists,
            status_max_age=status_max_age,
        )


def _verify_memoized(
    document: Mapping[str, Any],
    *,
    now: datetime,
    resolver: Resolver | None,
    loader: StaticDocumentLoader | None,
    challenge: str | None,
    domain: str | Sequence[str] | None,
    status_lists: Mapping[str, Mapping[str, Any]] | None,
    status_max_age: timedelta | None,
) -> Report:
    types = _types(document)
    if "VerifiablePresentation" in types:
        return verify_presentation(
            document,
            now=now,
            challenge=challenge,
            domain=domain,
            resolver=resolver,
            loader=loader,
            status_lists=status_lists,
            status_max_age=status_max_age,
        )
    if "VerifiableCredential" in types:
        return verify_credential(
            document,
            now=now,
            resolver=resolver,
            loader=loader,
            status_lists=status_lists,
            status_max_age=status_max_age,
        )
    report = Report("document", id=_id_of(document), types=types)
    report.add(
        "syntax", "fail", "type names neither VerifiableCredential nor VerifiablePresentation"
    )
    return report
