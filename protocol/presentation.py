"""Verifiable presentations: build and sign them for a holder (VC 2.0 section 4.13).

The holder signs with ``authentication`` purpose, binding the presentation to the verifier's
``challenge`` (against replay) and ``domain`` (against forwarding to another verifier).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from .di import sign
from .jsonld.loader import StaticDocumentLoader
from .keys import KeyPair
from .limits import MAX_CREDENTIALS_PER_PRESENTATION

__all__ = ["build_presentation", "sign_presentation"]

VC_CONTEXT_V2 = "https://www.w3.org/ns/credentials/v2"


def build_presentation(
    *,
    holder: str,
    credentials: Sequence[Mapping[str, Any]],
    presentation_id: str | None = None,
) -> dict[str, Any]:
    """An unsigned VerifiablePresentation carrying ``credentials`` (each a secured credential)."""
    if len(credentials) > MAX_CREDENTIALS_PER_PRESENTATION:
        raise ValueError(f"at most {MAX_CREDENTIALS_PER_PRESENTATION} credentials per presentation")
    presentation: dict[str, Any] = {"@context": [VC_CONTEXT_V2]}
    if presentation_id is not None:
        presentation["id"] = presentation_id
    presentation["type"] = ["VerifiablePresentation"]
    presentation["holder"] = holder
    if credentials:
        presentation["verifiableCredential"] = [dict(c) for c in credentials]
    return presentation


def sign_presentation(
    presentation: Mapping[str, Any],
    *,
    key: KeyPair,
    challenge: str,
    domain: str | Sequence[str],
    created: datetime,
    suite: str = "eddsa-rdfc-2022",
    loader: StaticDocumentLoader | None = None,
) -> dict[str, Any]:
    """Sign a presentation as its holder: ``authentication`` purpose with challenge and domain."""
    holder = presentation.get("holder")
    holder_id = holder.get("id") if isinstance(holder, Mapping) else holder
    if holder_id is not None and holder_id != key.controller:
        raise ValueError(
            f"the presentation's holder is {holder_id}, the key belongs to {key.controller}"
        )
    return sign(
        presentation,
        key=key,
        created=created,
        suite=suite,
        purpose="authentication",
        challenge=challenge,
        domain=domain,
        loader=loader,
    )
