"""did:web: mapping between DIDs and the HTTPS URLs of their documents.

https://w3c-ccg.github.io/did-method-web/ section "Read (Resolve)": replace ``:`` with ``/``,
percent-decode the port colon, prepend ``https://``, append ``/.well-known`` when there is no
path, then ``/did.json``. The domain MUST NOT be an IP address. This module only computes URLs;
fetching belongs to the node or wallet.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote_to_bytes, urlsplit

from protocol.errors import MalformedError

__all__ = ["did_web_to_url", "url_to_did_web"]

_PREFIX = "did:web:"
_SEGMENT = re.compile(r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+\Z")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
_HEX_NUMBER = re.compile(r"0[xX][0-9A-Fa-f]*\Z")
_PORT_COLON = re.compile(r"%3[Aa]")
_MAX_HOST_CHARS = 253  # RFC 1035 section 2.3.4, textual form without the root dot


def _check_host(host: str) -> None:
    if not host:
        raise MalformedError("did:web domain is empty")
    if len(host) > _MAX_HOST_CHARS:
        raise MalformedError(f"did:web domain is longer than {_MAX_HOST_CHARS} characters")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise MalformedError(f"did:web domain must not be an IP address: {host!r}")
    labels = host.split(".")
    if any(not label for label in labels):
        raise MalformedError(f"did:web domain {host!r} has an empty label")
    for label in labels:
        if not _LABEL.match(label):
            raise MalformedError(
                f"did:web domain {host!r} is not a valid DNS name (label {label!r}; "
                "internationalised names must be written in punycode)"
            )
    last = labels[-1]
    if last.isdigit() or _HEX_NUMBER.match(last):
        # URL parsers read such hosts as IPv4 numbers (WHATWG URL, "ends in a number").
        raise MalformedError(f"did:web domain must not be an IP address: {host!r}")
    if len(labels) == 1 and host.lower() != "localhost":
        raise MalformedError(f"did:web domain {host!r} is not a fully qualified domain name")


def _check_port(port: str) -> None:
    if not port.isdigit() or not port.isascii() or port.startswith("0") or int(port) > 65535:
        raise MalformedError(f"did:web port {port!r} is not a number from 1 to 65535")


def _check_path_segment(segment: str) -> None:
    if not segment:
        raise MalformedError("did:web path has an empty segment")
    if not _SEGMENT.match(segment):
        raise MalformedError(
            f"did:web path segment {segment!r} holds characters outside the DID syntax "
            "(letters, digits, '.', '-', '_' and %XX escapes) or a bad percent-encoding"
        )
    try:
        decoded = unquote_to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedError(f"did:web path segment {segment!r} is not UTF-8") from exc
    if decoded in (".", ".."):
        raise MalformedError(f"did:web path segment {segment!r} is a path traversal")
    if any(ch in "/\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in decoded):
        raise MalformedError(
            f"did:web path segment {segment!r} encodes a slash, backslash or control character"
        )


def did_web_to_url(did: str) -> str:
    """The HTTPS URL of a did:web DID document (a fragment on the DID URL is ignored).

    ``did:web:example.com`` -> ``https://example.com/.well-known/did.json``;
    ``did:web:example.com%3A3000:user:alice`` -> ``https://example.com:3000/user/alice/did.json``.
    """
    if not isinstance(did, str):
        raise MalformedError("a DID must be a string")
    bare = did.split("#", 1)[0]
    if not bare.startswith(_PREFIX):
        raise MalformedError(f"{bare!r} is not a did:web DID")
    msid = bare[len(_PREFIX) :]
    if "/" in msid or "?" in msid:
        raise MalformedError("a did:web DID URL with a path or query cannot be mapped to a URL")
    # 1. Split the method-specific identifier on ':' (each ':' becomes '/').
    host_part, *path = msid.split(":")
    if not host_part:
        raise MalformedError("did:web domain is empty")
    # 2. Percent-decode the port colon; nothing else may be encoded in the domain.
    pieces = _PORT_COLON.split(host_part)
    if len(pieces) > 2:
        raise MalformedError("did:web domain holds more than one encoded port colon")
    host = pieces[0]
    port = pieces[1] if len(pieces) == 2 else None
    if "%" in host:
        raise MalformedError(
            "did:web domain may only percent-encode the port colon (%3A); "
            "userinfo and other escapes are not allowed"
        )
    _check_host(host)
    if port is not None:
        _check_port(port)
    for segment in path:
        _check_path_segment(segment)
    # 3.-5. Prepend https://, use /.well-known when there is no path, append /did.json.
    authority = host if port is None else f"{host}:{port}"
    location = "/" + "/".join(path) if path else "/.well-known"
    return f"https://{authority}{location}/did.json"


def url_to_did_web(url: str) -> str:
    """The did:web DID for an HTTPS origin, optionally with a path.

    The path may end in ``/did.json`` (the document URL itself); ``/.well-known/did.json`` and an
    empty path give the bare-domain DID. A non-default port is percent-encoded (``%3A``).
    """
    if not isinstance(url, str):
        raise MalformedError("a URL must be a string")
    if "?" in url or "#" in url:
        raise MalformedError("a did:web URL has no query or fragment")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise MalformedError(f"not a valid URL: {url!r}") from exc
    if parts.scheme.lower() != "https":
        raise MalformedError("did:web documents are served over https")
    if "@" in parts.netloc:
        raise MalformedError("a did:web URL must not carry userinfo")
    host = parts.hostname
    if not host:
        raise MalformedError(f"URL {url!r} has no host")
    if "[" in parts.netloc:
        raise MalformedError("did:web domain must not be an IP address")
    _check_host(host)
    path = parts.path
    if path.endswith("/did.json"):
        path = path[: -len("/did.json")]
        if path == "":
            raise MalformedError(
                "https://<host>/did.json is not a did:web location (the bare domain's document "
                "lives at /.well-known/did.json)"
            )
        if path == "/.well-known":
            path = ""
    if path.endswith("/"):
        path = path[:-1]
    segments = path[1:].split("/") if path else []
    for segment in segments:
        _check_path_segment(segment)
    did = _PREFIX + host
    if port is not None and port != 443:
        _check_port(str(port))
        did += f"%3A{port}"
    return did + "".join(":" + segment for segment in segments)
