"""Receive credentials from a node: OpenID for Verifiable Credential Issuance 1.0 (pre-authorized
code flow, ``ldp_vc``) and the VC API (VCALM) exchange, from a link or a pasted QR payload.

What an offer may look like (:func:`parse_offer`):

* ``openid-credential-offer://?credential_offer_uri=...`` or ``...?credential_offer=<JSON>``
  (any URL with one of those query parameters), or the Credential Offer JSON itself;
* a VCALM interaction URL (``https://...?iuv=1``, optionally after ``interaction:`` or
  ``web+interaction:``), whose ``protocols.vcapi`` names the exchange;
* a Learner Credential Wallet deep link (``...?request=<JSON>`` with ``protocols.vcapi``), or
  that JSON itself.

The flow (:func:`receive_async`, :func:`receive` for callers without an event loop):

* OID4VCI: Credential Offer -> issuer metadata -> token (pre-authorized code, optional
  ``tx_code``) -> for each offered ``ldp_vc`` configuration (the eddsa-rdfc-2022 credential and
  the ecdsa-sd-2023 base-proof copy when offered): a fresh ``c_nonce``, a proof of possession
  (``di_vp``: a presentation signed by the holder did:key with ``authentication`` purpose,
  challenge = c_nonce, domain = the credential issuer; or a ``jwt`` proof), the credential;
* VC API: interaction URL -> ``protocols.vcapi`` -> ``POST {}`` -> a DIDAuthentication request
  -> ``POST {"verifiablePresentation": <DID-auth presentation>}`` -> the credentials.

Every credential is verified on receipt (:mod:`protocol.verify`; an ecdsa-sd-2023 base-proof
copy with :func:`protocol.di.ecdsa_sd_2023.verify_base`) and stored with its report through the
wallet store (``add_credential``). The issuer's did:web document and the status lists are
fetched only from the offer's own host; anything else stays unresolved and the report says so
(a status that cannot be checked is ``unknown``).

The client talks to one origin, the one the offer names: every URL it is given (metadata,
endpoints, exchange URLs) must be on it, redirects are refused, plain ``http`` is used only on
loopback, and every response is bounded in time and size (:data:`HTTP_TIMEOUT_SECONDS`,
:data:`MAX_RESPONSE_BYTES`). Errors are :class:`ExchangeError` (a :class:`WalletError`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp

from protocol.di.ecdsa_sd_2023 import BASE_PROOF_FOR_HOLDER, verify_base
from protocol.did import Resolver, did_web_to_url, validate_did_document
from protocol.encoding import b64url_decode, b64url_encode, parse_json
from protocol.errors import ProtocolError
from protocol.keys import KeyPair, PublicKey
from protocol.limits import MAX_DOCUMENT_BYTES
from protocol.presentation import build_presentation, sign_presentation
from protocol.timeutil import format_datetime
from protocol.verify import verify

from .errors import WalletError
from .identity import suite_for

__all__ = [
    "HTTP_TIMEOUT_SECONDS",
    "MAX_OFFER_CHARS",
    "MAX_RESPONSE_BYTES",
    "ExchangeError",
    "HttpClient",
    "Origin",
    "ParsedOffer",
    "Received",
    "parse_offer",
    "receive",
    "receive_async",
    "sign_jws",
    "store_received",
    "verify_received",
]

#: Total time one HTTP request may take, in seconds (connect, send, read the whole body).
HTTP_TIMEOUT_SECONDS = 20.0
#: Time to establish a connection, in seconds.
CONNECT_TIMEOUT_SECONDS = 10.0
#: Largest response body read from a node, in bytes (a credential is well under this).
MAX_RESPONSE_BYTES = MAX_DOCUMENT_BYTES
#: Longest offer link or pasted QR payload, in characters.
MAX_OFFER_CHARS = 64 * 1024
#: Most credential configurations requested from one offer.
MAX_CONFIGURATIONS = 4
#: Most messages exchanged in one VC API exchange (a request, then the credentials).
MAX_EXCHANGE_STEPS = 4
#: Most credentials accepted from one exchange or offer.
MAX_CREDENTIALS = 16
#: Most status lists fetched to verify one batch of received credentials.
MAX_STATUS_LISTS = 8

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
JWT_PROOF_TYP = "openid4vci-proof+jwt"
#: JWS ``alg`` for each holder key algorithm (proofs of possession).
JWS_ALGORITHMS = {"Ed25519": "EdDSA", "P-256": "ES256"}
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

Progress = Callable[[str], None]


class ExchangeError(WalletError):
    """An offer or a request could not be used: malformed, refused by the node, unreachable,
    or asking the wallet to talk to another host."""

    code = "EXCHANGE_ERROR"


# -- one origin, bounded requests ---------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Origin:
    """``scheme://host:port`` of the node an offer or a request names."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        """The origin of ``url``: https anywhere, http on loopback hosts only."""
        if not isinstance(url, str) or len(url) > MAX_OFFER_CHARS:
            raise ExchangeError("expected a URL")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ExchangeError(f"not a valid URL: {url[:80]!r}") from None
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("https", "http") or not host:
            raise ExchangeError(f"not an http(s) URL: {url[:80]!r}")
        if parts.username is not None or parts.password is not None:
            raise ExchangeError("URLs with credentials are refused")
        if parts.scheme == "http" and not _is_loopback(host):
            raise ExchangeError(f"plain http is refused for {host} (only https, or loopback)")
        return cls(parts.scheme, host, port or (443 if parts.scheme == "https" else 80))

    def __str__(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")

    def owns(self, url: str) -> bool:
        """Whether ``url`` is on this origin."""
        try:
            return Origin.of(url) == self
        except ExchangeError:
            return False

    def require(self, url: Any, what: str) -> str:
        """``url`` if it is a string on this origin, else :class:`ExchangeError`."""
        if not isinstance(url, str) or not self.owns(url):
            raise ExchangeError(f"{what} {str(url)[:120]!r} is not on {self}; refused")
        return url


@dataclass(frozen=True)
class Response:
    """A bounded HTTP response."""

    status: int
    content_type: str
    body: bytes
    url: str

    def json(self) -> Any:
        """The body as strict JSON (``ExchangeError`` otherwise)."""
        try:
            return parse_json(self.body, max_bytes=MAX_RESPONSE_BYTES)
        except ProtocolError as exc:
            raise ExchangeError(f"{self.url} did not answer JSON: {exc.message}") from None

    @property
    def text(self) -> str:
        """The body as UTF-8 text."""
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise ExchangeError(f"{self.url} did not answer UTF-8 text") from None


class HttpClient:
    """HTTP to one origin only: no redirects, no cookies, no proxies, bounded time and size.

    Use as an async context manager. Every method refuses a URL on another origin.
    """

    def __init__(
        self,
        origin: Origin,
        *,
        timeout: float = HTTP_TIMEOUT_SECONDS,
        max_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.origin = origin
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=CONNECT_TIMEOUT_SECONDS)
        self._max_bytes = max_bytes
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpClient:
        self._session = aiohttp.ClientSession(
            timeout=self._timeout,
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            headers={"User-Agent": "passeport-wallet"},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request to ``url`` (on the origin) and read the bounded response."""
        self.origin.require(url, what)
        if self._session is None:
            raise RuntimeError("HttpClient is used outside its context")
        data: Any = None
        sent_headers = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            sent_headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urlencode(form).encode("ascii")
            sent_headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            async with self._session.request(
                method, url, data=data, headers=sent_headers, allow_redirects=False
            ) as resp:
                if 300 <= resp.status < 400:
                    raise ExchangeError(
                        f"{what} answered a redirect ({resp.status}); redirects are refused"
                    )
                length = resp.content_length
                if length is not None and length > self._max_bytes:
                    raise ExchangeError(f"{what}: the response exceeds {self._max_bytes} bytes")
                chunks: list[bytes] = []
                size = 0
                while True:
                    chunk = await resp.content.read(64 * 1024)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise ExchangeError(f"{what}: the response exceeds {self._max_bytes} bytes")
                    chunks.append(chunk)
                return Response(resp.status, resp.content_type, b"".join(chunks), url)
        except TimeoutError:
            raise ExchangeError(f"{what}: {self.origin} did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise ExchangeError(f"{what}: cannot reach {self.origin} ({exc})") from None

    async def get_json(self, url: str, *, what: str) -> Any:
        """GET a JSON document (200 only)."""
        resp = await self.request("GET", url, what=what, headers={"Accept": "application/json"})
        if resp.status != 200:
            raise ExchangeError(f"{what} failed ({resp.status}): {_detail(resp)}")
        return resp.json()


def _detail(resp: Response) -> str:
    """A short description of an error response (OAuth error, problem details or text)."""
    try:
        body = parse_json(resp.body, max_bytes=MAX_RESPONSE_BYTES)
    except ProtocolError:
        return resp.body[:200].decode("utf-8", "replace")
    if isinstance(body, Mapping):
        if "error" in body:
            description = body.get("error_description")
            return f"{body['error']}" + (f": {description}" if description else "")
        if "detail" in body:
            return str(body["detail"])
    return json.dumps(body)[:200]


# -- compact JWS (proofs of possession, request objects) ----------------------------------------


def sign_jws(header: Mapping[str, Any], payload: Mapping[str, Any], key: KeyPair) -> str:
    """A compact JWS (RFC 7515) signed with ``key`` (EdDSA or ES256 raw R||S)."""
    alg = JWS_ALGORITHMS.get(key.algorithm)
    if alg is None or header.get("alg") != alg:
        raise ValueError(f"a {key.algorithm} key signs with alg {alg}")
    head = b64url_encode(json.dumps(dict(header), separators=(",", ":")).encode("utf-8"))
    body = b64url_encode(json.dumps(dict(payload), separators=(",", ":")).encode("utf-8"))
    signature = key.sign(f"{head}.{body}".encode("ascii"))
    return f"{head}.{body}.{b64url_encode(signature)}"


@dataclass(frozen=True)
class Jws:
    """A decoded compact JWS (signature not yet checked)."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes

    def verify(self, key: PublicKey) -> None:
        """Check the signature (``ExchangeError`` if it fails or the algorithm is wrong)."""
        if JWS_ALGORITHMS.get(key.algorithm) != self.header.get("alg"):
            raise ExchangeError("the JWS alg does not match the key that the kid names")
        try:
            key.verify(self.signature, self.signing_input)
        except ProtocolError as exc:
            raise ExchangeError(f"the JWS signature does not verify: {exc.message}") from None


def parse_jws(token: str, *, allow_unsigned: bool = False) -> Jws:
    """Decode a compact JWS; ``alg: none`` (empty signature) only with ``allow_unsigned``."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise ExchangeError("not a compact JWT (three dot-separated parts)")
    try:
        header = parse_json(b64url_decode(parts[0]), max_bytes=MAX_RESPONSE_BYTES)
        payload = parse_json(b64url_decode(parts[1]), max_bytes=MAX_RESPONSE_BYTES)
        signature = b64url_decode(parts[2]) if parts[2] else b""
    except ProtocolError as exc:
        raise ExchangeError(f"the JWT does not decode: {exc.message}") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ExchangeError("the JWT header and payload must be JSON objects")
    alg = header.get("alg")
    if "crit" in header:
        raise ExchangeError("JWTs with critical header extensions are refused")
    if alg == "none":
        if not allow_unsigned or signature:
            raise ExchangeError("an unsigned JWT is not acceptable here")
    elif alg not in JWS_ALGORITHMS.values() or not signature:
        raise ExchangeError(f"JWS alg {alg!r} is not supported")
    return Jws(header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


# -- parsing offers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedOffer:
    """What an offer link or payload points at."""

    kind: Literal["oid4vci", "vcapi"]
    #: OID4VCI: the Credential Offer by value, or the URL to fetch it from.
    credential_offer: dict[str, Any] | None = None
    credential_offer_uri: str | None = None
    #: VC API: the interaction URL (``?iuv=1``) or the exchange URL itself.
    interaction_url: str | None = None
    exchange_url: str | None = None


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = parse_json(text, max_bytes=MAX_OFFER_CHARS)
    except ProtocolError as exc:
        raise ExchangeError(f"{what} is not JSON: {exc.message}") from None
    if not isinstance(value, dict):
        raise ExchangeError(f"{what} must be a JSON object")
    return value


def _from_object(value: Mapping[str, Any]) -> ParsedOffer:
    if "credential_issuer" in value:
        return ParsedOffer("oid4vci", credential_offer=dict(value))
    protocols = value.get("protocols")
    if isinstance(protocols, Mapping):
        if isinstance(protocols.get("vcapi"), str):
            return ParsedOffer("vcapi", exchange_url=protocols["vcapi"])
        for name in ("OID4VCI", "oid4vci"):
            if isinstance(protocols.get(name), str):
                return parse_offer(protocols[name])
    raise ExchangeError("this JSON is neither a credential offer nor a VC API invitation")


def parse_offer(text: str) -> ParsedOffer:
    """Recognise an offer link or a pasted QR payload (see the module docstring)."""
    if not isinstance(text, str):
        raise ExchangeError("an offer is a link or a JSON text")
    text = text.strip()
    if not text:
        raise ExchangeError("the offer is empty")
    if len(text) > MAX_OFFER_CHARS:
        raise ExchangeError(f"the offer is longer than {MAX_OFFER_CHARS} characters")
    if text.startswith("{"):
        return _from_object(_json_object(text, "the offer"))
    for prefix in ("web+interaction:", "interaction:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    try:
        parts = urlsplit(text)
        query = parse_qs(parts.query, max_num_fields=32)
    except ValueError:
        raise ExchangeError("the offer is not a link this wallet understands") from None
    if not parts.scheme:
        raise ExchangeError("the offer is not a link this wallet understands")

    def one(name: str) -> str | None:
        values = query.get(name)
        if values is None:
            return None
        if len(values) != 1:
            raise ExchangeError(f"the offer carries {name!r} more than once")
        return values[0]

    offer_value = one("credential_offer")
    offer_uri = one("credential_offer_uri")
    if offer_value is not None and offer_uri is not None:
        raise ExchangeError("an offer carries credential_offer or credential_offer_uri, not both")
    if offer_value is not None:
        return ParsedOffer(
            "oid4vci", credential_offer=_json_object(offer_value, "credential_offer")
        )
    if offer_uri is not None:
        Origin.of(offer_uri)
        return ParsedOffer("oid4vci", credential_offer_uri=offer_uri)
    request = one("request")
    if request is not None:
        return _from_object(_json_object(request, "the request parameter"))
    if parts.scheme in ("https", "http"):
        Origin.of(text)
        if one("iuv") == "1":
            return ParsedOffer("vcapi", interaction_url=text)
        return ParsedOffer("vcapi", exchange_url=text)
    raise ExchangeError(f"links of the {parts.scheme!r} scheme are not offers")


# -- verification on receipt ------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _issuer_id(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def _sd_base_proofs(credential: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        p
        for p in _as_list(credential.get("proof"))
        if isinstance(p, Mapping)
        and p.get("cryptosuite") == "ecdsa-sd-2023"
        and isinstance(p.get("proofValue"), str)
        and p["proofValue"].startswith("u2V0A")
    ]


def has_base_proof(credential: Mapping[str, Any]) -> bool:
    """Whether ``credential`` carries an ecdsa-sd-2023 base proof (a holder copy)."""
    return bool(_sd_base_proofs(credential))


async def _gather(
    http: HttpClient, credentials: Sequence[Mapping[str, Any]], notes: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """DID documents (did:web on the origin) and status lists (on the origin)."""
    documents: dict[str, Any] = {}
    lists: dict[str, Any] = {}
    for credential in credentials:
        dids = {_issuer_id(credential) or ""}
        for proof in _as_list(credential.get("proof")):
            if isinstance(proof, Mapping) and isinstance(proof.get("verificationMethod"), str):
                dids.add(proof["verificationMethod"].split("#", 1)[0])
        for did in sorted(d for d in dids if d.startswith("did:web:") and d not in documents):
            try:
                where = urlsplit(did_web_to_url(did))
            except ProtocolError as exc:
                notes.append(f"{did}: {exc.message}")
                continue
            local = f"{http.origin.scheme}://{where.netloc}{where.path}"
            if not http.origin.owns(local):
                notes.append(f"{did} is not on {http.origin}: its document was not fetched")
                continue
            try:
                documents[did] = validate_did_document(
                    await http.get_json(local, what=f"the DID document of {did}"), did=did
                )
            except (ExchangeError, ProtocolError) as exc:
                notes.append(f"{did}: {getattr(exc, 'message', str(exc))}")
        for entry in _as_list(credential.get("credentialStatus")):
            url = entry.get("statusListCredential") if isinstance(entry, Mapping) else None
            if not isinstance(url, str) or url in lists or len(lists) >= MAX_STATUS_LISTS:
                continue
            if not http.origin.owns(url):
                notes.append(f"the status list {url} is not on {http.origin}: not fetched")
                continue
            try:
                lists[url] = await http.get_json(url, what=f"the status list {url}")
            except ExchangeError as exc:
                notes.append(exc.message)
    return documents, lists


def _verdict(checks: Sequence[Mapping[str, Any]], credentials: Sequence[Any] = ()) -> str:
    statuses = {c.get("status") for c in checks}
    if not checks or "fail" in statuses:
        return "invalid"
    if "unknown" in statuses:
        return "unknown"
    return "valid"


def verify_received(
    credential: Mapping[str, Any],
    *,
    holder: str | None,
    now: datetime,
    documents: Mapping[str, Any] | None = None,
    status_lists: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The verification report (a dict, ``specs/verification-report.md``) of a received
    credential: :func:`protocol.verify.verify`, with an ecdsa-sd-2023 base proof checked by
    :func:`verify_base` instead (a verifier refuses base proofs; the holder checks them), plus
    a ``holder`` check that the credential is bound to ``holder``."""
    resolver = Resolver(dict(documents or {}))
    report = verify(credential, now=now, resolver=resolver, status_lists=status_lists)
    out = report.to_dict()
    checks: list[dict[str, Any]] = []
    for check in out["checks"]:
        if check["status"] == "fail" and BASE_PROOF_FOR_HOLDER in check["reason"]:
            try:
                verify_base(credential, resolver=resolver)
            except ProtocolError as exc:
                checks.append({**check, "reason": f"ecdsa-sd-2023 base proof: {exc.message}"})
                continue
            checks.append(
                {
                    **check,
                    "status": "pass",
                    "reason": "ecdsa-sd-2023 base proof verified (the holder's copy: it is "
                    "presented through derived disclosures)",
                }
            )
            method = next(
                (
                    p.get("verificationMethod")
                    for p in _sd_base_proofs(credential)
                    if isinstance(p.get("verificationMethod"), str)
                ),
                "",
            )
            issuer = _issuer_id(credential)
            signer = str(method).split("#", 1)[0]
            checks.append(
                {
                    "check": f"{check['check']} issuer",
                    "status": "pass" if issuer == signer else "fail",
                    "reason": f"the signing key belongs to the issuer {issuer}"
                    if issuer == signer
                    else f"the signing key belongs to {signer}, not to the issuer {issuer}",
                }
            )
            continue
        checks.append(check)
    if holder is not None:
        subject = credential.get("credentialSubject")
        subjects = [s.get("id") for s in _as_list(subject) if isinstance(s, Mapping)]
        if holder in subjects:
            checks.append(
                {"check": "holder", "status": "pass", "reason": f"issued to this wallet ({holder})"}
            )
        else:
            checks.append(
                {
                    "check": "holder",
                    "status": "fail",
                    "reason": f"the credential is bound to {subjects[0] if subjects else 'nobody'}"
                    f", not to this wallet's {holder}",
                }
            )
    for note in notes:
        checks.append({"check": "retrieval", "status": "unknown", "reason": note})
    out["checks"] = checks
    out["verdict"] = _verdict(checks)
    out["verified"] = out["verdict"] == "valid"
    out["checkedAt"] = format_datetime(now)
    return out


# -- OID4VCI --------------------------------------------------------------------------------------


@dataclass
class Received:
    """A credential as received, with its verification report and where it came from."""

    credential: dict[str, Any]
    verification: dict[str, Any]
    source: str
    configuration: str | None = None


def _well_known(identifier: str, name: str) -> str:
    """``https://host/.well-known/<name>[/path]`` (inserted between host and path)."""
    parts = urlsplit(identifier)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/{name}{path}"


def _check_offer(offer: Any, origin: Origin | None) -> tuple[Origin, dict[str, Any]]:
    if not isinstance(offer, dict):
        raise ExchangeError("the credential offer must be a JSON object")
    issuer = offer.get("credential_issuer")
    if not isinstance(issuer, str):
        raise ExchangeError("the credential offer names no credential_issuer")
    issuer_origin = Origin.of(issuer)
    if origin is not None and issuer_origin != origin:
        raise ExchangeError(
            f"the offer fetched from {origin} names another issuer ({issuer}); refused"
        )
    ids = offer.get("credential_configuration_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ExchangeError("the offer lists no credential_configuration_ids")
    grants = offer.get("grants")
    grant = grants.get(PRE_AUTHORIZED_GRANT) if isinstance(grants, Mapping) else None
    if not isinstance(grant, Mapping) or not isinstance(grant.get("pre-authorized_code"), str):
        raise ExchangeError(
            "the offer has no pre-authorized code grant (the only flow this wallet supports)"
        )
    return issuer_origin, offer


def _choose_proof(configuration: Mapping[str, Any], key: KeyPair, forced: str | None) -> str | None:
    supported = configuration.get("proof_types_supported")
    if not isinstance(supported, Mapping) or not supported:
        return forced
    suite, alg = suite_for(key), JWS_ALGORITHMS.get(key.algorithm)
    usable = []
    for kind, wanted in (("di_vp", suite), ("jwt", alg)):
        entry = supported.get(kind)
        values = (
            entry.get("proof_signing_alg_values_supported") if isinstance(entry, Mapping) else None
        )
        if entry is not None and (not isinstance(values, list) or wanted in values):
            usable.append(kind)
    if forced is not None:
        if forced not in usable:
            raise ExchangeError(
                f"the issuer does not accept {forced} proofs from a {key.algorithm} key"
            )
        return forced
    if not usable:
        raise ExchangeError(
            f"the issuer accepts no proof this wallet can make with a {key.algorithm} key"
        )
    return usable[0]


def _proof(kind: str, key: KeyPair, *, nonce: str, issuer: str, now: datetime) -> Any:
    if kind == "jwt":
        header = {"alg": JWS_ALGORITHMS[key.algorithm], "typ": JWT_PROOF_TYP, "kid": key.id}
        claims = {"aud": issuer, "iat": int(now.timestamp()), "nonce": nonce}
        return sign_jws(header, claims, key)
    presentation = build_presentation(holder=key.controller or "", credentials=[])
    return sign_presentation(
        presentation, key=key, challenge=nonce, domain=issuer, created=now, suite=suite_for(key)
    )


async def _oid4vci(
    parsed: ParsedOffer,
    key: KeyPair,
    *,
    now: datetime,
    progress: Progress,
    tx_code: str | None,
    proof_type: str | None,
    configurations: Sequence[str] | None,
) -> list[Received]:
    start = parsed.credential_offer_uri or (parsed.credential_offer or {}).get("credential_issuer")
    if not isinstance(start, str):
        raise ExchangeError("the credential offer names no credential_issuer")
    origin = Origin.of(start)
    async with HttpClient(origin) as http:
        if parsed.credential_offer_uri is not None:
            progress(f"Fetching the credential offer from {origin}")
            offer = await http.get_json(parsed.credential_offer_uri, what="the credential offer")
            _, offer = _check_offer(offer, origin)
        else:
            _, offer = _check_offer(parsed.credential_offer, None)
        issuer: str = offer["credential_issuer"]
        grant = offer["grants"][PRE_AUTHORIZED_GRANT]
        progress(f"Reading the issuer metadata of {issuer}")
        metadata = await http.get_json(
            _well_known(issuer, "openid-credential-issuer"), what="the issuer metadata"
        )
        if not isinstance(metadata, Mapping) or metadata.get("credential_issuer") != issuer:
            raise ExchangeError("the issuer metadata names another credential_issuer")
        credential_endpoint = origin.require(
            metadata.get("credential_endpoint"), "the credential endpoint"
        )
        nonce_endpoint = metadata.get("nonce_endpoint")
        if nonce_endpoint is not None:
            origin.require(nonce_endpoint, "the nonce endpoint")
        supported = metadata.get("credential_configurations_supported")
        if not isinstance(supported, Mapping):
            raise ExchangeError("the issuer metadata lists no credential configurations")
        servers = metadata.get("authorization_servers")
        server = servers[0] if isinstance(servers, list) and servers else issuer
        origin.require(server, "the authorization server")
        as_metadata = await http.get_json(
            _well_known(server, "oauth-authorization-server"),
            what="the authorization server metadata",
        )
        token_endpoint = origin.require(
            as_metadata.get("token_endpoint") if isinstance(as_metadata, Mapping) else None,
            "the token endpoint",
        )
        form = {
            "grant_type": PRE_AUTHORIZED_GRANT,
            "pre-authorized_code": grant["pre-authorized_code"],
        }
        if grant.get("tx_code") is not None:
            if tx_code is None:
                raise ExchangeError(
                    "this offer needs the transaction code (PIN) the issuer gave you"
                )
            form["tx_code"] = tx_code
        progress("Redeeming the pre-authorized code")
        resp = await http.request("POST", token_endpoint, what="the token request", form=form)
        token = resp.json() if resp.status == 200 else None
        if not isinstance(token, Mapping) or not isinstance(token.get("access_token"), str):
            raise ExchangeError(f"the issuer refused the code: {_detail(resp)}")
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        wanted = [
            c
            for c in offer["credential_configuration_ids"]
            if isinstance(supported.get(c), Mapping)
            and supported[c].get("format") == "ldp_vc"
            and (configurations is None or c in configurations)
        ][:MAX_CONFIGURATIONS]
        if not wanted:
            raise ExchangeError("the offer holds no ldp_vc credential this wallet can receive")
        received: list[Received] = []
        for configuration in wanted:
            body: dict[str, Any] = {"credential_configuration_id": configuration}
            kind = _choose_proof(supported[configuration], key, proof_type)
            if kind is not None:
                if nonce_endpoint is None:
                    raise ExchangeError("the issuer asks for a key proof but has no nonce endpoint")
                resp = await http.request("POST", nonce_endpoint, what="the nonce request")
                nonce_body = resp.json() if resp.status == 200 else None
                if not isinstance(nonce_body, Mapping) or not isinstance(
                    nonce_body.get("c_nonce"), str
                ):
                    raise ExchangeError(f"no c_nonce from the issuer: {_detail(resp)}")
                proof = _proof(kind, key, nonce=nonce_body["c_nonce"], issuer=issuer, now=now)
                body["proofs"] = {kind: [proof]}
            progress(f"Requesting {configuration} with a {kind or 'no'} key proof")
            resp = await http.request(
                "POST",
                credential_endpoint,
                what="the credential request",
                headers=bearer,
                json_body=body,
            )
            if resp.status == 202:
                raise ExchangeError(
                    "the issuer deferred issuance, which this wallet does not support"
                )
            if resp.status != 200:
                raise ExchangeError(f"the issuer refused {configuration}: {_detail(resp)}")
            answer = resp.json()
            items = answer.get("credentials") if isinstance(answer, Mapping) else None
            if not isinstance(items, list) or not items or len(items) > MAX_CREDENTIALS:
                raise ExchangeError("the credential response carries no credentials")
            for item in items:
                credential = item.get("credential") if isinstance(item, Mapping) else None
                if not isinstance(credential, dict):
                    raise ExchangeError("an ldp_vc credential must be a JSON object")
                received.append(
                    Received(credential, {}, f"oid4vci:{issuer}", configuration=configuration)
                )
        await _verify_all(http, received, holder=key.controller, now=now, progress=progress)
    return received


async def _verify_all(
    http: HttpClient,
    received: Sequence[Received],
    *,
    holder: str | None,
    now: datetime,
    progress: Progress,
) -> None:
    progress("Verifying what was received")
    notes: list[str] = []
    documents, lists = await _gather(http, [r.credential for r in received], notes)
    for item in received:
        item.verification = await asyncio.to_thread(
            verify_received,
            item.credential,
            holder=holder,
            now=now,
            documents=documents,
            status_lists=lists,
            notes=notes,
        )


# -- VC API exchange ------------------------------------------------------------------------------


def domain_matches(domain: Any, origin: Origin) -> bool:
    """Whether a challenge's ``domain`` names ``origin`` (its URL, or its host[:port])."""
    if not isinstance(domain, str) or not domain:
        return False
    if "://" in domain:
        return origin.owns(domain)
    default = 443 if origin.scheme == "https" else 80
    host = origin.host if origin.port == default else f"{origin.host}:{origin.port}"
    return domain.lower() in (origin.host, host)


async def _vcapi(
    parsed: ParsedOffer, key: KeyPair, *, now: datetime, progress: Progress
) -> list[Received]:
    start = parsed.interaction_url or parsed.exchange_url
    assert start is not None
    origin = Origin.of(start)
    async with HttpClient(origin) as http:
        exchange = parsed.exchange_url
        if parsed.interaction_url is not None:
            progress(f"Opening the interaction at {origin}")
            body = await http.get_json(parsed.interaction_url, what="the interaction URL")
            protocols = body.get("protocols") if isinstance(body, Mapping) else None
            exchange = protocols.get("vcapi") if isinstance(protocols, Mapping) else None
            if exchange is None:
                raise ExchangeError("the interaction offers no VC API exchange")
        exchange = origin.require(exchange, "the exchange URL")
        message: dict[str, Any] = {}
        credentials: list[Any] = []
        for _step in range(MAX_EXCHANGE_STEPS):
            resp = await http.request("POST", exchange, what="the exchange", json_body=message)
            if resp.status not in (200, 201):
                raise ExchangeError(f"the exchange failed ({resp.status}): {_detail(resp)}")
            reply = resp.json()
            if not isinstance(reply, Mapping):
                raise ExchangeError("an exchange message is a JSON object")
            if isinstance(reply.get("verifiablePresentation"), Mapping):
                credentials = _as_list(reply["verifiablePresentation"].get("verifiableCredential"))
                break
            request = reply.get("verifiablePresentationRequest")
            if not isinstance(request, Mapping):
                raise ExchangeError("the exchange ended without delivering a credential")
            queries = _as_list(request.get("query"))
            if not queries or any(
                not isinstance(q, Mapping) or q.get("type") != "DIDAuthentication" for q in queries
            ):
                raise ExchangeError(
                    "the exchange asks for more than DID authentication; use 'present' for that"
                )
            challenge, domain = request.get("challenge"), request.get("domain")
            if not isinstance(challenge, str) or not challenge:
                raise ExchangeError("the DID authentication request has no challenge")
            if not isinstance(domain, str) or not domain_matches(domain, origin):
                raise ExchangeError(
                    f"the DID authentication request names domain {domain!r}, not {origin}; "
                    "refused (it would prove your DID to another party)"
                )
            interact = request.get("interact")
            services = interact.get("service") if isinstance(interact, Mapping) else None
            for service in _as_list(services):
                if (
                    isinstance(service, Mapping)
                    and service.get("type") == "VerifiableCredentialApiExchangeService"
                ):
                    exchange = origin.require(service.get("serviceEndpoint"), "the exchange URL")
                    break
            progress("Proving control of your DID to the issuer")
            presentation = build_presentation(holder=key.controller or "", credentials=[])
            signed = sign_presentation(
                presentation,
                key=key,
                challenge=challenge,
                domain=domain,
                created=now,
                suite=suite_for(key),
            )
            message = {"verifiablePresentation": signed}
        else:
            raise ExchangeError(f"the exchange took more than {MAX_EXCHANGE_STEPS} steps")
        if not credentials:
            raise ExchangeError("the exchange delivered no credential")
        if len(credentials) > MAX_CREDENTIALS:
            raise ExchangeError(f"the exchange delivered more than {MAX_CREDENTIALS} credentials")
        received = []
        for credential in credentials:
            if not isinstance(credential, dict):
                raise ExchangeError("a delivered credential must be a JSON object")
            received.append(Received(credential, {}, f"vcapi:{exchange}"))
        await _verify_all(http, received, holder=key.controller, now=now, progress=progress)
    return received


# -- storing --------------------------------------------------------------------------------------


def _equality(credential: Mapping[str, Any]) -> tuple[str | None, Any]:
    return _issuer_id(credential), credential.get("id")


def store_received(store: Any, received: Sequence[Received], *, now: datetime) -> list[Any]:
    """Store received credentials with their reports; returns the stored records, in order.

    The ecdsa-sd-2023 base-proof copy of a badge has the same issuer and id as its
    eddsa-rdfc-2022 credential, so the store (Open Badges equality) keeps one record per badge:
    the credential a verifier can check is stored verbatim, and the holder's copy is kept with
    it (``Wallet.add_holder_copy``), where :func:`wallet.present.holder_copy` finds it. A badge
    that arrives only as a base-proof copy is stored as it is.
    """
    groups: dict[tuple[str | None, Any], list[Received]] = {}
    order: list[tuple[str | None, Any]] = []
    for item in received:
        key = _equality(item.credential)
        if key[1] is None:
            key = (key[0], id(item))
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(item)
    stored: list[Any] = []
    for key in order:
        items = groups[key]
        plain = [i for i in items if not has_base_proof(i.credential)]
        copies = [i for i in items if has_base_proof(i.credential)]
        primary = plain[0] if plain else copies[0]
        copy = copies[0] if plain and copies else None
        record = store.add_credential(
            primary.credential, source=primary.source, verification=dict(primary.verification)
        )
        if copy is not None:
            store.add_holder_copy(
                record, copy.credential, verification=copy.verification, source=copy.source
            )
        stored.append(record)
    return stored


# -- entry points ---------------------------------------------------------------------------------


async def fetch_offer(
    offer: str,
    key: KeyPair,
    *,
    now: datetime,
    progress: Progress | None = None,
    tx_code: str | None = None,
    proof_type: Literal["di_vp", "jwt"] | None = None,
    configurations: Sequence[str] | None = None,
) -> list[Received]:
    """Claim ``offer`` with ``key`` (a did:key pair) and verify what arrives; store nothing."""
    if key.controller is None or key.id is None:
        raise ValueError("the holder key must be bound to its DID (controller and id)")
    say = progress or (lambda _message: None)
    parsed = parse_offer(offer)
    if parsed.kind == "oid4vci":
        return await _oid4vci(
            parsed,
            key,
            now=now,
            progress=say,
            tx_code=tx_code,
            proof_type=proof_type,
            configurations=configurations,
        )
    return await _vcapi(parsed, key, now=now, progress=say)


async def receive_async(
    store: Any,
    offer: str,
    *,
    identity: str | None = None,
    now: datetime,
    progress: Progress | None = None,
    tx_code: str | None = None,
    proof_type: Literal["di_vp", "jwt"] | None = None,
    configurations: Sequence[str] | None = None,
) -> list[Any]:
    """Claim ``offer`` into the wallet ``store`` as ``identity`` (a DID the wallet holds; the
    default identity when ``None``): every credential is verified and stored with its report.

    Returns what ``store.add_credential`` returned for each credential, in order.
    """
    key = store.identity(identity)
    received = await fetch_offer(
        offer,
        key,
        now=now,
        progress=progress,
        tx_code=tx_code,
        proof_type=proof_type,
        configurations=configurations,
    )
    stored = store_received(store, received, now=now)
    save = getattr(store, "save", None)
    if callable(save):
        result = save()
        if isinstance(result, Awaitable):
            await result
    if progress is not None:
        progress(f"Stored {len(stored)} credential(s)")
    return stored


def receive(
    store: Any,
    offer: str,
    *,
    identity: str | None = None,
    now: datetime,
    progress: Progress | None = None,
    tx_code: str | None = None,
) -> list[Any]:
    """:func:`receive_async` for callers without a running event loop (the CLI)."""
    return asyncio.run(
        receive_async(store, offer, identity=identity, now=now, progress=progress, tx_code=tx_code)
    )
