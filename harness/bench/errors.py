"""Errors of the virtual test bench, rooted in the library's :class:`~iso15118.errors.V2GError`.

Bad data files and scenarios raise :class:`~iso15118.errors.ConfigError` (naming file, table and key);
misuse of the stepping API raises :class:`BenchError`; a strict invariant check that finds violations
raises :class:`InvariantError` carrying the list.
"""

from __future__ import annotations

from iso15118.errors import V2GError

__all__ = ["BenchError", "InvariantError"]


class BenchError(V2GError):
    """The bench was driven wrongly (time going backwards, a non-finite power, a bad step)."""


class InvariantError(BenchError):
    """A trace broke one or more physical or policy invariants; ``violations`` lists them."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = list(violations)
        head = "; ".join(self.violations[:3])
        more = f" (+{len(self.violations) - 3} more)" if len(self.violations) > 3 else ""
        super().__init__(f"{len(self.violations)} invariant violation(s): {head}{more}")
