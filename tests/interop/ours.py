"""Our side of a live interop session: the runtime in a network namespace, and what it saw, with timestamps.

:class:`Timeline` is an observer that keeps every message our side sent or received; from it come the
figures the tests record (Josev's response times, the gaps between its charge-loop requests, the EVSE
targets). :func:`run_our_evcc` runs :func:`~iso15118.transport.evcc_client.run_evcc` (SDP, TCP, TLS, one
session) in a thread that joined a namespace; :class:`OurSecc` serves one connection with
:class:`~iso15118.transport.secc_server.SeccServer` (TCP/TLS and SDP) in a namespace until the session's
report arrives or the test aborts it.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from harness.netns import join_result, run_in_netns
from iso15118.config import EvccConfig, SeccConfig
from iso15118.controller import EVController, EVSEController
from iso15118.din.profile import DIN
from iso15118.envelope.states import body_of
from iso15118.iso2.profile import ISO2
from iso15118.iso20.services import loop_request_mode, loop_target_power
from iso15118.messages.units import value_of
from iso15118.profiles import Pnc
from iso15118.session.events import (
    Event,
    MessageReceived,
    MessageSent,
    ResponseReceived,
    SchemaDeviationTolerated,
)
from iso15118.transport.evcc_client import EvccClientConfig, EvccRun, run_evcc
from iso15118.transport.secc_server import ConnectionReport, SeccServer, SeccServerConfig
from tests.interop.josev import JosevProcess

__all__ = ["OurSecc", "Timeline", "body", "kind_name", "run_our_evcc", "serve_josev_evcc"]


def kind_name(message: Any) -> str:
    """A message's kind: the Body element of a DIN 70121 or -2 ``V2G_Message`` (``CurrentDemandReq``), else its
    class name (-20 messages, SupportedAppProtocol)."""
    module = type(message).__module__
    profile = DIN if module.endswith(".din") else ISO2 if module.endswith(".iso2") else None
    kind = profile.kind_of(message) if profile is not None else None
    return str(kind) if kind is not None else type(message).__name__


def body(message: Any) -> Any:
    """The Body element of a DIN 70121 or -2 message (the message itself for -20)."""
    return body_of(message) if kind_name(message) != type(message).__name__ else message


@dataclass
class Timeline:
    """An observer of one side: (at, "sent" | "received", message) in order, plus response times."""

    messages: list[tuple[float, str, Any]] = field(default_factory=list)
    elapsed: list[tuple[str, float]] = field(default_factory=list)
    tolerated: list[SchemaDeviationTolerated] = field(default_factory=list)
    """Schema deviations tolerant decoding let pass (none in strict mode: it ends the session instead)."""

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        if isinstance(event, MessageSent):
            self.messages.append((event.at, "sent", event.message))
        elif isinstance(event, MessageReceived):
            self.messages.append((event.at, "received", event.message))
        if isinstance(event, ResponseReceived):
            self.elapsed.append((kind_name(event.message), event.elapsed))
        if isinstance(event, SchemaDeviationTolerated):
            self.tolerated.append(event)

    def kinds(self, direction: str) -> list[str]:
        """The message kinds sent or received, in order (:func:`kind_name`)."""
        return [kind_name(msg) for _, d, msg in self.messages if d == direction]

    def response_times(self, kind: str) -> list[float]:
        """EVCC side: seconds from each request to its response of ``kind`` (e.g. ``CurrentDemandRes``)."""
        return [round(t, 3) for name, t in self.elapsed if name == kind]

    def loop_response_times(self, family: str = "AC") -> list[float]:
        """EVCC side: seconds from each AC_ (or DC_) ChargeLoopReq to its response."""
        return self.response_times(f"{family}_ChargeLoopRes")

    def loop_gaps(self, family: str = "AC", *, loop: str | None = None) -> list[float]:
        """SECC side: seconds from each AC_ (or DC_) ChargeLoopRes sent to the next loop request received;
        ``loop`` names another loop request (``CurrentDemandReq``, ``ChargingStatusReq``)."""
        request = loop or f"{family}_ChargeLoopReq"
        response = request[: -len("Req")] + "Res"
        gaps, last = [], None
        for at, direction, msg in self.messages:
            kind = kind_name(msg)
            if direction == "sent" and kind == response:
                last = at
            elif direction == "received" and kind == request and last is not None:
                gaps.append(round(at - last, 3))
                last = None
        return gaps

    def loop_targets(self, direction: str) -> list[float | None]:
        """EVSETargetActivePower of every AC_ChargeLoopRes sent or received (None where absent)."""
        return [loop_target_power(msg) for msg in self._of_kind(direction, "AC_ChargeLoopRes")]

    def loop_present_power(self, direction: str) -> list[float]:
        """EVPresentActivePower of every AC_ChargeLoopReq sent or received."""
        modes = (loop_request_mode(msg) for msg in self._of_kind(direction, "AC_ChargeLoopReq"))
        return [value_of(mode[2].ev_present_active_power) for mode in modes if mode is not None]

    def dc_outputs(self, direction: str, kind: str = "DC_ChargeLoopRes") -> list[tuple[float, float | None]]:
        """(EVSEPresentVoltage, EVSEPresentCurrent or None) of every DC response of ``kind`` sent or received."""
        out = []
        for msg in self._of_kind(direction, kind):
            current = getattr(msg, "evse_present_current", None)
            out.append((value_of(msg.evse_present_voltage), None if current is None else value_of(current)))
        return out

    def of_kind(self, direction: str, kind: str) -> list[Any]:
        """The messages (DIN 70121 and -2: their Body elements) of ``kind`` sent or received, in order."""
        return [body(msg) for msg in self._of_kind(direction, kind)]

    def _of_kind(self, direction: str, kind: str) -> list[Any]:
        return [msg for _, d, msg in self.messages if d == direction and kind_name(msg) == kind]


def spread(values: list[float]) -> dict[str, float]:
    """min / median / max of a list of seconds (empty dict for no values)."""
    if not values:
        return {}
    return {"min": min(values), "median": round(statistics.median(values), 3), "max": max(values)}


def run_our_evcc(
    namespace: str,
    client: EvccClientConfig,
    ev: EVController,
    evcc: EvccConfig,
    *,
    timeout: float,
) -> tuple[EvccRun, Timeline]:
    """SDP, TCP/TLS and one session with our EVCC runtime inside ``namespace``."""
    timeline = Timeline()

    def work() -> EvccRun:
        return asyncio.run(run_evcc(client, ev, evcc, observers=[timeline]))

    thread, box = run_in_netns(namespace, work, name="our-evcc")
    return join_result(thread, box, timeout), timeline


class OurSecc:
    """Our SECC runtime (SeccServer with SDP) serving one connection in a namespace, in a thread."""

    def __init__(
        self,
        namespace: str,
        config: SeccServerConfig,
        controller: EVSEController,
        secc: SeccConfig,
        *,
        timeout: float,
        pnc: Pnc | None = None,
    ) -> None:
        self.timeline = Timeline()
        self._pnc = pnc
        self._namespace = namespace
        self._config = config
        self._controller = controller
        self._secc = secc
        self._timeout = timeout
        self._ready = threading.Event()
        self._abort = threading.Event()
        self._thread: threading.Thread | None = None
        self._box: list[ConnectionReport | None] = []

    async def _serve(self) -> ConnectionReport | None:
        server = SeccServer(
            self._config, lambda: self._controller, secc=self._secc, pnc=self._pnc, observers=[self.timeline]
        )
        async with server:
            self._ready.set()
            report = asyncio.ensure_future(server.next_report())
            deadline = time.monotonic() + self._timeout
            while not report.done():
                if self._abort.is_set() or time.monotonic() > deadline:
                    report.cancel()
                    return None
                await asyncio.wait({report}, timeout=0.1)
            return report.result()

    def start(self, ready_timeout: float = 15.0) -> None:
        """Start serving; returns once SDP and the listener are up (raises if they do not come up)."""
        self._thread, self._box = run_in_netns(self._namespace, lambda: asyncio.run(self._serve()), name="our-secc")
        deadline = time.monotonic() + ready_timeout
        while not self._ready.wait(0.05):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                join_result(self._thread, self._box, 5)  # re-raises why it did not start
                raise RuntimeError("our SECC did not start")

    def abort(self) -> None:
        """Stop waiting for a session (the peer gave up)."""
        self._abort.set()

    @property
    def finished(self) -> bool:
        """True once the serving thread has ended."""
        return self._thread is not None and not self._thread.is_alive()

    def report(self) -> ConnectionReport | None:
        """The connection's report (None when aborted or timed out); waits for the thread."""
        assert self._thread is not None
        return join_result(self._thread, self._box, self._timeout + 15)


def serve_josev_evcc(
    ours: OurSecc, josev: JosevProcess, *, exit_wait: float
) -> tuple[ConnectionReport | None, int | None, float]:
    """Our SECC serving one session of Josev's EVCC: (our report, Josev's exit code, seconds from Josev's start).

    Josev exits ~5 s after SessionStopRes; ``exit_wait`` bounds the wait for that (0: do not wait). When it exits
    with an error first (its SDP failed...), our SECC stops waiting; after a failed session it hangs instead (J17)
    and is stopped here either way."""
    ours.start()
    started = time.monotonic()
    try:
        josev.start()
        while not ours.finished:
            if josev.returncode is not None and josev.returncode != 0:
                ours.abort()  # Josev gave up: do not wait for the session timeout
            time.sleep(0.1)
        report = ours.report()
        exit_code = josev.wait(exit_wait) if exit_wait else None
        took = time.monotonic() - started
    finally:
        ours.abort()
        josev.stop()
    return report, exit_code, took
