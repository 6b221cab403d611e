"""How ISO 15118-2 carries a contract private key to the EV: ECDH, concatenation KDF, AES-128-CBC. Pure.

CertificateInstallationRes and CertificateUpdateRes carry the new contract key encrypted for the EV:

1. The CPS makes an ephemeral secp256r1 key pair; its public key travels as ``DHpublickey`` (65 bytes, the
   uncompressed point). ECDH between the ephemeral private key and the EV's static key -- the OEM
   provisioning certificate's (installation) or the old contract certificate's (update) -- gives the
   shared secret Z (the 32-byte x coordinate).
2. The NIST SP 800-56A concatenation KDF with SHA-256 turns Z into a 16-byte AES key: SHA-256 over the
   32-bit counter 1, Z and OtherInfo = AlgorithmID 0x01, PartyUInfo 0x55 ('U'), PartyVInfo 0x56 ('V'),
   truncated to 16 bytes (as ISO 15118-2 is publicly restated; Josev's ``security.py`` derives it the same
   way and cites [V2G2-818]).
3. AES-128-CBC encrypts the private scalar (32 bytes, big-endian; no padding: two whole blocks) with a
   random IV, and ``ContractSignatureEncryptedPrivateKey`` is IV || ciphertext, 48 bytes.

The EV reverses it with its static private key and the DHpublickey. CBC without padding cannot tell a wrong
key by itself, so :func:`unwrap_contract_key` also checks that the result is a valid scalar and, given the
contract certificate's public key, that it belongs to that certificate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from iso15118.errors import InstallationError
from iso15118.security.keycheck import require_curve

__all__ = [
    "DH_PUBLIC_KEY_SIZE",
    "ENCRYPTED_KEY_SIZE",
    "KDF_OTHER_INFO",
    "WrappedKey",
    "derive_wrapping_key",
    "unwrap_contract_key",
    "wrap_contract_key",
]

KDF_OTHER_INFO: Final = bytes((0x01, 0x55, 0x56))  # AlgorithmID, PartyUInfo 'U', PartyVInfo 'V'
DH_PUBLIC_KEY_SIZE: Final = 65  # 0x04 || x || y
ENCRYPTED_KEY_SIZE: Final = 48  # IV (16) || AES-128-CBC of the 32-byte scalar
_CURVE = ec.SECP256R1()
_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # of secp256r1


@dataclass(frozen=True, slots=True, kw_only=True)
class WrappedKey:
    """What the response carries: the ephemeral DH public key (65 bytes) and IV || ciphertext (48 bytes)."""

    dh_public_key: bytes
    encrypted_key: bytes


def derive_wrapping_key(shared_secret: bytes) -> bytes:
    """The 16-byte AES key from the ECDH shared secret: concatenation KDF, SHA-256, OtherInfo 01 55 56."""
    return ConcatKDFHash(algorithm=hashes.SHA256(), length=16, otherinfo=KDF_OTHER_INFO).derive(shared_secret)


def _p256(key: object, what: str) -> None:
    require_curve(key, _CURVE, what, "secp256r1")


def wrap_contract_key(
    contract_key: ec.EllipticCurvePrivateKey,
    recipient: ec.EllipticCurvePublicKey,
    *,
    ephemeral: ec.EllipticCurvePrivateKey | None = None,
    iv: bytes | None = None,
) -> WrappedKey:
    """Encrypt ``contract_key`` for the holder of ``recipient`` (the OEM provisioning or old contract key).

    ``ephemeral`` and ``iv`` are drawn fresh unless given (tests pin them).
    """
    _p256(contract_key, "the contract key")
    _p256(recipient, "the EV's ECDH key")
    dh = ephemeral if ephemeral is not None else ec.generate_private_key(_CURVE)
    _p256(dh, "the ephemeral key")
    vector = iv if iv is not None else os.urandom(16)
    if len(vector) != 16:
        raise InstallationError(f"the IV must have 16 bytes, not {len(vector)}")
    aes_key = derive_wrapping_key(dh.exchange(ec.ECDH(), recipient))
    scalar = contract_key.private_numbers().private_value.to_bytes(32, "big")
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(vector)).encryptor()
    ciphertext = encryptor.update(scalar) + encryptor.finalize()
    public = dh.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return WrappedKey(dh_public_key=public, encrypted_key=vector + ciphertext)


def unwrap_contract_key(
    wrapped: WrappedKey,
    own_key: ec.EllipticCurvePrivateKey,
    *,
    expected_public: ec.EllipticCurvePublicKey | None = None,
) -> ec.EllipticCurvePrivateKey:
    """Decrypt the contract key with the EV's static private key; InstallationError naming what is wrong.

    ``expected_public`` (the new contract certificate's key) makes a wrong ECDH key or a tampered
    ciphertext detectable: the decrypted scalar must produce exactly that public key.
    """
    _p256(own_key, "the EV's ECDH key")
    if len(wrapped.dh_public_key) != DH_PUBLIC_KEY_SIZE:
        raise InstallationError(
            f"DHpublickey has {len(wrapped.dh_public_key)} bytes, an uncompressed secp256r1 point has 65"
        )
    if len(wrapped.encrypted_key) != ENCRYPTED_KEY_SIZE:
        raise InstallationError(
            f"ContractSignatureEncryptedPrivateKey has {len(wrapped.encrypted_key)} bytes, IV and key make 48"
        )
    try:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, wrapped.dh_public_key)
    except ValueError:
        raise InstallationError("DHpublickey is not a point on secp256r1") from None
    aes_key = derive_wrapping_key(own_key.exchange(ec.ECDH(), peer))
    vector, ciphertext = wrapped.encrypted_key[:16], wrapped.encrypted_key[16:]
    decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(vector)).decryptor()
    scalar = int.from_bytes(decryptor.update(ciphertext) + decryptor.finalize(), "big")
    if not 0 < scalar < _ORDER:
        raise InstallationError("the decrypted contract key is no secp256r1 private key (wrong ECDH key?)")
    key = ec.derive_private_key(scalar, _CURVE)
    if expected_public is not None and key.public_key() != expected_public:
        raise InstallationError(
            "the decrypted contract key does not belong to the contract certificate "
            "(encrypted for another ECDH key, or tampered)"
        )
    return key
