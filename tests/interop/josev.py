"""Josev (PyPI ``iso15118`` 0.31.2) as a live peer: its own virtual environment, its test PKI, its processes, its logs.

* :func:`ensure_josev` finds (or installs, via ``scripts/install-josev``) the virtual environment under
  ``$V2G_PEER_CACHE/josev`` (default ``~/.cache/v2gstack/peers/josev``), never in the project's ``.venv``;
  a missing prerequisite is a :class:`Unavailable` with the reason, which fixtures turn into a skip.
* :func:`make_pki` runs Josev's own ``create_certs.sh -v iso-2`` inside a directory (Josev reads its
  certificates only from ``DIR/iso15118_2/``, even for -20) and writes unencrypted copies of the two keys our
  side presents (the SECC leaf and the OEM provisioning leaf), which Josev keeps password-protected.
* :class:`JosevProcess` runs its SECC or EVCC in a network namespace in a process group of its own, with the
  settings as environment variables (Josev reads nothing else besides a ``.env`` in its working directory,
  so it runs in an empty one), its log in a file, readiness read from that log, and a teardown that kills
  the whole group even when Josev hangs (its EVCC does after an SDP failure).
* :func:`logged_messages` reads the messages Josev decoded and encoded back out of its log
  (``MESSAGE_LOG_JSON=True``), so a test can assert on Josev's own view of a session.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives import serialization

from harness.netns import ns_command

__all__ = [
    "JOSEV_VERSION",
    "JosevPki",
    "JosevProcess",
    "LoggedMessage",
    "Unavailable",
    "ensure_josev",
    "evcc_config",
    "evcc_env",
    "example_evcc_config",
    "logged_messages",
    "make_pki",
    "peer_cache",
    "physical",
    "rational",
    "require_java",
    "secc_env",
]

JOSEV_VERSION = "0.31.2"
REPO = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO / "scripts" / "install-josev"
HERE = Path(__file__).resolve().parent


class Unavailable(Exception):
    """A prerequisite of the Josev peer is missing; the message says which and how to get it."""


def peer_cache() -> Path:
    """The folder holding the peers' virtual environments (``$V2G_PEER_CACHE`` overrides it)."""
    return Path(os.environ.get("V2G_PEER_CACHE", Path.home() / ".cache" / "v2gstack" / "peers"))


def _probe(python: Path) -> str | None:
    """Josev's version when its SECC, EVCC and EVCC's missing dependency import; None otherwise."""
    if not python.exists():
        return None
    code = (
        "import importlib.metadata as m, aiofile, iso15118.secc.main, iso15118.evcc.main; print(m.version('iso15118'))"
    )
    try:
        done = subprocess.run([str(python), "-I", "-c", code], capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_josev(cache: Path | None = None, *, timeout: float = 600.0) -> Path:
    """The Python of Josev's virtual environment, installed on first use; raises :class:`Unavailable`."""
    parent = cache or peer_cache()
    venv = parent / "josev"
    python = venv / "bin" / "python"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        lock = open(parent / "josev.lock", "w")  # noqa: SIM115 - held for the whole install
    except OSError as exc:
        raise Unavailable(f"cannot use the peer cache {parent} (set V2G_PEER_CACHE): {exc}") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test runs install once
        if _probe(python) == JOSEV_VERSION:
            return python
        env = dict(os.environ, V2G_PEER_CACHE=str(parent))
        try:
            done = subprocess.run(
                ["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=timeout, env=env, check=False
            )
        except subprocess.TimeoutExpired:
            why = f"installing Josev {JOSEV_VERSION} took over {timeout:g} s (no network for pip?)"
            raise Unavailable(why) from None
        if done.returncode != 0:
            tail = " / ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise Unavailable(f"cannot install Josev {JOSEV_VERSION} into {venv} (no network for pip?): {tail}")
        found = _probe(python)
        if found != JOSEV_VERSION:
            raise Unavailable(f"Josev in {venv} does not import as version {JOSEV_VERSION} (found {found})")
    return python


def require_java() -> None:
    """Josev's EXI codec (and so its SECC and EVCC) needs a JVM; raises :class:`Unavailable` without one."""
    if shutil.which("java") is None:
        raise Unavailable("Josev's EXI codec runs in a JVM and `java` is not on PATH (apt-get install default-jre)")


# ---- PKI ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JosevPki:
    """Josev's -2 style test PKI (prime256v1, SHA-256) and the files our side uses from it."""

    directory: Path
    """What Josev's PKI_PATH names; its files are under ``iso15118_2/``."""
    v2g_root: Path
    oem_root: Path
    cpo_chain: Path
    """SECC leaf, CPO Sub-CA 2, CPO Sub-CA 1 (PEM): what Josev's SECC presents."""
    oem_chain: Path
    """OEM provisioning leaf and its Sub-CAs (PEM): what Josev's EVCC presents over TLS 1.3."""
    secc_key: Path
    """The SECC leaf's key, unencrypted, for our SECC."""
    oem_key: Path
    """The OEM provisioning leaf's key, unencrypted, for our EVCC."""

    @property
    def pki_path(self) -> str:
        """PKI_PATH as Josev expects it (it joins names by string concatenation)."""
        return f"{self.directory}/"


def _package_dir(python: Path) -> Path:
    done = subprocess.run(
        [str(python), "-I", "-c", "import iso15118, os; print(os.path.dirname(iso15118.__file__))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return Path(done.stdout.strip())


def _decrypt(key: Path, password_file: Path, out: Path) -> Path:
    password = password_file.read_text().strip().encode()
    private = serialization.load_pem_private_key(key.read_bytes(), password)
    out.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    out.chmod(0o600)
    return out


def make_pki(python: Path, directory: Path) -> JosevPki:
    """Create Josev's test PKI in ``directory`` with its own script; raises :class:`Unavailable`."""
    if shutil.which("openssl") is None:
        raise Unavailable("Josev's create_certs.sh needs the openssl command (apt-get install openssl)")
    source = _package_dir(python) / "shared" / "pki"
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "create_certs.sh", directory / "create_certs.sh")
    shutil.copytree(source / "configs", directory / "configs", dirs_exist_ok=True)
    done = subprocess.run(
        ["bash", "create_certs.sh", "-v", "iso-2"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    certs = directory / "iso15118_2" / "certs"
    keys = directory / "iso15118_2" / "private_keys"
    if done.returncode != 0 or not (certs / "cpoCertChain.pem").exists():
        tail = " / ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise Unavailable(f"Josev's create_certs.sh failed in {directory}: {tail}")
    ours = directory / "ours"
    ours.mkdir(exist_ok=True)
    return JosevPki(
        directory=directory,
        v2g_root=certs / "v2gRootCACert.pem",
        oem_root=certs / "oemRootCACert.pem",
        cpo_chain=certs / "cpoCertChain.pem",
        oem_chain=certs / "oemCertChain.pem",
        secc_key=_decrypt(keys / "seccLeaf.key", keys / "seccLeafPassword.txt", ours / "seccLeaf.key"),
        oem_key=_decrypt(keys / "oemLeaf.key", keys / "oemLeafPassword.txt", ours / "oemLeaf.key"),
    )


# ---- settings -------------------------------------------------------------------------------------------
def _common_env(iface: str, pki: JosevPki, tls13: bool) -> dict[str, str]:
    return {
        "NETWORK_INTERFACE": iface,
        "LOG_LEVEL": "DEBUG",
        "MESSAGE_LOG_JSON": "True",
        "MESSAGE_LOG_EXI": "True",
        "PKI_PATH": pki.pki_path,
        "ENABLE_TLS_1_3": str(tls13),
    }


def secc_env(iface: str, pki: JosevPki, *, tls13: bool, protocols: str = "ISO_15118_20_AC") -> dict[str, str]:
    """Josev SECC settings: one -20 namespace (AC by default, ``ISO_15118_20_DC``), EIM; TLS 1.3 (then with
    client certificates) or its TLS 1.2."""
    return _common_env(iface, pki, tls13) | {"PROTOCOLS": protocols, "AUTH_MODES": "EIM"}


def evcc_env(iface: str, pki: JosevPki, *, tls13: bool) -> dict[str, str]:
    """Josev EVCC settings (the rest comes from its JSON configuration, see :func:`evcc_config`)."""
    return _common_env(iface, pki, tls13)


def evcc_config(*, tls: bool, loops: int) -> dict[str, Any]:
    """Josev EVCC configuration: AC_BPT over -20, TLS enforced or plain TCP, ``loops`` charge-loop requests."""
    return {
        "supportedProtocols": ["ISO_15118_20_AC"],
        "supportedEnergyServices": ["AC_BPT"],
        "isCertInstallNeeded": False,
        "useTls": tls,
        "enforceTls": tls,
        "chargeLoopCycle": loops,
        "sdpRetryCycles": 1,
    }


def example_evcc_config(
    python: Path, name: str, *, tls: bool | None = None, loops: int | None = None
) -> dict[str, Any]:
    """One of the EVCC configurations Josev ships, ``iso15118/shared/examples/evcc/NAME`` (a bare file name is one
    of ``iso15118_20/``, e.g. ``evcc_config_dc.json``; ``DIN/evcc_config.json``, ``iso15118_2/...``), with one SDP
    cycle and no certificate installation; ``tls`` (enforced or plain TCP) and ``loops`` (charge-loop requests)
    replace the shipped values when given."""
    folder = "" if "/" in name else "iso15118_20/"
    path = _package_dir(python) / "shared" / "examples" / "evcc" / f"{folder}{name}"
    config: dict[str, Any] = json.loads(path.read_text())
    config |= {"isCertInstallNeeded": False, "sdpRetryCycles": 1}
    if tls is not None:
        config |= {"useTls": tls, "enforceTls": tls}
    if loops is not None:
        config["chargeLoopCycle"] = loops
    return config


# ---- processes ------------------------------------------------------------------------------------------
def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, command name) of every live (not zombie) process in process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may contain spaces, so split after the closing parenthesis.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            found.append((int(entry.name), comm))
    return found


class JosevProcess:
    """One Josev SECC or EVCC process in a namespace, logging to a file; stopped with its whole process group."""

    def __init__(
        self,
        name: str,
        python: Path,
        module: str,
        *,
        namespace: str,
        env: Mapping[str, str],
        workdir: Path,
        args: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / f"{name}.log"
        self._workdir = workdir
        # `env -i`: Josev sees only its settings (and what the JVM and Python need), nothing of ours.
        keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "JAVA_HOME") if k in os.environ}
        settings = [f"{k}={v}" for k, v in (keep | dict(env)).items()]
        self.argv = ns_command(namespace, ["env", "-i", *settings, str(python), "-I", "-m", module, *args])
        self._proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None

    def start(self) -> JosevProcess:
        """Start the process (its own session and process group) with stdout and stderr in :attr:`log`."""
        self._out = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            self.argv,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self._workdir,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int | None:
        """The process id (also its process group id), once started."""
        return None if self._proc is None else self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has ended."""
        return None if self._proc is None else self._proc.poll()

    def text(self, since: int = 0) -> str:
        """The log from byte offset ``since``."""
        try:
            with open(self.log, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def offset(self) -> int:
        """The log's current size (to read only what a later step adds)."""
        try:
            return self.log.stat().st_size
        except FileNotFoundError:
            return 0

    def wait_for_log(self, pattern: str, timeout: float, *, since: int = 0) -> bool:
        """True once ``pattern`` (a regular expression) appears in the log after ``since``; False on timeout/exit."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if regex.search(self.text(since)):
                return True
            if self.returncode is not None:
                return bool(regex.search(self.text(since)))
            time.sleep(0.05)
        return False

    def wait(self, timeout: float) -> int | None:
        """Wait for the process to exit; its status, or None if it is still running after ``timeout``."""
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace: float = 5.0) -> None:
        """End the process group: SIGTERM, then SIGKILL after ``grace`` seconds (idempotent)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if proc is not None:
            # The JVM (py4j) runs in the same group; make sure nothing of it outlives the test. SIGKILL is
            # delivered asynchronously and a JVM takes a moment to tear down its threads: wait until it is gone.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            deadline = time.monotonic() + 10.0
            while group_members(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.02)
        if self._out is not None:
            self._out.close()
            self._out = None

    def __enter__(self) -> JosevProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# ---- logs -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoggedMessage:
    """A message as Josev logged it: ``sent`` (about to encode) or ``received`` (decoded), in its JSON form; a DIN
    70121 or -2 ``V2G_Message`` is named by its Body element (``CurrentDemandRes``), whose content is ``body``."""

    direction: str
    name: str
    body: dict[str, Any]
    header: dict[str, Any] = field(default_factory=dict)
    """DIN 70121 and -2: the V2G_Message's Header (-20 messages keep theirs in ``body``)."""


_LOGGED = re.compile(r"(Decoded message|Message to encode) \(ns=[^)]*\): (\{.*\})\s*$")


def logged_messages(text: str) -> list[LoggedMessage]:
    """Every message Josev decoded or encoded, in log order (needs ``MESSAGE_LOG_JSON=True``)."""
    out = []
    for line in text.splitlines():
        found = _LOGGED.search(line)
        if found is None:
            continue
        try:
            data = json.loads(found.group(2))
        except json.JSONDecodeError:
            continue
        name = next(iter(data))
        direction = "received" if found.group(1) == "Decoded message" else "sent"
        if name == "V2G_Message" and data[name].get("Body"):
            header, body = data[name].get("Header", {}), data[name]["Body"]
            inner = next(iter(body))
            out.append(LoggedMessage(direction, inner, body[inner], header))
        else:
            out.append(LoggedMessage(direction, name, data[name]))
    return out


def rational(value: Mapping[str, int]) -> float:
    """A RationalNumber in Josev's JSON form (``{"Exponent": e, "Value": v}``) as a float."""
    return float(value["Value"]) * 10.0 ** int(value["Exponent"])


def physical(value: Mapping[str, Any]) -> float:
    """A DIN 70121 / -2 PhysicalValue in Josev's JSON form (``{"Value": v, "Multiplier": m, "Unit": u}``)."""
    return float(value["Value"]) * 10.0 ** int(value["Multiplier"])
