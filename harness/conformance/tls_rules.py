"""Checks on the TLS session with the SUT: version, cipher suite, group, and the SUT's certificate profile."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509

from harness.conformance.checks import Check, check
from harness.conformance.context import Context
from iso15118.errors import SecurityError
from iso15118.security.certs import STRICT, TOLERANT, Purpose, check_end_entity

__all__ = ["GROUP", "SUITE", "TLS13", "peer_certificate"]

_SUITES = ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
_GROUPS = ("secp521r1", "X448")


@check("TLS 1.3", "V2G20-1264/2356")
def TLS13(ctx: Context, connection: Any) -> str | None:
    version = connection.tls.version
    return None if version == "TLSv1.3" else f"negotiated {version}"


@check("cipher suite of table 6", "V2G20-1856/1858")
def SUITE(ctx: Context, connection: Any) -> str | None:
    cipher = connection.tls.cipher
    return None if cipher in _SUITES else f"negotiated {cipher}"


@check("key-exchange group of table 7", "V2G20-1634/1637")
def GROUP(ctx: Context, connection: Any) -> str | None:
    group = connection.tls.group
    if group is None:
        return None  # the libssl bridge could not tell; not a finding
    return None if group in _GROUPS else f"negotiated {group}"


def peer_certificate(purpose: Purpose) -> Check:
    """The SUT's TLS certificate: present, valid now, -20 profile (secp521r1/Ed448, key usage) for ``purpose``."""

    def fn(ctx: Context, connection: Any) -> str | None:
        der = connection.tls.peer_certificate
        if der is None:
            return "the SUT presented no certificate"
        cert = x509.load_der_x509_certificate(der)
        policy = TOLERANT if ctx.config.tolerant else STRICT
        try:
            check_end_entity(cert, purpose=purpose, now=dt.datetime.now(dt.UTC), policy=policy)
        except SecurityError as exc:
            return str(exc)
        return None

    requirement = "V2G20-1264/2674/2319" if purpose is Purpose.VEHICLE_TLS else "V2G20-2674/2319"
    return Check(f"the SUT's {purpose.value} certificate follows the -20 profile", fn, requirement)
