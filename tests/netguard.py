"""A guard that makes any connection beyond loopback fail, in this process and in children.

Installed by ``tests/conftest.py`` for the test session, and by ``tests/guarded.py`` for the
Python subprocesses that tests start, so that no test can reach beyond this machine.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class NetworkBlocked(OSError):
    """Raised instead of connecting anywhere but loopback."""


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check_address(address: Any) -> None:
    if isinstance(address, (str, bytes)):
        return  # AF_UNIX paths stay on this machine
    if isinstance(address, tuple) and address and _is_loopback(address[0]):
        return
    raise NetworkBlocked(f"network access beyond loopback blocked in tests: {address!r}")


_installed = False
blocked_attempts: list[str] = []


def install() -> None:
    """Patch socket connect/sendto/getaddrinfo to refuse everything but loopback."""
    global _installed
    if _installed:
        return
    _installed = True
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            try:
                _check_address(address)
            except NetworkBlocked:
                blocked_attempts.append(repr(address))
                raise
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            try:
                _check_address(address)
            except NetworkBlocked:
                blocked_attempts.append(repr(address))
                raise
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: bytes, *args: Any) -> int:
        address = args[-1]
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check_address(address)
        return real_sendto(self, data, *args)  # type: ignore[arg-type]

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            blocked_attempts.append(f"getaddrinfo({host!r})")
            raise NetworkBlocked(f"name resolution beyond loopback blocked in tests: {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo
