"""W3C Data Integrity: add and verify proofs (sets and chains) with the supported cryptosuites.

``sign``/``verify_proofs`` cover eddsa-rdfc-2022, ecdsa-rdfc-2019 and (verification only)
Ed25519Signature2020 and derived ecdsa-sd-2023 proofs; ``sign_base``, ``derive`` and
``verify_base`` are the issuer's and holder's ecdsa-sd-2023 operations.
"""

from .ecdsa_sd_2023 import derive, sign_base, verify_base
from .proofs import ProofResult, all_proofs, sign, verify_proofs
from .suites import SIGNING_SUITES, SUITES, suite_for_proof

__all__ = [
    "SIGNING_SUITES",
    "SUITES",
    "ProofResult",
    "all_proofs",
    "derive",
    "sign",
    "sign_base",
    "suite_for_proof",
    "verify_base",
    "verify_proofs",
]
