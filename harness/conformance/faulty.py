"""Deliberately broken SUTs: our own SECC and EVCC, each with one named misbehaviour switched on.

Every fault is a :class:`~harness.conformance.sutfault.Fault` applied by :class:`~harness.conformance.own.OwnSecc` /
:class:`~harness.conformance.own.OwnEvcc`. Most use a real seam of our stack (a configuration switch, a timer
value, the TLS context, the controller, the PnC verifier, the session store, the randomness); the others
rewrite the SUT's messages on its link, which is how a SUT that "answers OK where it must answer FAILED" looks
on the wire.

:data:`PROOF` maps every negative case (and some positive ones) to a fault that must make it FAIL, and to a
fragment of the failure reason, so a case that cannot fail, or fails for another reason, is caught.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from harness.conformance.faultparts import (
    AnyEvDecisions,
    DischargeSetpoint,
    EndlessCableCheck,
    FollowsEvMaximum,
    ForgetfulStore,
    FullPower,
    IgnoresSetpoint,
    LaxPnc,
    NoVoltageLimits,
    Overcurrent,
    StuckPrecharge,
    adopt_session_id,
    bpt_limits_without_bpt,
    cable_check_done,
    drop_bpt_parameters,
    drop_channel,
    ev_discharges,
    exceed_evse_limits,
    first_offer,
    ignore_stop,
    mask_failed,
    mask_not_ok,
    no_meter_info,
    no_verification,
    precharge_overvoltage,
    profile_above_pmax,
    recode,
    remember_requests,
    tamper_pnc,
    unpair_v2x,
    wrong_loop_mode,
)
from harness.conformance.model import SutRole
from harness.conformance.sutfault import Fault

__all__ = ["FAULTS", "PROOF", "fault"]

_HUGE = 1.0e6
_SECC, _EVCC = SutRole.SECC, SutRole.EVCC


# ---- the catalogue ------------------------------------------------------------------------------------------------
FAULTS: Final[tuple[Fault, ...]] = (
    Fault(
        name="secc-masks-failed",
        role=_SECC,
        description="answers OK wherever it should answer a FAILED code",
        outgoing=mask_failed,
    ),
    Fault(
        name="secc-sequence-ok",
        role=_SECC,
        description="accepts out-of-order requests (OK instead of FAILED_SequenceError)",
        outgoing=recode("FAILED_SequenceError", "OK"),
    ),
    Fault(
        name="secc-ignores-session-id",
        role=_SECC,
        description="does not check the SessionID of requests",
        session={"check_session_id": False},
    ),
    Fault(
        name="secc-adopts-session-id",
        role=_SECC,
        description="adopts the SessionID an EV asks for",
        incoming=remember_requests,
        outgoing=adopt_session_id,
    ),
    Fault(
        name="secc-resumes-any-ev",
        role=_SECC,
        description="resumes a paused session for any EVCCID",
        decisions=AnyEvDecisions,
    ),
    Fault(name="secc-forgets-paused", role=_SECC, description="does not keep paused sessions", store=ForgetfulStore),
    Fault(name="secc-never-closes", role=_SECC, description="never closes the connection", keep_open=True),
    Fault(
        name="secc-never-times-out",
        role=_SECC,
        description="has no sequence or set-up timeout",
        timing={"secc_sequence_timeout": _HUGE, "secc_sequence_timeout_loop": _HUGE, "secc_communication_setup": _HUGE},
    ),
    Fault(
        name="secc-slow",
        role=_SECC,
        description="answers AC_/DC_ChargeLoopReq after 0.3 s (limit 0.25 s)",
        delay=lambda name: 0.3 if name in ("AC_ChargeLoopRes", "DC_ChargeLoopRes") else 0.0,
    ),
    Fault(
        name="secc-slow-cable-check",
        role=_SECC,
        description="answers DC_CableCheckReq (DIN, -2: CableCheckReq) after 1.8 s (limit 1.5 s)",
        delay=lambda name: 1.8 if name in ("DC_CableCheckRes", "CableCheckRes") else 0.0,
    ),
    Fault(name="secc-tls12", role=_SECC, description="lets TLS 1.2 and lab certificates through", tls_tolerant=True),
    Fault(
        name="secc-any-client-cert",
        role=_SECC,
        description="does not verify (or ask for) vehicle certificates",
        tls=no_verification,
    ),
    Fault(name="secc-skips-pnc-checks", role=_SECC, description="accepts any contract chain and signature", pnc=LaxPnc),
    Fault(
        name="secc-any-challenge",
        role=_SECC,
        description="accepts a wrong GenChallenge",
        outgoing=recode("WARNING_ChallengeInvalid", "OK"),
    ),
    Fault(
        name="secc-fixed-random",
        role=_SECC,
        description="uses the same SessionID and GenChallenge every time",
        random=lambda n: b"\x42" * n,
    ),
    Fault(
        name="secc-minor-deviation",
        role=_SECC,
        description="answers OK_SuccessfulNegotiationWithMinorDeviation",
        outgoing=recode("OK_SuccessfulNegotiation", "OK_SuccessfulNegotiationWithMinorDeviation"),
    ),
    Fault(
        name="secc-first-offer",
        role=_SECC,
        description="answers with the SchemaID of the first offer",
        incoming=remember_requests,
        outgoing=first_offer,
    ),
    Fault(
        name="secc-ignores-channel",
        role=_SECC,
        description="ignores BPT_ChannelSelection (as Josev does)",
        incoming=drop_channel,
    ),
    Fault(
        name="secc-no-bpt-parameters",
        role=_SECC,
        description="offers AC_BPT without the BPT parameters",
        outgoing=drop_bpt_parameters,
    ),
    Fault(
        name="secc-bpt-limits-without-bpt",
        role=_SECC,
        description="sends BPT limits in an AC or DC session without a BPT service",
        outgoing=bpt_limits_without_bpt,
    ),
    Fault(
        name="secc-no-meter-info",
        role=_SECC,
        description="leaves MeterInfo out although it was requested",
        outgoing=no_meter_info,
    ),
    Fault(
        name="secc-wrong-loop-mode",
        role=_SECC,
        description="answers the charge loop in another control mode",
        outgoing=wrong_loop_mode,
    ),
    Fault(
        name="secc-follows-ev-maximum",
        role=_SECC,
        description="sets the EV's maximum as setpoint, above its own",
        controller=FollowsEvMaximum,
    ),
    Fault(
        name="secc-discharge-setpoint",
        role=_SECC,
        description="always commands discharge",
        controller=DischargeSetpoint,
    ),
    Fault(
        name="secc-any-voltage",
        role=_SECC,
        description="claims a DC output of 0-10 kV: accepts any EV voltage window and precharge target",
        controller=NoVoltageLimits,
    ),
    Fault(
        name="secc-endless-cable-check",
        role=_SECC,
        description="its insulation test never finishes (DC_CableCheckRes Ongoing forever)",
        controller=EndlessCableCheck,
    ),
    Fault(
        name="secc-never-precharges",
        role=_SECC,
        description="its DC output stays at 0 V during the precharge",
        controller=StuckPrecharge,
    ),
    Fault(
        name="secc-overcurrent",
        role=_SECC,
        description="drives more DC current than the EV asked for and than it announced",
        controller=Overcurrent,
    ),
    Fault(
        name="evcc-ignores-failed",
        role=_EVCC,
        description="treats FAILED and WARNING answers as OK",
        incoming=mask_not_ok,
    ),
    Fault(
        name="evcc-ignores-schema-id",
        role=_EVCC,
        description="accepts any SchemaID in SupportedAppProtocolRes",
        incoming=lambda msg, memory: (
            dataclasses.replace(msg, schema_id=1)
            if type(msg).__name__ == "supportedAppProtocolRes" and msg.schema_id is not None
            else msg
        ),
    ),
    Fault(
        name="evcc-ignores-session-id",
        role=_EVCC,
        description="does not check the SessionID of responses",
        session={"check_session_id": False},
    ),
    Fault(name="evcc-keeps-open", role=_EVCC, description="never closes the connection", keep_open=True),
    Fault(
        name="evcc-never-times-out",
        role=_EVCC,
        description="has no message, ongoing or set-up timeout (DIN, -2: its timer tables stretched)",
        timing={
            "scale": _HUGE,
            "evcc_msg_timeout": _HUGE,
            "evcc_msg_timeout_long": _HUGE,
            "evcc_msg_timeout_loop": _HUGE,
            "evcc_ongoing_timeout": _HUGE,
            "evcc_communication_setup": _HUGE,
        },
    ),
    Fault(
        name="evcc-early-timeout",
        role=_EVCC,
        description="gives up on ServiceDetailReq after 2 s instead of 5 s",
        timing={"evcc_msg_timeout_long": 2.0},
    ),
    Fault(
        name="evcc-slow-loop",
        role=_EVCC,
        description="sends AC_ChargeLoopReq 0.4 s after each response",
        driver={"loop_interval_s": 0.4},
    ),
    Fault(name="evcc-tls12", role=_EVCC, description="accepts TLS 1.2 and lab certificates", tls_tolerant=True),
    Fault(
        name="evcc-any-server-cert",
        role=_EVCC,
        description="does not verify the SECC's certificate",
        tls=no_verification,
        skip_peer_check=True,
    ),
    Fault(
        name="evcc-discharge-without-bpt",
        role=_EVCC,
        description="asks for discharge in any session",
        outgoing=ev_discharges,
    ),
    Fault(
        name="evcc-ignores-setpoint",
        role=_EVCC,
        description="does not follow the SECC's setpoint",
        controller=IgnoresSetpoint,
    ),
    Fault(name="evcc-full-power", role=_EVCC, description="always draws its maximum power", controller=FullPower),
    Fault(
        name="evcc-unpaired-v2x", role=_EVCC, description="sends EVMaximumV2XEnergyRequest alone", outgoing=unpair_v2x
    ),
    Fault(
        name="evcc-tampers-signature",
        role=_EVCC,
        description="sends PnC messages with a broken signature",
        outgoing=tamper_pnc,
    ),
    Fault(
        name="evcc-forgets-session", role=_EVCC, description="does not resume its paused session", ignore_resume=True
    ),
    Fault(
        name="evcc-cable-check-done",
        role=_EVCC,
        description="takes DC_CableCheckRes Ongoing for Finished",
        incoming=cable_check_done,
    ),
    Fault(
        name="evcc-early-precharge",
        role=_EVCC,
        description="ends the precharge at the first DC_PreChargeRes, whatever the voltage",
        driver={"precharge_tolerance_v": 1000.0},
    ),
    Fault(
        name="evcc-skips-welding",
        role=_EVCC,
        description="declares welding detection Finished in its first request",
        driver={"welding_attempts": 0},
    ),
    Fault(
        name="evcc-exceeds-evse-limits",
        role=_EVCC,
        description="asks for 999 A in the DC charge loop",
        outgoing=exceed_evse_limits,
    ),
    Fault(
        name="evcc-profile-above-pmax",
        role=_EVCC,
        description="sends a -2 ChargingProfile ten times its own, above the schedule's PMax",
        outgoing=profile_above_pmax,
    ),
    Fault(
        name="evcc-ignores-stop",
        role=_EVCC,
        description="does not see the charger's stop in a DIN or -2 loop response (StopCharging, EVSE_Shutdown)",
        incoming=ignore_stop,
    ),
    Fault(
        name="evcc-precharge-overvoltage",
        role=_EVCC,
        description="asks for a 900 V precharge",
        outgoing=precharge_overvoltage,
    ),
)

_BY_NAME = {f.name: f for f in FAULTS}


def fault(name: str) -> Fault:
    """The fault called ``name`` (KeyError names the known ones)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown fault {name!r}; known: {', '.join(_BY_NAME)}") from None


_CODE = "expected"  # "X answered OK, expected FAILED_..."
_OPEN = "still open"
_ACCEPTED = "accepted the TLS peer"

#: case ID -> (fault that must make it FAIL, fragment of the failure reason).
PROOF: Final[dict[str, tuple[str, str]]] = {
    # SEQ-01 passes when the SUT refuses the frame unread and closes: an SECC that stays open fails it.
    "SECC-SEQ-01": ("secc-never-closes", "no response to SessionSetupReq"),
    **{f"SECC-SEQ-{i:02d}": ("secc-sequence-ok", _CODE) for i in range(2, 18)},
    "SECC-SID-01": ("secc-ignores-session-id", _CODE),
    "SECC-SID-02": ("secc-ignores-session-id", _CODE),
    "SECC-SID-03": ("secc-ignores-session-id", _CODE),
    "SECC-SID-04": ("secc-adopts-session-id", "adopted the unknown SessionID"),
    "SECC-SID-05": ("secc-resumes-any-ev", _CODE),
    **{f"SECC-FRM-{i:02d}": ("secc-never-closes", _OPEN) for i in range(1, 11)},
    "SECC-TIM-01": ("secc-never-times-out", _OPEN),
    "SECC-TIM-02": ("secc-never-times-out", _OPEN),
    "SECC-TIM-03": ("secc-never-times-out", _OPEN),
    "SECC-TIM-05": ("secc-slow", "AC_ChargeLoopRes"),
    "SECC-TIM-06": ("secc-never-closes", _OPEN),
    "SECC-SEC-02": ("secc-tls12", _ACCEPTED),
    "SECC-SEC-03": ("secc-any-client-cert", _ACCEPTED),
    "SECC-SEC-04": ("secc-any-client-cert", _ACCEPTED),
    "SECC-SEC-05": ("secc-any-client-cert", _ACCEPTED),
    "SECC-SEC-06": ("secc-any-client-cert", _ACCEPTED),
    "SECC-SEC-07": ("secc-skips-pnc-checks", _CODE),
    "SECC-SEC-08": ("secc-any-challenge", _CODE),
    "SECC-SEC-09": ("secc-skips-pnc-checks", _CODE),
    "SECC-SEC-10": ("secc-skips-pnc-checks", _CODE),
    "SECC-SEC-11": ("secc-skips-pnc-checks", _CODE),
    "SECC-SEC-12": ("secc-fixed-random", "already given"),
    "SECC-SEC-13": ("secc-fixed-random", "repeats"),
    "SECC-PAR-01": ("secc-masks-failed", _CODE),
    "SECC-PAR-02": ("secc-minor-deviation", _CODE),
    "SECC-PAR-03": ("secc-first-offer", "SchemaID 11"),
    "SECC-PAR-04": ("secc-masks-failed", _CODE),
    "SECC-PAR-05": ("secc-follows-ev-maximum", "above EVSEMaximumChargePower"),
    "SECC-PAR-06": ("secc-ignores-channel", _CODE),
    **{f"SECC-PAR-{i:02d}": ("secc-masks-failed", _CODE) for i in range(7, 15)},
    "SECC-PAR-15": ("secc-no-bpt-parameters", "lacks"),
    "SECC-PAR-16": ("secc-bpt-limits-without-bpt", "BPT_AC_CPDResEnergyTransferMode"),
    "SECC-PAR-17": ("secc-no-meter-info", "no MeterInfo"),
    "SECC-PAR-18": ("secc-wrong-loop-mode", "Dynamic_AC_CLResControlMode"),
    "SECC-PAR-19": ("secc-discharge-setpoint", "target -"),
    "SECC-HP-07": ("secc-forgets-paused", "OK_NewSessionEstablished"),
    "EVCC-SEQ-01": ("evcc-ignores-failed", "AuthorizationSetupReq"),
    "EVCC-SEQ-02": ("evcc-ignores-failed", "AC_ChargeLoopReq"),
    "EVCC-SEQ-03": ("evcc-ignores-failed", "SessionSetupReq"),
    "EVCC-SEQ-04": ("evcc-ignores-schema-id", "SessionSetupReq"),
    "EVCC-SEQ-05": ("evcc-ignores-session-id", "ServiceDetailReq"),
    "EVCC-SEQ-06": ("evcc-never-times-out", _OPEN),
    "EVCC-SEQ-07": ("evcc-ignores-failed", "ServiceDiscoveryReq"),
    **{f"EVCC-FRM-{i:02d}": ("evcc-keeps-open", _OPEN) for i in range(1, 6)},
    "EVCC-TIM-01": ("evcc-never-times-out", _OPEN),
    "EVCC-TIM-02": ("evcc-never-times-out", _OPEN),
    "EVCC-TIM-03": ("evcc-early-timeout", "before the"),
    "EVCC-TIM-05": ("evcc-slow-loop", "AC_ChargeLoopReq after AC_ChargeLoopRes"),
    "EVCC-SEC-02": ("evcc-tls12", _ACCEPTED),
    "EVCC-SEC-03": ("evcc-any-server-cert", _ACCEPTED),
    "EVCC-SEC-04": ("evcc-any-server-cert", _ACCEPTED),
    "EVCC-SEC-05": ("evcc-tls12", _ACCEPTED),
    "EVCC-PAR-01": ("evcc-discharge-without-bpt", "BPT_ChannelSelection Discharge"),
    "EVCC-PAR-02": ("evcc-ignores-setpoint", "present power 0 W"),
    "EVCC-PAR-03": ("evcc-full-power", "above the schedule"),
    "EVCC-PAR-04": ("evcc-unpaired-v2x", "only one of the two"),
    "EVCC-HP-05": ("evcc-tampers-signature", "SignatureValue"),
    "EVCC-HP-06": ("evcc-forgets-session", "the paused session's is"),
    # DC, SECC under test
    "SECC-DC-06": ("secc-forgets-paused", "OK_NewSessionEstablished"),
    **{f"SECC-DC-{i:02d}": ("secc-masks-failed", _CODE) for i in (7, 8, 11, 12)},
    "SECC-DC-09": ("secc-any-voltage", _CODE),
    "SECC-DC-10": ("secc-any-voltage", _CODE),
    "SECC-DC-13": ("secc-never-precharges", "does not approach"),
    "SECC-DC-14": ("secc-overcurrent", "above EVTargetCurrent"),
    "SECC-DC-15": ("secc-no-meter-info", "no MeterInfo"),
    "SECC-DC-16": ("secc-wrong-loop-mode", "Dynamic_DC_CLResControlMode"),
    "SECC-DC-17": ("secc-no-bpt-parameters", "lacks"),
    "SECC-DC-18": ("secc-bpt-limits-without-bpt", "BPT_DC_CPDResEnergyTransferMode"),
    **{f"SECC-DC-{i:02d}": ("secc-sequence-ok", _CODE) for i in range(19, 30)},
    "SECC-DC-30": ("secc-ignores-session-id", _CODE),
    "SECC-DC-31": ("secc-slow", "DC_ChargeLoopRes"),
    "SECC-DC-32": ("secc-never-times-out", _OPEN),
    "SECC-DC-33": ("secc-endless-cable-check", "still Ongoing"),
    "SECC-DC-34": ("secc-never-times-out", _OPEN),
    "SECC-DC-35": ("secc-slow-cable-check", "DC_CableCheckRes"),
    # DC, EVCC under test
    "EVCC-DC-03": ("evcc-discharge-without-bpt", "BPT_ChannelSelection Discharge"),
    "EVCC-DC-04": ("evcc-cable-check-done", "DC_PreChargeReq"),
    "EVCC-DC-05": ("evcc-early-precharge", "from the target"),
    "EVCC-DC-06": ("evcc-skips-welding", "before any measurement"),
    **{f"EVCC-DC-{i:02d}": ("evcc-ignores-failed", "instead of closing") for i in (7, 8, 9)},
    **{f"EVCC-DC-{i:02d}": ("evcc-never-times-out", _OPEN) for i in (10, 11, 12, 14)},
    "EVCC-DC-13": ("evcc-slow-loop", "DC_ChargeLoopReq after DC_ChargeLoopRes"),
    "EVCC-DC-15": ("evcc-exceeds-evse-limits", "above the EVSE's"),
    "EVCC-DC-16": ("evcc-precharge-overvoltage", "outside the"),
    "EVCC-DC-17": ("evcc-keeps-open", _OPEN),
    # ISO 15118-2 and DIN 70121, SECC under test
    **{f"SECC-ISO2-SEQ-{i:02d}": ("secc-sequence-ok", _CODE) for i in range(1, 12)},
    **{f"SECC-DIN-SEQ-{i:02d}": ("secc-sequence-ok", _CODE) for i in range(1, 10)},
    **{f"SECC-ISO2-PAR-{i:02d}": ("secc-masks-failed", _CODE) for i in range(1, 8)},
    "EVCC-ISO2-PAR-05": ("evcc-profile-above-pmax", "above the PMax"),
    **{f"SECC-DIN-PAR-{i:02d}": ("secc-masks-failed", _CODE) for i in range(1, 5)},
    "SECC-ISO2-HP-03": ("secc-forgets-paused", "OK_NewSessionEstablished"),
    **{
        f"SECC-{g}-{case}": proof
        for g, first in (("ISO2", 8), ("DIN", 5))
        for case, proof in (
            ("SID-01", ("secc-ignores-session-id", _CODE)),
            ("SID-02", ("secc-ignores-session-id", _CODE)),
            ("SID-03", ("secc-adopts-session-id", "adopted the unknown SessionID")),
            ("SID-04", ("secc-fixed-random", "already given")),
            (f"PAR-{first:02d}", ("secc-never-precharges", "does not approach")),
            (f"PAR-{first + 1:02d}", ("secc-overcurrent", "above EVTargetCurrent")),
            ("TIM-01", ("secc-never-times-out", _OPEN)),
            ("TIM-02", ("secc-never-times-out", _OPEN)),
            ("TIM-03", ("secc-slow-cable-check", "CableCheckRes")),
            ("TIM-04", ("secc-endless-cable-check", "still Ongoing")),
        )
    },
    # ISO 15118-2 and DIN 70121, EVCC under test
    **{
        f"EVCC-{g}-{case}": proof
        for g, families in (("ISO2", 2), ("DIN", 1))
        for case, proof in (
            *((f"SEQ-{i:02d}", ("evcc-ignores-stop", "expected PowerDeliveryReq")) for i in range(1, families + 1)),
            (f"SEQ-{families + 1:02d}", ("evcc-ignores-failed", "instead of closing")),
            (f"SEQ-{families + 2:02d}", ("evcc-ignores-failed", "instead of closing")),
            (f"SEQ-{families + 3:02d}", ("evcc-ignores-failed", "instead of closing")),
            (f"SEQ-{families + 4:02d}", ("evcc-ignores-session-id", "instead of closing")),
            *((f"TIM-{i:02d}", ("evcc-never-times-out", _OPEN)) for i in range(1, families + 3)),
            ("PAR-01", ("evcc-cable-check-done", "PreChargeReq")),
            ("PAR-02", ("evcc-precharge-overvoltage", "outside the")),
            ("PAR-03", ("evcc-early-precharge", "from the target")),
            ("PAR-04", ("evcc-exceeds-evse-limits", "above the EVSE's")),
        )
    },
}
