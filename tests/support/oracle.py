"""Client for the EXIficient oracle (``shared/tools/exi-oracle/exi-oracle serve``), for differential tests.

One long-lived JVM answers line requests (see ``ExiOracle.java``)::

    enc <xsd-path> <doc|frag> <xml-as-base64>   ->  OK <hex>        | ERR <message>
    dec <xsd-path> <doc|frag> <hex>             ->  OK <xml-base64> | ERR <message>

:class:`ExiOracle` starts the process, maps the schema names the tool knows (``appprotocol``,
``iso20-common``, ``iso20-ac``, ``iso20-dc``, ``iso20-wpt``, ``iso20-acdp``, ``xmldsig``, ``iso2``, ``din``)
to the patched schema copies the tool keeps in its cache, and offers single calls (:meth:`ExiOracle.encode`,
:meth:`ExiOracle.decode`) and pipelined batches (:meth:`ExiOracle.batch`, :meth:`ExiOracle.encode_many`,
:meth:`ExiOracle.decode_many`): a writer thread sends every request while the caller reads the answers, so
the pipes never dead-lock.

An answer ``ERR ...`` becomes :class:`OracleError` with the oracle's message. :class:`OracleUnavailable`
(a subclass) means the oracle cannot run on this machine at all (no java/javac/unzip, or the first-run
download of the ``iso15118`` wheel that carries EXIficient failed); the pytest fixture turns it into a skip.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import enum
import fcntl
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

__all__ = [
    "DEFAULT_CACHE",
    "SCHEMAS",
    "ExiOracle",
    "Op",
    "OracleError",
    "OracleRequest",
    "OracleResult",
    "OracleUnavailable",
]

DEFAULT_CACHE: Final = Path.home() / ".cache" / "v2gstack" / "exi-oracle"

# Schema name -> file inside the tool's patched schema copy (<cache>/xsd), as in the tool's schema_path().
SCHEMAS: Final[dict[str, str]] = {
    "appprotocol": "V2G_CI_AppProtocol.xsd",
    "iso20-common": "iso15118_20/V2G_CI_CommonMessages.xsd",
    "iso20-ac": "iso15118_20/V2G_CI_AC.xsd",
    "iso20-dc": "iso15118_20/V2G_CI_DC.xsd",
    "iso20-wpt": "iso15118_20/V2G_CI_WPT.xsd",
    "iso20-acdp": "iso15118_20/V2G_CI_ACDP.xsd",
    "xmldsig": "xmldsig-core-schema.xsd",
    "iso2": "iso15118_2/V2G_CI_MsgDef.xsd",
    "din": "din_spec/V2G_CI_MsgDef.xsd",
}

# A request the oracle must answer correctly before it is considered up: the SAP response vector of
# exi-codec-guide §9 (libcbv2g app_handshake.cpp), decoded with the SupportedAppProtocol schema.
_PROBE_HEX: Final = "80400040"
_STDERR_TAIL: Final = 4000


class OracleError(RuntimeError):
    """The oracle rejected a request (its ``ERR`` message is the text) or stopped answering."""


class OracleUnavailable(OracleError):
    """The oracle cannot run here (missing java/javac/unzip, or its first-run download failed)."""


class Op(enum.StrEnum):
    """The two operations of the line protocol."""

    ENCODE = "enc"
    DECODE = "dec"


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleRequest:
    """One request: ``data`` is XML for :attr:`Op.ENCODE` and an EXI stream for :attr:`Op.DECODE`."""

    op: Op
    schema: str
    data: bytes
    fragment: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleResult:
    """One answer: ``data`` (EXI bytes or XML bytes) when ``error`` is None, else the oracle's message."""

    request: OracleRequest
    data: bytes | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the oracle answered ``OK``."""
        return self.error is None

    def unwrap(self) -> bytes:
        """The answer's bytes, or :class:`OracleError` with the oracle's message."""
        if self.data is None:
            raise OracleError(f"oracle {self.request.op.value} ({self.request.schema}) failed: {self.error}")
        return self.data


class ExiOracle:
    """A running ``exi-oracle serve`` process. Use as a context manager or call :meth:`close`."""

    def __init__(self, tool: Path, *, cache: Path = DEFAULT_CACHE, timeout: float = 180.0) -> None:
        """Prepare (not start) the oracle; ``tool`` is the ``exi-oracle`` script, ``cache`` its cache dir.

        ``timeout`` bounds the wait for each answer, and for the first one (JVM start, first-run
        download and compilation, first grammar build) separately.
        """
        self.tool = tool
        self.cache = cache
        self.timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._stderr: IO[bytes] | None = None
        self._lock = threading.RLock()
        self._started = False

    # -- life cycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the JVM and check that it answers; raise :class:`OracleUnavailable` if it cannot run here."""
        missing = [tool for tool in ("java", "javac", "unzip", "python3") if shutil.which(tool) is None]
        if missing:
            raise OracleUnavailable(f"the EXI oracle needs {', '.join(missing)} on PATH")
        if not self.tool.is_file():
            raise OracleUnavailable(f"the EXI oracle script {self.tool} is missing")
        self.cache.mkdir(parents=True, exist_ok=True)
        # The first run downloads, unpacks and compiles into the cache: one starter at a time.
        with (self.cache / ".start.lock").open("wb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._spawn()

    def _spawn(self) -> None:
        env = dict(os.environ, EXI_ORACLE_CACHE=str(self.cache))
        if self._stderr is not None:
            self._stderr.close()
        self._stderr = tempfile.TemporaryFile(prefix="exi-oracle-stderr-")  # noqa: SIM115 (lives as long as the JVM)
        self._proc = subprocess.Popen(
            ["bash", str(self.tool), "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            start_new_session=True,  # its own process group: the JVM child can be ended with the script
        )
        self._buffer = b""
        probe = OracleRequest(op=Op.DECODE, schema="appprotocol", data=bytes.fromhex(_PROBE_HEX))
        try:
            answer = self._roundtrip(_line(probe, self._xsd))
        except OracleError as exc:
            tail = self._stderr_tail() or str(exc)
            self.close()
            if not (self.cache / "EXICodec.jar").is_file():
                raise OracleUnavailable(
                    "the EXI oracle could not download the iso15118==0.31.2 wheel that carries EXIficient "
                    f"(no network or no pip?): {tail}"
                ) from exc
            if not (self.cache / "ExiOracle.class").is_file():
                raise OracleUnavailable(f"the EXI oracle driver did not compile: {tail}") from exc
            raise
        if not answer.startswith("OK "):
            self.close()
            raise OracleError(f"the EXI oracle failed its start-up probe: {answer}")
        self._started = True

    def close(self) -> None:
        """Stop the JVM (closing its input ends it; killed if it lingers)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait(timeout=5)
        # The JVM is the script's child: if the script died first, end the JVM too (same process group).
        deadline = time.monotonic() + 2
        while _group_alive(proc.pid):
            if time.monotonic() > deadline:
                _kill_group(proc.pid)
                break
            time.sleep(0.02)
        if proc.stdout is not None:
            proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    @property
    def pid(self) -> int | None:
        """Process id of the running oracle script (the JVM is its child, in the same process group)."""
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> ExiOracle:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- requests -----------------------------------------------------------------------------------

    def encode(self, schema: str, xml: bytes, fragment: bool = False) -> bytes:
        """EXI stream (header byte 0x80 included) of ``xml``, coded with ``schema`` as document/fragment."""
        return self.batch([OracleRequest(op=Op.ENCODE, schema=schema, data=xml, fragment=fragment)])[0].unwrap()

    def decode(self, schema: str, data: bytes, fragment: bool = False) -> bytes:
        """XML (UTF-8, no declaration) of the EXI stream ``data``."""
        return self.batch([OracleRequest(op=Op.DECODE, schema=schema, data=data, fragment=fragment)])[0].unwrap()

    def encode_many(self, schema: str, xmls: Iterable[bytes], fragment: bool = False) -> list[bytes]:
        """Pipelined :meth:`encode` of many documents; the first failure raises (naming its index)."""
        requests = [OracleRequest(op=Op.ENCODE, schema=schema, data=x, fragment=fragment) for x in xmls]
        return _unwrap_all(self.batch(requests))

    def decode_many(self, schema: str, streams: Iterable[bytes], fragment: bool = False) -> list[bytes]:
        """Pipelined :meth:`decode` of many streams; the first failure raises (naming its index)."""
        requests = [OracleRequest(op=Op.DECODE, schema=schema, data=d, fragment=fragment) for d in streams]
        return _unwrap_all(self.batch(requests))

    def batch(self, requests: Sequence[OracleRequest]) -> list[OracleResult]:
        """Send every request, then collect every answer in order; per-request errors stay in the results.

        A writer thread feeds the oracle's input while this thread reads its output, so a batch of any size
        cannot dead-lock on full pipes. A dead or silent oracle raises :class:`OracleError`.
        """
        lines = [_line(request, self._xsd) for request in requests]  # validates before anything is sent
        if not lines:
            return []
        with self._lock:
            proc = self._running()
            assert proc.stdin is not None
            payload = "".join(lines).encode("ascii")
            write_errors: list[OSError] = []

            def write() -> None:
                try:
                    assert proc.stdin is not None
                    proc.stdin.write(payload)
                    proc.stdin.flush()
                except OSError as exc:  # reported by the reader as a dead oracle
                    write_errors.append(exc)

            writer = threading.Thread(target=write, name="exi-oracle-writer", daemon=True)
            writer.start()
            try:
                answers = [self._read_line() for _ in requests]
            finally:
                writer.join(self.timeout)
        return [_result(request, answer) for request, answer in zip(requests, answers, strict=True)]

    # -- internals ----------------------------------------------------------------------------------

    def _xsd(self, schema: str) -> str:
        name = SCHEMAS.get(schema)
        if name is not None:
            return str(self.cache / "xsd" / name)
        path = Path(schema)
        if path.suffix == ".xsd" and path.is_file():
            return str(path.resolve())
        raise OracleError(f"unknown oracle schema {schema!r}: use one of {', '.join(SCHEMAS)} or an .xsd path")

    def _running(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        if self._started:  # it ran before and died (or timed out): one fresh JVM per failure
            self.close()
            self._spawn()
            if self._proc is not None:
                return self._proc
        raise OracleError("the EXI oracle is not running (call start() first)")

    def _roundtrip(self, line: str) -> str:
        with self._lock:
            proc = self._running()
            assert proc.stdin is not None
            try:
                proc.stdin.write(line.encode("ascii"))
                proc.stdin.flush()
            except OSError as exc:
                raise OracleError(f"the EXI oracle stopped reading its input{self._stderr_suffix()}") from exc
            return self._read_line()

    def _read_line(self) -> str:
        proc = self._running_or_exited()
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                message = f"the EXI oracle did not answer within {self.timeout:.0f} s{self._stderr_suffix()}"
                self.close()
                raise OracleError(message)
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                code = proc.wait(timeout=5)
                message = f"the EXI oracle exited (status {code}){self._stderr_suffix()}"
                self.close()
                raise OracleError(message)
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", errors="replace").rstrip("\r")

    def _running_or_exited(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise OracleError(f"the EXI oracle is not running{self._stderr_suffix()}")
        return self._proc

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            size = os.fstat(self._stderr.fileno()).st_size
            raw = os.pread(self._stderr.fileno(), 4 * _STDERR_TAIL, max(0, size - 4 * _STDERR_TAIL))
        except OSError:
            return ""
        text = raw.decode("utf-8", errors="replace")
        lines = [ln for ln in text.splitlines() if ln.strip() and "is ignored: it is neither" not in ln]
        return " | ".join(lines)[-_STDERR_TAIL:]

    def _stderr_suffix(self) -> str:
        tail = self._stderr_tail()
        return f": {tail}" if tail else ""


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _line(request: OracleRequest, resolve: Callable[[str], str]) -> str:
    path = resolve(request.schema)
    if any(ch.isspace() for ch in path):
        raise OracleError(f"schema path {path!r} contains white space, which the line protocol cannot carry")
    mode = "frag" if request.fragment else "doc"
    if request.op is Op.ENCODE:
        data = base64.b64encode(request.data).decode("ascii")
    else:
        data = request.data.hex()
    if not data:
        raise OracleError(f"empty input for oracle {request.op.value} ({request.schema})")
    return f"{request.op.value} {path} {mode} {data}\n"


def _result(request: OracleRequest, answer: str) -> OracleResult:
    if answer.startswith("OK "):
        body = answer[3:].strip()
        try:
            data = bytes.fromhex(body) if request.op is Op.ENCODE else base64.b64decode(body, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise OracleError(f"malformed oracle answer {answer[:80]!r}: {exc}") from exc
        return OracleResult(request=request, data=data)
    if answer.startswith("ERR"):
        return OracleResult(request=request, error=answer[3:].strip() or "unspecified error")
    raise OracleError(f"malformed oracle answer {answer[:80]!r}")


def _unwrap_all(results: list[OracleResult]) -> list[bytes]:
    for index, result in enumerate(results):
        if not result.ok:
            what = f"oracle {result.request.op.value} ({result.request.schema})"
            raise OracleError(f"{what} failed on item {index}: {result.error}")
    return [result.unwrap() for result in results]
