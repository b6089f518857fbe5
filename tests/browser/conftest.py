"""Real Chromium (Debian's ``chromium``) driven by Playwright, for the node's web pages.

Playwright's own browser downloads are never used: the browser is the system's, found at
``PASSEPORT_CHROMIUM`` or ``/usr/bin/chromium``. A missing browser fails the tests (``.ci/run``
installs it); it never skips them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.node.conftest import clock, node, start_node  # noqa: F401  (fixtures)

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("PASSEPORT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Chromium is missing: install Debian's chromium package (.ci/run does)")
    return path


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        instance = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            yield instance
        finally:
            await instance.close()
