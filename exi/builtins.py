"""The XSD built-in datatypes this codec represents: their primitive family, implicit bounds and base type.

XML Schema Part 2 §3 defines the hierarchy; EXI chooses a representation from the primitive family and the
effective bounds (:mod:`exi.datatypes`), and ``xsi:type`` may name a built-in only if it derives from the declared
type, which needs the bases.
"""

from __future__ import annotations

__all__ = ["BUILTINS", "BUILTIN_BASES"]

_I64 = 2**63
# Built-in datatypes: name -> (primitive family, implicit minInclusive, implicit maxInclusive).
BUILTINS: dict[str, tuple[str, int | None, int | None]] = {
    "string": ("string", None, None),
    "normalizedString": ("string", None, None),
    "token": ("string", None, None),
    "language": ("string", None, None),
    "Name": ("string", None, None),
    "NCName": ("string", None, None),
    "NMTOKEN": ("string", None, None),
    "ID": ("string", None, None),
    "IDREF": ("string", None, None),
    "ENTITY": ("string", None, None),
    "anyURI": ("string", None, None),
    "QName": ("string", None, None),
    "boolean": ("boolean", None, None),
    "hexBinary": ("hexBinary", None, None),
    "base64Binary": ("base64Binary", None, None),
    "integer": ("integer", None, None),
    "nonNegativeInteger": ("integer", 0, None),
    "positiveInteger": ("integer", 1, None),
    "nonPositiveInteger": ("integer", None, 0),
    "negativeInteger": ("integer", None, -1),
    "long": ("integer", -_I64, _I64 - 1),
    "int": ("integer", -(2**31), 2**31 - 1),
    "short": ("integer", -(2**15), 2**15 - 1),
    "byte": ("integer", -128, 127),
    "unsignedLong": ("integer", 0, 2**64 - 1),
    "unsignedInt": ("integer", 0, 2**32 - 1),
    "unsignedShort": ("integer", 0, 2**16 - 1),
    "unsignedByte": ("integer", 0, 255),
}
# The base of each built-in in the XSD type hierarchy (XML Schema Part 2 §3); the primitives have none here.
BUILTIN_BASES: dict[str, str] = {
    "normalizedString": "string",
    "token": "normalizedString",
    "language": "token",
    "Name": "token",
    "NCName": "Name",
    "NMTOKEN": "token",
    "ID": "NCName",
    "IDREF": "NCName",
    "ENTITY": "NCName",
    "nonNegativeInteger": "integer",
    "positiveInteger": "nonNegativeInteger",
    "nonPositiveInteger": "integer",
    "negativeInteger": "nonPositiveInteger",
    "long": "integer",
    "int": "long",
    "short": "int",
    "byte": "short",
    "unsignedLong": "nonNegativeInteger",
    "unsignedInt": "unsignedLong",
    "unsignedShort": "unsignedInt",
    "unsignedByte": "unsignedShort",
}
