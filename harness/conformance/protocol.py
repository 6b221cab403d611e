"""The protocol generation a case speaks: what the harness asks of ISO 15118-20, ISO 15118-2 or DIN 70121.

The harness is written once. What differs between the generations is a :class:`Protocol`:

* the session profile (:data:`iso15118.profiles.PROFILES`): codec, message kinds, sequence table, timers and
  FAILED responses -- the runners and the walk of the default session read everything from it;
* the library's decisions of both roles (:func:`iso15118.profiles.secc_logic`, :func:`~iso15118.profiles.
  evcc_logic`): what the tester EV sends and what the tester SECC answers;
* the small parts the tester keeps of a session (its own view of what the SUT assigned and offered), the EV's
  initial choices and how it stops, and where the fields of a message live (-20 messages carry them at the top,
  DIN and -2 inside the ``V2G_Message`` Body).

:class:`Protocol` holds the generic part; :mod:`~harness.conformance.proto_iso20` and
:mod:`~harness.conformance.proto_envelope` add the rest, and :mod:`~harness.conformance.generations` names them.
The rules the tester checks stay its own, one module per generation family.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from iso15118.codec import decode_message, encode_message
from iso15118.config import EvccConfig, SeccConfig
from iso15118.constants import PayloadType
from iso15118.decisions import EvccLogic, SeccLogic, Step
from iso15118.errors import CodecError
from iso15118.iso20.pnc import PncVerifier
from iso15118.profiles import OFFERS, evcc_logic, secc_logic
from iso15118.session.profile import MessageTiming, Profile, Stream
from iso15118.session.sap import SAP, Offer, SapKind
from iso15118.session.selection import EnergyFamily, Selection
from iso15118.session.timers import Timing

__all__ = ["Generation", "Protocol"]

_SAP_PAYLOAD = int(PayloadType.SAP)


class Generation(StrEnum):
    """The protocol generations the harness speaks (``--protocol``)."""

    ISO20 = "iso20"
    ISO2 = "iso2"
    DIN = "din"


class Protocol:
    """One generation as the harness sees it; the subclasses fill in what is not generic."""

    generation: Generation
    profile: Profile
    label: str
    """Printable (``ISO 15118-2``)."""
    namespaces: Mapping[EnergyFamily, str]
    """The SupportedAppProtocol namespace of each energy family the generation serves."""
    stays_by_plan: bool = False
    """Requests that keep the table's state without an EVProcessing of their own (DIN and -2: PreCharge, welding
    detection, a value-added ServiceDetail) are sent when the library EV plans them and answered in place when the
    EV sends them; -20 requests say Ongoing themselves."""
    avoided: frozenset[str] = frozenset()
    """Conditions of the table's transitions the default session does not take (-2: the Contract payment path)."""
    ongoing: Any = None
    """The EVSEProcessing value that says Ongoing."""
    kinds: type[StrEnum]
    """The generation's Kind enum."""

    # ---- the library's decisions ------------------------------------------------------------------------------
    def secc_logic(self, config: SeccConfig, pnc: PncVerifier | None) -> SeccLogic:
        """The library SECC's decisions for this generation."""
        return secc_logic(self.profile, config, pnc)

    def evcc_logic(self, config: EvccConfig) -> EvccLogic:
        """The library EVCC's decisions for this generation."""
        return evcc_logic(self.profile, config)

    def offer(self, family: EnergyFamily) -> Offer:
        """What the tester offers (as the EV) or accepts (as the SECC) for a session of ``family``."""
        return OFFERS[self.namespace(family)]

    def namespace(self, family: EnergyFamily) -> str:
        """The namespace of a session of ``family`` (KeyError names the families the generation has)."""
        try:
            return self.namespaces[family]
        except KeyError:
            has = ", ".join(str(f) for f in self.namespaces)
            raise KeyError(f"{self.label} has no {family} sessions (only {has})") from None

    def selection(self, family: EnergyFamily) -> Selection:
        """The selection of a session of ``family`` right after SupportedAppProtocol, with its family set (-2
        learns it from ChargeParameterDiscovery; the walk needs it from the start)."""
        return dataclasses.replace(self.profile.selection_for(self.namespace(family)), family=family)

    # ---- messages ---------------------------------------------------------------------------------------------
    def kind_of(self, message: Any) -> str | None:
        """The kind of a SupportedAppProtocol message or one of the generation's (None for anything else)."""
        found = SAP.kind_of(message) or self.profile.kind_of(message)
        return None if found is None else str(found)

    def is_sap(self, kind: str) -> bool:
        """True for the SupportedAppProtocol kinds."""
        return kind in SapKind.__members__

    def response_kind(self, kind: str) -> str:
        """The response kind that answers a request kind."""
        if self.is_sap(kind):
            return str(SAP.response_of(SapKind(kind)))
        return str(self.profile.response_of(self._kind(kind)))

    def is_request(self, kind: str) -> bool:
        """True for request kinds (SupportedAppProtocol included)."""
        if self.is_sap(kind):
            return SAP.is_request(SapKind(kind))
        return self.profile.is_request(self._kind(kind))

    def code_of(self, message: Any) -> str:
        """A response's code ('' for requests and anything else)."""
        if SAP.kind_of(message) is not None:
            return str(getattr(message, "response_code", "") or "")
        return self.profile.response_code(message) or ""

    def processing(self, message: Any) -> str:
        """A response's EVSEProcessing ('' when it has none)."""
        return self.profile.processing(message) or ""

    def payload_type(self, kind: str, stream: Stream = Stream.MAIN) -> int:
        """The payload type a request of ``kind`` travels in."""
        if self.is_sap(kind):
            return SAP.payload_type(SapKind(kind), stream)
        return self.profile.payload_type(self._kind(kind), stream)

    def stream_of(self, payload_type: int) -> Stream:
        """The stream a frame travels on (side streams are -20's; anything else is the main stream)."""
        return self.profile.stream_of(payload_type) or Stream.MAIN

    def timing(self, kind: str, timing: Timing) -> MessageTiming:
        """The timers of a request kind (SupportedAppProtocol's before a protocol is agreed)."""
        if self.is_sap(kind):
            return SAP.timing(SapKind(kind), timing)
        return self.profile.timing(self._kind(kind), timing)

    def loop_kinds(self) -> frozenset[str]:
        """The charge-loop request kinds."""
        return frozenset(str(k) for k in self.profile.loop_kinds())

    def decode(self, payload_type: int, payload: bytes, *, negotiated: bool) -> Any:
        """A payload as the SUT sent it. DIN 70121 and -2 share 0x8001 with SupportedAppProtocol: before the
        protocol was agreed it is read as SupportedAppProtocol first, after it as the generation's, and a payload
        the first reading refuses is tried the other way (a SUT may answer out of turn)."""
        if payload_type != _SAP_PAYLOAD or self.profile.stream_of(_SAP_PAYLOAD) is None:
            return decode_message(payload, payload_type)
        schemas = (False, True) if not negotiated else (True, False)
        try:
            return self._read(payload_type, payload, own=schemas[0])
        except CodecError as exc:
            try:
                return self._read(payload_type, payload, own=schemas[1])
            except CodecError:
                raise exc from None

    def _read(self, payload_type: int, payload: bytes, *, own: bool) -> Any:
        return self.profile.decode(payload_type, payload) if own else decode_message(payload, payload_type)

    def warm(self) -> None:
        """Make the generation's codec now (encode and decode a minimal SessionSetupReq) rather than on the first
        message of a case."""
        message = self.minimal("SessionSetupReq", bytes(8))
        payload_type = self.payload_type("SessionSetupReq")
        self.decode(payload_type, encode_message(message), negotiated=True)

    def failure(self, request: Any, kind: str, code: str, header: Any) -> Any:
        """The FAILED ``code`` response to ``request`` with only its mandatory elements (the profile's)."""
        return self.profile.failure(request, self._kind(kind), code, header)

    def _kind(self, kind: str) -> StrEnum:
        return self.kinds(kind)

    # ---- what the subclasses provide ------------------------------------------------------------------------
    def body(self, message: Any) -> Any:
        """The element that carries a message's fields (-20: the message; DIN and -2: the Body element)."""
        raise NotImplementedError

    def with_body(self, message: Any, element: Any) -> Any:
        """``message`` carrying ``element`` in place of its fields."""
        raise NotImplementedError

    def header(self, session_id: bytes) -> Any:
        """A MessageHeader for the tester's messages."""
        raise NotImplementedError

    def minimal(self, kind: str, session_id: bytes) -> Any:
        """A minimal valid message of ``kind`` with ``session_id`` (what no library decision builds)."""
        raise NotImplementedError

    def builds(self, kind: str) -> bool:
        """Whether the library EV builds requests of ``kind``."""
        raise NotImplementedError

    def ev_decides(self, kind: str, stream: Stream) -> bool:
        """Whether the library EV has a decision for a response of ``kind`` on ``stream``."""
        raise NotImplementedError

    def ev_start(self, ctx: Any) -> Any:
        """The library EV's context at the start of a session, with the profile's choices already made."""
        raise NotImplementedError

    def ev_family(self, kind: str, ctx: Any) -> EnergyFamily:
        """The family a request of ``kind`` is built for (the profile's unless the kind belongs to another)."""
        return ctx.profile.family  # type: ignore[no-any-return]

    def ev_stopping(self, ev: Any, how: str) -> Any:
        """The library EV's context once it decided to leave the charge loop and end with ``how``."""
        raise NotImplementedError

    def ev_unmet(self, ctx: Any, kind: str, response: Any, step: Step[Any]) -> str | None:
        """Why the tester EV cannot go on as the case asks after ``response`` (None: it can)."""
        raise NotImplementedError

    def learn_response(self, ctx: Any, request: Any, response: Any) -> None:
        """The tester EV's own view, updated from an SECC's response."""
        raise NotImplementedError

    def learn_request(self, ctx: Any, stream: str, request: Any) -> None:
        """The tester SECC's own view, updated from an EVCC's request."""
        raise NotImplementedError

    def adjust(self, ctx: Any, kind: str, response: Any) -> Any:
        """The tester SECC's decided response with what the case's profile asks beyond the library (-20: another
        ScheduleTupleID or schedule power)."""
        return response

    def remember(self, ctx: Any, kind: str, request: Any, response: Any) -> None:
        """What the tester SECC sent becomes what it offered (SessionID, schedules, limits, precharge output)."""
        raise NotImplementedError

    def notify(self, response: Any, notification: str) -> Any:
        """``response`` asking the EV to stop (``Terminate``) or pause (``Pause``) the generation's way."""
        raise NotImplementedError

    def declined(self, ctx: Any, last: str) -> str | None:
        """SUT = EVCC: why the case cannot go on when the EV ended the session right after the tester's offer
        answered ``last`` ("needs X: the EV ended the session when offered Y"), or None when that was no offer."""
        raise NotImplementedError

    def needs_label(self, family: EnergyFamily) -> str:
        """How an unmet need of a session of ``family`` is named (``-20 DC``)."""
        return f"{self.label} {family}"
