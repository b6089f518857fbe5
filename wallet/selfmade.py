"""Self-made badges and peer endorsements.

* The earner defines an achievement and issues an Open Badges 3.0 credential to themselves,
  signed with a holder did:key identity (issuer = subject = the identity; ``eddsa-rdfc-2022`` for
  Ed25519, ``ecdsa-rdfc-2019`` for P-256). It verifies anywhere: a did:key resolves offline.
* The earner exports an **endorsement request** (``specs/wallet.md``, "Endorsement request"):
  the credential to endorse, what exactly is endorsed (the credential or its achievement), who
  asks, and a message.
* A peer's wallet checks the request (the credential verifies; the requester is its issuer or
  subject) and signs an OB 3.0 **EndorsementCredential** about it
  (:func:`protocol.ob.build_endorsement`, ``credentialSubject.id`` = the credential id or the
  achievement id), which it returns to the earner.
* The earner's wallet verifies the endorsement and keeps it beside the badge; a self-made badge
  can then be re-issued with its endorsements embedded (``endorsement`` on the credential, or on
  the achievement), so they travel with it and verify with :func:`protocol.verify.verify`.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from protocol.di import sign
from protocol.errors import ProtocolError
from protocol.ob import build_credential, build_endorsement
from protocol.timeutil import format_datetime
from protocol.verify import verify

from .errors import WalletError
from .identity import Identity, suite_for
from .importing import Materials, link_endorsements, wallet_status
from .store import StoredCredential, Wallet

__all__ = [
    "ENDORSEMENT_REQUEST_TYPE",
    "ENDORSEMENT_REQUEST_VERSION",
    "EndorsementRequest",
    "attach_endorsement",
    "create_selfmade",
    "endorsement_request",
    "parse_endorsement_request",
    "reissue",
    "sign_endorsement",
]

#: ``type`` of an endorsement request document.
ENDORSEMENT_REQUEST_TYPE = "PasseportEndorsementRequest"
#: ``version`` of the endorsement request format.
ENDORSEMENT_REQUEST_VERSION = 1
#: Longest message or comment accepted, in characters.
MAX_COMMENT_CHARS = 4000


class EndorsementError(WalletError):
    """An endorsement request or an endorsement cannot be used."""

    code = "ENDORSEMENT_ERROR"


def _sign(document: Mapping[str, Any], identity: Identity, now: datetime) -> dict[str, Any]:
    pair = identity.key_pair()
    return sign(document, key=pair, created=now, suite=suite_for(pair))


def _profile(identity: Identity, name: str | None) -> dict[str, Any]:
    profile: dict[str, Any] = {"id": identity.did, "type": ["Profile"]}
    display = name or identity.label
    if display:
        profile["name"] = display
    return profile


def _alignment(item: Mapping[str, Any] | str) -> dict[str, Any]:
    """An Alignment from a dict, or from ``"name|url"`` / ``"name|url|code"``."""
    if isinstance(item, str):
        parts = [p.strip() for p in item.split("|")]
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"alignment {item!r}: expected 'name|url' or 'name|url|code'")
        item = {"targetName": parts[0], "targetUrl": parts[1]}
        if len(parts) == 3:
            item["targetCode"] = parts[2]
    out = {"type": ["Alignment"], **{k: v for k, v in item.items() if k != "type"}}
    if not out.get("targetName") or not out.get("targetUrl"):
        raise ValueError("an alignment needs targetName and targetUrl")
    return out


def create_selfmade(
    wallet: Wallet,
    *,
    name: str,
    description: str,
    criteria: str,
    now: datetime,
    identity: str | None = None,
    issuer_name: str | None = None,
    alignments: Sequence[Mapping[str, Any] | str] = (),
    achievement_type: str | None = None,
    image: str | None = None,
    tags: Sequence[str] = (),
) -> StoredCredential:
    """Define an achievement and issue it to oneself, signed by a holder identity.

    The credential is verified like any other and stored (``selfmade`` metadata set). Call
    :meth:`Wallet.save` to write.
    """
    for label, value in (("name", name), ("description", description), ("criteria", criteria)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"a self-made badge needs a non-empty {label}")
    holder = wallet.get_identity(identity)
    achievement: dict[str, Any] = {
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["Achievement"],
        "name": name.strip(),
        "description": description.strip(),
        "criteria": {"narrative": criteria.strip()},
        "creator": _profile(holder, issuer_name),
    }
    if achievement_type:
        achievement["achievementType"] = achievement_type
    if alignments:
        achievement["alignment"] = [_alignment(a) for a in alignments]
    if image:
        achievement["image"] = {"id": image, "type": "Image"}
    unsigned = build_credential(
        issuer=_profile(holder, issuer_name),
        achievement=achievement,
        subject_id=holder.did,
        identity=None,
        credential_id=f"urn:uuid:{uuid.uuid4()}",
        valid_from=now,
        extra={"awardedDate": format_datetime(now)},
    )
    signed = _sign(unsigned, holder, now)
    report = verify(signed, now=now).to_dict()
    record, _ = wallet.put(
        signed,
        source="self-made",
        verification=report,
        selfmade={"identity": holder.did, "achievement": achievement["id"]},
        now=now,
    )
    if tags:
        from .organise import tag

        tag(wallet, record.local_id, add=tags)
    return record


# -- endorsement requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class EndorsementRequest:
    """A parsed endorsement request."""

    id: str
    subject_id: str
    subject_type: Literal["credential", "achievement"]
    credential: dict[str, Any]
    requester: str
    requester_name: str | None
    message: str | None
    created: str

    def describe(self) -> str:
        """One line about what is asked."""
        name = self.credential.get("name")
        who = self.requester_name or self.requester
        return f"{who} asks you to endorse the {self.subject_type} {name!r} ({self.subject_id})"


def endorsement_request(
    wallet: Wallet,
    ref: str,
    *,
    now: datetime,
    about: Literal["credential", "achievement"] = "credential",
    message: str | None = None,
    identity: str | None = None,
) -> dict[str, Any]:
    """An endorsement request for a stored OB 3.0 credential (``specs/wallet.md``)."""
    record = wallet.get(ref)
    if record.kind != "ob3" or record.format != "json":
        raise EndorsementError(
            "only Open Badges 3.0 credentials with an embedded proof can be endorsed"
        )
    document = record.document
    if about == "credential":
        subject_id = record.id
    else:
        subject_id = record.summary.get("achievement", {}).get("id")
    if not subject_id:
        raise EndorsementError(f"the credential has no {about} id to endorse")
    if message is not None and len(message) > MAX_COMMENT_CHARS:
        raise ValueError(f"the message is longer than {MAX_COMMENT_CHARS} characters")
    if identity is None and record.selfmade:
        identity = record.selfmade.get("identity")
    if identity is None:
        subject = record.summary.get("subject")
        if isinstance(subject, str):
            try:
                identity = wallet.get_identity(subject).did
            except WalletError:
                identity = None
    requester = wallet.get_identity(identity)
    _, issuer_id, holder_id, _ = _ids(document)
    if requester.did not in (issuer_id, holder_id):
        raise EndorsementError(
            f"the credential's subject ({holder_id}) is not one of your identities: a peer "
            "would refuse the request"
        )
    request: dict[str, Any] = {
        "type": ENDORSEMENT_REQUEST_TYPE,
        "version": ENDORSEMENT_REQUEST_VERSION,
        "id": f"urn:uuid:{uuid.uuid4()}",
        "created": format_datetime(now),
        "subject": {"id": subject_id, "type": about},
        "credential": copy.deepcopy(document),
        "requester": {"id": requester.did},
    }
    if requester.label:
        request["requester"]["name"] = requester.label
    if message:
        request["message"] = message
    wallet.requests.append(
        {
            "id": request["id"],
            "credential": record.local_id,
            "subject": subject_id,
            "created": request["created"],
        }
    )
    wallet.mark_changed()
    return request


def parse_endorsement_request(document: Any) -> EndorsementRequest:
    """Check the shape of an endorsement request; raise :class:`EndorsementError`."""
    if not isinstance(document, Mapping) or document.get("type") != ENDORSEMENT_REQUEST_TYPE:
        raise EndorsementError(f"not an endorsement request (type {ENDORSEMENT_REQUEST_TYPE})")
    if document.get("version") != ENDORSEMENT_REQUEST_VERSION:
        raise EndorsementError(
            f"unsupported endorsement request version {document.get('version')!r}"
        )
    subject = document.get("subject")
    credential = document.get("credential")
    requester = document.get("requester")
    if not isinstance(subject, Mapping) or not isinstance(subject.get("id"), str):
        raise EndorsementError("the request has no subject id")
    if subject.get("type") not in ("credential", "achievement"):
        raise EndorsementError("the request subject type must be credential or achievement")
    if not isinstance(credential, Mapping):
        raise EndorsementError("the request does not carry the credential to endorse")
    if not isinstance(requester, Mapping) or not isinstance(requester.get("id"), str):
        raise EndorsementError("the request names no requester")
    message = document.get("message")
    if message is not None and (not isinstance(message, str) or len(message) > MAX_COMMENT_CHARS):
        raise EndorsementError("the request message is not a short string")
    return EndorsementRequest(
        id=str(document.get("id", "")),
        subject_id=subject["id"],
        subject_type=subject["type"],
        credential=dict(credential),
        requester=requester["id"],
        requester_name=requester.get("name") if isinstance(requester.get("name"), str) else None,
        message=message,
        created=str(document.get("created", "")),
    )


def _ids(credential: Mapping[str, Any]) -> tuple[str | None, str | None, str | None, str | None]:
    issuer = credential.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    subject = credential.get("credentialSubject")
    subject = subject[0] if isinstance(subject, list) and subject else subject
    subject_id = achievement_id = None
    if isinstance(subject, Mapping):
        subject_id = subject.get("id")
        achievement = subject.get("achievement")
        if isinstance(achievement, Mapping):
            achievement_id = achievement.get("id")
    credential_id = credential.get("id")
    return (
        credential_id if isinstance(credential_id, str) else None,
        issuer_id if isinstance(issuer_id, str) else None,
        subject_id if isinstance(subject_id, str) else None,
        achievement_id if isinstance(achievement_id, str) else None,
    )


def sign_endorsement(
    wallet: Wallet,
    request: Mapping[str, Any],
    *,
    now: datetime,
    comment: str | None = None,
    identity: str | None = None,
    endorser_name: str | None = None,
    name: str | None = None,
    materials: Materials | None = None,
) -> dict[str, Any]:
    """Sign an EndorsementCredential answering ``request`` with one of this wallet's identities.

    Refuses a request whose credential does not verify, whose subject is not that credential
    (or its achievement), or whose requester is neither its issuer nor its subject.
    """
    parsed = parse_endorsement_request(request)
    if comment is not None and len(comment) > MAX_COMMENT_CHARS:
        raise ValueError(f"the comment is longer than {MAX_COMMENT_CHARS} characters")
    resolver = (materials or Materials()).resolver()
    report = verify(parsed.credential, now=now, resolver=resolver).to_dict()
    if report["verdict"] != "valid":
        failed = [f"{c['check']}: {c['reason']}" for c in report["checks"] if c["status"] != "pass"]
        raise EndorsementError(
            "the credential to endorse does not verify ("
            + ("; ".join(failed[:2]) or report["verdict"])
            + ")"
        )
    credential_id, issuer_id, subject_id, achievement_id = _ids(parsed.credential)
    expected = credential_id if parsed.subject_type == "credential" else achievement_id
    if parsed.subject_id != expected:
        raise EndorsementError(
            f"the request's subject {parsed.subject_id} is not the {parsed.subject_type} it carries"
        )
    if parsed.requester not in (issuer_id, subject_id):
        raise EndorsementError(
            f"the requester {parsed.requester} is neither the issuer nor the subject of the "
            "credential"
        )
    endorser = wallet.get_identity(identity)
    if endorser.did in (issuer_id, subject_id):
        raise EndorsementError("you cannot endorse your own credential")
    title = parsed.credential.get("name") or parsed.subject_id
    unsigned = build_endorsement(
        issuer=_profile(endorser, endorser_name),
        subject_id=parsed.subject_id,
        credential_id=f"urn:uuid:{uuid.uuid4()}",
        valid_from=now,
        name=name or f"Endorsement of {title}",
        comment=comment,
    )
    return _sign(unsigned, endorser, now)


def attach_endorsement(
    wallet: Wallet,
    endorsement: Mapping[str, Any],
    *,
    now: datetime,
    source: str = "endorsement",
    materials: Materials | None = None,
) -> StoredCredential:
    """Verify an EndorsementCredential, store it and link it to what it endorses.

    Raises :class:`EndorsementError` when it is not an endorsement or does not verify.
    """
    types = endorsement.get("type")
    if "EndorsementCredential" not in (types if isinstance(types, list) else [types]):
        raise EndorsementError("not an EndorsementCredential")
    resolver = (materials or Materials()).resolver()
    report = verify(endorsement, now=now, resolver=resolver).to_dict()
    status, note = wallet_status(report, endorsement, resolver)
    if status == "invalid":
        failed = [f"{c['check']}: {c['reason']}" for c in report["checks"] if c["status"] == "fail"]
        raise EndorsementError("the endorsement does not verify (" + "; ".join(failed[:2]) + ")")
    if note:
        report["walletNote"] = note
    record, _ = wallet.put(
        endorsement, source=source, verification=report, status=status, kind="endorsement", now=now
    )
    link_endorsements(wallet)
    return record


def reissue(wallet: Wallet, ref: str, *, now: datetime) -> StoredCredential:
    """Re-issue a self-made badge with its attached, verified endorsements embedded.

    Endorsements of the credential go to its ``endorsement`` member, endorsements of the
    achievement to the achievement's. The id stays; ``validFrom`` is now, ``awardedDate`` keeps
    the first award. The new version replaces the stored one.
    """
    record = wallet.get(ref)
    if not record.selfmade:
        raise EndorsementError("only self-made badges can be re-issued by the wallet")
    holder = wallet.get_identity(record.selfmade.get("identity"))
    document = copy.deepcopy(record.document)
    document.pop("proof", None)
    credential_id, _, _, achievement_id = _ids(document)
    on_credential: list[dict[str, Any]] = []
    on_achievement: list[dict[str, Any]] = []
    for lid in record.endorsements:
        endorsement = wallet.get(lid)
        if endorsement.status != "valid":
            continue
        subject = endorsement.summary.get("endorses")
        if subject == credential_id:
            on_credential.append(copy.deepcopy(endorsement.document))
        elif subject == achievement_id:
            on_achievement.append(copy.deepcopy(endorsement.document))
    if not on_credential and not on_achievement:
        raise EndorsementError("the badge has no valid endorsement to embed")
    if on_credential:
        document["endorsement"] = on_credential
    if on_achievement:
        subject_doc = document["credentialSubject"]
        subject_doc = subject_doc[0] if isinstance(subject_doc, list) else subject_doc
        subject_doc["achievement"]["endorsement"] = on_achievement
    document.setdefault("awardedDate", document.get("validFrom"))
    document["validFrom"] = format_datetime(now)
    try:
        signed = _sign(document, holder, now)
    except ProtocolError as exc:
        raise EndorsementError(f"cannot sign the re-issued badge: {exc.message}") from exc
    report = verify(signed, now=now).to_dict()
    endorsement_reports = [verify(e, now=now).to_dict() for e in on_credential + on_achievement]
    report["endorsements"] = endorsement_reports
    stored, _ = wallet.put(
        signed,
        source="self-made (re-issued with endorsements)",
        verification=report,
        selfmade=record.selfmade,
        replace=True,
        now=now,
    )
    return stored
