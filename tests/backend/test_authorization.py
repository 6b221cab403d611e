"""Authorizations through the CSMS: EIM and PnC round trips (Authorize with the certificate hash data, OCSP through
GetCertificateStatus), a revoked contract refused with WARNING_CertificateRevoked, a blocked idToken refused, and
-20 CertificateInstallation through the CSMS (Get15118EVCertificate) whose contract the next PnC session uses."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from cryptography import x509

from harness.csms import CsmsSettings, OcspResponder, ReferenceCsms
from iso15118.backend.rpc import OcppVersion
from iso15118.config import EvccConfig, SeccConfig
from iso15118.security.credentials import ContractCredentials
from iso15118.security.profiles import DEFAULT_EVCCID, Entity
from iso15118.security.provider import LocalCps
from iso15118.simple import SimpleEV, SimpleEVSE
from tests.backend.conftest import Credentials
from tests.backend.support import charger, until
from tests.journal.support import run_pair

SECC = SeccConfig(authorization=("EIM", "PnC"), certificate_installation=True)


def _settings(creds: Credentials, **changes: object) -> CsmsSettings:
    pki = creds.pki
    ocsp = OcspResponder([pki[Entity.MO_SUB_CA2], pki[Entity.MO_SUB_CA1]])
    return dataclasses.replace(CsmsSettings(ocsp=ocsp, cps=LocalCps.from_pkis(pki)), **changes)  # type: ignore[arg-type]


def _calls(csms: ReferenceCsms, action: str) -> list[dict[str, object]]:
    return [
        json.loads(f["text"])[3] for f in csms.records.frames("CS1") if f["action"] == action and f["direction"] == "in"
    ]


def test_pnc_round_trip_with_ocsp_and_a_revoked_contract_refused(creds: Credentials) -> None:
    async def main() -> None:
        async with ReferenceCsms(_settings(creds)) as csms, charger(csms) as c:
            evcc = EvccConfig(authorization="PnC", credentials=creds.contract(), max_loops=3)
            run = run_pair(
                evcc,
                evse=c.backend.controller(SimpleEVSE()),
                secc=SECC,
                pnc=creds.verifier(),  # type: ignore[arg-type]
                secc_observers=[c.backend.observer],
            )
            ev_out, secc_out = await run
            assert ev_out.ok and secc_out.negotiated["authorization"] == "PnC"
            authorize = _calls(csms, "Authorize")[-1]
            leaf = creds.pki[Entity.CONTRACT_LEAF].certificate
            assert authorize["idToken"] == {"idToken": creds.pki.identities.emaid.replace("-", ""), "type": "eMAID"}
            hashed = authorize["iso15118CertificateHashData"]
            assert isinstance(hashed, list) and hashed[0]["serialNumber"] == format(leaf.serial_number, "x")
            assert _calls(csms, "GetCertificateStatus")
            # The operator revokes the contract: OCSP says so, the EV hears WARNING_CertificateRevoked.
            assert csms.settings.ocsp is not None
            csms.settings.ocsp.revoked.add(leaf.serial_number)
            ev_out, secc_out = await run_pair(
                dataclasses.replace(evcc, authorization_attempts=1),
                evse=c.backend.controller(SimpleEVSE()),  # type: ignore[arg-type]
                secc=SECC,
                pnc=creds.verifier(),
                secc_observers=[c.backend.observer],
            )
            assert not ev_out.ok and "WARNING_CertificateRevoked" in (ev_out.failure or ""), ev_out.failure
            await until(lambda: c.outbox.pending == 0, "the outbox to drain")
            assert csms.records.invalid() == []

    asyncio.run(main())


def test_eim_round_trip_and_a_blocked_token_refused(creds: Credentials) -> None:
    async def main() -> None:
        settings = _settings(creds, blocked_tokens=frozenset({"BLOCKED-EV"}))
        async with ReferenceCsms(settings) as csms, charger(csms) as c:
            ok, _ = await run_pair(
                EvccConfig(max_loops=2),
                evse=c.backend.controller(SimpleEVSE()),  # type: ignore[arg-type]
                secc_observers=[c.backend.observer],
            )
            assert ok.ok and _calls(csms, "Authorize")[-1]["idToken"] == {
                "idToken": DEFAULT_EVCCID,
                "type": "MacAddress",
            }
            blocked, _ = await run_pair(
                EvccConfig(evcc_id="BLOCKED-EV", max_loops=2, authorization_attempts=1),
                evse=c.backend.controller(SimpleEVSE()),  # type: ignore[arg-type]
                secc_observers=[c.backend.observer],
            )
            assert not blocked.ok and "WARNING_EIMAuthorizationFailure" in (blocked.failure or ""), blocked.failure

    asyncio.run(main())


@pytest.mark.parametrize("version", [OcppVersion.V201, OcppVersion.V21])
def test_certificate_installation_through_the_csms_then_pnc_with_the_installed_contract(
    creds: Credentials, version: OcppVersion
) -> None:
    async def main() -> None:
        async with ReferenceCsms(_settings(creds)) as csms, charger(csms, version=version) as c:
            ev = SimpleEV()
            install = EvccConfig(
                authorization="PnC", install_certificate=True, provisioning=creds.provisioning(), max_loops=2
            )
            ev_out, secc_out = await run_pair(
                install,
                ev=ev,
                evse=c.backend.controller(SimpleEVSE()),
                secc=SECC,
                pnc=creds.verifier(),  # type: ignore[arg-type]
                secc_observers=[c.backend.observer],
            )
            assert ev_out.ok and secc_out.ok, (ev_out.failure, secc_out.failure)
            request = _calls(csms, "Get15118EVCertificate")[-1]
            assert request["iso15118SchemaVersion"] == "urn:iso:std:iso:15118:-20:CommonMessages"
            if version is OcppVersion.V21:
                assert request["maximumContractCertificateChains"] == 1
            contract = next(r.values["credentials"] for r in ev.reports if r.event == "contract_installed")
            assert isinstance(contract, ContractCredentials)
            serial = x509.load_der_x509_certificate(contract.chain[0]).serial_number
            # The next session authorizes with the installed contract, not with the PKI's own.
            again = EvccConfig(authorization="PnC", credentials=contract, max_loops=2)
            ev2, _ = await run_pair(
                again,
                evse=c.backend.controller(SimpleEVSE()),
                secc=SECC,
                pnc=creds.verifier(),  # type: ignore[arg-type]
                secc_observers=[c.backend.observer],
            )
            assert ev2.ok
            hashed = _calls(csms, "Authorize")[-1]["iso15118CertificateHashData"]
            assert isinstance(hashed, list) and hashed[0]["serialNumber"] == format(serial, "x")
            assert csms.records.invalid() == []

    asyncio.run(main())
