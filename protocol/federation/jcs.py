"""JSON Canonicalization Scheme (RFC 8785) and the digests federation documents are named by.

https://www.rfc-editor.org/rfc/rfc8785. The canonical form of a JSON value is its serialisation
with (3.2.1) no whitespace, (3.2.2) literals as in ECMAScript ``JSON.stringify``: strings with
the minimal escapes, numbers in the ECMAScript ``Number.prototype.toString`` form of their IEEE
754 double value, and (3.2.3) object members sorted by the UTF-16 code units of their names.

Values are the ones :func:`protocol.encoding.parse_json` produces: ``dict`` with string keys,
``list``, ``str``, ``int``, ``float``, ``bool`` and ``None``. Integers beyond 2**53 that no
double holds exactly are refused (I-JSON, RFC 7493 section 2.2: they do not survive a round trip
through a double), as are NaN, the infinities and strings holding lone surrogates.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import MalformedError
from ..limits import MAX_JSON_DEPTH

__all__ = ["canonicalize", "digest", "format_number"]

#: Largest integer magnitude a double holds exactly (I-JSON).
_MAX_SAFE_INTEGER = 2**53 - 1

_DIGEST_PREFIX = "sha256:"


def format_number(value: float | int) -> str:
    """The ECMAScript ``Number.prototype.toString`` text of ``value`` (RFC 8785 section 3.2.2.3).

    >>> format_number(1e21), format_number(1e-7), format_number(-0.0), format_number(4.5)
    ('1e+21', '1e-7', '0', '4.5')
    """
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int):
        if abs(value) <= _MAX_SAFE_INTEGER:
            return str(value)
        # RFC 8785 reads every number as an IEEE 754 double. A larger integer is accepted only
        # when its text is already the canonical text of a double (2**53, 2**68, 57560342835188970
        # for 5.756034283518897e16); any other would silently change.
        try:
            text = format_number(float(value))
        except OverflowError:
            text = ""
        if text != str(value):
            raise MalformedError(
                f"integer {value} is beyond 2**53 and not the canonical text of a double (I-JSON)"
            )
        return text
    if not math.isfinite(value):
        raise MalformedError("NaN and Infinity have no JSON form")
    if value == 0:
        return "0"  # Also -0 (ECMAScript: "If m is +0 or -0, return '0'").
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip, as ECMAScript requires; only the layout
    # of those digits differs between the two languages. Read them as s * 10**(n - k) with k
    # digits in s (ECMA-262, Number::toString).
    mantissa, _, exponent_text = repr(abs(value)).partition("e")
    exponent = int(exponent_text) if exponent_text else 0
    int_part, _, frac_part = mantissa.partition(".")
    if int_part == "0":
        significant = frac_part.lstrip("0")
        n = exponent - (len(frac_part) - len(significant))
    else:
        significant = int_part + frac_part
        n = exponent + len(int_part)
    digits = significant.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        exp = f"e+{e}" if e >= 0 else f"e-{-e}"
        text = digits + exp if k == 1 else digits[0] + "." + digits[1:] + exp
    return sign + text


def _utf16_key(name: str) -> bytes:
    return name.encode("utf-16-be", "surrogatepass")


def _write(value: Any, out: list[str], depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise MalformedError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int | float):
        out.append(format_number(value))
    elif isinstance(value, Mapping):
        out.append("{")
        first = True
        for name in sorted(value, key=_check_name_and_key):
            if not first:
                out.append(",")
            first = False
            out.append(json.dumps(name, ensure_ascii=False))
            out.append(":")
            _write(value[name], out, depth + 1)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out, depth + 1)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def _check_name_and_key(name: object) -> bytes:
    if not isinstance(name, str):
        raise TypeError("JSON object member names must be strings")
    return _utf16_key(name)


def _needs_slow_path(value: Any, depth: int = 0) -> bool:
    """Whether the standard library's sorted serialisation could differ from RFC 8785.

    ``json.dumps(sort_keys=True)`` orders names by code point and prints floats with ``repr``;
    both agree with RFC 8785 when there is no float, no integer beyond 2**53, and no member
    name with a character above U+FFFF (code point order equals UTF-16 order below it).
    """
    if depth > MAX_JSON_DEPTH:
        raise MalformedError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for name, item in value.items():
            if not isinstance(name, str):
                raise TypeError("JSON object member names must be strings")
            if not name.isascii() and any(ord(ch) > 0xFFFF for ch in name):
                return True
            if isinstance(item, dict | list) and _needs_slow_path(item, depth + 1):
                return True
            if _unsafe_number(item):
                return True
        return False
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list) and _needs_slow_path(item, depth + 1):
                return True
            if _unsafe_number(item):
                return True
        return False
    return _unsafe_number(value)


def _unsafe_number(value: Any) -> bool:
    """A float, or an integer beyond 2**53: values the standard library would print otherwise."""
    if isinstance(value, float):
        return True
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_SAFE_INTEGER


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value.

    Raises:
        MalformedError: a number has no exact canonical form (NaN, infinities, integers beyond
            2**53), a string holds a lone surrogate, or nesting is deeper than the limit.
        TypeError: ``value`` holds something that is not a JSON value.
    """
    if _needs_slow_path(value):
        out: list[str] = []
        _write(value, out, 0)
        text = "".join(out)
    else:
        try:
            text = json.dumps(
                value,
                ensure_ascii=False,
                sort_keys=True,
                separators=(",", ":"),
                allow_nan=False,
                check_circular=False,
            )
        except ValueError as exc:  # pragma: no cover - floats take the slow path
            raise MalformedError(str(exc)) from exc
        except RecursionError as exc:
            raise MalformedError("JSON nested too deeply") from exc
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedError("a JSON string holds a lone surrogate (not Unicode text)") from exc


def digest(value: Any) -> str:
    """``sha256:`` and the lowercase hex SHA-256 of the canonical form of ``value``.

    This names registries (``previousRegistry``) and events (``prev``, cursors).
    """
    return _DIGEST_PREFIX + hashlib.sha256(canonicalize(value)).hexdigest()
