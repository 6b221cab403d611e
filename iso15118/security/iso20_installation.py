"""The EV side of ISO 15118-20 CertificateInstallation: build the request, install the answer. Pure.

:func:`installation_request` builds the CertificateInstallationReq and signs it with the OEM provisioning key
[V2G20-2342] (the signature covers the provisioning chain [V2G20-1548], see
:class:`~iso15118.security.signed_messages.InstallationTarget`). :func:`install_contract` checks a
CertificateInstallationRes and returns the new :class:`~iso15118.security.credentials.ContractCredentials`:

1. the response code is OK (or OK_CertificateExpiresSoon) and the processing Finished;
2. the CPS chain is valid up to a V2G root the EV trusts, as a CPS certificate, and its leaf's signature covers
   SignedInstallationData;
3. the contract chain is valid up to an MO (or V2G) root, as a contract certificate;
4. the key was encrypted for SECP521 and decrypts with the provisioning key, the PCID and the contract
   certificate's SKI as AAD, and belongs to the contract certificate (:mod:`iso15118.security.iso20_keywrap`).

Each failure is an :class:`~iso15118.errors.InstallationError` that says which step failed and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from iso15118.errors import CertificateError, InstallationError, SignatureError
from iso15118.messages import iso20 as m
from iso15118.security.certs import STRICT, ChainPolicy, Purpose, validate_chain
from iso15118.security.credentials import ContractCredentials
from iso15118.security.identity import certificate_identity
from iso15118.security.iso20_cps import chain_of, der, root_certificate_ids
from iso15118.security.iso20_keywrap import WrappedKey, additional_data, unwrap_contract_key
from iso15118.security.issuing import PrivateKey
from iso15118.security.signed_messages import sign_message, verify_message_chain

__all__ = ["install_contract", "installation_request"]


def installation_request(
    header: m.MessageHeader,
    provisioning: Sequence[x509.Certificate],
    key: PrivateKey,
    trusted_roots: Sequence[x509.Certificate],
    *,
    maximum_chains: int = 1,
    ident: str = "id1",
) -> m.CertificateInstallationReq:
    """A signed CertificateInstallationReq: the provisioning chain (leaf first) and the V2G roots the EV trusts."""
    leaf, subs = provisioning[0], provisioning[1:]
    chain = m.SignedCertificateChain(
        id=ident,
        certificate=der(leaf),
        sub_certificates=m.SubCertificates(certificate=tuple(der(c) for c in subs)) if subs else None,
    )
    req = m.CertificateInstallationReq(
        header=header,
        oem_provisioning_certificate_chain=chain,
        list_of_root_certificate_i_ds=root_certificate_ids(trusted_roots),
        maximum_contract_certificate_chains=maximum_chains,
    )
    return sign_message(req, key)


def install_contract(
    res: m.CertificateInstallationRes,
    provisioning_key: PrivateKey,
    provisioning: x509.Certificate,
    *,
    v2g_roots: Sequence[x509.Certificate],
    contract_roots: Sequence[x509.Certificate],
    now: dt.datetime,
    policy: ChainPolicy = STRICT,
) -> ContractCredentials:
    """Check a CertificateInstallationRes and return the installed contract (see the module docstring)."""
    code = str(res.response_code)
    if code not in ("OK", "OK_CertificateExpiresSoon"):
        raise InstallationError(f"CertificateInstallationRes answers {code}", response_code=code)
    if str(res.evse_processing) != "Finished":
        raise InstallationError("CertificateInstallationRes is still Ongoing: nothing to install yet")
    try:
        verify_message_chain(res, v2g_roots, now=now, policy=policy)
    except CertificateError as exc:
        raise InstallationError(f"the CPS certificate chain is not trusted: {exc}") from None
    except SignatureError as exc:
        raise InstallationError(f"the CPS signature over SignedInstallationData does not verify: {exc}") from None
    data = res.signed_installation_data
    try:
        chain = chain_of(data.contract_certificate_chain.certificate, data.contract_certificate_chain.sub_certificates)
        validated = validate_chain(
            chain[0], chain[1:], contract_roots, now=now, purpose=Purpose.CONTRACT, policy=policy
        )
    except CertificateError as exc:
        raise InstallationError(f"the new contract certificate chain is not valid: {exc}") from None
    if str(data.ecdh_curve) != "SECP521" or data.secp521_encrypted_private_key is None:
        raise InstallationError(f"the contract key was encrypted for {data.ecdh_curve}; this EV decrypts SECP521 only")
    public = validated.leaf.public_key()
    if not isinstance(provisioning_key, ec.EllipticCurvePrivateKey) or not isinstance(
        public, ec.EllipticCurvePublicKey
    ):
        raise InstallationError("the contract key exchange needs secp521r1 keys on both sides")
    pcid = certificate_identity(provisioning).common_name or ""
    wrapped = WrappedKey(dh_public_key=data.dh_public_key, encrypted_key=data.secp521_encrypted_private_key)
    key = unwrap_contract_key(wrapped, provisioning_key, additional_data(pcid, validated.leaf), expected_public=public)
    return ContractCredentials(chain=tuple(der(c) for c in chain), key=key)
