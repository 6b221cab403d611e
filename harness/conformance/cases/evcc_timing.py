"""EVCC under test, timing: the tester SECC stays silent or slow; the EV's pacing in the charge loop."""

from __future__ import annotations

from harness.conformance.cases.common import evcc_silent
from harness.conformance.model import Case, Category, SutRole
from harness.conformance.scripts import evse_end, evse_to_loop
from harness.conformance.steps import ExpectRequest, Respond, Serve, ServeLoop

__all__ = ["CASES"]

_TIMEOUT = "V2G20-436 (the EV stops when V2G_EVCC_Msg_Timeout expires)"


CASES: tuple[Case, ...] = (
    evcc_silent(
        "EVCC-TIM-01",
        "No SessionSetupRes: the EV gives up after 2 s",
        "SessionSetupReq",
        "evcc_msg_timeout",
        "V2G20 table 215",
        "2 s",
    ),
    evcc_silent(
        "EVCC-TIM-02",
        "No AC_ChargeLoopRes: the EV gives up after 0.5 s",
        "AC_ChargeLoopReq",
        "evcc_msg_timeout_loop",
        "V2G20 table 216",
        "0.5 s",
        *evse_to_loop(),
        ServeLoop(count=1),
    ),
    evcc_silent(
        "EVCC-TIM-03",
        "No ServiceDetailRes: the EV waits 5 s, not 2 s",
        "ServiceDetailReq",
        "evcc_msg_timeout_long",
        "V2G20 table 215 (ServiceDetail 5 s)",
        "5 s",
    ),
    Case(
        id="EVCC-TIM-04",
        title="A slow but timely SECC: the EV waits for the response",
        sut=SutRole.EVCC,
        category=Category.TIMING,
        requirements=(_TIMEOUT, "V2G20 table 215"),
        stimulus="ServiceDiscoveryRes 1.2 s after the request (within the 2 s message timeout)",
        expected="the EV accepts the late response and goes on with ServiceDetailReq",
        steps=(
            Serve(until="ServiceDiscoveryReq"),
            Respond(delay=1.2, label="after 1.2 s"),
            ExpectRequest(kind="ServiceDetailReq"),
            Respond(),
            *evse_to_loop(preamble=False),
            *evse_end(1),
        ),
    ),
    Case(
        id="EVCC-TIM-05",
        title="The EV's pacing in the charge loop",
        sut=SutRole.EVCC,
        category=Category.TIMING,
        requirements=("V2G20 table 216 (V2G_EVCC_Sequence_Performance_Time 0.25 s)", "V2G20-1499"),
        negative=True,
        strict_performance=True,
        stimulus="six charge loops answered at once",
        expected="every AC_ChargeLoopReq within 0.25 s of the previous AC_ChargeLoopRes",
        steps=(*evse_to_loop(), *evse_end(6)),
    ),
)
