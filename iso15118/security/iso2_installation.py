"""The EV side of ISO 15118-2 CertificateInstallation / CertificateUpdate: build the request, install the answer.

:func:`installation_request` and :func:`update_request` build and sign the EV's request (with the OEM
provisioning key, resp. the old contract key); :func:`install_contract` checks a CertificateInstallationRes or
CertificateUpdateRes and returns the new :class:`~iso15118.security.credentials.ContractCredentials`:

1. the response code is OK;
2. the SA provisioning (CPS) chain is valid up to a V2G root the EV trusts, as a CPS certificate, and its
   leaf's signature covers ContractSignatureCertChain, ContractSignatureEncryptedPrivateKey, DHpublickey and
   eMAID;
3. the contract chain is valid up to an MO (or V2G) root, as a contract certificate;
4. the eMAID element names the contract certificate's CN (and, for an update, the old contract's eMAID);
5. the key decrypts with the EV's ECDH key (:mod:`iso15118.security.iso2_keywrap`) and belongs to the
   contract certificate.

Each failure is an :class:`~iso15118.errors.InstallationError` that says which step failed and why. Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from iso15118.errors import CertificateError, InstallationError, SignatureError
from iso15118.messages.generated.iso2 import (
    Body,
    CertificateChain,
    CertificateInstallationReq,
    CertificateInstallationRes,
    CertificateUpdateReq,
    CertificateUpdateRes,
    MessageHeader,
    ResponseCode,
    SubCertificates,
    V2G_Message,
)
from iso15118.security.certs import ISO2, Purpose, validate_chain
from iso15118.security.credentials import ContractCredentials
from iso15118.security.iso2_cps import certificates_of, common_name, root_certificate_ids
from iso15118.security.iso2_keywrap import WrappedKey, unwrap_contract_key
from iso15118.security.iso2_signatures import (
    ISO2_SIGNATURE_PROFILE,
    Iso2SignatureMode,
    body_element,
    sign_message,
    verify_message_chain,
)
from iso15118.security.issuing import PrivateKey

__all__ = ["install_contract", "installation_request", "update_request"]


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def installation_request(
    session_id: bytes,
    oem_provisioning: x509.Certificate,
    key: PrivateKey,
    trusted_roots: Sequence[x509.Certificate],
    *,
    ident: str = "ID1",
) -> V2G_Message:
    """A signed CertificateInstallationReq: the OEM provisioning certificate and the roots the EV trusts."""
    body = CertificateInstallationReq(
        id=ident,
        oem_provisioning_cert=_der(oem_provisioning),
        list_of_root_certificate_i_ds=root_certificate_ids(trusted_roots),
    )
    msg = V2G_Message(header=MessageHeader(session_id=session_id), body=Body(certificate_installation_req=body))
    return sign_message(msg, key)


def update_request(
    session_id: bytes,
    contract: ContractCredentials,
    trusted_roots: Sequence[x509.Certificate],
    *,
    ident: str = "ID1",
) -> V2G_Message:
    """A CertificateUpdateReq signed with the old contract key: its chain, its eMAID, the roots the EV trusts."""
    leaf = x509.load_der_x509_certificate(contract.chain[0])
    subs = contract.chain[1:]
    body = CertificateUpdateReq(
        id=ident,
        contract_signature_cert_chain=CertificateChain(
            id="ID2",
            certificate=contract.chain[0],
            sub_certificates=SubCertificates(certificate=subs) if subs else None,
        ),
        emaid=common_name(leaf),
        list_of_root_certificate_i_ds=root_certificate_ids(trusted_roots),
    )
    msg = V2G_Message(header=MessageHeader(session_id=session_id), body=Body(certificate_update_req=body))
    return sign_message(msg, contract.key)


def install_contract(
    response: V2G_Message,
    ecdh_key: PrivateKey,
    *,
    v2g_roots: Sequence[x509.Certificate],
    contract_roots: Sequence[x509.Certificate],
    now: dt.datetime,
    expected_emaid: str | None = None,
    mode: Iso2SignatureMode = Iso2SignatureMode.STRICT,
) -> ContractCredentials:
    """Check a CertificateInstallationRes / CertificateUpdateRes and return the installed contract.

    ``ecdh_key`` is the OEM provisioning key (installation) or the old contract key (update);
    ``v2g_roots`` anchor the CPS chain, ``contract_roots`` the new contract chain (MO roots, V2G roots).
    ``expected_emaid`` (an update) must be the new certificate's eMAID. Raises InstallationError.
    """
    name, body = body_element(response)
    if not isinstance(body, CertificateInstallationRes | CertificateUpdateRes):
        raise InstallationError(f"expected CertificateInstallationRes or CertificateUpdateRes, got {name}")
    if body.response_code not in (ResponseCode.OK, ResponseCode.OK_CertificateExpiresSoon):
        raise InstallationError(f"{name} answers {body.response_code.value}", response_code=body.response_code)
    try:
        verify_message_chain(response, v2g_roots, now=now, mode=mode)
    except CertificateError as exc:
        raise InstallationError(f"the CPS (SA provisioning) chain is not trusted: {exc}") from None
    except SignatureError as exc:
        raise InstallationError(f"the CPS signature over the installation data does not verify: {exc}") from None
    try:
        chain = certificates_of(body.contract_signature_cert_chain)
        validated = validate_chain(chain[0], chain[1:], contract_roots, now=now, purpose=Purpose.CONTRACT, policy=ISO2)
    except CertificateError as exc:
        raise InstallationError(f"the new contract certificate chain is not valid: {exc}") from None
    cn = common_name(validated.leaf)
    if body.emaid.value != cn:
        raise InstallationError(f"eMAID {body.emaid.value!r} is not the contract certificate's CN {cn!r}")
    if expected_emaid is not None and cn != expected_emaid:
        raise InstallationError(f"the updated contract is for eMAID {cn!r}, the old one was {expected_emaid!r}")
    public = validated.leaf.public_key()
    if not isinstance(ecdh_key, ec.EllipticCurvePrivateKey) or not isinstance(public, ec.EllipticCurvePublicKey):
        raise InstallationError("the contract key exchange needs secp256r1 keys on both sides")
    wrapped = WrappedKey(
        dh_public_key=body.d_hpublickey.value, encrypted_key=body.contract_signature_encrypted_private_key.value
    )
    key = unwrap_contract_key(wrapped, ecdh_key, expected_public=public)
    return ContractCredentials(chain=tuple(_der(c) for c in chain), key=key, profile=ISO2_SIGNATURE_PROFILE)
