"""Badge requests: an earner applies for an achievement with evidence, staff review it, and an
approval issues the badge through a one-time offer.

Earner side (no account; a private status token is the credential, shown once):

* ``POST /requests`` (JSON, or a ``multipart/form-data`` form with files): ``achievementId``,
  ``email``, optional ``name``, ``narrative``, ``links``; 201 with the request, its ``token`` and
  its private ``statusUrl`` (browsers are redirected there);
* ``GET /requests/status/{token}``: the request's state, history (staff comments included),
  evidence and, once approved, the offer (JSON or HTML);
* ``POST /requests/status/{token}/evidence``: more evidence when staff asked for it;
* ``POST /requests/status/{token}/offer``: a fresh offer when the last one expired unclaimed;
* ``GET /requests/status/{token}/files/{file}``: the earner's own files (as attachments);
* ``GET /requests/new``: the application form.

Staff side (scope ``requests:review``): ``GET /api/requests[?state=]``, ``GET /api/requests/{id}``,
``GET /api/requests/{id}/files/{file}``, ``POST /api/requests/{id}/review`` with ``{"decision":
"approve" | "needs-info" | "reject", "comment"}``; and the pages ``/staff/requests`` and
``/staff/requests/{id}``.

States: ``submitted`` -> ``approved`` | ``rejected`` | ``needs-info``; ``needs-info`` ->
``submitted`` (the earner added evidence), ``approved`` or ``rejected``. Approval creates a
deferred offer (``node.delivery``) whose credential carries the request's narratives and links
as OB ``Evidence`` objects; files stay with the issuer.

Files: at most :data:`MAX_FILES_PER_REQUEST` per request, each at most
:data:`MAX_FILE_BYTES`; the type is sniffed from the content (PDF, PNG, JPEG, GIF, WebP, plain
UTF-8 text without markup), the declared type is ignored, anything else is refused. Files are
stored in SQLite and only ever served as attachments with a sandboxing CSP, never inline.

Anonymous submissions and evidence uploads are rate-limited per client address
(:data:`SUBMISSIONS_PER_WINDOW` per :data:`SUBMISSION_WINDOW_SECONDS`) and overall
(:data:`GLOBAL_SUBMISSIONS_PER_WINDOW`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

from aiohttp import BodyPartReader, web
from sqlite_utils import Database

from .appkeys import CLOCK, CONFIG, DB, SERVICES
from .problems import Problem, read_json
from .storage import register

__all__ = [
    "ALLOWED_FILE_TYPES",
    "MAX_FILES_PER_REQUEST",
    "MAX_FILE_BYTES",
    "REVIEW_SCOPE",
    "RequestsService",
    "setup",
    "sniff",
]

#: Scope (and the staff role's permission) to review requests.
REVIEW_SCOPE = "requests:review"
#: Largest evidence file, in bytes.
MAX_FILE_BYTES = 5 * 1024 * 1024
#: Most files one request may carry over its life.
MAX_FILES_PER_REQUEST = 10
#: Most links one request may carry over its life.
MAX_LINKS_PER_REQUEST = 20
#: Most narratives (the first one and one per round of added evidence).
MAX_NARRATIVES_PER_REQUEST = 10
#: Longest narrative or staff comment, in characters.
MAX_TEXT_CHARS = 10_000
#: Longest name, link title or file name kept, in characters.
MAX_NAME_CHARS = 200
#: Longest link, in characters.
MAX_URL_CHARS = 2000
#: Largest text field of a multipart form, in bytes (10,000 characters of up to 4 bytes).
MAX_FIELD_BYTES = MAX_TEXT_CHARS * 4
#: Largest multipart body, in bytes (all files plus fields).
MAX_FORM_BYTES = MAX_FILES_PER_REQUEST * MAX_FILE_BYTES + 64 * 1024
#: Anonymous writes (submissions, evidence, new offers) per client address and window.
SUBMISSIONS_PER_WINDOW = 10
SUBMISSION_WINDOW_SECONDS = 3600
#: Anonymous writes per window from all addresses together (bounds disk use under a flood).
GLOBAL_SUBMISSIONS_PER_WINDOW = 500
#: Sniffed media types accepted for evidence files.
ALLOWED_FILE_TYPES = (
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain; charset=utf-8",
)
STATES = ("submitted", "needs-info", "approved", "rejected")
DECISIONS = {"approve": "approved", "needs-info": "needs-info", "reject": "rejected"}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_MARKUP = re.compile(rb"^\s*<", re.S)
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")

migrations = register("node.requests")


@migrations()
def m001_badge_requests(db: Database) -> None:
    """Requests, their evidence, files and history."""
    db.table("badge_requests").create(
        {
            "id": str,
            "token_digest": str,
            "achievement_id": str,
            "email": str,
            "name": str,
            "state": str,
            "created_at": int,
            "updated_at": int,
        },
        pk="id",
        not_null={"token_digest", "achievement_id", "email", "state", "created_at", "updated_at"},
    )
    db.table("badge_requests").create_index(["token_digest"], unique=True)
    db.table("badge_requests").create_index(["state", "created_at"])
    db.table("badge_request_files").create(
        {
            "id": str,
            "request_id": str,
            "filename": str,
            "content_type": str,
            "size": int,
            "sha256": str,
            "data": bytes,
            "created_at": int,
        },
        pk="id",
        not_null={"request_id", "filename", "content_type", "size", "sha256", "data"},
        foreign_keys=[("request_id", "badge_requests", "id")],
    )
    db.table("badge_request_evidence").create(
        {
            "id": int,
            "request_id": str,
            "kind": str,
            "narrative": str,
            "url": str,
            "name": str,
            "file_id": str,
            "created_at": int,
        },
        pk="id",
        not_null={"request_id", "kind", "created_at"},
        foreign_keys=[("request_id", "badge_requests", "id")],
    )
    db.table("badge_request_evidence").create_index(["request_id"])
    db.table("badge_request_events").create(
        {
            "id": int,
            "request_id": str,
            "at": int,
            "actor": str,
            "staff": str,
            "action": str,
            "comment": str,
        },
        pk="id",
        not_null={"request_id", "at", "actor", "action"},
        foreign_keys=[("request_id", "badge_requests", "id")],
    )
    db.table("badge_request_events").create_index(["request_id"])


# -- content checks ---------------------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The media type of ``data`` judged from its content, or ``None`` when not accepted."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    body = data.removeprefix(b"\xef\xbb\xbf")
    if b"\x00" in body or _MARKUP.match(body):
        return None  # binary of an unknown kind, or HTML/SVG/XML: never accepted
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in text):
        return None
    return "text/plain; charset=utf-8"


def clean_filename(name: str | None) -> str:
    """A display-safe file name: no path, no control characters, bounded length."""
    # Some clients percent-encode the name in the part's Content-Disposition; decode it first so
    # that encoded slashes cannot smuggle a path.
    text = unquote(name or "") if _PERCENT.search(name or "") else (name or "")
    base = text.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip(" .")
    return base[:MAX_NAME_CHARS] or "evidence"


def _text(
    value: Any, name: str, *, required: bool = False, limit: int = MAX_TEXT_CHARS
) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Problem(422, "invalid-request", f"{name} is required", field=name)
        return None
    if not isinstance(value, str):
        raise Problem(422, "invalid-request", f"{name} must be a string", field=name)
    text: str = value.strip()
    if len(text) > limit:
        raise Problem(
            422, "invalid-request", f"{name} is longer than {limit} characters", field=name
        )
    return text


def _link(value: Any) -> tuple[str, str | None]:
    url, name = (value.get("url"), value.get("name")) if isinstance(value, dict) else (value, None)
    url = _text(url, "links[].url", required=True, limit=MAX_URL_CHARS)
    assert url is not None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Problem(
            422, "invalid-request", f"link {url[:80]!r} must be an http(s) URL", field="links"
        )
    return url, _text(name, "links[].name", limit=MAX_NAME_CHARS)


def _links(value: Any) -> list[tuple[str, str | None]]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [line for line in value.splitlines() if line.strip()]
    if not isinstance(value, list):
        raise Problem(422, "invalid-request", "links must be a list", field="links")
    return [_link(item) for item in value]


@dataclass
class Upload:
    """A validated evidence file."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class Submission:
    """What an earner sent: fields, links and files (not yet stored)."""

    fields: dict[str, Any] = field(default_factory=dict)
    links: list[tuple[str, str | None]] = field(default_factory=list)
    files: list[Upload] = field(default_factory=list)


async def read_submission(request: web.Request) -> Submission:
    """Parse a JSON body or a multipart form (files sniffed and capped while streaming)."""
    if request.content_type == "multipart/form-data":
        return await _read_multipart(request)
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        fields = {k: v for k, v in form.items() if isinstance(v, str) and k != "link"}
        raw = [v for v in form.getall("link", []) if isinstance(v, str) and v.strip()]
        if "links" in fields:
            raw += [line for line in str(fields.pop("links")).splitlines() if line.strip()]
        return Submission(fields, _links(raw))
    body = await read_json(request)
    if not isinstance(body, dict):
        raise Problem(400, "malformed", "the body must be a JSON object")
    links = _links(body.pop("links", None))
    return Submission(body, links)


async def _read_multipart(request: web.Request) -> Submission:
    if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
        raise Problem(413, "payload-too-large", f"the form exceeds {MAX_FORM_BYTES} bytes")
    reader = await request.multipart()
    submission = Submission()
    raw_links: list[str] = []
    total = 0
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            raise Problem(400, "malformed", "nested multipart bodies are not accepted")
        name = part.name or ""
        if part.filename is not None and name in ("file", "files"):
            data = bytearray()
            while chunk := await part.read_chunk(64 * 1024):
                data += chunk
                if len(data) > MAX_FILE_BYTES:
                    raise Problem(
                        413,
                        "file-too-large",
                        f"{clean_filename(part.filename)} is larger than {MAX_FILE_BYTES} bytes",
                        limit=MAX_FILE_BYTES,
                    )
            total += len(data)
            if not data:
                continue  # an empty file input
            kind = sniff(bytes(data))
            if kind is None:
                raise Problem(
                    415,
                    "file-type-refused",
                    f"{clean_filename(part.filename)}: only PDF, PNG, JPEG, GIF, WebP "
                    "and plain text files are accepted",
                    accepted=list(ALLOWED_FILE_TYPES),
                )
            if len(submission.files) >= MAX_FILES_PER_REQUEST:
                raise Problem(
                    422, "too-many-files", f"at most {MAX_FILES_PER_REQUEST} files per request"
                )
            submission.files.append(Upload(clean_filename(part.filename), kind, bytes(data)))
        else:
            field_bytes = bytearray()
            while chunk := await part.read_chunk(16 * 1024):
                field_bytes += chunk
                if len(field_bytes) > MAX_FIELD_BYTES:
                    raise Problem(413, "payload-too-large", f"field {name!r} is too large")
            value = bytes(part.decode(bytes(field_bytes)))
            total += len(value)
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                raise Problem(400, "malformed", f"field {name!r} is not UTF-8") from None
            if name in ("link", "links"):
                raw_links += [line for line in text.splitlines() if line.strip()]
            elif name in submission.fields:
                raise Problem(400, "malformed", f"field {name!r} appears twice")
            else:
                submission.fields[name] = text
        if total > MAX_FORM_BYTES:
            raise Problem(413, "payload-too-large", f"the form exceeds {MAX_FORM_BYTES} bytes")
    submission.links = _links(raw_links)
    return submission


# -- rate limiting ----------------------------------------------------------------------------


class SubmissionLimiter:
    """Sliding-window counts of accepted anonymous writes, per client address and overall
    (refused submissions are not counted; their work is bounded by the size caps)."""

    def __init__(self, per_key: int, overall: int, window_seconds: int) -> None:
        self.per_key = per_key
        self.overall = overall
        self.window = timedelta(seconds=window_seconds)
        self._hits: dict[str, deque[datetime]] = {}
        self._all: deque[datetime] = deque()

    def _prune(self, hits: deque[datetime], now: datetime) -> None:
        while hits and hits[0] <= now - self.window:
            hits.popleft()

    def check(self, key: str, now: datetime) -> None:
        """Raise a 429 problem with ``Retry-After`` when ``key`` (or everyone) is at the cap."""
        hits = self._hits.get(key, deque())
        self._prune(hits, now)
        self._prune(self._all, now)
        for queue, cap in ((hits, self.per_key), (self._all, self.overall)):
            if len(queue) >= cap:
                retry = int((queue[0] + self.window - now).total_seconds()) + 1
                raise Problem(
                    429,
                    "too-many-requests",
                    "too many submissions; try again later",
                    headers={"Retry-After": str(max(retry, 1))},
                )

    def record(self, key: str, now: datetime) -> None:
        """Count one accepted write for ``key``."""
        if len(self._hits) > 10_000:  # forget idle addresses
            for stale in [k for k, q in self._hits.items() if not q]:
                del self._hits[stale]
        self._hits.setdefault(key, deque()).append(now)
        self._all.append(now)


# -- the service ------------------------------------------------------------------------------


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _iso(value: int | None) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class RequestsService:
    """Badge requests (published as ``app[SERVICES]["requests"]``)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self.limiter = SubmissionLimiter(
            SUBMISSIONS_PER_WINDOW, GLOBAL_SUBMISSIONS_PER_WINDOW, SUBMISSION_WINDOW_SECONDS
        )

    @property
    def db(self) -> Database:
        return self._app[DB]

    # -- reading -------------------------------------------------------------------------------

    def row(self, request_id: str) -> dict[str, Any]:
        """The stored request, or a 404 problem."""
        rows = list(self.db.query("select * from badge_requests where id = ?", [request_id]))
        if not rows:
            raise Problem(404, "request-not-found", "there is no such request")
        return rows[0]

    def by_token(self, token: str) -> dict[str, Any]:
        """The request whose status token is ``token``, or a 404 problem."""
        rows = list(
            self.db.query("select * from badge_requests where token_digest = ?", [_digest(token)])
        )
        if not rows or not hmac.compare_digest(rows[0]["token_digest"], _digest(token)):
            raise Problem(404, "request-not-found", "there is no request with this token")
        return rows[0]

    def _achievement_name(self, achievement_id: str) -> str:
        achievements = self._app[SERVICES].get("achievements")
        if achievements is None:
            return achievement_id
        try:
            return str(achievements.get(achievement_id).get("name", achievement_id))
        except Problem:
            return achievement_id

    def evidence(self, request_id: str) -> list[dict[str, Any]]:
        """The request's evidence, oldest first."""
        out = []
        for row in self.db.query(
            "select e.*, f.filename, f.content_type, f.size, f.sha256 "
            "from badge_request_evidence e left join badge_request_files f on f.id = e.file_id "
            "where e.request_id = ? order by e.id",
            [request_id],
        ):
            item: dict[str, Any] = {"kind": row["kind"], "addedAt": _iso(row["created_at"])}
            if row["kind"] == "text":
                item["narrative"] = row["narrative"]
            elif row["kind"] == "link":
                item["url"] = row["url"]
                if row["name"]:
                    item["name"] = row["name"]
            else:
                item.update(
                    fileId=row["file_id"],
                    filename=row["filename"],
                    contentType=row["content_type"],
                    size=row["size"],
                    sha256=row["sha256"],
                )
            out.append(item)
        return out

    def history(self, request_id: str, *, staff_view: bool) -> list[dict[str, Any]]:
        """The request's events, oldest first (staff names only in the staff view)."""
        out = []
        for row in self.db.query(
            "select * from badge_request_events where request_id = ? order by id", [request_id]
        ):
            event: dict[str, Any] = {
                "at": _iso(row["at"]),
                "actor": row["actor"],
                "action": row["action"],
            }
            if row["comment"]:
                event["comment"] = row["comment"]
            if staff_view and row["staff"]:
                event["staff"] = row["staff"]
            out.append(event)
        return out

    def offers(self, request_id: str, now: datetime) -> list[dict[str, Any]]:
        """The request's offers, newest first, with links while open."""
        delivery = self._app[SERVICES].get("delivery")
        if delivery is None:
            return []
        out = []
        for offer in delivery.for_request(request_id):
            item = offer.summary(now)
            if item["status"] == "offered":
                item["links"] = delivery.links(offer)
            out.append(item)
        return out

    def view(self, row: dict[str, Any], *, now: datetime, staff_view: bool) -> dict[str, Any]:
        """The JSON form of a request (for its earner, or for staff)."""
        base = self._app[CONFIG].base_url
        out: dict[str, Any] = {
            "id": row["id"],
            "state": row["state"],
            "achievement": {
                "id": row["achievement_id"],
                "name": self._achievement_name(row["achievement_id"]),
                "url": f"{base}/achievements/{row['achievement_id']}",
            },
            "createdAt": _iso(row["created_at"]),
            "updatedAt": _iso(row["updated_at"]),
            "evidence": self.evidence(row["id"]),
            "history": self.history(row["id"], staff_view=staff_view),
        }
        offers = self.offers(row["id"], now)
        if offers:
            out["offer"] = offers[0]
        if staff_view:
            out["email"] = row["email"]
            if row["name"]:
                out["name"] = row["name"]
            out["offers"] = offers
        elif row["name"]:
            out["name"] = row["name"]
        return out

    def summaries(self, *, state: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        """Summaries for staff, oldest waiting first."""
        where, args = ("where state = ?", [state]) if state else ("", [])
        rows = self.db.query(
            f"select * from badge_requests {where} "  # noqa: S608 (fixed clause)
            "order by created_at, id limit ? offset ?",
            [*args, limit, offset],
        )
        return [
            {
                "id": r["id"],
                "state": r["state"],
                "achievementId": r["achievement_id"],
                "achievementName": self._achievement_name(r["achievement_id"]),
                "email": r["email"],
                "name": r["name"],
                "createdAt": _iso(r["created_at"]),
                "updatedAt": _iso(r["updated_at"]),
            }
            for r in rows
        ]

    def file(self, request_id: str, file_id: str) -> dict[str, Any]:
        """A stored file of the request, or a 404 problem."""
        rows = list(
            self.db.query(
                "select * from badge_request_files where id = ? and request_id = ?",
                [file_id, request_id],
            )
        )
        if not rows:
            raise Problem(404, "file-not-found", "there is no such file")
        return rows[0]

    # -- writing -------------------------------------------------------------------------------

    def _check_achievement(self, achievement_id: str) -> None:
        achievements = self._app[SERVICES].get("achievements")
        if achievements is None:
            raise Problem(503, "unavailable", "this node has no achievements")
        try:
            achievements.get(achievement_id)
            retired = achievements.is_retired(achievement_id)
        except Problem as exc:
            if exc.status == 404:
                raise Problem(
                    422,
                    "invalid-request",
                    f"no achievement {achievement_id!r}",
                    field="achievementId",
                ) from None
            raise
        if retired:
            raise Problem(
                422,
                "invalid-request",
                "this achievement is no longer awarded",
                field="achievementId",
            )

    def _counts(self, request_id: str) -> dict[str, int]:
        counts = {"text": 0, "link": 0, "file": 0}
        for row in self.db.query(
            "select kind, count(*) as n from badge_request_evidence where request_id = ? "
            "group by kind",
            [request_id],
        ):
            counts[row["kind"]] = row["n"]
        return counts

    def _add_evidence(
        self,
        request_id: str,
        narrative: str | None,
        links: Iterable[tuple[str, str | None]],
        files: Iterable[Upload],
        now: datetime,
    ) -> int:
        links, files = list(links), list(files)
        counts = self._counts(request_id)
        if counts["text"] + (1 if narrative else 0) > MAX_NARRATIVES_PER_REQUEST:
            raise Problem(
                422,
                "too-much-evidence",
                f"at most {MAX_NARRATIVES_PER_REQUEST} narratives per request",
            )
        if counts["link"] + len(links) > MAX_LINKS_PER_REQUEST:
            raise Problem(
                422, "too-much-evidence", f"at most {MAX_LINKS_PER_REQUEST} links per request"
            )
        if counts["file"] + len(files) > MAX_FILES_PER_REQUEST:
            raise Problem(
                422, "too-many-files", f"at most {MAX_FILES_PER_REQUEST} files per request"
            )
        at = _epoch(now)
        added = 0
        evidence = self.db.table("badge_request_evidence")
        if narrative:
            evidence.insert(
                {"request_id": request_id, "kind": "text", "narrative": narrative, "created_at": at}
            )
            added += 1
        for url, name in links:
            evidence.insert(
                {
                    "request_id": request_id,
                    "kind": "link",
                    "url": url,
                    "name": name,
                    "created_at": at,
                }
            )
            added += 1
        for upload in files:
            file_id = secrets.token_urlsafe(12)
            self.db.table("badge_request_files").insert(
                {
                    "id": file_id,
                    "request_id": request_id,
                    "filename": upload.filename,
                    "content_type": upload.content_type,
                    "size": len(upload.data),
                    "sha256": hashlib.sha256(upload.data).hexdigest(),
                    "data": upload.data,
                    "created_at": at,
                }
            )
            evidence.insert(
                {"request_id": request_id, "kind": "file", "file_id": file_id, "created_at": at}
            )
            added += 1
        return added

    def _event(
        self,
        request_id: str,
        now: datetime,
        actor: str,
        action: str,
        comment: str | None = None,
        staff: str | None = None,
    ) -> None:
        self.db.table("badge_request_events").insert(
            {
                "request_id": request_id,
                "at": _epoch(now),
                "actor": actor,
                "staff": staff,
                "action": action,
                "comment": comment,
            }
        )

    def create(self, submission: Submission, *, now: datetime) -> tuple[dict[str, Any], str]:
        """Store a new request; returns it and its status token (shown once)."""
        fields = submission.fields
        known = {"achievementId", "email", "name", "narrative"}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise Problem(422, "invalid-request", f"unknown members: {', '.join(unknown)}")
        achievement_id = _text(
            fields.get("achievementId"), "achievementId", required=True, limit=MAX_NAME_CHARS
        )
        assert achievement_id is not None
        email = _text(fields.get("email"), "email", required=True, limit=320)
        assert email is not None
        if not _EMAIL.match(email):
            raise Problem(422, "invalid-request", "email is not an e-mail address", field="email")
        name = _text(fields.get("name"), "name", limit=MAX_NAME_CHARS)
        narrative = _text(fields.get("narrative"), "narrative")
        if not narrative and not submission.links and not submission.files:
            raise Problem(
                422,
                "invalid-request",
                "describe what you did (narrative) or give links or files as evidence",
                field="narrative",
            )
        self._check_achievement(achievement_id)
        request_id = "req-" + secrets.token_urlsafe(12)
        token = secrets.token_urlsafe(32)
        with self.db.atomic():
            self.db.table("badge_requests").insert(
                {
                    "id": request_id,
                    "token_digest": _digest(token),
                    "achievement_id": achievement_id,
                    "email": email.lower(),
                    "name": name,
                    "state": "submitted",
                    "created_at": _epoch(now),
                    "updated_at": _epoch(now),
                }
            )
            self._add_evidence(request_id, narrative, submission.links, submission.files, now)
            self._event(request_id, now, "earner", "submitted")
        return self.row(request_id), token

    def add_evidence(
        self, row: dict[str, Any], submission: Submission, *, now: datetime
    ) -> dict[str, Any]:
        """More evidence from the earner, when staff asked for it; back to ``submitted``."""
        fields = submission.fields
        unknown = sorted(set(fields) - {"narrative"})
        if unknown:
            raise Problem(422, "invalid-request", f"unknown members: {', '.join(unknown)}")
        narrative = _text(fields.get("narrative"), "narrative")
        if not narrative and not submission.links and not submission.files:
            raise Problem(422, "invalid-request", "send a narrative, links or files")
        with self.db.atomic():
            cursor = self.db.execute(
                "update badge_requests set state = 'submitted', updated_at = ? "
                "where id = ? and state = 'needs-info'",
                [_epoch(now), row["id"]],
            )
            if cursor.rowcount != 1:
                raise Problem(
                    409,
                    "not-accepting-evidence",
                    f"this request is {row['state']}; evidence is added when the "
                    "reviewers ask for more",
                )
            self._add_evidence(row["id"], narrative, submission.links, submission.files, now)
            self._event(row["id"], now, "earner", "evidence-added")
        return self.row(row["id"])

    def credential_evidence(self, request_id: str) -> list[dict[str, Any]]:
        """The OB 3.0 Evidence objects of a request: its narratives and links."""
        out: list[dict[str, Any]] = []
        for item in self.evidence(request_id):
            if item["kind"] == "text":
                out.append({"type": ["Evidence"], "narrative": item["narrative"]})
            elif item["kind"] == "link":
                out.append(
                    {
                        "id": item["url"],
                        "type": ["Evidence"],
                        "name": item.get("name") or item["url"],
                    }
                )
        return out

    async def _offer(self, row: dict[str, Any], *, now: datetime, created_by: str | None) -> Any:
        delivery = self._app[SERVICES].get("delivery")
        if delivery is None:
            raise Problem(503, "unavailable", "this node cannot deliver credentials")
        offer, _ = await delivery.create_offer(
            now=now,
            achievement_id=row["achievement_id"],
            email=row["email"],
            issue_options={"evidence": self.credential_evidence(row["id"])},
            request_id=row["id"],
            created_by=created_by,
            label=self._achievement_name(row["achievement_id"]),
        )
        return offer

    async def review(
        self,
        request_id: str,
        *,
        decision: str,
        comment: str | None,
        staff: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        """Apply a staff decision. Approval creates the offer that issues the badge."""
        if decision not in DECISIONS:
            raise Problem(
                422,
                "invalid-review",
                f"decision is one of {', '.join(DECISIONS)}",
                field="decision",
            )
        comment = _text(comment, "comment")
        if decision == "needs-info" and not comment:
            raise Problem(
                422, "invalid-review", "say what more is needed (comment)", field="comment"
            )
        row = self.row(request_id)
        new_state = DECISIONS[decision]
        if decision == "approve":
            self._check_achievement(row["achievement_id"])
        allowed = ("submitted",) if decision == "needs-info" else ("submitted", "needs-info")
        with self.db.atomic():
            cursor = self.db.execute(
                "update badge_requests set state = ?, updated_at = ? where id = ? "
                "and state in (?, ?)",
                [new_state, _epoch(now), request_id, allowed[0], allowed[-1]],
            )
            if cursor.rowcount != 1:
                raise Problem(
                    409,
                    "request-decided",
                    f"this request is {row['state']}; it cannot be {new_state} now",
                )
            self._event(request_id, now, "staff", new_state, comment, staff)
        if decision == "approve":
            try:
                await self._offer(self.row(request_id), now=now, created_by=staff)
            except BaseException:
                # No offer, no approval: put the request back as it was.
                with self.db.atomic():
                    self.db.execute(
                        "update badge_requests set state = ? where id = ?",
                        [row["state"], request_id],
                    )
                    self.db.execute(
                        "delete from badge_request_events where id = (select max(id) from "
                        "badge_request_events where request_id = ?)",
                        [request_id],
                    )
                raise
        return self.row(request_id)

    async def renew_offer(self, row: dict[str, Any], *, now: datetime) -> None:
        """A new offer for an approved request whose offers all expired or were cancelled."""
        if row["state"] != "approved":
            raise Problem(409, "not-approved", "only approved requests have offers")
        offers = self.offers(row["id"], now)
        if any(o["status"] in ("offered", "claimed") for o in offers):
            raise Problem(
                409, "offer-exists", "the badge was already claimed or its offer is still open"
            )
        await self._offer(row, now=now, created_by=None)
        self._event(row["id"], now, "earner", "new-offer")


# -- HTTP -------------------------------------------------------------------------------------


def _service(request: web.Request) -> RequestsService:
    service: RequestsService = request.app[SERVICES]["requests"]
    return service


_Handler = TypeVar("_Handler", bound=Callable[..., Awaitable[web.StreamResponse]])


def _public(reason: str) -> Callable[[_Handler], _Handler]:
    from .delivery._web import public

    return public(reason)


def _wants_json(request: web.Request) -> bool:
    from .delivery._web import wants_json

    return wants_json(request)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


def _status_url(request: web.Request, token: str) -> str:
    return f"{request.app[CONFIG].base_url}/requests/status/{token}"


def _render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    from .web import render

    return render(request, template, context, status=status)


def _attachment(row: dict[str, Any]) -> web.Response:
    name = row["filename"]
    ascii_name = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name
    )
    return web.Response(
        body=row["data"],
        content_type=row["content_type"].split(";")[0],
        charset="utf-8" if row["content_type"].startswith("text/") else None,
        headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(name, safe='')}",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, no-store",
        },
    )


async def _submit(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    now = request.app[CLOCK]()
    service.limiter.check(_client(request), now)
    submission = await read_submission(request)
    row, token = service.create(submission, now=now)
    service.limiter.record(_client(request), now)
    url = _status_url(request, token)
    if not _wants_json(request):
        raise web.HTTPSeeOther(f"/requests/status/{token}")
    body = service.view(row, now=now, staff_view=False)
    body.update(token=token, statusUrl=url)
    return _json(body, 201, {"Location": url})


submit = _public("anyone may apply for a badge; rate-limited per address")(_submit)


@_public("the application form")
async def new_request_page(request: web.Request) -> web.Response:
    """``GET /requests/new``: the application form."""
    achievements = request.app[SERVICES].get("achievements")
    choices = achievements.list() if achievements is not None else []
    return _render(
        request,
        "requests/new.html",
        {
            "achievements": choices,
            "selected": request.query.get("achievement", ""),
            "max_files": MAX_FILES_PER_REQUEST,
            "max_file_mb": MAX_FILE_BYTES // (1024 * 1024),
        },
    )


@_public("the unguessable status token in the URL is the credential")
async def status(request: web.Request) -> web.Response:
    """``GET /requests/status/{token}``."""
    service = _service(request)
    row = service.by_token(request.match_info["token"])
    view = service.view(row, now=request.app[CLOCK](), staff_view=False)
    if _wants_json(request):
        return _json(view)
    return _render(
        request,
        "requests/status.html",
        {
            "request": view,
            "token": request.match_info["token"],
            "max_files": MAX_FILES_PER_REQUEST,
        },
    )


@_public("the unguessable status token in the URL is the credential; rate-limited")
async def add_evidence(request: web.Request) -> web.StreamResponse:
    """``POST /requests/status/{token}/evidence``."""
    service = _service(request)
    now = request.app[CLOCK]()
    row = service.by_token(request.match_info["token"])
    service.limiter.check(_client(request), now)
    submission = await read_submission(request)
    row = service.add_evidence(row, submission, now=now)
    service.limiter.record(_client(request), now)
    if not _wants_json(request):
        raise web.HTTPSeeOther(f"/requests/status/{request.match_info['token']}")
    return _json(service.view(row, now=now, staff_view=False))


@_public("the unguessable status token in the URL is the credential; rate-limited")
async def renew_offer(request: web.Request) -> web.StreamResponse:
    """``POST /requests/status/{token}/offer``."""
    service = _service(request)
    now = request.app[CLOCK]()
    row = service.by_token(request.match_info["token"])
    service.limiter.check(_client(request), now)
    await service.renew_offer(row, now=now)
    service.limiter.record(_client(request), now)
    if not _wants_json(request):
        raise web.HTTPSeeOther(f"/requests/status/{request.match_info['token']}")
    return _json(service.view(row, now=now, staff_view=False), 201)


@_public("the unguessable status token in the URL is the credential")
async def earner_file(request: web.Request) -> web.Response:
    """``GET /requests/status/{token}/files/{file}``: the earner's own file, as an attachment."""
    service = _service(request)
    row = service.by_token(request.match_info["token"])
    return _attachment(service.file(row["id"], request.match_info["file"]))


async def _staff(request: web.Request) -> Any:
    from .delivery._web import require_scope

    return await require_scope(request, REVIEW_SCOPE)


def _who(principal: Any) -> str | None:
    from .delivery._web import principal_name

    return principal_name(principal)


async def list_requests(request: web.Request) -> web.Response:
    """``GET /api/requests``: oldest first (``state``, ``limit``, ``offset``)."""
    await _staff(request)
    state = request.query.get("state")
    if state is not None and state not in STATES:
        raise Problem(400, "bad-request", f"state is one of {', '.join(STATES)}")
    try:
        limit = max(1, min(int(request.query.get("limit", "100")), 500))
        offset = max(int(request.query.get("offset", "0")), 0)
    except ValueError:
        raise Problem(400, "bad-request", "limit and offset are integers") from None
    return _json({"requests": _service(request).summaries(state=state, limit=limit, offset=offset)})


async def get_request(request: web.Request) -> web.Response:
    """``GET /api/requests/{id}``."""
    await _staff(request)
    service = _service(request)
    row = service.row(request.match_info["id"])
    return _json(service.view(row, now=request.app[CLOCK](), staff_view=True))


async def staff_file(request: web.Request) -> web.Response:
    """``GET /api/requests/{id}/files/{file}``: an evidence file, as an attachment."""
    await _staff(request)
    service = _service(request)
    return _attachment(service.file(request.match_info["id"], request.match_info["file"]))


async def review(request: web.Request) -> web.Response:
    """``POST /api/requests/{id}/review``: ``{"decision", "comment"}``."""
    principal = await _staff(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise Problem(400, "malformed", "the body must be a JSON object")
    unknown = sorted(set(body) - {"decision", "comment"})
    if unknown:
        raise Problem(422, "invalid-review", f"unknown members: {', '.join(unknown)}")
    service = _service(request)
    now = request.app[CLOCK]()
    row = await service.review(
        request.match_info["id"],
        decision=str(body.get("decision")),
        comment=body.get("comment"),
        staff=_who(principal),
        now=now,
    )
    return _json(service.view(row, now=now, staff_view=True))


async def staff_list_page(request: web.Request) -> web.Response:
    """``GET /staff/requests``."""
    from .web import require_page_staff

    await require_page_staff(request, REVIEW_SCOPE)
    state = request.query.get("state", "submitted")
    if state not in STATES:
        state = "submitted"
    rows = _service(request).summaries(state=state, limit=500, offset=0)
    return _render(
        request, "requests/staff_list.html", {"requests": rows, "state": state, "states": STATES}
    )


async def staff_detail_page(request: web.Request) -> web.Response:
    """``GET /staff/requests/{id}``."""
    from .web import require_page_staff

    await require_page_staff(request, REVIEW_SCOPE)
    service = _service(request)
    row = service.row(request.match_info["id"])
    view = service.view(row, now=request.app[CLOCK](), staff_view=True)
    return _render(request, "requests/staff_detail.html", {"request": view, "error": None})


async def staff_review_submit(request: web.Request) -> web.StreamResponse:
    """``POST /staff/requests/{id}/review`` (form with the CSRF token)."""
    from .web import require_page_staff

    principal = await require_page_staff(request, REVIEW_SCOPE)
    form = await request.post()
    service = _service(request)
    now = request.app[CLOCK]()
    decision = form.get("decision")
    comment = form.get("comment")
    try:
        await service.review(
            request.match_info["id"],
            decision=str(decision),
            comment=comment if isinstance(comment, str) else None,
            staff=_who(principal),
            now=now,
        )
    except Problem as problem:
        if problem.status == 404:
            raise
        row = service.row(request.match_info["id"])
        view = service.view(row, now=now, staff_view=True)
        return _render(
            request,
            "requests/staff_detail.html",
            {"request": view, "error": problem.detail},
            status=problem.status,
        )
    raise web.HTTPSeeOther(f"/staff/requests/{request.match_info['id']}")


def setup(app: web.Application) -> None:
    """Publish the requests service, its routes and its staff pages."""
    app[SERVICES]["requests"] = RequestsService(app)
    app.router.add_get("/requests/new", new_request_page)
    app.router.add_post("/requests", submit)
    app.router.add_get("/requests/status/{token}", status)
    app.router.add_post("/requests/status/{token}/evidence", add_evidence)
    app.router.add_post("/requests/status/{token}/offer", renew_offer)
    app.router.add_get("/requests/status/{token}/files/{file}", earner_file)
    app.router.add_get("/api/requests", list_requests)
    app.router.add_get("/api/requests/{id}", get_request)
    app.router.add_get("/api/requests/{id}/files/{file}", staff_file)
    app.router.add_post("/api/requests/{id}/review", review)
    app.router.add_get("/staff/requests", staff_list_page)
    app.router.add_get("/staff/requests/{id}", staff_detail_page)
    app.router.add_post("/staff/requests/{id}/review", staff_review_submit)
    try:
        from .web import register_nav
    except ImportError:  # pragma: no cover - a build without staff pages
        return
    register_nav(app, "Badge requests", "/staff/requests", order=30)
