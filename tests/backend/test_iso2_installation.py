"""ISO 15118-2 CertificateInstallation through the CSMS: the -2 SECC relays the EV's signed request on the same
provider seam as -20 (Get15118EVCertificate with the -2 schema version), the EV installs the contract the CSMS's
CPS issued and authorizes with it in the same session."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from cryptography import x509

from harness.csms import CsmsSettings, ReferenceCsms
from iso15118.backend.rpc import OcppVersion
from iso15118.constants import NS_ISO2
from iso15118.security.credentials import ContractCredentials
from iso15118.security.iso2_cps import common_name
from iso15118.security.pki import build_pki
from iso15118.security.provider import LocalCps
from iso15118.session.events import EndReason
from iso15118.simple import SimpleEV, SimpleEVSE
from tests.backend.support import charger
from tests.iso2.pncsupport import pnc, pnc_evcc, pnc_secc, provisioning
from tests.journal.support import run_pair


@pytest.mark.parametrize("version", [OcppVersion.V201, OcppVersion.V21])
def test_iso2_installation_through_the_csms_then_pnc(version: OcppVersion) -> None:
    pki = build_pki(kind="iso2", now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))

    async def main() -> None:
        settings = CsmsSettings(cps=LocalCps.from_pkis(pki))
        async with ReferenceCsms(settings) as csms, charger(csms, version=version) as c:
            ev = SimpleEV()
            ev_out, secc_out = await run_pair(
                pnc_evcc(provisioning=provisioning(pki)),
                ev=ev,
                evse=c.backend.controller(SimpleEVSE()),  # the backend's controller is the certificate provider
                secc=pnc_secc(),
                pnc=pnc(pki),
                secc_observers=[c.backend.observer],
            )
            assert ev_out.ok and secc_out.ok, (ev_out.failure, secc_out.failure)
            assert ev_out.negotiated["authorization"] == "PnC"
            assert ev_out.negotiated["contract_installed"], ev_out.negotiated
            frames = [
                json.loads(f["text"])[3]
                for f in csms.records.frames("CS1")
                if f["action"] == "Get15118EVCertificate" and f["direction"] == "in"
            ]
            assert frames and frames[-1]["iso15118SchemaVersion"] == NS_ISO2
            assert frames[-1]["action"] == "Install"
            assert any(r.event == "contract_installed" for r in ev.reports)
            authorize = [
                json.loads(f["text"])[3]
                for f in csms.records.frames("CS1")
                if f["action"] == "Authorize" and f["direction"] == "in"
            ][-1]
            assert authorize["idToken"]["type"] == "eMAID"
            # The next session authorizes with the installed contract (the report carries its credentials).
            installed = next(r.values["credentials"] for r in ev.reports if r.event == "contract_installed")
            assert isinstance(installed, ContractCredentials)
            again, _ = await run_pair(
                pnc_evcc(credentials=installed),
                evse=c.backend.controller(SimpleEVSE()),
                secc=pnc_secc(),
                pnc=pnc(pki),
                secc_observers=[c.backend.observer],
            )
            assert again.ok and "contract_installed" not in again.negotiated, again
            token = [
                json.loads(f["text"])[3]
                for f in csms.records.frames("CS1")
                if f["action"] == "Authorize" and f["direction"] == "in"
            ][-1]["idToken"]
            assert token == {
                "idToken": common_name(x509.load_der_x509_certificate(installed.chain[0])),
                "type": "eMAID",
            }
            assert csms.records.invalid() == []

    asyncio.run(main())


def test_iso2_installation_refused_by_the_csms_is_failed_no_certificate_available() -> None:
    pki = build_pki(kind="iso2", now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))

    async def main() -> None:
        async with ReferenceCsms(CsmsSettings(cps=None)) as csms, charger(csms) as c:
            ev_out, secc_out = await run_pair(
                pnc_evcc(provisioning=provisioning(pki)),
                evse=c.backend.controller(SimpleEVSE()),
                secc=pnc_secc(),
                pnc=pnc(pki),
                secc_observers=[c.backend.observer],
            )
            assert not ev_out.ok and ev_out.ended.reason is EndReason.FAILED_RECEIVED, ev_out
            assert "FAILED_NoCertificateAvailable" in (secc_out.failure or ""), secc_out
            assert "NoCPS" in (secc_out.failure or "")

    asyncio.run(main())
