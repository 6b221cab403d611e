"""`v2g secc` / `v2g evcc` as processes for the CLI tests: a server returned once it prints its listening line
(readiness, never a sleep), one EV run, and the server's remaining output."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

V2G = [sys.executable, "-m", "harness.cli"]
WAIT = 60.0

__all__ = ["V2G", "WAIT", "Server", "evcc", "finish", "secc"]


@dataclass(frozen=True)
class Server:
    """A running `v2g secc` and the listening line it started with."""

    proc: subprocess.Popen[str]
    listening: str


@contextmanager
def secc(argv: Sequence[str], cwd: Path | None = None, *, prefix: Sequence[str] = ()) -> Iterator[Server]:
    """A `v2g secc` process (run under ``prefix``, e.g. ``ip netns exec NS``), returned once it prints its
    listening line; killed on the way out if still running."""
    proc = subprocess.Popen(
        [*prefix, *V2G, "secc", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if not first.startswith("secc listening on "):
            proc.kill()
            _, err = proc.communicate(timeout=WAIT)
            raise AssertionError(f"secc did not start: {first!r} {err!r}")
        yield Server(proc=proc, listening=first.rstrip("\n"))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=WAIT)


def evcc(
    argv: Sequence[str], env: dict[str, str] | None = None, *, prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """One `v2g evcc` run to its end."""
    return subprocess.run(
        [*prefix, *V2G, "evcc", *argv], capture_output=True, text=True, timeout=WAIT, check=False, env=env
    )


def finish(server: Server) -> tuple[int, str, str]:
    """Wait for a server to exit: (exit code, the rest of stdout, stderr)."""
    out, err = server.proc.communicate(timeout=WAIT)
    return server.proc.returncode, out, err
