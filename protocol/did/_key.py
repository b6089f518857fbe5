"""did:key (DID method did:key, v0.9): identifiers and documents derived from a public key.

https://w3c-ccg.github.io/did-key-spec/ -- the method-specific identifier is the key's
``publicKeyMultibase``; the DID document is generated, never fetched.
"""

from __future__ import annotations

import re
from typing import Any

from protocol.errors import MalformedError
from protocol.keys import MULTIKEY_CONTEXT, KeyPair, PublicKey, public_key_from_multibase

__all__ = [
    "DID_CONTEXT",
    "did_key_for",
    "key_pair_as_did_key",
    "public_key_for_did_key",
    "resolve_did_key",
]

#: The DID v1 JSON-LD context.
DID_CONTEXT = "https://www.w3.org/ns/did/v1"

_PREFIX = "did:key:"
_BASE58 = re.compile(r"z[1-9A-HJ-NP-Za-km-z]+\Z")


def did_key_for(public: PublicKey) -> str:
    """``did:key:`` + the key's ``publicKeyMultibase``."""
    if not isinstance(public, PublicKey):
        raise TypeError("did_key_for takes a PublicKey")
    return _PREFIX + public.multibase


def key_pair_as_did_key(pair: KeyPair) -> KeyPair:
    """The pair bound to its did:key: controller = the DID, id = ``did#<publicKeyMultibase>``."""
    did = did_key_for(pair.public)
    return pair.with_controller(did, f"{did}#{pair.public.multibase}")


def _split(did: str) -> str:
    """Return the bare DID (fragment stripped), after syntax checks."""
    if not isinstance(did, str):
        raise MalformedError("invalidDid: a DID must be a string")
    bare = did.split("#", 1)[0]
    if not bare.startswith(_PREFIX):
        raise MalformedError(f"invalidDid: {bare!r} is not a did:key DID")
    msid = bare[len(_PREFIX) :]
    if not msid:
        raise MalformedError("invalidDid: did:key has an empty method-specific identifier")
    if "/" in msid or "?" in msid:
        raise MalformedError("invalidDid: a did:key DID has no path or query")
    if ":" in msid:
        raise MalformedError("invalidDid: versioned did:key identifiers are not supported")
    if not msid.startswith("z"):
        raise MalformedError(
            "invalidDid: the did:key identifier must be base58btc multibase (start with 'z')"
        )
    if not _BASE58.match(msid):
        raise MalformedError("invalidDid: the did:key identifier holds non-base58btc characters")
    return bare


def public_key_for_did_key(did: str) -> PublicKey:
    """The public key named by a did:key DID (or DID URL; the fragment is ignored).

    Raises :class:`MalformedError` for bad syntax, multibase, length or point, and
    :class:`UnsupportedError` for key types we do not verify with.
    """
    bare = _split(did)
    return public_key_from_multibase(bare[len(_PREFIX) :])


def resolve_did_key(did: str) -> dict[str, Any]:
    """The DID document of a did:key, in Multikey form (did-key-spec, "Document Creation").

    One verification method ``did#<multibase>`` of type Multikey, referenced from
    authentication, assertionMethod, capabilityInvocation and capabilityDelegation. No
    keyAgreement key is derived.
    """
    bare = _split(did)
    public = public_key_from_multibase(bare[len(_PREFIX) :])
    vm_id = f"{bare}#{public.multibase}"
    return {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": bare,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "Multikey",
                "controller": bare,
                "publicKeyMultibase": public.multibase,
            }
        ],
        "authentication": [vm_id],
        "assertionMethod": [vm_id],
        "capabilityInvocation": [vm_id],
        "capabilityDelegation": [vm_id],
    }
