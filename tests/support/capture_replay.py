"""Replay a captured ISO 15118 session against one of our runtimes, in memory.

:func:`captured_exchanges` pairs every request of a capture's TCP connection with the response that followed
it (decoded, with the payload types they travelled in). Two drivers use the pairs:

* :func:`replay_requests` plays the captured EV against an SECC: it sends the captured requests in order,
  one at a time, each after the previous answer. Our SECC issues a SessionID of its own, so every request after
  SessionSetup carries the SessionID of our SessionSetupRes in its header and is re-encoded; everything else is
  sent as captured.
* :func:`answer_from_capture` plays the captured charger against an EVCC: it answers each request with the next
  unused captured response of the matching kind (SessionSetupRes to SessionSetupReq...), byte for byte as
  captured, and records the requests. Our EV adopts the captured SessionID from the captured SessionSetupRes, so
  the captured responses need no re-stamping; the recorded requests show whether it did. When the capture has
  no response left for a request, the peer closes the link and says which request that was.

Both return what they saw and never hang: every wait has a deadline, and a link closed early ends the run.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from iso15118.codec import decode_message, encode_message, payload_type_of
from iso15118.transport.link import Link
from iso15118.v2gtp import Deframer, frame
from tests.support.captures import CapturedFrame, Direction, Transport

__all__ = [
    "CapturedMessage",
    "Exchange",
    "Replayed",
    "ScriptedRun",
    "answer_from_capture",
    "captured_exchanges",
    "kind",
    "replay_requests",
    "response_kind",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class CapturedMessage:
    """One decoded message of a capture, with the payload type and bytes it travelled in."""

    message: Any
    payload_type: int
    payload: bytes
    frame_number: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Exchange:
    """A captured request and the response that followed it."""

    request: CapturedMessage
    response: CapturedMessage


def kind(message: Any) -> str:
    """A message's element name (``DC_CableCheckReq``, ``supportedAppProtocolRes``...)."""
    return type(message).__name__


def response_kind(request_kind: str) -> str:
    """The response element that answers a request element."""
    if not request_kind.endswith("Req"):
        raise ValueError(f"{request_kind} is not a request")
    return request_kind[:-3] + "Res"


def _decoded(f: CapturedFrame) -> CapturedMessage:
    return CapturedMessage(
        message=decode_message(f.payload, f.payload_type),
        payload_type=f.payload_type,
        payload=f.payload,
        frame_number=f.frame_number,
    )


def captured_exchanges(frames: Sequence[CapturedFrame]) -> list[Exchange]:
    """The request/response pairs of the one TCP connection in ``frames`` (SDP datagrams are left out).

    Raises ValueError when the capture holds several connections, or a request is not followed by the response
    of its kind before the next request (the capture is then not a strict request/response sequence).
    """
    tcp = [f for f in frames if f.transport is not Transport.UDP]
    streams = {f.stream for f in tcp}
    if len(streams) != 1:
        raise ValueError(f"expected one TCP connection, the capture has {len(streams)}")
    exchanges: list[Exchange] = []
    pending: CapturedMessage | None = None
    for f in tcp:
        msg = _decoded(f)
        if f.direction is Direction.EV_TO_EVSE:
            if pending is not None:
                raise ValueError(f"frame {f.frame_number}: a request before the response to {kind(pending.message)}")
            pending = msg
            continue
        if pending is None or kind(msg.message) != response_kind(kind(pending.message)):
            raise ValueError(f"frame {f.frame_number}: {kind(msg.message)} answers no pending request")
        exchanges.append(Exchange(request=pending, response=msg))
        pending = None
    if pending is not None:
        raise ValueError(f"the capture ends with {kind(pending.message)} unanswered")
    return exchanges


class _Reader:
    """Whole V2GTP frames from a link, with a deadline per frame; None once the link is closed."""

    def __init__(self, link: Link, timeout: float) -> None:
        self._link = link
        self._timeout = timeout
        self._deframer = Deframer()
        self._ready: deque[tuple[int, bytes]] = deque()

    async def next(self) -> tuple[int, bytes] | None:
        while not self._ready:
            data = await asyncio.wait_for(self._link.receive(), self._timeout)
            if not data:
                return None
            self._ready.extend((f.payload_type, f.payload) for f in self._deframer.feed(data))
        return self._ready.popleft()


@dataclass(frozen=True, slots=True, kw_only=True)
class Replayed:
    """A captured request as sent to our side, and what our side answered."""

    exchange: Exchange
    sent: Any
    answer: Any
    """What our side answered; None when it closed the link instead."""


def _with_session(message: Any, session_id: bytes | None) -> Any:
    header = getattr(message, "header", None)
    if session_id is None or header is None:
        return message
    return replace(message, header=replace(header, session_id=session_id))


async def replay_requests(link: Link, exchanges: Sequence[Exchange], *, timeout: float = 10.0) -> list[Replayed]:
    """Send every captured request in order and read our side's answer to each (see the module docstring)."""
    reader = _Reader(link, timeout)
    session_id: bytes | None = None
    out: list[Replayed] = []
    try:
        for exchange in exchanges:
            request = _with_session(exchange.request.message, session_id)
            payload = exchange.request.payload if request is exchange.request.message else encode_message(request)
            if payload_type_of(request) != exchange.request.payload_type:
                raise ValueError(f"{kind(request)} was captured with payload type {exchange.request.payload_type:#x}")
            await link.send(frame(exchange.request.payload_type, payload))
            got = await reader.next()
            answer = None if got is None else decode_message(got[1], got[0])
            out.append(Replayed(exchange=exchange, sent=request, answer=answer))
            if answer is None:
                break
            if kind(answer) == "SessionSetupRes":
                session_id = answer.header.session_id
    finally:
        await link.close()
    return out


@dataclass(slots=True)
class ScriptedRun:
    """What the scripted charger saw: every request, and the one it had no captured response for."""

    requests: list[Any] = field(default_factory=list)
    unanswered: str | None = None
    """The request kind the capture ran out of responses for (the peer then closed the link)."""
    closed_by_peer: bool = False
    """The EV closed the link (after SessionStopRes that is the regular end)."""


async def answer_from_capture(link: Link, exchanges: Sequence[Exchange], *, timeout: float = 10.0) -> ScriptedRun:
    """Answer each request with the next captured response of its kind until SessionStopRes has been sent."""
    responses: dict[str, deque[CapturedMessage]] = {}
    for exchange in exchanges:
        responses.setdefault(kind(exchange.response.message), deque()).append(exchange.response)
    reader = _Reader(link, timeout)
    run = ScriptedRun()
    try:
        while True:
            got = await reader.next()
            if got is None:
                run.closed_by_peer = True
                return run
            request = decode_message(got[1], got[0])
            run.requests.append(request)
            queue = responses.get(response_kind(kind(request)))
            if not queue:
                run.unanswered = kind(request)
                return run
            answer = queue.popleft()
            await link.send(frame(answer.payload_type, answer.payload))
            if kind(answer.message) == "SessionStopRes":
                return run
    finally:
        await link.close()
