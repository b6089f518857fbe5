"""Staff accounts, sessions with CSRF protection, login rate limiting and scoped API tokens.

* Passwords: Argon2id (argon2-cffi ``PasswordHasher`` defaults), hashed off the event loop.
* Sessions: ``POST /auth/login`` (JSON ``{"email", "password"}`` or a form) sets the
  ``passeport_session`` cookie (random token, HttpOnly, SameSite=Strict, Secure on https; only
  its SHA-256 is stored) and returns a per-session CSRF token. Cookie-authenticated unsafe
  requests (POST, PUT, PATCH, DELETE) must carry it in ``X-CSRF-Token`` or a ``csrf_token`` form
  field. ``POST /auth/logout`` ends the session; ``GET /auth/session`` describes it.
* Rate limiting: at most ``login_max_failures`` failed logins per account and per client
  address within ``login_window_seconds``; then 429 with ``Retry-After``.
* API tokens: ``Authorization: Bearer pst_...``, random, stored as SHA-256, scoped, revocable
  (``/api/tokens``; ``passeport node token create``).

Handlers call ``await app[SERVICES]["auth"].require_staff(request)`` or
``require_scope(request, scope)``; both raise 401/403 problems. Routes meant to be reachable
without credentials are marked with :func:`public` (the security tests refuse any other route
that answers anonymous requests).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import argon2
from aiohttp import web
from sqlite_utils import Database

from .appkeys import CLOCK, CONFIG, DB, SERVICES
from .config import NodeConfig
from .problems import Problem, read_json
from .storage import register

__all__ = [
    "ADMIN_SCOPE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "ROLES",
    "SCOPES",
    "SESSION_COOKIE",
    "AuthService",
    "Principal",
    "StaffUser",
    "is_public",
    "public",
    "setup",
]

SESSION_COOKIE = "passeport_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
TOKEN_PREFIX = "pst_"  # noqa: S105 (a public prefix, not a secret)
#: Random bytes in a session token, an API token and a CSRF token.
TOKEN_BYTES = 32
ADMIN_SCOPE = "admin"
#: Scopes an API token may carry. ``admin`` implies every other scope. Components may add
#: theirs with :meth:`AuthService.register_scope` during set-up.
SCOPES: dict[str, str] = {
    "admin": "everything, including staff accounts, tokens, identities and keys",
    "achievements:write": "create, edit and retire achievements",
    "credentials:issue": "issue credentials",
    "credentials:revoke": "revoke and suspend credentials",
    "requests:review": "review badge requests",
    "staff": "read-only access to the staff API",
}
#: Staff roles: ``admin`` has every scope; ``staff`` every scope but ``admin``.
ROLES = ("admin", "staff")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Longest e-mail and password accepted at login, in characters (bounds the hashing work).
MAX_EMAIL_CHARS = 320
MAX_PASSWORD_CHARS = 1024
MIN_PASSWORD_CHARS = 12
#: How often a token's ``last_used_at`` is written at most.
TOKEN_USE_GRANULARITY = timedelta(minutes=1)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\Z")
_SCOPE = re.compile(r"[a-z]+(?::[a-z-]+)?\Z")

migrations = register("node.auth")

#: Where the request's principal is cached (a typed request key where aiohttp has them).
PRINCIPAL_KEY: Any = (
    web.RequestKey("passeport_principal", object)
    if hasattr(web, "RequestKey")
    else "passeport_principal"
)


@migrations()
def m001_auth(db: Database) -> None:
    db["staff"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "email": str,
            "role": str,
            "password_hash": str,
            "created_at": str,
            "disabled_at": str,
        },
        pk="id",
        not_null={"email", "role", "password_hash", "created_at"},
    )
    db["staff"].create_index(["email"], unique=True)  # type: ignore[union-attr]
    db["sessions"].create(  # type: ignore[union-attr]
        {
            "token_hash": str,
            "staff_id": int,
            "csrf_token": str,
            "created_at": str,
            "expires_at": str,
        },
        pk="token_hash",
        not_null={"staff_id", "csrf_token", "created_at", "expires_at"},
        foreign_keys=[("staff_id", "staff", "id")],
    )
    db["api_tokens"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "name": str,
            "token_hash": str,
            "scopes": str,
            "created_at": str,
            "created_by": int,
            "revoked_at": str,
            "last_used_at": str,
        },
        pk="id",
        not_null={"name", "token_hash", "scopes", "created_at"},
    )
    db["api_tokens"].create_index(["token_hash"], unique=True)  # type: ignore[union-attr]


# -- public routes --------------------------------------------------------------------------

_H = TypeVar("_H", bound=Callable[..., Awaitable[web.StreamResponse]])


def public(reason: str) -> Callable[[_H], _H]:
    """Mark a handler as reachable without credentials, saying why (reviewable allowlist)."""
    if not reason.strip():
        raise ValueError("a public route needs a reason")

    def mark(handler: _H) -> _H:
        handler.__passeport_public__ = reason  # type: ignore[attr-defined]
        return handler

    return mark


def is_public(handler: Any) -> str | None:
    """The reason a handler is public, or ``None`` for a handler that requires credentials."""
    reason = getattr(handler, "__passeport_public__", None)
    return reason if isinstance(reason, str) else None


# -- principals -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff member through a session, or an API token."""

    kind: str  # "session" | "token"
    staff_id: int | None
    email: str | None
    role: str | None
    scopes: frozenset[str]
    token_id: int | None = None
    csrf_token: str | None = field(default=None, repr=False)

    def has(self, scope: str) -> bool:
        """True when this principal holds ``scope`` (``admin`` holds every scope)."""
        return ADMIN_SCOPE in self.scopes or scope in self.scopes

    def to_json(self) -> dict[str, Any]:
        """A JSON description (no secrets besides the caller's own CSRF token)."""
        out: dict[str, Any] = {"kind": self.kind, "scopes": sorted(self.scopes)}
        if self.email is not None:
            out.update(email=self.email, role=self.role, staffId=self.staff_id)
        if self.token_id is not None:
            out["tokenId"] = self.token_id
        if self.csrf_token is not None:
            out["csrfToken"] = self.csrf_token
        return out


#: The contract's name for the principal returned by ``require_staff``.
StaffUser = Principal


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _role_scopes(role: str, known: Iterable[str]) -> frozenset[str]:
    if role == "admin":
        return frozenset(known)
    return frozenset(s for s in known if s != ADMIN_SCOPE)


@dataclass
class _Window:
    """Failure times of one key (account or address) in the sliding window."""

    times: deque[datetime] = field(default_factory=deque)


class RateLimiter:
    """Failed attempts per key within a sliding window (in memory, per process)."""

    def __init__(self, max_failures: int, window_seconds: int) -> None:
        self.max_failures = max_failures
        self.window = timedelta(seconds=window_seconds)
        self._windows: dict[str, _Window] = {}

    def _prune(self, key: str, now: datetime) -> deque[datetime]:
        window = self._windows.setdefault(key, _Window())
        while window.times and window.times[0] <= now - self.window:
            window.times.popleft()
        return window.times

    def retry_after(self, keys: Iterable[str], now: datetime) -> int | None:
        """Seconds to wait when any key is over the limit, else ``None``."""
        waits = []
        for key in keys:
            times = self._prune(key, now)
            if len(times) >= self.max_failures:
                waits.append((times[0] + self.window - now).total_seconds())
        if not waits:
            return None
        return max(1, int(max(waits) + 0.999))

    def fail(self, keys: Iterable[str], now: datetime) -> None:
        """Record one failure under each key."""
        for key in keys:
            self._prune(key, now).append(now)
        if len(self._windows) > 100_000:  # bound memory under address spraying
            for key in [k for k, w in self._windows.items() if not w.times]:
                del self._windows[key]

    def clear(self, key: str) -> None:
        """Forget the failures of ``key`` (after a successful login)."""
        self._windows.pop(key, None)


class AuthService:
    """Staff, sessions, tokens and the request guards (the ``"auth"`` service)."""

    def __init__(self, config: NodeConfig, db: Database) -> None:
        self._config = config
        self._db = db
        self._hasher = argon2.PasswordHasher()
        self._dummy_hash: str | None = None
        self.scopes = dict(SCOPES)
        self.limiter = RateLimiter(config.login_max_failures, config.login_window_seconds)
        self.secure_cookies = urlsplit(config.public_url).scheme == "https"
        self._last_used: dict[int, datetime] = {}

    def register_scope(self, scope: str, description: str) -> None:
        """Add a scope API tokens may carry (call during set-up)."""
        if not _SCOPE.match(scope):
            raise ValueError(f"scope {scope!r} must look like 'noun' or 'noun:verb'")
        self.scopes[scope] = description

    # -- staff accounts -----------------------------------------------------------------------

    def hash_password(self, password: str) -> str:
        """Argon2id hash of ``password`` (CPU-heavy: call through ``asyncio.to_thread``)."""
        return self._hasher.hash(password)

    def check_new_staff(self, email: str, password: str, role: str) -> str:
        """Validate a new account's fields; returns the normalised e-mail (``ValueError``)."""
        email = normalize_email(email)
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD_CHARS or len(password) > MAX_PASSWORD_CHARS:
            raise ValueError(
                f"a password must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
            )
        if self.staff_by_email(email) is not None:
            raise ValueError(f"a staff account for {email} already exists")
        return email

    def create_staff(
        self,
        email: str,
        password: str,
        *,
        role: str = "staff",
        now: datetime,
        password_hash: str | None = None,
    ) -> int:
        """Create a staff account; returns its id. Raises ``ValueError`` on bad input.

        ``password_hash`` (from :meth:`hash_password`, computed off the event loop) avoids
        hashing here.
        """
        email = self.check_new_staff(email, password, role)
        table = self._db.table("staff")
        table.insert(
            {
                "email": email,
                "role": role,
                "password_hash": password_hash or self.hash_password(password),
                "created_at": now.isoformat(),
                "disabled_at": None,
            }
        )
        staff_id = table.last_pk
        assert isinstance(staff_id, int)
        return staff_id

    def staff_by_email(self, email: str) -> dict[str, Any] | None:
        """The staff row for ``email`` (normalised), or ``None``."""
        row = self._db.execute(
            "SELECT id, email, role, password_hash, disabled_at FROM staff WHERE email = ?",
            [email.strip().lower()],
        ).fetchone()
        if row is None:
            return None
        return dict(zip(("id", "email", "role", "password_hash", "disabled_at"), row, strict=True))

    def list_staff(self) -> list[dict[str, Any]]:
        """Every staff account (without password hashes)."""
        rows = self._db.execute(
            "SELECT id, email, role, created_at, disabled_at FROM staff ORDER BY id"
        ).fetchall()
        keys = ("id", "email", "role", "createdAt", "disabledAt")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def _verify_password(self, stored: str | None, password: str) -> bool:
        if stored is None:
            # Same work for unknown accounts, so timing does not reveal which e-mails exist.
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
            stored = self._dummy_hash
            try:
                self._hasher.verify(stored, password)
            except argon2.exceptions.VerificationError:
                pass
            return False
        try:
            return bool(self._hasher.verify(stored, password))
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    async def authenticate(
        self, email: str, password: str, *, address: str, now: datetime
    ) -> dict[str, Any]:
        """Check a login; returns the staff row or raises a 401/429 problem."""
        account = email.strip().lower()
        keys = [f"account:{account}", f"address:{address}"]
        wait = self.limiter.retry_after(keys, now)
        if wait is not None:
            raise Problem(
                429,
                "too-many-requests",
                "too many failed logins; try again later",
                headers={"Retry-After": str(wait)},
            )
        row = self.staff_by_email(account)
        stored = row["password_hash"] if row and not row["disabled_at"] else None
        ok = await asyncio.to_thread(self._verify_password, stored, password)
        if not ok or row is None:
            self.limiter.fail(keys, now)
            raise Problem(401, "unauthorized", "wrong e-mail or password")
        self.limiter.clear(keys[0])
        if self._hasher.check_needs_rehash(row["password_hash"]):
            new_hash = await asyncio.to_thread(self.hash_password, password)
            self._db.execute(
                "UPDATE staff SET password_hash = ? WHERE id = ?", [new_hash, row["id"]]
            )
        return row

    # -- sessions -----------------------------------------------------------------------------

    def create_session(self, staff_id: int, *, now: datetime) -> tuple[str, str]:
        """Start a session; returns ``(session token, CSRF token)``."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        csrf = secrets.token_urlsafe(TOKEN_BYTES)
        expires = now + timedelta(seconds=self._config.session_ttl_seconds)
        self._db.execute("DELETE FROM sessions WHERE expires_at <= ?", [now.isoformat()])
        self._db.table("sessions").insert(
            {
                "token_hash": _sha256(token),
                "staff_id": staff_id,
                "csrf_token": csrf,
                "created_at": now.isoformat(),
                "expires_at": expires.isoformat(),
            }
        )
        return token, csrf

    def end_session(self, token: str) -> None:
        """Delete a session."""
        self._db.execute("DELETE FROM sessions WHERE token_hash = ?", [_sha256(token)])

    def session_principal(self, token: str, *, now: datetime) -> Principal | None:
        """The principal of a live session token, or ``None``."""
        row = self._db.execute(
            "SELECT s.staff_id, s.csrf_token, s.expires_at, st.email, st.role, st.disabled_at "
            "FROM sessions s JOIN staff st ON st.id = s.staff_id WHERE s.token_hash = ?",
            [_sha256(token)],
        ).fetchone()
        if row is None:
            return None
        staff_id, csrf, expires_at, email, role, disabled_at = row
        if disabled_at or datetime.fromisoformat(expires_at) <= now:
            return None
        return Principal(
            kind="session",
            staff_id=staff_id,
            email=email,
            role=role,
            scopes=_role_scopes(role, self.scopes),
            csrf_token=csrf,
        )

    # -- API tokens ---------------------------------------------------------------------------

    def create_token(
        self,
        scopes: Iterable[str],
        *,
        name: str,
        now: datetime,
        created_by: int | None = None,
    ) -> tuple[int, str]:
        """Create an API token; returns ``(id, token)``. The token is shown once, never stored."""
        wanted = sorted(set(scopes))
        if not wanted:
            raise ValueError("a token needs at least one scope")
        unknown = [s for s in wanted if s not in self.scopes]
        if unknown:
            raise ValueError(
                f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(sorted(self.scopes))}"
            )
        if not name.strip() or len(name) > 200:
            raise ValueError("a token name must be a non-empty string of at most 200 characters")
        token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        table = self._db.table("api_tokens")
        table.insert(
            {
                "name": name,
                "token_hash": _sha256(token),
                "scopes": json.dumps(wanted),
                "created_at": now.isoformat(),
                "created_by": created_by,
                "revoked_at": None,
                "last_used_at": None,
            }
        )
        token_id = table.last_pk
        assert isinstance(token_id, int)
        return token_id, token

    def revoke_token(self, token_id: int, *, now: datetime) -> bool:
        """Revoke a token; returns False when no live token has this id."""
        cursor = self._db.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            [now.isoformat(), token_id],
        )
        return cursor.rowcount > 0

    def list_tokens(self) -> list[dict[str, Any]]:
        """Every token's metadata (never the token)."""
        rows = self._db.execute(
            "SELECT id, name, scopes, created_at, revoked_at, last_used_at FROM api_tokens "
            "ORDER BY id"
        ).fetchall()
        return [
            {
                "id": r[0],
                "name": r[1],
                "scopes": json.loads(r[2]),
                "createdAt": r[3],
                "revokedAt": r[4],
                "lastUsedAt": r[5],
            }
            for r in rows
        ]

    def _touch(self, token_id: int, now: datetime) -> None:
        """Record a token's use, at most once per :data:`TOKEN_USE_GRANULARITY` (no write per
        request)."""
        last = self._last_used.get(token_id)
        if last is None or now - last >= TOKEN_USE_GRANULARITY:
            self._last_used[token_id] = now
            self._db.execute(
                "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [now.isoformat(), token_id]
            )

    def token_principal(self, token: str, *, now: datetime | None = None) -> Principal | None:
        """The principal of a live API token, or ``None``."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        row = self._db.execute(
            "SELECT id, scopes, revoked_at FROM api_tokens WHERE token_hash = ?", [_sha256(token)]
        ).fetchone()
        if row is None or row[2] is not None:
            return None
        if now is not None:
            self._touch(row[0], now)
        return Principal(
            kind="token",
            staff_id=None,
            email=None,
            role=None,
            scopes=frozenset(json.loads(row[1])),
            token_id=row[0],
        )

    # -- request guards -----------------------------------------------------------------------

    async def principal(self, request: web.Request) -> Principal | None:
        """Who is calling (``None`` when anonymous); checks CSRF for cookie sessions.

        Raises 401 for a bad bearer token and 403 for a missing or wrong CSRF token.
        """
        cached = request.get(PRINCIPAL_KEY)
        if isinstance(cached, Principal):
            return cached
        header = request.headers.get("Authorization")
        found: Principal | None = None
        if header is not None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise _unauthorized("the Authorization header must be 'Bearer <token>'")
            found = self.token_principal(value.strip(), now=request.app[CLOCK]())
            if found is None:
                raise _unauthorized("the API token is unknown or revoked")
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            if cookie:
                found = self.session_principal(cookie, now=request.app[CLOCK]())
                if found is not None and request.method in UNSAFE_METHODS:
                    await self._check_csrf(request, found)
        if found is not None:
            request[PRINCIPAL_KEY] = found
        return found

    async def _check_csrf(self, request: web.Request, principal: Principal) -> None:
        expected = principal.csrf_token or ""
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            form = await request.post()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise Problem(
                403,
                "csrf-failed",
                f"a cookie-authenticated {request.method} needs the session's CSRF token "
                f"in the {CSRF_HEADER} header or the {CSRF_FIELD} form field",
            )

    async def require_staff(self, request: web.Request) -> Principal:
        """The caller (session or API token), or a 401 problem."""
        found = await self.principal(request)
        if found is None:
            raise _unauthorized("sign in, or send 'Authorization: Bearer <token>'")
        return found

    async def require_scope(self, request: web.Request, scope: str) -> Principal:
        """The caller if it holds ``scope``; 401 when anonymous, 403 without the scope."""
        found = await self.require_staff(request)
        if not found.has(scope):
            raise Problem(403, "forbidden", f"this action needs the {scope!r} scope")
        return found


def normalize_email(email: str) -> str:
    """Trimmed, lower-cased e-mail address (``ValueError`` when it is not one)."""
    value = email.strip().lower()
    if len(value) > MAX_EMAIL_CHARS or not _EMAIL.match(value):
        raise ValueError(f"not an e-mail address: {email!r}")
    return value


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def service(request: web.Request) -> AuthService:
    """The auth service of the request's app."""
    return cast(AuthService, request.app[SERVICES]["auth"])


# -- handlers -------------------------------------------------------------------------------


async def read_credentials(request: web.Request) -> tuple[str, str, bool]:
    """``(email, password, is_form)`` from a JSON body or a form; 400 when malformed."""
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        email, password, is_form = form.get("email"), form.get("password"), True
    else:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise Problem(400, "malformed", "expected a JSON object with email and password")
        email, password, is_form = body.get("email"), body.get("password"), False
    if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
        raise Problem(400, "malformed", "email and password are required strings")
    if len(email) > MAX_EMAIL_CHARS or len(password) > MAX_PASSWORD_CHARS:
        raise Problem(400, "malformed", "email or password is too long")
    return email, password, is_form


def check_origin(request: web.Request) -> None:
    """Refuse a browser request whose ``Origin`` is another site (login CSRF)."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return
    own = urlsplit(request.app[CONFIG].public_url)
    mine = {f"{own.scheme}://{own.netloc}", f"{request.scheme}://{request.host}"}
    if origin not in mine:
        raise Problem(403, "forbidden", "cross-site requests are refused")


def set_session_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    """Attach the session cookie."""
    auth = service(request)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=request.app[CONFIG].session_ttl_seconds,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=auth.secure_cookies or request.secure,
    )


async def login_with(request: web.Request, email: str, password: str) -> tuple[str, str, int]:
    """Authenticate and start a session: ``(session token, csrf token, staff id)``."""
    auth = service(request)
    now = request.app[CLOCK]()
    row = await auth.authenticate(email, password, address=request.remote or "?", now=now)
    token, csrf = auth.create_session(row["id"], now=now)
    return token, csrf, row["id"]


@public("staff log in here")
async def login(request: web.Request) -> web.StreamResponse:
    """``POST /auth/login``: JSON ``{"email", "password"}`` or a form."""
    check_origin(request)
    email, password, _ = await read_credentials(request)
    token, csrf, staff_id = await login_with(request, email, password)
    row = service(request).staff_by_email(email)
    assert row is not None
    response = web.json_response(
        {"staffId": staff_id, "email": row["email"], "role": row["role"], "csrfToken": csrf}
    )
    set_session_cookie(response, request, token)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """``POST /auth/logout``: end the cookie session (CSRF token required)."""
    auth = service(request)
    principal = await auth.require_staff(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if principal.kind == "session" and cookie:
        auth.end_session(cookie)
    response = web.json_response({"loggedOut": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def current_session(request: web.Request) -> web.Response:
    """``GET /auth/session``: who is calling, with the session's CSRF token."""
    principal = await service(request).require_staff(request)
    return web.json_response(principal.to_json())


async def create_token(request: web.Request) -> web.Response:
    """``POST /api/tokens`` ``{"name", "scopes": [...]}`` (admin): the token is shown once."""
    auth = service(request)
    principal = await auth.require_scope(request, ADMIN_SCOPE)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise Problem(400, "malformed", "expected a JSON object")
    scopes = body.get("scopes")
    name = body.get("name", "api token")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise Problem(422, "invalid-field", "scopes must be a list of strings", field="scopes")
    if not isinstance(name, str):
        raise Problem(422, "invalid-field", "name must be a string", field="name")
    try:
        token_id, token = auth.create_token(
            scopes, name=name, now=request.app[CLOCK](), created_by=principal.staff_id
        )
    except ValueError as exc:
        raise Problem(422, "invalid-field", str(exc)) from None
    return web.json_response(
        {"id": token_id, "name": name, "scopes": sorted(set(scopes)), "token": token}, status=201
    )


async def list_tokens(request: web.Request) -> web.Response:
    """``GET /api/tokens`` (admin)."""
    auth = service(request)
    await auth.require_scope(request, ADMIN_SCOPE)
    return web.json_response({"tokens": auth.list_tokens()})


async def revoke_token(request: web.Request) -> web.Response:
    """``DELETE /api/tokens/{id}`` (admin)."""
    auth = service(request)
    await auth.require_scope(request, ADMIN_SCOPE)
    try:
        token_id = int(request.match_info["id"])
    except ValueError:
        raise Problem(404, "not-found", "no such token") from None
    if not auth.revoke_token(token_id, now=request.app[CLOCK]()):
        raise Problem(404, "not-found", "no live token with this id")
    return web.json_response({"id": token_id, "revoked": True})


async def list_staff(request: web.Request) -> web.Response:
    """``GET /api/staff`` (admin)."""
    auth = service(request)
    await auth.require_scope(request, ADMIN_SCOPE)
    return web.json_response({"staff": auth.list_staff()})


async def add_staff(request: web.Request) -> web.Response:
    """``POST /api/staff`` ``{"email", "password", "role"}`` (admin)."""
    auth = service(request)
    await auth.require_scope(request, ADMIN_SCOPE)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise Problem(400, "malformed", "expected a JSON object")
    email, password, role = body.get("email"), body.get("password"), body.get("role", "staff")
    if not isinstance(email, str) or not isinstance(password, str) or not isinstance(role, str):
        raise Problem(422, "invalid-field", "email, password and role must be strings")
    try:
        auth.check_new_staff(email, password, role)
        hashed = await asyncio.to_thread(auth.hash_password, password)
        staff_id = auth.create_staff(
            email, password, role=role, now=request.app[CLOCK](), password_hash=hashed
        )
    except ValueError as exc:
        raise Problem(422, "invalid-field", str(exc)) from None
    return web.json_response(
        {"id": staff_id, "email": normalize_email(email), "role": role}, status=201
    )


def setup(app: web.Application) -> None:
    """Publish the auth service and its routes."""
    app[SERVICES]["auth"] = AuthService(app[CONFIG], app[DB])
    app.router.add_post("/auth/login", login)
    app.router.add_post("/auth/logout", logout)
    app.router.add_get("/auth/session", current_session)
    app.router.add_get("/api/tokens", list_tokens)
    app.router.add_post("/api/tokens", create_token)
    app.router.add_delete("/api/tokens/{id}", revoke_token)
    app.router.add_get("/api/staff", list_staff)
    app.router.add_post("/api/staff", add_staff)
