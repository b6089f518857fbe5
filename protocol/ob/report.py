"""Validation findings: :class:`Issue` and the JSON path notation used in them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Issue", "join_path"]


@dataclass(frozen=True, order=True)
class Issue:
    """One reason a document does not conform, located by a JSON path.

    ``path`` uses dots for members and ``[i]`` for array items, relative to the validated
    document (``""`` is the document itself), e.g. ``credentialSubject.achievement.criteria`` or
    ``evidence[0].type``. ``message`` is a human-readable sentence fragment.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def join_path(base: str, *parts: str | int) -> str:
    """Extend ``base`` with member names (``.name``) and array indexes (``[i]``).

    >>> join_path("", "credentialSubject", "result", 0, "type")
    'credentialSubject.result[0].type'
    """
    out = base
    for part in parts:
        if isinstance(part, int):
            out = f"{out}[{part}]"
        elif out:
            out = f"{out}.{part}"
        else:
            out = part
    return out


def path_of(parts: Iterable[str | int], base: str = "") -> str:
    """The :func:`join_path` of an iterable of parts (a jsonschema ``absolute_path``)."""
    return join_path(base, *parts)
