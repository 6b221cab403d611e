"""Requests, views and a fixed PnC verdict for testing the -20 SECC decisions as pure functions."""

from __future__ import annotations

from typing import Any

from iso15118.config import SeccConfig
from iso15118.controller import (
    DCLimits,
    EVSELimits,
)
from iso15118.decisions import Answer, Input, Inputs, PeerIdentity
from iso15118.iso20.kinds import kind_of
from iso15118.iso20.pnc import PncOutcome
from iso15118.iso20.secc import HANDLERS, SeccContext, SeccView
from iso15118.messages import iso20 as m
from iso15118.messages.units import rational
from iso15118.session.failures import minimal_instance
from iso15118.session.selection import EnergyFamily, Selection

NOW = 1_700_000_000.0
SID = bytes.fromhex("0102030405060708")
HEADER = m.MessageHeader(session_id=SID, time_stamp=int(NOW))
AC_LIMITS = EVSELimits(max_charge_w=11_000, min_charge_w=1_400, max_discharge_w=11_000, bidirectional=True)
DC_LIMITS = DCLimits(
    max_voltage_v=500,
    min_voltage_v=150,
    max_charge_current_a=200,
    max_charge_power_w=50_000,
    bidirectional=True,
    max_discharge_current_a=200,
    max_discharge_power_w=50_000,
)
PEER = PeerIdentity(address="[fe80::1]:50000", subject="CN=CAR-A", fingerprint="aa" * 32)


def view(
    *,
    family: EnergyFamily = EnergyFamily.AC,
    ctx: SeccContext | None = None,
    config: SeccConfig | None = None,
    inputs: dict[Input, Any] | None = None,
    peer: PeerIdentity | None = PEER,
    pnc: Any = None,
) -> SeccView:
    return SeccView(
        now=NOW,
        header=HEADER,
        ctx=ctx or SeccContext(),
        config=config or SeccConfig(),
        selection=Selection(family=family),
        session_id=SID,
        inputs=Inputs(inputs or {}),
        peer=peer,
        pnc=pnc,
        entropy=bytes(range(32)),
        dc_capable=True,
    )


def req(cls: type, **fields: Any) -> Any:
    """The smallest valid request of ``cls`` with the session's header and ``fields``."""
    return minimal_instance(cls, override={"header": HEADER, **fields})


def decide(request: Any, v: SeccView) -> Answer[SeccContext]:
    """Run the decision, answering its Needs from the view's inputs (a missing input is a test error)."""
    kind = kind_of(request)
    assert kind is not None
    result = HANDLERS[kind](request, v)
    assert isinstance(result, Answer), f"the decision still needs {result}"
    return result


def code(request: Any, v: SeccView) -> str:
    return str(decide(request, v).response.response_code)


def ctx_for(service: int, *, control: int = 2, **more: Any) -> SeccContext:
    return SeccContext(service_id=service, parameter_set=1, control_mode=control, **more)


class FixedPnc:
    """A PncVerifier stand-in with a fixed verdict (the real one is tested in tests/security)."""

    def __init__(self, code: m.ResponseCode | None) -> None:
        self.code = code

    def verify_authorization(self, request: Any, now: float) -> PncOutcome:
        return PncOutcome(code=self.code, emaid="DE-ABC-C12345678-X" if self.code is None else None)

    def verify_metering(self, request: Any, chain: Any, now: float) -> PncOutcome:
        return PncOutcome(code=self.code)

    def verify_installation(self, response: Any, now: float) -> PncOutcome:
        return PncOutcome(code=self.code)


def pnc_req(challenge: bytes = b"c" * 16) -> m.AuthorizationReq:
    chain = m.ContractCertificateChain(
        certificate=b"\x30\x00", sub_certificates=m.SubCertificates(certificate=(b"\x30\x00",))
    )
    mode = m.PnC_AReqAuthorizationMode(id="id1", gen_challenge=challenge, contract_certificate_chain=chain)
    return req(
        m.AuthorizationReq, selected_authorization_service=m.Authorization.PnC, pnc_a_req_authorization_mode=mode
    )


def eim_req() -> m.AuthorizationReq:
    return req(
        m.AuthorizationReq,
        selected_authorization_service=m.Authorization.EIM,
        eim_a_req_authorization_mode=m.EIM_AReqAuthorizationMode(),
    )


PNC_CONFIG = SeccConfig(authorization=("EIM", "PnC"))
PNC_CTX = SeccContext(gen_challenge=b"c" * 16, evcc_id="CAR")


def selection_req(service: int, parameter_set: int = 1) -> m.ServiceSelectionReq:
    sel = m.SelectedService(service_id=service, parameter_set_id=parameter_set)
    return req(m.ServiceSelectionReq, selected_energy_transfer_service=sel)


def ac_cpd(bpt: bool, min_power: float = 1_400) -> m.AC_ChargeParameterDiscoveryReq:
    common = {"ev_maximum_charge_power": rational(11_000), "ev_minimum_charge_power": rational(min_power)}
    if bpt:
        mode = m.BPT_AC_CPDReqEnergyTransferMode(
            **common, ev_maximum_discharge_power=rational(11_000), ev_minimum_discharge_power=rational(0)
        )
        return req(m.AC_ChargeParameterDiscoveryReq, bpt_ac_cpd_req_energy_transfer_mode=mode)
    return req(
        m.AC_ChargeParameterDiscoveryReq, ac_cpd_req_energy_transfer_mode=m.AC_CPDReqEnergyTransferMode(**common)
    )


def dc_cpd(
    bpt: bool, *, max_v: float = 450, min_v: float = 300, min_current: float = 0
) -> m.DC_ChargeParameterDiscoveryReq:
    common = {
        "ev_maximum_charge_power": rational(50_000),
        "ev_minimum_charge_power": rational(0),
        "ev_maximum_charge_current": rational(150),
        "ev_minimum_charge_current": rational(min_current),
        "ev_maximum_voltage": rational(max_v),
        "ev_minimum_voltage": rational(min_v),
    }
    if bpt:
        mode = m.BPT_DC_CPDReqEnergyTransferMode(
            **common,
            ev_maximum_discharge_power=rational(20_000),
            ev_minimum_discharge_power=rational(0),
            ev_maximum_discharge_current=rational(50),
            ev_minimum_discharge_current=rational(0),
        )
        return req(m.DC_ChargeParameterDiscoveryReq, bpt_dc_cpd_req_energy_transfer_mode=mode)
    return req(
        m.DC_ChargeParameterDiscoveryReq, dc_cpd_req_energy_transfer_mode=m.DC_CPDReqEnergyTransferMode(**common)
    )


def power_delivery(progress: str = "Start", *, channel: str | None = None, schedule: int | None = None) -> Any:
    profile = None
    if schedule is not None:
        entries = m.EVPowerProfileEntryList(
            ev_power_profile_entry=(m.PowerScheduleEntry(duration=60, power=rational(0)),)
        )
        profile = m.EVPowerProfile(
            time_anchor=0,
            scheduled_evppt_control_mode=m.Scheduled_EVPPTControlMode(selected_schedule_tuple_id=schedule),
            ev_power_profile_entries=entries,
        )
    return req(
        m.PowerDeliveryReq,
        ev_processing=m.Processing.Finished,
        charge_progress=m.ChargeProgress(progress),
        bpt_channel_selection=m.ChannelSelection(channel) if channel else None,
        ev_power_profile=profile,
    )


def ac_loop(bpt: bool, dynamic: bool) -> m.AC_ChargeLoopReq:
    cls = {
        (False, False): m.Scheduled_AC_CLReqControlMode,
        (True, False): m.BPT_Scheduled_AC_CLReqControlMode,
        (False, True): m.Dynamic_AC_CLReqControlMode,
        (True, True): m.BPT_Dynamic_AC_CLReqControlMode,
    }[(bpt, dynamic)]
    element = minimal_instance(cls)
    field_name = ("bpt_" if bpt else "") + ("dynamic" if dynamic else "scheduled") + "_ac_cl_req_control_mode"
    return req(m.AC_ChargeLoopReq, meter_info_requested=False, **{field_name: element})


def dc_loop(bpt: bool, dynamic: bool) -> m.DC_ChargeLoopReq:
    cls = {
        (False, False): m.Scheduled_DC_CLReqControlMode,
        (True, False): m.BPT_Scheduled_DC_CLReqControlMode,
        (False, True): m.Dynamic_DC_CLReqControlMode,
        (True, True): m.BPT_Dynamic_DC_CLReqControlMode,
    }[(bpt, dynamic)]
    element = minimal_instance(cls)
    field_name = ("bpt_" if bpt else "") + ("dynamic" if dynamic else "scheduled") + "_dc_cl_req_control_mode"
    return req(
        m.DC_ChargeLoopReq, meter_info_requested=False, ev_present_voltage=rational(400), **{field_name: element}
    )


def stop_req(how: str) -> m.SessionStopReq:
    return req(m.SessionStopReq, charging_session=m.ChargingSession(how))


DC_VIEW = {"family": EnergyFamily.DC}

#: (name, request factory, view keyword arguments, the code the decision must answer)
