"""Federation: the pure layer under a network of member nodes (``specs/federation.md``).

* :mod:`~protocol.federation.registry`: the steward's signed, versioned registry of members
  (VC 2.0, eddsa-rdfc-2022, context ``https://passeport.example/ns/federation/v1``),
  membership credentials and single-use invitations;
* :mod:`~protocol.federation.events`: each member's signed, hash-linked feed of events
  (eddsa-jcs-2022), cursors, feed pages and push notices;
* :mod:`~protocol.federation.httpsig`: HTTP Message Signatures (RFC 9421) with Content-Digest
  (RFC 9530) for requests between nodes;
* :mod:`~protocol.federation.bundle`: signed offline verification bundles;
* :mod:`~protocol.federation.jcs` and :mod:`~protocol.federation.jcs_proof`: RFC 8785 and the
  eddsa-jcs-2022 cryptosuite they rest on.

Pure like the rest of :mod:`protocol`: no network, no clock (``now`` is an argument), no state
(nonce caches and last-seen cursors are handed in).
"""

from __future__ import annotations

from .bundle import (
    BUNDLE_TYPE,
    Bundle,
    TrustAnchor,
    build_bundle,
    open_bundle,
    packaged_context_digest,
    packaged_context_text,
)
from .errors import (
    ChainGapError,
    ExpiredError,
    ForkError,
    ImpersonationError,
    NotAMemberError,
    OversizedError,
    RegistryLinkError,
    ReplayError,
    UntrustedError,
)
from .events import (
    EVENT_TYPES,
    Cursor,
    FeedUpdate,
    VerifiedEvent,
    build_event,
    build_feed_page,
    build_notice,
    event_hash,
    parse_notice,
    resume_after,
    verify_event,
    verify_feed_page,
)
from .httpsig import (
    PROFILE_TAG,
    HttpRequest,
    NonceCache,
    VerifiedRequest,
    check_content_digest,
    content_digest,
    parse_signatures,
    sign_request,
    signature_base,
    verify_member_request,
    verify_request_signature,
)
from .jcs import canonicalize, digest
from .jcs_proof import sign_jcs, verify_jcs
from .registry import (
    ROLES,
    Invitation,
    Member,
    Membership,
    Registry,
    build_invitation,
    build_membership_credential,
    build_registry,
    member_keys,
    verify_invitation,
    verify_membership_credential,
    verify_registry,
    verify_registry_chain,
)

FEDERATION_CONTEXT = "https://passeport.example/ns/federation/v1"

__all__ = [
    "BUNDLE_TYPE",
    "EVENT_TYPES",
    "FEDERATION_CONTEXT",
    "PROFILE_TAG",
    "ROLES",
    "Bundle",
    "ChainGapError",
    "Cursor",
    "ExpiredError",
    "FeedUpdate",
    "ForkError",
    "HttpRequest",
    "ImpersonationError",
    "Invitation",
    "Member",
    "Membership",
    "NonceCache",
    "NotAMemberError",
    "OversizedError",
    "Registry",
    "RegistryLinkError",
    "ReplayError",
    "TrustAnchor",
    "UntrustedError",
    "VerifiedEvent",
    "VerifiedRequest",
    "build_bundle",
    "build_event",
    "build_feed_page",
    "build_invitation",
    "build_membership_credential",
    "build_notice",
    "build_registry",
    "canonicalize",
    "check_content_digest",
    "content_digest",
    "digest",
    "event_hash",
    "member_keys",
    "open_bundle",
    "packaged_context_digest",
    "packaged_context_text",
    "parse_notice",
    "parse_signatures",
    "resume_after",
    "sign_jcs",
    "sign_request",
    "signature_base",
    "verify_event",
    "verify_feed_page",
    "verify_invitation",
    "verify_jcs",
    "verify_member_request",
    "verify_membership_credential",
    "verify_registry",
    "verify_registry_chain",
    "verify_request_signature",
]
