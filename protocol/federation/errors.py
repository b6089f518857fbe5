"""Errors of the federation layer, each a :class:`~protocol.errors.ProtocolError`.

Callers catch :class:`~protocol.errors.ProtocolError` as everywhere in :mod:`protocol`; these
subclasses name the federation conditions so that a node can log a precise reason and answer
with a stable problem type (``code``).
"""

from __future__ import annotations

from ..errors import MalformedError, VerificationError

__all__ = [
    "ChainGapError",
    "ExpiredError",
    "ForkError",
    "ImpersonationError",
    "NotAMemberError",
    "OversizedError",
    "RegistryLinkError",
    "ReplayError",
    "UntrustedError",
]


class OversizedError(MalformedError):
    """A federation document is larger than its named limit (``protocol.limits``)."""

    code = "FEDERATION_OVERSIZED"


class NotAMemberError(VerificationError):
    """The party is not in the registry, or its membership has not started or has ended."""

    code = "FEDERATION_NOT_A_MEMBER"


class ImpersonationError(VerificationError):
    """A document names one member as its source but is signed by another key holder."""

    code = "FEDERATION_IMPERSONATION"


class ChainGapError(VerificationError):
    """An event does not follow the last one seen from its source (a missing sequence number
    or a ``prev`` that does not name the previous event)."""

    code = "FEDERATION_CHAIN_GAP"


class ForkError(VerificationError):
    """A source signed two different events with the same sequence number (equivocation)."""

    code = "FEDERATION_FORK"

    def __init__(self, message: str, *, seq: int, seen: str, received: str) -> None:
        super().__init__(message)
        self.seq = seq
        self.seen = seen
        self.received = received


class ReplayError(VerificationError):
    """A single-use value (an invitation or signature nonce) was presented again."""

    code = "FEDERATION_REPLAY"


class ExpiredError(VerificationError):
    """A time-limited document (invitation, signed request, registry) is outside its window."""

    code = "FEDERATION_EXPIRED"


class RegistryLinkError(VerificationError):
    """A registry version does not follow the previous one (rollback, gap, broken hash link,
    or another steward)."""

    code = "FEDERATION_REGISTRY_LINK"


class UntrustedError(VerificationError):
    """A document is signed by no one the verifier was told to trust."""

    code = "FEDERATION_UNTRUSTED"
