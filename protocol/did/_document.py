"""Controller documents (CID 1.0) and DID documents (DID Core 1.0): validation and methods.

A document handed in from outside is validated once, here, and copied: its ``id`` must equal
the identifier it was fetched for, every verification method needs an absolute ``id`` and a
``controller``, and the key material of every supported method type must parse. Methods of other
types (for instance an X25519 key-agreement key) are kept but can never verify a proof.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol.encoding import base58btc_decode
from protocol.errors import MalformedError, UnsupportedError
from protocol.keys import PublicKey, public_key_from_jwk, public_key_from_multibase

__all__ = [
    "RELATIONSHIPS",
    "SUPPORTED_VERIFICATION_METHOD_TYPES",
    "VerificationMethod",
    "is_absolute_url",
    "parse_verification_method",
    "validate_controller_document",
    "validate_did_document",
]

#: Verification relationships (DID Core section 5.3, CID section 2.3).
RELATIONSHIPS: tuple[str, ...] = (
    "authentication",
    "assertionMethod",
    "keyAgreement",
    "capabilityInvocation",
    "capabilityDelegation",
)

#: Verification method types whose key we can read.
SUPPORTED_VERIFICATION_METHOD_TYPES: tuple[str, ...] = (
    "Multikey",
    "Ed25519VerificationKey2020",
    "Ed25519VerificationKey2018",
    "JsonWebKey2020",
    "JsonWebKey",
)

_ABSOLUTE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+\Z")
_DID = re.compile(
    r"did:[a-z0-9]+:(?:(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})*:)*"
    r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+\Z"
)


@dataclass(frozen=True)
class VerificationMethod:
    """A verification method whose key has been read and checked."""

    id: str
    type: str
    controller: str
    public_key: PublicKey


def is_absolute_url(value: object) -> bool:
    """True for a string with a URL scheme and no whitespace (``did:…``, ``https://…``)."""
    return isinstance(value, str) and _ABSOLUTE_URL.match(value) is not None


def _key_of(method: Mapping[str, Any]) -> PublicKey:
    """Read the public key of a method of a supported type (MalformedError/UnsupportedError)."""
    kind = method.get("type")
    vm_id = method.get("id")
    if kind in ("Multikey", "Ed25519VerificationKey2020"):
        value = method.get("publicKeyMultibase")
        if value is None:
            raise MalformedError(f"verification method {vm_id} ({kind}) has no publicKeyMultibase")
        key = public_key_from_multibase(value)
        if kind == "Ed25519VerificationKey2020" and key.algorithm != "Ed25519":
            raise MalformedError(
                f"verification method {vm_id}: Ed25519VerificationKey2020 must hold an "
                f"ed25519-pub key, not {key.algorithm}"
            )
        return key
    if kind == "Ed25519VerificationKey2018":
        value = method.get("publicKeyBase58")
        if not isinstance(value, str) or not value:
            raise MalformedError(
                f"verification method {vm_id} (Ed25519VerificationKey2018) has no publicKeyBase58"
            )
        return PublicKey("Ed25519", base58btc_decode("z" + value))
    if kind in ("JsonWebKey2020", "JsonWebKey"):
        jwk = method.get("publicKeyJwk")
        if not isinstance(jwk, Mapping):
            raise MalformedError(f"verification method {vm_id} ({kind}) has no publicKeyJwk")
        return public_key_from_jwk(jwk)
    raise UnsupportedError(f"verification method {vm_id} has unsupported type {kind!r}")


def parse_verification_method(method: Mapping[str, Any]) -> VerificationMethod:
    """Check a verification method's shape and read its key."""
    _check_method_shape(method, where="verification method")
    public = _key_of(method)
    return VerificationMethod(
        id=method["id"], type=method["type"], controller=method["controller"], public_key=public
    )


def _check_method_shape(method: object, *, where: str) -> str:
    if not isinstance(method, Mapping):
        raise MalformedError(f"{where} must be a JSON object")
    vm_id = method.get("id")
    if not isinstance(vm_id, str) or not vm_id:
        raise MalformedError(f"{where} has no id")
    if not is_absolute_url(vm_id):
        raise MalformedError(
            f"{where} id {vm_id!r} is not an absolute URL; relative references such as "
            "'#key-1' are not allowed (did:web requires absolute DID URLs)"
        )
    kind = method.get("type")
    if not isinstance(kind, str) or not kind:
        raise MalformedError(f"verification method {vm_id} has no type")
    controller = method.get("controller")
    if not isinstance(controller, str) or not controller:
        raise MalformedError(f"verification method {vm_id} has no controller")
    if not is_absolute_url(controller):
        raise MalformedError(
            f"verification method {vm_id} controller {controller!r} is not an absolute URL"
        )
    return vm_id


def _check_method(method: object, *, where: str, seen: dict[str, Mapping[str, Any]]) -> None:
    vm_id = _check_method_shape(method, where=where)
    assert isinstance(method, Mapping)
    previous = seen.get(vm_id)
    if previous is not None and previous != method:
        raise MalformedError(f"two different verification methods share the id {vm_id}")
    seen[vm_id] = method
    try:
        _key_of(method)
    except UnsupportedError:
        # Known but unusable (an X25519 key-agreement key, a secp256k1 key, an unknown type):
        # kept in the document, refused when asked to verify.
        pass
    except MalformedError as exc:
        raise MalformedError(f"verification method {vm_id}: {exc.message}") from exc


def validate_controller_document(
    document: Mapping[str, Any], *, controller_id: str
) -> dict[str, Any]:
    """Validate a controller document fetched for ``controller_id`` and return a deep copy."""
    if not isinstance(document, Mapping):
        raise MalformedError("a controller document must be a JSON object")
    doc: dict[str, Any] = copy.deepcopy(dict(document))
    doc_id = doc.get("id")
    if doc_id != controller_id:
        raise MalformedError(
            f"document id {doc_id!r} does not equal the identifier it was retrieved for "
            f"({controller_id!r})"
        )
    controller = doc.get("controller")
    if controller is not None:
        controllers = controller if isinstance(controller, list) else [controller]
        if not controllers or not all(is_absolute_url(c) for c in controllers):
            raise MalformedError("document controller must be an absolute URL or a list of them")
    seen: dict[str, Mapping[str, Any]] = {}
    methods = doc.get("verificationMethod", [])
    if not isinstance(methods, list):
        raise MalformedError("verificationMethod must be a list")
    for method in methods:
        _check_method(method, where="verification method", seen=seen)
    for relationship in RELATIONSHIPS:
        entries = doc.get(relationship)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise MalformedError(f"{relationship} must be a list")
        for entry in entries:
            if isinstance(entry, str):
                if not is_absolute_url(entry):
                    raise MalformedError(
                        f"{relationship} holds the relative reference {entry!r}; "
                        "verification method references must be absolute URLs "
                        "(did:web forbids relative DID URLs)"
                    )
            else:
                _check_method(entry, where=f"embedded {relationship} method", seen=seen)
    return doc


def validate_did_document(document: Mapping[str, Any], *, did: str) -> dict[str, Any]:
    """Validate a DID document resolved for ``did`` (its ``id`` must equal ``did``); return a copy.

    Supported verification method types: Multikey (publicKeyMultibase), Ed25519VerificationKey2020
    (publicKeyMultibase, Ed25519 only), Ed25519VerificationKey2018 (publicKeyBase58) and
    JsonWebKey2020 / JsonWebKey (publicKeyJwk).
    """
    if not isinstance(did, str) or not _DID.match(did):
        raise MalformedError(f"{did!r} is not a DID (did:<method>:<identifier>, no fragment)")
    return validate_controller_document(document, controller_id=did)
