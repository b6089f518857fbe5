"""Structured Field Values for HTTP (RFC 8941): the parts HTTP Message Signatures need.

https://www.rfc-editor.org/rfc/rfc8941. Parsing follows section 4.2 (dictionaries, inner lists,
items with parameters; integers, decimals, strings, tokens, byte sequences, booleans) and
serialisation section 4.1, so that ``serialize_inner_list(parse(...))`` gives the canonical
text a signature base needs. Errors are :class:`~protocol.errors.MalformedError`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from decimal import Decimal

from ..errors import MalformedError

__all__ = [
    "BareItem",
    "InnerList",
    "Item",
    "Parameters",
    "Token",
    "parse_dictionary",
    "serialize_inner_list",
    "serialize_item",
]


@dataclass(frozen=True)
class Token:
    """An sf-token (RFC 8941 section 3.3.4), kept apart from strings."""

    value: str


BareItem = int | Decimal | str | Token | bytes | bool
Parameters = dict[str, BareItem]


@dataclass(frozen=True)
class Item:
    """A bare item with its parameters."""

    value: BareItem
    params: Parameters


@dataclass(frozen=True)
class InnerList:
    """An inner list of items, with the list's parameters."""

    items: tuple[Item, ...]
    params: Parameters


_KEY_START = re.compile(r"[a-z*]")
_KEY_CHARS = re.compile(r"[a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_BASE64 = re.compile(r"[A-Za-z0-9+/=]*")
_MAX_INTEGER = 999_999_999_999_999


class _Parser:
    def __init__(self, text: str) -> None:
        if not text.isascii():
            raise MalformedError("a structured field is ASCII")
        self.text = text
        self.pos = 0

    def error(self, message: str) -> MalformedError:
        return MalformedError(f"structured field, at {self.pos}: {message}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_sp(self) -> None:
        while self.peek() == " ":
            self.pos += 1

    def skip_ows(self) -> None:
        while self.peek() in (" ", "\t"):
            self.pos += 1

    def key(self) -> str:
        if not _KEY_START.match(self.peek()):
            raise self.error("a key starts with a lowercase letter or '*'")
        match = _KEY_CHARS.match(self.text, self.pos + 1)
        assert match is not None
        key = self.text[self.pos : match.end()]
        self.pos = match.end()
        return key

    def params(self) -> Parameters:
        params: Parameters = {}
        while self.peek() == ";":
            self.pos += 1
            self.skip_sp()
            name = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()
            params[name] = value
        return params

    def bare_item(self) -> BareItem:
        ch = self.peek()
        if ch == "-" or ch.isdigit():
            return self.number()
        if ch == '"':
            return self.string()
        if ch == ":":
            return self.byte_sequence()
        if ch == "?":
            return self.boolean()
        if ch.isalpha() or ch == "*":
            match = _TOKEN.match(self.text, self.pos)
            assert match is not None
            self.pos = match.end()
            return Token(match.group(0))
        raise self.error("not an item")

    def number(self) -> int | Decimal:
        start = self.pos
        if self.peek() == "-":
            self.pos += 1
        digits_start = self.pos
        while self.peek().isdigit():
            self.pos += 1
        if self.pos == digits_start:
            raise self.error("a number needs digits")
        if self.peek() == ".":
            if self.pos - digits_start > 12:
                raise self.error("a decimal has at most 12 integer digits")
            self.pos += 1
            frac_start = self.pos
            while self.peek().isdigit():
                self.pos += 1
            if not 1 <= self.pos - frac_start <= 3:
                raise self.error("a decimal has 1 to 3 fractional digits")
            return Decimal(self.text[start : self.pos])
        if self.pos - digits_start > 15:
            raise self.error("an integer has at most 15 digits")
        return int(self.text[start : self.pos])

    def string(self) -> str:
        self.pos += 1
        out: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                raise self.error("unterminated string")
            self.pos += 1
            if ch == "\\":
                nxt = self.peek()
                if nxt not in ('"', "\\"):
                    raise self.error("a string escapes only '\"' and '\\'")
                out.append(nxt)
                self.pos += 1
            elif ch == '"':
                return "".join(out)
            elif not " " <= ch <= "~":
                raise self.error("a string holds printable ASCII only")
            else:
                out.append(ch)

    def byte_sequence(self) -> bytes:
        end = self.text.find(":", self.pos + 1)
        if end < 0:
            raise self.error("unterminated byte sequence")
        body = self.text[self.pos + 1 : end]
        if not _BASE64.fullmatch(body):
            raise self.error("a byte sequence is base64")
        self.pos = end + 1
        try:
            return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        except binascii.Error as exc:
            raise self.error("a byte sequence is base64") from exc

    def boolean(self) -> bool:
        self.pos += 1
        ch = self.peek()
        if ch not in ("0", "1"):
            raise self.error("a boolean is ?0 or ?1")
        self.pos += 1
        return ch == "1"

    def item_or_inner_list(self) -> Item | InnerList:
        if self.peek() == "(":
            self.pos += 1
            items: list[Item] = []
            while True:
                self.skip_sp()
                if self.peek() == ")":
                    self.pos += 1
                    return InnerList(tuple(items), self.params())
                value = self.bare_item()
                items.append(Item(value, self.params()))
                if self.peek() not in (" ", ")"):
                    raise self.error("inner list items are separated by spaces")
        value = self.bare_item()
        return Item(value, self.params())


def parse_dictionary(text: str) -> dict[str, Item | InnerList]:
    """Parse an sf-dictionary (RFC 8941 section 4.2.2); a repeated key keeps its last value."""
    parser = _Parser(text)
    parser.skip_sp()
    out: dict[str, Item | InnerList] = {}
    while parser.peek():
        name = parser.key()
        if parser.peek() == "=":
            parser.pos += 1
            member = parser.item_or_inner_list()
        else:
            member = Item(True, parser.params())
        out[name] = member
        parser.skip_ows()
        if not parser.peek():
            return out
        if parser.peek() != ",":
            raise parser.error("dictionary members are separated by ','")
        parser.pos += 1
        parser.skip_ows()
        if not parser.peek():
            raise parser.error("a dictionary does not end with ','")
    return out


def _serialize_bare(value: BareItem) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        if abs(value) > _MAX_INTEGER:
            raise ValueError("an sf-integer has at most 15 digits")
        return str(value)
    if isinstance(value, Decimal):
        text = format(value.quantize(Decimal("0.001")).normalize(), "f")
        return text if "." in text else text + ".0"
    if isinstance(value, Token):
        if not _TOKEN.fullmatch(value.value):
            raise ValueError(f"{value.value!r} is not an sf-token")
        return value.value
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if not all(" " <= ch <= "~" for ch in value):
        raise ValueError("an sf-string holds printable ASCII only")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _serialize_params(params: Parameters) -> str:
    out = []
    for name, value in params.items():
        out.append(f";{name}" if value is True else f";{name}={_serialize_bare(value)}")
    return "".join(out)


def serialize_item(item: Item) -> str:
    """An item with its parameters (RFC 8941 section 4.1.3)."""
    return _serialize_bare(item.value) + _serialize_params(item.params)


def serialize_inner_list(inner: InnerList) -> str:
    """An inner list with its parameters (RFC 8941 section 4.1.1.1)."""
    return (
        "("
        + " ".join(serialize_item(i) for i in inner.items)
        + ")"
        + _serialize_params(inner.params)
    )
