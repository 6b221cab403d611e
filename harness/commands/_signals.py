"""SIGINT and SIGTERM for `v2g evcc` and `v2g secc`: the first ends the session the standard's way, a second aborts.

:func:`run_until_stopped` runs a command's coroutine under :func:`asyncio.run` with both signals routed to a
:class:`StopSignals`. The first signal calls the stop callbacks the command registered (the EVCC sends
PowerDelivery(Stop) and SessionStop, the SECC asks the EV to terminate and closes), and the command then ends on
its own, prints its summary and returns its exit code. A second signal cancels the command at once and the
process exits 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), the shell's convention for a process
killed by that signal.

Exit codes of the two commands:

====  =================================================================================================
0     the session (every session of a server) ended regularly and did what was asked
1     a session failed or did not do what was asked, or an error
2     bad usage
3     stopped by a first SIGINT/SIGTERM and ended cleanly (the EVCC's ``--loops`` count not reached, or the
      session not yet started; for the SECC: a session it asked to stop, or ``--once`` before any EV came)
130   aborted by a second SIGINT (143: SIGTERM) before the clean end
====  =================================================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, Final

__all__ = ["INTERRUPTED", "STOP_SIGNALS", "StopSignals", "run_until_stopped"]

INTERRUPTED: Final = 3
"""Exit code of a run stopped by a first SIGINT/SIGTERM that ended cleanly."""
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """The stop signals a command received; ``on_stop`` callbacks run (once) on the first one."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.first: signal.Signals | None = None
        """The signal that asked for the clean stop."""
        self.second: signal.Signals | None = None
        """The signal that aborted the run."""
        self.stopping = asyncio.Event()
        """Set by the first signal."""
        self._callbacks: list[Callable[[str], object]] = []
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def why(self) -> str:
        """The first signal's name (``SIGINT``): the reason given to the session."""
        return self.first.name if self.first is not None else ""

    def on_stop(self, callback: Callable[[str], object]) -> None:
        """Call ``callback(why)`` on the first signal (at once when it already came)."""
        self._callbacks.append(callback)
        if self.first is not None:
            callback(self.why)

    def install(self, task: asyncio.Task[Any]) -> None:
        """Route SIGINT and SIGTERM to this object while ``task`` (the command) runs."""
        self._task = task
        self._loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            self._loop.add_signal_handler(sig, self.received, sig)

    def uninstall(self) -> None:
        """Give the signals back to their defaults (SIGINT raises KeyboardInterrupt again)."""
        if self._loop is None:
            return
        for sig in STOP_SIGNALS:
            with contextlib.suppress(ValueError, RuntimeError):
                self._loop.remove_signal_handler(sig)
        self._loop = None

    def received(self, sig: signal.Signals) -> None:
        """The handler: the first signal stops cleanly, a second aborts."""
        if self.first is None:
            self.first = sig
            self.stopping.set()
            print(
                f"v2g {self.command}: {sig.name}: stopping cleanly (send it again to abort at once)",
                file=sys.stderr,
                flush=True,
            )
            for callback in list(self._callbacks):
                callback(self.why)
            return
        if self.second is None:
            self.second = sig
            if self._task is not None:
                self._task.cancel()

    @property
    def abort_code(self) -> int:
        """128 + the aborting signal's number."""
        assert self.second is not None
        return 128 + int(self.second)


def run_until_stopped(command: str, main: Callable[[StopSignals], Coroutine[Any, Any, int]]) -> int:
    """Run ``main(signals)`` under :func:`asyncio.run` with SIGINT/SIGTERM handled; return the exit code."""
    signals = StopSignals(command)

    async def guarded() -> int:
        task = asyncio.current_task()
        assert task is not None
        signals.install(task)
        try:
            return await main(signals)
        finally:
            signals.uninstall()

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        if signals.second is None:
            raise
        print(f"v2g {command}: aborted by a second {signals.second.name}", file=sys.stderr, flush=True)
        return signals.abort_code
