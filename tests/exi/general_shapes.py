"""Messages only the general coder codes: ``xsi:type`` casts and wildcard content, one of each kind.

Recorded from EXIficient in ``tests/vectors/exi/casts_and_wildcards.json`` (see PROVENANCE.md there), so that the
regression holds without java: DIN's abstract heads (``EVChargeParameter`` holding a DC_EVChargeParameterType,
``BodyElement`` holding a SessionSetupReqType, a simple cast), a -20 cast to a derived control mode and a cast to the
declared type itself, casts to derived built-in types, and xmldsig wildcard and mixed content (a global element,
undeclared elements with attributes, text and children, an undeclared element typed by ``xsi:type``, the same
undeclared name twice).
"""

from __future__ import annotations

from typing import Any

from exi.model import QName
from exi.values import AnyContent, TypeCast, Wild
from iso15118.messages.generated import din as d
from iso15118.messages.generated import iso20_ac as ac
from iso15118.messages.generated import iso20_types as t
from iso15118.messages.generated import xmldsig as ds

__all__ = ["shapes"]

DS = "http://www.w3.org/2000/09/xmldsig#"
DIN_T = "urn:din:70121:2012:MsgDataTypes"
CT = "urn:iso:std:iso:15118:-20:CommonTypes"
XS = "http://www.w3.org/2001/XMLSchema"
X = "urn:v2gstack:test:a"


def _din_message(body: d.Body) -> d.V2G_Message:
    return d.V2G_Message(header=d.MessageHeader(session_id=bytes(range(8))), body=body)


def _din() -> list[tuple[str, Any]]:
    pv = d.PhysicalValue(multiplier=0, unit=d.UnitSymbol.A, value=100)
    status = d.DC_EVStatus(ev_ready=True, ev_error_code=d.DC_EVErrorCode.NO_ERROR, evresssoc=50)
    dc = d.DC_EVChargeParameter(dc_ev_status=status, ev_maximum_current_limit=pv, ev_maximum_voltage_limit=pv)
    cpd = d.ChargeParameterDiscoveryReq(
        ev_requested_energy_transfer_type=d.EVRequestedEnergyTransfer.DC_core, ev_charge_parameter=dc
    )
    setup = d.SessionSetupReq(evcc_id=bytes.fromhex("84877260F358"))
    return [
        (
            "DIN EVChargeParameter xsi:type=DC_EVChargeParameterType",
            _din_message(d.Body(charge_parameter_discovery_req=cpd)),
        ),
        ("DIN BodyElement xsi:type=SessionSetupReqType", _din_message(d.Body(body_element=setup))),
        (
            "DIN SessionSetupReq/EVCCID xsi:type=evccIDType (its own simple type)",
            _din_message(d.Body(session_setup_req=d.SessionSetupReq(evcc_id=TypeCast((DIN_T, "evccIDType"), b"\x01")))),
        ),
    ]


def _iso20() -> list[tuple[str, Any]]:
    header = t.MessageHeader(session_id=bytes(8), time_stamp=1)
    rn = t.RationalNumber(exponent=0, value=5)
    bpt = ac.BPT_Scheduled_AC_CLReqControlMode(ev_present_active_power=rn)
    loop = ac.AC_ChargeLoopReq(header=header, meter_info_requested=False, scheduled_ac_cl_req_control_mode=bpt)
    same = ac.AC_ChargeLoopReq(
        header=header,
        meter_info_requested=False,
        scheduled_ac_cl_req_control_mode=TypeCast(
            ("urn:iso:std:iso:15118:-20:AC", "Scheduled_AC_CLReqControlModeType"),
            ac.Scheduled_AC_CLReqControlMode(ev_present_active_power=rn),
        ),
    )
    cast_byte = t.RationalNumber(exponent=TypeCast((XS, "byte"), -3), value=TypeCast((XS, "short"), 7))
    loop_byte = ac.AC_ChargeLoopReq(
        header=header, meter_info_requested=True, scheduled_ac_cl_req_control_mode=ac.Scheduled_AC_CLReqControlMode(
            ev_present_active_power=cast_byte
        )
    )  # fmt: skip
    return [
        ("-20 AC Scheduled_AC_CLReqControlMode xsi:type=BPT_Scheduled_AC_CLReqControlModeType", loop),
        ("-20 AC Scheduled_AC_CLReqControlMode xsi:type=its own type", same),
        ("-20 AC RationalNumber Exponent xsi:type=xs:byte, Value xsi:type=xs:short", loop_byte),
    ]


def _xmldsig() -> list[tuple[str, Any]]:
    rich = AnyContent(
        ((("", "a"), "1"), ((X, "b"), "é€𝄞")),
        ("text", Wild((X, "child"), AnyContent((), ("inner",))), "tail"),
    )
    # Transform's wildcard is lax: undeclared elements are valid there (SignatureMethod's is strict).
    transform = ds.Transform(algorithm="urn:t", content=("lead", Wild((X, "param"), rich)))
    reference = ds.Reference(
        uri="#id1",
        transforms=ds.Transforms(transform=(transform,)),
        digest_method=ds.DigestMethod(algorithm="urn:d"),
        digest_value=b"\x01",
    )
    info = ds.SignedInfo(
        canonicalization_method=ds.CanonicalizationMethod(algorithm="urn:c14n"),
        signature_method=ds.SignatureMethod(algorithm="urn:sig", content=("mixed text",)),
        reference=(reference,),
    )
    obj = ds.Object(
        id="o1",
        content=(
            "before",
            Wild((DS, "KeyName"), "key"),
            Wild((X, "empty"), AnyContent()),
            Wild((X, "typed"), ds.CanonicalizationMethod(algorithm="urn:typed")),
            Wild((X, "empty"), AnyContent()),
            "after",
        ),
    )
    sig = ds.Signature(signed_info=info, signature_value=ds.SignatureValue(value=b"\x02\x03"), object=(obj,))
    return [("xmldsig Signature with wildcard and mixed content", sig)]


def shapes() -> list[tuple[str, str, str, QName, Any]]:
    """(label, schema set, oracle schema, root element, value) of every shape."""
    out: list[tuple[str, str, str, QName, Any]] = []
    out += [(label, "din", "din", ("urn:din:70121:2012:MsgDef", "V2G_Message"), v) for label, v in _din()]
    out += [
        (label, "iso20_ac", "iso20-ac", ("urn:iso:std:iso:15118:-20:AC", "AC_ChargeLoopReq"), v)
        for label, v in _iso20()
    ]
    out += [(label, "xmldsig", "xmldsig", (DS, "Signature"), v) for label, v in _xmldsig()]
    return out
