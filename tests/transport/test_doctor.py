"""`v2g doctor`: the check module on lo (any user) and on a veth end (root), and the command's output."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import doctor
from harness.cli import main
from harness.doctor import CheckResult, Status, exit_code, format_report, run_checks
from harness.netns import VethPair, join_result, ns_command, run_in_netns
from tests.support.netns import veth_or_skip

LINE = re.compile(r"^(OK|FAIL|SKIP)  +\S.*$")
FIX = re.compile(r"^ {6,}fix: \S.*$")
TALLY = re.compile(r"^(\d+) OK, (\d+) FAIL, (\d+) SKIP$")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.bind(("::1", 0))
        return int(sock.getsockname()[1])


def _by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def _check_report_format(text: str, results: list[CheckResult] | None = None) -> tuple[int, int, int]:
    lines = text.rstrip("\n").splitlines()
    assert lines, "empty report"
    tally = TALLY.match(lines[-1])
    assert tally, f"no tally line: {lines[-1]!r}"
    for line in lines[:-1]:
        assert LINE.match(line) or FIX.match(line), f"unexpected report line {line!r}"
    counts = tuple(sum(1 for line in lines[:-1] if line.startswith(s + " ")) for s in ("OK", "FAIL", "SKIP"))
    assert counts == tuple(int(g) for g in tally.groups())
    if results is not None:
        assert sum(counts) == len(results)
    return counts[0], counts[1], counts[2]


def test_checks_on_loopback() -> None:
    port = _free_udp_port()
    results = run_checks("lo", None, port=port, multicast_timeout=0.3)
    checks = _by_name(results)
    assert checks["interface"].status is Status.OK
    assert "loopback" in checks["interface"].detail
    # lo has ::1 only: no link-local address, and the fix says to use a real link.
    assert checks["link-local"].status is Status.FAIL
    assert "loopback" in checks["link-local"].detail and checks["link-local"].fix
    assert checks[f"udp {port}"].status is Status.OK
    flags = int(Path("/sys/class/net/lo/flags").read_text(), 16)
    expected = Status.OK if flags & 0x1000 else Status.FAIL
    assert checks["multicast"].status is expected
    if expected is Status.FAIL:
        assert "no MULTICAST flag" in checks["multicast"].detail
    assert checks["pki"].status is Status.SKIP
    assert checks["python"].status is Status.OK
    assert checks["construct"] == CheckResult(name="construct", status=Status.OK, detail="2.10.70")
    for result in results:
        if result.status is Status.FAIL:
            assert result.fix, f"{result.name} fails without a fix"
    assert exit_code(results) == 1
    _check_report_format(format_report(results), results)


def test_unknown_interface_and_no_interface() -> None:
    checks = _by_name(run_checks("nosuch0"))
    assert checks["interface"].status is Status.FAIL
    assert "nosuch0 does not exist" in checks["interface"].detail
    assert "lo" in checks["interface"].fix  # lists the interfaces that do exist
    assert {checks[n].status for n in ("link-local", "udp 15118", "multicast")} == {Status.SKIP}
    checks = _by_name(run_checks(None))
    assert checks["interface"].status is Status.SKIP and "--iface" in checks["interface"].fix


def test_udp_port_in_use() -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as holder:
        holder.bind(("::", 0))
        port = holder.getsockname()[1]
        result = doctor.check_udp_bind("lo", port)
    assert result.status is Status.FAIL
    assert f"cannot bind UDP port {port} on lo" in result.detail
    assert f"sport = :{port}" in result.fix


def test_pki_check_uses_verify_pki_layout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[Path] = []
    problems: list[str] = []
    fake = types.ModuleType("iso15118.security.pki")

    def verify_pki_layout(directory: Path) -> list[str]:
        seen.append(directory)
        return list(problems)

    fake.verify_pki_layout = verify_pki_layout  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "iso15118.security.pki", fake)
    assert doctor.check_pki(tmp_path).status is Status.OK
    problems.append("secc/leaf.pem is missing")
    failed = doctor.check_pki(tmp_path)
    assert failed.status is Status.FAIL and "secc/leaf.pem is missing" in failed.detail and failed.fix
    assert seen == [tmp_path, tmp_path]
    missing = doctor.check_pki(tmp_path / "nope")
    assert missing.status is Status.FAIL and "is not a directory" in missing.detail

    monkeypatch.setitem(sys.modules, "iso15118.security.pki", types.ModuleType("iso15118.security.pki"))
    skipped = doctor.check_pki(tmp_path)
    assert skipped.status is Status.SKIP and "verify_pki_layout" in skipped.detail


def test_library_checks() -> None:
    assert doctor.check_library("construct", "2.10", "2.10.70").status is Status.OK
    wrong_pin = doctor.check_library("construct", "2.10", "2.10.69")
    assert wrong_pin.status is Status.FAIL and "construct==2.10.69" in wrong_pin.fix
    too_old = doctor.check_library("construct", "99")
    assert too_old.status is Status.FAIL and ">= 99 required" in too_old.detail
    absent = doctor.check_library("no-such-distribution-v2g", "1")
    assert absent.status is Status.FAIL and absent.detail == "not installed"


def test_format_and_exit_code() -> None:
    results = [
        CheckResult(name="a", status=Status.OK, detail="fine"),
        CheckResult(name="longer", status=Status.SKIP, detail="not asked", fix="pass --x"),
    ]
    text = format_report(results)
    assert text.splitlines() == [
        "OK    a       fine",
        "SKIP  longer  not asked",
        "              fix: pass --x",
        "1 OK, 0 FAIL, 1 SKIP",
    ]
    assert exit_code(results) == 0
    assert exit_code([*results, CheckResult(name="b", status=Status.FAIL, detail="x", fix="y")]) == 1


def test_command_output_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "--iface", "lo"])
    out = capsys.readouterr().out
    _ok, failed, _skipped = _check_report_format(out)
    assert code == (1 if failed else 0) == 1  # lo always fails the link-local check
    assert out.splitlines()[0].startswith("OK    interface")

    code = main(["doctor", "--iface", "nosuch0", "--pki", "/nonexistent-v2g"])
    out = capsys.readouterr().out
    _, failed, _ = _check_report_format(out)
    assert code == 1 and failed >= 1
    assert "FAIL  interface" in out


# ---------------------------------------------------------------------------------------------------
# root: a veth end in its own namespace passes every network check


@pytest.fixture(scope="module")
def veth() -> Iterator[VethPair]:
    yield from veth_or_skip("doc")


@pytest.mark.root
def test_checks_on_veth_end(veth: VethPair) -> None:
    results = join_result(*run_in_netns(veth.ns_b, lambda: run_checks(veth.if_b, None)), timeout=30)
    checks = _by_name(results)
    for name in ("interface", "link-local", "udp 15118", "multicast", "raw socket"):
        assert checks[name].status is Status.OK, f"{name}: {checks[name].detail}"
    assert f"{veth.lladdr_b}%{veth.if_b}" in checks["link-local"].detail
    assert "DAD off" in checks["link-local"].detail  # veth_pair turns DAD off


@pytest.mark.root
def test_command_in_namespace(veth: VethPair) -> None:
    argv = ns_command(veth.ns_a, [sys.executable, "-m", "harness.cli", "doctor", "--iface", veth.if_a])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    _ok, failed, skipped = _check_report_format(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert failed == 0 and skipped == 1  # only --pki was not given
    assert f"OK    link-local    {veth.lladdr_a}%{veth.if_a}" in proc.stdout
