"""Where a grammar walk (:mod:`tests.support.exigen`) takes its choices and values from.

A :class:`Drive` picks productions, simple values and text. Three of them:

* :class:`HypothesisDrive` draws everything from Hypothesis (``st.data()``): shrinkable property tests;
* :class:`RandomDrive` from a seeded :class:`random.Random`: thousands of messages quickly, reproducible, so that a
  differential test can send them to the oracle in one batch;
* :class:`MinimalDrive` takes the first choice and small values: the branch-covering and boundary suites.

Values respect the datatypes' facets and favour the edges (integer bounds, 0/127/128, empty and long strings,
non-ASCII and astral characters, binary of many lengths). Text for mixed and undeclared content never is blank
nor has leading or trailing white space: XML processors drop or collapse such text between elements.
"""

from __future__ import annotations

import random
import string
from typing import Any, Protocol

from hypothesis import strategies as st

from exi.datatypes import Datatype

__all__ = ["Drive", "HypothesisDrive", "MinimalDrive", "RandomDrive", "simple_strategy"]

# Characters that survive an XML round trip unchanged in every string type (no whitespace, which
# anyURI/ID collapse; no controls, surrogates or non-characters). Includes non-ASCII and astral letters.
_TEXT = st.characters(
    blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp", "Co", "Cn"),
    blacklist_characters="\ufffe\uffff",
)
_NCNAME_START = string.ascii_letters + "_"
_NCNAME_REST = string.ascii_lowercase + string.digits + "-._"
_URI_CHARS = string.ascii_letters + string.digits + "-._~/"
_WORLD = "aZ09é€𝄞Ωж中-_.:!?#@"  # a few non-ASCII and astral characters among ASCII ones


def _int_strategy(lo: int | None, hi: int | None) -> st.SearchStrategy[int]:
    lo_ = lo if lo is not None else -(2**70)
    hi_ = hi if hi is not None else 2**70
    edges = sorted({lo_, hi_, max(lo_, min(hi_, 0)), max(lo_, min(hi_, 127)), max(lo_, min(hi_, 128))})
    return st.one_of(st.sampled_from(edges), st.integers(lo_, hi_))


def _length_bounds(dt: Datatype) -> tuple[int, int]:
    lo = dt.length if dt.length is not None else (dt.min_length or 0)
    hi = dt.length if dt.length is not None else min(dt.max_length if dt.max_length is not None else 300, 300)
    return lo, hi


def simple_strategy(dt: Datatype, enum_cls: Any = None) -> st.SearchStrategy[Any]:
    """Values of a datatype, respecting its facets."""
    if dt.kind == "enum":
        return st.sampled_from(list(enum_cls))
    if dt.kind == "boolean":
        return st.booleans()
    if dt.kind in ("nbit", "uint", "int"):
        return _int_strategy(dt.lo, dt.hi)
    lo, hi = _length_bounds(dt)
    if dt.kind == "string" and dt.builtin in ("ID", "IDREF", "NCName", "Name"):
        # xs:ID and friends must be NCNames to be valid XML (the EXI encoding does not care).
        first = st.sampled_from(_NCNAME_START)
        rest = st.text(_NCNAME_REST, max_size=max(0, min(hi, 60) - 1))
        return st.builds(lambda a, b: a + b, first, rest)
    if dt.kind == "string" and dt.builtin == "anyURI":
        path = st.text(_URI_CHARS, max_size=max(0, hi - 8))
        uris = st.one_of(st.builds(lambda a: "urn:x:" + a, path), st.builds(lambda a: "#" + a, path))
        return uris if lo > 0 else st.one_of(st.just(""), uris)
    if dt.kind == "string":
        return st.text(_TEXT, min_size=lo, max_size=hi)
    return st.binary(min_size=lo, max_size=min(hi, 2000) if dt.max_length is None else hi)


class Drive(Protocol):
    """The source of a walk's choices and values."""

    def choose(self, n: int, what: str) -> int:
        """An index in ``range(n)``; ``what`` says what is chosen (for debugging)."""
        ...

    def simple(self, dt: Datatype, enum: Any) -> Any:
        """A value of a datatype (``enum``: the enum class of an enumeration)."""
        ...

    def text(self) -> str:
        """Character data for mixed or undeclared content."""
        ...

    def chance(self, percent: int, what: str) -> bool:
        """True with about ``percent`` % probability."""
        ...


class HypothesisDrive:
    """Choices and values drawn from Hypothesis."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def choose(self, n: int, what: str) -> int:
        return self.data.draw(st.integers(0, n - 1), label=what) if n > 1 else 0

    def simple(self, dt: Datatype, enum: Any) -> Any:
        return self.data.draw(simple_strategy(dt, enum))

    def text(self) -> str:
        return self.data.draw(st.text(_TEXT, min_size=1, max_size=20))

    def chance(self, percent: int, what: str) -> bool:
        return self.data.draw(st.integers(0, 99), label=what) < percent


class RandomDrive:
    """Choices and values from a seeded random generator (no shrinking, but fast and batchable)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def choose(self, n: int, what: str) -> int:
        return self.rng.randrange(n) if n > 1 else 0

    def chance(self, percent: int, what: str) -> bool:
        return self.rng.randrange(100) < percent

    def text(self) -> str:
        return "".join(self.rng.choice(_WORLD) for _ in range(self.rng.randint(1, 12))).strip() or "t"

    def _int(self, lo: int | None, hi: int | None) -> int:
        lo_ = lo if lo is not None else -(2**70)
        hi_ = hi if hi is not None else 2**70
        if self.rng.randrange(3) == 0:
            return self.rng.choice(
                sorted({lo_, hi_, max(lo_, min(hi_, 0)), max(lo_, min(hi_, 127)), max(lo_, min(hi_, 128))})
            )
        if self.rng.randrange(2) and hi_ - lo_ > 70000:
            return max(lo_, min(hi_, self.rng.randint(-70000, 70000)))
        return self.rng.randint(lo_, hi_)

    def _size(self, lo: int, hi: int) -> int:
        pick = self.rng.randrange(6)
        if pick == 0:
            return lo
        if pick == 1:
            return hi
        return self.rng.randint(lo, min(hi, lo + 40))

    def simple(self, dt: Datatype, enum: Any) -> Any:
        rng = self.rng
        if dt.kind == "enum":
            return rng.choice(list(enum))
        if dt.kind == "boolean":
            return rng.random() < 0.5
        if dt.kind in ("nbit", "uint", "int"):
            return self._int(dt.lo, dt.hi)
        lo, hi = _length_bounds(dt)
        if dt.kind == "string" and dt.builtin in ("ID", "IDREF", "NCName", "Name"):
            size = max(0, min(hi, 60) - 1)
            return rng.choice(_NCNAME_START) + "".join(rng.choice(_NCNAME_REST) for _ in range(rng.randint(0, size)))
        if dt.kind == "string" and dt.builtin == "anyURI":
            if lo == 0 and rng.randrange(8) == 0:
                return ""
            body = "".join(rng.choice(_URI_CHARS) for _ in range(rng.randint(0, max(0, min(hi, 48) - 8))))
            return ("urn:x:" if rng.randrange(2) else "#") + body
        size = self._size(lo, hi)
        if dt.kind == "string":
            return "".join(rng.choice(_WORLD) for _ in range(size))
        if dt.max_length is None and dt.length is None and rng.randrange(20) == 0:
            size = rng.randint(lo, 2000)
        return rng.randbytes(size)


class MinimalDrive:
    """The first choice everywhere and small valid values."""

    def choose(self, n: int, what: str) -> int:
        return 0

    def chance(self, percent: int, what: str) -> bool:
        return False

    def text(self) -> str:
        return "t"

    def simple(self, dt: Datatype, enum: Any) -> Any:
        if dt.kind == "enum":
            return list(enum)[-1]
        if dt.kind == "boolean":
            return True
        if dt.kind in ("nbit", "uint", "int"):
            lo = dt.lo if dt.lo is not None else -5
            hi = dt.hi if dt.hi is not None else 10**6
            return max(lo, min(hi, 7))
        if dt.builtin in ("ID", "IDREF", "NCName", "Name"):
            return "id1"
        size = dt.length if dt.length is not None else max(dt.min_length or 0, 1)
        if dt.max_length is not None:
            size = min(size, dt.max_length)
        return "x" * size if dt.kind == "string" else bytes(i % 256 for i in range(size))
