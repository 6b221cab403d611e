"""How ISO 15118-20 carries a contract private key to an EV without a TPM: ECDHE, KDF, AES-256-GCM. Pure.

ISO 15118-20 clause 7.9.2.5 ("contract certificate private key encryption/decryption for EVCC without TPM 2.0")
and 7.9.2.5.4 (the session key), for the SECP521 curve:

1. The sender (the eMSP / CPS) makes an ephemeral secp521r1 key pair; its public key travels as
   ``DHPublicKey`` in its uncompressed form (0x04 || x || y, 133 bytes). ECDH between it and the EV's static key
   -- the OEM provisioning certificate's -- gives the shared secret Z (66 bytes).
2. A key derivation turns Z into the 256-bit session key. The standard's exact KDF inputs are not restated in
   the fact sheet (UNCONFIRMED, item 8 there); we use the NIST SP 800-56A concatenation KDF with SHA-512 and the
   OtherInfo of ISO 15118-2 (AlgorithmID 0x01, PartyUInfo 'U', PartyVInfo 'V'), which is what the public
   descriptions of -20 (ConcatKDF, SHA-512) and -2 share. :data:`KDF_OTHER_INFO` is the one place to change.
3. AES-256-GCM (NIST SP 800-38D) encrypts the private key -- 521 bits, extended with 7 leading zero bits to 66
   bytes, big-endian -- with a random 96-bit IV and a 128-bit tag. The additional authenticated data is the PCID
   of the CertificateInstallationReq (capital letters and digits) followed by the contract certificate's
   subjectKeyIdentifier as upper-case hexadecimal text (:func:`additional_data`).
4. ``SECP521_EncryptedPrivateKey`` is IV (12) || ciphertext (66) || tag (16): 94 bytes.

The EV reverses it with its provisioning key. A decryption that fails (wrong key, tampered ciphertext, AAD
that does not match) rejects the response; so does a result whose 7 leading bits are not zero, a value not
below the curve order, or one that does not make the contract certificate's public key (:func:`unwrap_contract_key`).
X448 (for Ed448 provisioning certificates) is not supported: cryptography offers no Ed448 -> X448 key map.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from iso15118.errors import InstallationError
from iso15118.security.keycheck import require_curve

__all__ = [
    "DH_PUBLIC_KEY_SIZE",
    "ENCRYPTED_KEY_SIZE",
    "KDF_OTHER_INFO",
    "WrappedKey",
    "additional_data",
    "derive_session_key",
    "unwrap_contract_key",
    "wrap_contract_key",
]

KDF_OTHER_INFO: Final = bytes((0x01, 0x55, 0x56))  # AlgorithmID, PartyUInfo 'U', PartyVInfo 'V' (see step 2)
DH_PUBLIC_KEY_SIZE: Final = 133  # 0x04 || x || y on secp521r1
_KEY_SIZE: Final = 66  # 521 bits and 7 leading zero bits
_IV_SIZE: Final = 12
_TAG_SIZE: Final = 16
ENCRYPTED_KEY_SIZE: Final = _IV_SIZE + _KEY_SIZE + _TAG_SIZE  # 94
_CURVE = ec.SECP521R1()
# The order of the secp521r1 base point.
_ORDER: Final = int("01" + "F" * 65 + "A51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409", 16)


@dataclass(frozen=True, slots=True, kw_only=True)
class WrappedKey:
    """What SignedInstallationData carries: the ephemeral DH public key and IV || ciphertext || tag."""

    dh_public_key: bytes
    encrypted_key: bytes


def additional_data(pcid: str, contract: x509.Certificate) -> bytes:
    """The AAD: the PCID in capitals, then the contract certificate's SKI as upper-case hex text."""
    try:
        ski = contract.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        raise InstallationError("the contract certificate has no subjectKeyIdentifier (the AAD needs it)") from None
    return pcid.upper().encode("ascii") + ski.hex().upper().encode("ascii")


def derive_session_key(shared_secret: bytes) -> bytes:
    """The 32-byte AES-256 key from the ECDH shared secret (step 2 of the module docstring)."""
    return ConcatKDFHash(algorithm=hashes.SHA512(), length=32, otherinfo=KDF_OTHER_INFO).derive(shared_secret)


def _p521(key: object, what: str) -> None:
    require_curve(key, _CURVE, what, "secp521r1 (ECDHCurve SECP521)")


def wrap_contract_key(
    contract_key: ec.EllipticCurvePrivateKey,
    recipient: ec.EllipticCurvePublicKey,
    aad: bytes,
    *,
    ephemeral: ec.EllipticCurvePrivateKey | None = None,
    iv: bytes | None = None,
) -> WrappedKey:
    """Encrypt ``contract_key`` for the holder of ``recipient`` (the OEM provisioning key); ``aad`` from
    :func:`additional_data`. ``ephemeral`` and ``iv`` are drawn fresh unless given (tests pin them)."""
    _p521(contract_key, "the contract key")
    _p521(recipient, "the EV's provisioning key")
    dh = ephemeral if ephemeral is not None else ec.generate_private_key(_CURVE)
    _p521(dh, "the ephemeral key")
    vector = iv if iv is not None else os.urandom(_IV_SIZE)
    if len(vector) != _IV_SIZE:
        raise InstallationError(f"the IV must have {_IV_SIZE} bytes (96 bits), not {len(vector)}")
    session_key = derive_session_key(dh.exchange(ec.ECDH(), recipient))
    scalar = contract_key.private_numbers().private_value.to_bytes(_KEY_SIZE, "big")  # 7 leading zero bits
    sealed = AESGCM(session_key).encrypt(vector, scalar, aad)  # ciphertext || 128-bit tag
    public = dh.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return WrappedKey(dh_public_key=public, encrypted_key=vector + sealed)


def unwrap_contract_key(
    wrapped: WrappedKey,
    own_key: ec.EllipticCurvePrivateKey,
    aad: bytes,
    *,
    expected_public: ec.EllipticCurvePublicKey | None = None,
) -> ec.EllipticCurvePrivateKey:
    """Decrypt the contract key with the EV's provisioning key; InstallationError naming what is wrong."""
    _p521(own_key, "the EV's provisioning key")
    if len(wrapped.dh_public_key) != DH_PUBLIC_KEY_SIZE:
        raise InstallationError(f"DHPublicKey has {len(wrapped.dh_public_key)} bytes, a secp521r1 point 133")
    if len(wrapped.encrypted_key) != ENCRYPTED_KEY_SIZE:
        raise InstallationError(
            f"SECP521_EncryptedPrivateKey has {len(wrapped.encrypted_key)} bytes, IV, key and tag make 94"
        )
    try:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, wrapped.dh_public_key)
    except ValueError:
        raise InstallationError("DHPublicKey is not a point on secp521r1") from None
    session_key = derive_session_key(own_key.exchange(ec.ECDH(), peer))
    vector, sealed = wrapped.encrypted_key[:_IV_SIZE], wrapped.encrypted_key[_IV_SIZE:]
    try:
        plain = AESGCM(session_key).decrypt(vector, sealed, aad)
    except InvalidTag:
        raise InstallationError(
            "the contract key does not decrypt (AES-GCM tag mismatch: another provisioning key, another PCID or "
            "contract certificate, or tampered)"
        ) from None
    if plain[0] & 0xFE:
        raise InstallationError("the decrypted contract key does not start with 7 zero bits")
    scalar = int.from_bytes(plain, "big")
    if not 0 < scalar < _ORDER:
        raise InstallationError("the decrypted contract key is no secp521r1 private key")
    key = ec.derive_private_key(scalar, _CURVE)
    if expected_public is not None and key.public_key() != expected_public:
        raise InstallationError("the decrypted contract key does not belong to the contract certificate")
    return key
