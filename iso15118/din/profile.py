"""DIN 70121 as a session profile: the generation's data for :class:`~iso15118.envelope.profile.EnvelopeProfile`.

DIN 70121 is DC only (its namespace fixes the family), has no TLS, no Plug & Charge and no side streams, and
offers itself in SupportedAppProtocol as ``urn:din:70121:2012:MsgDef`` version 2.0.
"""

from __future__ import annotations

from typing import Final

from iso15118.constants import NS_DIN
from iso15118.din.table import TABLE
from iso15118.envelope.kinds import Kind
from iso15118.envelope.profile import EnvelopeProfile, Generation
from iso15118.envelope.states import State
from iso15118.messages.generated import din as m
from iso15118.session.profile import MessageTiming
from iso15118.session.sap import Offer
from iso15118.session.selection import EnergyFamily
from iso15118.session.timers import Timer

__all__ = ["DIN", "GENERATION", "OFFER"]

OFFER: Final = Offer(namespace=NS_DIN, major=2)
"""DIN 70121 in SupportedAppProtocol: version 2.0, any minor accepted."""

# DIN 70121 9.6 timing: V2G_EVCC_Msg_Timeout is 2 s for every request but CurrentDemand (0.25 s) -- the
# "tight" CurrentDemand and PowerDelivery deadlines field testers meet (-2 gives PowerDelivery 5 s).
# Performance times of the SECC are the EV's timeouts less the transmission allowance.
_DEFAULT: Final = MessageTiming(evcc_timeout=2.0, secc_performance=1.5)
_TIMING: Final = {
    Kind.CurrentDemandReq: MessageTiming(evcc_timeout=0.25, secc_performance=0.025),
}

GENERATION: Final = Generation(
    name="DIN 70121",
    schema="din",
    module=m,
    offer=OFFER,
    family=EnergyFamily.DC,
    table=TABLE,
    initial_state=State.WAIT_SESSION_SETUP,
    setup_state=State.WAIT_SERVICE_DISCOVERY,
    timing=_TIMING,
    default_timing=_DEFAULT,
    loop_kinds=frozenset({Kind.CurrentDemandReq}),
    max_payload={},
    default_max_payload=2048,
    timer_requirements={
        Timer.SECC_SEQUENCE: "DIN 70121 9.6 V2G_SECC_Sequence_Timeout",
        Timer.SECC_PERFORMANCE: "DIN 70121 9.6 V2G_SECC_Msg_Performance_Time",
        Timer.SECC_ONGOING: "DIN 70121 9.6 V2G_SECC_Ongoing_Performance_Time",
        Timer.SECC_COMMUNICATION_SETUP: "DIN 70121 9.6 V2G_SECC_CommunicationSetup_Performance_Time",
        Timer.EVCC_MESSAGE: "DIN 70121 9.6 V2G_EVCC_Msg_Timeout",
        Timer.EVCC_ONGOING: "DIN 70121 9.6 V2G_EVCC_Ongoing_Timeout",
        Timer.EVCC_COMMUNICATION_SETUP: "DIN 70121 9.6 V2G_EVCC_CommunicationSetup_Timeout",
        Timer.CLOSE: "DIN 70121 9.1 end of session",
    },
    session_id_rule="DIN 70121 9.4 SessionID",
)

DIN: Final = EnvelopeProfile(GENERATION)
"""The DIN 70121 profile."""
