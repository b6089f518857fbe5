"""RDF terms, quads and canonical N-Quads (RDFC-1.0 section 4.8 / RDF 1.2 canonical N-Quads).

A quad is a tuple of four strings ``(subject, predicate, object, graph)``; one string per term,
so that datasets are cheap to build, hash and sort:

* a blank node is ``"_:label"``;
* a literal is its complete canonical N-Quads form, starting with ``"`` (for example
  ``'"caf\u00e9"@fr'`` or ``'"2024-01-01T00:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime>'``);
* anything else is an absolute IRI, without angle brackets;
* the default graph is the empty string.
"""

from __future__ import annotations

import re

from .errors import MalformedError

__all__ = [
    "XSD_STRING",
    "Quad",
    "escape_string",
    "is_blank",
    "literal",
    "parse_nquads",
    "serialize_nquads",
    "serialize_quad",
    "term_nquads",
]

Quad = tuple[str, str, str, str]

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

_ESCAPES = {
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}
for _code in [*range(0x00, 0x08), 0x0B, *range(0x0E, 0x20), 0x7F]:
    _ESCAPES[chr(_code)] = f"\\u{_code:04X}"
_NEEDS_ESCAPE = re.compile("[" + "".join(re.escape(c) for c in _ESCAPES) + "]")


def escape_string(value: str) -> str:
    """Escape a literal's lexical form as canonical N-Quads requires (ECHAR, then UCHAR)."""
    if _NEEDS_ESCAPE.search(value) is None:
        return value
    return _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], value)


def literal(value: str, datatype: str = XSD_STRING, language: str | None = None) -> str:
    """Build the canonical term string of a literal."""
    body = '"' + escape_string(value) + '"'
    if language is not None:
        return body + "@" + language
    if datatype == XSD_STRING:
        return body
    return body + "^^<" + datatype + ">"


def is_blank(term: str) -> bool:
    """Whether a term string is a blank node."""
    return term.startswith("_:")


def term_nquads(term: str) -> str:
    """The N-Quads form of one term string."""
    if term.startswith("_:") or term.startswith('"'):
        return term
    return "<" + term + ">"


def serialize_quad(quad: Quad) -> str:
    """One canonical N-Quads line, with its final newline."""
    s, p, o, g = quad
    s = s if s.startswith("_:") else "<" + s + ">"
    if not (o.startswith("_:") or o.startswith('"')):
        o = "<" + o + ">"
    if g:
        g = g if g.startswith("_:") else "<" + g + ">"
        return f"{s} <{p}> {o} {g} .\n"
    return f"{s} <{p}> {o} .\n"


def serialize_nquads(quads: list[Quad]) -> str:
    """Serialize quads in the given order."""
    return "".join(serialize_quad(q) for q in quads)


# N-Quads parsing (used for the rdf-canon suite and for reading canonical forms back).
_IRI = r"<((?:[^<>\"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*)>"
_PN_CHARS = r"A-Za-z0-9_\-\u00B7\u00C0-\U000EFFFF"
_BNODE = r"(_:[A-Za-z0-9_\u00C0-\U000EFFFF](?:[" + _PN_CHARS + ".]*[" + _PN_CHARS + "])?)"
_LITERAL = r"(\"(?:[^\"\\\n\r]|\\.)*\")(?:\^\^" + _IRI + r"|@([a-zA-Z]+(?:-[a-zA-Z0-9]+)*))?"
_QUAD = re.compile(
    r"^\s*(?:" + _IRI + "|" + _BNODE + r")\s*" + _IRI + r"\s*(?:" + _IRI + "|" + _BNODE + "|"
    + _LITERAL + r")\s*(?:(?:" + _IRI + "|" + _BNODE + r")\s*)?\.\s*(?:#.*)?$"
)
_UNESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|([btnfr\"'\\]))")
_SIMPLE = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "'": "'", "\\": "\\"}


def _unescape(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            return chr(int(m.group(1), 16))
        if m.group(2):
            return chr(int(m.group(2), 16))
        return _SIMPLE[m.group(3)]

    return _UNESCAPE.sub(repl, text)


def parse_nquads(text: str) -> list[Quad]:
    """Parse N-Quads text into quads (terms normalised to the canonical term strings)."""
    quads: list[Quad] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _QUAD.match(line)
        if m is None:
            raise MalformedError(f"invalid N-Quads at line {number}: {line[:80]!r}")
        g = m.groups()
        subject = _unescape(g[0]) if g[0] is not None else g[1]
        predicate = _unescape(g[2])
        if g[3] is not None:
            obj = _unescape(g[3])
        elif g[4] is not None:
            obj = g[4]
        else:
            lexical = _unescape(g[5][1:-1])
            if g[7] is not None:
                obj = literal(lexical, RDF_LANGSTRING, g[7])
            else:
                obj = literal(lexical, _unescape(g[6]) if g[6] is not None else XSD_STRING)
        graph = _unescape(g[8]) if g[8] is not None else (g[9] or "")
        quads.append((subject, predicate, obj, graph))
    return quads
