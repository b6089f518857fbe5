"""The outbound fetcher (node/fetch.py): allowlist, transport map, caps, redirects, HTTPS.

Real aiohttp servers on loopback, a real client; nothing is mocked but the name of the host
(the transport map, exactly as tests of several nodes use it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from node.config import NodeConfig
from node.fetch import Fetcher, FetchRefused, UpstreamError, _max_age, _PublicOnlyResolver
from protocol.did import key_pair_as_did_key
from protocol.errors import ProtocolError
from protocol.keys import generate

DID_DOC = web.AppKey("did_doc", dict)
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


class Clock:
    """A controllable clock."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


def did_document(did: str) -> dict[str, Any]:
    key = generate("Ed25519").with_controller(did, f"{did}#key-1")
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [key.to_public_multikey()],
        "assertionMethod": [key.id],
    }


def make_app(hits: dict[str, int]) -> web.Application:
    async def did_json(request: web.Request) -> web.Response:
        hits["did"] = hits.get("did", 0) + 1
        return web.json_response(request.app[DID_DOC], headers={"Cache-Control": "max-age=30"})

    async def status(request: web.Request) -> web.Response:
        hits["status"] = hits.get("status", 0) + 1
        return web.json_response({"n": hits["status"]}, headers={"Cache-Control": "max-age=120"})

    async def big(request: web.Request) -> web.Response:
        return web.json_response({"x": "a" * 5000})

    async def big_chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b'{"x": "')
        for _ in range(10):
            await response.write(b"a" * 1000)
        await response.write(b'"}')
        return response

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<p>hi</p>", content_type="text/html")

    async def not_json(request: web.Request) -> web.Response:
        return web.Response(text="{nope", content_type="application/json")

    async def same_origin_redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/status/1")

    async def off_origin_redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("https://elsewhere.test/status/1")

    async def loop_redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def missing(request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/.well-known/did.json", did_json)
    app.router.add_get("/status/1", status)
    app.router.add_get("/big", big)
    app.router.add_get("/big-chunked", big_chunked)
    app.router.add_get("/slow", slow)
    app.router.add_get("/html", html)
    app.router.add_get("/not-json", not_json)
    app.router.add_get("/redirect", same_origin_redirect)
    app.router.add_get("/away", off_origin_redirect)
    app.router.add_get("/loop", loop_redirect)
    app.router.add_get("/missing", missing)
    return app


@pytest.fixture
async def peer(tmp_path: Path) -> AsyncIterator[tuple[TestServer, dict[str, int]]]:
    hits: dict[str, int] = {}
    app = make_app(hits)
    app[DID_DOC] = did_document("did:web:node-a.test")
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, hits
    await server.close()


def config(tmp_path: Path, **changes: Any) -> NodeConfig:
    return NodeConfig(data_dir=tmp_path, public_url="https://self.test", **changes)


@pytest.fixture
async def make_fetcher(
    tmp_path: Path, peer: tuple[TestServer, dict[str, int]]
) -> AsyncIterator[Callable[..., Fetcher]]:
    server, _ = peer
    made: list[Fetcher] = []

    def make(clock: Clock | None = None, **changes: Any) -> Fetcher:
        transport = changes.pop("transport", {"node-a.test": f"http://127.0.0.1:{server.port}"})
        fetcher = Fetcher(config(tmp_path, **changes), transport=transport, clock=clock or Clock())
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.close()


async def test_resolve_did_web_through_the_transport_map(make_fetcher: Any, peer: Any) -> None:
    fetcher = make_fetcher()
    document = await fetcher.resolve_did("did:web:node-a.test")
    assert document["id"] == "did:web:node-a.test"
    # a fragment is ignored, and the second resolution comes from the cache
    await fetcher.resolve_did("did:web:node-a.test#key-1")
    assert peer[1]["did"] == 1
    await fetcher.close()


async def test_did_cache_expires_with_the_clock(make_fetcher: Any, peer: Any) -> None:
    clock = Clock()
    fetcher = make_fetcher(clock)
    await fetcher.resolve_did("did:web:node-a.test")
    clock.now += dt.timedelta(seconds=29)
    await fetcher.resolve_did("did:web:node-a.test")
    assert peer[1]["did"] == 1
    clock.now += dt.timedelta(seconds=2)  # past the server's max-age=30
    await fetcher.resolve_did("did:web:node-a.test")
    assert peer[1]["did"] == 2
    await fetcher.close()


async def test_did_document_for_another_did_is_refused(make_fetcher: Any, peer: Any) -> None:
    server, _ = peer
    fetcher = make_fetcher(transport={"node-b.test": f"http://127.0.0.1:{server.port}"})
    with pytest.raises(ProtocolError):
        await fetcher.resolve_did("did:web:node-b.test")  # serves node-a's document
    await fetcher.close()


async def test_did_key_is_resolved_locally(make_fetcher: Any) -> None:
    fetcher = make_fetcher(transport={})
    did = key_pair_as_did_key(generate("Ed25519")).controller
    assert (await fetcher.resolve_did(did))["id"] == did
    with pytest.raises(FetchRefused):
        await fetcher.resolve_did("did:example:123")
    await fetcher.close()


async def test_did_web_fetch_can_be_disabled(make_fetcher: Any) -> None:
    fetcher = make_fetcher(transport={}, allow_did_web_fetch=False)
    with pytest.raises(FetchRefused):
        await fetcher.resolve_did("did:web:node-a.test")
    await fetcher.close()


async def test_unmapped_hosts_stay_unreachable(make_fetcher: Any) -> None:
    fetcher = make_fetcher()
    # did:web of a host that is not mapped: a real DNS lookup, blocked here (and it would be
    # refused if it resolved to a private address).
    with pytest.raises(UpstreamError) as caught:
        await fetcher.resolve_did("did:web:unknown.test")
    assert caught.value.status == 502
    # did:web on localhost that is not this node nor mapped: refused without any request
    with pytest.raises(FetchRefused):
        await fetcher.resolve_did("did:web:localhost%3A9")
    await fetcher.close()


async def test_fetch_json_reaches_only_peers(make_fetcher: Any) -> None:
    fetcher = make_fetcher()
    assert await fetcher.fetch_json("https://node-a.test/status/1") == {"n": 1}
    for url in (
        "https://elsewhere.test/x",
        "http://127.0.0.1:9/x",
        "https://10.0.0.1/x",
        "http://node-b.test/x",
        "ftp://node-a.test/x",
        "https://user:pw@node-a.test/x",
    ):
        with pytest.raises(FetchRefused) as caught:
            await fetcher.fetch_json(url)
        assert caught.value.status == 422
    await fetcher.close()


async def test_status_list_only_from_the_issuers_host(make_fetcher: Any, peer: Any) -> None:
    fetcher = make_fetcher(transport={"lists.test": f"http://127.0.0.1:{peer[0].port}"})
    # lists.test is mapped (configured), so it is allowed for any issuer
    fetched = await fetcher.status_list("https://lists.test/status/1")
    assert fetched.document == {"n": 1}
    assert fetched.max_age_seconds == 120
    # unconfigured host: allowed only when it is the issuer's did:web host
    with pytest.raises(FetchRefused):
        await fetcher.status_list("https://issuer.test/status/1", issuer="did:web:other.test")
    with pytest.raises(UpstreamError) as caught:  # allowed, then the lookup is blocked
        await fetcher.status_list("https://issuer.test/status/1", issuer="did:web:issuer.test")
    assert not isinstance(caught.value, FetchRefused)
    await fetcher.close()


async def test_status_list_cache_honours_max_age(make_fetcher: Any, peer: Any) -> None:
    clock = Clock()
    fetcher = make_fetcher(clock)
    url = "https://node-a.test/status/1"
    first = await fetcher.status_list(url)
    again = await fetcher.status_list(url)
    assert again is first
    clock.now += dt.timedelta(seconds=121)
    later = await fetcher.status_list(url)
    assert later.document == {"n": 2}
    fetcher.forget(url)
    assert (await fetcher.status_list(url)).document == {"n": 3}
    # concurrent misses share one request
    fetcher.forget(url)
    results = await asyncio.gather(*(fetcher.status_list(url) for _ in range(5)))
    assert {r.document["n"] for r in results} == {4}
    await fetcher.close()


async def test_size_cap(make_fetcher: Any) -> None:
    fetcher = make_fetcher(fetch_max_bytes=2000)
    for path in ("/big", "/big-chunked"):
        with pytest.raises(UpstreamError, match="exceeds 2000 bytes"):
            await fetcher.fetch_json(f"https://node-a.test{path}")
    await fetcher.close()


async def test_timeout(make_fetcher: Any) -> None:
    fetcher = make_fetcher(fetch_timeout_seconds=0.3)
    with pytest.raises(UpstreamError, match=r"no answer within|cannot reach"):
        await fetcher.fetch_json("https://node-a.test/slow")
    await fetcher.close()


async def test_bad_answers(make_fetcher: Any) -> None:
    fetcher = make_fetcher()
    with pytest.raises(UpstreamError, match="expected JSON"):
        await fetcher.fetch_json("https://node-a.test/html")
    with pytest.raises(UpstreamError, match="not valid JSON"):
        await fetcher.fetch_json("https://node-a.test/not-json")
    with pytest.raises(UpstreamError, match="HTTP 404") as caught:
        await fetcher.fetch_json("https://node-a.test/missing")
    assert caught.value.upstream_status == 404
    await fetcher.close()


async def test_redirects(make_fetcher: Any) -> None:
    fetcher = make_fetcher()
    assert await fetcher.fetch_json("https://node-a.test/redirect") == {"n": 1}
    with pytest.raises(FetchRefused, match="another origin"):
        await fetcher.fetch_json("https://node-a.test/away")
    with pytest.raises(UpstreamError, match="redirects"):
        await fetcher.fetch_json("https://node-a.test/loop")
    await fetcher.close()


async def test_resolver_drops_private_addresses() -> None:
    resolver = _PublicOnlyResolver(frozenset())
    with pytest.raises(OSError, match="private or reserved"):
        await resolver.resolve("localhost", 443)
    trusted = _PublicOnlyResolver(frozenset({"localhost"}))
    results = await trusted.resolve("localhost", 443)
    assert all(ipaddress.ip_address(r["host"]).is_loopback for r in results)
    await resolver.close()
    await trusted.close()


def test_max_age_parsing() -> None:
    assert _max_age(None) == -1
    assert _max_age("public, max-age=60") == 60
    assert _max_age("no-store") == 0
    assert _max_age("max-age=abc") == 0


def test_http_configured_origin_is_reached_for_its_did_web(tmp_path: Path) -> None:
    cfg = NodeConfig(data_dir=tmp_path, public_url="http://localhost:8400")
    fetcher = Fetcher(cfg)
    # did:web:localhost%3A8400 names https://localhost:8400/...; the node is configured on http
    assert fetcher._target("https://localhost:8400/.well-known/did.json") == (
        "http://localhost:8400/.well-known/did.json"
    )
    with pytest.raises(FetchRefused):
        fetcher._target("https://localhost:8401/.well-known/did.json")


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_https_with_a_trusted_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    app = make_app({})
    app[DID_DOC] = did_document("did:web:localhost%3A8443")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        client_ctx = ssl.create_default_context(cafile=str(cert))
        cfg = NodeConfig(data_dir=tmp_path, public_url="https://self.test")
        transport = {"did:web:localhost%3A8443": f"https://127.0.0.1:{port}"}
        fetcher = Fetcher(cfg, transport=transport, ssl_context=client_ctx, clock=Clock())
        document = await fetcher.resolve_did("did:web:localhost%3A8443")
        assert document["id"] == "did:web:localhost%3A8443"
        await fetcher.close()
        # the system trust store does not know this certificate
        untrusting = Fetcher(cfg, transport=transport, clock=Clock())
        with pytest.raises(UpstreamError, match="cannot reach"):
            await untrusting.resolve_did("did:web:localhost%3A8443")
        await untrusting.close()
    finally:
        await runner.cleanup()


def test_problem_shape() -> None:
    error = UpstreamError("https://a.test/x", "boom", status=500)
    assert (error.status, error.kind, error.extra["upstreamStatus"]) == (502, "upstream-error", 500)
    refused = FetchRefused("https://a.test/x", "no")
    assert (refused.status, refused.kind) == (422, "fetch-refused")
    assert json.dumps(refused.extra) == '{"url": "https://a.test/x"}'
