"""Fixtures of the Josev interop tests: the peer's virtual environment and PKI, peer logs shown on failure, results.

* ``josev_python`` (session): Josev installed in its own cached virtual environment; skips with the reason
  when pip cannot install it. Enough for what runs without a JVM (its TLS contexts).
* ``josev_jvm`` (session): the same, for tests that run Josev's EXI codec; skips first when java is missing.
* ``josev_live`` (session): the same, for live sessions; skips first when network namespaces are unavailable
  (not root), so that nothing is installed for tests that cannot run.
* ``josev_pki`` (session): Josev's own test PKI, made by its script in a temporary directory.
* ``peer_logs`` (function): tests register Josev's log files here; when the test fails, the tail of each (from
  the offset the test started at) is appended to the report and a copy is left in the test's tmp dir.
* ``interop_results`` (function): a test records what was negotiated and measured; the records land in the
  test's tmp dir as ``interop-result.json``, as junit properties, and in a table at the end of the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.interop.josev import JosevPki, JosevProcess, Unavailable, ensure_josev, make_pki, require_java
from tests.support.netns import require_netns

_LOGS = pytest.StashKey["PeerLogs"]()
_RESULTS = pytest.StashKey[list[dict[str, Any]]]()
_TAIL = 6000


@pytest.fixture(scope="session")
def josev_python() -> Path:
    """The Python of Josev's virtual environment (installed on first use)."""
    try:
        return ensure_josev()
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def josev_jvm(request: pytest.FixtureRequest) -> Path:
    """Josev's Python, for running its EXI codec (java checked before anything is installed)."""
    try:
        require_java()
    except Unavailable as exc:
        pytest.skip(str(exc))
    python: Path = request.getfixturevalue("josev_python")
    return python


@pytest.fixture(scope="session")
def josev_live(request: pytest.FixtureRequest) -> Path:
    """Josev's Python, for live sessions in network namespaces (root checked before anything is installed)."""
    require_netns()
    python: Path = request.getfixturevalue("josev_jvm")
    return python


@pytest.fixture(scope="session")
def josev_pki(josev_python: Path, tmp_path_factory: pytest.TempPathFactory) -> JosevPki:
    """Josev's test PKI (prime256v1), made once per run by its own create_certs.sh."""
    try:
        return make_pki(josev_python, tmp_path_factory.mktemp("josev") / "pki")
    except Unavailable as exc:
        pytest.skip(str(exc))


@dataclass
class PeerLogs:
    """Josev logs that belong to the running test, each from the offset where the test began."""

    directory: Path
    logs: list[tuple[JosevProcess, int]] = field(default_factory=list)

    def add(self, process: JosevProcess, since: int = 0) -> None:
        """Show ``process``'s log (from byte ``since``) if the test fails."""
        self.logs.append((process, since))

    def sections(self) -> list[tuple[str, str]]:
        """(title, log tail) per registered log; also copies each slice into the test's tmp dir."""
        out = []
        for process, since in self.logs:
            text = process.text(since)
            (self.directory / f"{process.name}.log").write_text(text)
            tail = text[-_TAIL:]
            cut = "...\n" if len(text) > len(tail) else ""
            out.append((f"Josev {process.name} log (tail; full: {self.directory / process.log.name})", cut + tail))
        return out


@pytest.fixture
def peer_logs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PeerLogs]:
    logs = PeerLogs(tmp_path)
    request.node.stash[_LOGS] = logs
    yield logs
    for process, since in logs.logs:
        (tmp_path / f"{process.name}.log").write_text(process.text(since))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome: Any = yield
    report: pytest.TestReport = outcome.get_result()
    logs = item.stash.get(_LOGS, None)
    if logs is not None and report.failed and report.when in ("setup", "call"):
        for title, text in logs.sections():
            report.sections.append((title, text))


@pytest.fixture
def interop_results(
    request: pytest.FixtureRequest, tmp_path: Path, record_property: Callable[[str, object], None]
) -> Callable[..., None]:
    """``record(**fields)``: keep what a session negotiated and measured."""

    def record(**fields: Any) -> None:
        entry = {"test": request.node.name, **fields}
        (tmp_path / "interop-result.json").write_text(json.dumps(entry, indent=2, default=str))
        for key, value in fields.items():
            record_property(key, json.dumps(value, default=str))
        request.config.stash.setdefault(_RESULTS, []).append(entry)

    return record


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash.get(_RESULTS, [])
    if not results:
        return
    terminalreporter.section("Josev interop: negotiated and measured")
    for entry in results:
        fields = ", ".join(f"{k}={v}" for k, v in entry.items() if k != "test")
        terminalreporter.write_line(f"{entry['test']}: {fields}")
