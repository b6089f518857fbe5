"""Shared fixtures. The network guard is installed for the whole session: only loopback works."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import netguard

netguard.install()

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"


def vector_path(*parts: str) -> Path:
    """Path of an official vector file under tests/vectors."""
    path = VECTORS.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(path)
    return path


def load_vector(*parts: str) -> Any:
    """An official vector: parsed JSON for .json/.jsonld, text otherwise."""
    path = vector_path(*parts)
    if path.suffix in (".json", ".jsonld"):
        return json.loads(path.read_text("utf-8"))
    return path.read_text("utf-8")


@pytest.fixture(scope="session")
def test_loader() -> Any:
    """The packaged loader extended with the test-only contexts of the W3C vectors."""
    from protocol.jsonld.loader import default_loader

    manifest = json.loads((VECTORS / "contexts" / "manifest.json").read_text("utf-8"))
    extra = {
        url: json.loads((VECTORS / "contexts" / name).read_text("utf-8"))
        for url, name in manifest.items()
    }
    return default_loader().extend(extra)


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``passeport`` in a guarded subprocess; returns the completed process."""

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "tests" / "guarded.py"), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )

    return run


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is not a passing test: fail the run if anything was skipped."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter is not None:
            reporter.write_line(f"FAILED: {len(skipped)} test(s) skipped; skips are not allowed")
