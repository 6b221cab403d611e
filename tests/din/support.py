"""Run DIN 70121 sessions between our EVCC and SECC in memory (both through the real runner), and talk to our
SECC as a scripted EV over an in-memory link."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import cache
from typing import Any

from iso15118.codec import decode_as, encode_message
from iso15118.config import EvccConfig, SeccConfig
from iso15118.constants import NS_DIN
from iso15118.din.profile import DIN
from iso15118.envelope.kinds import Kind
from iso15118.session.sap import sap_request
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.driver import SessionOutcome
from iso15118.transport.link import memory_pair
from iso15118.transport.negotiation import ConnectionTerms
from iso15118.transport.runner import serve_secc_session
from iso15118.v2gtp import Deframer, frame
from tests.session.recording import Recorded, Recorder, run_pair

__all__ = [
    "DIN_SECC",
    "FAST",
    "collapse",
    "din_config",
    "kind_of",
    "recorded_din_session",
    "requests_until",
    "run_din",
    "scripted_secc",
    "sent",
    "wrap",
]

FAST = {
    "loop_interval_s": 0.0,
    "authorization_retry_s": 0.0,
    "precharge_interval_s": 0.0,
    "energy": EnergyFamily.DC,
    "protocols": (NS_DIN,),
}
DIN_SECC = SeccConfig(protocols=(NS_DIN,))
_ENV = DIN.envelope


def din_config(**overrides: Any) -> EvccConfig:
    """An EV that offers DIN 70121 only, does not wait between requests and stops after 3 loops (the simple EV
    takes hours of real time to be full)."""
    return EvccConfig(**{**FAST, "max_loops": 3, **overrides})


def run_din(
    evcc: EvccConfig | None = None,
    *,
    ev: SimpleEV | None = None,
    evse: SimpleEVSE | None = None,
    secc: SeccConfig = DIN_SECC,
    **secc_kwargs: Any,
) -> tuple[SessionOutcome, SessionOutcome, Recorder]:
    """One in-memory DIN session through both runners: (EVCC outcome, SECC outcome, recorder)."""
    rec = Recorder()
    out, secc_out = asyncio.run(
        run_pair(evcc or din_config(), ev=ev, evse=evse, secc=secc, recorder=rec, **secc_kwargs)
    )
    return out, secc_out, rec


def kind_of(message: Any) -> str:
    """A recorded message's kind (``supportedAppProtocolReq`` for the handshake)."""
    opened = _ENV.open(message)
    return type(message).__name__ if opened is None else str(opened[0])


def sent(rec: Recorder, role: str) -> list[str]:
    """The kinds ``role`` sent, in order."""
    return [kind_of(r.message) for r in rec.messages if r.sender == role]


def collapse(names: Sequence[str]) -> list[str]:
    """Repeated messages as one."""
    out: list[str] = []
    for name in names:
        if not out or out[-1] != name:
            out.append(name)
    return out


@cache
def recorded_din_session() -> tuple[Recorded, ...]:
    """The messages of a complete DIN session (3 CurrentDemand loops), both directions, in order."""
    _out, _secc, rec = run_din(din_config(max_loops=3))
    return tuple(rec.messages)


async def scripted_secc(
    requests: Sequence[Any],
    *,
    evse: SimpleEVSE | None = None,
    secc: SeccConfig = DIN_SECC,
    sap: Any = None,
    terms: ConnectionTerms | None = None,
) -> tuple[list[Any], SessionOutcome]:
    """Our SECC (the real runner, under ``terms``) against a scripted DIN EV: after ``sap`` (default: DIN's offer)
    each request is sent once the previous answer came (``requests`` are V2G_Messages; a callable is called with
    the SessionID to build one); the EV stops at a FAILED answer or when the SECC closes. Returns the decoded
    answers and the SECC's outcome."""
    ev_end, secc_end = memory_pair()
    task = asyncio.create_task(serve_secc_session(secc_end, evse or SimpleEVSE(), secc, terms=terms))
    await ev_end.send(frame(0x8001, encode_message(sap or sap_request([DIN.generation.offer]))))
    deframer = Deframer(max_payload_length=65536)
    pending: list[Any] = []
    answers: list[Any] = []
    session_id = bytes(8)

    async def answer() -> Any | None:
        """The next frame from the SECC (None once it closed the connection)."""
        while not pending:
            data = await ev_end.receive()
            if not data:
                return None
            pending.extend(deframer.feed(data))
        return pending.pop(0)

    assert await answer() is not None, "no supportedAppProtocolRes"
    for request in requests:
        message = request(session_id) if callable(request) else request
        await ev_end.send(frame(0x8001, encode_message(message, schema="din")))
        got = await answer()
        if got is None:
            break
        decoded = decode_as(got.payload, "din")
        answers.append(decoded)
        session_id = bytes(decoded.header.session_id)
        if str(_ENV.body(decoded).response_code).startswith("FAILED"):
            break
    await ev_end.close()
    return answers, await task


def wrap(session_id: bytes, element: Any) -> Any:
    """``element`` in a DIN V2G_Message with ``session_id``."""
    return _ENV.wrap(_ENV.header(session_id), element)


def requests_until(kind: Kind) -> list[Any]:
    """The requests our EV sent in a recorded session before the first request of ``kind`` (the SessionID is
    rewritten to the scripted session's)."""
    out: list[Any] = []
    for r in recorded_din_session():
        if r.sender != "evcc" or _ENV.open(r.message) is None:
            continue
        found = _ENV.open(r.message)
        assert found is not None
        if found[0] is kind:
            break
        out.append(_rebinder(found[1]))
    return out


def _rebinder(element: Any) -> Any:
    return lambda session_id: wrap(session_id, element)
