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

# DIN 70121 9.6 timing. The standard is not public; its tables as public implementations restate them:
# Table 75, V2G_EVCC_Msg_Timeout: 2 s for every request but CurrentDemandReq, 0.25 s (also PowerDeliveryReq 2 s,
# where -2 gives 5 s: the "tight" DIN deadlines field testers meet, FreeV2G #250); V2G_SECC_Msg_Performance_Time:
# 1.5 s, CurrentDemandRes 0.025 s. Sources: Josev (EcoG-io/iso15118) iso15118/shared/messages/din_spec/timeouts.py,
# and Josev issue #157, which quotes Table 75 ("CurrentDemandRes should take 25ms"). No public source we found
# gives DIN's CurrentDemandReq 0.5 s; that is -20's DC_ChargeLoop timeout (V2G20 table 217).
# V2G_SECC_Sequence_Timeout is 60 s after every response [V2G-DC-443] (Josev's table; Tinkerforge's
# esp32-firmware din70121.cpp cites the requirement), the charge loop included: DIN has no loop-specific value,
# so no request overrides the session-wide value (Timing.secc_sequence_timeout, 60 s unless configured).
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
        Timer.SECC_SEQUENCE: "V2G-DC-443",
        Timer.SECC_PERFORMANCE: "DIN 70121 table 75 V2G_SECC_Msg_Performance_Time",
        Timer.SECC_ONGOING: "DIN 70121 9.6 ongoing performance time",
        Timer.SECC_COMMUNICATION_SETUP: "DIN 70121 table 77 V2G_SECC_CommunicationSetup_Performance_Time",
        Timer.EVCC_MESSAGE: "DIN 70121 table 75 V2G_EVCC_Msg_Timeout",
        Timer.EVCC_ONGOING: "V2G-DC-864",
        Timer.EVCC_COMMUNICATION_SETUP: "DIN 70121 table 77 V2G_EVCC_CommunicationSetup_Timeout",
        Timer.CLOSE: "DIN 70121 9.1 end of session",
    },
    session_id_rule="DIN 70121 9.4 SessionID",
)

DIN: Final = EnvelopeProfile(GENERATION)
"""The DIN 70121 profile."""
