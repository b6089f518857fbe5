"""Import rules: protocol stays pure; node and wallet never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN_IN_PROTOCOL = {
    "node",
    "wallet",
    "passeport",
    "aiohttp",
    "sqlite3",
    "sqlite_utils",
    "socket",
    "ssl",
    "requests",
    "urllib.request",
    "http.client",
    "subprocess",
    "os",
    "time",
    "random",
}
# Calls that read the clock, the environment or the disk.
FORBIDDEN_CALLS = {"now", "utcnow", "today", "open", "getenv", "time", "urandom"}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def _forbidden(name: str, forbidden: set[str]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


@pytest.mark.parametrize("path", _modules("protocol"), ids=lambda p: str(p.relative_to(ROOT)))
def test_protocol_is_pure(path: Path) -> None:
    bad = sorted(n for n in _imports(path) if _forbidden(n, FORBIDDEN_IN_PROTOCOL))
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
    tree = ast.parse(path.read_text("utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            # Key generation is the one place randomness is allowed (through the crypto libraries).
            assert name not in FORBIDDEN_CALLS, (
                f"{path.relative_to(ROOT)}:{node.lineno} calls {name}()"
            )


@pytest.mark.parametrize(
    ("package", "other"), [("node", "wallet"), ("wallet", "node")], ids=["node", "wallet"]
)
def test_node_and_wallet_are_independent(package: str, other: str) -> None:
    for path in _modules(package):
        bad = sorted(n for n in _imports(path) if _forbidden(n, {other, "passeport"}))
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_the_rule_detects_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("import socket\nfrom aiohttp import web\n")
    assert {n for n in _imports(sample) if _forbidden(n, FORBIDDEN_IN_PROTOCOL)} == {
        "socket",
        "aiohttp",
    }
