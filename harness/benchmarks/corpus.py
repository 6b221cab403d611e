"""A built-in codec benchmark corpus: typical ISO 15118-20 AC_BPT session messages, built from the classes.

Used by `v2g bench codec` when ../shared/vectors is not available.
"""

from __future__ import annotations

from iso15118.codec import encode_message, payload_type_of
from iso15118.messages import iso20 as m
from iso15118.messages.app_protocol import AppProtocol, supportedAppProtocolReq

__all__ = ["builtin_corpus", "power_delivery_req", "schedule_exchange_req"]

_SID = bytes.fromhex("0102030405060708")


def _r(value: int, exponent: int = 0) -> m.RationalNumber:
    return m.RationalNumber(exponent=exponent, value=value)


def _h(ts: int = 1_700_000_000) -> m.MessageHeader:
    return m.MessageHeader(session_id=_SID, time_stamp=ts)


def builtin_corpus() -> list[tuple[str, int, bytes]]:
    """(name, payload type, EXI bytes) of a dozen representative messages."""
    msgs: list[object] = [
        supportedAppProtocolReq(
            app_protocol=(
                AppProtocol(
                    protocol_namespace="urn:iso:std:iso:15118:-20:AC",
                    version_number_major=1,
                    version_number_minor=0,
                    schema_id=1,
                    priority=1,
                ),
            )
        ),
        m.SessionSetupReq(header=_h(), evcc_id="WMIV1234567890ABCDEX"),
        m.SessionSetupRes(
            header=_h(), response_code=m.ResponseCode.OK_NewSessionEstablished, evse_id="DE*ABC*E12345*1"
        ),
        m.AuthorizationSetupRes(
            header=_h(),
            response_code=m.ResponseCode.OK,
            authorization_services=(m.Authorization.EIM,),
            certificate_installation_service=False,
            eim_as_res_authorization_mode=m.EIM_ASResAuthorizationMode(),
        ),
        m.ServiceDiscoveryRes(
            header=_h(),
            response_code=m.ResponseCode.OK,
            service_renegotiation_supported=True,
            energy_transfer_service_list=m.ServiceList(
                service=(m.Service(service_id=1, free_service=False), m.Service(service_id=5, free_service=False))
            ),
        ),
        m.AC_ChargeParameterDiscoveryReq(
            header=_h(),
            bpt_ac_cpd_req_energy_transfer_mode=m.BPT_AC_CPDReqEnergyTransferMode(
                ev_maximum_charge_power=_r(11500),
                ev_minimum_charge_power=_r(1400),
                ev_maximum_discharge_power=_r(11500),
                ev_minimum_discharge_power=_r(1400),
            ),
        ),
        m.PowerDeliveryReq(
            header=_h(),
            ev_processing=m.Processing.Finished,
            charge_progress=m.ChargeProgress.Start,
            bpt_channel_selection=m.ChannelSelection.Discharge,
        ),
        m.AC_ChargeLoopReq(
            header=_h(),
            meter_info_requested=False,
            bpt_dynamic_ac_cl_req_control_mode=m.BPT_Dynamic_AC_CLReqControlMode(
                departure_time=7200,
                ev_target_energy_request=_r(60, 3),
                ev_maximum_energy_request=_r(80, 3),
                ev_minimum_energy_request=_r(-20, 3),
                ev_maximum_charge_power=_r(11500),
                ev_minimum_charge_power=_r(1400),
                ev_present_active_power=_r(-7400),
                ev_present_reactive_power=_r(0),
                ev_maximum_discharge_power=_r(11500),
                ev_minimum_discharge_power=_r(1400),
            ),
        ),
        m.AC_ChargeLoopRes(
            header=_h(),
            response_code=m.ResponseCode.OK,
            meter_info=m.MeterInfo(
                meter_id="UWC-1", charged_energy_reading_wh=123456, bpt_discharged_energy_reading_wh=654321
            ),
            bpt_dynamic_ac_cl_res_control_mode=m.BPT_Dynamic_AC_CLResControlMode(evse_target_active_power=_r(-7400)),
        ),
        m.SessionStopReq(header=_h(), charging_session=m.ChargingSession.Terminate),
    ]
    return [(type(msg).__name__, int(payload_type_of(msg)), encode_message(msg)) for msg in msgs]


def power_delivery_req(entries: int) -> m.PowerDeliveryReq:
    """A PowerDeliveryReq with an EVPowerProfile of ``entries`` entries (1..2048), about 21.5 bytes each."""
    profile = tuple(
        m.PowerScheduleEntry(
            duration=4_000_000_000 - i,
            power=_r(30000 - i),
            power_l2=_r(-30000 + i, 1),
            power_l3=_r(30000 - i, -1),
        )
        for i in range(entries)
    )
    return m.PowerDeliveryReq(
        header=_h(),
        ev_processing=m.Processing.Ongoing,
        charge_progress=m.ChargeProgress.Start,
        ev_power_profile=m.EVPowerProfile(
            time_anchor=1_700_000_000,
            dynamic_evppt_control_mode=m.Dynamic_EVPPTControlMode(),
            ev_power_profile_entries=m.EVPowerProfileEntryList(ev_power_profile_entry=profile),
        ),
    )


def schedule_exchange_req(entries: int, stacks: int) -> m.ScheduleExchangeReq:
    """A scheduled-mode ScheduleExchangeReq whose EVEnergyOffer has ``entries`` power schedule entries (1..1024)
    and ``stacks`` price rule stacks of 8 rules each (1..1024): about 4 and 65 bytes each."""
    schedule = m.EVPowerSchedule(
        time_anchor=1_700_000_000,
        ev_power_schedule_entries=m.EVPowerScheduleEntryList(
            ev_power_schedule_entry=tuple(
                m.EVPowerScheduleEntry(duration=900 + i, power=_r(11000 + i)) for i in range(entries)
            )
        ),
    )
    rules = tuple(m.EVPriceRule(energy_fee=_r(25 + j, -2), power_range_start=_r(1000 * j)) for j in range(8))
    prices = m.EVAbsolutePriceSchedule(
        time_anchor=1_700_000_000,
        currency="EUR",
        price_algorithm="urn:iso:std:iso:15118:-20:PriceAlgorithm:1-Price",
        ev_price_rule_stacks=m.EVPriceRuleStackList(
            ev_price_rule_stack=tuple(m.EVPriceRuleStack(duration=3600 + i, ev_price_rule=rules) for i in range(stacks))
        ),
    )
    return m.ScheduleExchangeReq(
        header=_h(),
        maximum_supporting_points=1024,
        scheduled_se_req_control_mode=m.Scheduled_SEReqControlMode(
            departure_time=7200,
            ev_energy_offer=m.EVEnergyOffer(ev_power_schedule=schedule, ev_absolute_price_schedule=prices),
        ),
    )
