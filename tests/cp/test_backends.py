"""The pilot backends: the text protocol, the simulated line, the serial board over a pty, GPIO duty measurement."""

from __future__ import annotations

import asyncio
import os

import pytest

from iso15118.cp.states import CpState
from iso15118.cp.wire import (
    Ack,
    Command,
    PilotReport,
    Refused,
    WireError,
    format_command,
    format_report,
    parse_command,
    parse_reply,
)
from iso15118.transport.cp_gpio import duty_from_edges
from iso15118.transport.cp_line import PilotError, SerialPilot, SimulatedLine, open_pilot
from iso15118.transport.cp_run import EvPilotRunner, EvsePilotRunner

from .board import PtyBoard


@pytest.mark.parametrize(
    "command",
    [
        Command(verb="STATE", state=CpState.C),
        Command(verb="PWM", duty=5.0),
        Command(verb="PWM", duty=None),
        Command(verb="GET"),
    ],
)
def test_commands_round_trip(command: Command) -> None:
    assert parse_command(format_command(command)) == command


def test_replies_parse_and_bad_lines_are_named() -> None:
    assert parse_reply("CP B 5.0\r\n") == PilotReport(state=CpState.B, duty=5.0)
    idle = PilotReport(state=CpState.A, duty=None)
    assert parse_reply(format_report(idle)) == idle
    assert parse_reply("OK") == Ack() and parse_reply("ERR no") == Refused(text="no")
    assert parse_reply("# board v1") is None and parse_command("") is None
    for bad, words in (("CP X 5", "not a pilot state"), ("CP B 120", "outside 0-100"), ("HELLO", "expected CP")):
        with pytest.raises(WireError, match=words):
            parse_reply(bad)
    with pytest.raises(WireError, match="unknown command"):
        parse_command("JUMP")


def test_open_pilot_refuses_unknown_backends_by_name() -> None:
    for spec, words in (
        ("usb:1", "expected sim, serial:DEVICE"),
        ("serial:", "needs a device"),
        ("mqtt://host", "mqtt://host"),
        ("gpio:/dev/gpiochip0?c=x", "integer line offsets"),
    ):
        with pytest.raises(PilotError, match=words):
            open_pilot(spec, "ev")
    with pytest.raises(PilotError, match="drives the EV side only"):
        open_pilot("gpio:/dev/gpiochip0?c=1&pwm=2", "evse")


def test_the_simulated_line_gates_an_ev_and_an_evse_runner() -> None:
    async def scenario() -> list[CpState]:
        line = SimulatedLine()
        async with EvsePilotRunner(line.end("evse")) as evse, EvPilotRunner(line.end("ev")) as ev:
            serving = asyncio.create_task(evse.serve())
            offer = await ev.plug_in(timeout=5)
            assert offer.kind.value == "high-level communication"
            await ev.start_charging()
            await evse.wait_until(lambda: evse.machine.ev_ready, 5, "state C")
            await ev.stop_charging()
            await ev.unplug()
            await evse.wait_until(lambda: evse.machine.output.duty is None, 5, "PWM off")
            serving.cancel()
        return line.history

    assert asyncio.run(scenario()) == [CpState.A, CpState.B, CpState.C, CpState.B, CpState.A]


def test_a_fault_stops_the_ev_session_through_its_handle() -> None:
    class Session:
        def __init__(self) -> None:
            self.stopped: list[str] = []

        async def request_stop(self, why: str) -> None:
            self.stopped.append(why)

    async def scenario() -> list[str]:
        line = SimulatedLine(auto_evse=True)
        session = Session()
        async with EvPilotRunner(line.end("ev")) as ev:
            await ev.plug_in(timeout=5)
            ev.bind(session)
            line.apply("evse", Command(verb="STATE", state=CpState.F))
            await ev.wait_until(lambda: ev.fault is not None, 5, "the fault")
            await asyncio.sleep(0)  # the stop request is a task of its own
        return session.stopped

    assert asyncio.run(scenario()) == ["pilot state F: EVSE not available (state F)"]


def test_an_evse_that_offers_no_5_percent_is_named() -> None:
    async def scenario() -> None:
        line = SimulatedLine()
        async with EvPilotRunner(line.end("ev")) as ev:
            line.apply("evse", Command(verb="PWM", duty=26.7))
            await ev.plug_in(timeout=5)

    with pytest.raises(PilotError, match=r"offers 16\.0 A by PWM, not 5 %"):
        asyncio.run(scenario())


def test_the_serial_backend_talks_to_a_board_and_reports_refusals_and_a_closed_line() -> None:
    board = PtyBoard(("ev",), auto_evse=True)

    async def scenario() -> tuple[PilotReport, str]:
        async with SerialPilot(board.paths["ev"]) as pilot:
            await pilot.send(Command(verb="STATE", state=CpState.B))
            report = await pilot.next_report()
            while report.duty is None:
                report = await pilot.next_report()
            with pytest.raises(PilotError, match="refused PWM 5"):
                await pilot.send(Command(verb="PWM", duty=5.0))
            return report, board.model.commands[-1][1]

    try:
        report, last = asyncio.run(scenario())
    finally:
        board.close()
    assert report == PilotReport(state=CpState.B, duty=5.0) and last == "PWM 5"


def test_a_missing_serial_device_is_named() -> None:
    async def scenario() -> None:
        async with SerialPilot("/dev/nonexistent-pilot"):
            pass

    with pytest.raises(PilotError, match="cannot open the pilot board /dev/nonexistent-pilot"):
        asyncio.run(scenario())


def test_gpio_duty_is_measured_from_edge_timestamps() -> None:
    period = 1_000_000  # 1 kHz in ns
    edges = []
    for i in range(4):
        edges += [(True, i * period), (False, i * period + 50_000)]
    assert duty_from_edges(edges) == 5.0
    assert duty_from_edges(edges[:1]) is None


def test_the_gpio_backend_needs_a_gpio_chip() -> None:
    pytest.importorskip("gpiod", reason="the gpiod package is not installed")
    if not any(name.startswith("gpiochip") for name in os.listdir("/dev")):
        pytest.skip("no /dev/gpiochip* here (no GPIO hardware and no gpio-sim kernel module in this container)")
    raise AssertionError("a GPIO chip exists here: extend this test to drive it")  # pragma: no cover


def test_the_five_percent_mode_pulses_f_between_failed_matches() -> None:
    from iso15118.transport.slac_link import MatchingError, retry_matching

    async def scenario() -> tuple[list[CpState], list[int]]:
        line = SimulatedLine(ev_connected=True)
        attempts: list[int] = []

        async def run() -> object:
            attempts.append(len(attempts) + 1)
            raise MatchingError("no CM_SLAC_PARM.REQ", step="CM_SLAC_PARM")

        async with EvsePilotRunner(line.end("evse")) as pilot:
            await pilot.offer_hlc()
            with pytest.raises(MatchingError):
                await retry_matching(run, retries=2, pulse=pilot.pulse_ef, t_step_ef=0.01)  # type: ignore[arg-type]
        return line.history, attempts

    history, attempts = asyncio.run(scenario())
    assert attempts == [1, 2, 3]  # C_sequ_retry = 2 retries after the first failure
    assert history == [CpState.B, CpState.F, CpState.B, CpState.F, CpState.B]
