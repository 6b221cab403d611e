"""Named checks on the messages a SUT sends, each tied to the rule it enforces.

A :class:`Check` takes the tester's :class:`~harness.conformance.context.Context` and one message (a response
of an SECC, a request of an EVCC, or the TLS :class:`~iso15118.security.tls.HandshakeInfo`) and returns
``None`` when the rule holds, else one sentence saying what is wrong; a check that cannot apply (the SUT does
not offer what it needs) raises :class:`NotApplicable`. Checks know nothing about the SUT's implementation; they
read only what is on the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.conformance.context import Context

__all__ = ["Check", "NotApplicable", "check", "code_matches"]

CheckFn = Callable[[Context, Any], str | None]


class NotApplicable(Exception):
    """Raised by a check whose precondition the SUT does not meet (the case becomes inconclusive)."""


@dataclass(frozen=True, slots=True)
class Check:
    """A rule on one message: ``fn`` returns None when it holds, else why it does not."""

    name: str
    fn: CheckFn
    requirement: str = ""

    def __call__(self, ctx: Context, msg: Any) -> str | None:
        return self.fn(ctx, msg)

    def label(self) -> str:
        """The name with its requirement, for the evidence."""
        return f"{self.name} [{self.requirement}]" if self.requirement else self.name


def check(name: str, requirement: str = "") -> Callable[[CheckFn], Check]:
    """Decorator: make a :class:`Check` of a function."""

    def wrap(fn: CheckFn) -> Check:
        return Check(name, fn, requirement)

    return wrap


def code_matches(code: str, patterns: tuple[str, ...]) -> bool:
    """True when ``code`` equals a pattern, or starts with a pattern ending in ``*``."""
    for pattern in patterns:
        if pattern.endswith("*") and code.startswith(pattern[:-1]):
            return True
        if code == pattern:
            return True
    return False
