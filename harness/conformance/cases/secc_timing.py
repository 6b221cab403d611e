"""SECC under test, timing: the tester stays silent or slow; performance times on every response.

Limits come from the run's timing (the standard's tables 215/216 unless the SUT is configured otherwise) plus the
run's slack for network and scheduling delays.
"""

from __future__ import annotations

from harness.conformance.cases.common import closes_at, loop_silence
from harness.conformance.model import Case, Category, Profile, SutRole
from harness.conformance.scripts import ev_stop
from harness.conformance.steps import CLOSE_GRACE, Close, Connect, ExpectClosed, Loop, Walk

__all__ = ["CASES"]

CASES: tuple[Case, ...] = (
    Case(
        id="SECC-TIM-01",
        title="The EV goes silent after AuthorizationSetup: the SECC ends the session at its sequence timeout",
        sut=SutRole.SECC,
        category=Category.TIMING,
        requirements=("V2G20-441", "V2G20-443"),
        negative=True,
        stimulus="after AuthorizationSetupRes the tester sends nothing",
        expected="the SECC ends the session when V2G_SECC_Sequence_Timeout (60 s) expires, not before, and closes the "
        "connection within 5 s (ISO 15118-4)",
        steps=(
            Walk(until="AuthorizationReq"),
            closes_at("secc_sequence_timeout", "V2G20-443", "V2G_SECC_Sequence_Timeout"),
        ),
        timeout_s=400.0,
    ),
    loop_silence("SECC-TIM-02", Profile()),
    Case(
        id="SECC-TIM-03",
        title="No SupportedAppProtocolReq after the connection opened: the SECC ends it",
        sut=SutRole.SECC,
        category=Category.TIMING,
        requirements=("V2G20-1483", "V2G20-723"),
        negative=True,
        stimulus="the tester connects and sends nothing",
        expected="the SECC closes the connection at the latest when its sequence timeout (already running "
        "[V2G20-1483]) expires",
        steps=(
            Connect(),
            ExpectClosed(
                timer="secc_sequence_timeout",
                grace=CLOSE_GRACE,
                requirement="V2G20-1483",
                what="sequence timeout before SupportedAppProtocolReq",
            ),
        ),
        timeout_s=400.0,
    ),
    Case(
        id="SECC-TIM-04",
        title="A slow but timely EV in the charge loop: the SECC keeps the loop going",
        sut=SutRole.SECC,
        category=Category.TIMING,
        requirements=("V2G20-1499", "V2G20-1500"),
        stimulus="AC_ChargeLoopReq 0.3 s after each response (the EV's 0.25 s pacing missed, the SECC's 0.5 s "
        "timeout kept)",
        expected="every AC_ChargeLoopReq is answered; the SECC does not end the session early",
        steps=(Walk(until="AC_ChargeLoopReq"), Loop(count=4, interval=0.3), *ev_stop()),
    ),
    Case(
        id="SECC-TIM-05",
        title="Message performance time of every response in a complete AC_BPT session",
        sut=SutRole.SECC,
        category=Category.TIMING,
        requirements=("V2G20 table 215", "V2G20 table 216"),
        negative=True,
        strict_performance=True,
        stimulus="a complete AC_BPT Dynamic session with 5 charge loops",
        expected="every response within V2G_SECC_Msg_Performance_Time: 1.5 s (ServiceDetail 4.5 s, AC_ChargeLoop "
        "0.25 s), measured from the request's last byte to the response's arrival",
        steps=(Walk(loops=5, preamble=False), Close()),
    ),
    Case(
        id="SECC-TIM-06",
        title="After SessionStopRes the SECC leaves the EV time to close TCP first, then closes itself",
        sut=SutRole.SECC,
        category=Category.TIMING,
        requirements=("V2G20-1633", "V2G20-034"),
        negative=True,
        stimulus="a complete session; after SessionStopRes(Terminate) the tester keeps the connection open",
        expected="the SECC waits at least 5 s for the EV to close, then closes the connection itself (within 10 s)",
        steps=(
            Walk(loops=1),
            ExpectClosed(
                timer="secc_close_after_stop",
                lower=True,
                factor=2.0,
                requirement="V2G20-1633",
                what="SECC closes after SessionStopRes",
            ),
        ),
        timeout_s=60.0,
    ),
)
