"""Every error that :mod:`protocol` raises on bad input.

Callers catch :class:`ProtocolError` and nothing else: foreign exceptions (pyld, PyNaCl,
cryptography, binascii, cbor2) are wrapped where they enter the package. Programmer errors (a
missing argument, a wrong type) raise ``TypeError``/``ValueError`` and are never caught.

Each class carries a stable ``code`` used as the problem-details ``type`` suffix on HTTP and in
structured verification reports (see ``specs/errors.md``).
"""

from __future__ import annotations

__all__ = [
    "CanonicalizationError",
    "DataLossError",
    "DocumentLoaderError",
    "InvalidProof",
    "KeyResolutionError",
    "MalformedError",
    "ProtocolError",
    "PurposeMismatch",
    "SchemaError",
    "StatusListLengthError",
    "StatusRangeError",
    "StatusRetrievalError",
    "StatusVerificationError",
    "UnsupportedError",
    "VerificationError",
]


class ProtocolError(Exception):
    """Base for everything protocol raises on bad input."""

    code = "PROTOCOL_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedError(ProtocolError):
    """Input is not well-formed (JSON shape, multibase, CBOR, JSON-LD syntax)."""

    code = "MALFORMED_VALUE_ERROR"


class UnsupportedError(ProtocolError):
    """Well-formed input that we refuse: unknown cryptosuite, DID method, key type."""

    code = "UNSUPPORTED_ERROR"


class DocumentLoaderError(MalformedError):
    """A URL outside the packaged allowlist was dereferenced."""

    code = "DOCUMENT_LOADER_ERROR"


class DataLossError(MalformedError):
    """JSON-LD processing would drop a term or a relative IRI (Data Integrity forbids it)."""

    code = "DATA_LOSS_DETECTION_ERROR"


class CanonicalizationError(ProtocolError):
    """RDFC-1.0 gave up: the dataset is too large or too complex (a poison graph)."""

    code = "PROOF_TRANSFORMATION_ERROR"


class SchemaError(MalformedError):
    """A document does not satisfy a JSON Schema or a data-model rule."""

    code = "SCHEMA_ERROR"


class VerificationError(ProtocolError):
    """A verification step failed."""

    code = "PROOF_VERIFICATION_ERROR"


class InvalidProof(VerificationError):
    """A signature or proof value does not verify."""

    code = "PROOF_VERIFICATION_ERROR"


class PurposeMismatch(VerificationError):
    """Wrong proofPurpose, challenge or domain."""

    code = "PROOF_PURPOSE_ERROR"


class KeyResolutionError(VerificationError):
    """A verification method could not be resolved, or does not belong to the signer."""

    code = "KEY_RESOLUTION_ERROR"


class StatusVerificationError(VerificationError):
    """A status list credential cannot be trusted for an entry: unsigned or badly signed, signed
    by someone other than its issuer, not the list the entry names, or without the entry's
    purpose (Bitstring Status List 3.2, STATUS_VERIFICATION_ERROR)."""

    code = "STATUS_VERIFICATION_ERROR"


class StatusRetrievalError(VerificationError):
    """No usable status list is at hand: it was not provided, it is outside its validity period,
    or it is older than the verifier accepts (BSL 3.2, STATUS_RETRIEVAL_ERROR). The status is
    unknown, never "not revoked"."""

    code = "STATUS_RETRIEVAL_ERROR"


class StatusListLengthError(VerificationError):
    """A status list holds fewer entries than the minimum that gives holders group privacy
    (BSL 3.2, STATUS_LIST_LENGTH_ERROR)."""

    code = "STATUS_LIST_LENGTH_ERROR"


class StatusRangeError(VerificationError):
    """A status list index lies outside its list (VC 2.0 RANGE_ERROR, used by BSL 3.2)."""

    code = "RANGE_ERROR"
