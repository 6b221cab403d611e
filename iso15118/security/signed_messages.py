"""Which element each signed ISO 15118-20 message signs, and signing/verifying whole messages. Pure.

==============================  ==================================  ====================  ===============
message                         signed element (``Reference URI``)  signer                chain purpose
==============================  ==================================  ====================  ===============
AuthorizationReq (PnC)          ``PnC_AReqAuthorizationMode``       contract key          CONTRACT
MeteringConfirmationReq         ``SignedMeteringData``              contract key          CONTRACT
CertificateInstallationReq      see :class:`InstallationTarget`     OEM provisioning key  OEM_PROVISIONING
CertificateInstallationRes      ``SignedInstallationData``          CPS leaf key          CPS
==============================  ==================================  ====================  ===============

Each element is digested as a fragment of the CommonMessages schema set. The signer's chain travels in the
message body (``ContractCertificateChain``, ``OEMProvisioningCertificateChain``, ``CPSCertificateChain``),
except for MeteringConfirmationReq, whose contract chain the SECC knows from the AuthorizationReq.

:func:`verify_message_chain` is the receiver's whole check: the signer's chain against the trusted roots
(:func:`~iso15118.security.certs.validate_chain`) first, then the signature with the validated leaf.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import TypeVar

from cryptography import x509

from iso15118.errors import SignatureError
from iso15118.messages.iso20 import (
    AuthorizationReq,
    CertificateInstallationReq,
    CertificateInstallationRes,
    MeteringConfirmationReq,
    SubCertificates,
    V2GMessage,
)
from iso15118.messages.xmldsig import Signature
from iso15118.security.certs import (
    STRICT,
    ChainPolicy,
    Purpose,
    ValidatedChain,
    load_certificates,
    validate_chain,
)
from iso15118.security.issuing import PrivateKey, PublicKey
from iso15118.security.signatures import (
    ISO20_PROFILE,
    SignatureDefect,
    SignatureProfile,
    SignatureSuite,
    SignatureVerificationError,
    SignedElement,
    sign,
    verify,
)

__all__ = [
    "InstallationTarget",
    "attach_signature",
    "sign_message",
    "signed_elements",
    "signer_certificates",
    "signer_purpose",
    "verify_message",
    "verify_message_chain",
]

_M = TypeVar("_M", bound=V2GMessage)


class InstallationTarget(StrEnum):
    """What a CertificateInstallationReq signature covers; the sources disagree (fact sheet 4.3, UNCONFIRMED).

    ``OEM_PROVISIONING_CHAIN`` (default): the ``OEMProvisioningCertificateChain`` element, the only element of
    the request with an Id (the XSD, Josev's codec, OCC). ``WHOLE_REQUEST``: the whole
    ``CertificateInstallationReq`` element without the header's Signature (EVerest 2026), referenced by the
    chain's Id because the request itself has none.
    """

    OEM_PROVISIONING_CHAIN = "oem-provisioning-chain"
    WHOLE_REQUEST = "whole-request"


def signed_elements(
    msg: V2GMessage, *, installation_target: InstallationTarget = InstallationTarget.OEM_PROVISIONING_CHAIN
) -> tuple[SignedElement, ...]:
    """The elements the header signature of ``msg`` covers; SignatureError if the message is not signed."""
    if isinstance(msg, AuthorizationReq):
        if msg.pnc_a_req_authorization_mode is None:
            raise SignatureError("an AuthorizationReq without PnC_AReqAuthorizationMode (EIM) is not signed")
        # [V2G20-1063]: the contract key signs PnC_AReqAuthorizationMode, not the whole request
        return (SignedElement(element=msg.pnc_a_req_authorization_mode, root="PnC_AReqAuthorizationMode"),)
    if isinstance(msg, MeteringConfirmationReq):
        return (SignedElement(element=msg.signed_metering_data, root="SignedMeteringData"),)
    if isinstance(msg, CertificateInstallationReq):
        chain = msg.oem_provisioning_certificate_chain
        if InstallationTarget(installation_target) is InstallationTarget.WHOLE_REQUEST:
            unsigned = dataclasses.replace(msg, header=dataclasses.replace(msg.header, signature=None))
            return (SignedElement(element=unsigned, root="CertificateInstallationReq", id=chain.id),)
        return (SignedElement(element=chain, root="OEMProvisioningCertificateChain"),)  # [V2G20-1548]
    if isinstance(msg, CertificateInstallationRes):
        return (SignedElement(element=msg.signed_installation_data, root="SignedInstallationData"),)
    raise SignatureError(f"{type(msg).__name__} carries no ISO 15118-20 signature")


def signer_purpose(msg: V2GMessage) -> Purpose:
    """What the signer's end-entity certificate must be good for."""
    if isinstance(msg, AuthorizationReq | MeteringConfirmationReq):
        return Purpose.CONTRACT
    if isinstance(msg, CertificateInstallationReq):
        return Purpose.OEM_PROVISIONING  # [V2G20-2342]
    if isinstance(msg, CertificateInstallationRes):
        return Purpose.CPS
    raise SignatureError(f"{type(msg).__name__} carries no ISO 15118-20 signature")


def _der_chain(certificate: bytes, subs: SubCertificates | None) -> tuple[bytes, tuple[bytes, ...]]:
    return certificate, (subs.certificate if subs is not None else ())


def signer_certificates(msg: V2GMessage) -> tuple[bytes, tuple[bytes, ...]] | None:
    """The signer's leaf and Sub-CAs (DER) carried in the body; None for MeteringConfirmationReq."""
    if isinstance(msg, AuthorizationReq) and msg.pnc_a_req_authorization_mode is not None:
        chain = msg.pnc_a_req_authorization_mode.contract_certificate_chain
        return _der_chain(chain.certificate, chain.sub_certificates)
    if isinstance(msg, CertificateInstallationReq):
        oem = msg.oem_provisioning_certificate_chain
        return _der_chain(oem.certificate, oem.sub_certificates)
    if isinstance(msg, CertificateInstallationRes):
        cps = msg.cps_certificate_chain
        return _der_chain(cps.certificate, cps.sub_certificates)
    return None


def attach_signature(msg: _M, signature: Signature | None) -> _M:
    """A copy of ``msg`` whose header carries ``signature`` (None removes it)."""
    return dataclasses.replace(msg, header=dataclasses.replace(msg.header, signature=signature))


def sign_message(
    msg: _M,
    key: PrivateKey,
    *,
    profile: SignatureProfile = ISO20_PROFILE,
    installation_target: InstallationTarget = InstallationTarget.OEM_PROVISIONING_CHAIN,
) -> _M:
    """Sign the elements :func:`signed_elements` names and return ``msg`` with the signature in its header."""
    signature = sign(signed_elements(msg, installation_target=installation_target), key, profile=profile)
    return attach_signature(msg, signature)  # detached, in the header [V2G20-117]


def verify_message(
    msg: V2GMessage,
    signer: PublicKey | x509.Certificate,
    *,
    profile: SignatureProfile = ISO20_PROFILE,
    installation_target: InstallationTarget = InstallationTarget.OEM_PROVISIONING_CHAIN,
) -> SignatureSuite:
    """Verify the header signature of ``msg`` with the signer's key or certificate (no chain check).

    Raises :class:`~iso15118.security.signatures.SignatureVerificationError`; ``MISSING_SIGNATURE`` when
    the header carries none.
    """
    signature = msg.header.signature
    if signature is None:
        raise SignatureVerificationError(
            SignatureDefect.MISSING_SIGNATURE, f"the {type(msg).__name__} header carries no Signature"
        )
    elements = signed_elements(msg, installation_target=installation_target)
    return verify(signature, elements, signer, profile=profile)


def verify_message_chain(
    msg: V2GMessage,
    roots: Iterable[x509.Certificate],
    *,
    now: dt.datetime,
    chain: Sequence[x509.Certificate] | None = None,
    profile: SignatureProfile = ISO20_PROFILE,
    policy: ChainPolicy = STRICT,
    installation_target: InstallationTarget = InstallationTarget.OEM_PROVISIONING_CHAIN,
) -> ValidatedChain:
    """Validate the signer's chain up to one of ``roots``, then verify the signature with its leaf.

    The chain comes from the message body; ``chain`` (leaf first, then Sub-CAs) replaces it and is required
    for MeteringConfirmationReq. Raises :class:`~iso15118.security.certs.ChainValidationError` for the chain
    (checked first), then :class:`~iso15118.security.signatures.SignatureVerificationError`. ``policy``
    :data:`~iso15118.security.certs.TOLERANT` goes with :data:`~iso15118.security.signatures.INTEROP_PROFILE`.
    """
    if chain is not None:
        if not chain:
            raise SignatureError("the signer's chain is empty")
        leaf, subs = chain[0], list(chain[1:])
    else:
        carried = signer_certificates(msg)
        if carried is None:
            raise SignatureError(f"a {type(msg).__name__} carries no certificate; pass the signer's chain")
        leaf = load_certificates(carried[0], source="the signer's certificate")[0]
        subs = [
            load_certificates(der, source=f"Sub-CA certificate {index + 1}")[0] for index, der in enumerate(carried[1])
        ]
    validated = validate_chain(leaf, subs, roots, now=now, purpose=signer_purpose(msg), policy=policy)
    verify_message(msg, validated.leaf, profile=profile, installation_target=installation_target)
    return validated
