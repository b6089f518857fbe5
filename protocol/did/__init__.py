"""DIDs and controller documents: did:key, did:web URL mapping, document validation, and
offline verification-method resolution (CID 1.0 "Retrieve Verification Method").

Nothing here fetches: did:key documents are derived from the DID, and every other controller
document is handed to :class:`Resolver` by the caller. Errors are
:class:`~protocol.errors.MalformedError`, :class:`~protocol.errors.UnsupportedError` and, from
the resolver, :class:`~protocol.errors.KeyResolutionError`.
"""

from __future__ import annotations

from ._document import (
    RELATIONSHIPS,
    SUPPORTED_VERIFICATION_METHOD_TYPES,
    VerificationMethod,
    parse_verification_method,
    validate_controller_document,
    validate_did_document,
)
from ._key import (
    DID_CONTEXT,
    did_key_for,
    key_pair_as_did_key,
    public_key_for_did_key,
    resolve_did_key,
)
from ._resolver import Resolver
from ._web import did_web_to_url, url_to_did_web

__all__ = [
    "DID_CONTEXT",
    "RELATIONSHIPS",
    "SUPPORTED_VERIFICATION_METHOD_TYPES",
    "Resolver",
    "VerificationMethod",
    "did_key_for",
    "did_web_to_url",
    "key_pair_as_did_key",
    "parse_verification_method",
    "public_key_for_did_key",
    "resolve_did_key",
    "url_to_did_web",
    "validate_controller_document",
    "validate_did_document",
]
