"""Plug & Charge on the EVCC side: the messages signed with the contract credentials.

The PnC AuthorizationReq carries the contract chain and the SECC's GenChallenge in an element with an
``Id``, signed in the header with the contract key [V2G20-1063]; MeteringConfirmationReq signs the
SignedMeteringData element with the same key.
"""

from __future__ import annotations

from typing import Any

from iso15118.messages import iso20 as m
from iso15118.security.credentials import ContractCredentials
from iso15118.security.signed_messages import sign_message

__all__ = ["signed_authorization", "signed_metering"]


def signed_authorization(
    header: m.MessageHeader, gen_challenge: bytes, creds: ContractCredentials
) -> m.AuthorizationReq:
    """A PnC AuthorizationReq echoing ``gen_challenge``, signed with the contract key."""
    leaf, subs = creds.chain[0], creds.chain[1:]
    # The contract chain always carries its Sub-CAs (SubCertificates is mandatory in -20).
    chain = m.ContractCertificateChain(certificate=leaf, sub_certificates=m.SubCertificates(certificate=subs))
    mode = m.PnC_AReqAuthorizationMode(id="id1", gen_challenge=gen_challenge, contract_certificate_chain=chain)
    req = m.AuthorizationReq(
        header=header, selected_authorization_service=m.Authorization.PnC, pnc_a_req_authorization_mode=mode
    )
    return sign_message(req, creds.key, profile=creds.profile)


def signed_metering(
    header: m.MessageHeader, session_id: bytes, meter: dict[str, Any], dynamic: bool, creds: ContractCredentials
) -> m.MeteringConfirmationReq:
    """A MeteringConfirmationReq over the last meter reading, signed with the contract key."""
    info = m.MeterInfo(
        meter_id="EV",
        charged_energy_reading_wh=int(meter["charged_wh"]),
        bpt_discharged_energy_reading_wh=int(meter.get("discharged_wh") or 0),
    )
    mode: dict[str, Any] = (
        {"dynamic_smdt_control_mode": m.Dynamic_SMDTControlMode()}
        if dynamic
        else {"scheduled_smdt_control_mode": m.Scheduled_SMDTControlMode(selected_schedule_tuple_id=1)}
    )
    data = m.SignedMeteringData(id="id2", session_id=session_id, meter_info=info, **mode)
    return sign_message(
        m.MeteringConfirmationReq(header=header, signed_metering_data=data), creds.key, profile=creds.profile
    )
