"""Present credentials to a verifier: match its request, show exactly what will be disclosed,
derive ecdsa-sd-2023 disclosures for exactly the requested claims, sign, and send or save.

Requests (:func:`parse_request`, formats in ``specs/presentation.md``):

* a **plain request**: a JSON object ``{"challenge", "domain", "dcql_query"?}``, or a link with
  those query parameters (``passeport-present://?challenge=...&domain=...``). It is answered
  with a presentation to save (nothing is sent);
* an **OpenID4VP 1.0** Authorization Request: ``openid4vp://?client_id=...&request_uri=...``
  (a Request Object fetched from the verifier: unsigned for the ``redirect_uri:`` Client
  Identifier Prefix, signed by the verifier's DID for ``decentralized_identifier:``) or by
  value (``response_type=vp_token&response_mode=direct_post&response_uri=...&nonce=...&
  dcql_query=...``). The answer goes to ``response_uri`` as ``direct_post``
  (``vp_token=<JSON {credential query id: [presentations]}>&state=...``); each presentation is
  signed with challenge = ``nonce`` and domain = the full ``client_id``;
* a **VC API exchange**: an interaction URL (``?iuv=1``) or an exchange URL; the exchange's
  ``QueryByExample`` (or ``DIDAuthentication``) request is answered with one presentation
  signed with its challenge and domain.

What is disclosed: the request's DCQL query is matched against the wallet (``type_values``
compared with the credential's types expanded by JSON-LD, claims by claims path pointers and
``values``). For each chosen credential the requested claim paths become JSON Pointers; with the
holder's ecdsa-sd-2023 copy the wallet derives a disclosure of exactly those pointers (widened
to the smallest part the Open Badges disclosure profile lets a holder reveal) plus the
issuer's mandatory pointers, which are always disclosed and shown as such; a credential without
that copy is presented whole, and the summary says so. :class:`PresentationPlan` holds the
disclosures and a human-readable :attr:`~PresentationPlan.summary`, computed before anything is
signed or sent, so the CLI can ask for confirmation.

Non-interactive sharing: :func:`make_presentation` (a presentation file) and
:func:`share_link_async` (a public link with an expiry, published to a node's ``/shares``).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from protocol.di import sign
from protocol.di.ecdsa_sd_2023 import derive
from protocol.di.sd_cbor import parse_base_proof_value
from protocol.did import Resolver, did_web_to_url
from protocol.encoding import parse_json
from protocol.errors import ProtocolError
from protocol.jsonld.canonicalize import to_dataset
from protocol.jsonld.loader import default_loader
from protocol.limits import MAX_CREDENTIALS_PER_PRESENTATION
from protocol.ob import validate
from protocol.ob.disclosure import selectable_pointers
from protocol.presentation import build_presentation, sign_presentation

from .client import (
    MAX_OFFER_CHARS,
    ExchangeError,
    HttpClient,
    Origin,
    Response,
    _detail,
    domain_matches,
    has_base_proof,
    parse_jws,
)
from .identity import suite_for

__all__ = [
    "Candidate",
    "Disclosure",
    "PresentationPlan",
    "PresentationRequest",
    "PresentationResult",
    "ShareLink",
    "make_presentation",
    "parse_request",
    "plan_presentation",
    "present",
    "present_async",
    "resolve_request",
    "share_link",
    "share_link_async",
]

#: Longest challenge or domain accepted in a request, in characters.
MAX_CHALLENGE_CHARS = 512
#: Most credential queries and claims handled in one request.
MAX_QUERIES = 16
MAX_CLAIMS = 32
#: Longest value shown in a disclosure summary line, in characters.
SUMMARY_VALUE_CHARS = 80
#: Client Identifier Prefixes this wallet understands.
CLIENT_ID_PREFIXES = ("redirect_uri", "decentralized_identifier")
REQUEST_OBJECT_TYPE = "oauth-authz-req+jwt"
#: Cryptosuites of what this wallet presents: derived disclosures, whole credentials, and the
#: holder's signature.
SD_SUITE = "ecdsa-sd-2023"
VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

Path = list[str | int | None]


# -- requests -------------------------------------------------------------------------------------


@dataclass
class PresentationRequest:
    """A verifier's request, resolved: what to sign and where the answer goes."""

    kind: Literal["plain", "openid4vp", "vcapi"]
    challenge: str
    domain: str | None
    #: The DCQL query (VC API QueryByExample requests are converted); None: the holder chooses.
    dcql: dict[str, Any] | None = None
    client_id: str | None = None
    response_uri: str | None = None
    state: str | None = None
    exchange_url: str | None = None
    origin: Origin | None = None
    verifier: str | None = None
    purpose: str | None = None
    #: Cryptosuites the verifier accepts (``client_metadata``), None when it does not say.
    accepted_suites: list[str] | None = None

    @property
    def target(self) -> str | None:
        """Where the answer is sent (None: it is saved)."""
        return self.response_uri or self.exchange_url


def _check_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_CHALLENGE_CHARS:
        raise ExchangeError(f"the request's {what} must be a string of 1..{MAX_CHALLENGE_CHARS}")
    return value


def _json_value(value: Any, what: str) -> Any:
    if isinstance(value, str):
        try:
            return parse_json(value, max_bytes=MAX_OFFER_CHARS)
        except ProtocolError as exc:
            raise ExchangeError(f"{what} is not JSON: {exc.message}") from None
    return value


def _check_dcql(query: Any) -> dict[str, Any]:
    query = _json_value(query, "dcql_query")
    if not isinstance(query, dict):
        raise ExchangeError("dcql_query must be a JSON object")
    credentials = query.get("credentials")
    if not isinstance(credentials, list) or not credentials or len(credentials) > MAX_QUERIES:
        raise ExchangeError(f"dcql_query.credentials must list 1..{MAX_QUERIES} queries")
    ids = set()
    for item in credentials:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or item["id"] in ids:
            raise ExchangeError("each credential query needs a unique id")
        ids.add(item["id"])
        claims = item.get("claims", [])
        if not isinstance(claims, list) or len(claims) > MAX_CLAIMS:
            raise ExchangeError(f"a credential query lists at most {MAX_CLAIMS} claims")
        for claim in claims:
            path = claim.get("path") if isinstance(claim, dict) else None
            if (
                not isinstance(path, list)
                or not path
                or not all(
                    p is None
                    or (isinstance(p, str) and p)
                    or (isinstance(p, int) and not isinstance(p, bool) and p >= 0)
                    for p in path
                )
            ):
                raise ExchangeError("a claims path is an array of keys, indexes and nulls")
        meta = item.get("meta", {})
        if not isinstance(meta, dict):
            raise ExchangeError("a credential query's meta must be an object")
    sets = query.get("credential_sets")
    if sets is not None and (
        not isinstance(sets, list)
        or not all(
            isinstance(s, dict)
            and isinstance(s.get("options"), list)
            and all(isinstance(o, list) and set(o) <= ids for o in s["options"])
            for s in sets
        )
    ):
        raise ExchangeError("credential_sets must list options of credential query ids")
    return query


def _plain(values: Mapping[str, Any]) -> PresentationRequest:
    dcql = values.get("dcql_query")
    return PresentationRequest(
        "plain",
        challenge=_check_text(values.get("challenge"), "challenge"),
        domain=_check_text(values.get("domain"), "domain"),
        dcql=_check_dcql(dcql) if dcql is not None else None,
        verifier=str(values.get("domain")),
        purpose=values.get("purpose") if isinstance(values.get("purpose"), str) else None,
    )


@dataclass(frozen=True)
class ParsedRequest:
    """A request as given, before anything is fetched."""

    kind: Literal["plain", "openid4vp", "vcapi"]
    params: dict[str, Any] = field(default_factory=dict)
    url: str | None = None


def parse_request(text: str) -> ParsedRequest:
    """Recognise a request link or a pasted QR payload (no network)."""
    if not isinstance(text, str) or not text.strip():
        raise ExchangeError("the request is empty")
    text = text.strip()
    if len(text) > MAX_OFFER_CHARS:
        raise ExchangeError(f"the request is longer than {MAX_OFFER_CHARS} characters")
    if text.startswith("{"):
        value = _json_value(text, "the request")
        if not isinstance(value, dict):
            raise ExchangeError("the request must be a JSON object")
        if "verifiablePresentationRequest" in value:
            return ParsedRequest("vcapi", params=value)
        if "client_id" in value or "response_type" in value:
            return ParsedRequest("openid4vp", params=value)
        if "challenge" in value:
            return ParsedRequest("plain", params=value)
        protocols = value.get("protocols")
        if isinstance(protocols, Mapping):
            return _from_protocols(protocols)
        raise ExchangeError("this JSON is not a presentation request this wallet understands")
    for prefix in ("web+interaction:", "interaction:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    try:
        parts = urlsplit(text)
        raw = parse_qs(parts.query, keep_blank_values=True, max_num_fields=32)
    except ValueError:
        raise ExchangeError("the request is not a link this wallet understands") from None
    query: dict[str, str] = {}
    for name, values in raw.items():
        if len(values) != 1:
            raise ExchangeError(f"the request carries {name!r} more than once")
        query[name] = values[0]
    if "client_id" in query or parts.scheme == "openid4vp":
        return ParsedRequest("openid4vp", params=query)
    if "request" in query:
        value = _json_value(query["request"], "the request parameter")
        if isinstance(value, Mapping):
            if isinstance(value.get("protocols"), Mapping):
                return _from_protocols(value["protocols"])
            if "verifiablePresentationRequest" in value:
                return ParsedRequest("vcapi", params=dict(value))
        raise ExchangeError("the request parameter holds no presentation request")
    if "challenge" in query:
        return ParsedRequest("plain", params=query)
    if parts.scheme in ("https", "http"):
        Origin.of(text)
        return ParsedRequest("vcapi", url=text)
    raise ExchangeError("the request is not a link this wallet understands")


def _from_protocols(protocols: Mapping[str, Any]) -> ParsedRequest:
    if isinstance(protocols.get("vcapi"), str):
        Origin.of(protocols["vcapi"])
        return ParsedRequest("vcapi", url=protocols["vcapi"], params={"exchange": True})
    for name in ("OID4VP", "oid4vp-1.0", "openid4vp"):
        if isinstance(protocols.get(name), str):
            return parse_request(protocols[name])
    raise ExchangeError("the invitation offers no protocol this wallet can present with")


async def _resolve_did_key(did: str, kid: str, http: HttpClient) -> Any:
    """The public key ``kid`` names (did:key locally; did:web from the request's origin)."""
    documents: dict[str, Any] = {}
    if did.startswith("did:web:"):
        where = urlsplit(did_web_to_url(did))
        url = f"{http.origin.scheme}://{where.netloc}{where.path}"
        if not http.origin.owns(url):
            raise ExchangeError(f"the verifier's DID {did} is not on {http.origin}; refused")
        documents[did] = await http.get_json(url, what=f"the DID document of {did}")
    elif not did.startswith("did:key:"):
        raise ExchangeError(f"the verifier's DID method is not supported: {did[:40]}")
    resolver = Resolver(documents)
    for relationship in ("authentication", "assertionMethod"):
        try:
            return resolver.verification_method(kid, relationship=relationship).public_key
        except ProtocolError:
            continue
    raise ExchangeError(f"{kid} is not a key of {did}")


async def _request_object(
    http: HttpClient, request_uri: str, client_id: str, *, now: datetime
) -> dict[str, Any]:
    resp = await http.request(
        "GET",
        request_uri,
        what="the request object",
        headers={"Accept": f"application/{REQUEST_OBJECT_TYPE}, application/json;q=0.5"},
    )
    if resp.status != 200:
        raise ExchangeError(
            f"the verifier's request is unavailable ({resp.status}): {_detail(resp)}"
        )
    prefix = client_id.split(":", 1)[0]
    if resp.content_type == "application/json":
        if prefix != "redirect_uri":
            raise ExchangeError("a request by this Client Identifier Prefix must be signed")
        body = resp.json()
        if not isinstance(body, dict):
            raise ExchangeError("the request object must be a JSON object")
        return body
    jws = parse_jws(resp.text, allow_unsigned=prefix == "redirect_uri")
    if jws.header.get("typ") != REQUEST_OBJECT_TYPE:
        raise ExchangeError(f"the request object's typ must be {REQUEST_OBJECT_TYPE!r}")
    if prefix == "decentralized_identifier":
        did = client_id.split(":", 1)[1]
        kid = jws.header.get("kid")
        if not isinstance(kid, str) or kid.split("#", 1)[0] != did:
            raise ExchangeError("the request object is not signed by the verifier's DID")
        jws.verify(await _resolve_did_key(did, kid, http))
    elif jws.header.get("alg") != "none":
        raise ExchangeError("a redirect_uri request cannot be signed (nothing to check it with)")
    exp = jws.payload.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool) and exp < now.timestamp():
        raise ExchangeError("the verifier's request has expired")
    return jws.payload


def _openid4vp(params: Mapping[str, Any], origin: Origin | None) -> PresentationRequest:
    """Check the Authorization Request parameters (OID4VP 1.0 sections 5, 6, 8)."""
    if params.get("response_type") != "vp_token":
        raise ExchangeError("only response_type vp_token is supported")
    if params.get("response_mode") != "direct_post":
        raise ExchangeError(
            f"response_mode {params.get('response_mode')!r} is not supported (direct_post only)"
        )
    if "presentation_definition" in params or ("scope" in params and "dcql_query" not in params):
        raise ExchangeError("only DCQL queries are supported (OpenID4VP 1.0)")
    if "redirect_uri" in params:
        raise ExchangeError("redirect_uri must not be present with direct_post")
    client_id = _check_text(params.get("client_id"), "client_id")
    prefix, _, rest = client_id.partition(":")
    if prefix not in CLIENT_ID_PREFIXES or not rest:
        raise ExchangeError(f"the Client Identifier Prefix of {client_id[:60]!r} is not supported")
    response_uri = params.get("response_uri")
    if not isinstance(response_uri, str):
        raise ExchangeError("response_uri is required with direct_post")
    target = Origin.of(response_uri)
    if origin is not None and target != origin:
        raise ExchangeError(f"the response_uri is not on {origin}, where the request came from")
    if prefix == "redirect_uri" and rest != response_uri:
        raise ExchangeError("with redirect_uri: the client_id must be the response_uri")
    state = params.get("state")
    if state is not None and not isinstance(state, str):
        raise ExchangeError("state must be a string")
    metadata = _json_value(params.get("client_metadata", {}), "client_metadata")
    accepted: list[str] | None = None
    verifier = str(target)
    if isinstance(metadata, Mapping):
        formats = metadata.get("vp_formats_supported")
        if isinstance(formats, Mapping):
            if "ldp_vc" not in formats:
                raise ExchangeError("the verifier does not accept ldp_vc presentations")
            suites = (
                formats["ldp_vc"].get("cryptosuite_values")
                if isinstance(formats["ldp_vc"], Mapping)
                else None
            )
            if isinstance(suites, list):
                accepted = [s for s in suites if isinstance(s, str)]
        if isinstance(metadata.get("client_name"), str):
            verifier = f"{metadata['client_name']} ({target})"
    return PresentationRequest(
        "openid4vp",
        challenge=_check_text(params.get("nonce"), "nonce"),
        domain=client_id,
        dcql=_check_dcql(params.get("dcql_query")),
        client_id=client_id,
        response_uri=response_uri,
        state=state,
        origin=target,
        verifier=verifier,
        accepted_suites=accepted,
    )


def _expand_types(context: Any, types: Any) -> set[str]:
    quads = to_dataset({"@context": context, "type": types}, loader=default_loader())
    return {o for _, p, o, _ in quads if p == RDF_TYPE}


def _example_claims(value: Any, path: list[str]) -> list[dict[str, Any]]:
    claims: list[dict[str, Any]] = []
    if isinstance(value, Mapping) and value:
        for key, child in value.items():
            if key in ("@context",) or (not path and key == "type"):
                continue
            claims.extend(_example_claims(child, [*path, key]))
        return claims
    claim: dict[str, Any] = {"path": list(path)}
    if isinstance(value, list) and value and all(isinstance(v, str | int | bool) for v in value):
        claim["values"] = list(value)
    elif isinstance(value, str | int | bool) and value != "":
        claim["values"] = [value]
    return [claim]


def query_by_example(queries: Sequence[Any]) -> dict[str, Any]:
    """A DCQL query equivalent to VC API ``QueryByExample`` credential queries.

    In an ``example``: ``type`` (top level) lists types that must all be present; a leaf ``""``
    (or ``{}``) asks for the claim whatever its value; a scalar asks for that value; an array of
    scalars accepts any one of them (``specs/presentation.md``).
    """
    credentials = []
    for position, entry in enumerate(queries[:MAX_QUERIES]):
        example = entry.get("example") if isinstance(entry, Mapping) else None
        if not isinstance(example, Mapping):
            raise ExchangeError("a QueryByExample credential query needs an example object")
        item: dict[str, Any] = {"id": f"q{position}", "format": "ldp_vc", "meta": {}}
        types = example.get("type")
        if types is not None:
            context = example.get("@context", [VC_V2, OB_V3])
            try:
                expanded = _expand_types(context, types)
            except ProtocolError as exc:
                raise ExchangeError(
                    f"the example's types cannot be expanded: {exc.message}"
                ) from None
            item["meta"]["type_values"] = [sorted(expanded)]
        claims = _example_claims(example, [])[:MAX_CLAIMS]
        if claims:
            item["claims"] = claims
        if isinstance(entry.get("reason"), str):
            item["reason"] = entry["reason"]
        credentials.append(item)
    if not credentials:
        raise ExchangeError("the QueryByExample request holds no credential query")
    return {"credentials": credentials}


def _vpr(
    request: Mapping[str, Any], origin: Origin, exchange_url: str | None
) -> PresentationRequest:
    challenge = _check_text(request.get("challenge"), "challenge")
    domain = request.get("domain")
    if not isinstance(domain, str) or not domain_matches(domain, origin):
        raise ExchangeError(
            f"the request names domain {domain!r}, not {origin}; refused (the presentation "
            "could be replayed to another party)"
        )
    interact = request.get("interact")
    services = interact.get("service") if isinstance(interact, Mapping) else None
    for service in services if isinstance(services, list) else []:
        if (
            isinstance(service, Mapping)
            and service.get("type") == "VerifiableCredentialApiExchangeService"
        ):
            exchange_url = origin.require(service.get("serviceEndpoint"), "the exchange URL")
            break
    queries = request.get("query")
    queries = queries if isinstance(queries, list) else [queries]
    dcql: dict[str, Any] | None = None
    purpose = None
    for query in queries:
        kind = query.get("type") if isinstance(query, Mapping) else None
        if kind == "DIDAuthentication":
            continue
        if kind != "QueryByExample":
            raise ExchangeError(f"VC API query type {kind!r} is not supported")
        entries = query.get("credentialQuery")
        entries = entries if isinstance(entries, list) else [entries]
        dcql = query_by_example(entries)
        purpose = next((e.get("reason") for e in entries if isinstance(e, Mapping)), None)
    return PresentationRequest(
        "vcapi",
        challenge=challenge,
        domain=domain,
        dcql=dcql,
        exchange_url=exchange_url,
        origin=origin,
        verifier=str(origin),
        purpose=purpose if isinstance(purpose, str) else None,
    )


async def resolve_request(text: str, *, now: datetime) -> PresentationRequest:
    """Parse a request and fetch what it refers to (request object, VC API request)."""
    parsed = parse_request(text)
    if parsed.kind == "plain":
        return _plain(parsed.params)
    if parsed.kind == "openid4vp":
        params = dict(parsed.params)
        request_uri = params.get("request_uri")
        if request_uri is None:
            if params.get("client_id", "").startswith("decentralized_identifier:"):
                raise ExchangeError(
                    "a decentralized_identifier request must be signed (by reference)"
                )
            return _openid4vp(params, None)
        if not isinstance(request_uri, str):
            raise ExchangeError("request_uri must be a URL")
        client_id = _check_text(params.get("client_id"), "client_id")
        origin = Origin.of(request_uri)
        async with HttpClient(origin) as http:
            payload = await _request_object(http, request_uri, client_id, now=now)
        if payload.get("client_id") != client_id:
            raise ExchangeError("the request object names another client_id than the link")
        return _openid4vp(payload, origin)
    # VC API
    if parsed.url is None:
        request = parsed.params.get("verifiablePresentationRequest")
        if not isinstance(request, Mapping):
            raise ExchangeError("verifiablePresentationRequest must be an object")
        interact = request.get("interact")
        services = interact.get("service") if isinstance(interact, Mapping) else None
        endpoint = next(
            (s.get("serviceEndpoint") for s in services or [] if isinstance(s, Mapping)), None
        )
        if not isinstance(endpoint, str):
            raise ExchangeError("the request names no exchange to answer")
        return _vpr(request, Origin.of(endpoint), None)
    origin = Origin.of(parsed.url)
    async with HttpClient(origin) as http:
        exchange = parsed.url
        if not parsed.params.get("exchange") and "iuv=1" in (urlsplit(parsed.url).query or ""):
            body = await http.get_json(parsed.url, what="the interaction URL")
            protocols = body.get("protocols") if isinstance(body, Mapping) else None
            if not isinstance(protocols, Mapping):
                raise ExchangeError("the interaction URL lists no protocols")
            if not isinstance(protocols.get("vcapi"), str):
                for name in ("OID4VP", "oid4vp-1.0", "openid4vp"):
                    if isinstance(protocols.get(name), str):
                        return await resolve_request(protocols[name], now=now)
                raise ExchangeError("the interaction offers no protocol this wallet can use")
            exchange = origin.require(protocols["vcapi"], "the exchange URL")
        resp = await http.request("POST", exchange, what="the exchange", json_body={})
        if resp.status not in (200, 201):
            raise ExchangeError(f"the exchange failed ({resp.status}): {_detail(resp)}")
        body = resp.json()
        request = body.get("verifiablePresentationRequest") if isinstance(body, Mapping) else None
        if not isinstance(request, Mapping):
            raise ExchangeError("the exchange did not ask for a presentation")
        return _vpr(request, origin, exchange)


# -- matching -------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(path: Sequence[str | int]) -> str:
    """The JSON Pointer of a concrete path."""
    return "".join("/" + _escape(p) for p in path)


def concrete_paths(document: Any, path: Sequence[str | int | None]) -> list[list[str | int]] | None:
    """The concrete paths a claims path pointer selects (OID4VP 1.0 section 7.1), or ``None``
    when processing aborts (a type error or an empty selection)."""
    selected: list[tuple[list[str | int], Any]] = [([], document)]
    for component in path:
        following: list[tuple[list[str | int], Any]] = []
        for where, element in selected:
            if isinstance(component, str):
                if not isinstance(element, Mapping):
                    return None
                if component in element:
                    following.append(([*where, component], element[component]))
            elif component is None:
                if not isinstance(element, list):
                    return None
                following.extend(([*where, i], v) for i, v in enumerate(element))
            else:
                if not isinstance(element, list):
                    return None
                if component < len(element):
                    following.append(([*where, component], element[component]))
        selected = following
    return [where for where, _ in selected] or None


def _value_at(document: Any, path: Sequence[str | int]) -> Any:
    for part in path:
        document = document[part]
    return document


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _claim_paths(document: Any, claim: Mapping[str, Any]) -> list[list[str | int]] | None:
    """The concrete paths of a claim, keeping only values that match ``values``."""
    found = concrete_paths(document, claim["path"])
    if found is None:
        return None
    values = claim.get("values")
    if values is not None:
        found = [p for p in found if any(_same(_value_at(document, p), v) for v in values)]
    return found or None


def _types(credential: Mapping[str, Any], cache: dict[str, set[str]]) -> set[str]:
    # Keyed by the context and types: thousands of badges share a handful of combinations.
    key = json.dumps([credential.get("@context"), credential.get("type")], sort_keys=True)
    if key not in cache:
        try:
            cache[key] = _expand_types(credential.get("@context"), credential.get("type"))
        except ProtocolError:
            cache[key] = set()
    return cache[key]


@dataclass
class Candidate:
    """A wallet credential that satisfies a credential query, and the claims it would give."""

    record: Any
    document: dict[str, Any]
    #: The holder's ecdsa-sd-2023 copy (None: the credential can only be presented whole).
    holder_copy: dict[str, Any] | None
    #: The concrete paths of the requested claims in this credential.
    paths: list[list[str | int]]

    @property
    def ref(self) -> str:
        """The wallet's id of the credential."""
        return str(getattr(self.record, "local_id", "") or self.document.get("id", ""))

    @property
    def subject(self) -> str | None:
        """The DID the credential is bound to (its subject id)."""
        for subject in _as_list(self.document.get("credentialSubject")):
            if isinstance(subject, Mapping) and isinstance(subject.get("id"), str):
                return str(subject["id"])
        return None


def holder_copy(record: Any) -> dict[str, Any] | None:
    """The holder's ecdsa-sd-2023 base-proof copy of a stored credential, if the wallet has it."""
    copy = getattr(record, "holder_copy", None)
    if isinstance(copy, Mapping) and has_base_proof(copy):
        return dict(copy)
    document = getattr(record, "document", None)
    if isinstance(document, Mapping) and has_base_proof(document):
        return dict(document)
    return None


def _match(record: Any, query: Mapping[str, Any], cache: dict[str, set[str]]) -> Candidate | None:
    if getattr(record, "format", "json") != "json":
        return None
    if getattr(record, "status", "") == "invalid":
        return None
    document = record.document
    if not isinstance(document, Mapping) or query.get("format", "ldp_vc") != "ldp_vc":
        return None
    type_values = (query.get("meta") or {}).get("type_values")
    if type_values:
        types = _types(document, cache)
        if not any(set(group) <= types for group in type_values):
            return None
    claims = query.get("claims") or []
    found: dict[str, list[list[str | int]]] = {}
    for position, claim in enumerate(claims):
        paths = _claim_paths(document, claim)
        if paths is not None:
            found[str(claim.get("id", position))] = paths
    sets = query.get("claim_sets")
    options = (
        [list(option) for option in sets]
        if sets
        else [[str(c.get("id", i)) for i, c in enumerate(claims)]]
    )
    chosen = next((o for o in options if all(i in found for i in o)), None)
    if chosen is None:
        return None
    paths = [p for i in chosen for p in found[i]]
    return Candidate(record, dict(document), holder_copy(record), paths)


def _required_sets(query: Mapping[str, Any]) -> list[tuple[list[list[str]], bool]]:
    sets = query.get("credential_sets")
    if not sets:
        return [([[item["id"] for item in query["credentials"]]], True)]
    return [(entry["options"], entry.get("required", True)) for entry in sets]


# -- disclosure -----------------------------------------------------------------------------------


def _covers(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer + "/")


def _leaves(value: Any, path: list[str | int]) -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        if not value:
            return [(pointer(path), {})]
        out = []
        for key, child in value.items():
            if not path and key in ("@context", "proof"):
                continue
            out.extend(_leaves(child, [*path, key]))
        return out
    if isinstance(value, list):
        if not value:
            return [(pointer(path), [])]
        out = []
        for index, child in enumerate(value):
            out.extend(_leaves(child, [*path, index]))
        return out
    return [(pointer(path), value)]


def _is_ob(document: Mapping[str, Any]) -> bool:
    types = _as_list(document.get("type"))
    return bool({"OpenBadgeCredential", "AchievementCredential"} & set(types)) and isinstance(
        document.get("credentialSubject"), Mapping
    )


def _mandatory_pointers(copy: Mapping[str, Any]) -> list[str]:
    for proof in _as_list(copy.get("proof")):
        if isinstance(proof, Mapping) and proof.get("cryptosuite") == SD_SUITE:
            try:
                return list(parse_base_proof_value(proof.get("proofValue")).mandatory_pointers)
            except ProtocolError:
                continue
    return []


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SUMMARY_VALUE_CHARS else text[: SUMMARY_VALUE_CHARS - 1] + "…"


@dataclass
class Disclosure:
    """What one presented credential discloses."""

    query_id: str
    candidate: Candidate
    #: True: an ecdsa-sd-2023 disclosure; False: the whole credential.
    selective: bool
    #: JSON Pointers the verifier asked for (concrete, before widening).
    requested: list[str]
    #: Pointers the issuer made mandatory (always disclosed).
    mandatory: list[str]
    #: Pointers passed to the derivation (requested, widened, minus the mandatory ones).
    selective_pointers: list[str]
    #: The document that leaves the wallet (derived, or whole).
    document: dict[str, Any]
    #: Every disclosed leaf: (pointer, value, why) with why in requested / mandatory / path /
    #: whole.
    disclosed: list[tuple[str, Any, str]]
    #: What is kept back (pointers of the credential's selectable parts not disclosed).
    withheld: list[str]
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The human-readable summary of this credential."""
        record = self.candidate.record
        name = getattr(record, "name", None) or self.document.get("name") or "a credential"
        issuer = self.document.get("issuer")
        issuer_name = issuer.get("name") if isinstance(issuer, Mapping) else None
        issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
        out = [
            f'Credential "{name}" ({self.candidate.ref}) from {issuer_name or issuer_id}'
            f"{f' ({issuer_id})' if issuer_name else ''}, for query {self.query_id!r}"
        ]
        if self.selective:
            out.append(
                f"  selective disclosure (ecdsa-sd-2023): {len(self.disclosed)} values "
                f"disclosed, {len(self.withheld)} part(s) withheld"
            )
        else:
            out.append(
                "  presented WHOLE: the wallet has no selective-disclosure copy of this "
                f"credential, so all {len(self.disclosed)} values below are disclosed"
            )
        groups = (
            ("requested", "requested by the verifier"),
            ("mandatory", "always disclosed (the issuer made them mandatory)"),
            ("path", "identifiers and types on the way (always disclosed)"),
            ("whole", "not requested, disclosed because the credential is presented whole"),
        )
        for why, title in groups:
            items = [(p, v) for p, v, w in self.disclosed if w == why]
            if items:
                out.append(f"  {title}:")
                out.extend(f"    {p} = {_short(v)}" for p, v in items)
        if self.withheld:
            out.append("  withheld (not disclosed):")
            out.extend(f"    {p}" for p in self.withheld)
        out.extend(f"  warning: {w}" for w in self.warnings)
        return out


def _disclose(candidate: Candidate, query_id: str, *, selective_ok: bool) -> Disclosure:
    requested = sorted({pointer(p) for p in candidate.paths})
    copy = candidate.holder_copy if selective_ok else None
    if copy is None:
        document = {k: v for k, v in candidate.document.items()}
        proofs = [
            p
            for p in _as_list(document.get("proof"))
            if not (isinstance(p, Mapping) and p.get("cryptosuite") == SD_SUITE)
        ]
        if not proofs:
            raise ExchangeError(
                f"credential {candidate.ref} has no proof a verifier can check; it cannot be "
                "presented whole"
            )
        document["proof"] = (
            proofs if isinstance(candidate.document.get("proof"), list) else proofs[0]
        )
        disclosed = [
            (p, v, "requested" if any(_covers(r, p) for r in requested) else "whole")
            for p, v in _leaves(document, [])
        ]
        return Disclosure(query_id, candidate, False, requested, [], [], document, disclosed, [])
    mandatory = _mandatory_pointers(copy)
    selectable = selectable_pointers(copy) if _is_ob(copy) else []
    chosen: list[str] = []
    for wanted in requested:
        if any(_covers(m, wanted) for m in mandatory):
            continue
        widened = next((s for s in selectable if _covers(s, wanted)), wanted)
        if widened not in chosen:
            chosen.append(widened)
    try:
        derived = derive(copy, selective_pointers=chosen)
    except (ProtocolError, ValueError) as exc:
        message = getattr(exc, "message", str(exc))
        raise ExchangeError(
            f"cannot derive a disclosure of credential {candidate.ref}: {message}"
        ) from None
    disclosed = []
    for p, v in _leaves(derived, []):
        if any(_covers(r, p) or _covers(p, r) for r in requested) or any(
            _covers(c, p) for c in chosen
        ):
            why = "requested"
        elif any(_covers(m, p) for m in mandatory):
            why = "mandatory"
        else:
            why = "path"
        disclosed.append((p, v, why))
    shown = [p for p, _, _ in disclosed]
    if selectable:
        withheld = [s for s in selectable if not any(_covers(s, p) for p in shown)]
    else:
        withheld = [p for p, _ in _leaves(copy, []) if p not in shown]
    warnings = []
    if _is_ob(derived):
        issues = validate(derived)
        if issues:
            warnings.append(
                "the disclosure does not satisfy the Open Badges schema, a verifier may refuse "
                f"it: {issues[0].path}: {issues[0].message}"
            )
    return Disclosure(
        query_id,
        candidate,
        True,
        requested,
        mandatory,
        chosen,
        derived,
        disclosed,
        withheld,
        warnings,
    )


# -- the plan -------------------------------------------------------------------------------------


@dataclass
class PresentationPlan:
    """Everything the wallet will do for a request, before it signs or sends anything."""

    request: PresentationRequest
    #: Credential query id -> matching credentials (best first).
    candidates: dict[str, list[Candidate]]
    #: Credential query id -> the credentials that will be presented.
    chosen: dict[str, list[Candidate]]
    disclosures: list[Disclosure]
    identity: str | None = None
    #: Queries that could not be satisfied (optional ones, or a failure to explain).
    unmet: list[str] = field(default_factory=list)
    #: False: present every credential whole, even when a selective disclosure is possible.
    allow_selective: bool = True

    def choose(self, query_id: str, refs: Sequence[str]) -> None:
        """Present these wallet credentials (by wallet id or credential id) for ``query_id``."""
        pool = self.candidates.get(query_id)
        if pool is None:
            raise ExchangeError(f"the request has no credential query {query_id!r}")
        picked = []
        for ref in refs:
            match = [c for c in pool if ref in (c.ref, c.document.get("id"))]
            if not match:
                raise ExchangeError(f"credential {ref!r} does not satisfy query {query_id!r}")
            picked.append(match[0])
        self.chosen[query_id] = picked
        self._refresh()

    def _refresh(self) -> None:
        selective_ok = self.allow_selective and (
            self.request.accepted_suites is None or SD_SUITE in self.request.accepted_suites
        )
        self.disclosures = [
            _disclose(candidate, query_id, selective_ok=selective_ok)
            for query_id, picked in self.chosen.items()
            for candidate in picked
        ]

    @property
    def summary(self) -> str:
        """What will be disclosed, to whom, signed by whom (shown before confirming)."""
        request = self.request
        lines = [
            f"Verifier: {request.verifier or request.domain or '(not named)'}",
            f"Request: {request.kind}"
            + (f", answer sent to {request.target}" if request.target else ", saved to a file"),
        ]
        if request.purpose:
            lines.append(f"Purpose: {request.purpose}")
        if request.domain:
            lines.append(f"Bound to: challenge {request.challenge!r}, domain {request.domain!r}")
        holders = sorted({d.candidate.subject or "(unbound)" for d in self.disclosures})
        lines.append(f"Signed by: {', '.join(holders) if holders else self.identity}")
        for disclosure in self.disclosures:
            lines.extend(disclosure.lines())
        for unmet in self.unmet:
            lines.append(f"Not answered: {unmet}")
        return "\n".join(lines)


def _records(store: Any) -> list[Any]:
    credentials = getattr(store, "credentials", None)
    return list(credentials()) if callable(credentials) else list(store)


def _holder_dids(store: Any) -> set[str]:
    identities = getattr(store, "identities", None)
    if not callable(identities):
        return set()
    return {getattr(i, "did", None) or str(i) for i in identities()}


def plan_presentation(
    store: Any,
    request: PresentationRequest,
    *,
    identity: str | None = None,
    credentials: Sequence[str] | None = None,
    claims: Sequence[Sequence[str | int | None]] | None = None,
    allow_selective: bool = True,
) -> PresentationPlan:
    """Match ``request`` against the wallet and compute the disclosures.

    ``identity`` keeps only credentials bound to that DID; ``credentials`` (wallet ids) are
    used for a request without a query (plain requests, non-interactive sharing), with
    ``claims`` (claims paths) as what to disclose of each.
    """
    mine = _holder_dids(store)
    did = identity
    lookup = getattr(store, "get_identity", None)
    if identity is not None and callable(lookup):
        did = lookup(identity).did  # a label or a DID
    records = [r for r in _records(store) if did is None or _subject_of(r.document) in (did, None)]
    dcql = request.dcql
    if dcql is None:
        if not credentials and request.kind == "vcapi":
            # DID authentication only: a presentation without credentials.
            return PresentationPlan(request, {}, {}, [], identity)
        if not credentials:
            raise ExchangeError("this request names no credential: choose which to present")
        query: dict[str, Any] = {"id": "credentials", "format": "ldp_vc", "meta": {}}
        if claims:
            query["claims"] = [{"path": list(path)} for path in claims]
        dcql = {"credentials": [query]}
        request.dcql = None
        wanted: dict[str, list[str]] | None = {"credentials": list(credentials)}
    else:
        wanted = None
    cache: dict[str, set[str]] = {}
    candidates: dict[str, list[Candidate]] = {}
    for query in dcql["credentials"]:
        found = []
        for record in records:
            match = _match(record, query, cache)
            if match is None:
                continue
            subject = match.subject
            if subject is not None and mine and subject not in mine:
                continue  # bound to a DID this wallet cannot prove
            found.append(match)
        found.sort(
            key=lambda c: (c.holder_copy is None, getattr(c.record, "status", "") != "valid")
        )
        if credentials and wanted is None:
            # The holder named the credentials to use: prefer them where they fit.
            named = [c for c in found if {c.ref, c.document.get("id")} & set(credentials)]
            found = named or found
        candidates[query["id"]] = found
    chosen: dict[str, list[Candidate]] = {}
    unmet: list[str] = []
    if wanted is not None:
        plan = PresentationPlan(
            request, candidates, {}, [], identity, allow_selective=allow_selective
        )
        plan.choose("credentials", wanted["credentials"])
        return plan
    for options, required in _required_sets(dcql):
        option = next(
            (o for o in options if all(candidates.get(i) for i in o)),
            None,
        )
        if option is None:
            text = " or ".join("+".join(o) for o in options)
            if required:
                raise ExchangeError(
                    f"no credential in the wallet matches the request ({text}): "
                    + "; ".join(_describe(q) for q in dcql["credentials"] if q["id"] in text)
                )
            unmet.append(text)
            continue
        for query_id in option:
            query = next(q for q in dcql["credentials"] if q["id"] == query_id)
            pool = candidates[query_id]
            chosen[query_id] = pool if query.get("multiple") else pool[:1]
    plan = PresentationPlan(
        request, candidates, chosen, [], identity, unmet, allow_selective=allow_selective
    )
    plan._refresh()
    return plan


def _subject_of(document: Any) -> str | None:
    if not isinstance(document, Mapping):
        return None
    for subject in _as_list(document.get("credentialSubject")):
        if isinstance(subject, Mapping) and isinstance(subject.get("id"), str):
            return str(subject["id"])
    return None


def _describe(query: Mapping[str, Any]) -> str:
    parts = []
    types = (query.get("meta") or {}).get("type_values")
    if types:
        parts.append(
            "types " + " or ".join("+".join(t.rsplit("#", 1)[-1] for t in g) for g in types)
        )
    for claim in query.get("claims") or []:
        path = ".".join("*" if p is None else str(p) for p in claim["path"])
        values = claim.get("values")
        parts.append(path + (f" in {values}" if values else ""))
    return f"{query['id']}: " + (", ".join(parts) or "any credential")


# -- signing and sending --------------------------------------------------------------------------


@dataclass
class PresentationResult:
    """What :func:`present` did."""

    plan: PresentationPlan
    #: Credential query id -> signed presentations (OpenID4VP ``vp_token``).
    vp_token: dict[str, list[dict[str, Any]]]
    #: The presentation (for VC API and plain requests: the only one).
    presentation: dict[str, Any] | None
    sent: bool = False
    declined: bool = False
    #: The verifier's answer (JSON) when sent.
    response: Any = None

    @property
    def summary(self) -> str:
        """The disclosure summary."""
        return self.plan.summary

    def to_json(self) -> dict[str, Any]:
        """A JSON description (``passeport wallet present --json``)."""
        return {
            "kind": self.plan.request.kind,
            "verifier": self.plan.request.verifier,
            "sent": self.sent,
            "declined": self.declined,
            "response": self.response,
            "disclosures": [
                {
                    "query": d.query_id,
                    "credential": d.candidate.ref,
                    "selective": d.selective,
                    "requested": d.requested,
                    "mandatory": d.mandatory,
                    "disclosed": [p for p, _, _ in d.disclosed],
                    "withheld": d.withheld,
                    "warnings": d.warnings,
                }
                for d in self.plan.disclosures
            ],
            "presentation": self.presentation,
            "vp_token": self.vp_token,
        }


def _signed(
    store: Any,
    holder: str | None,
    credentials: Sequence[Mapping[str, Any]],
    request: PresentationRequest,
    *,
    now: datetime,
    identity: str | None,
) -> dict[str, Any]:
    key = store.identity(holder or identity)
    unsigned = build_presentation(holder=key.controller or "", credentials=credentials)
    if request.domain is None:
        return sign(
            unsigned,
            key=key,
            created=now,
            suite=suite_for(key),
            purpose="authentication",
            challenge=request.challenge,
        )
    return sign_presentation(
        unsigned,
        key=key,
        challenge=request.challenge,
        domain=request.domain,
        created=now,
        suite=suite_for(key),
    )


def sign_plan(
    store: Any, plan: PresentationPlan, *, now: datetime
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any] | None]:
    """Sign the plan's presentations: one per credential for OpenID4VP, one in all otherwise."""
    request = plan.request
    if request.accepted_suites is not None:
        for key_did in {d.candidate.subject for d in plan.disclosures}:
            suite = suite_for(store.identity(key_did or plan.identity))
            if suite not in request.accepted_suites:
                raise ExchangeError(f"the verifier does not accept {suite} signatures")
    vp_token: dict[str, list[dict[str, Any]]] = {}
    if request.kind == "openid4vp":
        for disclosure in plan.disclosures:
            vp_token.setdefault(disclosure.query_id, []).append(
                _signed(
                    store,
                    disclosure.candidate.subject,
                    [disclosure.document],
                    request,
                    now=now,
                    identity=plan.identity,
                )
            )
        return vp_token, None
    holders = {d.candidate.subject for d in plan.disclosures} - {None}
    if len(holders) > 1:
        raise ExchangeError(
            "these credentials are bound to different DIDs; one presentation has one holder"
        )
    if len(plan.disclosures) > MAX_CREDENTIALS_PER_PRESENTATION:
        raise ExchangeError(f"at most {MAX_CREDENTIALS_PER_PRESENTATION} credentials at once")
    presentation = _signed(
        store,
        next(iter(holders), None),
        [d.document for d in plan.disclosures],
        request,
        now=now,
        identity=plan.identity,
    )
    for disclosure in plan.disclosures:
        vp_token.setdefault(disclosure.query_id, []).append(presentation)
    return vp_token, presentation


async def _send(
    request: PresentationRequest,
    vp_token: Mapping[str, Any],
    presentation: Mapping[str, Any] | None,
    *,
    decline: bool = False,
) -> Any:
    assert request.origin is not None
    async with HttpClient(request.origin) as http:
        if request.kind == "openid4vp":
            assert request.response_uri is not None
            form = (
                {"error": "access_denied", "error_description": "the holder declined"}
                if decline
                else {"vp_token": json.dumps(vp_token, separators=(",", ":"), ensure_ascii=False)}
            )
            if request.state is not None:
                form["state"] = request.state
            resp: Response = await http.request(
                "POST", request.response_uri, what="the verifier's response endpoint", form=form
            )
        else:
            assert request.exchange_url is not None
            if decline:
                return None
            resp = await http.request(
                "POST",
                request.exchange_url,
                what="the exchange",
                json_body={"verifiablePresentation": presentation},
            )
    if resp.status not in (200, 201):
        raise ExchangeError(
            f"the verifier refused the presentation ({resp.status}): {_detail(resp)}"
        )
    return resp.json() if resp.body else {}


Select = Callable[[PresentationPlan], bool]


async def present_async(
    store: Any,
    request: str,
    *,
    identity: str | None = None,
    select: Select | None = None,
    send: bool = True,
    now: datetime,
    credentials: Sequence[str] | None = None,
    claims: Sequence[Sequence[str | int | None]] | None = None,
) -> PresentationResult:
    """Answer a verifier's ``request`` (a link or a pasted payload) from the wallet ``store``.

    ``select(plan)`` is called once the disclosures are computed (``plan.summary`` says what
    would be disclosed); it may change the choice with ``plan.choose(query_id, refs)`` and
    returns False to decline (an OpenID4VP verifier is told ``access_denied`` when ``send``).
    Without ``select`` the best match of each query is presented. With ``send`` false nothing
    is sent: the result holds the signed presentations (to save to a file).
    """
    resolved = await resolve_request(request, now=now)
    plan = await asyncio.to_thread(
        plan_presentation,
        store,
        resolved,
        identity=identity,
        credentials=credentials,
        claims=claims,
    )
    if select is not None and not select(plan):
        result = PresentationResult(plan, {}, None, declined=True)
        if send and resolved.kind == "openid4vp":
            result.response = await _send(resolved, {}, None, decline=True)
            result.sent = True
        return result
    vp_token, presentation = await asyncio.to_thread(sign_plan, store, plan, now=now)
    result = PresentationResult(plan, vp_token, presentation)
    if send and resolved.target is not None:
        result.response = await _send(resolved, vp_token, presentation)
        result.sent = True
    return result


def present(
    store: Any,
    request: str,
    *,
    identity: str | None = None,
    select: Select | None = None,
    send: bool = True,
    now: datetime,
    credentials: Sequence[str] | None = None,
) -> PresentationResult:
    """:func:`present_async` for callers without a running event loop (the CLI)."""
    return asyncio.run(
        present_async(
            store,
            request,
            identity=identity,
            select=select,
            send=send,
            now=now,
            credentials=credentials,
        )
    )


# -- non-interactive sharing ----------------------------------------------------------------------


def make_presentation(
    store: Any,
    credentials: Sequence[str],
    *,
    now: datetime,
    claims: Sequence[Sequence[str | int | None]] | None = None,
    identity: str | None = None,
    challenge: str | None = None,
    domain: str | None = None,
) -> PresentationResult:
    """A presentation of wallet credentials to save or send as a file.

    With ``claims`` (claims paths), credentials with a selective-disclosure copy disclose only
    those claims (and their mandatory ones); without, every credential is presented whole. The
    proof carries ``challenge`` (random when not given) and ``domain`` when given.
    """
    request = PresentationRequest(
        "plain",
        challenge=challenge or secrets.token_urlsafe(16),
        domain=domain,
        verifier=domain or "(anyone who gets the file)",
    )
    plan = plan_presentation(
        store,
        request,
        identity=identity,
        credentials=credentials,
        claims=claims or None,
        allow_selective=bool(claims),
    )
    vp_token, presentation = sign_plan(store, plan, now=now)
    return PresentationResult(plan, vp_token, presentation)


@dataclass(frozen=True)
class ShareLink:
    """A presentation published on a node: its public link, expiry and delete token."""

    url: str
    expires_at: str
    delete_token: str
    presentation: dict[str, Any]
    summary: str


async def share_link_async(
    store: Any,
    node_url: str,
    credentials: Sequence[str],
    *,
    now: datetime,
    claims: Sequence[Sequence[str | int | None]] | None = None,
    identity: str | None = None,
    ttl_seconds: int | None = None,
) -> ShareLink:
    """Publish a presentation of wallet credentials on a node (``POST /shares``) and return
    the public link, which works until it expires (or is deleted with the delete token)."""
    origin = Origin.of(node_url)
    base = str(origin)
    async with HttpClient(origin) as http:
        resp = await http.request("POST", base + "/shares/challenges", what="the share challenge")
        body = resp.json() if resp.status in (200, 201) else None
        if not isinstance(body, Mapping) or not isinstance(body.get("challenge"), str):
            raise ExchangeError(f"the node gave no share challenge: {_detail(resp)}")
        domain = body.get("domain")
        if not isinstance(domain, str) or not domain_matches(domain, origin):
            raise ExchangeError("the node's share domain is not the node itself; refused")
        result = await asyncio.to_thread(
            make_presentation,
            store,
            credentials,
            now=now,
            claims=claims,
            identity=identity,
            challenge=body["challenge"],
            domain=domain,
        )
        upload = origin.require(body.get("uploadUrl", base + "/shares"), "the upload URL")
        message: dict[str, Any] = {"presentation": result.presentation}
        if ttl_seconds is not None:
            message["ttlSeconds"] = ttl_seconds
        resp = await http.request("POST", upload, what="the share upload", json_body=message)
        created = resp.json() if resp.status in (200, 201) else None
        if not isinstance(created, Mapping) or not isinstance(created.get("url"), str):
            raise ExchangeError(f"the node refused the share: {_detail(resp)}")
    assert result.presentation is not None
    return ShareLink(
        url=origin.require(created["url"], "the share link"),
        expires_at=str(created.get("expiresAt")),
        delete_token=str(created.get("deleteToken")),
        presentation=result.presentation,
        summary=result.summary,
    )


def share_link(
    store: Any,
    node_url: str,
    credentials: Sequence[str],
    *,
    now: datetime,
    claims: Sequence[Sequence[str | int | None]] | None = None,
    identity: str | None = None,
    ttl_seconds: int | None = None,
) -> ShareLink:
    """:func:`share_link_async` for callers without a running event loop (the CLI)."""
    return asyncio.run(
        share_link_async(
            store,
            node_url,
            credentials,
            now=now,
            claims=claims,
            identity=identity,
            ttl_seconds=ttl_seconds,
        )
    )
