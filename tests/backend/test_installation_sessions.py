"""-20 CertificateInstallation in whole sessions: the EV installs a contract through the SECC's certificate provider
and uses it for PnC in the same session and the next; a tampered CPS signature is refused by the SECC (with V2G
roots) or else by the EV."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from iso15118.certificates import CertificateAnswer, CertificateRequest
from iso15118.codec import decode_as, encode_message
from iso15118.config import EvccConfig, SeccConfig
from iso15118.security.credentials import ContractCredentials
from iso15118.security.provider import LocalCps
from iso15118.simple import SimpleEV
from tests.backend.conftest import Credentials
from tests.journal.support import run_pair

SECC = SeccConfig(authorization=("EIM", "PnC"), certificate_installation=True)


def _evcc(creds: Credentials, **changes: Any) -> EvccConfig:
    base = EvccConfig(authorization="PnC", install_certificate=True, provisioning=creds.provisioning(), max_loops=3)
    return dataclasses.replace(base, **changes)


def _installed(ev: SimpleEV) -> ContractCredentials:
    reports = [r for r in ev.reports if r.event == "contract_installed"]
    assert len(reports) == 1, [r.event for r in ev.reports]
    contract = reports[0].values["credentials"]
    assert isinstance(contract, ContractCredentials)
    return contract


def test_install_then_pnc_in_the_same_session_and_the_next(creds: Credentials) -> None:
    cps = LocalCps.from_pkis(creds.pki)
    ev = SimpleEV()
    evcc, secc = asyncio.run(run_pair(_evcc(creds), ev=ev, secc=SECC, pnc=creds.verifier(), certificates=cps))
    assert evcc.ok and secc.ok, (evcc.failure, secc.failure, evcc.ended)
    assert evcc.negotiated["authorization"] == "PnC" and secc.negotiated["authorization"] == "PnC"
    contract = _installed(ev)
    assert contract.chain[0] != creds.contract().chain[0]  # a fresh contract, not the PKI's own
    # The next session: PnC with the installed contract, no installation.
    again = EvccConfig(authorization="PnC", credentials=contract, max_loops=2)
    evcc2, secc2 = asyncio.run(run_pair(again, secc=SECC, pnc=creds.verifier(), certificates=cps))
    assert evcc2.ok and secc2.ok and secc2.negotiated["authorization"] == "PnC"


class _Tampering:
    """A provider whose responses have one byte of the signed installation data changed."""

    def __init__(self, inner: LocalCps) -> None:
        self.inner = inner

    async def provide_certificate(self, request: CertificateRequest, now: float) -> CertificateAnswer:
        got = await self.inner.provide_certificate(request, now)
        assert got.exi is not None
        res = decode_as(got.exi, "iso20_common")
        data = res.signed_installation_data
        key = bytearray(data.dh_public_key)
        key[-1] ^= 1
        forged = dataclasses.replace(res, signed_installation_data=dataclasses.replace(data, dh_public_key=bytes(key)))
        return dataclasses.replace(got, exi=encode_message(forged))


def test_a_tampered_cps_signature_is_refused_by_the_secc_with_failed_signature_error(creds: Credentials) -> None:
    tampering = _Tampering(LocalCps.from_pkis(creds.pki))
    evcc, secc = asyncio.run(run_pair(_evcc(creds), secc=SECC, pnc=creds.verifier(), certificates=tampering))
    assert not evcc.ok and secc.ended.response_code == "FAILED_SignatureError", (secc.ended, secc.failure)


def test_without_v2g_roots_at_the_secc_the_ev_refuses_the_tampered_response(creds: Credentials) -> None:
    tampering = _Tampering(LocalCps.from_pkis(creds.pki))
    verifier = creds.verifier(check_cps=False)
    evcc, _secc = asyncio.run(run_pair(_evcc(creds), secc=SECC, pnc=verifier, certificates=tampering))
    assert not evcc.ok and evcc.failure is not None and "CPS signature" in evcc.failure, evcc.failure


def test_no_provider_means_no_certificate_and_the_ev_goes_on_with_eim(creds: Credentials) -> None:
    config = _evcc(creds, authorization="EIM")
    evcc, secc = asyncio.run(run_pair(config, secc=SECC, pnc=creds.verifier()))
    assert evcc.ok and secc.ok and evcc.negotiated["authorization"] == "EIM"
    assert any("WARNING_NoCertificateAvailable" in n for n in secc.notes), secc.notes
