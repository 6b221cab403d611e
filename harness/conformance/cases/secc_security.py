"""SECC under test, security: the TLS profile, refused TLS peers, PnC signatures and challenges, randomness."""

from __future__ import annotations

from typing import Any

from harness.conformance.fields import tamper_signature
from harness.conformance.model import Case, Category, Need, Profile, SutRole
from harness.conformance.scripts import FAILED_CLOSES, ev_refused
from harness.conformance.secc_rules import CHALLENGE, CHALLENGES_DIFFER, FRESH_SESSION_ID, SESSIONS_DIFFER
from harness.conformance.steps import (
    CheckTls,
    Close,
    Exchange,
    Expect,
    ExpectClosed,
    ExpectRefused,
    Loop,
    Reconnect,
    Send,
    TlsVariant,
    Walk,
)
from harness.conformance.tls_rules import GROUP, SUITE, TLS13, peer_certificate
from iso15118.security.certs import Purpose
from iso15118.session.profile import Stream

__all__ = ["CASES"]

_PNC = Profile(auth="PnC")


def _refused(case_id: str, title: str, variant: TlsVariant, requirements: tuple[str, ...], stimulus: str) -> Case:
    return Case(
        id=case_id,
        title=title,
        sut=SutRole.SECC,
        category=Category.SECURITY,
        requirements=requirements,
        needs=frozenset({Need.TLS, Need.PKI}),
        negative=True,
        stimulus=stimulus,
        expected="the SECC refuses: the handshake fails, or the SECC closes the connection without answering the "
        "first V2G request (TLS 1.3 reports a refused client certificate after the client's Finished)",
        steps=(ExpectRefused(tls=variant),),
    )


def _pnc_refused(
    case_id: str, title: str, stimulus: str, codes: tuple[str, ...], requirements: tuple[str, ...], **send: Any
) -> Case:
    steps: tuple[Any, ...] = (
        Walk(until="AuthorizationReq"),
        Send(kind="AuthorizationReq", **send),
        Expect(kind="AuthorizationRes", codes=codes),
    )
    if all(c.startswith("FAILED") for c in codes):
        steps += (ExpectClosed(within=5.0, requirement=FAILED_CLOSES),)
    return Case(
        id=case_id,
        title=title,
        sut=SutRole.SECC,
        category=Category.SECURITY,
        requirements=requirements,
        needs=frozenset({Need.PNC, Need.PKI}),
        profile=_PNC,
        negative=True,
        stimulus=stimulus,
        expected=f"AuthorizationRes {' or '.join(codes)}: the EV is not authorized"
        + ("; the SECC closes the connection" if len(steps) > 3 else ""),
        steps=steps,
    )


CASES: tuple[Case, ...] = (
    Case(
        id="SECC-SEC-01",
        title="TLS 1.3 with the -20 suites and groups, and a -20 SECC certificate",
        sut=SutRole.SECC,
        category=Category.SECURITY,
        requirements=("V2G20-1264", "V2G20-2356", "V2G20-1856", "V2G20-1858", "V2G20-1634", "V2G20-2674"),
        needs=frozenset({Need.TLS}),
        stimulus="a TLS handshake with the tester's TLS set-up (with --pki, strict: only the -20 parameters, the "
        "vehicle certificate)",
        expected="TLS 1.3, TLS_AES_256_GCM_SHA384 or TLS_CHACHA20_POLY1305_SHA256, secp521r1 or x448; the SECC's "
        "leaf follows the -20 profile (with --pki its chain is verified to the V2G root in the handshake)",
        steps=(
            CheckTls(checks=(TLS13, SUITE, GROUP, peer_certificate(Purpose.SECC_TLS))),
            Exchange(kind="supportedAppProtocolReq", codes=("OK_SuccessfulNegotiation",)),
            Close(),
        ),
    ),
    _refused(
        "SECC-SEC-02",
        "A TLS 1.2-only EV is refused",
        TlsVariant.TLS12_ONLY,
        ("V2G20-2356", "V2G20-1264"),
        "a ClientHello offering TLS 1.2 only",
    ),
    _refused(
        "SECC-SEC-03",
        "A vehicle certificate from an unknown root is refused",
        TlsVariant.UNKNOWN_ROOT,
        ("V2G20-1264", "V2G20-2401"),
        "a vehicle certificate chaining to a root the SECC does not trust",
    ),
    _refused(
        "SECC-SEC-04",
        "An expired vehicle certificate is refused",
        TlsVariant.EXPIRED,
        ("V2G20-1264",),
        "a vehicle certificate whose validity ended yesterday",
    ),
    _refused(
        "SECC-SEC-05",
        "An EV without a certificate is refused (mutual authentication)",
        TlsVariant.NO_CERTIFICATE,
        ("V2G20-1264", "V2G20-2400"),
        "no client certificate",
    ),
    _refused(
        "SECC-SEC-06",
        "A vehicle certificate with a P-256 key is refused",
        TlsVariant.WRONG_ALGORITHM,
        ("V2G20-2674", "V2G20-2319"),
        "a vehicle certificate with a secp256r1 key (-2 / lab style)",
    ),
    _pnc_refused(
        "SECC-SEC-07",
        "PnC: a tampered authorization signature",
        "PnC AuthorizationReq whose SignatureValue has one bit flipped",
        ("FAILED_SignatureError",),
        ("V2G20-1063", "fact sheet 2.11 (invalid signature -> FAILED_SignatureError)"),
        edit=tamper_signature,
        label="signature bit flipped",
    ),
    _pnc_refused(
        "SECC-SEC-08",
        "PnC: a wrong GenChallenge",
        "PnC AuthorizationReq, correctly signed, echoing 16 random bytes instead of the GenChallenge",
        ("WARNING_ChallengeInvalid",),
        ("V2G20-697", "V2G20-698", "fact sheet 2.11 (challenge mismatch)"),
        context={"challenge": bytes.fromhex("0badc0de" * 4)},
        label="wrong GenChallenge",
    ),
    _pnc_refused(
        "SECC-SEC-09",
        "PnC: a contract from an untrusted MO root",
        "PnC AuthorizationReq with a well-formed contract chain of another PKI",
        ("WARNING*", "FAILED*"),
        ("V2G20-1063", "fact sheet 2.11 (WARNING_Certificate*)"),
        context={"contract": lambda ctx: ctx.config.credentials.foreign_contract()},
        label="untrusted contract",
    ),
    _pnc_refused(
        "SECC-SEC-10",
        "PnC: an expired contract certificate",
        "PnC AuthorizationReq whose contract leaf has expired",
        ("WARNING_CertificateExpired",),
        ("fact sheet 2.4/2.11 (WARNING_CertificateExpired)",),
        context={"contract": lambda ctx: ctx.config.credentials.expired_contract()},
        label="expired contract",
    ),
    Case(
        id="SECC-SEC-11",
        title="Metering confirmation with a tampered signature",
        sut=SutRole.SECC,
        category=Category.SECURITY,
        requirements=("V2G20-2704", "fact sheet 2.9 (FAILED_MeteringSignatureNotValid)"),
        needs=frozenset({Need.PNC, Need.PKI, Need.SIDE_STREAMS}),
        profile=_PNC,
        negative=True,
        stimulus="in a PnC session, MeteringConfirmationReq on 0x8102 whose SignatureValue has one bit flipped",
        expected="MeteringConfirmationRes FAILED_MeteringSignatureNotValid, then the SECC closes the connection",
        steps=(
            Walk(until="AC_ChargeLoopReq"),
            Loop(count=2),
            *ev_refused(
                Send(
                    kind="MeteringConfirmationReq",
                    stream=Stream.METERING_CONFIRMATION,
                    edit=tamper_signature,
                    label="signature bit flipped",
                ),
                ("FAILED_MeteringSignatureNotValid",),
            ),
        ),
    ),
    Case(
        id="SECC-SEC-12",
        title="Every session gets a fresh random SessionID",
        sut=SutRole.SECC,
        category=Category.SECURITY,
        requirements=("V2G20-2621",),
        negative=True,
        stimulus="two sessions on two connections",
        expected="two different, non-zero SessionIDs",
        steps=(
            Exchange(kind="supportedAppProtocolReq", codes=("OK_SuccessfulNegotiation",), preamble=True),
            Exchange(kind="SessionSetupReq", codes=("OK_NewSessionEstablished",), checks=(FRESH_SESSION_ID,)),
            Reconnect(),
            Exchange(kind="supportedAppProtocolReq", codes=("OK_SuccessfulNegotiation",), preamble=True),
            Exchange(
                kind="SessionSetupReq", codes=("OK_NewSessionEstablished",), checks=(FRESH_SESSION_ID, SESSIONS_DIFFER)
            ),
            Close(),
        ),
    ),
    Case(
        id="SECC-SEC-13",
        title="Every PnC session gets a fresh 16-byte GenChallenge",
        sut=SutRole.SECC,
        category=Category.SECURITY,
        requirements=("V2G20-697", "V2G20-698", "V2G20-835"),
        needs=frozenset({Need.PNC, Need.PKI}),
        profile=_PNC,
        negative=True,
        stimulus="AuthorizationSetup in two sessions",
        expected="each AuthorizationSetupRes offers PnC with a 16-byte GenChallenge, and the two differ",
        steps=(
            Walk(until="AuthorizationSetupReq"),
            Exchange(kind="AuthorizationSetupReq", checks=(CHALLENGE,)),
            Reconnect(),
            Walk(until="AuthorizationSetupReq"),
            Exchange(kind="AuthorizationSetupReq", checks=(CHALLENGE, CHALLENGES_DIFFER)),
            Close(),
        ),
    ),
)
