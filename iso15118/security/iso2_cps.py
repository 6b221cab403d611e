"""A local contract certificate pool: the CPS side of ISO 15118-2 CertificateInstallation / CertificateUpdate.

In the field the SECC forwards CertificateInstallationReq / CertificateUpdateReq to a backend (the CPS and
the MO) and relays the signed answer. :class:`ContractCertificatePool` plays that backend locally, for a
charger without one and for tests: it checks the EV's request, issues a contract certificate from the MO
Sub-CA 2 for the eMAID, encrypts its private key for the EV (:mod:`iso15118.security.iso2_keywrap`) and signs
the response with the CPS leaf (:mod:`iso15118.security.iso2_signatures`). Pure: no I/O; keys and serial
numbers come from the cryptography library's random source.

What it refuses, with :class:`~iso15118.errors.InstallationError` naming the reason and carrying the -2
response code the SECC should answer (``response_code``):

* installation: an OEM provisioning certificate that is not valid up to the OEM roots it knows
  (FAILED_CertChainError), a request whose signature does not verify with it (FAILED_SignatureError), a
  ListOfRootCertificateIDs without the root of the CPS chain (FAILED_NoCertificateAvailable);
* update: an old contract chain not valid up to the MO roots (FAILED_CertChainError, expired:
  FAILED_CertificateExpired), a bad signature (FAILED_SignatureError), an eMAID that is not the old
  certificate's (FAILED_ContractCanceled).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from iso15118.errors import CertificateError, InstallationError, SignatureError
from iso15118.messages.generated.iso2 import (
    EMAID,
    Body,
    CertificateChain,
    CertificateInstallationReq,
    CertificateInstallationRes,
    CertificateUpdateReq,
    CertificateUpdateRes,
    ContractSignatureEncryptedPrivateKey,
    DiffieHellmanPublickey,
    ListOfRootCertificateIDs,
    ResponseCode,
    SubCertificates,
    V2G_Message,
)
from iso15118.messages.xmldsig import X509IssuerSerial
from iso15118.security.certs import ChainValidationError, Defect, load_certificates
from iso15118.security.iso2_keywrap import wrap_contract_key
from iso15118.security.iso2_profiles import ISO2_PROFILES
from iso15118.security.iso2_signatures import body_element, sign_message, verify_message_chain
from iso15118.security.issuing import HashName, Issued, KeyAlgorithm, issue_certificate
from iso15118.security.pki import Pki
from iso15118.security.profiles import Entity, Identities, normalize_emaid, spec_for

__all__ = ["ContractCertificatePool", "Iso2Cps", "certificates_of", "common_name", "root_certificate_ids"]

# Id attributes of the four signed elements of the response (any unique values would do).
_IDS = ("id1", "id2", "id3", "id4")


def root_certificate_ids(roots: Sequence[x509.Certificate]) -> ListOfRootCertificateIDs:
    """ListOfRootCertificateIDs naming ``roots`` by issuer and serial number (what the EV trusts)."""
    return ListOfRootCertificateIDs(
        root_certificate_id=tuple(
            X509IssuerSerial(x509_issuer_name=r.issuer.rfc4514_string(), x509_serial_number=r.serial_number)
            for r in roots
        )
    )


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _chain(leaf: x509.Certificate, subs: Sequence[x509.Certificate], ident: str | None = None) -> CertificateChain:
    return CertificateChain(
        id=ident,
        certificate=_der(leaf),
        sub_certificates=SubCertificates(certificate=tuple(_der(c) for c in subs)) if subs else None,
    )


def _chain_code(exc: ChainValidationError) -> ResponseCode:
    if exc.defect is Defect.EXPIRED:
        return ResponseCode.FAILED_CertificateExpired
    return ResponseCode.FAILED_CertChainError


class Iso2Cps(Protocol):
    """A -2 contract certificate service: the EV's whole signed CertificateInstallationReq / CertificateUpdateReq in,
    the CPS's whole signed response out (both ``V2G_Message``), or :class:`~iso15118.errors.InstallationError`
    with the -2 ``response_code`` of the refusal. :class:`ContractCertificatePool` is one; the SECC reaches it
    through :class:`~iso15118.security.provider.LocalCps`."""

    def answer(self, req: V2G_Message, *, now: dt.datetime) -> V2G_Message:
        """The signed response to ``req``; InstallationError (with ``response_code``) when there is none."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractCertificatePool:
    """The CPS and MO of a -2 test PKI: issues contract certificates and signs installation responses.

    ``mo_issuer`` is the MO Sub-CA 2 with its key, ``mo_sub_cas`` the contract's Sub-CAs (Sub-CA 2, Sub-CA 1),
    ``cps`` the CPS leaf with its key and ``cps_sub_cas`` its Sub-CAs; ``oem_roots``/``oem_sub_cas`` validate
    OEM provisioning certificates, ``mo_roots`` old contract chains. ``emaid`` is the contract to install.
    """

    mo_issuer: Issued
    mo_sub_cas: tuple[x509.Certificate, ...]
    cps: Issued
    cps_sub_cas: tuple[x509.Certificate, ...]
    oem_roots: tuple[x509.Certificate, ...]
    oem_sub_cas: tuple[x509.Certificate, ...]
    mo_roots: tuple[x509.Certificate, ...]
    emaid: str
    identities: Identities = dataclasses.field(default_factory=Identities)

    @classmethod
    def from_pki(cls, pki: Pki, *, emaid: str | None = None) -> ContractCertificatePool:
        """The pool of a -2 :class:`~iso15118.security.pki.Pki` (``build_pki(kind="iso2")`` or read from disk)."""
        if pki.algorithm is not KeyAlgorithm.SECP256R1:
            raise InstallationError(f"the contract pool needs the -2 PKI (secp256r1), not a {pki.algorithm} one")
        return cls(
            mo_issuer=pki[Entity.MO_SUB_CA2],
            mo_sub_cas=tuple(pki.chain(Entity.MO_SUB_CA2)),
            cps=pki[Entity.CPS_LEAF],
            cps_sub_cas=tuple(pki.chain(Entity.CPS_LEAF)[1:]),
            oem_roots=(pki[Entity.OEM_ROOT].certificate,),
            oem_sub_cas=tuple(pki.chain(Entity.OEM_SUB_CA2)),
            mo_roots=(pki[Entity.MO_ROOT].certificate, pki[Entity.V2G_ROOT].certificate),
            emaid=normalize_emaid(emaid or pki.identities.emaid),
            identities=pki.identities,
        )

    def issue_contract(self, *, now: dt.datetime, emaid: str | None = None) -> Issued:
        """A fresh contract certificate (CN = eMAID, -2 profile) and key, issued by the MO Sub-CA 2."""
        ids = dataclasses.replace(self.identities, emaid=emaid or self.emaid)
        spec = spec_for(
            Entity.CONTRACT_LEAF,
            algorithm=KeyAlgorithm.SECP256R1,
            now=now.replace(microsecond=0),
            identities=ids,
            issuer_not_after=self.mo_issuer.certificate.not_valid_after_utc,
            profiles=ISO2_PROFILES,
            hash_name=HashName.SHA256,
        )
        return issue_certificate(spec, algorithm=KeyAlgorithm.SECP256R1, issuer=self.mo_issuer)

    def _cps_root_listed(self, listed: ListOfRootCertificateIDs) -> bool:
        # A root is named by its issuer (= its subject) and serial; the pool knows the root's name only.
        top = self.cps_sub_cas[-1] if self.cps_sub_cas else self.cps.certificate
        return any(r.x509_issuer_name == top.issuer.rfc4514_string() for r in listed.root_certificate_id)

    def _response(
        self, req: V2G_Message, contract: Issued, recipient: ec.EllipticCurvePublicKey, *, update: bool
    ) -> V2G_Message:
        if not isinstance(contract.key, ec.EllipticCurvePrivateKey):
            raise InstallationError("the contract key must be a secp256r1 key")
        wrapped = wrap_contract_key(contract.key, recipient)
        emaid = common_name(contract.certificate)
        fields = {
            "response_code": ResponseCode.OK,
            "sa_provisioning_certificate_chain": _chain(self.cps.certificate, self.cps_sub_cas),
            "contract_signature_cert_chain": _chain(contract.certificate, self.mo_sub_cas, _IDS[0]),
            "contract_signature_encrypted_private_key": ContractSignatureEncryptedPrivateKey(
                id=_IDS[1], value=wrapped.encrypted_key
            ),
            "d_hpublickey": DiffieHellmanPublickey(id=_IDS[2], value=wrapped.dh_public_key),
            "emaid": EMAID(id=_IDS[3], value=emaid),
        }
        body = (
            Body(certificate_update_res=CertificateUpdateRes(**fields))  # type: ignore[arg-type]
            if update
            else Body(certificate_installation_res=CertificateInstallationRes(**fields))  # type: ignore[arg-type]
        )
        header = dataclasses.replace(req.header, signature=None, notification=None)
        return sign_message(V2G_Message(header=header, body=body), self.cps.key)

    def answer(self, req: V2G_Message, *, now: dt.datetime) -> V2G_Message:
        """The signed CertificateInstallationRes / CertificateUpdateRes for ``req``.

        Raises :class:`~iso15118.errors.InstallationError` with the reason and its ``response_code``.
        """
        name, body = body_element(req)
        if isinstance(body, CertificateInstallationReq):
            leaf = self._checked(req, now, self.oem_roots, self.oem_sub_cas, "OEM provisioning")
            if not self._cps_root_listed(body.list_of_root_certificate_i_ds):
                raise _refuse(
                    ResponseCode.FAILED_NoCertificateAvailable,
                    "ListOfRootCertificateIDs does not name the root of the CPS chain; the EV could not verify it",
                )
            return self._response(req, self.issue_contract(now=now), _ec(leaf), update=False)
        if isinstance(body, CertificateUpdateReq):
            leaf = self._checked(req, now, self.mo_roots, (), "old contract")
            old = common_name(leaf)
            if body.emaid != old:
                raise _refuse(
                    ResponseCode.FAILED_ContractCanceled,
                    f"eMAID {body.emaid!r} is not the old contract certificate's ({old!r})",
                )
            return self._response(req, self.issue_contract(now=now, emaid=old), _ec(leaf), update=True)
        raise InstallationError(f"the contract pool answers CertificateInstallationReq/UpdateReq, not {name}")

    def _checked(
        self,
        req: V2G_Message,
        now: dt.datetime,
        roots: Sequence[x509.Certificate],
        intermediates: Sequence[x509.Certificate],
        what: str,
    ) -> x509.Certificate:
        try:
            validated, _ = verify_message_chain(req, roots, now=now, intermediates=intermediates)
        except ChainValidationError as exc:
            raise _refuse(_chain_code(exc), f"the {what} certificate chain: {exc}") from None
        except CertificateError as exc:
            raise _refuse(ResponseCode.FAILED_CertChainError, f"the {what} certificate: {exc}") from None
        except SignatureError as exc:
            raise _refuse(ResponseCode.FAILED_SignatureError, f"the request's signature: {exc}") from None
        return validated.leaf


def _ec(cert: x509.Certificate) -> ec.EllipticCurvePublicKey:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise InstallationError(f"{cert.subject.rfc4514_string()} has no EC key to agree a key with")
    return key


def _refuse(code: ResponseCode, reason: str) -> InstallationError:
    return InstallationError(f"{code.value}: {reason}", response_code=code.value)


def common_name(cert: x509.Certificate) -> str:
    """The certificate's CN ("" when it has none)."""
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def certificates_of(chain: CertificateChain) -> list[x509.Certificate]:
    """A -2 CertificateChain as parsed certificates, leaf first."""
    subs = chain.sub_certificates.certificate if chain.sub_certificates is not None else ()
    return [load_certificates(der, source="certificate chain")[0] for der in (chain.certificate, *subs)]
