"""Strict timestamps: XML Schema ``dateTimeStamp`` / RFC 3339 parsing and UTC formatting.

Verifiable Credentials 2.0 types ``validFrom`` and ``validUntil`` as XML Schema 1.1
``dateTimeStamp`` (https://www.w3.org/TR/vc-data-model-2.0/#validity-period): a ``dateTime`` whose
time zone is *required*. This module accepts exactly the intersection of that lexical space and
RFC 3339 section 5.6 ``date-time`` that :mod:`datetime` can represent:

* ``YYYY-MM-DDThh:mm:ss`` with a four-digit year (0001-9999) and an upper-case ``T``;
* optional fractional seconds, any number of digits (kept to the microsecond, the rest is
  truncated);
* a mandatory zone: ``Z`` or ``+hh:mm`` / ``-hh:mm`` within +-14:00 (the XML Schema bound);
* ``24:00:00`` (XML Schema's end of day) is read as midnight of the next day; leap seconds
  (``:60``) are refused because no :class:`datetime` can hold them.

A value without a zone is refused: a naive timestamp names no instant.

>>> parse_datetime("2022-11-10T07:38:00-08:00")
datetime.datetime(2022, 11, 10, 15, 38, tzinfo=datetime.timezone.utc)
>>> format_datetime(parse_datetime("2010-01-01T00:00:00.999+01:00"))
'2009-12-31T23:00:00Z'

This module never reads the clock: the current time is always a ``now`` argument.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from .errors import MalformedError

__all__ = ["format_datetime", "is_datetime_stamp", "parse_datetime", "require_aware"]

_DATETIME_STAMP = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?P<zone>Z|(?P<sign>[+-])(?P<zh>[0-9]{2}):(?P<zm>[0-9]{2}))",
    re.ASCII,
)

#: Longest timestamp text accepted, in characters (a bound on the fractional digits).
_MAX_TEXT = 64


def parse_datetime(
    text: object, *, what: str = "timestamp", require_timezone: bool = True
) -> datetime:
    """Parse a ``dateTimeStamp`` (time zone required) into an aware UTC :class:`datetime`.

    Args:
        text: the lexical timestamp, e.g. ``"2010-01-01T00:00:00Z"``.
        what: how error messages name the value (``"validFrom"``, ``"proof created"``...).
        require_timezone: when false, a value without a zone is read as UTC, as Data Integrity
            allows for a proof's ``created`` and as VC 1.1 dates were often written.

    Returns:
        The instant, with ``tzinfo=UTC``.

    Raises:
        MalformedError: the value is not a string, has no time zone, or is not a valid date/time.
    """
    if not isinstance(text, str):
        raise MalformedError(f"{what} must be a timestamp string, got {type(text).__name__}")
    if len(text) > _MAX_TEXT:
        raise MalformedError(f"{what} is too long to be a timestamp")
    if not require_timezone and _looks_naive(text):
        text = text + "Z"
    match = _DATETIME_STAMP.fullmatch(text)
    if match is None:
        if _looks_naive(text):
            raise MalformedError(f"{what} {text!r} has no time zone (expected 'Z' or +hh:mm)")
        raise MalformedError(f"{what} {text!r} is not an RFC 3339 / XML Schema dateTimeStamp")
    year, month, day = (int(match[k]) for k in ("year", "month", "day"))
    hour, minute, second = (int(match[k]) for k in ("hour", "minute", "second"))
    fraction = match["fraction"] or ""
    microsecond = int((fraction + "000000")[:6])
    if year == 0:
        raise MalformedError(f"{what} {text!r}: year 0000 is outside the supported range")
    end_of_day = hour == 24
    if end_of_day:
        if minute or second or fraction.strip("0"):
            raise MalformedError(f"{what} {text!r}: hour 24 is only valid as 24:00:00")
        hour = 0
    if second == 60:
        raise MalformedError(f"{what} {text!r}: leap seconds are not supported")
    offset = _parse_zone(text, match, what)
    try:
        local = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)
        if end_of_day:
            local += timedelta(days=1)
        return local - offset
    except (ValueError, OverflowError) as exc:
        raise MalformedError(f"{what} {text!r} is not a valid date/time: {exc}") from exc


def _parse_zone(text: str, match: re.Match[str], what: str) -> timedelta:
    if match["zone"] == "Z":
        return timedelta(0)
    hours, minutes = int(match["zh"]), int(match["zm"])
    if minutes > 59 or hours > 14 or (hours == 14 and minutes):
        raise MalformedError(f"{what} {text!r}: time zone offset outside -14:00..+14:00")
    offset = timedelta(hours=hours, minutes=minutes)
    return -offset if match["sign"] == "-" else offset


_NAIVE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?", re.ASCII)


def _looks_naive(text: str) -> bool:
    return _NAIVE.fullmatch(text) is not None


def is_datetime_stamp(text: object) -> bool:
    """True when ``text`` is a string :func:`parse_datetime` accepts."""
    if not isinstance(text, str):
        return False
    try:
        parse_datetime(text)
    except MalformedError:
        return False
    return True


def require_aware(value: datetime, name: str = "datetime") -> datetime:
    """Return ``value`` converted to UTC; raise ``ValueError`` when it is naive.

    A naive datetime handed to protocol is a programmer error (the caller forgot the zone), so
    this raises ``ValueError`` rather than a :class:`~protocol.errors.ProtocolError`.
    """
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    offset = value.utcoffset()
    if value.tzinfo is None or offset is None:
        raise ValueError(f"{name} must be timezone-aware (naive datetimes name no instant)")
    return value.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDThh:mm:ssZ`` in UTC, to the second.

    Sub-second digits are dropped (truncated, never rounded up past the instant).

    Raises:
        ValueError: ``value`` is naive.
    """
    utc = require_aware(value, "value")
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"
    )
