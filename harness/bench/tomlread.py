"""Typed, strict reading of the bench's TOML data files.

Owns :class:`Table`, a thin view over one parsed TOML table that knows its file and key path, so every bad
value is reported as ``file: [table] key: what was expected, what was found`` (a :class:`ConfigError`),
and unknown keys (typos) are refused instead of silently ignored.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from typing import Any

from iso15118.errors import ConfigError

__all__ = ["Table", "load_packaged", "parse"]


class Table:
    """One TOML table with typed accessors; remembers which keys were read so leftovers can be refused."""

    def __init__(self, data: Mapping[str, Any], *, source: str, path: str = "") -> None:
        self._data = data
        self._source = source
        self._path = path
        self._read: set[str] = set()

    @property
    def where(self) -> str:
        """``file: [table]`` prefix used in error messages."""
        return f"{self._source}: [{self._path}]" if self._path else f"{self._source}:"

    def error(self, key: str, message: str) -> ConfigError:
        """Build the ConfigError for a bad value under ``key``."""
        return ConfigError(f"{self.where} {key}: {message}")

    def has(self, key: str) -> bool:
        """True when the key is present."""
        return key in self._data

    def _get(self, key: str, default: object) -> object:
        self._read.add(key)
        if key in self._data:
            return self._data[key]
        if default is _MISSING:
            raise self.error(key, "is required")
        return default

    def value(self, key: str) -> object:
        """The raw value of a present key (for types the accessors below do not cover)."""
        return self._get(key, _MISSING)

    def number(
        self,
        key: str,
        default: float | None = None,
        *,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
    ) -> float:
        """A number (int or float) within [lo, hi] (``lo_open``: strictly above lo)."""
        value = self._get(key, _MISSING if default is None else default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number, got {value!r}")
        number = float(value)
        if lo is not None and (number <= lo if lo_open else number < lo):
            raise self.error(key, f"must be {'>' if lo_open else '>='} {lo:g}, got {number:g}")
        if hi is not None and number > hi:
            raise self.error(key, f"must be <= {hi:g}, got {number:g}")
        return number

    def optional_number(self, key: str, *, lo: float | None = None, hi: float | None = None) -> float | None:
        """A number, or None when the key is absent."""
        if key not in self._data:
            self._read.add(key)
            return None
        return self.number(key, lo=lo, hi=hi)

    def integer(self, key: str, default: int | None = None) -> int:
        """An integer."""
        value = self._get(key, _MISSING if default is None else default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {value!r}")
        return value

    def string(self, key: str, default: str | None = None, *, choices: tuple[str, ...] = ()) -> str:
        """A string, optionally one of ``choices``."""
        value = self._get(key, _MISSING if default is None else default)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {value!r}")
        if choices and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def optional_string(self, key: str) -> str | None:
        """A string, or None when the key is absent."""
        if key not in self._data:
            self._read.add(key)
            return None
        return self.string(key)

    def boolean(self, key: str, default: bool | None = None) -> bool:
        """A boolean."""
        value = self._get(key, _MISSING if default is None else default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def numbers(self, key: str, *, length: int | None = None, lo: float | None = None) -> tuple[float, ...]:
        """An array of numbers (exactly ``length`` long when given, each >= lo when given)."""
        value = self._get(key, _MISSING)
        if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int | float) for v in value):
            raise self.error(key, f"expected an array of numbers, got {value!r}")
        if length is not None and len(value) != length:
            raise self.error(key, f"expected {length} numbers, got {len(value)}")
        if lo is not None and any(v < lo for v in value):
            raise self.error(key, f"every value must be >= {lo:g}")
        return tuple(float(v) for v in value)

    def table(self, key: str, *, required: bool = True) -> Table:
        """A sub-table (an empty one when absent and not required)."""
        value = self._get(key, _MISSING if required else {})
        if not isinstance(value, dict):
            raise self.error(key, "expected a table")
        return Table(value, source=self._source, path=self._child(key))

    def tables(self, key: str) -> list[Table]:
        """An array of tables (``[[key]]``); empty when absent."""
        value = self._get(key, [])
        if not isinstance(value, list) or any(not isinstance(v, dict) for v in value):
            raise self.error(key, "expected an array of tables ([[...]])")
        return [Table(v, source=self._source, path=f"{self._child(key)}[{i}]") for i, v in enumerate(value)]

    def done(self) -> None:
        """Refuse keys nobody read (most likely typos)."""
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            raise ConfigError(f"{self.where} unknown key(s): {', '.join(unknown)}")

    def _child(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key


class _Missing:
    pass


_MISSING: Any = _Missing()


def parse(text: str, *, source: str) -> Table:
    """Parse TOML text into a root :class:`Table`; a syntax error becomes a ConfigError naming the file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    return Table(data, source=source)


def load_packaged(package: str, name: str) -> Table:
    """Load ``<name>.toml`` shipped inside ``package`` (e.g. ``harness.bench.data``)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ConfigError(f"{package}: bad data file name {name!r}")
    resource = resources.files(package).joinpath(f"{name}.toml")
    if not resource.is_file():
        available = sorted(
            p.name.removesuffix(".toml") for p in resources.files(package).iterdir() if p.name.endswith(".toml")
        )
        raise ConfigError(f"{package}: no data file {name}.toml (available: {', '.join(available)})")
    return parse(resource.read_text(encoding="utf-8"), source=f"{name}.toml")
