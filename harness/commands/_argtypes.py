"""argparse value types that refuse out-of-range numbers at parse time (exit 2 with the option named).

A number the program cannot use (a port beyond 65535, zero batches, a negative timeout) is a usage error, said
before anything starts, never an exception from deep inside a run.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["port", "seconds", "whole"]


def whole(minimum: int = 1) -> Callable[[str], int]:
    """A whole number >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
        return value

    parse.__name__ = "whole number"
    return parse


def seconds(*, positive: bool = False) -> Callable[[str], float]:
    """A finite number of seconds, >= 0 (``positive``: > 0)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise argparse.ArgumentTypeError(f"expected seconds {'> 0' if positive else '>= 0'}, got {text!r}")
        return value

    parse.__name__ = "seconds"
    return parse


def port(*, allow_zero: bool = False) -> Callable[[str], int]:
    """A TCP/UDP port number, 1-65535 (``allow_zero``: 0 too, "any free port")."""
    lowest = 0 if allow_zero else 1

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
        if not lowest <= value <= 65535:
            raise argparse.ArgumentTypeError(f"expected a port number in {lowest}-65535, got {value}")
        return value

    parse.__name__ = "port"
    return parse
