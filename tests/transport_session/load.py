"""Load for the SECC: a `v2g secc` process to measure, and clients that refuse, garble or complete sessions.

The clients are asyncio coroutines (run many at once with :func:`run_many`). Run as a module, this file is
the handshake flood of the flood test, in a process of its own so that its CPU use does not disturb the
legitimate session measured in the test process:

    python -m tests.transport_session.load --port N --pki DIR --clients 50 --seconds 30

It prints ``flooding`` once the first handshake was refused, then one ``refused K`` line per second, and
stops after ``--seconds`` (the flood test stops it sooner).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import ssl
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path

from iso15118.config import EvccConfig
from iso15118.security.pki import PkiLayout, load_pki
from iso15118.security.profiles import Entity
from iso15118.security.tls import TlsConfig, evcc_context
from iso15118.simple import SimpleEV
from iso15118.transport.evcc_client import EvccClientConfig, run_evcc
from iso15118.transport.policy import TransportPolicy

V2G = [sys.executable, "-m", "harness.cli"]
BAD_HEADER = b"\x02\xfd\x80\x01\x00\x00\x00\x04abcd"  # protocol version 2: refused at byte 0
WAIT = 60.0
ROOT = Path(__file__).resolve().parents[2]


def anonymous_context(layout: PkiLayout) -> ssl.SSLContext:
    """A -20 client context without a vehicle certificate, not checking the SECC (cheap for the client)."""
    context = evcc_context(TlsConfig(trust_roots=tuple(layout.roots(Entity.V2G_ROOT))))
    context.verify_mode = ssl.CERT_NONE
    return context


async def refused_handshake(port: int, context: ssl.SSLContext) -> None:
    """One TLS handshake without a client certificate, which the SECC refuses; returns once it closed."""
    reader, writer = await asyncio.open_connection("::1", port)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing)
    try:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                writer.write(outgoing.read())
                data = await reader.read(1 << 16)
                if not data:
                    return
                incoming.write(data)
        writer.write(outgoing.read())  # our Finished, without the certificate the SECC asked for
        while await reader.read(1 << 16):  # its alert, then the close
            pass
    except (ssl.SSLError, OSError):
        pass  # the SECC's alert or reset: the refusal we came for
    finally:
        writer.close()


async def bad_header(port: int) -> None:
    """One plain TCP connection sending a frame with a bad V2GTP header; returns once the SECC closed it."""
    reader, writer = await asyncio.open_connection("::1", port)
    try:
        writer.write(BAD_HEADER)
        await writer.drain()
        while await reader.read(1 << 16):
            pass
    except OSError:
        pass
    finally:
        writer.close()


def session_client(layout: PkiLayout, port: int, *, loops: int = 1) -> Callable[[], Awaitable[None]]:
    """A factory of complete -20 AC sessions (strict TLS, vehicle certificate) against ``[::1]:port``."""
    files = layout[Entity.VEHICLE_LEAF]
    tls = TlsConfig(
        trust_roots=tuple(layout.roots(Entity.V2G_ROOT)), certificate_chain=files.chain_pem, private_key=files.key_pem
    )
    config = EvccClientConfig(policy=TransportPolicy(tls=tls), target=f"[::1]:{port}")
    context = evcc_context(tls)
    evcc = EvccConfig(max_loops=loops, loop_interval_s=0.0)

    async def one() -> None:
        run = await run_evcc(config, SimpleEV(), evcc, context=context)
        assert run.outcome.ok, run.outcome.ended

    return one


async def run_many(make: Callable[[], Awaitable[None]], count: int, *, concurrency: int) -> float:
    """Run ``count`` clients, ``concurrency`` at a time; returns the rate (clients per second)."""
    todo = iter(range(count))

    async def worker() -> None:
        for _ in todo:
            await asyncio.wait_for(make(), WAIT)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


@dataclasses.dataclass
class SeccProcess:
    """A running `v2g secc`: its process, where its stdout goes, and its memory."""

    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def rss_kib(self) -> int:
        """Resident set size now (VmRSS of /proc/PID/status), KiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS line")

    def lines(self) -> list[str]:
        """What it printed so far."""
        return self.stdout.read_text().splitlines()


@contextlib.contextmanager
def secc_process(argv: Sequence[str], directory: Path) -> Iterator[SeccProcess]:
    """`v2g secc ARGV`, returned once it printed its listening line; stopped with SIGTERM afterwards."""
    out, err = directory / "secc.out", directory / "secc.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([*V2G, "secc", *argv], stdout=stdout, stderr=stderr)
    running = SeccProcess(proc=proc, stdout=out, stderr=err)
    try:
        deadline = time.monotonic() + WAIT
        while not any(line.startswith("secc listening on ") for line in running.lines()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"secc did not start: {err.read_text()}")
            time.sleep(0.02)  # polling for the listening line, not waiting for a time
        yield running
    finally:
        proc.terminate()
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(WAIT)


@dataclasses.dataclass
class FloodProcess:
    """A running handshake flood (this module as a process)."""

    proc: subprocess.Popen[bytes]
    stdout: Path

    def refused(self) -> int:
        """Handshakes refused so far, as last reported (once a second)."""
        counts = [int(line.split()[1]) for line in self.stdout.read_text().splitlines() if line.startswith("refused ")]
        return counts[-1] if counts else 0


@contextlib.contextmanager
def flood_process(port: int, pki: Path, directory: Path, *, clients: int, seconds: float) -> Iterator[FloodProcess]:
    """The flood against ``[::1]:port``, returned once the SECC refused its first handshake; stopped after."""
    out = directory / "flood.out"
    argv = ["--port", str(port), "--clients", str(clients), "--seconds", str(seconds), "--pki", str(pki)]
    with out.open("wb") as stdout:
        proc = subprocess.Popen([sys.executable, "-m", "tests.transport_session.load", *argv], stdout=stdout, cwd=ROOT)
    running = FloodProcess(proc=proc, stdout=out)
    try:
        deadline = time.monotonic() + WAIT
        while "flooding" not in out.read_text().split():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the flood did not start: {out.read_text()!r}")
            time.sleep(0.02)  # polling for its first line, not waiting for a time
        yield running
    finally:
        proc.terminate()
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(WAIT)


async def _flood(port: int, clients: int, seconds: float, context: ssl.SSLContext) -> None:
    refused = 0
    end = time.monotonic() + seconds
    started = asyncio.Event()

    async def client() -> None:
        nonlocal refused
        while time.monotonic() < end:
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(refused_handshake(port, context), 30)
            refused += 1
            started.set()

    async def progress() -> None:
        await started.wait()
        print("flooding", flush=True)
        while True:
            await asyncio.sleep(1.0)
            print(f"refused {refused}", flush=True)

    reporter = asyncio.create_task(progress())
    await asyncio.gather(*(client() for _ in range(clients)))
    reporter.cancel()
    print(f"done {refused}", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    """The handshake flood (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pki", type=Path, required=True)
    args = parser.parse_args(argv)
    context = anonymous_context(load_pki(args.pki))
    asyncio.run(_flood(args.port, args.clients, args.seconds, context))


if __name__ == "__main__":
    main()
