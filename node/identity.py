"""The node's identities: its did:web (from ``public_url``) and optional did:key issuers.

* ``GET /.well-known/did.json`` (and ``<path>/did.json`` when ``public_url`` has a path) serves
  the did:web document: one Multikey verification method ``did:web:...#key-N`` per key, current
  and retired. Retired keys stay under ``assertionMethod`` so badges they signed still verify;
  only current keys are listed under ``authentication``. New signatures use the newest key.
* ``POST /admin/identities`` adds a did:key identity (Ed25519 or P-256); ``GET`` lists them.
* ``POST /admin/keys/rotate`` rotates the did:web keys (also ``passeport node keys rotate``).

Publishes ``app[SERVICES]["identity"]``, an :class:`IdentityService`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web
from sqlite_utils import Database

from protocol.did import DID_CONTEXT, did_key_for, key_pair_as_did_key, url_to_did_web
from protocol.errors import ProtocolError
from protocol.keys import ALGORITHMS, MULTIKEY_CONTEXT, Algorithm, KeyPair

from .appkeys import CLOCK, CONFIG, DB, SERVICES
from .auth import public
from .config import ConfigError, NodeConfig
from .keystore import WEB_IDENTITY, KeyRecord, Keystore
from .problems import Problem, read_json
from .storage import register

__all__ = [
    "DID_MEDIA_TYPE",
    "ISSUER_ALGORITHMS",
    "IdentityService",
    "UnknownIssuer",
    "did_document_paths",
    "did_web_for",
    "setup",
]

DID_MEDIA_TYPE = "application/did+json"
#: Algorithms the node issues with (P-384 keys can be read but are not generated here).
ISSUER_ALGORITHMS: tuple[Algorithm, ...] = ("Ed25519", "P-256")
#: Seconds verifiers may cache the DID document (short, so that rotations show up quickly).
DID_DOCUMENT_MAX_AGE_SECONDS = 300

migrations = register("node.identity")


@migrations()
def m001_identities(db: Database) -> None:
    db["node_identities"].create(  # type: ignore[union-attr]
        {"did": str, "algorithm": str, "name": str, "created_at": str},
        pk="did",
        not_null={"algorithm", "created_at"},
    )


class UnknownIssuer(Problem):
    """The node holds no identity (or no key of the asked algorithm) for an issuer id."""

    def __init__(self, detail: str) -> None:
        super().__init__(422, "unknown-issuer", detail)


def did_web_for(public_url: str) -> str:
    """The did:web of a node at ``public_url`` (http is read as https; ports are %3A-encoded)."""
    parts = urlsplit(public_url)
    https = urlunsplit(("https", parts.netloc, parts.path.rstrip("/"), "", ""))
    try:
        return url_to_did_web(https)
    except ProtocolError as exc:
        raise ConfigError(f"public_url {public_url!r} gives no did:web: {exc.message}") from None


def did_document_paths(public_url: str) -> list[str]:
    """Paths on which the node serves its DID document."""
    path = urlsplit(public_url).path.rstrip("/")
    paths = ["/.well-known/did.json"]
    if path:
        paths += [f"{path}/did.json", "/did.json"]
    return paths


@dataclass(frozen=True)
class Identity:
    """A did:key identity held by the node."""

    did: str
    algorithm: Algorithm
    name: str | None
    created_at: str


class IdentityService:
    """The node's DIDs and signing keys (the ``"identity"`` service)."""

    def __init__(self, config: NodeConfig, db: Database, keystore: Keystore) -> None:
        self._config = config
        self._db = db
        self.keystore = keystore
        self.did = did_web_for(config.public_url)
        self._bound: dict[int, KeyPair] = {}

    # -- set-up --------------------------------------------------------------------------------

    def ensure_keys(self, now: datetime) -> list[KeyRecord]:
        """Check the master key, then create the did:web's first keys if it has none."""
        self.keystore.check()
        created = []
        for algorithm in ISSUER_ALGORITHMS:
            if self.keystore.current(WEB_IDENTITY, algorithm) is None:
                created.append(self.keystore.generate(WEB_IDENTITY, algorithm, now=now))
        return created

    def rotate(
        self, now: datetime, algorithms: tuple[Algorithm, ...] = ISSUER_ALGORITHMS
    ) -> list[KeyRecord]:
        """New did:web keys for ``algorithms``; the previous ones are retired but stay published."""
        created = []
        with self._db.atomic():
            for algorithm in algorithms:
                previous = self.keystore.current(WEB_IDENTITY, algorithm)
                created.append(self.keystore.generate(WEB_IDENTITY, algorithm, now=now))
                if previous is not None:
                    self.keystore.retire(previous.id, now=now)
        return created

    def add_did_key(self, algorithm: Algorithm, *, now: datetime, name: str | None = None) -> str:
        """Create a did:key identity with a new key of ``algorithm``; return its DID."""
        if algorithm not in ISSUER_ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ISSUER_ALGORITHMS)}")
        from protocol.keys import generate

        pair = generate(algorithm)
        did = did_key_for(pair.public)
        with self._db.atomic():
            self._db.table("node_identities").insert(
                {"did": did, "algorithm": algorithm, "name": name, "created_at": now.isoformat()}
            )
            self.keystore.add(did, pair, now=now)
        return did

    # -- the service contract -----------------------------------------------------------------

    def default_issuer(self) -> str:
        """The node's did:web."""
        return self.did

    def identities(self) -> list[Identity]:
        """The did:key identities, oldest first."""
        rows = self._db.execute(
            "SELECT did, algorithm, name, created_at FROM node_identities ORDER BY created_at, did"
        ).fetchall()
        return [Identity(did=r[0], algorithm=r[1], name=r[2], created_at=r[3]) for r in rows]

    def issuer_ids(self) -> list[str]:
        """The node's DIDs: its did:web first, then its did:key identities."""
        return [self.did, *(i.did for i in self.identities())]

    def _identity(self, issuer_id: str) -> Identity | None:
        row = self._db.execute(
            "SELECT did, algorithm, name, created_at FROM node_identities WHERE did = ?",
            [issuer_id],
        ).fetchone()
        return None if row is None else Identity(row[0], row[1], row[2], row[3])

    def method_id(self, record: KeyRecord) -> str:
        """The verification method id of a stored key."""
        if record.identity == WEB_IDENTITY:
            return f"{self.did}#key-{record.key_index}"
        return f"{record.identity}#{record.public_multibase}"

    def signing_key(self, issuer_id: str, algorithm: Algorithm = "Ed25519") -> KeyPair:
        """The current key of ``issuer_id`` for ``algorithm``, with controller and method id set.

        Raises :class:`UnknownIssuer` (a 422 problem) when the node holds no such key.
        """
        if algorithm not in ALGORITHMS:
            raise UnknownIssuer(f"unsupported key algorithm {algorithm!r}")
        if issuer_id == self.did:
            record = self.keystore.current(WEB_IDENTITY, algorithm)
            if record is None:
                raise UnknownIssuer(f"{issuer_id} has no current {algorithm} key")
            bound = self._bound.get(record.id)
            if bound is None:
                pair = self.keystore.key_pair(record.id)
                bound = pair.with_controller(self.did, self.method_id(record))
                self._bound[record.id] = bound
            return bound
        identity = self._identity(issuer_id)
        if identity is None:
            raise UnknownIssuer(f"this node holds no issuer identity {issuer_id}")
        if identity.algorithm != algorithm:
            raise UnknownIssuer(f"{issuer_id} is a {identity.algorithm} key, not {algorithm}")
        record = self.keystore.current(issuer_id, algorithm)
        if record is None:
            raise UnknownIssuer(f"{issuer_id} has no stored key")
        return key_pair_as_did_key(self.keystore.key_pair(record.id))

    def algorithms(self, issuer_id: str) -> list[Algorithm]:
        """The algorithms ``issuer_id`` can currently sign with."""
        if issuer_id == self.did:
            return [a for a in ISSUER_ALGORITHMS if self.keystore.current(WEB_IDENTITY, a)]
        identity = self._identity(issuer_id)
        return [] if identity is None else [identity.algorithm]

    def did_document(self) -> dict[str, Any]:
        """The did:web document: every key ever used, current ones also for authentication."""
        methods = []
        assertion = []
        authentication = []
        for record in self.keystore.records(WEB_IDENTITY):
            vm_id = self.method_id(record)
            methods.append(
                {
                    "id": vm_id,
                    "type": "Multikey",
                    "controller": self.did,
                    "publicKeyMultibase": record.public_multibase,
                }
            )
            assertion.append(vm_id)
            if record.active:
                authentication.append(vm_id)
        return {
            "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
            "id": self.did,
            "verificationMethod": methods,
            "authentication": authentication,
            "assertionMethod": assertion,
        }

    def profile(self, issuer_id: str) -> dict[str, Any]:
        """The OB 3.0 Profile of ``issuer_id`` (raises :class:`UnknownIssuer`)."""
        if issuer_id == self.did:
            return {
                "id": self.did,
                "type": ["Profile"],
                "name": self._config.name,
                "url": self._config.base_url,
            }
        identity = self._identity(issuer_id)
        if identity is None:
            raise UnknownIssuer(f"this node holds no issuer identity {issuer_id}")
        return {
            "id": identity.did,
            "type": ["Profile"],
            "name": identity.name or self._config.name,
            "url": self._config.base_url,
        }


def _service(request: web.Request) -> IdentityService:
    return cast(IdentityService, request.app[SERVICES]["identity"])


def _auth(request: web.Request) -> Any:
    return request.app[SERVICES]["auth"]


@public("the did:web document is public by design (verifiers resolve issuer keys)")
async def get_did_document(request: web.Request) -> web.StreamResponse:
    """Serve the did:web document with cache headers (``application/did+json``)."""
    body = json.dumps(_service(request).did_document(), indent=2).encode("utf-8")
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": f"public, max-age={DID_DOCUMENT_MAX_AGE_SECONDS}",
        "ETag": etag,
        "Access-Control-Allow-Origin": "*",
        "Vary": "Accept",
    }
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers=headers)
    accept = request.headers.get("Accept", "")
    content_type = DID_MEDIA_TYPE
    if DID_MEDIA_TYPE not in accept and "*/*" not in accept:
        if "application/ld+json" in accept:
            content_type = "application/ld+json"
        elif "application/json" in accept:
            content_type = "application/json"
    return web.Response(body=body, headers=headers, content_type=content_type)


def _identity_json(service: IdentityService, identity: Identity) -> dict[str, Any]:
    record = service.keystore.current(identity.did, identity.algorithm)
    return {
        "id": identity.did,
        "algorithm": identity.algorithm,
        "name": identity.name,
        "createdAt": identity.created_at,
        "verificationMethod": service.method_id(record) if record else None,
    }


async def list_identities(request: web.Request) -> web.Response:
    """``GET /admin/identities``: the did:web and the did:key identities."""
    await _auth(request).require_scope(request, "admin")
    service = _service(request)
    keys = [
        {
            "id": service.method_id(r),
            "algorithm": r.algorithm,
            "publicKeyMultibase": r.public_multibase,
            "createdAt": r.created_at,
            "retiredAt": r.retired_at,
        }
        for r in service.keystore.records(WEB_IDENTITY)
    ]
    return web.json_response(
        {
            "default": service.did,
            "web": {"id": service.did, "keys": keys},
            "identities": [_identity_json(service, i) for i in service.identities()],
        }
    )


async def add_identity(request: web.Request) -> web.Response:
    """``POST /admin/identities`` ``{"algorithm": "Ed25519"|"P-256", "name"?: str}``."""
    await _auth(request).require_scope(request, "admin")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise Problem(400, "malformed", "expected a JSON object")
    algorithm = body.get("algorithm", "Ed25519")
    if algorithm not in ISSUER_ALGORITHMS:
        raise Problem(
            422,
            "invalid-field",
            f"algorithm must be one of {', '.join(ISSUER_ALGORITHMS)}",
            field="algorithm",
        )
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > 200):
        raise Problem(
            422, "invalid-field", "name must be a non-empty string (<= 200)", field="name"
        )
    service = _service(request)
    did = service.add_did_key(algorithm, now=request.app[CLOCK](), name=name)
    identity = service._identity(did)
    assert identity is not None
    return web.json_response(_identity_json(service, identity), status=201)


async def rotate_keys(request: web.Request) -> web.Response:
    """``POST /admin/keys/rotate``: new did:web keys; the old ones stay in the DID document."""
    await _auth(request).require_scope(request, "admin")
    service = _service(request)
    created = service.rotate(request.app[CLOCK]())
    return web.json_response({"created": [service.method_id(r) for r in created]})


def setup(app: web.Application) -> None:
    """Publish the identity service and its routes."""
    config = app[CONFIG]
    service = IdentityService(config, app[DB], Keystore(app[DB], config.master_key_path))
    app[SERVICES]["identity"] = service
    for path in did_document_paths(config.public_url):
        app.router.add_get(path, get_did_document)
    app.router.add_get("/admin/identities", list_identities)
    app.router.add_post("/admin/identities", add_identity)
    app.router.add_post("/admin/keys/rotate", rotate_keys)

    async def on_startup(app: web.Application) -> None:
        service.ensure_keys(app[CLOCK]())

    app.on_startup.append(on_startup)
