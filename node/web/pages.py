"""The staff pages and the page helpers other components use (see the package docstring)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import jinja2
from aiohttp import web

from ..appkeys import CLOCK, CONFIG, SERVICES
from ..auth import (
    CSRF_FIELD,
    PRINCIPAL_KEY,
    SESSION_COOKIE,
    AuthService,
    Principal,
    check_origin,
    login_with,
    public,
    set_session_cookie,
)
from ..problems import Problem

__all__ = ["NavEntry", "add_templates", "register_nav", "render", "require_page_staff", "setup"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: Achievement types offered by the form (OB 3.0 AchievementType vocabulary, common ones).
FORM_ACHIEVEMENT_TYPES = (
    "Badge",
    "Certificate",
    "CertificateOfCompletion",
    "Certification",
    "CoCurricular",
    "Competency",
    "Course",
    "License",
    "MicroCredential",
)


@dataclass(frozen=True, order=True)
class NavEntry:
    """One link of the staff navigation bar."""

    order: int
    label: str
    path: str


@dataclass
class _Registry:
    nav: list[NavEntry] = field(default_factory=list)
    template_dirs: list[Path] = field(default_factory=list)
    env: jinja2.Environment | None = None


_REGISTRY = web.AppKey("passeport_web_registry", _Registry)


def _registry(app: web.Application) -> _Registry:
    if _REGISTRY not in app:
        app[_REGISTRY] = _Registry()
    return app[_REGISTRY]


def register_nav(app: web.Application, label: str, path: str, *, order: int = 50) -> None:
    """Add a navigation entry (lower ``order`` first); call during set-up."""
    _registry(app).nav.append(NavEntry(order, label, path))


def add_templates(app: web.Application, directory: Path) -> None:
    """Add a template folder, searched before the core one; call during set-up."""
    _registry(app).template_dirs.append(directory)


def _environment(app: web.Application) -> jinja2.Environment:
    registry = _registry(app)
    if registry.env is None:
        loaders: list[jinja2.BaseLoader] = [
            jinja2.FileSystemLoader(str(d)) for d in registry.template_dirs
        ]
        loaders.append(jinja2.FileSystemLoader(str(TEMPLATES)))
        registry.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return registry.env


def _auth(request: web.Request) -> AuthService:
    return cast(AuthService, request.app[SERVICES]["auth"])


def render(
    request: web.Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    principal: Principal | None = None,
) -> web.Response:
    """Render ``template`` with the common context; returns an HTML response."""
    config = request.app[CONFIG]
    registry = _registry(request.app)
    found = principal or cast(Principal | None, request.get(PRINCIPAL_KEY))
    values: dict[str, Any] = {
        "node_name": config.name,
        "lang": "en",
        "principal": found,
        "csrf_field": CSRF_FIELD,
        "csrf_token": found.csrf_token if found is not None else "",
        "nav": sorted(registry.nav),
        "path": request.path,
    }
    values.update(context or {})
    html = _environment(request.app).get_template(template).render(values)
    return web.Response(
        text=html,
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store"},
    )


def _wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


async def require_page_staff(request: web.Request, scope: str | None = None) -> Principal:
    """The signed-in staff member; browsers without a session are sent to the login page."""
    auth = _auth(request)
    try:
        if scope is None:
            return await auth.require_staff(request)
        return await auth.require_scope(request, scope)
    except Problem as problem:
        if problem.status == 401 and _wants_html(request) and request.method == "GET":
            raise web.HTTPSeeOther("/staff/login") from None
        raise


# -- login ----------------------------------------------------------------------------------


@public("the staff login form")
async def login_page(request: web.Request) -> web.Response:
    """``GET /staff/login``."""
    return render(request, "login.html", {"error": None, "email": ""})


@public("the staff login form posts here")
async def login_submit(request: web.Request) -> web.StreamResponse:
    """``POST /staff/login`` (form): sets the session cookie and goes to the dashboard."""
    check_origin(request)
    form = await request.post()
    email = form.get("email")
    password = form.get("password")
    if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
        return render(
            request,
            "login.html",
            {"error": "Enter your e-mail address and password.", "email": ""},
            status=400,
        )
    try:
        token, _, _ = await login_with(request, email, password)
    except Problem as problem:
        message = (
            "Too many failed attempts. Wait a few minutes and try again."
            if problem.status == 429
            else "Wrong e-mail address or password."
        )
        response = render(
            request,
            "login.html",
            {"error": message, "email": email[:320]},
            status=problem.status,
        )
        response.headers.update(problem.headers)
        return response
    response = web.HTTPSeeOther("/staff/")
    set_session_cookie(response, request, token)
    raise response


async def logout_submit(request: web.Request) -> web.StreamResponse:
    """``POST /staff/logout`` (form with the CSRF token)."""
    principal = await require_page_staff(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if principal.kind == "session" and cookie:
        _auth(request).end_session(cookie)
    response = web.HTTPSeeOther("/staff/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


# -- dashboard and achievements -----------------------------------------------------------------


async def dashboard(request: web.Request) -> web.Response:
    """``GET /staff/``: the achievements."""
    await require_page_staff(request)
    achievements = request.app[SERVICES]["achievements"]
    include = request.query.get("retired") == "1"
    identity = request.app[SERVICES]["identity"]
    return render(
        request,
        "dashboard.html",
        {
            "achievements": achievements.list(include_retired=include),
            "include_retired": include,
            "did": identity.default_issuer(),
            "notice": request.query.get("notice"),
        },
    )


def _empty_form(languages: tuple[str, ...]) -> dict[str, Any]:
    return {
        "name": {lang: "" for lang in languages},
        "description": {lang: "" for lang in languages},
        "narrative": {lang: "" for lang in languages},
        "criteria_url": "",
        "achievement_type": "Badge",
        "image": "",
        "image_url": "",
        "tags": "",
        "alignments": "",
    }


def _form_from_input(stored: dict[str, Any], languages: tuple[str, ...]) -> dict[str, Any]:
    form = _empty_form(languages)
    form["name"].update(stored.get("name", {}))
    form["description"].update(stored.get("description", {}))
    form["narrative"].update(stored.get("criteria", {}).get("narrative", {}))
    form["criteria_url"] = stored.get("criteria", {}).get("id", "")
    form["achievement_type"] = stored.get("achievementType", "")
    image = stored.get("image", {}).get("id", "")
    form["image"] = image
    form["image_url"] = image if image.startswith("https:") else ""
    form["tags"] = ", ".join(stored.get("tag", []))
    form["alignments"] = "\n".join(
        " | ".join(
            [
                a["targetName"],
                a["targetUrl"],
                a.get("targetFramework", ""),
                a.get("targetCode", ""),
            ]
        ).rstrip(" |")
        for a in stored.get("alignment", [])
    )
    return form


async def _read_form(
    request: web.Request, languages: tuple[str, ...], previous: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The posted form as (values to redisplay, achievement input for the service)."""
    form = await request.post()

    def text(name: str) -> str:
        value = form.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    values = _empty_form(languages)
    for lang in languages:
        values["name"][lang] = text(f"name_{lang}")
        values["description"][lang] = text(f"description_{lang}")
        values["narrative"][lang] = text(f"narrative_{lang}")
    values["criteria_url"] = text("criteria_url")
    values["achievement_type"] = text("achievement_type")
    values["image_url"] = text("image_url")
    values["tags"] = text("tags")
    values["alignments"] = text("alignments")
    data: dict[str, Any] = {
        "name": {k: v for k, v in values["name"].items() if v},
        "description": {k: v for k, v in values["description"].items() if v},
        "criteria": {},
    }
    narrative = {k: v for k, v in values["narrative"].items() if v}
    if narrative:
        data["criteria"]["narrative"] = narrative
    if values["criteria_url"]:
        data["criteria"]["id"] = values["criteria_url"]
    if values["achievement_type"]:
        data["achievementType"] = values["achievement_type"]
    upload = form.get("image_file")
    if isinstance(upload, web.FileField) and upload.filename:
        raw = upload.file.read()
        media = "image/svg+xml" if upload.filename.lower().endswith(".svg") else "image/png"
        data["image"] = f"data:{media};base64,{base64.b64encode(raw).decode('ascii')}"
    elif values["image_url"]:
        data["image"] = values["image_url"]
    elif previous and "image" in previous and form.get("keep_image") == "1":
        data["image"] = previous["image"]
    values["image"] = data.get("image", "") if isinstance(data.get("image"), str) else ""
    tags = [t.strip() for t in values["tags"].split(",") if t.strip()]
    if tags:
        data["tag"] = tags
    alignments = []
    for line in values["alignments"].splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        item = {"targetName": parts[0], "targetUrl": parts[1] if len(parts) > 1 else ""}
        if len(parts) > 2 and parts[2]:
            item["targetFramework"] = parts[2]
        if len(parts) > 3 and parts[3]:
            item["targetCode"] = parts[3]
        alignments.append(item)
    if alignments:
        data["alignment"] = alignments
    if previous:
        for key in ("resultDescription", "humanCode", "fieldOfStudy", "specialization"):
            if key in previous:
                data[key] = previous[key]
        if "creditsAvailable" in previous:
            data["creditsAvailable"] = previous["creditsAvailable"]
    return values, data


def _form_page(
    request: web.Request,
    *,
    values: dict[str, Any],
    record: dict[str, Any] | None,
    errors: list[dict[str, str]] | None = None,
    status: int = 200,
) -> web.Response:
    config = request.app[CONFIG]
    return render(
        request,
        "achievement_form.html",
        {
            "form": values,
            "record": record,
            "errors": errors or [],
            "languages": config.languages,
            "types": FORM_ACHIEVEMENT_TYPES,
        },
        status=status,
    )


async def new_achievement_page(request: web.Request) -> web.Response:
    """``GET /staff/achievements/new``."""
    await require_page_staff(request, "achievements:write")
    languages = request.app[CONFIG].languages
    return _form_page(request, values=_empty_form(languages), record=None)


async def new_achievement_submit(request: web.Request) -> web.StreamResponse:
    """``POST /staff/achievements/new``."""
    principal = await require_page_staff(request, "achievements:write")
    languages = request.app[CONFIG].languages
    values, data = await _read_form(request, languages, None)
    service = request.app[SERVICES]["achievements"]
    try:
        service.create(data, now=request.app[CLOCK](), created_by=principal.email)
    except Problem as problem:
        if problem.status != 422:
            raise
        errors = problem.extra.get("errors") or [{"field": "", "message": problem.detail}]
        return _form_page(request, values=values, record=None, errors=errors, status=422)
    raise web.HTTPSeeOther("/staff/?notice=created")


async def edit_achievement_page(request: web.Request) -> web.Response:
    """``GET /staff/achievements/{id}/edit``."""
    await require_page_staff(request, "achievements:write")
    record = request.app[SERVICES]["achievements"].record(request.match_info["id"])
    values = _form_from_input(record["input"], request.app[CONFIG].languages)
    return _form_page(request, values=values, record=record)


async def edit_achievement_submit(request: web.Request) -> web.StreamResponse:
    """``POST /staff/achievements/{id}/edit``: a new version."""
    principal = await require_page_staff(request, "achievements:write")
    service = request.app[SERVICES]["achievements"]
    record = service.record(request.match_info["id"])
    values, data = await _read_form(request, request.app[CONFIG].languages, record["input"])
    try:
        service.update(record["id"], data, now=request.app[CLOCK](), created_by=principal.email)
    except Problem as problem:
        if problem.status != 422:
            raise
        errors = problem.extra.get("errors") or [{"field": "", "message": problem.detail}]
        return _form_page(request, values=values, record=record, errors=errors, status=422)
    raise web.HTTPSeeOther("/staff/?notice=updated")


async def retire_achievement_submit(request: web.Request) -> web.StreamResponse:
    """``POST /staff/achievements/{id}/retire``."""
    await require_page_staff(request, "achievements:write")
    request.app[SERVICES]["achievements"].retire(request.match_info["id"], now=request.app[CLOCK]())
    raise web.HTTPSeeOther("/staff/?notice=retired")


@public("redirects to the staff pages")
async def staff_root(request: web.Request) -> web.StreamResponse:
    """``GET /staff``: redirect to ``/staff/``."""
    raise web.HTTPPermanentRedirect("/staff/")


def setup(app: web.Application) -> None:
    """Register the staff pages."""
    register_nav(app, "Achievements", "/staff/", order=10)
    _registry(app)
    app.router.add_get("/staff", staff_root)
    app.router.add_get("/staff/login", login_page)
    app.router.add_post("/staff/login", login_submit)
    app.router.add_post("/staff/logout", logout_submit)
    app.router.add_get("/staff/", dashboard)
    app.router.add_get("/staff/achievements/new", new_achievement_page)
    app.router.add_post("/staff/achievements/new", new_achievement_submit)
    app.router.add_get("/staff/achievements/{id}/edit", edit_achievement_page)
    app.router.add_post("/staff/achievements/{id}/edit", edit_achievement_submit)
    app.router.add_post("/staff/achievements/{id}/retire", retire_achievement_submit)
