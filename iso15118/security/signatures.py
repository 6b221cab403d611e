"""XML signatures of ISO 15118-20: the restricted XMLDSig profile, computed over EXI fragments. Pure: no I/O.

A -20 signature is *detached* and travels in the message header `[V2G20-117]`; what it covers is not XML
text but the EXI encoding of the referenced elements `[V2G20-119]`:

1. each referenced element (e.g. ``PnC_AReqAuthorizationMode``) is encoded alone as an EXI fragment of its
   message's schema set (:meth:`SignedElement.fragment`); its digest goes into a ``Reference`` whose URI
   names the element's ``Id``;
2. ``SignedInfo`` is encoded alone as a fragment of the xmldsig-only schema set `[V2G20-1449]`
   (:func:`encode_signed_info`), and those bytes are signed.

Suites and profiles are defined in :mod:`iso15118.security.sigprofile` and re-exported here.
Suites (:class:`SignatureSuite`), chosen by the signer's key:

- :data:`ECDSA_P521_SHA512`: ``xmldsig-more#ecdsa-sha512`` with ``xmlenc#sha512`` digests on secp521r1;
  the SignatureValue is raw r‖s, 2 × 66 bytes.
- :data:`ED448_SHAKE256`: ``urn:iso:std:iso:15118:-20:Security:xmldsig#Ed448`` with
  ``...:Security:xmlenc#SHAKE256`` digests (64 bytes); pure Ed448, 114-byte SignatureValue.
- :data:`ECDSA_P256_SHA256`: ``xmldsig-more#ecdsa-sha256`` with ``xmlenc#sha256`` digests on secp256r1;
  raw r‖s, 2 × 32 bytes.

The last one is the ISO 15118-2 profile, which Josev also uses for -20 PnC. Only :data:`INTEROP_PROFILE`
accepts it; :data:`ISO20_PROFILE` (the default everywhere) refuses it.

:func:`verify` checks, in this order, and raises :class:`SignatureVerificationError` whose ``defect`` says
what failed and whose ``reference`` names the failing reference URI: the profile (:func:`check_profile`),
the signer's key type, that the references are exactly the expected elements, each digest (XMLDSig
reference validation), then the signature value over SignedInfo.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from iso15118.codec import encode_fragment
from iso15118.errors import CodecError, SignatureError
from iso15118.messages.xmldsig import (
    CanonicalizationMethod,
    DigestMethod,
    Reference,
    Signature,
    SignatureMethod,
    SignatureValue,
    SignedInfo,
    Transform,
    Transforms,
)
from iso15118.security.issuing import KeyAlgorithm, PrivateKey, PublicKey, key_algorithm_of
from iso15118.security.sigprofile import (
    C14N_EXI,
    ECDSA_HASHES,
    ECDSA_P256_SHA256,
    ECDSA_P521_SHA512,
    ED448_SHAKE256,
    INTEROP_PROFILE,
    ISO20_PROFILE,
    SignatureDefect,
    SignatureProfile,
    SignatureSuite,
    SignatureVerificationError,
    check_profile,
    violation,
)

__all__ = [
    "C14N_EXI",
    "ECDSA_P256_SHA256",
    "ECDSA_P521_SHA512",
    "ED448_SHAKE256",
    "INTEROP_PROFILE",
    "ISO20_PROFILE",
    "SignatureDefect",
    "SignatureProfile",
    "SignatureSuite",
    "SignatureVerificationError",
    "SignedElement",
    "SignedInfoEncoder",
    "check_profile",
    "encode_signed_info",
    "sign",
    "verify",
]


#: How SignedInfo becomes the bytes that are signed (the -20 and -2 default: :func:`encode_signed_info`).
SignedInfoEncoder = Callable[[SignedInfo], bytes]
#: How a signed element becomes its fragment bytes: ``(element, schema, root) -> EXI fragment``.
FragmentEncoder = Callable[[object, str, str], bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedElement:
    """An element a signature covers: the object, its element name, its schema set and the Id it is known by.

    ``id`` defaults to the element's own ``Id`` attribute; give it for an element without one (the whole
    CertificateInstallationReq variant). ``encoder`` replaces :func:`iso15118.codec.encode_fragment` for an
    element the schema set's fragment grammar cannot encode on its own (the -2 ``eMAID``, see
    :mod:`iso15118.security.iso2_fragments`).
    """

    element: object
    root: str
    schema: str = "iso20_common"
    id: str | None = None
    encoder: FragmentEncoder | None = None

    @property
    def reference_id(self) -> str:
        """The Id the Reference URI points to."""
        ident = self.id if self.id is not None else getattr(self.element, "id", None)
        if not isinstance(ident, str) or not ident:
            raise SignatureError(f"{self.root} has no Id attribute; give SignedElement an id to reference")
        return ident

    @property
    def uri(self) -> str:
        """The Reference URI: ``#`` and the Id (a same-message reference of the detached signature)."""
        return f"#{self.reference_id}"

    def fragment(self) -> bytes:
        """The element alone as an EXI fragment of its schema set: the bytes its digest is taken over."""
        if self.encoder is not None:
            return self.encoder(self.element, self.schema, self.root)
        return encode_fragment(self.element, self.schema, self.root)  # [V2G20-119]


def encode_signed_info(signed_info: SignedInfo) -> bytes:
    """SignedInfo as a fragment of the xmldsig-only schema set: the bytes that are signed `[V2G20-1449]`."""
    return encode_fragment(signed_info, "xmldsig", "SignedInfo")


def _reference(suite: SignatureSuite, element: SignedElement) -> Reference:
    return Reference(
        uri=element.uri,  # no Id, no Type [V2G20-771]
        transforms=Transforms(transform=(Transform(algorithm=C14N_EXI),)),  # exactly one [V2G20-764…767]
        digest_method=DigestMethod(algorithm=suite.digest_method),  # [V2G20-2473…2476]
        digest_value=suite.digest(element.fragment()),
    )


def _coordinate_size(algorithm: KeyAlgorithm) -> int:
    return {KeyAlgorithm.SECP521R1: 66, KeyAlgorithm.SECP256R1: 32}[algorithm]


def _sign_bytes(suite: SignatureSuite, key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ed448.Ed448PrivateKey):
        return key.sign(data)  # pure Ed448 over the SignedInfo fragment
    der = key.sign(data, ec.ECDSA(ECDSA_HASHES[suite.key_algorithm]()))
    r, s = decode_dss_signature(der)
    size = _coordinate_size(suite.key_algorithm)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")  # raw r‖s, not DER [V2G20-1000]


def sign(
    elements: Sequence[SignedElement],
    key: PrivateKey,
    *,
    profile: SignatureProfile = ISO20_PROFILE,
    signed_info_encoder: SignedInfoEncoder = encode_signed_info,
) -> Signature:
    """Sign ``elements`` with ``key``: the header Signature (see
    :func:`~iso15118.security.signed_messages.attach_signature`).

    The suite follows the key (secp521r1 -> ECDSA/SHA-512, Ed448 -> Ed448/SHAKE256; secp256r1 -> the -2 suite,
    under :data:`INTEROP_PROFILE` or the -2 profile only). ``signed_info_encoder`` makes the signed bytes of
    SignedInfo (the xmldsig-only fragment grammar unless a peer needs another). Raises
    :class:`~iso15118.errors.SignatureError` for a key the profile has no suite for, for no or duplicate
    elements, and for an element that cannot be encoded.
    """
    suite = profile.suite_for_key(key)
    if suite is None:
        algorithm = key_algorithm_of(key)
        kind = algorithm.value if algorithm else type(key).__name__
        allowed = ", ".join(s.key_algorithm.value for s in profile.suites)
        raise SignatureError(f"cannot sign with a {kind} key under profile {profile.name} (keys: {allowed})")
    if not elements:
        raise SignatureError("nothing to sign: give at least one element")
    uris = [element.uri for element in elements]
    if len(set(uris)) != len(uris):
        raise SignatureError(f"two signed elements share one Id: {', '.join(uris)}")
    try:
        references = tuple(_reference(suite, element) for element in elements)
    except CodecError as exc:
        raise SignatureError(f"cannot encode a signed element: {exc}") from None
    signed_info = SignedInfo(  # no Id on SignedInfo [V2G20-771]
        canonicalization_method=CanonicalizationMethod(algorithm=C14N_EXI),  # [V2G20-764…767]
        signature_method=SignatureMethod(algorithm=suite.signature_method),
        reference=references,
    )
    try:
        data = signed_info_encoder(signed_info)
    except CodecError as exc:
        raise SignatureError(f"cannot encode SignedInfo: {exc}") from None
    value = _sign_bytes(suite, key, data)
    # No KeyInfo, no Object: the certificate travels in the message body [V2G20-771]
    return Signature(signed_info=signed_info, signature_value=SignatureValue(value=value))


def _public_key(signer: PublicKey | x509.Certificate) -> object:
    if isinstance(signer, x509.Certificate):
        try:
            return signer.public_key()
        except (UnsupportedAlgorithm, ValueError) as exc:
            raise SignatureVerificationError(
                SignatureDefect.WRONG_KEY, f"the signer's certificate has no usable key ({exc})"
            ) from None
    return signer


def _pair_references(info: SignedInfo, elements: Sequence[SignedElement]) -> list[tuple[Reference, SignedElement]]:
    """Match each Reference to its expected element; the two sets must be equal."""
    expected = {element.uri: element for element in elements}
    if len(expected) != len(elements):
        raise SignatureError("two expected elements share one Id")
    seen: set[str] = set()
    pairs = []
    for ref in info.reference:
        uri = ref.uri or ""
        if uri in seen:
            raise violation(f"{uri} is referenced twice", "V2G20-771", reference=uri)
        seen.add(uri)
        if uri not in expected:
            names = ", ".join(expected) or "nothing"
            raise SignatureVerificationError(
                SignatureDefect.UNKNOWN_REFERENCE,
                f"SignedInfo has {len(info.reference)} reference(s); {uri} is none of the elements this "
                f"message signs ({names})",
                reference=uri,
            )
        pairs.append((ref, expected[uri]))
    for uri, element in expected.items():
        if uri not in seen:
            raise SignatureVerificationError(
                SignatureDefect.MISSING_REFERENCE,
                f"{element.root} ({uri}) is not covered by the signature",
                reference=uri,
            )
    return pairs


def _verify_value(suite: SignatureSuite, key: object, value: bytes, data: bytes) -> None:
    if len(value) != suite.signature_size:
        raise SignatureVerificationError(
            SignatureDefect.BAD_SIGNATURE_VALUE,
            f"SignatureValue has {len(value)} bytes; {suite.name} gives {suite.signature_size}",
            requirement="V2G20-1000",
        )
    try:
        if isinstance(key, ed448.Ed448PublicKey):
            key.verify(value, data)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            half = len(value) // 2
            r, s = int.from_bytes(value[:half], "big"), int.from_bytes(value[half:], "big")
            der = encode_dss_signature(r, s)
            key.verify(der, data, ec.ECDSA(ECDSA_HASHES[suite.key_algorithm]()))
        else:  # pragma: no cover - the key type was checked against the suite before
            raise InvalidSignature
    except (InvalidSignature, ValueError):
        raise SignatureVerificationError(
            SignatureDefect.BAD_SIGNATURE_VALUE,
            f"the SignatureValue does not verify over SignedInfo with the signer's key ({suite.name})",
        ) from None


def verify(
    signature: Signature,
    elements: Sequence[SignedElement],
    signer: PublicKey | x509.Certificate,
    *,
    profile: SignatureProfile = ISO20_PROFILE,
    signed_info_encoder: SignedInfoEncoder = encode_signed_info,
) -> SignatureSuite:
    """Verify ``signature`` over exactly ``elements`` with the signer's public key or certificate.

    ``signed_info_encoder`` makes the bytes the SignatureValue is checked over (default: SignedInfo as a
    fragment of the xmldsig-only schema set). Returns the suite used. Raises
    :class:`SignatureVerificationError`: ``PROFILE_VIOLATION``, ``WRONG_KEY``, ``UNKNOWN_REFERENCE`` /
    ``MISSING_REFERENCE`` (the references are not exactly the elements), ``UNENCODABLE``,
    ``DIGEST_MISMATCH`` (``reference`` names it) or ``BAD_SIGNATURE_VALUE``.
    """
    suite = check_profile(signature, profile)
    key = _public_key(signer)
    if isinstance(key, ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey):
        raise SignatureVerificationError(
            SignatureDefect.WRONG_KEY, "a private key was given; pass the signer's certificate or public key"
        )
    algorithm = key_algorithm_of(key)
    if algorithm is not suite.key_algorithm:
        kind = algorithm.value if algorithm else type(key).__name__.lstrip("_")
        raise SignatureVerificationError(
            SignatureDefect.WRONG_KEY,
            f"{suite.signature_method} needs a {suite.key_algorithm.value} public key; the signer has {kind}",
        )
    info = signature.signed_info
    for ref, element in _pair_references(info, elements):
        try:
            fragment = element.fragment()
        except CodecError as exc:
            raise SignatureVerificationError(
                SignatureDefect.UNENCODABLE, f"{element.root}: {exc}", reference=ref.uri
            ) from None
        if not hmac.compare_digest(suite.digest(fragment), ref.digest_value):
            raise SignatureVerificationError(
                SignatureDefect.DIGEST_MISMATCH,
                f"the {len(fragment)}-byte EXI fragment of {element.root} ({element.schema}) does not hash "
                f"to the DigestValue",
                reference=ref.uri,
                requirement="V2G20-119",
            )
    try:
        data = signed_info_encoder(info)
    except CodecError as exc:
        raise SignatureVerificationError(SignatureDefect.UNENCODABLE, f"SignedInfo: {exc}") from None
    _verify_value(suite, key, signature.signature_value.value, data)
    return suite
