"""ISO 15118-20 as a session profile: one object serves the AC and the DC namespace.

The namespace SupportedAppProtocol agreed fixes the energy family for the whole connection (fact sheet 2.2):
``urn:iso:std:iso:15118:-20:AC`` or ``...:DC``. Payload types: 0x8002 CommonMessages, 0x8003 AC, 0x8004 DC,
0x8005 ACDP, 0x8006 WPT on the main stream; 0x8101 schedule renegotiation and 0x8102 metering confirmation are
side streams carrying CommonMessages [V2G20-1040…1042]. Timers per request kind come from tables 215 (common),
216 (AC) and 217 (DC).
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import Any, Final

from iso15118.codec import decode_message, encode_message
from iso15118.constants import NS_ISO20_AC, NS_ISO20_DC, PayloadType
from iso15118.iso20.kinds import (
    CLASS_OF,
    LIMIT_SCHEDULE,
    LIMIT_SIGNED,
    LIMIT_SMALL,
    MAX_PAYLOAD,
    PAYLOAD_TYPE_OF,
    RESPONSE_OF,
    Kind,
    kind_of,
)
from iso15118.iso20.states import State
from iso15118.iso20.table import DIAGRAM_NOTE, TABLE
from iso15118.messages import iso20 as m
from iso15118.session.diagram import mermaid
from iso15118.session.failures import minimal_instance
from iso15118.session.profile import MessageTiming, Stream, Table
from iso15118.session.sap import Offer
from iso15118.session.selection import EnergyFamily, Selection
from iso15118.session.timers import REQUIREMENT, Timer, Timing

__all__ = ["AC_NAMESPACES", "DC_NAMESPACES", "ISO20", "LOOP_KINDS", "OFFERS", "Iso20Profile", "diagram"]

AC_NAMESPACES: Final = (NS_ISO20_AC, "urn:iso:std:iso:15118:20:AC")
DC_NAMESPACES: Final = (NS_ISO20_DC, "urn:iso:std:iso:15118:20:DC")
"""The XSD namespaces, then the spelling without the hyphen some standard excerpts use (accepted on receive)."""

OFFERS: Final = {
    NS_ISO20_AC: Offer(namespace=NS_ISO20_AC, major=1, aliases=AC_NAMESPACES[1:], minor_deviation=False),
    NS_ISO20_DC: Offer(namespace=NS_ISO20_DC, major=1, aliases=DC_NAMESPACES[1:], minor_deviation=False),
}
"""What an SECC speaking -20 accepts in SupportedAppProtocol: major version 1, any minor [V2G20-170], answered
``OK_SuccessfulNegotiation`` whatever the minor [V2G20-1089]."""

LOOP_KINDS: Final = frozenset({Kind.AC_ChargeLoopReq, Kind.DC_ChargeLoopReq})
_LONG: Final = frozenset({Kind.ServiceDetailReq, Kind.CertificateInstallationReq})
_SIDE_PAYLOADS: Final[dict[int, Stream]] = {
    PayloadType.SCHEDULE_RENEGOTIATION: Stream.SCHEDULE_RENEGOTIATION,
    PayloadType.METERING_CONFIRMATION: Stream.METERING_CONFIRMATION,
}
_STREAM_PAYLOADS: Final = {stream: pt for pt, stream in _SIDE_PAYLOADS.items()}
_MAIN_PAYLOADS: Final = frozenset(PAYLOAD_TYPE_OF.values())
_SIDE_LIMITS: Final = {Stream.SCHEDULE_RENEGOTIATION: LIMIT_SCHEDULE, Stream.METERING_CONFIRMATION: LIMIT_SIGNED}
_BPT_SERVICES: Final = frozenset({5, 6})  # AC_BPT, DC_BPT [V2G20 table 204]


class Iso20Profile:
    """ISO 15118-20 (AC, AC_BPT, DC, DC_BPT) as a :class:`~iso15118.session.profile.Profile`."""

    name = "ISO 15118-20"
    table: Table = TABLE
    initial_state = State.WAIT_SESSION_SETUP
    setup_state = State.WAIT_AUTHORIZATION_SETUP

    def __init__(self) -> None:
        self._limits: dict[tuple[StrEnum, Stream, int], int | None] = {}

    def selection_for(self, namespace: str) -> Selection:
        family = EnergyFamily.DC if namespace in DC_NAMESPACES else EnergyFamily.AC
        return Selection(namespace=namespace, family=family)

    def stream_of(self, payload_type: int) -> Stream | None:
        if payload_type in _MAIN_PAYLOADS:
            return Stream.MAIN
        return _SIDE_PAYLOADS.get(payload_type)

    def payload_type(self, kind: StrEnum, stream: Stream) -> int:
        if stream is not Stream.MAIN:
            return int(_STREAM_PAYLOADS[stream])
        return int(PAYLOAD_TYPE_OF[Kind(kind)])

    def max_payload(self, state: StrEnum, stream: Stream, payload_type: int) -> int | None:
        key = (state, stream, payload_type)
        if key not in self._limits:
            self._limits[key] = self._limit(state, stream, payload_type)
        return self._limits[key]

    def _limit(self, state: StrEnum, stream: Stream, payload_type: int) -> int | None:
        if stream is not Stream.MAIN:
            return _SIDE_LIMITS[stream] if _STREAM_PAYLOADS[stream] == payload_type else None
        if payload_type not in _MAIN_PAYLOADS:
            return None
        # The largest request this state admits in this payload type; anything else small enough to be answered
        # FAILED_SequenceError after decoding, nothing larger (V2G20 sequence rules, fact sheet 2.11).
        sizes = [
            MAX_PAYLOAD.get(Kind(kind), LIMIT_SMALL)
            for kind in self.table.kinds_in(state)
            if PAYLOAD_TYPE_OF[Kind(kind)] == payload_type
        ]
        return max([LIMIT_SMALL, *sizes])

    def decode(self, payload_type: int, data: bytes) -> Any:
        return decode_message(data, payload_type)

    def encode(self, message: Any) -> bytes:
        return encode_message(message)

    def kind_of(self, message: Any) -> StrEnum | None:
        return kind_of(message)

    def is_request(self, kind: StrEnum) -> bool:
        return kind in RESPONSE_OF

    def response_of(self, kind: StrEnum) -> StrEnum:
        return RESPONSE_OF[Kind(kind)]

    def session_id(self, message: Any) -> bytes | None:
        header = getattr(message, "header", None)
        return None if header is None else bytes(header.session_id)

    def header(self, session_id: bytes, now: float) -> m.MessageHeader:
        return m.MessageHeader(session_id=session_id, time_stamp=int(now))

    def response_code(self, message: Any) -> str | None:
        code = getattr(message, "response_code", None)
        return None if code is None else str(code)

    def is_failed(self, code: str | None) -> bool:
        # Any FAILED code ends the session (-20 §8.6; fact sheet 2.4).
        return code is not None and code.startswith("FAILED")

    def processing(self, message: Any) -> str | None:
        value = getattr(message, "evse_processing", None)
        return None if value is None else str(value)

    def timing(self, kind: StrEnum, timing: Timing) -> MessageTiming:
        if kind in LOOP_KINDS:
            # AC table 216 and DC table 217: 0.5 s / 0.25 s, and the loop never pauses [V2G20-1499/1500].
            return MessageTiming(
                evcc_timeout=timing.evcc_msg_timeout_loop,
                secc_performance=timing.secc_performance_loop,
                secc_sequence=timing.secc_sequence_timeout_loop,
                evcc_sequence=timing.evcc_sequence_performance_loop,
            )
        if kind in _LONG:
            return MessageTiming(
                evcc_timeout=timing.evcc_msg_timeout_long, secc_performance=timing.secc_performance_long
            )
        # Every other request, including DC CableCheck, PreCharge and WeldingDetection (table 217: 2 s / 1.5 s).
        return MessageTiming(evcc_timeout=timing.evcc_msg_timeout, secc_performance=timing.secc_performance)

    def loop_kinds(self) -> frozenset[StrEnum]:
        return frozenset(LOOP_KINDS)

    def timer_requirement(self, timer: Timer) -> str:
        return REQUIREMENT[timer]

    def note(self, selection: Selection, kind: StrEnum, request: Any, response: Any) -> Selection:
        if self.is_failed(self.response_code(response)):
            return selection
        if kind is Kind.ServiceSelectionReq:
            service = request.selected_energy_transfer_service.service_id
            return replace(selection, service_id=service, bidirectional=service in _BPT_SERVICES)
        if kind in LOOP_KINDS and not selection.loop_started:
            return replace(selection, loop_started=True)
        if kind is Kind.PowerDeliveryReq and str(request.charge_progress) == "Stop":
            return replace(selection, loop_started=False)
        return selection

    def is_setup(self, kind: StrEnum) -> bool:
        return kind is Kind.SessionSetupReq

    def session_setup(self, kind: StrEnum, request: Any, response: Any) -> tuple[bool, str, str] | None:
        if kind is not Kind.SessionSetupReq:
            return None
        return str(response.response_code) == "OK_OldSessionJoined", request.evcc_id, response.evse_id

    def session_stop(self, kind: StrEnum, request: Any) -> str | None:
        if kind is not Kind.SessionStopReq:
            return None
        how = str(request.charging_session)
        return how if how in ("Terminate", "Pause") else None

    def failure(self, request: Any, kind: StrEnum, code: str, header: Any) -> Any:
        cls = CLASS_OF[RESPONSE_OF[Kind(kind)]]
        return minimal_instance(cls, prefer=request, override={"response_code": m.ResponseCode(code), "header": header})

    def sequence_error(self) -> str:
        return str(m.ResponseCode.FAILED_SequenceError)

    def unknown_session(self) -> str:
        return str(m.ResponseCode.FAILED_UnknownSession)

    def session_id_rule(self) -> str:
        return "V2G20-457"


ISO20: Final = Iso20Profile()
"""The -20 profile (both namespaces)."""


def diagram() -> str:
    """The -20 state diagram the README embeds (generated from the table)."""
    return mermaid(ISO20, collapse="V2G20-2645", note=DIAGRAM_NOTE)
