"""Offline JSON-LD document loading: only packaged context documents, never a socket.

DID documents and status lists are *not* served here: they reach verification as explicit
materials, so contexts and key material never share a trust path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from ..errors import DocumentLoaderError

__all__ = ["CONTEXT_URLS", "StaticDocumentLoader", "default_loader", "packaged_contexts"]


@cache
def packaged_contexts() -> Mapping[str, Any]:
    """Every packaged context document, by URL (read once from the package data)."""
    base = resources.files("protocol.jsonld") / "contexts"
    manifest = json.loads((base / "MANIFEST.json").read_text("utf-8"))
    docs = {
        url: json.loads((base / entry["file"]).read_text("utf-8"))
        for url, entry in manifest.items()
    }
    return MappingProxyType(docs)


class StaticDocumentLoader:
    """A pyld-compatible document loader that serves an allowlist of documents.

    Any other URL raises :class:`DocumentLoaderError` naming it. The returned remote documents carry
    no ``tag``, so pyld never caches them process-wide by URL.
    """

    def __init__(self, documents: Mapping[str, Any]) -> None:
        self._documents = dict(documents)

    @property
    def urls(self) -> frozenset[str]:
        """The URLs this loader serves."""
        return frozenset(self._documents)

    def get(self, url: str) -> Any:
        """Return the parsed document for ``url``."""
        try:
            return self._documents[url]
        except KeyError:
            raise DocumentLoaderError(
                f"unknown JSON-LD context {url!r}: only packaged contexts are loaded, "
                "nothing is fetched"
            ) from None

    def extend(self, documents: Mapping[str, Any]) -> StaticDocumentLoader:
        """A new loader serving these documents as well as this loader's."""
        merged = dict(self._documents)
        merged.update(documents)
        return StaticDocumentLoader(merged)

    def __call__(self, url: str, options: Any = None) -> dict[str, Any]:
        return {"contextUrl": None, "documentUrl": url, "document": self.get(url)}

    def __contains__(self, url: object) -> bool:
        return url in self._documents


@cache
def default_loader() -> StaticDocumentLoader:
    """The loader over the packaged contexts (VC, DI, Multikey, DID, ed25519-2020, OB 3.0)."""
    return StaticDocumentLoader(packaged_contexts())


CONTEXT_URLS = frozenset(packaged_contexts())
