"""Open Badges 3.0: data model, builders and data-model validation.

* :mod:`protocol.ob.model`: dataclasses with lossless ``from_dict`` / ``to_dict``;
* :mod:`protocol.ob.build`: unsigned credentials, endorsements, hashed e-mail identities;
* :mod:`protocol.ob.validate`: VC 2.0 + OB 3.0 rules and the packaged 1EdTech JSON Schemas,
  reported as :class:`Issue` lists;
* :mod:`protocol.ob.schema`: the packaged schemas and their cached validators.

Pure: no network, no clock, no disk access beyond the packaged schemas.
"""

from __future__ import annotations

from .build import (
    EXTENSION_TYPES,
    build_credential,
    build_endorsement,
    contexts_for,
    hashed_email_identity,
    normalize_email,
)
from .model import (
    OB_CONTEXT_3_0_3,
    OB_EXTENSIONS_CONTEXT,
    VC_CONTEXT_V2,
    Achievement,
    AchievementCredential,
    AchievementSubject,
    Alignment,
    Criteria,
    EndorsementCredential,
    EndorsementSubject,
    Evidence,
    IdentityObject,
    Image,
    OpenBadgeCredential,
    Profile,
    Result,
    ResultDescription,
    RubricCriterionLevel,
)
from .report import Issue
from .schema import load_schema, schema_issues
from .validate import (
    OB_CONTEXT_PATTERN,
    check_recipient,
    credential_kind,
    validate,
    validate_presentation,
    validate_profile,
)

__all__ = [
    "EXTENSION_TYPES",
    "OB_CONTEXT_3_0_3",
    "OB_CONTEXT_PATTERN",
    "OB_EXTENSIONS_CONTEXT",
    "VC_CONTEXT_V2",
    "Achievement",
    "AchievementCredential",
    "AchievementSubject",
    "Alignment",
    "Criteria",
    "EndorsementCredential",
    "EndorsementSubject",
    "Evidence",
    "IdentityObject",
    "Image",
    "Issue",
    "OpenBadgeCredential",
    "Profile",
    "Result",
    "ResultDescription",
    "RubricCriterionLevel",
    "build_credential",
    "build_endorsement",
    "check_recipient",
    "contexts_for",
    "credential_kind",
    "hashed_email_identity",
    "load_schema",
    "normalize_email",
    "schema_issues",
    "validate",
    "validate_presentation",
    "validate_profile",
]
