"""ISO 15118-2 as a session profile: the generation's data for :class:`~iso15118.envelope.profile.EnvelopeProfile`.

-2 offers itself in SupportedAppProtocol as ``urn:iso:15118:2:2013:MsgDef`` version 2.0 and serves AC and DC
under that one namespace: the session learns its energy family from the EV's RequestedEnergyTransferMode in
ChargeParameterDiscoveryReq (:func:`learn`), and the selected charge service from PaymentServiceSelectionReq.

Timers (ISO 15118-2 Table 109, as publicly restated: Josev's ``iso15118/shared/messages/iso15118_2/timeouts.py``
for the EV's message timeouts, and the SECC's performance times as restated beside them): the EV waits 2 s for a
response, 5 s for ServiceDetail, PaymentDetails, CertificateInstallation, CertificateUpdate and PowerDelivery,
0.25 s for CurrentDemand; the SECC answers within 1.5 s, 4.5 s and 0.025 s respectively. The session-wide values
are the same as -20's (Table 109: V2G_SECC_Sequence_Timeout 60 s [V2G2-443], V2G_EVCC_Sequence_Performance_Time
40 s, V2G_EVCC_Ongoing_Timeout 60 s, V2G_SECC_Ongoing_Performance_Time 55 s), so no request overrides them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from iso15118.constants import NS_ISO2
from iso15118.envelope.kinds import Kind
from iso15118.envelope.profile import EnvelopeProfile, Generation
from iso15118.envelope.states import State
from iso15118.iso2.modes import CHARGE_SERVICE_ID, requested_family
from iso15118.iso2.table import TABLE
from iso15118.messages.generated import iso2 as m
from iso15118.session.profile import MessageTiming
from iso15118.session.sap import Offer
from iso15118.session.selection import Selection
from iso15118.session.timers import Timer

__all__ = ["GENERATION", "ISO2", "LIMIT_CHAINS", "LIMIT_SMALL", "OFFER", "learn"]

OFFER: Final = Offer(namespace=NS_ISO2, major=2)
"""ISO 15118-2 in SupportedAppProtocol: version 2.0, any minor accepted."""

_DEFAULT: Final = MessageTiming(evcc_timeout=2.0, secc_performance=1.5)
# The requests that may wait for a backend (a service provider, the contract's mobility operator) or for the
# contactors get 5 s; the SECC's performance time is the EV's timeout less the same 0.5 s transmission allowance
# as everywhere else in the table (4.5 s is restated for PowerDeliveryRes; the others follow the same rule).
_LONG: Final = MessageTiming(evcc_timeout=5.0, secc_performance=4.5)
_TIMING: Final = {
    **{
        kind: _LONG
        for kind in (
            Kind.ServiceDetailReq,
            Kind.PaymentDetailsReq,
            Kind.CertificateInstallationReq,
            Kind.CertificateUpdateReq,
            Kind.PowerDeliveryReq,
        )
    },
    Kind.CurrentDemandReq: MessageTiming(evcc_timeout=0.25, secc_performance=0.025),
}

LIMIT_SMALL: Final = 2048
"""Every -2 request without a certificate chain: a header (a signature at most, for PnC's AuthorizationReq and
MeteringReceiptReq) and a few dozen short fields, at most 24 ChargingProfile entries in PowerDeliveryReq."""
LIMIT_CHAINS: Final = 8192
"""PaymentDetailsReq, CertificateInstallationReq and CertificateUpdateReq: a certificate chain of up to five
certificates of at most 800 bytes each, up to 20 root certificate IDs and a header signature."""


def learn(selection: Selection, kind: Kind, request: Any, response: Any) -> Selection:
    """What a -2 exchange settles beyond the generic: the charge service selected, and the energy family once
    ChargeParameterDiscovery is Finished (while it is Ongoing the EV may still ask again)."""
    if kind is Kind.PaymentServiceSelectionReq:
        selected = {s.service_id for s in request.selected_service_list.selected_service}
        return replace(selection, service_id=CHARGE_SERVICE_ID) if CHARGE_SERVICE_ID in selected else selection
    finished = str(getattr(response, "evse_processing", "")) == "Finished"
    if kind is Kind.ChargeParameterDiscoveryReq and selection.family is None and finished:
        return replace(selection, family=requested_family(request))
    return selection


GENERATION: Final = Generation(
    name="ISO 15118-2",
    schema="iso2",
    module=m,
    offer=OFFER,
    family=None,
    table=TABLE,
    initial_state=State.WAIT_SESSION_SETUP,
    setup_state=State.WAIT_SERVICE_DISCOVERY,
    timing=_TIMING,
    default_timing=_DEFAULT,
    loop_kinds=frozenset({Kind.ChargingStatusReq, Kind.CurrentDemandReq}),
    max_payload={
        Kind.PaymentDetailsReq: LIMIT_CHAINS,
        Kind.CertificateInstallationReq: LIMIT_CHAINS,
        Kind.CertificateUpdateReq: LIMIT_CHAINS,
    },
    default_max_payload=LIMIT_SMALL,
    timer_requirements={
        Timer.SECC_SEQUENCE: "V2G2-443",
        Timer.SECC_PERFORMANCE: "V2G2 Table 109 V2G_SECC_Msg_Performance_Time",
        Timer.SECC_ONGOING: "V2G2 Table 109 V2G_SECC_Ongoing_Performance_Time",
        Timer.SECC_COMMUNICATION_SETUP: "ISO 15118-2 V2G_SECC_CommunicationSetup_Performance_Time",
        Timer.EVCC_MESSAGE: "V2G2 Table 109 V2G_EVCC_Msg_Timeout",
        Timer.EVCC_ONGOING: "V2G2 Table 109 V2G_EVCC_Ongoing_Timeout",
        Timer.EVCC_COMMUNICATION_SETUP: "ISO 15118-2 V2G_EVCC_CommunicationSetup_Timeout",
        Timer.CLOSE: "V2G2 8.8 end of session",
    },
    session_id_rule="ISO 15118-2 MessageHeader SessionID",
    learn=learn,
)

ISO2: Final = EnvelopeProfile(GENERATION)
"""The ISO 15118-2 profile."""
