"""XML Schema ``dateTimeStamp`` values as VC 2.0 and Data Integrity use them.

VC 2.0 requires a time zone on ``validFrom``/``validUntil`` (dateTimeStamp); Data Integrity lets a
proof's ``created`` omit it, read as UTC. Datetimes handed to this package must be aware.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from .errors import MalformedError

__all__ = ["format_datetime", "parse_datetime"]

_DATETIME = re.compile(
    r"^(?P<year>-?\d{4,})-(?P<month>\d{2})-(?P<day>\d{2})T(?P<hour>\d{2}):(?P<minute>\d{2}):"
    r"(?P<second>\d{2})(?P<fraction>\.\d+)?(?P<tz>Z|[+-]\d{2}:\d{2})?$"
)


def parse_datetime(text: object, *, what: str = "date", require_timezone: bool = False) -> datetime:
    """Parse an XML Schema dateTime into an aware UTC datetime.

    A value without a time zone is read as UTC unless ``require_timezone`` (dateTimeStamp).
    Raises :class:`MalformedError` naming ``what`` on any other form.
    """
    if not isinstance(text, str):
        raise MalformedError(f"{what} must be a date-time string")
    m = _DATETIME.match(text)
    if m is None:
        raise MalformedError(f"{what} {text!r} is not an XML Schema dateTime")
    tz_text = m.group("tz")
    if tz_text is None and require_timezone:
        raise MalformedError(f"{what} {text!r} has no time zone (a dateTimeStamp is required)")
    try:
        year = int(m.group("year"))
        hour = int(m.group("hour"))
        extra_day = hour == 24
        if extra_day:
            if m.group("minute") != "00" or m.group("second") != "00":
                raise ValueError("24:00:00 is the only time allowed at hour 24")
            hour = 0
        fraction = m.group("fraction") or ""
        micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
        if tz_text in (None, "Z"):
            tz: timezone = UTC
        else:
            sign = 1 if tz_text[0] == "+" else -1
            offset = timedelta(hours=int(tz_text[1:3]), minutes=int(tz_text[4:6]))
            if offset > timedelta(hours=14):
                raise ValueError("time zone offset beyond 14:00")
            tz = timezone(sign * offset)
        value = datetime(
            year,
            int(m.group("month")),
            int(m.group("day")),
            hour,
            int(m.group("minute")),
            int(m.group("second")),
            micro,
            tzinfo=tz,
        )
        if extra_day:
            value += timedelta(days=1)
    except (ValueError, OverflowError) as exc:
        raise MalformedError(f"{what} {text!r} is not a valid date-time: {exc}") from exc
    return value.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, seconds precision)."""
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
