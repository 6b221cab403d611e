"""TLS for ISO 15118-20: :class:`ssl.SSLContext` factories for the SECC and the EVCC, and handshake reports.

No sockets here; :mod:`iso15118.transport` wraps connections with these contexts.

What the strict (default) contexts enforce, and how:

* TLS 1.3 only `[V2G20-1264]` `[V2G20-2356]`: ``minimum_version = maximum_version = TLSv1_3``.
* Cipher suites TLS_AES_256_GCM_SHA384 then TLS_CHACHA20_POLY1305_SHA256 `[V2G20-1856]` `[V2G20-1858]`:
  ``SSL_CTX_set_ciphersuites`` through :mod:`.libssl` (Python's ``set_ciphers`` only reaches TLS <= 1.2).
* Groups secp521r1, x448 `[V2G20-1634]` `[V2G20-1637]`: ``SSL_CTX_set1_groups_list("P-521:X448")``.
* Signature algorithms ecdsa_secp521r1_sha512, ed448 `[V2G20-1667]` `[V2G20-1668]`:
  ``SSL_CTX_set1_sigalgs_list`` (offered and accepted) and, on the SECC, ``SSL_CTX_set1_client_sigalgs_list``
  (CertificateRequest).
* Peer chain verified against ``trust_roots``, no hostname check (link-local peers): ``verify_mode``
  CERT_REQUIRED (EVCC; SECC with mutual authentication, else CERT_OPTIONAL), ``check_hostname = False``,
  ``VERIFY_X509_STRICT``.
* certificate_authorities from the trusted roots, in the SECC's CertificateRequest `[V2G20-2401]` and the
  EVCC's ClientHello `[V2G20-1006]`: ``SSL_CTX_set_client_CA_list`` / ``SSL_CTX_set0_CA_list``.
* Whom the SECC trusts for vehicle certificates: ``trust_roots`` only, which must be the vehicle trust
  anchors (OEM roots; the V2G root only where vehicles anchor there `[V2G20-2331]`) -- never the roots of the
  CPO and CPS chains merely because they are V2G roots, or a charger's own SECC leaf passes as a car.
* The -20 profile of the peer's leaf (secp521r1 or Ed448 key, digitalSignature, not a CA, size) and its
  role (:mod:`.roles`: an SECC leaf is no vehicle certificate, a CPS or vehicle leaf no SECC certificate):
  :func:`check_peer` after the handshake, on the chain OpenSSL verified (``SSL_get0_verified_chain``). The
  Sub-CAs' validity, signatures, CA flags, path length and key usage are OpenSSL's rules, not our profile.
* A refused peer is named: :func:`tls_failure` reports the subject of the certificate OpenSSL refused and,
  when it is a certificate of another role, which role its markers name (:func:`.libssl.watch_verification`
  keeps a copy of a refused chain).
* A strict context refuses to load its own certificate unless its key is secp521r1 or Ed448 (OpenSSL
  would only fail later with a misleading "unsupported protocol").

Also: the SECC issues no session tickets (``num_tickets = 0``), so every session authenticates in full;
the ClientHello carries OpenSSL's TLS_EMPTY_RENEGOTIATION_INFO_SCSV (0x00FF) marker next to the two suites,
which is a signalling value, not a cipher suite.

Not enforced / not available from CPython: OCSP stapling `[V2G20-2388]` and status_request
`[V2G20-2372]`, max_fragment_length `[V2G20-2446]`, choosing the server chain from the client's
certificate_authorities `[V2G20-1007]` (one chain per context).

:attr:`TlsMode.TOLERANT` is the separate lab mode for peers such as Josev (TLS 1.2, prime256v1, SHA-256
certificates): TLS 1.2 and 1.3, the -20 parameters first and P-256/P-384/X25519, AES-128 and
SHA-256/384 signatures after them. It must be asked for explicitly.

:attr:`TlsMode.ISO2` is the ISO 15118-2 profile (Josev, EVerest and the -2 cars and chargers): TLS 1.2 only,
server authentication only (the SECC never asks for a client certificate; -2 has no vehicle certificate),
cipher suite TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 (OpenSSL ``ECDHE-ECDSA-AES128-SHA256``) on the group
secp256r1 with ecdsa_secp256r1_sha256 signatures, and certificates of the -2 profile (secp256r1,
ecdsa-with-SHA256, :data:`~iso15118.security.certs.ISO2`). ISO 15118-2 also lists
TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256 (static ECDH, OpenSSL ``ECDH-ECDSA-AES128-SHA256``); OpenSSL 3 no
longer implements static-ECDH suites, so it can be neither offered nor accepted here -- a peer that offers
only that suite cannot connect. The -2 contexts never change the strict -20 ones.

Key logging: ``TlsConfig.keylog_filename`` makes OpenSSL append NSS key-log lines (TLS 1.3:
CLIENT_HANDSHAKE_TRAFFIC_SECRET, SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0, ...) so Wireshark
or tshark can decrypt a capture. Those are session secrets: :func:`prepare_keylog_file` creates the file
owner-only (0600), or makes an existing one so, before OpenSSL opens it for appending. The library reads
no environment variables: callers honour ``SSLKEYLOGFILE`` by passing ``os.environ`` to
:func:`keylog_from_environment` or :meth:`TlsConfig.with_keylog_from`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import ssl
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography import x509

from iso15118.errors import ConfigError
from iso15118.security import libssl
from iso15118.security.certs import (
    ISO2,
    STRICT,
    TOLERANT,
    Purpose,
    check_end_entity,
    describe_certificate,
    load_certificates,
    subject_of,
)
from iso15118.security.issuing import PROFILE_ALGORITHMS, KeyAlgorithm, key_algorithm_of
from iso15118.security.tlserrors import tls_failure

__all__ = [
    "CIPHERSUITES",
    "GROUPS",
    "ISO2_CIPHERS",
    "ISO2_GROUPS",
    "ISO2_SIGALGS",
    "SIGALGS",
    "HandshakeInfo",
    "TlsConfig",
    "TlsMode",
    "check_peer",
    "describe_handshake",
    "evcc_context",
    "keylog_from_environment",
    "prepare_keylog_file",
    "secc_context",
    "tls_failure",
]

CIPHERSUITES = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"  # table 6 [V2G20-1856/1858]
GROUPS = "P-521:X448"  # table 7 [V2G20-1634/1637]
SIGALGS = "ecdsa_secp521r1_sha512:ed448"  # table 8 [V2G20-1667/1668]

_TOLERANT_CIPHERSUITES = CIPHERSUITES + ":TLS_AES_128_GCM_SHA256"
_TOLERANT_GROUPS = GROUPS + ":P-256:P-384:X25519"
_TOLERANT_SIGALGS = SIGALGS + ":ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384"
_TOLERANT_TLS12_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES128-SHA256",  # the last one: ISO 15118-2 peers
    )
)


class TlsMode(StrEnum):
    """Strict -20 TLS, the explicitly chosen lab mode for non-conforming peers, or ISO 15118-2 TLS 1.2."""

    STRICT = "strict"
    TOLERANT = "tolerant"
    ISO2 = "iso2"


#: ISO 15118-2: TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 (TLS_ECDH_ECDSA_... is gone from OpenSSL 3).
ISO2_CIPHERS = "ECDHE-ECDSA-AES128-SHA256"
ISO2_GROUPS = "P-256"
ISO2_SIGALGS = "ecdsa_secp256r1_sha256"


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsConfig:
    """What a TLS endpoint presents and trusts.

    ``certificate_chain``: PEM, leaf first, then Sub-CA 2 and Sub-CA 1 (the PKI's ``chains/*_chain.pem``).
    ``trust_roots``: PEM files of the roots to verify the peer with (EVCC: V2G roots; SECC: the vehicle trust
    anchors, i.e. OEM roots, and a V2G root only where vehicles anchor there `[V2G20-2331]`).
    ``require_client_certificate`` applies to the SECC only.
    """

    certificate_chain: Path | None = None
    private_key: Path | None = None
    trust_roots: tuple[Path, ...] = ()
    require_client_certificate: bool = True
    mode: TlsMode = TlsMode.STRICT
    keylog_filename: Path | None = None
    send_ca_names: bool = True

    def with_keylog_from(self, environ: Mapping[str, str]) -> TlsConfig:
        """This config with ``keylog_filename`` from SSLKEYLOGFILE in ``environ``, unless one is set."""
        if self.keylog_filename is not None:
            return self
        return dataclasses.replace(self, keylog_filename=keylog_from_environment(environ))


def keylog_from_environment(environ: Mapping[str, str]) -> Path | None:
    """The key-log path named by ``SSLKEYLOGFILE`` in ``environ`` (pass ``os.environ``), or None."""
    value = environ.get("SSLKEYLOGFILE", "").strip()
    return Path(value) if value else None


def prepare_keylog_file(path: Path) -> Path:
    """Create the key log ``path`` owner-only (0600), or restrict an existing regular file to 0600; returns it.

    Key logs hold the secrets of every session logged, and OpenSSL would create the file with the umask's
    mode (usually 0644). Devices and pipes (``/dev/stdout``...) are left as they are.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISREG(mode) and stat.S_IMODE(mode) & 0o077:
                os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ConfigError(f"cannot prepare the TLS key log {path}: {exc.strerror or exc}") from None
    return path


def _set_keylog(context: ssl.SSLContext, config: TlsConfig) -> None:
    if config.keylog_filename is not None:
        context.keylog_filename = str(prepare_keylog_file(config.keylog_filename))


def _watch(context: ssl.SSLContext) -> None:
    """Keep refused peer chains for :func:`tls_failure` (needs the libssl bridge; strict mode always has it)."""
    if libssl.available()[0]:
        libssl.watch_verification(context)


def _apply_iso2(context: ssl.SSLContext) -> None:
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    context.set_ciphers(ISO2_CIPHERS)
    if libssl.available()[0]:
        libssl.set_groups(context, ISO2_GROUPS)
        libssl.set_sigalgs(context, ISO2_SIGALGS)
    else:
        context.set_ecdh_curve("prime256v1")


def _apply_parameters(context: ssl.SSLContext, config: TlsConfig, *, server: bool) -> None:
    if config.mode is TlsMode.ISO2:
        _apply_iso2(context)
        return
    strict = config.mode is TlsMode.STRICT
    context.minimum_version = ssl.TLSVersion.TLSv1_3 if strict else ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.options |= ssl.OP_NO_COMPRESSION
    if strict:
        context.verify_flags |= ssl.VERIFY_X509_STRICT
    else:
        context.set_ciphers(_TOLERANT_TLS12_CIPHERS)
    ok, reason = libssl.available()
    if not ok:
        if strict:
            raise ConfigError(f"strict -20 TLS needs the libssl bridge, which is unavailable here: {reason}")
        return
    libssl.set_ciphersuites(context, CIPHERSUITES if strict else _TOLERANT_CIPHERSUITES)
    libssl.set_groups(context, GROUPS if strict else _TOLERANT_GROUPS)
    libssl.set_sigalgs(context, SIGALGS if strict else _TOLERANT_SIGALGS)
    if server:
        libssl.set_client_sigalgs(context, SIGALGS if strict else _TOLERANT_SIGALGS)


def _load_identity(context: ssl.SSLContext, config: TlsConfig) -> None:
    if config.certificate_chain is None or config.private_key is None:
        raise ConfigError("a TLS identity needs both certificate_chain and private_key")
    if config.mode in (TlsMode.STRICT, TlsMode.ISO2):
        # OpenSSL would only fail the handshake obscurely ("unsupported protocol") with such a key.
        try:
            data = config.certificate_chain.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {config.certificate_chain}: {exc}") from None
        leaf = load_certificates(data, source=str(config.certificate_chain))[0]
        algorithm = key_algorithm_of(leaf.public_key())
        if config.mode is TlsMode.ISO2 and algorithm is not KeyAlgorithm.SECP256R1:
            found = algorithm.value if algorithm else type(leaf.public_key()).__name__
            raise ConfigError(
                f"{config.certificate_chain}: ISO 15118-2 TLS needs a secp256r1 certificate, this one has a {found} key"
            )
        if config.mode is TlsMode.STRICT and algorithm not in PROFILE_ALGORITHMS:
            found = algorithm.value if algorithm else type(leaf.public_key()).__name__
            raise ConfigError(
                f"{config.certificate_chain}: strict -20 TLS needs a secp521r1 or Ed448 certificate "
                f"[V2G20-2674] [V2G20-2319], this one has a {found} key (lab peers: mode=tolerant)"
            )
    try:
        context.load_cert_chain(config.certificate_chain, config.private_key)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"cannot load TLS identity {config.certificate_chain} / {config.private_key}: {exc}"
        ) from None


def _load_roots(context: ssl.SSLContext, config: TlsConfig, *, server: bool) -> None:
    for root in config.trust_roots:
        try:
            context.load_verify_locations(cafile=root)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"cannot load trusted root {root}: {exc}") from None
    if config.send_ca_names and libssl.available()[0]:
        libssl.set_ca_names(context, [str(root) for root in config.trust_roots], server=server)


def secc_context(config: TlsConfig) -> ssl.SSLContext:
    """A server context for the SECC: its chain and key, client certificates checked against ``trust_roots``.

    Mutual authentication `[V2G20-1264]`: ``verify_mode`` is CERT_REQUIRED when
    ``require_client_certificate`` (the default), otherwise CERT_OPTIONAL; with no ``trust_roots`` and no
    requirement, no client certificate is requested. In :attr:`TlsMode.ISO2` the SECC authenticates itself
    only: no client certificate is requested whatever the other fields say.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _apply_parameters(context, config, server=True)
    _load_identity(context, config)
    if config.mode is TlsMode.ISO2:
        context.verify_mode = ssl.CERT_NONE  # -2: server authentication only
        context.num_tickets = 0
        _set_keylog(context, config)
        return context
    if config.require_client_certificate and not config.trust_roots:
        raise ConfigError("mutual authentication needs trust_roots (OEM / V2G roots) to verify vehicles with")
    if config.trust_roots:
        _load_roots(context, config, server=True)
        context.verify_mode = ssl.CERT_REQUIRED if config.require_client_certificate else ssl.CERT_OPTIONAL
    else:
        context.verify_mode = ssl.CERT_NONE
    context.num_tickets = 0  # no session resumption: every -20 session authenticates afresh
    _watch(context)
    _set_keylog(context, config)
    return context


def evcc_context(config: TlsConfig) -> ssl.SSLContext:
    """A client context for the EVCC: verifies the SECC against ``trust_roots`` (V2G roots), no hostname.

    With ``certificate_chain``/``private_key`` set it presents the vehicle certificate when asked.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _apply_parameters(context, config, server=False)
    context.check_hostname = False  # link-local peers have no name to check
    context.verify_mode = ssl.CERT_REQUIRED
    if not config.trust_roots:
        raise ConfigError("the EVCC needs trust_roots (V2G roots) to verify the SECC with")
    _load_roots(context, config, server=False)
    if config.certificate_chain is not None or config.private_key is not None:
        _load_identity(context, config)
    _watch(context)
    _set_keylog(context, config)
    return context


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeInfo:
    """What a finished handshake negotiated and whom it authenticated."""

    version: str
    cipher: str
    group: str | None
    peer_signature: str | None
    peer_subject: str | None
    peer_key: str | None
    peer_certificate: bytes | None

    def summary(self) -> str:
        """One line for logs: version, cipher, group, peer."""
        peer = self.peer_subject or "no peer certificate"
        extra = f", {self.peer_key} key signed {self.peer_signature}" if self.peer_key else ""
        return f"{self.version} {self.cipher} group {self.group or '?'}; peer {peer}{extra}"


def describe_handshake(connection: ssl.SSLObject | ssl.SSLSocket) -> HandshakeInfo:
    """Describe the finished handshake of ``connection`` (an SSLObject from asyncio, or an SSLSocket)."""
    cipher = connection.cipher()
    der = connection.getpeercert(binary_form=True)
    cert = x509.load_der_x509_certificate(der) if der else None
    return HandshakeInfo(
        version=connection.version() or "?",
        cipher=cipher[0] if cipher else "?",
        group=libssl.negotiated_group(connection),
        peer_signature=libssl.peer_signature(connection),
        peer_subject=subject_of(cert) if cert is not None else None,
        peer_key=describe_certificate(cert).key_type if cert is not None else None,
        peer_certificate=der,
    )


def check_peer(
    connection: ssl.SSLObject | ssl.SSLSocket,
    *,
    purpose: Purpose,
    now: dt.datetime,
    mode: TlsMode = TlsMode.STRICT,
) -> HandshakeInfo:
    """Describe the handshake and check the peer's leaf against the -20 profile (strict) or lab rules.

    ``purpose`` is :attr:`Purpose.SECC_TLS` on the EVCC and :attr:`Purpose.VEHICLE_TLS` on the SECC.
    Raises :class:`~iso15118.security.certs.ChainValidationError` (wrong algorithm, wrong key usage, wrong
    role...) carrying the peer's subject; a missing peer certificate is accepted here, because
    ``verify_mode`` already decided whether one is required. The role check sees the whole verified chain
    where the libssl bridge can reach it, else the leaf alone.
    """
    info = describe_handshake(connection)
    if info.peer_certificate is not None:
        cert = x509.load_der_x509_certificate(info.peer_certificate)
        policy = {TlsMode.STRICT: STRICT, TlsMode.TOLERANT: TOLERANT, TlsMode.ISO2: ISO2}[mode]
        chain = libssl.verified_chain(connection) if libssl.available()[0] else None
        issuers = [x509.load_der_x509_certificate(der) for der in chain[1:]] if chain else []
        check_end_entity(cert, purpose=purpose, now=now, policy=policy, issuers=issuers)
    return info
