"""Import credentials into the wallet, verifying each one on receipt.

Accepted inputs (one file may hold several credentials):

* JSON: a credential, a presentation (its credentials are imported), an array of credentials
  (the wallet's own plain export), an Open Badges 2.0 assertion;
* a compact JWS: a VC-JWT (Open Badges 3.0 JWT form, or a VC 1.1 ``vc`` claim), a VP-JWT, or a
  signed Open Badges 2.0 assertion;
* baked images: OB 3.0 PNG (``iTXt openbadgecredential``) and SVG (``openbadges:credential``),
  OB 2.0 PNG (``openbadges``) and SVG (``openbadges:assertion``); see :mod:`wallet.baking`.

Every credential is verified when it arrives and the report is stored with it:

* JSON credentials with :func:`protocol.verify.verify` (the report verbatim). When the only
  failures are proofs whose issuer key cannot be resolved offline (a did:web or https issuer
  whose document was not handed in), the wallet status is ``unknown`` rather than ``invalid``
  and the report gets a ``walletNote`` saying so;
* VC-JWTs: the JWS signature with a key resolvable offline (a did:key ``kid``, a key handed in,
  or the ``jwk`` header -- which proves the signature but not who made it), the JWT claims, the
  data model, the validity period; undecidable steps are ``unknown``;
* Open Badges 2.0 assertions are kept as **legacy**: their report says what was checked offline
  (a signed assertion's signature against a key file handed in, the expiry date) and what could
  not be (hosted verification, revocation lists, badge classes and issuers not handed in).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from protocol.di import all_proofs
from protocol.did import Resolver, public_key_for_did_key
from protocol.encoding import b64url_decode, parse_json
from protocol.errors import MalformedError, ProtocolError
from protocol.keys import PublicKey, public_key_from_jwk, public_key_from_multibase
from protocol.ob import validate
from protocol.timeutil import format_datetime, parse_datetime
from protocol.verify import Report, verify

from .baking import MAX_IMAGE_BYTES, PNG_SIGNATURE, BakedPayload, read_png, read_svg
from .errors import ImportRefused, WalletError
from .organise import summarize
from .store import Kind, Progress, StoredCredential, Wallet, guess_kind

__all__ = [
    "MAX_IMPORT_JSON_BYTES",
    "MAX_JWS_CHARS",
    "Found",
    "ImportOutcome",
    "Materials",
    "TrustedKey",
    "check_jwt_credential",
    "check_ob2",
    "extract",
    "import_bytes",
    "import_files",
    "link_endorsements",
    "reverify",
    "verify_found",
]

#: Largest JSON file accepted for import, in bytes: a plain export of 10,000 credentials is
#: about 40 MB; single credentials are further capped by protocol.limits.MAX_DOCUMENT_BYTES.
MAX_IMPORT_JSON_BYTES = 256 * 1024 * 1024
#: Longest compact JWS accepted, in characters (a credential JWT is a few kilobytes).
MAX_JWS_CHARS = 1024 * 1024

_JWS = re.compile(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
_OB2_CONTEXT = "https://w3id.org/openbadges/v2"
_OB2_DOCUMENT_TYPES = frozenset(
    {"BadgeClass", "Issuer", "Profile", "CryptographicKey", "RevocationList", "Endorsement"}
)
_JWT_CLAIMS = ("iss", "jti", "nbf", "exp", "iat", "sub", "aud")
_JWS_ALGS: dict[str, str] = {
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "ES256": "P-256",
    "ES384": "P-384",
    "EdDSA": "Ed25519",
}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}

_AnyPublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


# -- trust materials ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustedKey:
    """A public key handed in by the earner (an OB 2.0 CryptographicKey, a JWK, a Multikey)."""

    id: str | None
    owner: str | None
    key: _AnyPublicKey

    @property
    def algorithm(self) -> str:
        """``RSA``, ``P-256``, ``P-384`` or ``Ed25519``."""
        return _key_algorithm(self.key)


def _key_algorithm(key: _AnyPublicKey) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    return {"secp256r1": "P-256", "secp384r1": "P-384"}.get(key.curve.name, key.curve.name)


def _from_protocol_key(public: PublicKey) -> _AnyPublicKey:
    if public.algorithm == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(public.raw)
    curve: ec.EllipticCurve = ec.SECP256R1() if public.algorithm == "P-256" else ec.SECP384R1()
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, public.raw)


def _rsa_from_jwk(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey:
    try:
        n = int.from_bytes(b64url_decode(jwk["n"]), "big")
        e = int.from_bytes(b64url_decode(jwk["e"]), "big")
        if n.bit_length() < 2048 or n.bit_length() > 8192:
            raise MalformedError(f"RSA key of {n.bit_length()} bits refused (2048..8192)")
        return rsa.RSAPublicNumbers(e, n).public_key()
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedError(f"invalid RSA JWK ({exc})") from None


def key_from_jwk(jwk: Mapping[str, Any]) -> _AnyPublicKey:
    """A public key from a JWK (RSA, EC P-256/P-384, OKP Ed25519); private members refused."""
    if not isinstance(jwk, Mapping):
        raise MalformedError("a JWK must be a JSON object")
    if "d" in jwk:
        raise MalformedError("the JWK holds a private key; only public keys are accepted")
    if jwk.get("kty") == "RSA":
        return _rsa_from_jwk(jwk)
    return _from_protocol_key(public_key_from_jwk(dict(jwk)))


def load_trusted_key(document: Mapping[str, Any]) -> TrustedKey:
    """Read a key file: OB 2.0 CryptographicKey (``publicKeyPem``), a JWK, or a Multikey."""
    if not isinstance(document, Mapping):
        raise MalformedError("a key file must be a JSON object")
    if isinstance(document.get("publicKeyPem"), str):
        try:
            key = serialization.load_pem_public_key(document["publicKeyPem"].encode("ascii"))
        except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError) as exc:
            raise MalformedError(f"publicKeyPem is not a usable public key ({exc})") from None
        if not isinstance(
            key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
        ):
            raise MalformedError("publicKeyPem holds an unsupported key type")
        return TrustedKey(_opt_str(document, "id"), _opt_str(document, "owner"), key)
    if "kty" in document:
        return TrustedKey(_opt_str(document, "kid"), None, key_from_jwk(document))
    if isinstance(document.get("publicKeyMultibase"), str):
        public = public_key_from_multibase(document["publicKeyMultibase"])
        return TrustedKey(
            _opt_str(document, "id"), _opt_str(document, "controller"), _from_protocol_key(public)
        )
    if isinstance(document.get("publicKeyJwk"), Mapping):
        return TrustedKey(
            _opt_str(document, "id"),
            _opt_str(document, "controller"),
            key_from_jwk(document["publicKeyJwk"]),
        )
    raise MalformedError(
        "not a key file (expected publicKeyPem, a JWK, publicKeyMultibase or publicKeyJwk)"
    )


def _opt_str(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    return value if isinstance(value, str) else None


@dataclass
class Materials:
    """What the earner hands in to check more offline: controller (DID) documents, public keys,
    and Open Badges 2.0 documents (badge classes, issuer profiles) keyed by their ``id``."""

    did_documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: list[TrustedKey] = field(default_factory=list)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def resolver(self) -> Resolver:
        """A resolver over the controller documents handed in (did:key needs none)."""
        return Resolver(self.did_documents)

    def key(self, key_id: str) -> TrustedKey | None:
        """The handed-in key whose id is ``key_id``."""
        for key in self.keys:
            if key.id is not None and key.id == key_id:
                return key
        return None

    def add_file(self, path: str | os.PathLike[str]) -> str:
        """Read a JSON file and file it by shape; return what it was taken as."""
        name = str(path)
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise WalletError(f"{name}: cannot read ({exc.strerror})") from None
        try:
            document = parse_json(raw)
        except ProtocolError as exc:
            raise WalletError(f"{name}: {exc.message}") from None
        if not isinstance(document, dict):
            raise WalletError(f"{name}: expected a JSON object")
        return self.add(document, name=name)

    def add(self, document: dict[str, Any], *, name: str = "document") -> str:
        """File a parsed document: a key, a controller document, or an OB 2.0 document."""
        if any(k in document for k in ("publicKeyPem", "kty")) or (
            "publicKeyMultibase" in document and "verificationMethod" not in document
        ):
            try:
                self.keys.append(load_trusted_key(document))
            except ProtocolError as exc:
                raise WalletError(f"{name}: {exc.message}") from None
            return "key"
        doc_id = document.get("id")
        if not isinstance(doc_id, str):
            raise WalletError(f"{name}: the document has no id")
        if "verificationMethod" in document or doc_id.startswith("did:"):
            self.did_documents[doc_id] = document
            return "controller document"
        self.documents[doc_id] = document
        return "document"


# -- JWS ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Jws:
    """A decoded compact JWS (signature not yet checked)."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        """The ``alg`` header."""
        return str(self.header.get("alg"))


def parse_jws(token: str) -> Jws:
    """Decode a compact JWS; raise :class:`MalformedError` for a bad shape."""
    token = token.strip()
    if len(token) > MAX_JWS_CHARS:
        raise MalformedError(f"the JWS is longer than {MAX_JWS_CHARS} characters")
    if not _JWS.fullmatch(token):
        raise MalformedError("not a compact JWS (three base64url parts)")
    head, body, sig = token.split(".")
    try:
        header = parse_json(b64url_decode(head))
        payload = parse_json(b64url_decode(body))
    except MalformedError as exc:
        raise MalformedError(f"the JWS is not base64url JSON: {exc.message}") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise MalformedError("the JWS header and payload must be JSON objects")
    return Jws(header, payload, f"{head}.{body}".encode("ascii"), b64url_decode(sig))


def verify_jws(jws: Jws, key: _AnyPublicKey) -> str | None:
    """Check a JWS signature: ``None`` when valid, else the reason it is not."""
    alg = jws.alg
    needed = _JWS_ALGS.get(alg)
    if needed is None:
        return f"JWS alg {alg!r} is not supported"
    if "crit" in jws.header:
        return "JWS headers with 'crit' extensions are refused"
    have = _key_algorithm(key)
    if have != needed:
        return f"the JWS alg {alg} needs an {needed} key, the key is {have}"
    try:
        if isinstance(key, rsa.RSAPublicKey):
            digest = _HASHES[alg[2:]]()
            pad: padding.AsymmetricPadding = (
                padding.PKCS1v15()
                if alg.startswith("RS")
                else padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
            )
            key.verify(jws.signature, jws.signing_input, pad, digest)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            half = len(jws.signature) // 2
            if len(jws.signature) != {"P-256": 64, "P-384": 96}[needed]:
                return "the ECDSA signature has the wrong length"
            der = encode_dss_signature(
                int.from_bytes(jws.signature[:half], "big"),
                int.from_bytes(jws.signature[half:], "big"),
            )
            key.verify(der, jws.signing_input, ec.ECDSA(_HASHES[alg[2:]]()))
        else:
            key.verify(jws.signature, jws.signing_input)
    except InvalidSignature:
        return "the JWS signature does not verify"
    return None


# -- finding credentials in a file -------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """One credential found in an input."""

    text: str  # verbatim: JSON text or compact JWS
    format: Literal["json", "jwt"]
    document: dict[str, Any]  # the credential (for a JWS: the credential it carries)
    kind: Kind
    where: str  # e.g. "PNG iTXt openbadgecredential", "presentation item 2"
    jws: Jws | None = None
    hosted_url: str | None = None


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _from_jws(token: str, where: str) -> list[Found]:
    jws = parse_jws(token)
    payload = jws.payload
    if isinstance(payload.get("vp"), dict):
        return _from_presentation(payload["vp"], f"{where} (VP-JWT)")
    inner = payload.get("vc")
    document = inner if isinstance(inner, dict) else payload
    kind = guess_kind(document)
    if kind != "ob2" and not _is_credential(document):
        if "badge" in payload and "recipient" in payload:
            kind = "ob2"
        else:
            raise MalformedError(f"{where}: the JWS payload is not a credential")
    return [Found(token.strip(), "jwt", document, kind, where, jws=jws)]


def _types_of(document: Mapping[str, Any]) -> list[str]:
    types = document.get("type")
    return [t for t in (types if isinstance(types, list) else [types]) if isinstance(t, str)]


def _is_credential(document: Mapping[str, Any]) -> bool:
    types = document.get("type")
    items = types if isinstance(types, list) else [types]
    return "VerifiableCredential" in items


def _is_presentation(document: Mapping[str, Any]) -> bool:
    types = document.get("type")
    items = types if isinstance(types, list) else [types]
    return "VerifiablePresentation" in items


def _enveloped(item: Mapping[str, Any]) -> str | None:
    value = item.get("id")
    if isinstance(value, str) and value.startswith("data:"):
        header, _, data = value.partition(",")
        if "jwt" in header and _JWS.fullmatch(data.strip()):
            return data.strip()
    return None


def _from_presentation(document: Mapping[str, Any], where: str) -> list[Found]:
    items = document.get("verifiableCredential", [])
    if not isinstance(items, list):
        items = [items]
    found: list[Found] = []
    for n, item in enumerate(items):
        label = f"{where} item {n}"
        if isinstance(item, str):
            found.extend(_from_jws(item, label))
        elif isinstance(item, dict):
            token = _enveloped(item)
            if token is not None:
                found.extend(_from_jws(token, label))
            else:
                found.extend(_from_object(item, _json_text(item), label))
        else:
            raise MalformedError(f"{label}: not a credential")
    return found


def _from_object(document: dict[str, Any], text: str, where: str) -> list[Found]:
    if _is_presentation(document):
        return _from_presentation(document, f"{where} presentation")
    kind = guess_kind(document)
    ob2_document = bool(set(_types_of(document)) & _OB2_DOCUMENT_TYPES)
    if (
        (kind == "ob2" or (ob2_document and not _is_credential(document)))
        and "Assertion" not in _types_of(document)
        and not ("recipient" in document and "badge" in document)
    ):
        what = ", ".join(_types_of(document)) or "document"
        raise MalformedError(
            f"{where}: a {what} document, not a credential or an assertion (hand it in with "
            "--document or --key to check assertions offline)"
        )
    if kind == "ob2" or _is_credential(document):
        return [Found(text, "json", document, kind, where)]
    token = _enveloped(document)
    if token is not None:
        return _from_jws(token, where)
    raise MalformedError(f"{where}: the JSON is neither a credential nor a presentation")


def _from_text(text: str, where: str, *, hosted_url: str | None = None) -> list[Found]:
    stripped = text.strip()
    if _JWS.fullmatch(stripped):
        return _from_jws(stripped, where)
    value = parse_json(stripped)
    if isinstance(value, dict):
        found = _from_object(value, stripped, where)
        if hosted_url:
            found = [
                Found(f.text, f.format, f.document, f.kind, f.where, f.jws, hosted_url)
                for f in found
            ]
        return found
    raise MalformedError(f"{where}: expected a JSON object")


def _from_baked(payloads: Sequence[BakedPayload], container: str) -> list[Found]:
    if not payloads:
        raise ImportRefused(f"no Open Badges credential is baked in this {container}")
    found: list[Found] = []
    for payload in payloads:
        where = f"{container} {payload.where}"
        if not payload.text:
            if payload.hosted_url:
                raise ImportRefused(
                    f"{where} only points to a hosted assertion ({payload.hosted_url}); "
                    "fetch it and import the JSON"
                )
            raise ImportRefused(f"{where} is empty")
        items = _from_text(payload.text, where, hosted_url=payload.hosted_url)
        for item in items:
            if payload.version == "ob2" and item.kind != "ob2":
                # An OB 2.0 slot holding something else: keep it for what it is.
                pass
            found.append(item)
    return found


def extract(data: bytes, *, name: str = "input") -> list[Found]:
    """Every credential in ``data`` (JSON, JWS, PNG or SVG); raises :class:`ImportRefused`."""
    try:
        if data.startswith(PNG_SIGNATURE[:4]):
            return _from_baked(read_png(data), "PNG")
        head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
        if head.startswith(b"<"):
            return _from_baked(read_svg(data), "SVG")
        if head.startswith(b"\x1f\x8b"):
            return _from_baked(read_svg(data), "SVG")
        if head.startswith((b"{", b"[")):
            if len(data) > MAX_IMPORT_JSON_BYTES:
                raise ImportRefused(f"JSON is larger than {MAX_IMPORT_JSON_BYTES} bytes")
            value = parse_json(data, max_bytes=MAX_IMPORT_JSON_BYTES)
            if isinstance(value, list):
                found: list[Found] = []
                for n, item in enumerate(value):
                    label = f"item {n}"
                    if isinstance(item, str) and _JWS.fullmatch(item.strip()):
                        found.extend(_from_jws(item, label))
                    elif isinstance(item, dict):
                        found.extend(_from_object(item, _json_text(item), label))
                    else:
                        raise MalformedError(f"{label}: not a credential")
                if not found:
                    raise ImportRefused("the JSON array is empty")
                return found
            if not isinstance(value, dict):
                raise ImportRefused("expected a JSON object or array")
            if len(data) > MAX_IMAGE_BYTES:
                raise ImportRefused("a single credential file is too large")
            return _from_object(value, data.decode("utf-8"), "JSON")
        text = data.decode("utf-8", errors="strict").strip()
        if _JWS.fullmatch(text):
            return _from_jws(text, "JWS")
    except ProtocolError as exc:
        raise ImportRefused(exc.message) from None
    except UnicodeDecodeError:
        raise ImportRefused("not a PNG, SVG, JSON or JWS file") from None
    raise ImportRefused("not a PNG, SVG, JSON or JWS file")


# -- verification ------------------------------------------------------------------------------


def _proof_controller(document: Mapping[str, Any], index: int) -> str | None:
    try:
        proofs = all_proofs(document)
    except ProtocolError:
        return None
    if index >= len(proofs):
        return None
    vm = proofs[index].get("verificationMethod")
    if isinstance(vm, Mapping):
        vm = vm.get("id")
    return vm.split("#", 1)[0] if isinstance(vm, str) else None


def _resolvable(controller: str, resolver: Resolver) -> bool:
    try:
        resolver.resolve(controller)
    except ProtocolError:
        return False
    return True


def wallet_status(
    report: Mapping[str, Any], document: Mapping[str, Any], resolver: Resolver
) -> tuple[str, str | None]:
    """The wallet's status for a protocol report, with a note when it softens ``invalid``.

    A report whose only failures are proofs signed with keys that cannot be resolved offline
    is ``unknown`` for the wallet: the signature was not checked, not found wrong.
    """
    verdict = str(report.get("verdict", "invalid"))
    if verdict != "invalid":
        return verdict, None
    failed = [c for c in report.get("checks", []) if c.get("status") == "fail"]
    unresolved: list[str] = []
    for check in failed:
        match = re.match(r"proof\[(\d+)\] [^ ]+$", str(check.get("check", "")))
        if match is None:
            return "invalid", None
        controller = _proof_controller(document, int(match[1]))
        if controller is None or _resolvable(controller, resolver):
            return "invalid", None
        unresolved.append(controller)
    if not unresolved:
        return "invalid", None
    keys = ", ".join(sorted(set(unresolved)))
    return "unknown", (
        f"the issuer's key ({keys}) is not available offline, so the signature was not "
        "checked; verify again with its DID or controller document"
    )


def _endorsement_reports(
    document: Mapping[str, Any], *, now: datetime, resolver: Resolver
) -> list[dict[str, Any]]:
    found: list[Mapping[str, Any]] = []
    found.extend(e for e in _as_list(document.get("endorsement")) if isinstance(e, Mapping))
    for subject in _as_list(document.get("credentialSubject")):
        if isinstance(subject, Mapping) and isinstance(subject.get("achievement"), Mapping):
            found.extend(
                e
                for e in _as_list(subject["achievement"].get("endorsement"))
                if isinstance(e, Mapping)
            )
    return [verify(e, now=now, resolver=resolver).to_dict() for e in found]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _claim_time(value: Any, name: str) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise MalformedError(f"JWT claim {name} is not a valid time") from None
    return None


def check_jwt_credential(
    jws: Jws, document: Mapping[str, Any], *, now: datetime, materials: Materials
) -> dict[str, Any]:
    """The report of a VC-JWT (see the module docstring); same shape as protocol reports."""
    report = Report("credential", id=_opt_str(document, "id"))
    types = document.get("type")
    report.types = [t for t in _as_list(types) if isinstance(t, str)]
    issuer = document.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    report.issuer = issuer_id if isinstance(issuer_id, str) else None
    issues = validate(document)
    if issues:
        shown = "; ".join(str(i) for i in issues[:5])
        more = f" (and {len(issues) - 5} more)" if len(issues) > 5 else ""
        report.add("schema", "fail", shown + more)
    else:
        report.add("schema", "pass", "valid against the data model and its JSON Schema")
    alg = jws.alg
    label = f"jws {alg}"
    kid = jws.header.get("kid")
    header_jwk = jws.header.get("jwk")
    key: _AnyPublicKey | None = None
    bound: str | None = None  # "pass" when the key is the issuer's, else "unknown"
    key_label = ""
    try:
        if isinstance(kid, str) and kid.startswith("did:key:"):
            key = _from_protocol_key(public_key_for_did_key(kid))
            key_label = kid
            bound = "pass" if kid.split("#", 1)[0] == report.issuer else "fail"
        elif isinstance(kid, str) and materials.key(kid) is not None:
            trusted = materials.key(kid)
            assert trusted is not None
            key, key_label = trusted.key, f"{kid} (handed in)"
            bound = "pass" if trusted.owner in (None, report.issuer) else "fail"
        elif isinstance(header_jwk, Mapping):
            key = key_from_jwk(header_jwk)
            key_label = "the key in the JWS header"
            bound = "unknown"
    except ProtocolError as exc:
        report.add(label, "fail", f"the signing key is unusable: {exc.message}")
    if key is not None:
        problem = verify_jws(jws, key)
        if problem is None:
            report.add(label, "pass", f"signature valid, key {key_label}")
            if bound == "pass":
                report.add(
                    f"{label} issuer", "pass", f"the key belongs to the issuer {report.issuer}"
                )
            elif bound == "fail":
                report.add(
                    f"{label} issuer",
                    "fail",
                    f"the key does not belong to the issuer {report.issuer}",
                )
            else:
                report.add(
                    f"{label} issuer",
                    "unknown",
                    "the header's own key proves the signature but nothing binds it to the "
                    f"issuer {report.issuer} offline",
                )
        else:
            report.add(label, "fail", problem)
    elif not any(c.check == label for c in report.checks):
        where = f"key {kid}" if isinstance(kid, str) else "the signing key (no kid, no jwk)"
        report.add(label, "unknown", f"{where} is not available offline; signature not checked")
    # JWT claims must agree with the credential (VC-JWT / OB 3.0 "JSON Web Token Proof Format").
    payload = jws.payload
    mismatches = []
    if "iss" in payload and payload["iss"] != report.issuer:
        mismatches.append("iss is not the issuer id")
    if "jti" in payload and report.id is not None and payload["jti"] != report.id:
        mismatches.append("jti is not the credential id")
    if mismatches:
        report.add("jwt claims", "fail", "; ".join(mismatches))
    else:
        report.add("jwt claims", "pass", "iss and jti agree with the credential")
    try:
        nbf = _claim_time(payload.get("nbf"), "nbf")
        exp = _claim_time(payload.get("exp"), "exp")
        start_text = document.get("validFrom") or document.get("issuanceDate")
        end_text = document.get("validUntil") or document.get("expirationDate")
        start = parse_datetime(start_text, require_timezone=False) if start_text else nbf
        end = parse_datetime(end_text, require_timezone=False) if end_text else exp
        if start is not None and now < start:
            report.add("validity", "fail", f"not valid before {format_datetime(start)}")
        elif end is not None and now > end:
            report.add("validity", "fail", f"expired on {format_datetime(end)}")
        else:
            report.add("validity", "pass", "within its validity period")
    except ProtocolError as exc:
        report.add("validity", "fail", exc.message)
    if document.get("credentialStatus"):
        report.add("status", "unknown", "the status list was not checked offline")
    else:
        report.add("status", "pass", "the credential declares no status list")
    return report.to_dict()


def _ob2_object(
    value: Any, materials: Materials, what: str, report: Report
) -> dict[str, Any] | None:
    if isinstance(value, dict):
        report.add(what, "pass", f"{what} embedded in the assertion")
        return value
    if isinstance(value, str):
        doc = materials.documents.get(value)
        if doc is not None:
            name = doc.get("name")
            report.add(what, "pass", f"{what} {value} ({name}) from the document handed in")
            return doc
        report.add(what, "unknown", f"{what} {value} not checked offline (not handed in)")
        return None
    report.add(what, "fail", f"the assertion names no {what}")
    return None


def check_ob2(
    assertion: Mapping[str, Any],
    *,
    jws: Jws | None,
    now: datetime,
    materials: Materials,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Check an Open Badges 2.0 assertion offline as far as possible.

    Returns the report (``kind: "legacy"``), the legacy summary (what was and was not checked)
    and the document to summarise (the assertion with the badge class and issuer handed in).
    """
    report = Report("document", id=_opt_str(assertion, "id"), types=["Assertion"])
    missing = [
        k
        for k in ("id", "type", "recipient", "badge", "verification", "issuedOn")
        if k not in assertion
    ]
    if missing:
        report.add("format", "fail", f"Open Badges 2.0 assertion lacks {', '.join(missing)}")
    else:
        report.add("format", "pass", "an Open Badges 2.0 assertion (legacy)")
    verification = assertion.get("verification")
    vtype = verification.get("type") if isinstance(verification, Mapping) else None
    if isinstance(vtype, str):
        vtype = vtype.lower().replace("signedbadge", "signed").replace("hostedbadge", "hosted")
    creator = verification.get("creator") if isinstance(verification, Mapping) else None
    enriched = dict(assertion)
    badge = _ob2_object(assertion.get("badge"), materials, "badge class", report)
    issuer_doc: dict[str, Any] | None = None
    if badge is not None:
        issuer_doc = _ob2_object(badge.get("issuer"), materials, "issuer profile", report)
        enriched["badge"] = dict(badge)
        if issuer_doc is not None:
            enriched["badge"]["issuer"] = issuer_doc
    if vtype == "hosted":
        if jws is not None:
            report.add("verification", "fail", "a hosted assertion must not come as a JWS")
        else:
            report.add(
                "hosted verification",
                "unknown",
                f"not checked offline: the assertion must still be hosted at "
                f"{assertion.get('id')} (that is also how its revocation shows)",
            )
    elif vtype == "signed":
        if jws is None:
            report.add(
                "signature",
                "unknown",
                "the assertion declares signed verification but came without its JWS",
            )
        else:
            key = materials.key(creator) if isinstance(creator, str) else None
            if key is None:
                report.add(
                    f"signature {jws.alg}",
                    "unknown",
                    f"the signing key {creator} is not available offline (hand in its key file)",
                )
            else:
                problem = verify_jws(jws, key.key)
                if problem is None:
                    report.add(f"signature {jws.alg}", "pass", f"signature valid, key {creator}")
                    issuer_id = issuer_doc.get("id") if issuer_doc else None
                    if key.owner and issuer_id and key.owner != issuer_id:
                        report.add(
                            "key owner",
                            "fail",
                            f"the key belongs to {key.owner}, not to the issuer {issuer_id}",
                        )
                    elif key.owner and not issuer_id:
                        report.add(
                            "key owner",
                            "unknown",
                            f"the key belongs to {key.owner}; the issuer was not checked offline",
                        )
                else:
                    report.add(f"signature {jws.alg}", "fail", problem)
            report.add(
                "revocation",
                "unknown",
                "the issuer's revocation list was not checked offline",
            )
    else:
        report.add("verification", "fail", f"unknown verification type {vtype!r}")
    expires = assertion.get("expires")
    if expires is not None:
        try:
            end = parse_datetime(expires, require_timezone=False)
            if now > end:
                report.add("expiry", "fail", f"expired on {format_datetime(end)}")
            else:
                report.add("expiry", "pass", f"expires on {format_datetime(end)}")
        except ProtocolError as exc:
            report.add("expiry", "fail", exc.message)
    out = report.to_dict()
    out["kind"] = "legacy"
    checked = [f"{c.check}: {c.reason}" for c in report.checks if c.status != "unknown"]
    not_checked = [f"{c.check}: {c.reason}" for c in report.checks if c.status == "unknown"]
    recipient = assertion.get("recipient")
    legacy: dict[str, Any] = {
        "version": "2.0",
        "verification": vtype or "unknown",
        "checked": checked,
        "notChecked": not_checked,
    }
    if isinstance(recipient, Mapping):
        legacy["recipient"] = {
            k: recipient[k] for k in ("type", "hashed", "identity") if k in recipient
        }
    if isinstance(creator, str):
        legacy["signingKey"] = creator
    return out, legacy, enriched


@dataclass(frozen=True)
class Checked:
    """A found credential with its verification outcome."""

    found: Found
    report: dict[str, Any]
    status: str
    legacy: dict[str, Any] | None
    summary_source: dict[str, Any]


def verify_found(found: Found, *, now: datetime, materials: Materials) -> Checked:
    """Verify one found credential as the module docstring describes."""
    resolver = materials.resolver()
    if found.kind == "ob2":
        report, legacy, enriched = check_ob2(
            found.document, jws=found.jws, now=now, materials=materials
        )
        if found.hosted_url:
            legacy["hostedUrl"] = found.hosted_url
        return Checked(found, report, str(report["verdict"]), legacy, enriched)
    if found.jws is not None:
        report = check_jwt_credential(found.jws, found.document, now=now, materials=materials)
        return Checked(found, report, str(report["verdict"]), None, found.document)
    report = verify(found.document, now=now, resolver=resolver).to_dict()
    endorsements = _endorsement_reports(found.document, now=now, resolver=resolver)
    if endorsements:
        report["endorsements"] = endorsements
    status, note = wallet_status(report, found.document, resolver)
    if note:
        report["walletNote"] = note
    return Checked(found, report, status, None, found.document)


def _store(
    wallet: Wallet, checked: Checked, *, source: str, now: datetime
) -> tuple[StoredCredential, str]:
    found = checked.found
    record, outcome = wallet.put(
        found.text,
        source=source,
        verification=checked.report,
        status=checked.status,
        kind=found.kind,
        legacy=checked.legacy,
        now=now,
    )
    if checked.summary_source is not found.document and outcome != "duplicate":
        record.summary = summarize(checked.summary_source, kind=found.kind)
        wallet.touch(record)
    return record, outcome


# -- importing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportOutcome:
    """What happened to one credential (or one refused file)."""

    source: str
    outcome: Literal["added", "replaced", "duplicate", "refused"]
    record: StoredCredential | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``--json``."""
        out: dict[str, Any] = {"source": self.source, "outcome": self.outcome}
        if self.record is not None:
            out["localId"] = self.record.local_id
            out["id"] = self.record.id
            out["kind"] = self.record.kind
            out["status"] = self.record.status
        out["message"] = self.message
        return out


def _describe(record: StoredCredential, outcome: str) -> str:
    label = {"ob2": "legacy OB 2.0", "endorsement": "endorsement"}.get(record.kind, "")
    kind = f" ({label})" if label else ""
    return f"{outcome} {record.local_id[:8]} {record.name!r}{kind}: {record.status}"


def import_bytes(
    wallet: Wallet,
    data: bytes,
    *,
    source: str,
    now: datetime,
    materials: Materials | None = None,
) -> list[ImportOutcome]:
    """Import every credential in ``data``; raise :class:`ImportRefused` if there is none."""
    materials = materials or Materials()
    outcomes = []
    for found in extract(data, name=source):
        checked = verify_found(found, now=now, materials=materials)
        record, outcome = _store(wallet, checked, source=source, now=now)
        outcomes.append(
            ImportOutcome(source, outcome, record, _describe(record, outcome))  # type: ignore[arg-type]
        )
    link_endorsements(wallet)
    return outcomes


def import_files(
    wallet: Wallet,
    paths: Sequence[str | os.PathLike[str]],
    *,
    now: datetime,
    materials: Materials | None = None,
    progress: Progress | None = None,
) -> list[ImportOutcome]:
    """Import files one by one; a refused file is reported and the others go on."""
    materials = materials or Materials()
    outcomes: list[ImportOutcome] = []
    total = len(paths)
    for n, path in enumerate(paths):
        name = str(path)
        try:
            target = Path(path)
            size = target.stat().st_size
            if size > MAX_IMPORT_JSON_BYTES:
                raise ImportRefused(f"larger than {MAX_IMPORT_JSON_BYTES} bytes")
            data = target.read_bytes()
            outcomes.extend(import_bytes(wallet, data, source=name, now=now, materials=materials))
        except WalletError as exc:
            outcomes.append(ImportOutcome(name, "refused", None, exc.message))
        except OSError as exc:
            outcomes.append(ImportOutcome(name, "refused", None, f"cannot read ({exc.strerror})"))
        if progress is not None and total >= 20:
            progress("importing", n + 1, total)
    return outcomes


def link_endorsements(wallet: Wallet) -> int:
    """Attach every stored endorsement to the credentials it endorses (by credential id or
    achievement id); return how many links were made."""
    made = 0
    for record in wallet.records_by_ids(sorted(wallet.index.endorsements())):
        subject = record.summary.get("endorses")
        if not isinstance(subject, str):
            continue
        targets = wallet.index.by_credential_id(subject) | wallet.index.by_achievement(subject)
        for lid in sorted(targets):
            target = wallet.get(lid)
            if target.kind == "endorsement" or target.local_id == record.local_id:
                continue
            if record.local_id not in target.endorsements:
                target.endorsements.append(record.local_id)
                wallet.touch(target)
                made += 1
            if lid not in record.endorses:
                record.endorses.append(lid)
                wallet.touch(record)
    return made


def reverify(
    wallet: Wallet, record: StoredCredential, *, now: datetime, materials: Materials | None = None
) -> StoredCredential:
    """Verify a stored credential again (e.g. with documents handed in) and store the report."""
    materials = materials or Materials()
    if record.format == "jwt":
        found = _from_jws(record.text, "stored")[0]
    else:
        found = Found(record.text, "json", record.document, record.kind, "stored")
    found = Found(
        found.text,
        found.format,
        found.document,
        record.kind,
        "stored",
        found.jws,
        (record.legacy or {}).get("hostedUrl"),
    )
    checked = verify_found(found, now=now, materials=materials)
    record.set_verification(checked.report, checked.status, at=format_datetime(now))
    if checked.legacy is not None:
        record.legacy = checked.legacy
        record.summary = summarize(checked.summary_source, kind=record.kind)
    wallet.touch(record)
    return record


def content_digest(data: bytes) -> str:
    """SHA-256 of ``data`` (hex), to name inputs in reports."""
    return hashlib.sha256(data).hexdigest()


def iter_paths(paths: Iterable[str]) -> list[str]:
    """Expand folders into the badge files they hold (.json .jwt .jws .png .svg)."""
    out: list[str] = []
    for path in paths:
        target = Path(path)
        if target.is_dir():
            out.extend(
                str(p)
                for p in sorted(target.rglob("*"))
                if p.is_file() and p.suffix.lower() in (".json", ".jwt", ".jws", ".png", ".svg")
            )
        else:
            out.append(path)
    return out


ProgressCallback = Callable[[str, int, int], None]
