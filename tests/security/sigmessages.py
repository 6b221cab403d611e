"""Realistic ISO 15118-20 messages whose header signature covers one element, built from a test PKI.

Every message carries real DER certificates of the PKI, random challenges and session IDs, plausible meter
data and, in CertificateInstallationRes, a real ephemeral ECDH public key (X448's is left-padded to the
fixed 133 bytes of ``dhPublicKeyType``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x448

from iso15118.messages import iso20
from iso15118.messages.xmldsig import X509IssuerSerial
from iso15118.security.issuing import KeyAlgorithm, PrivateKey
from iso15118.security.pki import Pki
from iso15118.security.profiles import Entity

TIME_STAMP = 1_795_346_099


def der(cert: x509.Certificate) -> bytes:
    """The DER bytes of a certificate."""
    return cert.public_bytes(serialization.Encoding.DER)


def header() -> iso20.MessageHeader:
    """A header with a fresh random session ID and no signature."""
    return iso20.MessageHeader(session_id=os.urandom(8), time_stamp=TIME_STAMP)


def _subs(pki: Pki, leaf: Entity) -> iso20.SubCertificates:
    return iso20.SubCertificates(certificate=tuple(der(c) for c in pki.chain(leaf)[1:]))


def contract_chain(pki: Pki) -> iso20.ContractCertificateChain:
    """The contract leaf with its two MO Sub-CAs."""
    return iso20.ContractCertificateChain(
        certificate=der(pki[Entity.CONTRACT_LEAF].certificate),
        sub_certificates=_subs(pki, Entity.CONTRACT_LEAF),
    )


def authorization_req(pki: Pki) -> iso20.AuthorizationReq:
    """A PnC AuthorizationReq: 16 random GenChallenge bytes and the contract chain."""
    return iso20.AuthorizationReq(
        header=header(),
        selected_authorization_service=iso20.Authorization.PnC,
        pnc_a_req_authorization_mode=iso20.PnC_AReqAuthorizationMode(
            id="ID1", gen_challenge=os.urandom(16), contract_certificate_chain=contract_chain(pki)
        ),
    )


def metering_confirmation_req(pki: Pki) -> iso20.MeteringConfirmationReq:
    """A MeteringConfirmationReq with meter readings, a receipt with costs and taxes, Scheduled mode."""
    del pki  # the contract chain is not part of this message
    session_id = os.urandom(8)
    rational = iso20.RationalNumber
    receipt = iso20.Receipt(
        time_anchor=TIME_STAMP - 3600,
        energy_costs=iso20.DetailedCost(
            amount=rational(exponent=-2, value=1234), cost_per_unit=rational(exponent=-3, value=329)
        ),
        tax_costs=(iso20.DetailedTax(tax_rule_id=1, amount=rational(exponent=-2, value=234)),),
    )
    meter = iso20.MeterInfo(
        meter_id="METER-DE-0042",
        charged_energy_reading_wh=37_512,
        bpt_discharged_energy_reading_wh=4_096,
        meter_signature=os.urandom(64),
        meter_status=0,
        meter_timestamp=TIME_STAMP - 5,
    )
    data = iso20.SignedMeteringData(
        id="SMD1",
        session_id=session_id,
        meter_info=meter,
        receipt=receipt,
        scheduled_smdt_control_mode=iso20.Scheduled_SMDTControlMode(selected_schedule_tuple_id=1),
    )
    return iso20.MeteringConfirmationReq(
        header=dataclasses.replace(header(), session_id=session_id), signed_metering_data=data
    )


def _issuer_serial(cert: x509.Certificate) -> X509IssuerSerial:
    return X509IssuerSerial(x509_issuer_name=cert.issuer.rfc4514_string(), x509_serial_number=cert.serial_number)


def certificate_installation_req(pki: Pki) -> iso20.CertificateInstallationReq:
    """A CertificateInstallationReq: OEM provisioning chain, the trusted V2G and MO roots, one eMAID."""
    chain = iso20.SignedCertificateChain(
        id="OEMProvChain",
        certificate=der(pki[Entity.OEM_PROV_LEAF].certificate),
        sub_certificates=_subs(pki, Entity.OEM_PROV_LEAF),
    )
    roots = iso20.ListOfRootCertificateIDs(
        root_certificate_id=(
            _issuer_serial(pki[Entity.V2G_ROOT].certificate),
            _issuer_serial(pki[Entity.MO_ROOT].certificate),
        )
    )
    return iso20.CertificateInstallationReq(
        header=header(),
        oem_provisioning_certificate_chain=chain,
        list_of_root_certificate_i_ds=roots,
        maximum_contract_certificate_chains=2,
        prioritized_emai_ds=iso20.EMAIDList(emaid=(pki.identities.emaid,)),
    )


def certificate_installation_res(pki: Pki) -> iso20.CertificateInstallationRes:
    """A CertificateInstallationRes: CPS chain, the contract chain, an ECDH key of the PKI's family."""
    if pki.algorithm is KeyAlgorithm.ED448:
        raw = (
            x448.X448PrivateKey.generate()
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
        curve, dh_public, secret = (
            iso20.EcdhCurve.X448,
            raw.rjust(133, b"\0"),
            {"x448_encrypted_private_key": os.urandom(84)},
        )
    else:
        point = (
            ec.generate_private_key(ec.SECP521R1())
            .public_key()
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        )
        curve, dh_public, secret = (
            iso20.EcdhCurve.SECP521,
            point,
            {"secp521_encrypted_private_key": os.urandom(94)},
        )
    data = iso20.SignedInstallationData(
        id="SID1",
        contract_certificate_chain=contract_chain(pki),
        ecdh_curve=curve,
        dh_public_key=dh_public,
        **secret,
    )
    cps = iso20.CertificateChain(
        certificate=der(pki[Entity.CPS_LEAF].certificate), sub_certificates=_subs(pki, Entity.CPS_LEAF)
    )
    return iso20.CertificateInstallationRes(
        header=header(),
        response_code=iso20.ResponseCode.OK,
        evse_processing=iso20.Processing.Finished,
        cps_certificate_chain=cps,
        signed_installation_data=data,
        remaining_contract_certificate_chains=0,
    )


@dataclass(frozen=True)
class Kind:
    """One signed message kind: how to build it, who signs, which root anchors the signer, what is signed."""

    name: str
    build: Callable[[Pki], iso20.V2GMessage]
    signer: Entity
    root: Entity
    field: str  # the message field holding the signed element
    element: str  # its element name

    def key(self, pki: Pki) -> PrivateKey:
        """The signer's private key."""
        return pki[self.signer].key

    def signer_chain(self, pki: Pki) -> list[x509.Certificate]:
        """The signer's leaf and Sub-CAs."""
        return pki.chain(self.signer)

    def with_element(self, msg: iso20.V2GMessage, element: object) -> iso20.V2GMessage:
        """``msg`` with its signed element replaced."""
        return dataclasses.replace(msg, **{self.field: element})  # type: ignore[arg-type]


KINDS = (
    Kind(
        name="AuthorizationReq",
        build=authorization_req,
        signer=Entity.CONTRACT_LEAF,
        root=Entity.MO_ROOT,
        field="pnc_a_req_authorization_mode",
        element="PnC_AReqAuthorizationMode",
    ),
    Kind(
        name="MeteringConfirmationReq",
        build=metering_confirmation_req,
        signer=Entity.CONTRACT_LEAF,
        root=Entity.MO_ROOT,
        field="signed_metering_data",
        element="SignedMeteringData",
    ),
    Kind(
        name="CertificateInstallationReq",
        build=certificate_installation_req,
        signer=Entity.OEM_PROV_LEAF,
        root=Entity.OEM_ROOT,
        field="oem_provisioning_certificate_chain",
        element="OEMProvisioningCertificateChain",
    ),
    Kind(
        name="CertificateInstallationRes",
        build=certificate_installation_res,
        signer=Entity.CPS_LEAF,
        root=Entity.V2G_ROOT,
        field="signed_installation_data",
        element="SignedInstallationData",
    ),
)
