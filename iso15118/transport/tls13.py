"""Passive TLS 1.3 decryption from an NSS key log, sans-I/O (RFC 8446 sections 5 and 7).

A listener that sees both directions of a TCP connection feeds each direction's bytes to
:class:`TlsDecryptor`; it reads the ClientHello's random (to find the connection's secrets in the key log) and
the ServerHello's cipher suite in clear, derives each direction's record keys from the handshake and
application traffic secrets (HKDF-Expand-Label "key"/"iv"), and opens every record with the AEAD (the 5-byte
record header is the additional data, the nonce the IV XOR the record number). Keys switch from handshake to
application traffic after each side's Finished. The ciphers are TLS_AES_256_GCM_SHA384 and
TLS_CHACHA20_POLY1305_SHA256 (ISO 15118-20's) and TLS_AES_128_GCM_SHA256.

Why pure Python over driving tshark: the listener prints a live trace while the session runs (tshark decrypts
a finished capture), and a bench laptop may not have Wireshark; ``cryptography`` is already a dependency.
Not handled (reported, never guessed): TLS 1.2, a HelloRetryRequest, KeyUpdate after the handshake.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

__all__ = ["KeyLog", "TlsDecryptor", "TlsPlaintext", "hkdf_expand_label"]

_HANDSHAKE, _APPLICATION, _CCS, _ALERT = 22, 23, 20, 21
_FINISHED, _CLIENT_HELLO, _SERVER_HELLO = 20, 1, 2
#: cipher suite -> (AEAD, key length, hash)
_SUITES: Final[dict[int, tuple[Callable[[bytes], AESGCM | ChaCha20Poly1305], int, hashes.HashAlgorithm]]] = {
    0x1301: (AESGCM, 16, hashes.SHA256()),
    0x1302: (AESGCM, 32, hashes.SHA384()),
    0x1303: (ChaCha20Poly1305, 32, hashes.SHA256()),
}
_HRR_RANDOM: Final = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def hkdf_expand_label(secret: bytes, label: str, length: int, algorithm: hashes.HashAlgorithm) -> bytes:
    """HKDF-Expand-Label(secret, label, "", length) of RFC 8446 section 7.1."""
    full = b"tls13 " + label.encode("ascii")
    info = struct.pack("!HB", length, len(full)) + full + b"\x00"
    return HKDFExpand(algorithm=algorithm, length=length, info=info).derive(secret)


class KeyLog:
    """The secrets of an NSS key log file (``SSLKEYLOGFILE``), re-read when a connection's secrets are missing."""

    def __init__(self, path: Path | None = None, text: str = "") -> None:
        self.path = path
        self._secrets: dict[tuple[str, bytes], bytes] = {}
        self._parse(text)

    def _parse(self, text: str) -> None:
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3 and not line.startswith("#"):
                try:
                    self._secrets[(parts[0], bytes.fromhex(parts[1]))] = bytes.fromhex(parts[2])
                except ValueError:
                    continue  # not a key line

    def reload(self) -> None:
        """Read the file again (the TLS stack appends to it while the session runs)."""
        if self.path is not None and self.path.exists():
            self._parse(self.path.read_text(errors="replace"))

    def secret(self, label: str, client_random: bytes) -> bytes | None:
        """The secret ``label`` (e.g. ``CLIENT_TRAFFIC_SECRET_0``) of the connection, or None."""
        found = self._secrets.get((label, client_random))
        if found is None:
            self.reload()
            found = self._secrets.get((label, client_random))
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsPlaintext:
    """Decrypted application data of one direction (``client``: sent by the TLS client)."""

    client: bool
    data: bytes


@dataclass(slots=True)
class _Direction:
    buffer: bytes = b""
    handshake: bytes = b""
    aead: AESGCM | ChaCha20Poly1305 | None = None
    iv: bytes = b""
    seq: int = 0
    phase: str = "clear"  # clear -> handshake -> application
    label: str = ""
    waiting: list[tuple[bytes, bytes]] = field(default_factory=list)


class TlsDecryptor:
    """One TCP connection's TLS 1.3 records, both directions; :meth:`feed` returns the decrypted data."""

    def __init__(self, keylog: KeyLog) -> None:
        self.keylog = keylog
        self.client_random: bytes | None = None
        self.suite: int | None = None
        self.notes: list[str] = []
        self._dirs = {True: _Direction(), False: _Direction()}

    def feed(self, data: bytes, *, client: bool) -> list[TlsPlaintext]:
        """Bytes the client (``client=True``) or the server sent; complete records are processed."""
        side = self._dirs[client]
        side.buffer += data
        out: list[TlsPlaintext] = []
        while len(side.buffer) >= 5:
            kind, _version, length = struct.unpack_from("!BHH", side.buffer)
            if len(side.buffer) < 5 + length:
                break
            header, body = side.buffer[:5], side.buffer[5 : 5 + length]
            side.buffer = side.buffer[5 + length :]
            out.extend(self._record(client, side, kind, header, body))
        return out

    def _record(self, client: bool, side: _Direction, kind: int, header: bytes, body: bytes) -> list[TlsPlaintext]:
        if kind == _CCS:
            return []  # middlebox compatibility, no meaning in TLS 1.3
        if side.phase == "clear":
            if kind == _HANDSHAKE:
                self._clear_handshake(body)
            return []
        if kind != _APPLICATION:
            return []
        if side.aead is None and not self._load(client):
            # The TLS stack writes a secret to the key log only once it has derived it, which may be after
            # the listener saw the first records it protects: hold them until the secret is there.
            side.waiting.append((header, body))
            return []
        out: list[TlsPlaintext] = []
        for held_header, held_body in side.waiting:
            out.extend(self._open(client, side, held_header, held_body))
        side.waiting = []
        return out + self._open(client, side, header, body)

    def _open(self, client: bool, side: _Direction, header: bytes, body: bytes) -> list[TlsPlaintext]:
        if side.aead is None:
            return []  # keys lost after a record that did not decrypt
        nonce = bytes(a ^ b for a, b in zip(side.iv, side.seq.to_bytes(12, "big"), strict=True))
        try:
            inner = side.aead.decrypt(nonce, body, header)
        except InvalidTag:
            self._note(f"a {'client' if client else 'server'} record does not decrypt (wrong or missing key)")
            side.aead = None
            return []
        side.seq += 1
        content = inner.rstrip(b"\x00")
        inner_type, content = content[-1], content[:-1]
        if inner_type == _APPLICATION:
            return [TlsPlaintext(client=client, data=content)]
        if inner_type == _HANDSHAKE:
            self._encrypted_handshake(client, side, content)
        return []

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def _clear_handshake(self, body: bytes) -> None:
        if not body:
            return
        if body[0] == _CLIENT_HELLO and len(body) >= 38:
            self.client_random = body[6:38]
        elif body[0] == _SERVER_HELLO and len(body) >= 39:
            if body[6:38] == _HRR_RANDOM:
                self._note("a HelloRetryRequest: this listener does not follow it")
                return
            session_id = body[38]
            offset = 39 + session_id
            if len(body) < offset + 2:
                return
            self.suite = int.from_bytes(body[offset : offset + 2], "big")
            for client in (True, False):
                self._keys(client, "HANDSHAKE_TRAFFIC_SECRET", "handshake")

    def _keys(self, client: bool, label: str, phase: str) -> None:
        side = self._dirs[client]
        side.phase, side.seq, side.aead, side.label = phase, 0, None, label
        if self.suite not in _SUITES:
            self._note(f"cipher suite 0x{self.suite or 0:04X} is not a TLS 1.3 suite this listener knows")
            return
        if self.client_random is None:
            self._note("no ClientHello seen: the connection's secrets cannot be looked up")
            return
        self._load(client)

    def _secret_name(self, client: bool) -> str:
        return f"{'CLIENT' if client else 'SERVER'}_{self._dirs[client].label}"

    def _load(self, client: bool) -> bool:
        """Derive the direction's record key and IV once its secret is in the key log."""
        side = self._dirs[client]
        if self.suite not in _SUITES or self.client_random is None or not side.label:
            return False
        secret = self.keylog.secret(self._secret_name(client), self.client_random)
        if secret is None:
            return False
        cls, key_length, algorithm = _SUITES[self.suite]
        side.aead = cls(hkdf_expand_label(secret, "key", key_length, algorithm))
        side.iv = hkdf_expand_label(secret, "iv", 12, algorithm)
        return True

    def finish(self) -> list[str]:
        """Say which records stayed encrypted because their secret never appeared in the key log."""
        for client, side in self._dirs.items():
            if side.waiting and self.client_random is not None:
                self._note(
                    f"{len(side.waiting)} records stayed encrypted: no {self._secret_name(client)} for client "
                    f"random {self.client_random.hex()} in the key log"
                )
        return self.notes

    def _encrypted_handshake(self, client: bool, side: _Direction, content: bytes) -> None:
        side.handshake += content
        while len(side.handshake) >= 4:
            length = int.from_bytes(side.handshake[1:4], "big")
            if len(side.handshake) < 4 + length:
                return
            msg_type = side.handshake[0]
            side.handshake = side.handshake[4 + length :]
            if msg_type == 24:
                self._note("a KeyUpdate: later records of that side are not decrypted")
            if msg_type == _FINISHED and side.phase == "handshake":
                self._keys(client, "TRAFFIC_SECRET_0", "application")
