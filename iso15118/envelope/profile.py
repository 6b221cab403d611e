"""A ``V2G_Message`` generation (DIN 70121, ISO 15118-2) as a session profile.

:class:`Generation` is the data that tells the generations apart -- the generated module, the namespace offered
in SupportedAppProtocol, the sequence table, the timers per request, the payload limits and the requirement
IDs --, and :class:`EnvelopeProfile` is the one implementation of
:class:`~iso15118.session.profile.Profile` over it. Everything travels in payload type 0x8001; there are no side
streams. A generation whose namespace fixes the energy family (DIN: DC only) says so in ``family``; -2 learns it
from ChargeParameterDiscoveryReq through its ``learn`` hook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import ModuleType
from typing import Any, Final

from iso15118.codec import decode_as, encode_message
from iso15118.constants import PayloadType
from iso15118.envelope.envelope import Envelope
from iso15118.envelope.kinds import RESPONSE_OF, Kind
from iso15118.envelope.states import body_of, starts_power
from iso15118.session.failures import minimal_instance
from iso15118.session.profile import MessageTiming, Stream, Table
from iso15118.session.sap import Offer
from iso15118.session.selection import EnergyFamily, Selection
from iso15118.session.timers import Timer, Timing

__all__ = ["EnvelopeProfile", "Generation", "Learn"]

Learn = Callable[[Selection, Kind, Any, Any], Selection]
"""What an exchange teaches a generation's session beyond the generic (request and response Body elements)."""

_SAP_PAYLOAD: Final = int(PayloadType.SAP)


@dataclass(frozen=True, slots=True, kw_only=True)
class Generation:
    """Everything that tells one V2G_Message generation apart from the other."""

    name: str
    """Printable (``DIN 70121``)."""
    schema: str
    """The codec's schema set (``din``, ``iso2``)."""
    module: ModuleType
    """The generated message classes."""
    offer: Offer
    """What SupportedAppProtocol offers and accepts for it."""
    family: EnergyFamily | None
    """The energy family the namespace fixes (DIN: DC); None when the session selects it."""
    table: Table
    initial_state: StrEnum
    setup_state: StrEnum
    timing: Mapping[Kind, MessageTiming]
    """Timers of the requests that differ from ``default_timing`` (seconds, unscaled)."""
    default_timing: MessageTiming
    loop_kinds: frozenset[Kind]
    max_payload: Mapping[Kind, int]
    """Largest payload accepted for the requests that may be bigger than ``default_max_payload``."""
    default_max_payload: int
    timer_requirements: Mapping[Timer, str]
    """The requirement (or table) that defines each timer in this generation."""
    session_id_rule: str
    """The requirement that ties a request's SessionID to the session's."""
    learn: Learn | None = None


class EnvelopeProfile:
    """A :class:`Generation` as a :class:`~iso15118.session.profile.Profile`."""

    def __init__(self, generation: Generation) -> None:
        self.generation = generation
        self.envelope = Envelope(generation.module)
        self.name = generation.name
        self.table: Table = generation.table
        self.initial_state: StrEnum = generation.initial_state
        self.setup_state: StrEnum = generation.setup_state
        self._limits: dict[StrEnum, int] = {}

    # ---- framing and codec -------------------------------------------------------------------------
    def selection_for(self, namespace: str) -> Selection:
        return Selection(namespace=namespace, family=self.generation.family)

    def stream_of(self, payload_type: int) -> Stream | None:
        return Stream.MAIN if payload_type == _SAP_PAYLOAD else None

    def payload_type(self, kind: StrEnum, stream: Stream) -> int:
        return _SAP_PAYLOAD

    def max_payload(self, state: StrEnum, stream: Stream, payload_type: int) -> int | None:
        if stream is not Stream.MAIN or payload_type != _SAP_PAYLOAD:
            return None
        limit = self._limits.get(state)
        if limit is None:
            g = self.generation
            # The largest request this state admits; anything else small enough to be answered
            # FAILED_SequenceError after decoding, nothing larger.
            sizes = [g.max_payload.get(Kind(kind), g.default_max_payload) for kind in g.table.kinds_in(state)]
            limit = self._limits[state] = max([g.default_max_payload, *sizes])
        return limit

    def decode(self, payload_type: int, data: bytes) -> Any:
        return decode_as(data, self.generation.schema)

    def encode(self, message: Any) -> bytes:
        return encode_message(message, schema=self.generation.schema)

    # ---- messages ----------------------------------------------------------------------------------
    def kind_of(self, message: Any) -> StrEnum | None:
        opened = self.envelope.open(message)
        return None if opened is None else opened[0]

    def is_request(self, kind: StrEnum) -> bool:
        return kind in RESPONSE_OF

    def response_of(self, kind: StrEnum) -> StrEnum:
        return RESPONSE_OF[Kind(kind)]

    def session_id(self, message: Any) -> bytes | None:
        header = getattr(message, "header", None)
        return None if header is None else bytes(header.session_id)

    def header(self, session_id: bytes, now: float) -> Any:
        return self.envelope.header(session_id)

    def response_code(self, message: Any) -> str | None:
        code = getattr(body_of(message), "response_code", None)
        return None if code is None else str(code)

    def is_failed(self, code: str | None) -> bool:
        # Every FAILED code ends the session, in both generations.
        return code is not None and code.startswith("FAILED")

    def processing(self, message: Any) -> str | None:
        value = getattr(body_of(message), "evse_processing", None)
        return None if value is None else str(value)

    # ---- timers ------------------------------------------------------------------------------------
    def timing(self, kind: StrEnum, timing: Timing) -> MessageTiming:
        g = self.generation
        base = g.timing.get(Kind(kind), g.default_timing)
        if timing.scale == 1.0:
            return base
        k = timing.scale

        def scaled(value: float | None) -> float | None:
            return None if value is None else value * k

        return replace(
            base,
            evcc_timeout=base.evcc_timeout * k,
            secc_performance=base.secc_performance * k,
            secc_sequence=scaled(base.secc_sequence),
            evcc_sequence=scaled(base.evcc_sequence),
        )

    def timer_requirement(self, timer: Timer) -> str:
        return self.generation.timer_requirements.get(timer, f"{self.name} {timer}")

    def loop_kinds(self) -> frozenset[StrEnum]:
        return frozenset(self.generation.loop_kinds)

    # ---- what exchanges settle -----------------------------------------------------------------------
    def note(self, selection: Selection, kind: StrEnum, request: Any, response: Any) -> Selection:
        if self.is_failed(self.response_code(response)):
            return selection
        k = Kind(kind)
        if k in self.generation.loop_kinds and not selection.loop_started:
            selection = replace(selection, loop_started=True)
        elif k is Kind.PowerDeliveryReq and selection.loop_started and not starts_power(body_of(request)):
            selection = replace(selection, loop_started=False)
        learn = self.generation.learn
        return selection if learn is None else learn(selection, k, body_of(request), body_of(response))

    def is_setup(self, kind: StrEnum) -> bool:
        return kind is Kind.SessionSetupReq

    def session_setup(self, kind: StrEnum, request: Any, response: Any) -> tuple[bool, str, str] | None:
        if kind is not Kind.SessionSetupReq:
            return None
        req, res = body_of(request), body_of(response)
        resumed = str(res.response_code) == "OK_OldSessionJoined"
        return resumed, _text(req.evcc_id), _text(res.evse_id)

    def session_stop(self, kind: StrEnum, request: Any) -> str | None:
        if kind is not Kind.SessionStopReq:
            return None
        # DIN's SessionStopReq is empty: it always terminates.
        how = str(getattr(body_of(request), "charging_session", None) or "Terminate")
        return how if how in ("Terminate", "Pause") else None

    def failure(self, request: Any, kind: StrEnum, code: str, header: Any) -> Any:
        response_kind = RESPONSE_OF[Kind(kind)]
        cls = self.envelope.class_of[response_kind]
        codes = self.generation.module.ResponseCode
        element = minimal_instance(cls, prefer=body_of(request), override={"response_code": codes(code)})
        return self.envelope.wrap(header, element)

    def sequence_error(self) -> str:
        return "FAILED_SequenceError"

    def unknown_session(self) -> str:
        return "FAILED_UnknownSession"

    def session_id_rule(self) -> str:
        return self.generation.session_id_rule


def _text(value: Any) -> str:
    """EVCCID and EVSEID as printed: -2's EVSEID is a string, DIN's IDs and -2's EVCCID are hexBinary."""
    if isinstance(value, bytes | bytearray):
        return value.hex().upper()
    return str(value)
