"""Former name of :mod:`protocol.timeutil`, kept while callers move; use ``protocol.timeutil``."""

from __future__ import annotations

from datetime import datetime

from .timeutil import format_datetime
from .timeutil import parse_datetime as _parse_datetime

__all__ = ["format_datetime", "parse_datetime"]


def parse_datetime(text: object, *, what: str = "date", require_timezone: bool = False) -> datetime:
    """:func:`protocol.timeutil.parse_datetime`, reading a zoneless value as UTC by default."""
    return _parse_datetime(text, what=what, require_timezone=require_timezone)
