"""The node as a verifier: presentation requests (OpenID for Verifiable Presentations 1.0 with
DCQL and ``direct_post``, and a VC API exchange), and public share links for presentations.

Staff (scope ``presentations:request``) create a **presentation request** -- which achievements
(ids, types) and which claims to ask for -- and get a DCQL query, an ``openid4vp://`` link, a QR
code and an interaction URL. The wallet answers at the request's ``response_uri``
(``direct_post``) or through the VC API exchange; the node verifies the presentations with
``protocol.verify.verify`` through the ``"verifier"`` service of :mod:`node.vcapi` (did:web
issuers and status lists resolved through the fetcher; a status that cannot be had is
``unknown``, never accepted), with challenge = the request's nonce and domain = its client id
(OpenID4VP) or the node's public URL (VC API), then checks the DCQL query. The nonce works once:
any answer, valid or not, uses it up, so a replayed presentation fails. Results are visible to
the requester at ``GET /api/presentation-requests/{id}``.

Share links: a holder obtains a share challenge (``POST /shares/challenges``), signs a
presentation with it (domain = the node's public URL), uploads it (``POST /shares``) and gets a
public link (``/shares/{id}``) that works until it expires or the holder deletes it.

Formats and examples: ``specs/presentation.md``. Publishes ``app[SERVICES]["presentations"]``
(:class:`PresentationRequests`).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import io
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import segno
from aiohttp import web
from sqlite_utils import Database

from protocol.encoding import b64url_encode, parse_json
from protocol.errors import ProtocolError
from protocol.jsonld.canonicalize import to_dataset
from protocol.jsonld.loader import default_loader
from protocol.ob.model import OB_CONTEXT_3_0_3, VC_CONTEXT_V2
from protocol.verify import Report

from .appkeys import CLOCK, CONFIG, DB, SERVICES
from .auth import public
from .problems import Problem, read_json
from .storage import register

__all__ = [
    "CLIENT_ID_PREFIXES",
    "PRESENTATION_SCOPE",
    "DcqlError",
    "PresentationRequests",
    "build_dcql",
    "dcql_checks",
    "expanded_types",
    "select_claim",
    "setup",
    "validate_dcql",
]

migrations = register("node.verifier")

#: Scope of API tokens that may create presentation requests and read their results.
PRESENTATION_SCOPE = "presentations:request"
#: Client Identifier Prefixes the node can use (OID4VP 1.0 section 5.9.3).
CLIENT_ID_PREFIXES = ("redirect_uri", "decentralized_identifier")
#: Default and longest lifetime of a presentation request, in seconds.
REQUEST_TTL_SECONDS = 600
MAX_REQUEST_TTL_SECONDS = 24 * 3600
#: Largest ``direct_post`` body, in bytes (a few derived credentials in presentations).
MAX_RESPONSE_BYTES = 512 * 1024
#: Most form fields in a ``direct_post`` body.
MAX_RESPONSE_FIELDS = 8
#: Most presentations in one answer (all queries together).
MAX_PRESENTATIONS = 16
#: DCQL bounds: credential queries, claims per query, path length, values per claim, sets.
MAX_DCQL_CREDENTIALS = 16
MAX_DCQL_CLAIMS = 32
MAX_DCQL_PATH = 16
MAX_DCQL_VALUES = 64
MAX_DCQL_SETS = 16
#: Longest label and purpose of a request, in characters.
MAX_LABEL_CHARS = 200
MAX_PURPOSE_CHARS = 1000
#: Lifetime of a share challenge, in seconds.
SHARE_CHALLENGE_TTL_SECONDS = 600
#: Default and longest lifetime of a share link, in seconds.
SHARE_TTL_SECONDS = 7 * 24 * 3600
MAX_SHARE_TTL_SECONDS = 90 * 24 * 3600
#: Largest uploaded share, in bytes.
MAX_SHARE_BYTES = 512 * 1024
#: Unexpired share challenges and shares kept at most (bounds the tables under a flood).
MAX_LIVE_SHARE_CHALLENGES = 10_000
MAX_LIVE_SHARES = 100_000
#: QR code rendering: module size in pixels, quiet zone in modules.
QR_SCALE = 6
QR_BORDER = 4
#: The VC API workflow of presentation requests.
WORKFLOW = "present"
#: ``aud`` of request objects under static discovery (OID4VP 1.0 section 5.8).
SELF_ISSUED_AUDIENCE = "https://self-issued.me/v2"
REQUEST_OBJECT_TYPE = "oauth-authz-req+jwt"
#: The expanded types every requested credential must have (OB 3.0: AchievementCredential is
#: an alias of OpenBadgeCredential in the OB context).
OB_TYPE_VALUES = [
    [
        "https://www.w3.org/2018/credentials#VerifiableCredential",
        "https://purl.imsglobal.org/spec/vc/ob/vocab.html#OpenBadgeCredential",
    ]
]
#: What the node accepts in presentations (announced in ``client_metadata``).
VP_FORMATS = {
    "ldp_vc": {
        "proof_type_values": ["DataIntegrityProof", "Ed25519Signature2020"],
        "cryptosuite_values": ["eddsa-rdfc-2022", "ecdsa-rdfc-2019", "ecdsa-sd-2023"],
    }
}

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_STATE_CHARS = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _iso(value: int | None) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- storage ----------------------------------------------------------------------------------


@migrations()
def m001_requests_and_shares(db: Database) -> None:
    """Presentation requests, share challenges and shares."""
    db.table("presentation_requests").create(
        {
            "id": str,
            "nonce": str,
            "state": str,
            "client_prefix": str,
            "dcql": str,
            "label": str,
            "purpose": str,
            "created_by": str,
            "created_at": int,
            "expires_at": int,
            "nonce_used": int,
            "status": str,
            "transport": str,
            "answered_at": int,
            "result": str,
        },
        pk="id",
        not_null={"nonce", "state", "client_prefix", "dcql", "created_at", "expires_at"},
        defaults={"nonce_used": 0, "status": "pending"},
    )
    db.table("presentation_requests").create_index(["created_at"])
    db.table("share_challenges").create(
        {"challenge": str, "created_at": int, "expires_at": int, "used": int},
        pk="challenge",
        not_null={"created_at", "expires_at"},
        defaults={"used": 0},
    )
    db.table("share_challenges").create_index(["expires_at"])
    db.table("presentation_shares").create(
        {
            "id": str,
            "presentation": str,
            "holder": str,
            "challenge": str,
            "delete_digest": str,
            "created_at": int,
            "expires_at": int,
            "deleted": int,
        },
        pk="id",
        not_null={"presentation", "challenge", "delete_digest", "created_at", "expires_at"},
        defaults={"deleted": 0},
    )
    db.table("presentation_shares").create_index(["expires_at"])


# -- DCQL -------------------------------------------------------------------------------------


class DcqlError(ValueError):
    """A DCQL query (or a claims path pointer) is malformed."""


def _check_path(path: Any, where: str) -> list[str | int | None]:
    if not isinstance(path, list) or not path or len(path) > MAX_DCQL_PATH:
        raise DcqlError(f"{where}: path must be a non-empty array of at most {MAX_DCQL_PATH}")
    for item in path:
        if item is None or (isinstance(item, str) and item):
            continue
        if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
            continue
        raise DcqlError(f"{where}: path items are strings, null or non-negative integers")
    return list(path)


def _check_values(values: Any, where: str) -> None:
    if not isinstance(values, list) or not values or len(values) > MAX_DCQL_VALUES:
        raise DcqlError(f"{where}: values must be a non-empty array of at most {MAX_DCQL_VALUES}")
    for value in values:
        if not isinstance(value, str | int | bool) or isinstance(value, float):
            raise DcqlError(f"{where}: values are strings, integers or booleans")


def _check_claims(query: Mapping[str, Any], where: str) -> None:
    claims = query.get("claims")
    claim_sets = query.get("claim_sets")
    if claims is None:
        if claim_sets is not None:
            raise DcqlError(f"{where}: claim_sets needs claims")
        return
    if not isinstance(claims, list) or not claims or len(claims) > MAX_DCQL_CLAIMS:
        raise DcqlError(f"{where}: claims must be a non-empty array of at most {MAX_DCQL_CLAIMS}")
    ids: set[str] = set()
    for position, claim in enumerate(claims):
        here = f"{where}.claims[{position}]"
        if not isinstance(claim, dict):
            raise DcqlError(f"{here}: a claims query is an object")
        _check_path(claim.get("path"), here)
        if "values" in claim:
            _check_values(claim["values"], here)
        claim_id = claim.get("id")
        if claim_id is not None:
            if not isinstance(claim_id, str) or not _ID.match(claim_id) or claim_id in ids:
                raise DcqlError(f"{here}: id must be a unique [A-Za-z0-9_-] string")
            ids.add(claim_id)
        elif claim_sets is not None:
            raise DcqlError(f"{here}: every claim needs an id when claim_sets is present")
    if claim_sets is not None:
        if not isinstance(claim_sets, list) or not claim_sets or len(claim_sets) > MAX_DCQL_SETS:
            raise DcqlError(f"{where}: claim_sets must be a non-empty array")
        for option in claim_sets:
            if (
                not isinstance(option, list)
                or not option
                or not all(isinstance(i, str) and i in ids for i in option)
            ):
                raise DcqlError(f"{where}: each claim set lists ids of the query's claims")


def validate_dcql(query: Any) -> dict[str, Any]:
    """Check a DCQL query (OID4VP 1.0 section 6) that this node can evaluate; return it.

    Only the ``ldp_vc`` format is supported. Raises :class:`DcqlError`.
    """
    if not isinstance(query, dict):
        raise DcqlError("a DCQL query is a JSON object")
    credentials = query.get("credentials")
    if (
        not isinstance(credentials, list)
        or not credentials
        or len(credentials) > MAX_DCQL_CREDENTIALS
    ):
        raise DcqlError(
            f"credentials must be a non-empty array of at most {MAX_DCQL_CREDENTIALS} queries"
        )
    ids: set[str] = set()
    for position, item in enumerate(credentials):
        where = f"credentials[{position}]"
        if not isinstance(item, dict):
            raise DcqlError(f"{where}: a credential query is an object")
        query_id = item.get("id")
        if not isinstance(query_id, str) or not _ID.match(query_id) or query_id in ids:
            raise DcqlError(f"{where}: id must be a unique [A-Za-z0-9_-] string")
        ids.add(query_id)
        if item.get("format") != "ldp_vc":
            raise DcqlError(f"{where}: only the ldp_vc format is supported")
        meta = item.get("meta")
        if not isinstance(meta, dict):
            raise DcqlError(f"{where}: meta is required (an object)")
        type_values = meta.get("type_values")
        if type_values is not None and (
            not isinstance(type_values, list)
            or not type_values
            or not all(
                isinstance(group, list) and group and all(isinstance(t, str) for t in group)
                for group in type_values
            )
        ):
            raise DcqlError(f"{where}: meta.type_values must be a non-empty array of arrays")
        for flag in ("multiple", "require_cryptographic_holder_binding"):
            if flag in item and not isinstance(item[flag], bool):
                raise DcqlError(f"{where}: {flag} must be a boolean")
        _check_claims(item, where)
    sets = query.get("credential_sets")
    if sets is not None:
        if not isinstance(sets, list) or not sets or len(sets) > MAX_DCQL_SETS:
            raise DcqlError("credential_sets must be a non-empty array")
        for position, entry in enumerate(sets):
            options = entry.get("options") if isinstance(entry, dict) else None
            if (
                not isinstance(options, list)
                or not options
                or not all(
                    isinstance(o, list) and o and all(isinstance(i, str) and i in ids for i in o)
                    for o in options
                )
            ):
                raise DcqlError(
                    f"credential_sets[{position}]: options list arrays of credential query ids"
                )
            if "required" in entry and not isinstance(entry["required"], bool):
                raise DcqlError(f"credential_sets[{position}]: required must be a boolean")
    return query


def build_dcql(
    *,
    achievement_ids: Sequence[str] = (),
    achievement_types: Sequence[str] = (),
    claims: Sequence[Sequence[str | int | None]] = (),
    query_id: str = "badge",
) -> dict[str, Any]:
    """The DCQL query for one Open Badge: its type, the achievements accepted (ids, types) and
    the claims asked for. Without claims, only what the credential always discloses (its
    mandatory statements) is asked for."""
    items: list[dict[str, Any]] = []
    if achievement_ids:
        items.append(
            {
                "id": "achievement",
                "path": ["credentialSubject", "achievement", "id"],
                "values": list(achievement_ids),
            }
        )
    if achievement_types:
        items.append(
            {
                "id": "achievement_type",
                "path": ["credentialSubject", "achievement", "achievementType"],
                "values": list(achievement_types),
            }
        )
    for position, path in enumerate(claims):
        items.append({"id": f"claim{position}", "path": list(path)})
    credential: dict[str, Any] = {
        "id": query_id,
        "format": "ldp_vc",
        "meta": {"type_values": OB_TYPE_VALUES},
    }
    if items:
        credential["claims"] = items
    return validate_dcql({"credentials": [credential]})


def select_claim(document: Any, path: Sequence[str | int | None]) -> list[Any] | None:
    """Process a claims path pointer (OID4VP 1.0 section 7.1) on a JSON credential: the
    selected values, or ``None`` when processing aborts (an error or an empty selection)."""
    selected: list[Any] = [document]
    for component in path:
        following: list[Any] = []
        for element in selected:
            if isinstance(component, str):
                if not isinstance(element, Mapping):
                    return None
                if component in element:
                    following.append(element[component])
            elif component is None:
                if not isinstance(element, list):
                    return None
                following.extend(element)
            else:
                if not isinstance(element, list):
                    return None
                if component < len(element):
                    following.append(element[component])
        selected = following
    return selected or None


def _same_value(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def claim_matches(document: Any, claim: Mapping[str, Any]) -> bool:
    """Whether ``document`` has the claim (and, with ``values``, one of those values)."""
    found = select_claim(document, claim["path"])
    if found is None:
        return False
    values = claim.get("values")
    if values is None:
        return True
    return any(_same_value(v, w) for v in found for w in values)


def expanded_types(credential: Mapping[str, Any]) -> set[str]:
    """The credential's ``type`` values as expanded IRIs (JSON-LD, packaged contexts only)."""
    probe = {"@context": credential.get("@context"), "type": credential.get("type")}
    quads = to_dataset(probe, loader=default_loader())
    return {o for _, p, o, _ in quads if p == "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"}


def credential_matches(credential: Any, query: Mapping[str, Any]) -> list[str]:
    """Why ``credential`` does not satisfy the credential query (empty when it does)."""
    if not isinstance(credential, Mapping):
        return ["not a JSON object"]
    problems: list[str] = []
    type_values = query.get("meta", {}).get("type_values")
    if type_values:
        try:
            types = expanded_types(credential)
        except ProtocolError as exc:
            return [f"its types cannot be expanded: {exc.message}"]
        if not any(set(group) <= types for group in type_values):
            problems.append("its type is not one the query accepts")
    claims = query.get("claims")
    if claims:
        present = {
            claim.get("id", str(position))
            for position, claim in enumerate(claims)
            if claim_matches(credential, claim)
        }
        sets = query.get("claim_sets")
        wanted = (
            [list(s) for s in sets]
            if sets
            else [[c.get("id", str(i)) for i, c in enumerate(claims)]]
        )
        if not any(set(option) <= present for option in wanted):
            missing = sorted(set(wanted[0]) - present)
            paths = [
                ".".join("*" if p is None else str(p) for p in c["path"])
                for i, c in enumerate(claims)
                if c.get("id", str(i)) in missing
            ]
            problems.append(
                "it does not disclose the requested claims "
                + (", ".join(paths) if paths else "(no claim set is complete)")
            )
    return problems


def _required_groups(query: Mapping[str, Any]) -> list[list[list[str]]]:
    """Alternatives per required credential set (each alternative: query ids)."""
    sets = query.get("credential_sets")
    if not sets:
        return [[[item["id"] for item in query["credentials"]]]]
    return [entry["options"] for entry in sets if entry.get("required", True)]


def dcql_checks(
    query: Mapping[str, Any], presented: Mapping[str, Sequence[Any]]
) -> list[tuple[str, str, str]]:
    """Check presented credentials (by credential query id) against a DCQL query.

    Returns ``(check, status, reason)`` triples; status is ``pass`` or ``fail``.
    """
    checks: list[tuple[str, str, str]] = []
    queries = {item["id"]: item for item in query["credentials"]}
    satisfied: set[str] = set()
    for query_id, credentials in presented.items():
        label = f"query {query_id}"
        item = queries.get(query_id)
        if item is None:
            checks.append((label, "fail", f"the request has no credential query {query_id!r}"))
            continue
        if not credentials:
            checks.append((label, "fail", "no credential was presented"))
            continue
        if len(credentials) > 1 and not item.get("multiple", False):
            checks.append((label, "fail", "several credentials presented, the query asks for one"))
            continue
        failures = []
        for index, credential in enumerate(credentials):
            for problem in credential_matches(credential, item):
                failures.append(f"credential {index}: {problem}")
        if failures:
            checks.append((label, "fail", "; ".join(failures)))
        else:
            satisfied.add(query_id)
            checks.append((label, "pass", "the credentials match the query"))
    for position, options in enumerate(_required_groups(query)):
        if any(set(option) <= satisfied for option in options):
            continue
        wanted = " or ".join("+".join(option) for option in options)
        checks.append(
            (f"credential set {position}", "fail", f"required credentials missing: {wanted}")
        )
    return checks


# -- the service --------------------------------------------------------------------------------


def _undecided(report: Report) -> list[dict[str, str]]:
    """The checks of a report (and of its credentials) that could not be decided."""
    found = [c.to_dict() for c in report.checks if c.status == "unknown"]
    for sub in report.credentials:
        found.extend(_undecided(sub))
    return found


@dataclass
class PresentationRequest:
    """One presentation request (a row of ``presentation_requests``)."""

    id: str
    nonce: str
    state: str
    client_prefix: str
    dcql: dict[str, Any]
    label: str | None
    purpose: str | None
    created_by: str | None
    created_at: int
    expires_at: int
    nonce_used: bool
    status: str
    transport: str | None
    answered_at: int | None
    result: dict[str, Any] | None = field(default=None)

    def current_status(self, now: datetime) -> str:
        """``pending``, ``expired`` (unanswered past its expiry), or the recorded outcome."""
        if self.status == "pending" and _epoch(now) >= self.expires_at:
            return "expired"
        return self.status


def _request_from_row(row: Mapping[str, Any]) -> PresentationRequest:
    return PresentationRequest(
        id=row["id"],
        nonce=row["nonce"],
        state=row["state"],
        client_prefix=row["client_prefix"],
        dcql=json.loads(row["dcql"]),
        label=row["label"],
        purpose=row["purpose"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        nonce_used=bool(row["nonce_used"]),
        status=row["status"],
        transport=row["transport"],
        answered_at=row["answered_at"],
        result=json.loads(row["result"]) if row["result"] else None,
    )


class PresentationRequests:
    """Presentation requests and share links (``app[SERVICES]["presentations"]``)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    @property
    def _db(self) -> Database:
        return self._app[DB]

    @property
    def base_url(self) -> str:
        """The node's public URL (VC API and share domain)."""
        return str(self._app[CONFIG].base_url)

    # -- URLs -----------------------------------------------------------------------------

    def response_uri(self, request_id: str) -> str:
        """Where the wallet posts its answer (``direct_post``)."""
        return f"{self.base_url}/presentation-requests/{request_id}/response"

    def request_uri(self, request_id: str) -> str:
        """Where the wallet fetches the request object."""
        return f"{self.base_url}/presentation-requests/{request_id}/request-object"

    def client_id(self, request: PresentationRequest) -> str:
        """The Client Identifier with its prefix (the presentation's proof domain)."""
        if request.client_prefix == "decentralized_identifier":
            return "decentralized_identifier:" + str(self._identity().default_issuer())
        return "redirect_uri:" + self.response_uri(request.id)

    def _identity(self) -> Any:
        identity = self._app[SERVICES].get("identity")
        if identity is None:
            raise Problem(500, "no-identity", "this node has no identity to sign requests with")
        return identity

    def link(self, request: PresentationRequest) -> str:
        """The ``openid4vp://`` link (by reference)."""
        query = urlencode(
            {"client_id": self.client_id(request), "request_uri": self.request_uri(request.id)}
        )
        return "openid4vp://?" + query

    def interaction_url(self, request_id: str) -> str:
        """The VCALM interaction URL (``?iuv=1``)."""
        return f"{self.base_url}/presentation-requests/{request_id}?iuv=1"

    def exchange_url(self, request_id: str) -> str:
        """The VC API exchange of this request."""
        return f"{self.base_url}/workflows/{WORKFLOW}/exchanges/{request_id}"

    # -- requests ---------------------------------------------------------------------------

    def create(
        self,
        *,
        now: datetime,
        dcql: Mapping[str, Any],
        label: str | None = None,
        purpose: str | None = None,
        ttl_seconds: int | None = None,
        client_prefix: str = "redirect_uri",
        created_by: str | None = None,
    ) -> PresentationRequest:
        """A new request with a fresh nonce and state (``ValueError`` for bad parameters)."""
        ttl = REQUEST_TTL_SECONDS if ttl_seconds is None else ttl_seconds
        if not 0 < ttl <= MAX_REQUEST_TTL_SECONDS:
            raise ValueError(f"ttlSeconds must be in 1..{MAX_REQUEST_TTL_SECONDS}")
        if client_prefix not in CLIENT_ID_PREFIXES:
            raise ValueError(f"clientIdPrefix is one of {', '.join(CLIENT_ID_PREFIXES)}")
        query = validate_dcql(json.loads(json.dumps(dcql)))
        request_id = secrets.token_urlsafe(18)
        row: dict[str, Any] = {
            "id": request_id,
            "nonce": secrets.token_urlsafe(24),
            "state": secrets.token_urlsafe(24),
            "client_prefix": client_prefix,
            "dcql": json.dumps(query, separators=(",", ":")),
            "label": label,
            "purpose": purpose,
            "created_by": created_by,
            "created_at": _epoch(now),
            "expires_at": _epoch(now) + ttl,
            "nonce_used": 0,
            "status": "pending",
        }
        self._db.table("presentation_requests").insert(row)
        found = self.get(request_id)
        assert found is not None
        return found

    def get(self, request_id: str) -> PresentationRequest | None:
        """The request ``request_id``, or ``None``."""
        rows = list(
            self._db.query("select * from presentation_requests where id = ?", [request_id])
        )
        return _request_from_row(rows[0]) if rows else None

    def list(self, *, limit: int = 100, offset: int = 0) -> list[PresentationRequest]:
        """Requests, newest first."""
        rows = self._db.query(
            "select * from presentation_requests order by created_at desc, id limit ? offset ?",
            [limit, offset],
        )
        return [_request_from_row(row) for row in rows]

    def consume_nonce(self, request_id: str) -> bool:
        """Use the request's nonce up (exactly once, whatever the answer's outcome)."""
        cursor = self._db.execute(
            "update presentation_requests set nonce_used = 1 where id = ? and nonce_used = 0",
            [request_id],
        )
        return cursor.rowcount == 1

    def record(
        self, request_id: str, *, status: str, transport: str, now: datetime, result: Any
    ) -> None:
        """Store the outcome of an answer."""
        self._db.table("presentation_requests").update(
            request_id,
            {
                "status": status,
                "transport": transport,
                "answered_at": _epoch(now),
                "result": json.dumps(result, separators=(",", ":"), ensure_ascii=False),
            },
        )

    def request_object(self, request: PresentationRequest) -> dict[str, Any]:
        """The Authorization Request parameters (OID4VP 1.0 sections 5 and 8.2)."""
        return {
            "aud": SELF_ISSUED_AUDIENCE,
            "client_id": self.client_id(request),
            "response_type": "vp_token",
            "response_mode": "direct_post",
            "response_uri": self.response_uri(request.id),
            "nonce": request.nonce,
            "state": request.state,
            "dcql_query": request.dcql,
            "client_metadata": {
                "client_name": self._app[CONFIG].name,
                "vp_formats_supported": VP_FORMATS,
            },
            "iat": request.created_at,
            "exp": request.expires_at,
        }

    def request_object_jwt(self, request: PresentationRequest) -> str:
        """The request object as a JWT: unsigned (``alg: none``) for ``redirect_uri:``, signed
        with the node's DID key (``kid`` a DID URL) for ``decentralized_identifier:``."""
        payload = self.request_object(request)
        if request.client_prefix == "decentralized_identifier":
            from .delivery.jws import sign_compact

            identity = self._identity()
            key = identity.signing_key(identity.default_issuer(), "Ed25519")
            return sign_compact(
                {"alg": "EdDSA", "typ": REQUEST_OBJECT_TYPE, "kid": key.id}, payload, key
            )
        header = {"alg": "none", "typ": REQUEST_OBJECT_TYPE}
        parts = [
            b64url_encode(json.dumps(part, separators=(",", ":")).encode("utf-8"))
            for part in (header, payload)
        ]
        return ".".join(parts) + "."

    def view(self, request: PresentationRequest, now: datetime) -> dict[str, Any]:
        """The requester's view of a request (links while it is pending, the result after)."""
        status = request.current_status(now)
        body: dict[str, Any] = {
            "id": request.id,
            "status": status,
            "label": request.label,
            "purpose": request.purpose,
            "createdAt": _iso(request.created_at),
            "expiresAt": _iso(request.expires_at),
            "clientId": self.client_id(request),
            "dcqlQuery": request.dcql,
        }
        if status == "pending":
            body["links"] = {
                "openid4vp": self.link(request),
                "requestUri": self.request_uri(request.id),
                "interactionUrl": self.interaction_url(request.id),
                "vcapiExchange": self.exchange_url(request.id),
                "page": f"{self.base_url}/presentation-requests/{request.id}",
                "qrPng": f"{self.base_url}/presentation-requests/{request.id}/qr.png",
                "qrSvg": f"{self.base_url}/presentation-requests/{request.id}/qr.svg",
            }
        if request.answered_at is not None:
            body["answeredAt"] = _iso(request.answered_at)
            body["transport"] = request.transport
        if request.result is not None:
            body["result"] = request.result
        return body

    # -- verification -----------------------------------------------------------------------

    async def evaluate(
        self,
        request: PresentationRequest,
        presentations: Sequence[Any],
        credentials: Mapping[str, Sequence[Any]],
        *,
        domain: str,
        now: datetime,
    ) -> tuple[str, dict[str, Any]]:
        """Verify every presentation (challenge = nonce, ``domain``) and check the DCQL query
        against ``credentials`` (the presented credentials by credential query id).

        Returns the status (``accepted``, ``rejected`` or ``unknown``) and the result document.
        """
        verifier = self._app[SERVICES]["verifier"]
        reports: list[dict[str, Any]] = []
        verdicts: list[str] = []
        holders: set[str] = set()
        errors: list[str] = []
        for index, presentation in enumerate(presentations):
            types = presentation.get("type") if isinstance(presentation, Mapping) else None
            if "VerifiablePresentation" not in (types if isinstance(types, list) else [types]):
                verdicts.append("invalid")
                errors.append(
                    f"presentation {index}: a verifiable presentation signed by the holder "
                    "is required"
                )
                continue
            report: Report = await verifier.verify(
                presentation, challenge=request.nonce, domain=domain, now=now
            )
            reports.append(report.to_dict())
            verdicts.append(report.verdict)
            errors.extend(f"presentation {index}: {e}" for e in report.errors)
            if report.verdict == "unknown":
                errors.extend(
                    f"presentation {index}: {c['check']}: {c['reason']}" for c in _undecided(report)
                )
            if report.holder:
                holders.add(report.holder)
        query_checks = dcql_checks(request.dcql, credentials)
        errors.extend(
            f"{check}: {reason}" for check, status, reason in query_checks if status == "fail"
        )
        if not verdicts or "invalid" in verdicts or any(s == "fail" for _, s, _ in query_checks):
            outcome = "rejected"
        elif "unknown" in verdicts:
            outcome = "unknown"
        else:
            outcome = "accepted"
        result = {
            "verified": outcome == "accepted",
            "status": outcome,
            "holders": sorted(holders),
            "errors": errors,
            "query": [
                {"check": check, "status": status, "reason": reason}
                for check, status, reason in query_checks
            ],
            "presentations": reports,
            "credentials": {k: list(v) for k, v in credentials.items()},
        }
        return outcome, result

    # -- share links ------------------------------------------------------------------------

    def share_challenge(self, now: datetime) -> tuple[str, int]:
        """A fresh single-use share challenge and its expiry (epoch seconds)."""
        db = self._db
        db.execute("delete from share_challenges where expires_at <= ?", [_epoch(now)])
        live = db.execute("select count(*) from share_challenges").fetchone()[0]
        if live >= MAX_LIVE_SHARE_CHALLENGES:
            raise Problem(
                503, "busy", "too many outstanding share challenges", headers={"Retry-After": "60"}
            )
        challenge = secrets.token_urlsafe(24)
        expires = _epoch(now) + SHARE_CHALLENGE_TTL_SECONDS
        db.table("share_challenges").insert(
            {"challenge": challenge, "created_at": _epoch(now), "expires_at": expires, "used": 0}
        )
        return challenge, expires

    def use_share_challenge(self, challenge: str, now: datetime) -> bool:
        """Use a share challenge up (once, before it expires)."""
        cursor = self._db.execute(
            "update share_challenges set used = 1 "
            "where challenge = ? and used = 0 and expires_at > ?",
            [challenge, _epoch(now)],
        )
        return cursor.rowcount == 1


# -- HTTP helpers ---------------------------------------------------------------------------------

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _service(request: web.Request) -> PresentationRequests:
    service: PresentationRequests = request.app[SERVICES]["presentations"]
    return service


def _json(
    body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
        headers={**NO_STORE, **(headers or {})},
    )


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return _json({"error": error, "error_description": description}, status=status)


def _wants_json(request: web.Request) -> bool:
    if request.query.get("iuv") == "1" and "text/html" not in request.headers.get("Accept", ""):
        return True
    accept = request.headers.get("Accept", "")
    if not accept or accept.strip() == "*/*":
        return True
    if "json" in accept and "text/html" in accept:
        return accept.index("json") < accept.index("text/html")
    return "json" in accept or "text/html" not in accept


def _page(request: web.Request, title: str, body: str, *, status: int = 200) -> web.Response:
    name = html.escape(request.app[CONFIG].name)
    lang = html.escape(request.app[CONFIG].languages[0])
    text = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} - {name}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.5}img{max-width:100%}code{word-break:break-all}"
        ".muted{color:#555}</style></head><body>"
        f'<header class="muted">{name}</header><main><h1>{html.escape(title)}</h1>{body}'
        "</main></body></html>"
    )
    return web.Response(status=status, text=text, content_type="text/html", headers=NO_STORE)


def _qr(text: str, kind: str) -> bytes:
    qr = segno.make(text, error="m", micro=False)
    out = io.BytesIO()
    if kind == "svg":
        qr.save(out, kind="svg", scale=QR_SCALE, border=QR_BORDER, xmldecl=False)
    else:
        qr.save(out, kind="png", scale=QR_SCALE, border=QR_BORDER)
    return out.getvalue()


def _principal_name(principal: Any) -> str | None:
    email = getattr(principal, "email", None)
    if email:
        return str(email)
    token_id = getattr(principal, "token_id", None)
    return f"token:{token_id}" if token_id is not None else None


async def _require(request: web.Request, scope: str = PRESENTATION_SCOPE) -> Any:
    auth = request.app[SERVICES].get("auth")
    if auth is None:
        raise Problem(401, "unauthorized", "this node has no staff authentication")
    return await auth.require_scope(request, scope)


def _optional_text(body: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise Problem(
            422, "invalid-presentation-request", f"{name} must be a string of 1..{limit} chars"
        )
    return value.strip()


def _string_list(body: Mapping[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise Problem(422, "invalid-presentation-request", f"{name} must be an array of strings")
    if len(value) > MAX_DCQL_VALUES:
        raise Problem(422, "invalid-presentation-request", f"{name}: at most {MAX_DCQL_VALUES}")
    return list(value)


# -- staff endpoints ------------------------------------------------------------------------------

_CREATE_MEMBERS = frozenset(
    {
        "label",
        "purpose",
        "achievementIds",
        "achievementTypes",
        "claims",
        "dcqlQuery",
        "ttlSeconds",
        "clientIdPrefix",
    }
)


async def create_request(request: web.Request) -> web.Response:
    """``POST /api/presentation-requests``."""
    principal = await _require(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise Problem(400, "malformed", "the body must be a JSON object")
    extra = sorted(set(body) - _CREATE_MEMBERS)
    if extra:
        raise Problem(422, "invalid-presentation-request", f"unknown members: {', '.join(extra)}")
    label = _optional_text(body, "label", MAX_LABEL_CHARS)
    purpose = _optional_text(body, "purpose", MAX_PURPOSE_CHARS)
    try:
        if "dcqlQuery" in body:
            if {"achievementIds", "achievementTypes", "claims"} & set(body):
                raise DcqlError(
                    "give dcqlQuery or achievementIds/achievementTypes/claims, not both"
                )
            dcql = validate_dcql(body["dcqlQuery"])
        else:
            claims = body.get("claims", [])
            if not isinstance(claims, list) or len(claims) > MAX_DCQL_CLAIMS:
                raise DcqlError(f"claims must be an array of at most {MAX_DCQL_CLAIMS} paths")
            paths = [_check_path(path, f"claims[{i}]") for i, path in enumerate(claims)]
            dcql = build_dcql(
                achievement_ids=_string_list(body, "achievementIds"),
                achievement_types=_string_list(body, "achievementTypes"),
                claims=paths,
            )
    except DcqlError as exc:
        raise Problem(422, "invalid-presentation-request", str(exc)) from None
    ttl = body.get("ttlSeconds")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int)):
        raise Problem(422, "invalid-presentation-request", "ttlSeconds must be an integer")
    prefix = body.get("clientIdPrefix", "redirect_uri")
    now = request.app[CLOCK]()
    service = _service(request)
    try:
        created = service.create(
            now=now,
            dcql=dcql,
            label=label,
            purpose=purpose,
            ttl_seconds=ttl,
            client_prefix=prefix,
            created_by=_principal_name(principal),
        )
    except ValueError as exc:
        raise Problem(422, "invalid-presentation-request", str(exc)) from None
    return _json(
        service.view(created, now),
        status=201,
        headers={"Location": f"/api/presentation-requests/{created.id}"},
    )


async def list_requests(request: web.Request) -> web.Response:
    """``GET /api/presentation-requests`` (``limit``, ``offset``)."""
    await _require(request)
    try:
        limit = min(max(int(request.query.get("limit", "100")), 1), 500)
        offset = max(int(request.query.get("offset", "0")), 0)
    except ValueError:
        raise Problem(400, "bad-request", "limit and offset are integers") from None
    service = _service(request)
    now = request.app[CLOCK]()
    items = []
    for item in service.list(limit=limit, offset=offset):
        view = service.view(item, now)
        view.pop("result", None)
        view.pop("dcqlQuery", None)
        items.append(view)
    return _json({"presentationRequests": items})


async def get_request(request: web.Request) -> web.Response:
    """``GET /api/presentation-requests/{id}``: the request and, once answered, its result."""
    await _require(request)
    service = _service(request)
    found = service.get(request.match_info["id"])
    if found is None:
        raise Problem(
            404, "presentation-request-not-found", "there is no such presentation request"
        )
    return _json(service.view(found, request.app[CLOCK]()))


# -- wallet-facing endpoints ----------------------------------------------------------------------


def _pending(request: web.Request) -> PresentationRequest:
    found = _service(request).get(request.match_info["id"])
    if found is None:
        raise Problem(
            404, "presentation-request-not-found", "there is no such presentation request"
        )
    status = found.current_status(request.app[CLOCK]())
    if status != "pending" or found.nonce_used:
        raise Problem(
            410,
            f"presentation-request-{'expired' if status == 'expired' else 'answered'}",
            "this presentation request has expired"
            if status == "expired"
            else "this presentation request was already answered; it works once",
        )
    return found


@public("the unguessable request id in the URL names the request (OID4VP request_uri)")
async def request_object(request: web.Request) -> web.Response:
    """``GET /presentation-requests/{id}/request-object``: the Request Object (JWT)."""
    found = _pending(request)
    return web.Response(
        text=_service(request).request_object_jwt(found),
        content_type="application/oauth-authz-req+jwt",
        headers=NO_STORE,
    )


@public("the unguessable request id in the URL names the request (interaction URL, QR page)")
async def request_page(request: web.Request) -> web.StreamResponse:
    """``GET /presentation-requests/{id}``: the QR page, or with ``?iuv=1`` / JSON the
    interaction protocols."""
    service = _service(request)
    if _wants_json(request):
        found = _pending(request)
        link = service.link(found)
        return _json(
            {
                "protocols": {
                    "vcapi": service.exchange_url(found.id),
                    "OID4VP": link,
                    "oid4vp-1.0": link,
                }
            }
        )
    try:
        found = _pending(request)
    except Problem as problem:
        return _page(
            request,
            "Request unavailable",
            f"<p>{html.escape(problem.detail)}.</p>",
            status=problem.status,
        )
    link = html.escape(service.link(found), quote=True)
    label = html.escape(found.label or "A verifier")
    purpose = f"<p>{html.escape(found.purpose)}</p>" if found.purpose else ""
    body = (
        f"<p>{label} asks to see one of your badges. Scan the code with your wallet, or open "
        f"the link on your phone.</p>{purpose}"
        f'<p><img src="/presentation-requests/{html.escape(found.id)}/qr.svg" width="270" '
        f'height="270" alt="QR code of the presentation request"></p>'
        f'<p><a href="{link}">Open in my wallet</a></p>'
    )
    return _page(request, "Present a badge", body)


def _qr_handler(kind: str) -> Any:
    @public("the unguessable request id in the URL names the request")
    async def handler(request: web.Request) -> web.Response:
        found = _pending(request)
        content_type = "image/svg+xml" if kind == "svg" else "image/png"
        headers = dict(NO_STORE)
        if kind == "svg":
            headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        return web.Response(
            body=_qr(_service(request).link(found), kind),
            content_type=content_type,
            headers=headers,
        )

    handler.__name__ = f"presentation_request_qr_{kind}"
    return handler


async def _read_form(request: web.Request) -> dict[str, str]:
    if request.content_type != "application/x-www-form-urlencoded":
        raise _AnswerError(400, "invalid_request", "the response must be a form (direct_post)")
    too_large = _AnswerError(
        413, "invalid_request", f"the response exceeds {MAX_RESPONSE_BYTES} bytes"
    )
    if request.content_length is not None and request.content_length > MAX_RESPONSE_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise too_large
        chunks.append(chunk)
    data = b"".join(chunks)
    if len(data) > MAX_RESPONSE_BYTES:
        raise _AnswerError(
            413, "invalid_request", f"the response exceeds {MAX_RESPONSE_BYTES} bytes"
        )
    try:
        pairs = parse_qsl(
            data.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(data),
            max_num_fields=MAX_RESPONSE_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise _AnswerError(400, "invalid_request", "the response is not a valid form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise _AnswerError(400, "invalid_request", f"parameter {name!r} appears twice")
        form[name] = value
    return form


class _AnswerError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def _vp_token(text: str) -> dict[str, list[Any]]:
    try:
        token = parse_json(text, max_bytes=MAX_RESPONSE_BYTES)
    except ProtocolError as exc:
        raise _AnswerError(400, "invalid_request", f"vp_token is not JSON: {exc.message}") from None
    if not isinstance(token, dict) or not token:
        raise _AnswerError(
            400, "invalid_request", "vp_token must be a JSON object {credential query id: [...]}"
        )
    total = 0
    out: dict[str, list[Any]] = {}
    for query_id, items in token.items():
        if not isinstance(items, list) or not items:
            raise _AnswerError(
                400, "invalid_request", f"vp_token[{query_id!r}] must be a non-empty array"
            )
        total += len(items)
        out[query_id] = items
    if total > MAX_PRESENTATIONS:
        raise _AnswerError(400, "invalid_request", f"more than {MAX_PRESENTATIONS} presentations")
    return out


@public("OID4VP direct_post response endpoint: the request's nonce and state authorise it")
async def response_endpoint(request: web.Request) -> web.Response:
    """``POST /presentation-requests/{id}/response``: the wallet's Authorization Response."""
    try:
        return await _answer(request)
    except _AnswerError as exc:
        return _oauth_error(exc.status, exc.error, exc.description)


async def _answer(request: web.Request) -> web.Response:
    service = _service(request)
    now = request.app[CLOCK]()
    found = service.get(request.match_info["id"])
    if found is None:
        raise _AnswerError(404, "invalid_request", "there is no such presentation request")
    form = await _read_form(request)
    state = form.get("state")
    if state is None or not hmac.compare_digest(state.encode(), found.state.encode()):
        raise _AnswerError(400, "invalid_request", "state does not match the request")
    if found.current_status(now) == "expired":
        raise _AnswerError(400, "invalid_request", "the presentation request has expired")
    # The nonce is used up by this answer, whatever its outcome: a replay finds it used.
    if not service.consume_nonce(found.id):
        raise _AnswerError(
            400, "invalid_request", "the presentation request was already answered (single use)"
        )
    if "error" in form:
        error = form["error"][:100]
        description = form.get("error_description", "")[:500]
        service.record(
            found.id,
            status="declined",
            transport="openid4vp",
            now=now,
            result={
                "verified": False,
                "status": "declined",
                "error": error,
                "errorDescription": description,
            },
        )
        return _json({})
    if "vp_token" not in form:
        service.record(
            found.id,
            status="rejected",
            transport="openid4vp",
            now=now,
            result={
                "verified": False,
                "status": "rejected",
                "errors": ["the response carries no vp_token"],
            },
        )
        raise _AnswerError(400, "invalid_request", "vp_token is required")
    try:
        presented = _vp_token(form["vp_token"])
    except _AnswerError as exc:
        service.record(
            found.id,
            status="rejected",
            transport="openid4vp",
            now=now,
            result={"verified": False, "status": "rejected", "errors": [exc.description]},
        )
        raise
    credentials: dict[str, list[Any]] = {}
    for query_id, items in presented.items():
        for item in items:
            vcs = item.get("verifiableCredential", []) if isinstance(item, Mapping) else []
            credentials.setdefault(query_id, []).extend(vcs if isinstance(vcs, list) else [vcs])
    outcome, result = await service.evaluate(
        found,
        [item for items in presented.values() for item in items],
        credentials,
        domain=service.client_id(found),
        now=now,
    )
    service.record(found.id, status=outcome, transport="openid4vp", now=now, result=result)
    if outcome != "accepted":
        return _json(
            {
                "error": "access_denied",
                "error_description": "; ".join(result["errors"][:5])
                or f"the presentation was not accepted ({outcome})",
                "status": outcome,
            },
            status=400,
        )
    return _json({"status": outcome})


def _example(query: Mapping[str, Any]) -> dict[str, Any]:
    """A QueryByExample ``example`` for a DCQL credential query (``specs/presentation.md``)."""
    example: dict[str, Any] = {
        "@context": [VC_CONTEXT_V2, OB_CONTEXT_3_0_3],
        "type": ["OpenBadgeCredential"],
    }
    for claim in query.get("claims", []):
        path = claim["path"]
        if not all(isinstance(p, str) for p in path):
            continue
        node = example
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        values = claim.get("values")
        node[path[-1]] = "" if values is None else (values[0] if len(values) == 1 else values)
    return example


def _presentation_request(
    service: PresentationRequests, found: PresentationRequest
) -> dict[str, Any]:
    reason = found.purpose or found.label or "Present your badge"
    return {
        "verifiablePresentationRequest": {
            "query": [
                {
                    "type": "QueryByExample",
                    "credentialQuery": [
                        {"reason": reason, "example": _example(item)}
                        for item in found.dcql["credentials"]
                    ],
                }
            ],
            "challenge": found.nonce,
            "domain": service.base_url,
            "interact": {
                "service": [
                    {
                        "type": "VerifiableCredentialApiExchangeService",
                        "serviceEndpoint": service.exchange_url(found.id),
                    }
                ]
            },
        }
    }


def _assign(query: Mapping[str, Any], credentials: Sequence[Any]) -> dict[str, list[Any]]:
    """Credentials of a VC API presentation, by the credential query each one matches."""
    presented: dict[str, list[Any]] = {}
    for credential in credentials:
        for item in query["credentials"]:
            if not credential_matches(credential, item):
                presented.setdefault(item["id"], []).append(credential)
                break
        else:
            presented.setdefault("unmatched", []).append(credential)
    return presented


@public("VC API presentation exchange: the request's challenge authorises it")
async def exchange(request: web.Request) -> web.Response:
    """``POST /workflows/present/exchanges/{id}``: ``{}`` -> the VPR; then the presentation."""
    service = _service(request)
    now = request.app[CLOCK]()
    body = await read_json(request, max_bytes=MAX_RESPONSE_BYTES)
    if not isinstance(body, dict):
        raise Problem(400, "malformed", "an exchange message is a JSON object")
    found = _pending(request)
    presentation = body.get("verifiablePresentation")
    if presentation is None:
        if body:
            raise Problem(400, "malformed", 'send {} to start, then {"verifiablePresentation"}')
        return _json(_presentation_request(service, found))
    if not service.consume_nonce(found.id):
        raise Problem(410, "presentation-request-answered", "this request was already answered")
    vcs = presentation.get("verifiableCredential", []) if isinstance(presentation, dict) else []
    outcome, result = await service.evaluate(
        found,
        [presentation],
        _assign(found.dcql, vcs if isinstance(vcs, list) else [vcs]),
        domain=service.base_url,
        now=now,
    )
    service.record(found.id, status=outcome, transport="vcapi", now=now, result=result)
    if outcome != "accepted":
        raise Problem(
            422,
            "presentation-not-accepted",
            "; ".join(result["errors"][:5]) or f"the presentation was not accepted ({outcome})",
            status_detail=outcome,
        )
    return _json({})


# -- share links ----------------------------------------------------------------------------------


@public("anyone may ask for a share challenge; it only lets them upload a signed presentation")
async def share_challenge(request: web.Request) -> web.Response:
    """``POST /shares/challenges``: a single-use challenge to sign a shared presentation with."""
    service = _service(request)
    challenge, expires = service.share_challenge(request.app[CLOCK]())
    return _json(
        {
            "challenge": challenge,
            "domain": service.base_url,
            "expiresAt": _iso(expires),
            "uploadUrl": f"{service.base_url}/shares",
        },
        status=201,
    )


def _challenge_of(presentation: Mapping[str, Any]) -> str | None:
    proof = presentation.get("proof")
    proofs = proof if isinstance(proof, list) else [proof]
    found = {p.get("challenge") for p in proofs if isinstance(p, Mapping)}
    if len(found) != 1:
        return None
    (value,) = found
    return value if isinstance(value, str) else None


def _issuer_of(credential: Any) -> str | None:
    issuer = credential.get("issuer") if isinstance(credential, Mapping) else None
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


@public("share upload: the single-use share challenge and the holder's signature authorise it")
async def create_share(request: web.Request) -> web.Response:
    """``POST /shares``: ``{"presentation", "ttlSeconds"?}`` -> 201 with the public link."""
    service = _service(request)
    now = request.app[CLOCK]()
    db = request.app[DB]
    body = await read_json(request, max_bytes=MAX_SHARE_BYTES)
    if not isinstance(body, dict) or not isinstance(body.get("presentation"), dict):
        raise Problem(400, "malformed", 'send {"presentation": <signed presentation>}')
    extra = sorted(set(body) - {"presentation", "ttlSeconds"})
    if extra:
        raise Problem(422, "invalid-share", f"unknown members: {', '.join(extra)}")
    ttl = body.get("ttlSeconds", SHARE_TTL_SECONDS)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 < ttl <= MAX_SHARE_TTL_SECONDS:
        raise Problem(422, "invalid-share", f"ttlSeconds must be in 1..{MAX_SHARE_TTL_SECONDS}")
    presentation = body["presentation"]
    challenge = _challenge_of(presentation)
    if challenge is None:
        raise Problem(422, "invalid-share", "the presentation's proof carries no single challenge")
    if not service.use_share_challenge(challenge, now):
        raise Problem(
            422, "invalid-share", "the challenge is not a live share challenge of this node"
        )
    identity = request.app[SERVICES].get("identity")
    own = set(identity.issuer_ids()) if identity is not None else set()
    vcs = presentation.get("verifiableCredential", [])
    vcs = vcs if isinstance(vcs, list) else [vcs]
    if not vcs:
        raise Problem(422, "invalid-share", "the presentation carries no credential")
    foreign = [i for i in (_issuer_of(vc) for vc in vcs) if i not in own]
    if foreign:
        raise Problem(
            422,
            "invalid-share",
            f"this node hosts shares of its own credentials only (not of {foreign[0]})",
        )
    report: Report = await request.app[SERVICES]["verifier"].verify(
        presentation, challenge=challenge, domain=service.base_url, now=now
    )
    if not report.verified:
        raise Problem(
            422,
            "invalid-share",
            "the presentation does not verify: " + ("; ".join(report.errors[:3]) or report.verdict),
            verification=report.to_dict(),
        )
    if (
        db.execute(
            "select count(*) from presentation_shares where expires_at > ? and deleted = 0",
            [_epoch(now)],
        ).fetchone()[0]
        >= MAX_LIVE_SHARES
    ):
        raise Problem(
            503, "busy", "this node holds too many shares", headers={"Retry-After": "3600"}
        )
    share_id = secrets.token_urlsafe(18)
    delete_token = secrets.token_urlsafe(24)
    expires = _epoch(now) + ttl
    with db.atomic():
        db.execute("delete from presentation_shares where expires_at <= ?", [_epoch(now)])
        db.table("presentation_shares").insert(
            {
                "id": share_id,
                "presentation": json.dumps(presentation, separators=(",", ":"), ensure_ascii=False),
                "holder": report.holder,
                "challenge": challenge,
                "delete_digest": _sha256(delete_token),
                "created_at": _epoch(now),
                "expires_at": expires,
                "deleted": 0,
            }
        )
    url = f"{service.base_url}/shares/{share_id}"
    return _json(
        {"id": share_id, "url": url, "expiresAt": _iso(expires), "deleteToken": delete_token},
        status=201,
        headers={"Location": url},
    )


def _share(request: web.Request) -> dict[str, Any]:
    rows = list(
        request.app[DB].query(
            "select * from presentation_shares where id = ?", [request.match_info["id"]]
        )
    )
    if not rows:
        raise Problem(404, "share-not-found", "there is no such share")
    row = rows[0]
    if row["deleted"]:
        raise Problem(410, "share-deleted", "the holder deleted this share")
    if row["expires_at"] <= _epoch(request.app[CLOCK]()):
        raise Problem(410, "share-expired", "this share has expired")
    return dict(row)


@public("a share link is public by design until it expires")
async def get_share(request: web.Request) -> web.Response:
    """``GET /shares/{id}``: the shared presentation, re-verified now (JSON or a page)."""
    service = _service(request)
    now = request.app[CLOCK]()
    as_json = _wants_json(request)
    try:
        row = _share(request)
    except Problem as problem:
        if as_json:
            raise
        return _page(
            request,
            "Share unavailable",
            f"<p>{html.escape(problem.detail)}.</p>",
            status=problem.status,
        )
    presentation = json.loads(row["presentation"])
    report: Report = await request.app[SERVICES]["verifier"].verify(
        presentation, challenge=row["challenge"], domain=service.base_url, now=now
    )
    if as_json:
        return _json(
            {
                "presentation": presentation,
                "challenge": row["challenge"],
                "domain": service.base_url,
                "sharedAt": _iso(row["created_at"]),
                "expiresAt": _iso(row["expires_at"]),
                "verification": report.to_dict(),
            }
        )
    items = []
    for vc in presentation.get("verifiableCredential", []):
        subject = vc.get("credentialSubject", {}) if isinstance(vc, dict) else {}
        achievement = subject.get("achievement", {}) if isinstance(subject, dict) else {}
        name = achievement.get("name") if isinstance(achievement, dict) else None
        issuer = vc.get("issuer", {}) if isinstance(vc, dict) else {}
        issuer_name = issuer.get("name") if isinstance(issuer, dict) else issuer
        items.append(
            f"<li><strong>{html.escape(str(name or vc.get('name', 'A badge')))}</strong>, "
            f"issued by {html.escape(str(issuer_name))}</li>"
        )
    verdict = {
        "valid": "verified",
        "invalid": "does NOT verify",
        "unknown": "cannot be fully checked",
    }
    body = (
        f"<p>Shared by <code>{html.escape(str(row['holder']))}</code> until "
        f"{html.escape(_iso(row['expires_at']) or '')}. This presentation "
        f"<strong>{verdict[report.verdict]}</strong> now.</p><ul>{''.join(items)}</ul>"
    )
    return _page(request, "Shared badges", body)


@public("deleting a share is authorised by its delete token (Authorization: Bearer)")
async def delete_share(request: web.Request) -> web.Response:
    """``DELETE /shares/{id}`` with ``Authorization: Bearer <deleteToken>``."""
    row = _share(request)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(
            401,
            "unauthorized",
            "send the share's delete token as a Bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(_sha256(token.strip()), row["delete_digest"]):
        raise Problem(403, "forbidden", "this is not the share's delete token")
    request.app[DB].execute("update presentation_shares set deleted = 1 where id = ?", [row["id"]])
    return _json({"id": row["id"], "deleted": True})


# -- set-up ---------------------------------------------------------------------------------------


def setup(app: web.Application) -> None:
    """Publish the ``"presentations"`` service, the scope and the routes."""
    app[SERVICES]["presentations"] = PresentationRequests(app)
    auth = app[SERVICES].get("auth")
    if auth is not None and hasattr(auth, "register_scope"):
        auth.register_scope(
            PRESENTATION_SCOPE, "create presentation requests and read their results"
        )
    router = app.router
    router.add_post("/api/presentation-requests", create_request)
    router.add_get("/api/presentation-requests", list_requests)
    router.add_get("/api/presentation-requests/{id}", get_request)
    router.add_get("/presentation-requests/{id}", request_page)
    router.add_get("/presentation-requests/{id}/request-object", request_object)
    router.add_post("/presentation-requests/{id}/response", response_endpoint)
    router.add_get("/presentation-requests/{id}/qr.png", _qr_handler("png"))
    router.add_get("/presentation-requests/{id}/qr.svg", _qr_handler("svg"))
    router.add_post(f"/workflows/{WORKFLOW}/exchanges/{{id}}", exchange)
    router.add_post("/shares/challenges", share_challenge)
    router.add_post("/shares", create_share)
    router.add_get("/shares/{id}", get_share)
    router.add_delete("/shares/{id}", delete_share)
