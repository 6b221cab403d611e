"""A local contract-certificate pool: the CPS side of ISO 15118-20 CertificateInstallation.

In the field the SECC hands the EV's CertificateInstallationReq to a backend (the CSMS, which asks the eMSP and
the CPS) and relays the signed answer. :class:`Iso20ContractPool` plays that backend for a -20 test PKI
(``v2g pki init``): it checks the request, issues a contract certificate from the MO Sub-CA 2 for the eMAID,
encrypts its private key for the EV (:mod:`iso15118.security.iso20_keywrap`) and signs SignedInstallationData
with the CPS leaf. It is the -20 sibling of the -2 :class:`~iso15118.security.iso2_cps.ContractCertificatePool`;
both sit behind the generation-neutral provider (:mod:`iso15118.security.provider`).

What it refuses, with :class:`~iso15118.errors.InstallationError` naming the reason and carrying the -20 response
code the SECC answers with (``response_code``):

* a provisioning certificate chain not valid up to the OEM roots it knows, or not a provisioning certificate:
  ``WARNING_CertificateValidationError`` (the code ISO 15118-20 gives the SECC when the OEM provisioning
  certificate cannot be validated);
* a request whose signature [V2G20-1548] by the provisioning key [V2G20-2342] does not verify:
  ``FAILED_SignatureError``;
* a ListOfRootCertificateIDs without the V2G root that anchors the CPS chain (the EV could not verify the
  answer), or a provisioning key it cannot encrypt for (Ed448: no X448 here): ``WARNING_NoCertificateAvailable``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from iso15118.errors import CertificateError, InstallationError, SignatureError
from iso15118.messages import iso20 as m
from iso15118.messages.xmldsig import X509IssuerSerial
from iso15118.security.certs import ChainValidationError
from iso15118.security.identity import certificate_identity
from iso15118.security.iso20_keywrap import additional_data, wrap_contract_key
from iso15118.security.issuing import HashName, Issued, KeyAlgorithm, issue_certificate
from iso15118.security.pki import Pki
from iso15118.security.profiles import Entity, Identities, normalize_emaid, spec_for
from iso15118.security.signed_messages import sign_message, verify_message_chain

__all__ = ["Iso20ContractPool", "chain_of", "der", "root_certificate_ids"]

_R = m.ResponseCode
_SIGNED_ID = "id1"  # the Id of SignedInstallationData, which the CPS signature references


def der(cert: x509.Certificate) -> bytes:
    """The certificate's DER encoding."""
    return cert.public_bytes(serialization.Encoding.DER)


def root_certificate_ids(roots: Sequence[x509.Certificate]) -> m.ListOfRootCertificateIDs:
    """ListOfRootCertificateIDs naming ``roots`` by issuer and serial number (the V2G roots the EV trusts)."""
    return m.ListOfRootCertificateIDs(
        root_certificate_id=tuple(
            X509IssuerSerial(x509_issuer_name=r.issuer.rfc4514_string(), x509_serial_number=r.serial_number)
            for r in roots
        )
    )


def chain_of(certificate: bytes, subs: m.SubCertificates | None) -> list[x509.Certificate]:
    """A chain carried in a message (leaf DER and SubCertificates) as parsed certificates, leaf first."""
    carried = (certificate, *(subs.certificate if subs is not None else ()))
    try:
        return [x509.load_der_x509_certificate(item) for item in carried]
    except ValueError as exc:
        raise CertificateError(f"a certificate of the chain is no DER certificate: {exc}") from None


def _refuse(code: m.ResponseCode, reason: str) -> InstallationError:
    return InstallationError(f"{code.value}: {reason}", response_code=code.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Iso20ContractPool:
    """The CPS and MO of a -20 test PKI: issues contract certificates and signs installation responses."""

    mo_issuer: Issued
    mo_sub_cas: tuple[x509.Certificate, ...]
    cps: Issued
    cps_sub_cas: tuple[x509.Certificate, ...]
    oem_roots: tuple[x509.Certificate, ...]
    v2g_root: x509.Certificate
    emaid: str
    algorithm: KeyAlgorithm = KeyAlgorithm.SECP521R1
    identities: Identities = dataclasses.field(default_factory=Identities)

    @classmethod
    def from_pki(cls, pki: Pki, *, emaid: str | None = None) -> Iso20ContractPool:
        """The pool of a -20 :class:`~iso15118.security.pki.Pki` (built in memory or read from disk)."""
        if pki.algorithm not in (KeyAlgorithm.SECP521R1, KeyAlgorithm.ED448):
            raise InstallationError(f"the -20 contract pool needs a -20 PKI (secp521r1 or ed448), not {pki.algorithm}")
        return cls(
            mo_issuer=pki[Entity.MO_SUB_CA2],
            mo_sub_cas=tuple(pki.chain(Entity.MO_SUB_CA2)),
            cps=pki[Entity.CPS_LEAF],
            cps_sub_cas=tuple(pki.chain(Entity.CPS_LEAF)[1:]),
            oem_roots=(pki[Entity.OEM_ROOT].certificate,),
            v2g_root=pki[Entity.V2G_ROOT].certificate,
            emaid=normalize_emaid(emaid or pki.identities.emaid),
            algorithm=pki.algorithm,
            identities=pki.identities,
        )

    def issue_contract(self, *, now: dt.datetime, emaid: str | None = None) -> Issued:
        """A fresh contract certificate (CN = eMAID, -20 profile) and key, issued by the MO Sub-CA 2."""
        ids = dataclasses.replace(self.identities, emaid=emaid or self.emaid)
        spec = spec_for(
            Entity.CONTRACT_LEAF,
            algorithm=self.algorithm,
            now=now.replace(microsecond=0),
            identities=ids,
            issuer_not_after=self.mo_issuer.certificate.not_valid_after_utc,
            hash_name=HashName.SHA512,
        )
        return issue_certificate(spec, algorithm=self.algorithm, issuer=self.mo_issuer)

    def _provisioning(self, req: m.CertificateInstallationReq, now: dt.datetime) -> x509.Certificate:
        try:
            validated = verify_message_chain(req, self.oem_roots, now=now)
        except ChainValidationError as exc:
            raise _refuse(_R.WARNING_CertificateValidationError, f"the OEM provisioning chain: {exc}") from None
        except CertificateError as exc:
            raise _refuse(_R.WARNING_CertificateValidationError, f"the OEM provisioning certificate: {exc}") from None
        except SignatureError as exc:
            raise _refuse(_R.FAILED_SignatureError, f"the request's signature: {exc}") from None
        return validated.leaf

    def answer(self, req: m.CertificateInstallationReq, *, now: dt.datetime) -> m.CertificateInstallationRes:
        """The signed CertificateInstallationRes for ``req``; InstallationError with the reason and its code."""
        leaf = self._provisioning(req, now)
        listed = {r.x509_issuer_name for r in req.list_of_root_certificate_i_ds.root_certificate_id}
        if self.v2g_root.subject.rfc4514_string() not in listed:
            raise _refuse(
                _R.WARNING_NoCertificateAvailable,
                "ListOfRootCertificateIDs does not name the V2G root of the CPS chain; the EV could not verify it",
            )
        recipient = leaf.public_key()
        if not isinstance(recipient, ec.EllipticCurvePublicKey):
            raise _refuse(
                _R.WARNING_NoCertificateAvailable, "X448 key encryption (Ed448 provisioning keys) is not supported"
            )
        pcid = certificate_identity(leaf).common_name or ""
        contract = self.issue_contract(now=now)
        if not isinstance(contract.key, ec.EllipticCurvePrivateKey):
            raise _refuse(_R.WARNING_NoCertificateAvailable, "only secp521r1 contract keys can be encrypted here")
        wrapped = wrap_contract_key(contract.key, recipient, additional_data(pcid, contract.certificate))
        data = m.SignedInstallationData(
            id=_SIGNED_ID,
            contract_certificate_chain=m.ContractCertificateChain(
                certificate=der(contract.certificate),
                sub_certificates=m.SubCertificates(certificate=tuple(der(c) for c in self.mo_sub_cas)),
            ),
            ecdh_curve=m.EcdhCurve.SECP521,
            dh_public_key=wrapped.dh_public_key,
            secp521_encrypted_private_key=wrapped.encrypted_key,
        )
        res = m.CertificateInstallationRes(
            header=dataclasses.replace(req.header, signature=None),
            response_code=_R.OK,
            evse_processing=m.Processing.Finished,
            cps_certificate_chain=m.CertificateChain(
                certificate=der(self.cps.certificate),
                sub_certificates=m.SubCertificates(certificate=tuple(der(c) for c in self.cps_sub_cas)),
            ),
            signed_installation_data=data,
            remaining_contract_certificate_chains=0,
        )
        return sign_message(res, self.cps.key)
