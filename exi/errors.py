"""The exception tree of the EXI codec.

::

    ExiError
     ├── SchemaError    an XSD could not be read or compiled into grammars
     ├── EncodeError    a value cannot be encoded (names the element path and the value)
     └── DecodeError    a stream cannot be decoded (names the bit offset and the element path)
"""

from __future__ import annotations

from typing import Any

__all__ = ["DecodeError", "EncodeError", "ExiError", "SchemaError", "SlowPath"]


class SlowPath(Exception):
    """Raised by a specialised encoder for a value only the general encoder codes (a cast, wildcard content).

    :class:`~exi.document.Codec` catches it and encodes the message with :mod:`exi.interp_encode`.
    """


def _format_path(path: list[str]) -> str:
    return "/" + "/".join(path) if path else "/"


class ExiError(Exception):
    """Root of every error the EXI codec raises."""


class SchemaError(ExiError):
    """An XSD is unreadable, or uses a construct the compiler does not support."""


class EncodeError(ExiError):
    """A value cannot be encoded.

    ``path`` is the element path from the root down to the offending item (outermost first) and
    ``value`` is the offending value (``None`` when the problem is structural).
    """

    def __init__(self, reason: str, *, path: list[str] | None = None, value: object = None) -> None:
        self.reason = reason
        self.path: list[str] = list(path or [])
        self.value = value
        super().__init__(reason)

    def within(self, name: str) -> EncodeError:
        """Prefix the path with an enclosing element name (used while the error propagates outwards)."""
        self.path.insert(0, name)
        return self

    def __str__(self) -> str:
        text = f"cannot encode {_format_path(self.path)}: {self.reason}"
        if self.value is not None:
            text += f" (value {self.value!r})"
        return text


class DecodeError(ExiError):
    """A stream cannot be decoded.

    ``bit_offset`` counts from the first bit of the EXI stream (the 0x80 header byte is bits 0..7);
    ``path`` is the element path that was being decoded (outermost first).
    """

    def __init__(
        self, reason: str, *, bit_offset: int | None = None, path: list[str] | None = None, escape: bool = False
    ) -> None:
        self.reason = reason
        self.bit_offset = bit_offset
        self.path: list[str] = list(path or [])
        self.escape = escape
        """The stream escapes to a production the specialised decoder does not handle (second level, wildcard):
        the general decoder reads such streams (see :mod:`exi.interp_decode`)."""
        self.tolerated: Any = None
        """For a schema deviation refused in strict mode: the tolerant reading (a :class:`~exi.document.Document`
        with its deviations), so that a caller may still accept it."""
        super().__init__(reason)

    def within(self, name: str) -> DecodeError:
        """Prefix the path with an enclosing element name (used while the error propagates outwards)."""
        self.path.insert(0, name)
        return self

    def __str__(self) -> str:
        where = f"bit {self.bit_offset}" if self.bit_offset is not None else "unknown bit offset"
        if self.bit_offset is not None:
            where += f" (byte {self.bit_offset // 8})"
        return f"cannot decode at {where}, element {_format_path(self.path)}: {self.reason}"
