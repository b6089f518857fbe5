"""The staff pages in a real browser: log in, see the achievements, create one, log out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ARTIFACTS = Path(__file__).resolve().parents[2] / ".passeport" / "screenshots"


async def test_login_create_an_achievement_and_log_out(node: Any, browser: Any) -> None:
    page = await browser.new_page()
    await page.goto(node.url("/staff/login"))
    assert await page.get_attribute("html", "lang")
    # A wrong password is refused with a visible message and no session.
    await page.fill("#email", node.admin_email)
    await page.fill("#password", "not the password")
    await page.click("button[type=submit]")
    assert "/staff/login" in page.url
    assert await page.locator("[role=alert]").count() == 1

    await page.fill("#email", node.admin_email)
    await page.fill("#password", node.admin_password)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/staff/")
    body = await page.inner_text("body")
    samples = node.service("achievements").list()
    assert len(samples) == len(node.samples) > 0
    for sample in samples:
        assert sample["name"] in body, sample

    await page.goto(node.url("/staff/achievements/new"))
    await page.fill("input[id^=name_]", "Travail en équipe")
    await page.fill(
        "textarea[id^=description_]", "Coopère <b>efficacement</b> au sein d'une équipe."
    )
    await page.fill("textarea[id^=narrative_]", "Projet de groupe évalué par les pairs.")
    await page.click("form[action='/staff/achievements/new'] button[type=submit]")
    await page.wait_for_load_state()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "staff-after-create.png"), full_page=True)
    await page.goto(node.url("/staff/"))
    body = await page.inner_text("body")
    assert "Travail en équipe" in body
    # Markup typed by staff is shown as text, never interpreted.
    assert await page.locator("b", has_text="efficacement").count() == 0

    # The achievement now exists for the API too.
    listing = await page.request.get(node.url("/api/achievements"), headers=node.auth)
    names = [a["name"] for a in (await listing.json())["achievements"]]
    assert "Travail en équipe" in names, names

    await page.click("form[action='/staff/logout'] button")
    await page.goto(node.url("/staff/"))
    assert "/staff/login" in page.url
