"""The SupportedAppProtocol profile: where every connection starts, whatever it negotiates.

The EV offers 1..20 protocols with a priority (1 = most preferred) [V2G20-167]; the SECC keeps those it speaks
and picks the best priority [V2G20-169] -- or, when configured to, the first of its own order among them; a
differing minor version is still a success [V2G20-170], reported as ``OK_SuccessfulNegotiationWithMinorDeviation``
by the generations that use that code (DIN 70121, ISO 15118-2) and never by ISO 15118-20 [V2G20-1089]. Once the
exchange succeeds, the connection switches to the profile registered for the chosen namespace.
The message is the same for DIN 70121, ISO 15118-2 and ISO 15118-20 (payload type 0x8001, namespace
``urn:iso:15118:2:2010:AppProtocol``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from iso15118.codec import decode_message, encode_message
from iso15118.constants import PayloadType
from iso15118.messages.app_protocol import AppProtocol, ResponseCode, supportedAppProtocolReq, supportedAppProtocolRes
from iso15118.session.events import EndReason
from iso15118.session.profile import ALWAYS, MessageTiming, Rule, Stream, Table, Transition
from iso15118.session.selection import Selection
from iso15118.session.timers import REQUIREMENT, Timer, Timing

__all__ = [
    "SAP",
    "SAP_MAX_PAYLOAD",
    "Offer",
    "Preference",
    "SapKind",
    "SapProfile",
    "SapState",
    "answer_sap",
    "negotiation_failure",
    "offered_protocol",
    "sap_request",
    "select_offer",
]

SAP_MAX_PAYLOAD: Final = 4096
"""supportedAppProtocolReq holds at most 20 offers of a <= 100-character namespace and four small integers
(about 2.3 KB); nothing bigger is decoded before a protocol is agreed."""


class SapState(StrEnum):
    """The one state of the SupportedAppProtocol profile."""

    WAIT_SAP = "wait_supported_app_protocol"


class SapKind(StrEnum):
    """The two messages of the handshake."""

    supportedAppProtocolReq = "supportedAppProtocolReq"
    supportedAppProtocolRes = "supportedAppProtocolRes"


class Preference(StrEnum):
    """Whose order decides among the protocols both ends speak."""

    EV = "ev"
    """The EV's priority (the standard's rule [V2G20-169]); the SECC's order only breaks ties."""
    SECC = "secc"
    """The SECC's own order (its configured protocol list); the EV's priority only breaks ties."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer:
    """A protocol an SECC speaks: its namespace, version, the spellings it also accepts, and whether a differing
    minor version is answered ``OK_SuccessfulNegotiationWithMinorDeviation`` (DIN 70121 and ISO 15118-2 do;
    ISO 15118-20 never does [V2G20-1089])."""

    namespace: str
    major: int
    minor: int = 0
    aliases: tuple[str, ...] = ()
    minor_deviation: bool = True


def _any(selection: Selection, request: Any, response: Any = None) -> bool:
    return True


# The transition target is irrelevant: the connection switches to the negotiated profile's initial state.
_TABLE: Final = Table(
    rows={
        (SapState.WAIT_SAP, SapKind.supportedAppProtocolReq): (
            Rule("V2G20-1483", (Transition(ALWAYS, None, "V2G20-1484"),)),
        )
    },
    guards={ALWAYS: _any},
    conditions={ALWAYS: _any},
)

_KINDS: Final = {
    supportedAppProtocolReq: SapKind.supportedAppProtocolReq,
    supportedAppProtocolRes: SapKind.supportedAppProtocolRes,
}


class SapProfile:
    """The SupportedAppProtocol handshake as a :class:`~iso15118.session.profile.Profile`."""

    name = "SupportedAppProtocol"
    table = _TABLE
    initial_state = SapState.WAIT_SAP
    setup_state = SapState.WAIT_SAP

    def selection_for(self, namespace: str) -> Selection:
        return Selection(namespace=namespace)

    def stream_of(self, payload_type: int) -> Stream | None:
        return Stream.MAIN if payload_type == PayloadType.SAP else None

    def payload_type(self, kind: StrEnum, stream: Stream) -> int:
        return int(PayloadType.SAP)

    def max_payload(self, state: StrEnum, stream: Stream, payload_type: int) -> int | None:
        return SAP_MAX_PAYLOAD if payload_type == PayloadType.SAP and stream is Stream.MAIN else None

    def decode(self, payload_type: int, data: bytes) -> Any:
        return decode_message(data, payload_type)

    def encode(self, message: Any) -> bytes:
        return encode_message(message)

    def kind_of(self, message: Any) -> StrEnum | None:
        return _KINDS.get(type(message))

    def is_request(self, kind: StrEnum) -> bool:
        return kind is SapKind.supportedAppProtocolReq

    def response_of(self, kind: StrEnum) -> StrEnum:
        return SapKind.supportedAppProtocolRes

    def session_id(self, message: Any) -> bytes | None:
        return None

    def header(self, session_id: bytes, now: float) -> Any:
        return None

    def response_code(self, message: Any) -> str | None:
        code = getattr(message, "response_code", None)
        return None if code is None else str(code)

    def is_failed(self, code: str | None) -> bool:
        return code == ResponseCode.Failed_NoNegotiation

    def processing(self, message: Any) -> str | None:
        return None

    def timing(self, kind: StrEnum, timing: Timing) -> MessageTiming:
        # supportedAppProtocolReq has the common values [V2G20 table 215].
        return MessageTiming(evcc_timeout=timing.evcc_msg_timeout, secc_performance=timing.secc_performance)

    def loop_kinds(self) -> frozenset[StrEnum]:
        return frozenset()

    def timer_requirement(self, timer: Timer) -> str:
        return REQUIREMENT[timer]

    def note(self, selection: Selection, kind: StrEnum, request: Any, response: Any) -> Selection:
        return selection

    def session_setup(self, kind: StrEnum, request: Any, response: Any) -> tuple[bool, str, str] | None:
        return None

    def session_stop(self, kind: StrEnum, request: Any) -> str | None:
        return None

    def failure(self, request: Any, kind: StrEnum, code: str, header: Any) -> Any:
        # Whatever went wrong before a protocol was agreed, the answer is "no negotiation".
        return supportedAppProtocolRes(response_code=ResponseCode.Failed_NoNegotiation)

    def sequence_error(self) -> str:
        return str(ResponseCode.Failed_NoNegotiation)

    def unknown_session(self) -> str:
        return str(ResponseCode.Failed_NoNegotiation)

    def session_id_rule(self) -> str:
        return "V2G20-457"

    def is_setup(self, kind: StrEnum) -> bool:
        return False


SAP: Final = SapProfile()
"""The profile every connection starts on."""


def offered_protocol(request: supportedAppProtocolReq, schema_id: int) -> AppProtocol | None:
    """The protocol the EVCC offered under ``schema_id``, or None if it offered none under that ID."""
    for proto in request.app_protocol:
        if proto.schema_id == schema_id:
            return proto
    return None


def negotiation_failure(
    request: supportedAppProtocolReq, response: supportedAppProtocolRes, speaks: Iterable[str]
) -> tuple[EndReason, str, str | None] | None:
    """Why a SupportedAppProtocol exchange agreed on nothing this connection can speak, as (reason, detail,
    response code); None when it agreed on an offered protocol among ``speaks`` (namespaces with a profile)."""
    code = str(response.response_code)
    if code == ResponseCode.Failed_NoNegotiation or response.schema_id is None:
        return EndReason.NO_PROTOCOL, f"SupportedAppProtocol: {code}", code
    proto = offered_protocol(request, response.schema_id)
    if proto is None:
        return EndReason.PROTOCOL_ERROR, f"SchemaID {response.schema_id} was not offered", None
    known = tuple(speaks)
    if proto.protocol_namespace not in known:
        detail = f"no profile speaks {proto.protocol_namespace} (this connection knows {', '.join(known) or 'none'})"
        return EndReason.NO_PROTOCOL, detail, None
    return None


def select_offer(
    offers: Iterable[AppProtocol], supported: Sequence[Offer], prefer: Preference = Preference.EV
) -> tuple[AppProtocol, Offer] | None:
    """The best offer of the EV we speak, as (its AppProtocol, our Offer), or None.

    :attr:`Preference.EV`: the EV's priority decides (1 = most preferred) [V2G20-169]; between equal priorities our
    order in ``supported`` does. :attr:`Preference.SECC`: our order decides, the EV's priority breaks ties.
    Only the major version we speak is accepted; any minor version is [V2G20-170].
    """
    spellings: Mapping[str, tuple[int, Offer]] = {
        name: (index, offer) for index, offer in enumerate(supported) for name in (offer.namespace, *offer.aliases)
    }
    usable = []
    for proto in offers:
        found = spellings.get(proto.protocol_namespace)
        if found is None or proto.version_number_major != found[1].major:
            continue
        usable.append((proto.priority, found[0], proto, found[1]))
    if not usable:
        return None
    if prefer is Preference.SECC:
        usable.sort(key=lambda u: (u[1], u[0]))
    else:
        usable.sort(key=lambda u: (u[0], u[1]))
    return usable[0][2], usable[0][3]


def answer_sap(
    request: supportedAppProtocolReq, supported: Sequence[Offer], prefer: Preference = Preference.EV
) -> tuple[supportedAppProtocolRes, str | None]:
    """The SECC's SupportedAppProtocol decision: the response, and the namespace it agreed on (None: nothing in
    common, ``Failed_NoNegotiation``).

    A minor version other than ours is ``OK_SuccessfulNegotiationWithMinorDeviation`` where the chosen
    :class:`Offer` says so; ISO 15118-20's never does, even when the minor version differs [V2G20-1089].
    """
    chosen = select_offer(request.app_protocol, supported, prefer)
    if chosen is None:
        return supportedAppProtocolRes(response_code=ResponseCode.Failed_NoNegotiation), None
    proto, offer = chosen
    deviates = offer.minor_deviation and proto.version_number_minor != offer.minor
    code = (
        ResponseCode.OK_SuccessfulNegotiationWithMinorDeviation if deviates else ResponseCode.OK_SuccessfulNegotiation
    )
    return supportedAppProtocolRes(response_code=code, schema_id=proto.schema_id), offer.namespace


def sap_request(offers: Sequence[Offer]) -> supportedAppProtocolReq:
    """The EVCC's supportedAppProtocolReq offering ``offers`` in priority order (1 = most preferred) [V2G20-167]."""
    protocols = tuple(
        AppProtocol(
            protocol_namespace=o.namespace,
            version_number_major=o.major,
            version_number_minor=o.minor,
            schema_id=i,
            priority=i,
        )
        for i, o in enumerate(offers, start=1)
    )
    return supportedAppProtocolReq(app_protocol=protocols)
