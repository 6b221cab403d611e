"""EVCC under test, security: the TLS profile it negotiates, its vehicle certificate, refused SECC certificates."""

from __future__ import annotations

from harness.conformance.model import Case, Category, Need, SutRole
from harness.conformance.steps import CheckTls, Close, ExpectRefused, ExpectRequest, Respond, TlsVariant
from harness.conformance.tls_rules import GROUP, SUITE, TLS13, peer_certificate
from iso15118.security.certs import Purpose

__all__ = ["CASES"]


def _refused(case_id: str, title: str, variant: TlsVariant, requirements: tuple[str, ...], stimulus: str) -> Case:
    return Case(
        id=case_id,
        title=title,
        sut=SutRole.EVCC,
        category=Category.SECURITY,
        requirements=requirements,
        needs=frozenset({Need.TLS, Need.PKI}),
        negative=True,
        stimulus=stimulus,
        expected="the EV refuses: the handshake fails, or it closes the connection without sending a V2G request",
        steps=(ExpectRefused(tls=variant),),
    )


CASES: tuple[Case, ...] = (
    Case(
        id="EVCC-SEC-01",
        title="TLS 1.3 with the -20 parameters; the EV presents a -20 vehicle certificate",
        sut=SutRole.EVCC,
        category=Category.SECURITY,
        requirements=("V2G20-1264", "V2G20-1237", "V2G20-2365", "V2G20-1856", "V2G20-1634", "V2G20-2674"),
        needs=frozenset({Need.TLS, Need.PKI}),
        stimulus="the tester SECC accepts TLS 1.3 with the -20 parameters and requests a client certificate",
        expected="TLS 1.3, a table 6 suite, a table 7 group; the vehicle certificate verifies to the OEM or V2G "
        "root and follows the -20 profile; then SupportedAppProtocolReq",
        steps=(
            CheckTls(checks=(TLS13, SUITE, GROUP, peer_certificate(Purpose.VEHICLE_TLS))),
            ExpectRequest(kind="supportedAppProtocolReq"),
            Respond(),
            Close(),
        ),
    ),
    _refused(
        "EVCC-SEC-02",
        "A TLS 1.2-only SECC is refused",
        TlsVariant.TLS12_ONLY,
        ("V2G20-1237", "V2G20-2356", "V2G20-2365"),
        "the tester SECC accepts TLS 1.2 only",
    ),
    _refused(
        "EVCC-SEC-03",
        "An SECC certificate from an unknown root is refused",
        TlsVariant.UNKNOWN_ROOT,
        ("V2G20-1264", "fact sheet 4.2 (SECC chain from the V2G root)"),
        "an SECC certificate chaining to a root the EV does not trust",
    ),
    _refused(
        "EVCC-SEC-04",
        "An expired SECC certificate is refused",
        TlsVariant.EXPIRED,
        ("V2G20-1264",),
        "an SECC certificate whose validity ended yesterday",
    ),
    _refused(
        "EVCC-SEC-05",
        "An SECC certificate with a P-256 key is refused",
        TlsVariant.WRONG_ALGORITHM,
        ("V2G20-2674", "V2G20-2319"),
        "an SECC certificate with a secp256r1 key (-2 / lab style)",
    ),
)
