"""The network guard admits loopback and refuses everything else, in-process and in the CLI."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.netguard import NetworkBlocked


def test_remote_address_is_blocked() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s, pytest.raises(NetworkBlocked):
        s.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed, and never tried


def test_name_resolution_is_blocked() -> None:
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("example.org", 443)


def test_loopback_still_works() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def accept() -> None:
        conn, _ = server.accept()
        conn.sendall(b"ok")
        conn.close()

    thread = threading.Thread(target=accept)
    thread.start()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        assert client.recv(2) == b"ok"
    thread.join()
    server.close()


def test_guard_works_in_subprocesses() -> None:
    # The guarded CLI wrapper refuses a connection as the test process does.
    probe = (
        "import socket,sys\n"
        "sys.path.insert(0, 'tests')\n"
        "import netguard; netguard.install()\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
        "except netguard.NetworkBlocked:\n"
        "    print('blocked')\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "blocked"
