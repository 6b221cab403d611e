"""The restricted XMLDSig profile of ISO 15118-20: suites, profiles and the structural check. Pure.

:func:`check_profile` refuses everything the -20 profile forbids or does not know, naming the item and the
requirement: an Id on SignedInfo or SignatureValue, KeyInfo, Object, a Type on a Reference, content
(HMACOutputLength, XPath, ``##any``) in the algorithm elements `[V2G20-771]`; a canonicalization or
transform other than Canonical EXI, or not exactly one Transform `[V2G20-764…767]`; a SignatureMethod the
:class:`SignatureProfile` does not allow or a DigestMethod that does not go with it `[V2G20-2473…2476]`;
a Reference URI that is not ``#Id`` `[V2G20-117]`. Signing and verifying live in
:mod:`iso15118.security.signatures`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from cryptography.hazmat.primitives import hashes

from iso15118.errors import SignatureError
from iso15118.messages.xmldsig import Reference, Signature
from iso15118.security.issuing import KeyAlgorithm, PrivateKey, PublicKey, key_algorithm_of

__all__ = [
    "C14N_EXI",
    "ECDSA_HASHES",
    "ECDSA_P256_SHA256",
    "ECDSA_P521_SHA512",
    "ED448_SHAKE256",
    "INTEROP_PROFILE",
    "ISO20_PROFILE",
    "SignatureDefect",
    "SignatureProfile",
    "SignatureSuite",
    "SignatureVerificationError",
    "check_profile",
]

#: Canonicalization and the one Transform of every -20 signature `[V2G20-764…767]`.
C14N_EXI: Final = "http://www.w3.org/TR/canonical-exi/"


class SignatureDefect(StrEnum):
    """Why a signature was refused."""

    MISSING_SIGNATURE = "missing signature"  # the message header carries none
    PROFILE_VIOLATION = "profile violation"  # an algorithm URI, attribute or element the profile forbids
    WRONG_KEY = "wrong key"  # the signer's key does not fit the SignatureMethod
    UNKNOWN_REFERENCE = "unknown reference"  # a Reference names no element that this message signs
    MISSING_REFERENCE = "missing reference"  # an element that must be signed is not referenced
    UNENCODABLE = "unencodable element"  # a referenced element cannot be encoded, so it cannot be digested
    DIGEST_MISMATCH = "digest mismatch"  # the element's fragment does not hash to the DigestValue
    BAD_SIGNATURE_VALUE = "bad signature value"  # the SignatureValue does not verify over SignedInfo


class SignatureVerificationError(SignatureError):
    """A signature was refused: ``defect`` is the machine-readable reason, ``reference`` the failing URI."""

    def __init__(
        self,
        defect: SignatureDefect,
        detail: str,
        *,
        reference: str | None = None,
        requirement: str | None = None,
    ) -> None:
        self.defect = defect
        self.requirement = requirement
        rule = f" [{requirement}]" if requirement else ""
        super().__init__(f"{defect.value}: {detail}{rule}", reference=reference)


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureSuite:
    """One signature algorithm with its digest: the URIs, the key it needs and the sizes on the wire."""

    name: str
    signature_method: str
    digest_method: str
    key_algorithm: KeyAlgorithm
    digest_size: int  # bytes of DigestValue
    signature_size: int  # bytes of SignatureValue

    def digest(self, data: bytes) -> bytes:
        """The DigestValue of ``data`` (an element's EXI fragment)."""
        return _DIGESTS[self.digest_method](data)


ECDSA_P521_SHA512: Final = SignatureSuite(
    name="ecdsa-p521-sha512",
    signature_method="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
    digest_method="http://www.w3.org/2001/04/xmlenc#sha512",
    key_algorithm=KeyAlgorithm.SECP521R1,
    digest_size=64,
    signature_size=132,  # r‖s, each left-padded to 66 bytes [V2G20-1000]
)
ED448_SHAKE256: Final = SignatureSuite(
    name="ed448-shake256",
    signature_method="urn:iso:std:iso:15118:-20:Security:xmldsig#Ed448",
    digest_method="urn:iso:std:iso:15118:-20:Security:xmlenc#SHAKE256",
    key_algorithm=KeyAlgorithm.ED448,
    digest_size=64,  # SHAKE256 output length as EVerest computes it (UNCONFIRMED in the standard)
    signature_size=114,
)
ECDSA_P256_SHA256: Final = SignatureSuite(
    name="ecdsa-p256-sha256 (ISO 15118-2 profile)",
    signature_method="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    digest_method="http://www.w3.org/2001/04/xmlenc#sha256",
    key_algorithm=KeyAlgorithm.SECP256R1,
    digest_size=32,
    signature_size=64,
)

_DIGESTS: dict[str, Callable[[bytes], bytes]] = {
    ECDSA_P521_SHA512.digest_method: lambda data: hashlib.sha512(data).digest(),
    ED448_SHAKE256.digest_method: lambda data: hashlib.shake_256(data).digest(64),
    ECDSA_P256_SHA256.digest_method: lambda data: hashlib.sha256(data).digest(),
}
#: The hash ECDSA applies to the SignedInfo fragment, per curve.
ECDSA_HASHES: dict[KeyAlgorithm, type[hashes.SHA256 | hashes.SHA512]] = {
    KeyAlgorithm.SECP521R1: hashes.SHA512,
    KeyAlgorithm.SECP256R1: hashes.SHA256,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureProfile:
    """Which suites a signer may use and a verifier accepts."""

    name: str
    suites: tuple[SignatureSuite, ...]

    def suite_for_method(self, signature_method: str) -> SignatureSuite | None:
        """The suite of a SignatureMethod URI, or None when this profile does not allow it."""
        return next((s for s in self.suites if s.signature_method == signature_method), None)

    def suite_for_key(self, key: PrivateKey | PublicKey | object) -> SignatureSuite | None:
        """The suite a key signs with under this profile, or None when the profile has none for it."""
        algorithm = key_algorithm_of(key)
        return next((s for s in self.suites if s.key_algorithm is algorithm), None)


#: The ISO 15118-20 profile: ECDSA on secp521r1 with SHA-512, or Ed448 with SHAKE256 `[V2G20-2473…2476]`.
ISO20_PROFILE: Final = SignatureProfile(name="iso15118-20", suites=(ECDSA_P521_SHA512, ED448_SHAKE256))
#: Tolerant lab profile: also the ISO 15118-2 suite (ecdsa-sha256 on P-256), as Josev signs -20 PnC.
INTEROP_PROFILE: Final = SignatureProfile(name="interop", suites=(ECDSA_P521_SHA512, ED448_SHAKE256, ECDSA_P256_SHA256))


def violation(detail: str, requirement: str, *, reference: str | None = None) -> SignatureVerificationError:
    return SignatureVerificationError(
        SignatureDefect.PROFILE_VIOLATION, detail, reference=reference, requirement=requirement
    )


def _check_reference(ref: Reference, suite: SignatureSuite, index: int) -> None:
    name = ref.uri if ref.uri is not None else f"Reference {index + 1}"
    if ref.type is not None:
        raise violation(f"{name} carries a Type attribute", "V2G20-771", reference=ref.uri)
    if ref.uri is None or not ref.uri.startswith("#") or len(ref.uri) < 2:  # detached, by Id [V2G20-117]
        raise violation(
            f"{name}: the URI must be '#' and the Id of an element of the message, not {ref.uri!r}",
            "V2G20-117",
            reference=ref.uri,
        )
    transforms = ref.transforms.transform if ref.transforms is not None else ()
    if len(transforms) != 1:
        raise violation(
            f"{name} has {len(transforms)} Transforms; the profile requires exactly one",
            "V2G20-764…767",
            reference=ref.uri,
        )
    if transforms[0].algorithm != C14N_EXI:
        raise violation(
            f"{name}: Transform {transforms[0].algorithm!r} is not {C14N_EXI}", "V2G20-764…767", reference=ref.uri
        )
    if transforms[0].content:
        raise violation(f"{name}: the Transform carries content (XPath or other)", "V2G20-771", reference=ref.uri)
    if ref.digest_method.algorithm != suite.digest_method:
        raise violation(
            f"{name}: DigestMethod {ref.digest_method.algorithm!r} does not go with "
            f"{suite.signature_method} (expected {suite.digest_method})",
            "V2G20-2473…2476",
            reference=ref.uri,
        )
    if ref.digest_method.content:
        raise violation(f"{name}: DigestMethod carries content", "V2G20-771", reference=ref.uri)
    if len(ref.digest_value) != suite.digest_size:
        raise violation(
            f"{name}: DigestValue has {len(ref.digest_value)} bytes, {suite.digest_method} gives {suite.digest_size}",
            "V2G20-2473…2476",
            reference=ref.uri,
        )


def check_profile(signature: Signature, profile: SignatureProfile = ISO20_PROFILE) -> SignatureSuite:
    """Check ``signature`` against the restricted XMLDSig profile; return its suite.

    Raises :class:`SignatureVerificationError` (``PROFILE_VIOLATION``) naming the offending item.
    """
    info = signature.signed_info
    if signature.key_info is not None:
        raise violation("the Signature carries KeyInfo (the certificate belongs in the message body)", "V2G20-771")
    if signature.object:
        raise violation(f"the Signature carries {len(signature.object)} Object element(s)", "V2G20-771")
    if signature.signature_value.id is not None:
        raise violation("SignatureValue carries an Id attribute", "V2G20-771")
    if info.id is not None:
        raise violation("SignedInfo carries an Id attribute", "V2G20-771")
    c14n = info.canonicalization_method
    if c14n.algorithm != C14N_EXI:
        raise violation(f"CanonicalizationMethod {c14n.algorithm!r} is not {C14N_EXI}", "V2G20-764…767")
    if c14n.content:
        raise violation("CanonicalizationMethod carries content", "V2G20-771")
    method = info.signature_method
    suite = profile.suite_for_method(method.algorithm)
    if suite is None:
        allowed = ", ".join(s.signature_method for s in profile.suites)
        raise violation(
            f"SignatureMethod {method.algorithm!r} is not allowed by profile {profile.name} (allowed: {allowed})",
            "V2G20-2473…2476",
        )
    if method.content:
        raise violation("SignatureMethod carries content (HMACOutputLength or other)", "V2G20-771")
    for index, ref in enumerate(info.reference):
        _check_reference(ref, suite, index)
    return suite
