"""Staff pages: login form, dashboard, achievement form (CSRF, escaping, accessibility basics)."""

from __future__ import annotations

import re

from tests.node.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

HTML = {"Accept": "text/html"}


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


async def _form_login(node, session):
    async with session.post(
        node.url("/staff/login"),
        data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        allow_redirects=False,
    ) as r:
        assert r.status == 303, await r.text()
        assert r.headers["Location"] == "/staff/"
    async with session.get(node.url("/staff/"), headers=HTML) as r:
        assert r.status == 200
        return await r.text()


async def test_login_page_is_accessible_html(node):
    async with node.session.get(node.url("/staff/login"), headers=HTML) as r:
        assert r.status == 200 and r.content_type == "text/html"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        html = await r.text()
    assert '<html lang="en">' in html
    assert '<label for="email">' in html and 'id="email"' in html
    assert '<label for="password">' in html and 'type="password"' in html
    assert "<script" not in html


async def test_anonymous_browsers_are_sent_to_login(node):
    async with node.session.get(node.url("/staff/"), headers=HTML, allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/staff/login"
    async with node.session.get(node.url("/staff/"), allow_redirects=False) as r:
        assert r.status == 401  # API clients get a problem, not a redirect


async def test_wrong_password_shows_an_error(node):
    async with node.session.post(
        node.url("/staff/login"), data={"email": ADMIN_EMAIL, "password": "nope nope nope"}
    ) as r:
        assert r.status == 401
        html = await r.text()
    assert 'role="alert"' in html and "Wrong e-mail address or password." in html


async def test_dashboard_and_achievement_form(node):
    async with node.new_session() as browser:
        html = await _form_login(node, browser)
        assert "Open Science Practitioner" in html and node.did in html
        assert 'aria-label="Staff pages"' in html
        csrf = _csrf(html)
        async with browser.get(node.url("/staff/achievements/new"), headers=HTML) as r:
            form = await r.text()
        assert '<fieldset lang="fr">' in form and '<label for="name_fr">' in form
        fields = {
            "name_en": "<b>Bold</b> & brave",
            "description_en": "Escaping test.",
            "narrative_en": "Be bold.",
            "name_fr": "Audacieux",
            "description_fr": "Test.",
            "achievement_type": "Badge",
            "tags": "one, two",
            "alignments": "Python (computer programming) | "
            "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d | ESCO",
        }
        # Without the CSRF token the form is refused.
        async with browser.post(
            node.url("/staff/achievements/new"), data=fields, allow_redirects=False
        ) as r:
            assert r.status == 403
        async with browser.post(
            node.url("/staff/achievements/new"),
            data={**fields, "csrf_token": csrf},
            allow_redirects=False,
        ) as r:
            assert r.status == 303, await r.text()
        async with browser.get(node.url("/staff/"), headers=HTML) as r:
            html = await r.text()
        assert "&lt;b&gt;Bold&lt;/b&gt; &amp; brave" in html and "<b>Bold</b>" not in html
        listed = node.service("achievements").list()
        created = next(a for a in listed if a["name"].startswith("<b>"))
        record = node.service("achievements").record(created["id"])
        assert record["input"]["tag"] == ["one", "two"]
        assert record["achievement"]["alignment"][0]["targetFramework"] == "ESCO"
        # Invalid input re-renders the form with the errors, keeping what was typed.
        async with browser.post(
            node.url(f"/staff/achievements/{created['id']}/edit"),
            data={**fields, "name_en": "", "csrf_token": csrf},
        ) as r:
            assert r.status == 422
            page = await r.text()
        assert 'role="alert"' in page and "name.en" in page and "Audacieux" in page
        # Editing makes version 2; retiring hides it from the dashboard.
        async with browser.post(
            node.url(f"/staff/achievements/{created['id']}/edit"),
            data={**fields, "name_en": "Brave", "csrf_token": csrf},
            allow_redirects=False,
        ) as r:
            assert r.status == 303
        assert node.service("achievements").record(created["id"])["version"] == 2
        async with browser.post(
            node.url(f"/staff/achievements/{created['id']}/retire"),
            data={"csrf_token": csrf},
            allow_redirects=False,
        ) as r:
            assert r.status == 303
        assert node.service("achievements").is_retired(created["id"])
        # Logging out ends the session.
        async with browser.post(
            node.url("/staff/logout"), data={"csrf_token": csrf}, allow_redirects=False
        ) as r:
            assert r.status == 303
        async with browser.get(node.url("/staff/"), headers=HTML, allow_redirects=False) as r:
            assert r.status == 303


async def test_image_upload_through_the_form(node):
    import aiohttp

    from tests.node.test_core_achievements import PNG

    async with node.new_session() as browser:
        csrf = _csrf(await _form_login(node, browser))
        form = aiohttp.FormData()
        for key, value in {
            "csrf_token": csrf,
            "name_en": "With image",
            "description_en": "D",
            "narrative_en": "N",
            "achievement_type": "Badge",
        }.items():
            form.add_field(key, value)
        form.add_field("image_file", PNG, filename="badge.png", content_type="image/png")
        async with browser.post(
            node.url("/staff/achievements/new"), data=form, allow_redirects=False
        ) as r:
            assert r.status == 303, await r.text()
        made = next(a for a in node.service("achievements").list() if a["name"] == "With image")
        image = node.service("achievements").get(made["id"])["image"]
        assert image["id"].startswith("data:image/png;base64,iVBORw0KGgo")
        # Editing without a new file keeps the image.
        async with browser.get(
            node.url(f"/staff/achievements/{made['id']}/edit"), headers=HTML
        ) as r:
            page = await r.text()
        assert 'name="keep_image" value="1" checked' in page
        async with browser.post(
            node.url(f"/staff/achievements/{made['id']}/edit"),
            data={
                "csrf_token": csrf,
                "name_en": "With image 2",
                "description_en": "D",
                "narrative_en": "N",
                "keep_image": "1",
            },
            allow_redirects=False,
        ) as r:
            assert r.status == 303
        assert node.service("achievements").get(made["id"])["image"] == image


def test_other_components_can_add_pages(tmp_path):
    from aiohttp import web

    from node.web import add_templates, register_nav
    from node.web.pages import _environment, _registry

    app = web.Application()
    (tmp_path / "issue.html").write_text(
        '{% extends "base.html" %}{% block content %}I{% endblock %}'
    )
    register_nav(app, "Issue", "/staff/issue", order=20)
    register_nav(app, "Achievements", "/staff/", order=10)
    add_templates(app, tmp_path)
    assert [e.label for e in sorted(_registry(app).nav)] == ["Achievements", "Issue"]
    html = (
        _environment(app)
        .get_template("issue.html")
        .render(
            node_name="N",
            lang="en",
            principal=None,
            csrf_field="csrf_token",
            csrf_token="",
            nav=[],
            path="/",
        )
    )
    assert "I" in html and '<html lang="en">' in html
