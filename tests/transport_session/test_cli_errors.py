"""Errors that point the right way (issue 13, item 7, the session side): an interface that does not exist, is
down, has IPv6 disabled or no carrier is named with its fix by `v2g secc`, `v2g evcc` and `v2g doctor`; an EV
paced slower than the SECC's sequence timeout is warned before it starts, and its lost connection is explained.

The interface cases run in a network namespace made for the test (root), where the links are exactly the ones
the test creates.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from harness.cli import main
from harness.commands._pacing import SequenceGap, pacing_warnings
from harness.netns import join_result, namespace, run_in_netns
from iso15118.config import EvccConfig
from iso15118.session.events import EndReason, MessageReceived, MessageSent, SessionEnded
from iso15118.session.profile import Stream
from iso15118.session.timers import Timing
from tests.support.netns import free_port, require_netns
from tests.transport_session import cli_support as cli
from tests.transport_session.helpers import TestPki

_NO_CARRIER = "connect the cable / power the PLC modem (for a veth end: bring its peer up)"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@pytest.fixture(scope="module")
def odd_links() -> Iterator[str]:
    """A namespace with veth ends in three bad states: va (IPv6 disabled), vc (down), ve (up, peer down)."""
    require_netns()
    with namespace("v2gif") as ns:
        for a, b in (("va", "vb"), ("vc", "vd"), ("ve", "vf")):
            _ip("-n", ns, "link", "add", a, "type", "veth", "peer", "name", b)
        subprocess.run(
            ["ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.va.disable_ipv6=1"],
            check=True,
            capture_output=True,
            timeout=20,
        )
        for link in ("va", "vb", "ve"):
            _ip("-n", ns, "link", "set", link, "up")
        yield ns


def _in(ns: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], list[str]]:
    """``v2g ARGV`` in-process, in a thread inside namespace ``ns``: (exit code, stdout lines, stderr lines)."""
    thread, box = run_in_netns(ns, lambda: main(argv))
    code = join_result(thread, box, timeout=60)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


@pytest.mark.root
@pytest.mark.parametrize("role", ["secc", "evcc"])
def test_each_bad_interface_is_named_with_its_fix(
    role: str, odd_links: str, pki: TestPki, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = {
        "nope": "no such interface: nope; available: lo, va, vb, vc, vd, ve, vf (see `ip link`)",
        "va": "IPv6 is disabled on va; enable it: sysctl -w net.ipv6.conf.va.disable_ipv6=0",
        "vc": "vc is down; bring it up: ip link set vc up",
        "ve": f"ve is up but has no carrier; {_NO_CARRIER}",
    }
    for iface, words in expected.items():
        code, out, err = _in(odd_links, [role, "--iface", iface, "--pki", str(pki.layout.directory)], capsys)
        assert (code, out, err) == (1, [], [f"v2g {role}: error: {words}"])


@pytest.mark.root
def test_doctor_gives_the_fix_of_each_cause(odd_links: str, capsys: pytest.CaptureFixture[str]) -> None:
    fixes = {
        "va": "sysctl -w net.ipv6.conf.va.disable_ipv6=0",
        "vc": "ip link set vc up",
        "ve": _NO_CARRIER,
    }
    for iface, fix in fixes.items():
        code, out, _ = _in(odd_links, ["doctor", "--iface", iface], capsys)
        report = "\n".join(out)
        assert code == 1
        # The multicast check names the real cause: never "multicast on" for a link that has the flag.
        multicast = out.index(next(line for line in out if line.startswith("FAIL  multicast")))
        assert out[multicast + 1].strip() == f"fix: {fix}", report
        assert "multicast on" not in report


def test_no_such_interface_lists_the_ones_there_are(pki: TestPki, capsys: pytest.CaptureFixture[str]) -> None:
    for role in ("secc", "evcc"):
        assert main([role, "--iface", "nope", "--pki", str(pki.layout.directory)]) == 1
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith(f"v2g {role}: error: no such interface: nope; available: ") and "lo" in line


def test_pacing_warnings_name_the_timeout_and_the_requirement() -> None:
    timing = Timing()
    assert pacing_warnings(EvccConfig(), timing) == []
    [slow] = pacing_warnings(EvccConfig(loop_interval_s=5.0), timing)
    assert "(5 s, --loop-interval / [evcc] loop_interval_s)" in slow
    assert "sequence timeout (0.5 s, V2G_SECC_Sequence_Timeout [V2G20-1499/1500])" in slow
    [late] = pacing_warnings(EvccConfig(loop_interval_s=0.3), timing)
    assert "exceeds the EV's charge-loop sequence performance time (0.25 s" in late
    # Tolerant mode's scaled timers move the limits with them.
    assert pacing_warnings(EvccConfig(loop_interval_s=0.3), timing.scaled(2.0)) == []
    [retry] = pacing_warnings(EvccConfig(authorization_retry_s=60.0), timing)
    assert "authorization_retry_s) is 60 s, not shorter than the SECC's sequence timeout (60 s" in retry


def test_a_silence_as_long_as_the_sequence_timeout_explains_a_lost_connection() -> None:
    def gap_after(silence: float, *, then_sent: bool = False) -> str | None:
        gap = SequenceGap(Timing())
        res = type("AC_ChargeLoopRes", (), {})()
        gap.update(MessageReceived(at=10.0, message=res, payload_type=0x8002, stream=Stream.MAIN, data=b""))
        if then_sent:
            gap.update(MessageSent(at=10.1, message=object(), payload_type=0x8002, stream=Stream.MAIN, data=b""))
        gap.update(SessionEnded(at=10.0 + silence, reason=EndReason.CONNECTION_LOST, detail="closed"))
        return gap.explanation

    assert gap_after(0.2) is None  # closed long before the SECC's timeout: something else
    assert gap_after(0.5, then_sent=True) is None  # the EV was not silent
    text = gap_after(0.5)
    assert text is not None and "sent nothing for 0.50 s after AC_ChargeLoopRes" in text
    assert "waits at most 0.5 s for the next request (V2G_SECC_Sequence_Timeout [V2G20-1499/1500])" in text


def test_an_ev_paced_slower_than_the_secc_allows_is_warned_and_told_why_it_failed(
    pki: TestPki, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    pki_dir = str(pki.layout.directory)
    with cli.secc(["--listen", "::1", "--port", str(port), "--no-sdp", "--pki", pki_dir, "--once", "-q"]) as secc:
        code = main(["evcc", "--target", f"[::1]:{port}", "--pki", pki_dir, "--loop-interval", "5", "--quiet"])
        secc_code, secc_out, _ = cli.finish(secc)
    out, err = capsys.readouterr()
    assert code == 1 and secc_code == 1
    # Before the start: the setting, the timeout and the requirement (and --quiet: no status lines).
    [warning] = err.splitlines()
    assert warning.startswith("v2g evcc: warning: the loop interval (5 s, --loop-interval / [evcc] loop_interval_s)")
    assert "V2G_SECC_Sequence_Timeout [V2G20-1499/1500]" in warning
    [line] = out.splitlines()
    assert ", 1 loop, 1 meter reading " in line and "ended connection_lost" in line
    assert "probably: the SECC closed the connection on its sequence timeout" in line
    assert "ended timeout (secc_sequence_timeout expired" in secc_out
