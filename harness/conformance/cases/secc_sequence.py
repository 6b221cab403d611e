"""SECC under test, sequence errors: every request out of order, wrong and unknown SessionIDs, SessionSetup again.

Rule (fact sheet 2.11): a request the state does not allow is answered with its response type carrying
``FAILED_SequenceError`` and the session ends; a wrong SessionID gets ``FAILED_UnknownSession``
[V2G20-457..462]. After any FAILED response the SECC closes the connection (ISO 15118-4 allows 5 s).
"""

from __future__ import annotations

from typing import Any

from harness.conformance.cases.common import refusal
from harness.conformance.model import Case, Category, Need, SutRole
from harness.conformance.scripts import FAILED_CLOSES, ev_refused, ev_stop
from harness.conformance.secc_rules import NEW_SESSION_NOT_REQUESTED_ID, NO_CERTIFICATE_INSTALLATION
from harness.conformance.steps import Close, Exchange, Loop, Reconnect, Send, Walk
from iso15118.messages import iso20 as m
from iso15118.session.profile import Stream

__all__ = ["CASES"]

_WRONG_ID = bytes.fromhex("DEADBEEF00000001")


def _wrong_id(ctx: Any) -> bytes:
    return _WRONG_ID if ctx.session_id != _WRONG_ID else bytes.fromhex("DEADBEEF00000002")


def _case(case_id: str, title: str, request: str, **how: Any) -> Case:
    """``request`` out of sequence: FAILED_SequenceError (unless ``codes`` says otherwise), then closed."""
    how.setdefault("codes", ("FAILED_SequenceError",))
    return refusal(case_id, title, request, category=Category.SEQUENCE, **how)


_BEFORE_SESSION = ("FAILED_SequenceError", "FAILED_UnknownSession")

CASES: tuple[Case, ...] = (
    _case(
        "SECC-SEQ-01",
        "SessionSetupReq before SupportedAppProtocol",
        "SessionSetupReq",
        after="supportedAppProtocolReq",
        requirements=("V2G20-1483",),
        stimulus="SessionSetupReq right after the TLS handshake",
        # Before a protocol is agreed, a 0x8002 payload is not one the SECC can expect: refusing it unread is
        # the safe reaction (nothing is decoded before the state that expects it); a decoded FAILED answer too.
        or_refused=True,
        expected="the SECC closes the connection, refusing the 0x8002 frame unread (or answers SessionSetupRes "
        "with FAILED_SequenceError, then closes)",
    ),
    _case(
        "SECC-SEQ-02",
        "AuthorizationSetupReq before SessionSetup",
        "AuthorizationSetupReq",
        after="SessionSetupReq",
        requirements=("V2G20-1484",),
        codes=_BEFORE_SESSION,
    ),
    _case(
        "SECC-SEQ-03",
        "AuthorizationReq before AuthorizationSetup",
        "AuthorizationReq",
        after="AuthorizationSetupReq",
        requirements=("V2G20-1486",),
    ),
    _case(
        "SECC-SEQ-04",
        "ServiceDiscoveryReq before Authorization",
        "ServiceDiscoveryReq",
        after="AuthorizationReq",
        requirements=("V2G20-1582", "V2G20-2221"),
    ),
    _case(
        "SECC-SEQ-05",
        "ServiceDetailReq before ServiceDiscovery",
        "ServiceDetailReq",
        after="ServiceDiscoveryReq",
        requirements=("V2G20-2221",),
    ),
    _case(
        "SECC-SEQ-06",
        "ServiceSelectionReq before ServiceDiscovery",
        "ServiceSelectionReq",
        after="ServiceDiscoveryReq",
        requirements=("V2G20-2221", "V2G20-1584"),
        fields={"selected_energy_transfer_service": m.SelectedService(service_id=5, parameter_set_id=1)},
    ),
    _case(
        "SECC-SEQ-07",
        "AC_ChargeParameterDiscoveryReq before ServiceSelection",
        "AC_ChargeParameterDiscoveryReq",
        after="ServiceSelectionReq",
        requirements=("V2G20-1587", "V2G20-1590"),
    ),
    _case(
        "SECC-SEQ-08",
        "ScheduleExchangeReq before AC_ChargeParameterDiscovery",
        "ScheduleExchangeReq",
        after="AC_ChargeParameterDiscoveryReq",
        requirements=("V2G20-1590", "V2G20-2658"),
    ),
    _case(
        "SECC-SEQ-09",
        "PowerDeliveryReq(Start) before ScheduleExchange",
        "PowerDeliveryReq",
        after="ScheduleExchangeReq",
        requirements=("V2G20-2658", "V2G20-1596"),
    ),
    _case(
        "SECC-SEQ-10",
        "AC_ChargeLoopReq before PowerDelivery(Start)",
        "AC_ChargeLoopReq",
        after="PowerDeliveryReq",
        requirements=("V2G20-1596", "V2G20-1437"),
    ),
    _case(
        "SECC-SEQ-11",
        "AC_ChargeLoopReq after PowerDelivery(Stop)",
        "AC_ChargeLoopReq",
        after="SessionStopReq",
        loops=1,
        requirements=("V2G20-1623",),
    ),
    _case(
        "SECC-SEQ-12",
        "SessionSetupReq again in an established session",
        "SessionSetupReq",
        after="AuthorizationReq",
        requirements=("V2G20-1486", "V2G20-1582"),
        fields={"header.session_id": lambda ctx: ctx.session_id},
        stimulus="a second SessionSetupReq (with the session's SessionID) after AuthorizationSetup",
    ),
    _case(
        "SECC-SEQ-13",
        "AuthorizationSetupReq during the charge loop",
        "AuthorizationSetupReq",
        after="PowerDeliveryReq",
        loops=2,
        requirements=("V2G20-1437", "V2G20-2012"),
    ),
    _case(
        "SECC-SEQ-14",
        "PowerDelivery(ScheduleRenegotiation) on the main stream",
        "PowerDeliveryReq",
        after="PowerDeliveryReq",
        loops=1,
        requirements=("V2G20-2018",),
        fields={"charge_progress": m.ChargeProgress.ScheduleRenegotiation},
        stimulus="PowerDeliveryReq(ChargeProgress=ScheduleRenegotiation) on payload type 0x8002 in the charge "
        "loop (renegotiation belongs on side stream 0x8101)",
    ),
    _case(
        "SECC-SEQ-15",
        "Side stream 0x8101 before the charge loop",
        "ScheduleExchangeReq",
        after="ScheduleExchangeReq",
        requirements=("V2G20-1045",),
        stream=Stream.SCHEDULE_RENEGOTIATION,
        needs=frozenset({Need.SIDE_STREAMS}),
        stimulus="ScheduleExchangeReq on payload type 0x8101 after AC_ChargeParameterDiscovery, before any "
        "AC_ChargeLoopReq",
    ),
    _case(
        "SECC-SEQ-16",
        "SessionStopReq before SessionSetup",
        "SessionStopReq",
        after="SessionSetupReq",
        requirements=("V2G20-1484", "V2G20-2645"),
        codes=_BEFORE_SESSION,
    ),
    Case(
        id="SECC-SEQ-17",
        title="CertificateInstallationReq although the service was not offered",
        sut=SutRole.SECC,
        category=Category.SEQUENCE,
        requirements=("V2G20-1970", FAILED_CLOSES),
        negative=True,
        preconditions="the SECC does not offer CertificateInstallationService (else: inconclusive)",
        stimulus="CertificateInstallationReq after an AuthorizationSetupRes with CertificateInstallationService false",
        expected="CertificateInstallationRes with a FAILED code, then the SECC closes the connection",
        steps=(
            Walk(until="AuthorizationSetupReq"),
            Exchange(kind="AuthorizationSetupReq", checks=(NO_CERTIFICATE_INSTALLATION,), preamble=True),
            *ev_refused(Send(kind="CertificateInstallationReq"), ("FAILED*",)),
        ),
    ),
    _case(
        "SECC-SID-01",
        "Wrong SessionID in AuthorizationSetupReq",
        "AuthorizationSetupReq",
        after="AuthorizationSetupReq",
        requirements=("V2G20-457", "V2G20-462"),
        fields={"header.session_id": _wrong_id},
        codes=("FAILED_UnknownSession",),
        stimulus="AuthorizationSetupReq whose SessionID is not the one SessionSetupRes assigned",
    ),
    _case(
        "SECC-SID-02",
        "Wrong SessionID in the charge loop",
        "AC_ChargeLoopReq",
        after="PowerDeliveryReq",
        loops=2,
        requirements=("V2G20-457", "V2G20-462"),
        fields={"header.session_id": _wrong_id},
        codes=("FAILED_UnknownSession",),
        stimulus="AC_ChargeLoopReq whose SessionID is not the session's",
    ),
    _case(
        "SECC-SID-03",
        "Zero SessionID after the session was established",
        "ServiceDiscoveryReq",
        after="ServiceDiscoveryReq",
        requirements=("V2G20-457", "V2G20-462"),
        fields={"header.session_id": bytes(8)},
        codes=("FAILED_UnknownSession",),
        stimulus="ServiceDiscoveryReq carrying the new-session SessionID 0x00..00",
    ),
    Case(
        id="SECC-SID-04",
        title="SessionSetupReq with an unknown SessionID starts a new session",
        sut=SutRole.SECC,
        category=Category.SEQUENCE,
        requirements=("V2G20-2626", "V2G20-2627", "V2G20-2621"),
        negative=True,
        stimulus="SessionSetupReq whose SessionID was never assigned (0xDEADBEEF00000001)",
        expected="OK_NewSessionEstablished with a fresh SessionID, not the one the EV sent",
        steps=(
            Exchange(kind="supportedAppProtocolReq", codes=("OK_SuccessfulNegotiation",), preamble=True),
            Exchange(
                kind="SessionSetupReq",
                fields={"header.session_id": lambda ctx: ctx.values.setdefault("asked_session_id", _WRONG_ID)},
                codes=("OK_NewSessionEstablished",),
                checks=(NEW_SESSION_NOT_REQUESTED_ID,),
            ),
            Exchange(kind="AuthorizationSetupReq"),
            Close(),
        ),
    ),
    Case(
        id="SECC-SID-05",
        title="Resuming with another EVCCID is not the same EV: a new session",
        sut=SutRole.SECC,
        category=Category.SEQUENCE,
        requirements=("V2G20-2545", "V2G20-2626", "V2G20-2627"),
        needs=frozenset({Need.PAUSE}),
        negative=True,
        stimulus="pause a session; reconnect and send SessionSetupReq with the paused SessionID but another EVCCID",
        expected="OK_NewSessionEstablished with a new SessionID (the SECC makes sure the resuming EV is the same)",
        steps=(
            Walk(until="AC_ChargeLoopReq"),
            Loop(count=1),
            *ev_stop("Pause", preamble=True),
            Reconnect(),
            Exchange(kind="supportedAppProtocolReq", codes=("OK_SuccessfulNegotiation",), preamble=True),
            Exchange(
                kind="SessionSetupReq",
                fields={
                    "header.session_id": lambda ctx: ctx.values.setdefault("asked_session_id", ctx.paused_session_id),
                    "evcc_id": "WMIOTHEREV000000001",
                },
                codes=("OK_NewSessionEstablished",),
                checks=(NEW_SESSION_NOT_REQUESTED_ID,),
            ),
            Close(),
        ),
    ),
)
