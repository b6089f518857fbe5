"""Offline verification bundles (``specs/federation.md``, "Verification bundle").

A member node exports, signed with its key, everything a verifier with no network needs to
check any member's badge: the steward's registry, every member's DID document, the current
status lists and the JSON-LD contexts, each with the time it was retrieved. The verifier opens
the bundle with its own trust anchors (the steward, or exporters it trusts, pinned out of band)
and a freshness policy (``max_age``), and then verifies credentials against it: the report says
which member issued the badge, and when the bundle (or the status list a badge names) is older
than the policy allows, the status is ``unknown``, never valid.

Trust. The registry is checked against the steward. Member DID documents are copies the
exporter fetched over TLS; offline they are only as good as the exporter's word, so with a
steward anchor only the keys the steward pinned in the registry (``memberKey``) are used, and a
member without pinned keys cannot be verified. With a trusted exporter (``trusted_signers``)
its copies are taken as they are. Status lists are signed by their issuers and checked as such.
Contexts whose URL Passeport packages must be byte-identical to the packaged copies.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

from ..did import RELATIONSHIPS, Resolver, parse_verification_method, resolve_did_key
from ..encoding import parse_json
from ..errors import MalformedError, ProtocolError
from ..jsonld.loader import StaticDocumentLoader, default_loader
from ..keys import KeyPair
from ..limits import (
    MAX_BUNDLE_BYTES,
    MAX_BUNDLE_ENTRIES,
    MAX_CLOCK_SKEW_SECONDS,
    MAX_DOCUMENT_BYTES,
)
from ..status import parse_status_entry
from ..timeutil import format_datetime, parse_datetime, require_aware
from ..verify import Report, verify
from . import _common as c
from .errors import UntrustedError
from .jcs_proof import sign_jcs, verify_jcs
from .registry import Member, Registry, verify_registry

__all__ = [
    "BUNDLE_TYPE",
    "Bundle",
    "TrustAnchor",
    "build_bundle",
    "open_bundle",
    "packaged_context_digest",
    "packaged_context_text",
]

BUNDLE_TYPE = "PasseportVerificationBundle"
_VERSION = 1
_MEMBERS = frozenset(
    {
        "type",
        "version",
        "network",
        "created",
        "registry",
        "didDocuments",
        "statusLists",
        "contexts",
        "proof",
    }
)

#: A trust anchor pinned by the verifier: a did:key DID (self-certifying), or the DID document
#: of another DID obtained out of band (never taken from the bundle itself).
TrustAnchor = str | Mapping[str, Any]


# -- packaged contexts ---------------------------------------------------------------------------


@cache
def _manifest() -> Mapping[str, Mapping[str, str]]:
    base = resources.files("protocol.jsonld") / "contexts"
    manifest: dict[str, Mapping[str, str]] = json.loads((base / "MANIFEST.json").read_text("utf-8"))
    return MappingProxyType(manifest)


def packaged_context_digest(url: str) -> str | None:
    """The hex SHA-256 of the packaged copy of the context at ``url``, or ``None``."""
    entry = _manifest().get(url)
    return None if entry is None else entry["sha256"]


def packaged_context_text(url: str) -> str:
    """The exact text of the packaged context at ``url`` (for building bundles)."""
    entry = _manifest().get(url)
    if entry is None:
        raise KeyError(url)
    base = resources.files("protocol.jsonld") / "contexts"
    return (base / entry["file"]).read_bytes().decode("utf-8")


# -- building ------------------------------------------------------------------------------------


def build_bundle(
    *,
    registry: Registry | Mapping[str, Any],
    did_documents: Mapping[str, Mapping[str, Any]],
    status_lists: Mapping[str, Mapping[str, Any]],
    contexts: Mapping[str, str | bytes],
    retrieved_at: Mapping[str, datetime],
    created: datetime,
    signer: KeyPair,
) -> dict[str, Any]:
    """A verification bundle signed (eddsa-jcs-2022) by the exporting node.

    Args:
        registry: the current registry (verified, or its signed document).
        did_documents: DID -> DID document, for every member (and the steward).
        status_lists: status list URL -> the signed status list credential.
        contexts: context URL -> the exact text of the context document.
        retrieved_at: when each DID document, status list and context was retrieved, by DID or
            URL; the registry's by its ``id`` (defaults to ``created``).
        created: the export time.
        signer: the exporting node's Ed25519 key (``controller`` and ``id`` set).
    """
    created = require_aware(created, "created")
    document = registry.document if isinstance(registry, Registry) else registry
    registry_id = document.get("id")
    subject = document.get("credentialSubject")
    network = subject.get("id") if isinstance(subject, Mapping) else None
    if not isinstance(network, str) or not isinstance(registry_id, str):
        raise ValueError("registry is not a registry credential")

    def stamp(key: str) -> str:
        when = retrieved_at.get(key)
        if when is None:
            raise ValueError(f"retrieved_at has no time for {key}")
        return format_datetime(when)

    entries = len(did_documents) + len(status_lists) + len(contexts)
    if entries > MAX_BUNDLE_ENTRIES:
        raise ValueError(f"a bundle holds at most {MAX_BUNDLE_ENTRIES} documents")
    context_entries: dict[str, Any] = {}
    for url, content in contexts.items():
        text = content.decode("utf-8") if isinstance(content, bytes) else content
        context_entries[url] = {
            "content": text,
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "retrievedAt": stamp(url),
        }
    bundle: dict[str, Any] = {
        "type": BUNDLE_TYPE,
        "version": _VERSION,
        "network": network,
        "created": format_datetime(created),
        "registry": {
            "document": copy.deepcopy(dict(document)),
            "retrievedAt": format_datetime(retrieved_at.get(registry_id, created)),
        },
        "didDocuments": {
            did: {"document": copy.deepcopy(dict(doc)), "retrievedAt": stamp(did)}
            for did, doc in did_documents.items()
        },
        "statusLists": {
            url: {"credential": copy.deepcopy(dict(cred)), "retrievedAt": stamp(url)}
            for url, cred in status_lists.items()
        },
        "contexts": context_entries,
    }
    signed = sign_jcs(bundle, key=signer, created=created)
    c.sized(signed, limit=MAX_BUNDLE_BYTES, what="bundle")
    return signed


# -- opening -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bundle:
    """An opened, trusted bundle. Build one with :func:`open_bundle`.

    Attributes:
        trust: how the exporter was trusted: ``"signer"`` (a trusted exporter), ``"steward"``
            (the steward exported it) or ``"member"`` (a registry member, with the steward as
            anchor and only pinned member keys).
        unpinned: members whose DID documents were left out because the registry pins none of
            their keys (only with a steward anchor).
    """

    network: str
    registry: Registry
    created: datetime
    signer: str
    trust: Literal["signer", "steward", "member"]
    max_age: timedelta
    resolver: Resolver
    loader: StaticDocumentLoader
    status_lists: Mapping[str, Mapping[str, Any]] = field(repr=False)
    retrieved_at: Mapping[str, datetime] = field(repr=False)
    unpinned: tuple[str, ...] = ()

    def is_fresh(self, now: datetime) -> bool:
        """Whether the bundle is within the freshness policy at ``now``."""
        return require_aware(now, "now") - self.created <= self.max_age

    def fresh_status_lists(self, now: datetime) -> dict[str, Mapping[str, Any]]:
        """The status lists retrieved within ``max_age`` of ``now`` (none if the bundle is
        stale): only these may decide a status."""
        if not self.is_fresh(now):
            return {}
        return {
            url: credential
            for url, credential in self.status_lists.items()
            if now - self.retrieved_at[url] <= self.max_age
        }

    def issuer_member(self, credential: Mapping[str, Any]) -> Member | None:
        """The registry entry of the credential's issuer, or ``None``."""
        issuer = credential.get("issuer")
        issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
        return self.registry.member(issuer_id) if isinstance(issuer_id, str) else None

    def verify(
        self,
        document: Any,
        *,
        now: datetime,
        challenge: str | None = None,
        domain: str | Sequence[str] | None = None,
    ) -> Report:
        """Verify a credential or presentation offline against this bundle.

        The report is :func:`protocol.verify.verify`'s, with the bundle's resolver, contexts and
        fresh status lists, plus a ``bundle`` check (``unknown`` once the bundle is older than
        ``max_age``) and, for each credential, a ``federation member`` check naming the
        registry member that issued it (``fail`` for an issuer outside the network).
        """
        now = require_aware(now, "now")
        report = verify(
            document,
            now=now,
            resolver=self.resolver,
            loader=self.loader,
            challenge=challenge,
            domain=domain,
            status_lists=self.fresh_status_lists(now),
        )
        self._check_bundle(report, now)
        if report.kind == "credential" and isinstance(document, Mapping):
            self._check_credential(report, document, now)
        elif report.kind == "presentation" and isinstance(document, Mapping):
            items = document.get("verifiableCredential", [])
            items = items if isinstance(items, list) else [items]
            credentials = [item for item in items if isinstance(item, Mapping)]
            for sub, credential in zip(report.credentials, credentials, strict=False):
                self._check_credential(sub, credential, now)
        return report

    def _signer_label(self) -> str:
        member = self.registry.member(self.signer)
        return f"{member.name} ({self.signer})" if member is not None else self.signer

    def _check_bundle(self, report: Report, now: datetime) -> None:
        made = format_datetime(self.created)
        if self.is_fresh(now):
            report.add(
                "bundle",
                "pass",
                f"offline bundle of {self.registry.name} made at {made} by "
                f"{self._signer_label()}, within the policy's maximum age of {self.max_age}",
            )
        else:
            report.add(
                "bundle",
                "unknown",
                f"the offline bundle was made at {made}, longer ago than the policy allows "
                f"({self.max_age}): revocations and membership may have changed since, so the "
                "status is unknown",
            )

    def _check_credential(
        self, report: Report, credential: Mapping[str, Any], now: datetime
    ) -> None:
        # Status lists the bundle holds but that are too old to decide anything.
        if self.is_fresh(now):
            status = credential.get("credentialStatus")
            entries = status if isinstance(status, list) else [status] if status else []
            for entry in entries:
                try:
                    url = parse_status_entry(entry).list_url
                except ProtocolError:
                    continue
                when = self.retrieved_at.get(url)
                if url in self.status_lists and when is not None and now - when > self.max_age:
                    report.add(
                        "bundle status list",
                        "unknown",
                        f"the bundle's copy of {url} was retrieved at {format_datetime(when)}, "
                        f"longer ago than the policy allows ({self.max_age})",
                    )
        self._check_member(report, credential)

    def _check_member(self, report: Report, credential: Mapping[str, Any]) -> None:
        network = f"{self.registry.name} (registry version {self.registry.version})"
        issuer = report.issuer
        member = self.registry.member(issuer) if issuer is not None else None
        if issuer is None or member is None:
            report.add(
                "federation member",
                "fail",
                f"the issuer {issuer or '(none named)'} is not a member of {network}",
            )
            return
        label = f"{member.name} ({member.did})"
        if not member.issues:
            report.add(
                "federation member",
                "fail",
                f"{label} is a verifier-only member of {network}; it issues no badges there",
            )
            return
        if member.did in self.unpinned:
            report.add(
                "federation member",
                "fail",
                f"{label} is a member of {network}, but the registry pins none of its keys, so "
                "its DID document in the bundle cannot be trusted offline",
            )
            return
        issued_text = credential.get("validFrom", credential.get("issuanceDate"))
        try:
            issued = parse_datetime(issued_text, what="validFrom", require_timezone=False)
        except MalformedError:
            issued = None
        since = format_datetime(member.member_from)
        if issued is not None and not member.active_at(issued):
            if issued < member.member_from:
                reason = f"issued at {issued_text}, before {label} joined {network} ({since})"
            else:
                assert member.member_until is not None
                until = format_datetime(member.member_until)
                reason = f"issued at {issued_text}, after {label} {member.end_reason} at {until}"
            report.add("federation member", "fail", reason)
            return
        ended = ""
        if member.member_until is not None:
            ended = f"; {member.end_reason} at {format_datetime(member.member_until)}"
        report.add(
            "federation member",
            "pass",
            f"issued by {label}, a member of {network} since {since}{ended}",
        )


def _entry_time(entry: Mapping[str, Any], what: str, created: datetime) -> datetime:
    when = parse_datetime(entry.get("retrievedAt"), what=f"{what} retrievedAt")
    if when > created + timedelta(seconds=MAX_CLOCK_SKEW_SECONDS):
        raise MalformedError(f"{what} was retrieved after the bundle was made")
    return when


def _anchor_documents(anchors: Sequence[TrustAnchor]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for anchor in anchors:
        if isinstance(anchor, str):
            if not anchor.startswith("did:key:"):
                raise ValueError(
                    f"trust anchor {anchor!r}: only a did:key is self-certifying; pin any "
                    "other DID with its DID document"
                )
            try:
                out[anchor] = resolve_did_key(anchor)
            except ProtocolError as exc:
                raise ValueError(f"trust anchor {anchor!r}: {exc.message}") from exc
        elif isinstance(anchor, Mapping) and isinstance(anchor.get("id"), str):
            out[anchor["id"]] = anchor
        else:
            raise TypeError("a trust anchor is a did:key DID or a DID document")
    return out


def _pinned_document(document: Mapping[str, Any], pins: frozenset[str]) -> dict[str, Any]:
    """``document`` keeping only verification methods whose key the registry pins."""
    doc = copy.deepcopy(dict(document))

    def pinned(method: object) -> bool:
        if not isinstance(method, Mapping):
            return False
        try:
            return parse_verification_method(method).public_key.multibase in pins
        except ProtocolError:
            return False

    methods = doc.get("verificationMethod", [])
    kept = [m for m in methods if pinned(m)] if isinstance(methods, list) else []
    kept_ids = {m["id"] for m in kept}
    doc["verificationMethod"] = kept
    for relationship in RELATIONSHIPS:
        entries = doc.get(relationship)
        if isinstance(entries, list):
            doc[relationship] = [
                e for e in entries if (isinstance(e, str) and e in kept_ids) or pinned(e)
            ]
    return doc


def open_bundle(
    document: Mapping[str, Any],
    *,
    now: datetime,
    max_age: timedelta,
    trusted_steward: TrustAnchor | None = None,
    trusted_signers: Sequence[TrustAnchor] = (),
) -> Bundle:
    """Check a bundle against the verifier's trust anchors and return it, ready to verify.

    Args:
        document: the bundle.
        now: the opening time (a bundle made in the future is refused).
        max_age: the freshness policy: past it, statuses are reported unknown.
        trusted_steward: the network's steward, pinned (a did:key, or its DID document). The
            registry must be signed by it, and the exporter must be it or a member whose key
            the registry pins.
        trusted_signers: exporters the verifier trusts outright (did:key DIDs or DID
            documents); their copies of DID documents are used as they are.

    Raises:
        OversizedError, MalformedError: the bundle breaks the format or its limits.
        UntrustedError: signed by no one the verifier trusts, or a context differs from the
            packaged copy.
        InvalidProof, KeyResolutionError: the bundle's or the registry's signature fails.
        RegistryLinkError, ExpiredError: the registry is not the steward's, or was not valid
            when the bundle was made.
    """
    now = require_aware(now, "now")
    if max_age <= timedelta(0):
        raise ValueError("max_age must be positive")
    if trusted_steward is None and not trusted_signers:
        raise ValueError("give a trusted steward or trusted signers: trust is never implicit")
    c.sized(document, limit=MAX_BUNDLE_BYTES, what="bundle")
    doc = c.obj(document, "bundle")
    unknown = set(doc) - _MEMBERS
    if unknown:
        raise MalformedError(f"the bundle has unknown members {sorted(unknown)}")
    if doc.get("type") != BUNDLE_TYPE or doc.get("version") != _VERSION:
        raise MalformedError(f"not a {BUNDLE_TYPE} version {_VERSION}")
    created = c.when(doc.get("created"), "bundle created")
    if created > now + timedelta(seconds=MAX_CLOCK_SKEW_SECONDS):
        raise MalformedError("the bundle is dated in the future")
    network = c.url(doc.get("network"), "bundle network")
    registry_entry = c.obj(doc.get("registry"), "bundle registry")
    registry_doc = c.obj(registry_entry.get("document"), "bundle registry document")
    did_entries = c.obj(doc.get("didDocuments"), "bundle didDocuments")
    list_entries = c.obj(doc.get("statusLists"), "bundle statusLists")
    context_entries = c.obj(doc.get("contexts"), "bundle contexts")
    if len(did_entries) + len(list_entries) + len(context_entries) > MAX_BUNDLE_ENTRIES:
        raise MalformedError(f"a bundle holds at most {MAX_BUNDLE_ENTRIES} documents")

    retrieved: dict[str, datetime] = {}
    copies: dict[str, Mapping[str, Any]] = {}
    for did, entry in did_entries.items():
        entry = c.obj(entry, f"didDocuments[{did}]")
        c.did(did, "didDocuments key")
        copies[did] = c.obj(entry.get("document"), f"didDocuments[{did}].document")
        retrieved[did] = _entry_time(entry, did, created)
    lists: dict[str, Mapping[str, Any]] = {}
    for url, entry in list_entries.items():
        entry = c.obj(entry, f"statusLists[{url}]")
        lists[c.url(url, "statusLists key")] = c.obj(
            entry.get("credential"), f"statusLists[{url}].credential"
        )
        retrieved[url] = _entry_time(entry, url, created)
    extra_contexts: dict[str, Any] = {}
    for url, entry in context_entries.items():
        entry = c.obj(entry, f"contexts[{url}]")
        content = entry.get("content")
        if not isinstance(content, str):
            raise MalformedError(f"contexts[{url}].content must be the context's text")
        actual = hashlib.sha256(content.encode("utf-8")).hexdigest()
        if entry.get("sha256") != actual:
            raise MalformedError(f"contexts[{url}]: the content does not match its sha256")
        packaged = packaged_context_digest(url)
        if packaged is not None:
            if actual != packaged:
                raise UntrustedError(
                    f"the bundle's context {url} differs from the copy packaged with "
                    "Passeport (a context cannot be replaced)"
                )
        else:
            extra_contexts[url] = parse_json(content, max_bytes=MAX_DOCUMENT_BYTES)
        retrieved[url] = _entry_time(entry, url, created)

    # Who signed the bundle, and how far the verifier trusts them.
    proof = doc.get("proof")
    method_id = proof.get("verificationMethod") if isinstance(proof, Mapping) else None
    if not isinstance(method_id, str):
        raise MalformedError("the bundle carries no proof")
    signer = method_id.split("#", 1)[0]
    signer_anchors = _anchor_documents(trusted_signers)
    steward_anchor = _anchor_documents([trusted_steward]) if trusted_steward is not None else {}
    steward_did = next(iter(steward_anchor), None)
    # The registry must have been valid when the bundle was made; staleness since then is the
    # freshness policy's business.
    registry_now = min(now, created)
    trust: Literal["signer", "steward", "member"]
    if signer in signer_anchors:
        trust = "signer"
        verify_jcs(doc, resolver=Resolver(signer_anchors), now=now)
        # The exporter vouches for its copies; pinned anchors still win over them.
        trusted_copies = {**copies, **signer_anchors, **steward_anchor}
        registry = verify_registry(
            registry_doc,
            steward_resolver=Resolver(trusted_copies),
            now=registry_now,
            steward=steward_did or str(registry_doc.get("issuer")),
        )
    elif steward_did is not None:
        registry = verify_registry(
            registry_doc,
            steward_resolver=Resolver(steward_anchor),
            now=registry_now,
            steward=steward_did,
        )
        if signer == steward_did:
            trust = "steward"
            verify_jcs(doc, resolver=Resolver(steward_anchor), now=now)
        else:
            trust = "member"
            member = registry.member(signer)
            if member is None or not member.active_at(created):
                raise UntrustedError(
                    f"the bundle is signed by {signer}, neither a trusted signer, the steward, "
                    f"nor a member of {registry.name} when it was made"
                )
            if signer not in copies or not member.keys:
                raise UntrustedError(
                    f"the bundle is signed by {member.name} ({signer}), but the registry pins "
                    "none of its keys"
                )
            pinned = _pinned_document(copies[signer], frozenset(member.keys))
            verify_jcs(doc, resolver=Resolver({signer: pinned}), now=now)
        trusted_copies = {}
    else:
        raise UntrustedError(f"the bundle is signed by {signer}, whom the verifier does not trust")
    if registry.network != network:
        raise MalformedError(
            f"the bundle is for network {network} but holds the registry of {registry.network}"
        )

    # The documents verification may use.
    unpinned: list[str] = []
    documents: dict[str, Mapping[str, Any]] = dict(trusted_copies)
    for did, copy_ in copies.items():
        member = registry.member(did)
        if member is not None and member.keys:
            documents[did] = _pinned_document(copy_, frozenset(member.keys))
        elif trust != "signer":
            if member is not None:
                unpinned.append(did)
            documents.pop(did, None)
    documents.update(signer_anchors)
    documents.update(steward_anchor)
    loader = default_loader().extend(extra_contexts) if extra_contexts else default_loader()
    registry_retrieved = _entry_time(registry_entry, "registry", created)
    retrieved[str(registry_doc.get("id"))] = registry_retrieved
    return Bundle(
        network=network,
        registry=registry,
        created=created,
        signer=signer,
        trust=trust,
        max_age=max_age,
        resolver=Resolver(documents),
        loader=loader,
        status_lists=MappingProxyType(lists),
        retrieved_at=MappingProxyType(retrieved),
        unpinned=tuple(unpinned),
    )
