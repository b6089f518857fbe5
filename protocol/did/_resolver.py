"""Offline resolution of verification methods from controller documents handed in.

Implements Controlled Identifiers (CID) 1.0, section 3.3 "Retrieve Verification Method", over a
fixed set of documents: the resolver never fetches. did:key documents are derived from the DID
itself; every other controller document (did:web, or an https URL as in the Open Badges
examples) must be provided by the caller, who fetched it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from protocol.errors import KeyResolutionError, ProtocolError

from ._document import (
    RELATIONSHIPS,
    VerificationMethod,
    is_absolute_url,
    parse_verification_method,
    validate_controller_document,
    validate_did_document,
)
from ._key import public_key_for_did_key, resolve_did_key

__all__ = ["Resolver"]

_NO_DOCUMENTS: Mapping[str, Mapping[str, Any]] = MappingProxyType({})


def _find_method(document: Mapping[str, Any], vm_id: str) -> Mapping[str, Any] | None:
    """The method with ``id == vm_id`` in ``verificationMethod`` or embedded in a relationship."""
    for method in document.get("verificationMethod", []):
        if isinstance(method, Mapping) and method.get("id") == vm_id:
            return method
    for relationship in RELATIONSHIPS:
        for entry in document.get(relationship, []) or []:
            if isinstance(entry, Mapping) and entry.get("id") == vm_id:
                return entry
    return None


class Resolver:
    """Offline resolution of verification methods from documents handed in (never fetches)."""

    def __init__(self, documents: Mapping[str, Mapping[str, Any]] = _NO_DOCUMENTS) -> None:
        """``documents`` maps a controller id (a DID, or a URL without fragment) to its document.

        Documents are copied now and validated when first used. Documents given for did:key
        DIDs are ignored: a did:key document is always derived from the DID.
        """
        if not isinstance(documents, Mapping):
            raise TypeError("documents must be a mapping of controller id to document")
        self._documents: dict[str, Any] = {}
        for key, document in documents.items():
            if not isinstance(key, str):
                raise TypeError("controller ids must be strings")
            if key.startswith("did:key:"):
                continue
            self._documents[key] = copy.deepcopy(document)
        self._validated: dict[str, dict[str, Any]] = {}

    def resolve(self, controller_id: str) -> dict[str, Any]:
        """The validated controller document for ``controller_id`` (a fragment is ignored).

        Raises :class:`KeyResolutionError` when no document was provided, or when the document
        (or the did:key) is invalid.
        """
        if not isinstance(controller_id, str) or not controller_id:
            raise KeyResolutionError("a controller id must be a non-empty string")
        base = controller_id.split("#", 1)[0]
        if base.startswith("did:key:"):
            try:
                return resolve_did_key(base)
            except ProtocolError as exc:
                raise KeyResolutionError(f"cannot resolve {base}: {exc.message}") from exc
        cached = self._validated.get(base)
        if cached is None:
            if base not in self._documents:
                raise KeyResolutionError(
                    f"the controller document for {base!r} was not provided (resolution is "
                    "offline: fetch the document beforehand and hand it to the Resolver)"
                )
            document = self._documents[base]
            try:
                if base.startswith("did:"):
                    cached = validate_did_document(document, did=base)
                else:
                    cached = validate_controller_document(document, controller_id=base)
            except ProtocolError as exc:
                raise KeyResolutionError(
                    f"controller document for {base} is invalid: {exc.message}"
                ) from exc
            self._validated[base] = cached
        return copy.deepcopy(cached)

    def verification_method(self, vm_id: str, *, relationship: str) -> VerificationMethod:
        """Retrieve and check a verification method (CID 1.0, "Retrieve Verification Method").

        The key always comes from the controller document, never from the URL fragment: a
        fragment that happens to be a multibase key is only an identifier.
        """
        if relationship not in RELATIONSHIPS:
            raise KeyResolutionError(
                f"{relationship!r} is not a verification relationship "
                f"(expected one of {', '.join(RELATIONSHIPS)})"
            )
        if not isinstance(vm_id, str) or not vm_id:
            raise KeyResolutionError("a verification method id must be a non-empty string")
        if vm_id.startswith("did:key:") and "#" not in vm_id:
            # A bare did:key names its single key (did:key:z… means did:key:z…#z…).
            try:
                public = public_key_for_did_key(vm_id)
            except ProtocolError as exc:
                raise KeyResolutionError(f"cannot resolve {vm_id}: {exc.message}") from exc
            vm_id = f"{vm_id}#{public.multibase}"
        # 1. The verification method id must be a URL with a fragment.
        base, sep, fragment = vm_id.partition("#")
        if not sep or not fragment:
            raise KeyResolutionError(
                f"verification method id {vm_id!r} must be a URL with a fragment "
                "(<controller document URL>#<key>)"
            )
        if not is_absolute_url(base):
            raise KeyResolutionError(f"verification method id {vm_id!r} is not an absolute URL")
        # 2. Dereference the controller document (the URL without its fragment).
        document = self.resolve(base)
        # 3. The document id must equal that URL.
        if document.get("id") != base:
            raise KeyResolutionError(
                f"controller document id {document.get('id')!r} does not equal {base!r}"
            )
        # 4. The document must hold a verification method whose id is the requested URL.
        method = _find_method(document, vm_id)
        if method is None:
            raise KeyResolutionError(
                f"controller document {base} has no verification method {vm_id}"
            )
        # 5. Its controller must be the document.
        if method.get("controller") != base:
            raise KeyResolutionError(
                f"verification method {vm_id} is controlled by {method.get('controller')!r}, "
                f"not by {base}"
            )
        # 6. It must be listed, by reference or by value, under the requested relationship.
        entries = document.get(relationship) or []
        listed = any(
            entry == vm_id or (isinstance(entry, Mapping) and entry.get("id") == vm_id)
            for entry in entries
        )
        if not listed:
            raise KeyResolutionError(
                f"verification method {vm_id} is not authorized for {relationship} "
                f"by {base} (it is not listed under {relationship})"
            )
        # 7. Read the key.
        try:
            return parse_verification_method(method)
        except ProtocolError as exc:
            raise KeyResolutionError(
                f"verification method {vm_id} cannot be used: {exc.message}"
            ) from exc
