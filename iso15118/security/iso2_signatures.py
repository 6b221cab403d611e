"""XML signatures of ISO 15118-2: which elements each signed -2 message signs, signing and verifying. Pure.

The mechanics are the generation-neutral ones of :mod:`iso15118.security.signatures`: a detached XMLDSig
``Signature`` in the V2G_Message Header, Canonical EXI as transform and canonicalization, each Reference a
digest of its element's EXI fragment, the SignatureValue raw r||s over the EXI fragment of SignedInfo. -2
specifics:

* Suite: ECDSA on secp256r1 with SHA-256 (``xmldsig-more#ecdsa-sha256``), digests ``xmlenc#sha256``
  (:data:`ISO2_SIGNATURE_PROFILE`).
* Digests: the referenced element as a fragment of the -2 schema set (``encode_fragment(obj, "iso2")``;
  the eMAID with the element fragment grammar, :mod:`iso15118.security.iso2_fragments`).
* SignedInfo: a fragment of the xmldsig-only schema set, as ISO 15118-2 Annex J.4 is publicly quoted
  (Josev and EVerest do the same). :attr:`Iso2SignatureMode.TOLERANT` also accepts a SignedInfo coded with
  the -2 message schema set's fragment grammar, as older OpenV2G-based peers sign, and says so in
  :attr:`Iso2SignatureCheck.deviation` for the caller to log; strict mode (the default) refuses it.

======================================  ==========================================  ======================
message (Body element)                  signed elements (Reference ``#Id``)         signer (chain purpose)
======================================  ==========================================  ======================
AuthorizationReq                        the AuthorizationReq element                contract (CONTRACT)
MeteringReceiptReq                      the MeteringReceiptReq element              contract (CONTRACT)
CertificateInstallationReq              the CertificateInstallationReq element      OEM provisioning
CertificateUpdateReq                    the CertificateUpdateReq element            old contract (CONTRACT)
CertificateInstallationRes / UpdateRes  ContractSignatureCertChain,                 CPS leaf, i.e. the SA
                                        ContractSignatureEncryptedPrivateKey,       provisioning chain (CPS)
                                        DHpublickey, eMAID
======================================  ==========================================  ======================
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from cryptography import x509

from iso15118.errors import SignatureError
from iso15118.messages.generated.iso2 import (
    AuthorizationReq,
    CertificateChain,
    CertificateInstallationReq,
    CertificateInstallationRes,
    CertificateUpdateReq,
    CertificateUpdateRes,
    MeteringReceiptReq,
    V2G_Message,
)
from iso15118.messages.xmldsig import Signature
from iso15118.security.certs import ISO2, ChainPolicy, Purpose, ValidatedChain, load_certificates, validate_chain
from iso15118.security.iso2_fragments import encode_iso2_fragment, encode_iso2_signed_info
from iso15118.security.issuing import PrivateKey, PublicKey
from iso15118.security.signatures import (
    ECDSA_P256_SHA256,
    SignatureDefect,
    SignatureProfile,
    SignatureSuite,
    SignatureVerificationError,
    SignedElement,
    encode_signed_info,
    sign,
    verify,
)

__all__ = [
    "ISO2_SIGNATURE_PROFILE",
    "Iso2SignatureCheck",
    "Iso2SignatureMode",
    "SignedInfoGrammar",
    "body_element",
    "sign_message",
    "signed_elements",
    "signer_chain",
    "signer_purpose",
    "verify_message",
    "verify_message_chain",
]

#: The -2 XMLDSig profile: ECDSA P-256 / SHA-256 only.
ISO2_SIGNATURE_PROFILE: Final = SignatureProfile(name="iso15118-2", suites=(ECDSA_P256_SHA256,))


class SignedInfoGrammar(StrEnum):
    """Which EXI fragment grammar SignedInfo was coded with before signing."""

    XMLDSIG = "xmldsig"  # the xmldsig-only schema set: ISO 15118-2 Annex J.4
    ISO2 = "iso2"  # the -2 message schema set: a peer deviation, tolerated on request only


class Iso2SignatureMode(StrEnum):
    """Strict: only Annex J.4's SignedInfo. Tolerant: also the -2 message grammar's, reported as a deviation."""

    STRICT = "strict"
    TOLERANT = "tolerant"


_ENCODERS = {SignedInfoGrammar.XMLDSIG: encode_signed_info, SignedInfoGrammar.ISO2: encode_iso2_signed_info}
_TOLERATED = (
    "SignedInfo coded with the ISO 15118-2 message schema's fragment grammar instead of the xmldsig-only "
    "grammar of Annex J.4 (tolerant mode)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Iso2SignatureCheck:
    """A verified -2 signature: its suite, the SignedInfo grammar it verified with, and the deviation if any."""

    suite: SignatureSuite
    grammar: SignedInfoGrammar
    deviation: str | None = None


def body_element(msg: V2G_Message) -> tuple[str, object]:
    """The Body element of a -2 message as (element name, object); SignatureError when the Body is empty."""
    for f in dataclasses.fields(msg.body):
        value = getattr(msg.body, f.name)
        if value is not None:
            return str(f.metadata["xsd"]), value
    raise SignatureError("the V2G_Message Body carries no element")


def _element(obj: object, root: str) -> SignedElement:
    return SignedElement(element=obj, root=root, schema="iso2", encoder=encode_iso2_fragment)


def signed_elements(msg: V2G_Message) -> tuple[SignedElement, ...]:
    """The elements the signature of ``msg`` covers; SignatureError for a message -2 does not sign."""
    name, body = body_element(msg)
    if isinstance(body, AuthorizationReq | MeteringReceiptReq | CertificateInstallationReq | CertificateUpdateReq):
        return (_element(body, name),)
    if isinstance(body, CertificateInstallationRes | CertificateUpdateRes):
        return (
            _element(body.contract_signature_cert_chain, "ContractSignatureCertChain"),
            _element(body.contract_signature_encrypted_private_key, "ContractSignatureEncryptedPrivateKey"),
            _element(body.d_hpublickey, "DHpublickey"),
            _element(body.emaid, "eMAID"),
        )
    raise SignatureError(f"{name} carries no ISO 15118-2 signature")


def signer_purpose(msg: V2G_Message) -> Purpose:
    """What the signer's end-entity certificate must be good for."""
    name, body = body_element(msg)
    if isinstance(body, AuthorizationReq | MeteringReceiptReq | CertificateUpdateReq):
        return Purpose.CONTRACT
    if isinstance(body, CertificateInstallationReq):
        return Purpose.OEM_PROVISIONING
    if isinstance(body, CertificateInstallationRes | CertificateUpdateRes):
        return Purpose.CPS
    raise SignatureError(f"{name} carries no ISO 15118-2 signature")


def _chain(chain: CertificateChain) -> tuple[bytes, ...]:
    subs = chain.sub_certificates.certificate if chain.sub_certificates is not None else ()
    return (chain.certificate, *subs)


def signer_chain(msg: V2G_Message) -> tuple[bytes, ...] | None:
    """The signer's certificates (DER, leaf first) the message carries; None where it carries none.

    AuthorizationReq and MeteringReceiptReq carry none (the contract chain came in PaymentDetailsReq);
    CertificateInstallationReq only the OEM provisioning leaf, without its Sub-CAs.
    """
    _, body = body_element(msg)
    if isinstance(body, CertificateInstallationReq):
        return (body.oem_provisioning_cert,)
    if isinstance(body, CertificateUpdateReq):
        return _chain(body.contract_signature_cert_chain)
    if isinstance(body, CertificateInstallationRes | CertificateUpdateRes):
        return _chain(body.sa_provisioning_certificate_chain)
    return None


def sign_message(
    msg: V2G_Message, key: PrivateKey, *, grammar: SignedInfoGrammar = SignedInfoGrammar.XMLDSIG
) -> V2G_Message:
    """``msg`` with the Header Signature over :func:`signed_elements`, made with ``key`` (secp256r1).

    ``grammar`` other than XMLDSIG exists to reproduce a deviating peer (tests, fault injection).
    """
    signature = sign(signed_elements(msg), key, profile=ISO2_SIGNATURE_PROFILE, signed_info_encoder=_ENCODERS[grammar])
    return dataclasses.replace(msg, header=dataclasses.replace(msg.header, signature=signature))


def _verify(
    signature: Signature,
    elements: Sequence[SignedElement],
    signer: PublicKey | x509.Certificate,
    grammar: SignedInfoGrammar,
) -> SignatureSuite:
    return verify(signature, elements, signer, profile=ISO2_SIGNATURE_PROFILE, signed_info_encoder=_ENCODERS[grammar])


def verify_message(
    msg: V2G_Message,
    signer: PublicKey | x509.Certificate,
    *,
    mode: Iso2SignatureMode = Iso2SignatureMode.STRICT,
) -> Iso2SignatureCheck:
    """Verify the Header signature of ``msg`` with the signer's key or certificate (no chain check).

    Raises :class:`~iso15118.security.signatures.SignatureVerificationError` naming the defect
    (``MISSING_SIGNATURE``, ``PROFILE_VIOLATION``, ``WRONG_KEY``, ``UNKNOWN_REFERENCE`` /
    ``MISSING_REFERENCE``, ``DIGEST_MISMATCH``, ``BAD_SIGNATURE_VALUE``).
    """
    signature = msg.header.signature
    if signature is None:
        name, _ = body_element(msg)
        raise SignatureVerificationError(SignatureDefect.MISSING_SIGNATURE, f"the {name} header carries no Signature")
    elements = signed_elements(msg)
    try:
        suite = _verify(signature, elements, signer, SignedInfoGrammar.XMLDSIG)
    except SignatureVerificationError as exc:
        if mode is Iso2SignatureMode.STRICT or exc.defect is not SignatureDefect.BAD_SIGNATURE_VALUE:
            raise
        try:
            suite = _verify(signature, elements, signer, SignedInfoGrammar.ISO2)
        except SignatureVerificationError:
            raise SignatureVerificationError(
                SignatureDefect.BAD_SIGNATURE_VALUE,
                "the SignatureValue verifies neither over SignedInfo in the xmldsig grammar (Annex J.4) nor in "
                "the -2 message grammar",
            ) from None
        return Iso2SignatureCheck(suite=suite, grammar=SignedInfoGrammar.ISO2, deviation=_TOLERATED)
    return Iso2SignatureCheck(suite=suite, grammar=SignedInfoGrammar.XMLDSIG)


def verify_message_chain(
    msg: V2G_Message,
    roots: Iterable[x509.Certificate],
    *,
    now: dt.datetime,
    chain: Sequence[x509.Certificate] | None = None,
    intermediates: Sequence[x509.Certificate] = (),
    mode: Iso2SignatureMode = Iso2SignatureMode.STRICT,
    policy: ChainPolicy = ISO2,
) -> tuple[ValidatedChain, Iso2SignatureCheck]:
    """Validate the signer's chain up to one of ``roots``, then verify the signature with its leaf.

    The chain comes from the message (:func:`signer_chain`) unless ``chain`` (leaf first) is given, which
    AuthorizationReq and MeteringReceiptReq need. ``intermediates`` adds Sub-CAs the message does not carry
    (the OEM Sub-CAs of a CertificateInstallationReq). Raises
    :class:`~iso15118.security.certs.ChainValidationError` (checked first), then
    :class:`~iso15118.security.signatures.SignatureVerificationError`.
    """
    if chain is None:
        carried = signer_chain(msg)
        if carried is None:
            name, _ = body_element(msg)
            raise SignatureError(f"a {name} carries no certificate; pass the signer's chain")
        chain = [load_certificates(der, source="the signer's certificates")[0] for der in carried]
    if not chain:
        raise SignatureError("the signer's chain is empty")
    pool = [*chain[1:], *intermediates]
    validated = validate_chain(chain[0], pool, roots, now=now, purpose=signer_purpose(msg), policy=policy)
    return validated, verify_message(msg, validated.leaf, mode=mode)
