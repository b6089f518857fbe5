"""W3C Data Integrity: add and verify proofs (sets and chains) with the supported cryptosuites."""

from .proofs import ProofResult, all_proofs, sign, verify_proofs
from .suites import SIGNING_SUITES, SUITES, suite_for_proof

__all__ = [
    "SIGNING_SUITES",
    "SUITES",
    "ProofResult",
    "all_proofs",
    "sign",
    "suite_for_proof",
    "verify_proofs",
]
