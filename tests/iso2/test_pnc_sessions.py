"""Complete ISO 15118-2 Plug & Charge sessions in memory between our EVCC and SECC through the real runner: AC and
DC with a contract, CertificateInstallation then PnC in the same session, CertificateUpdate, the authorization
loop with the eMAID, signed and verified metering receipts, and PnC asked of chargers that cannot serve it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from iso15118.controller import AuthorizationDecision, SessionReport
from iso15118.errors import ConfigError
from iso15118.iso2.pnc import Iso2Pnc
from iso15118.messages.generated import iso2 as m
from iso15118.security.certs import ISO2, Purpose, validate_chain
from iso15118.security.iso2_credentials import iso2_contract, iso2_provisioning
from iso15118.security.iso2_signatures import verify_message
from iso15118.security.pki import init_pki
from iso15118.security.profiles import Entity
from iso15118.session.events import EndReason
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEV, SimpleEVSE
from tests.iso2.pncsupport import Pkis, contract, pnc_evcc, pnc_secc, provisioning, secc_side
from tests.iso2.support import bodies, kinds, run
from tests.session.recording import Recorder

_SET_UP = ["supportedAppProtocolReq", "SessionSetupReq", "ServiceDiscoveryReq"]
_FAMILY = {EnergyFamily.AC: "ChargingStatusReq", EnergyFamily.DC: "CurrentDemandReq"}


def _messages(rec: Recorder, role: str, kind: str) -> list[m.V2G_Message]:
    from iso15118.iso2.profile import ISO2 as PROFILE

    return [r.message for r in rec.messages if r.sender == role and str(PROFILE.kind_of(r.message)) == kind]


def _leaf(pkis: Pkis) -> x509.Certificate:
    return pkis.home[Entity.CONTRACT_LEAF].certificate


@pytest.mark.parametrize("family", [EnergyFamily.AC, EnergyFamily.DC])
def test_a_pnc_session_with_a_contract(pkis: Pkis, family: EnergyFamily) -> None:
    ev, evse = SimpleEV(), SimpleEVSE()
    config = pnc_evcc(credentials=contract(pkis.home), energy=family, precharge_interval_s=0.0)
    out, charger, rec = run(config, ev=ev, evse=evse, secc=pnc_secc(receipt_required=True), **secc_side(pkis.home))
    assert out.ok and charger.ok and out.ended.reason is EndReason.TERMINATED, (out, charger)
    sent = kinds(rec, "evcc")
    pnc_steps = ["ServiceDetailReq", "PaymentServiceSelectionReq", "PaymentDetailsReq", "AuthorizationReq"]
    assert sent[:8] == [*_SET_UP, *pnc_steps, "ChargeParameterDiscoveryReq"]
    assert sent.count(_FAMILY[family]) == 3 and sent.count("MeteringReceiptReq") == 3
    for side in (out, charger):
        assert side.negotiated["payment_option"] == "Contract" and side.negotiated["authorization"] == "PnC"
    assert out.negotiated["metering_receipts"] == 3 and evse.charged_wh > 0
    # The charger offered Contract and the Certificate service; the EV looked at it and selected only charging.
    (offer,) = bodies(rec, "secc", "ServiceDiscoveryRes")
    assert [str(o) for o in offer.payment_option_list.payment_option] == ["ExternalPayment", "Contract"]
    assert [s.service_id for s in offer.service_list.service] == [2]
    (selection,) = bodies(rec, "evcc", "PaymentServiceSelectionReq")
    assert [s.service_id for s in selection.selected_service_list.selected_service] == [1]
    # PaymentDetails presents the contract; the AuthorizationReq returns the GenChallenge, signed by its key.
    (details,) = bodies(rec, "evcc", "PaymentDetailsReq")
    assert details.emaid == pkis.home.identities.emaid and details.contract_signature_cert_chain.sub_certificates
    (challenge,) = (b.gen_challenge for b in bodies(rec, "secc", "PaymentDetailsRes"))
    (auth,) = _messages(rec, "evcc", "AuthorizationReq")
    assert auth.body.authorization_req.gen_challenge == challenge and len(challenge) == 16
    verify_message(auth, _leaf(pkis))
    # Every receipt returns the MeterInfo just sent, for this session, signed by the contract key.
    loop_res = {EnergyFamily.AC: "ChargingStatusRes", EnergyFamily.DC: "CurrentDemandRes"}[family]
    infos = [b.meter_info for b in bodies(rec, "secc", loop_res)]
    receipts = _messages(rec, "evcc", "MeteringReceiptReq")
    assert [r.body.metering_receipt_req.meter_info for r in receipts] == infos
    for receipt in receipts:
        assert receipt.body.metering_receipt_req.session_id == out.session_id
        verify_message(receipt, _leaf(pkis))
    assert all(str(b.response_code) == "OK" for b in bodies(rec, "secc", "MeteringReceiptRes"))


class _Authorizer(SimpleEVSE):
    """A charger whose authorization stays pending for the first ``pending`` asks; it records what it was asked."""

    def __init__(self, pending: int) -> None:
        super().__init__()
        self.pending, self.asked = pending, []  # type: list[tuple[str, str | None]]

    async def authorize(self, evcc_id: str, emaid: str | None, now: float) -> AuthorizationDecision:
        self.asked.append((evcc_id, emaid))
        if len(self.asked) <= self.pending:
            return AuthorizationDecision.PENDING
        return AuthorizationDecision.ACCEPTED


def test_the_authorization_loop_asks_for_the_emaid_and_repeats_unsigned(pkis: Pkis) -> None:
    evse = _Authorizer(pending=2)
    out, charger, rec = run(
        pnc_evcc(credentials=contract(pkis.home)), evse=evse, secc=pnc_secc(), **secc_side(pkis.home)
    )
    assert out.ok and charger.ok, (out, charger)
    assert {emaid for _evcc_id, emaid in evse.asked} == {pkis.home.identities.emaid}
    processing = [str(b.evse_processing) for b in bodies(rec, "secc", "AuthorizationRes")]
    assert processing == ["Ongoing", "Ongoing", "Finished"]
    first, *repeats = _messages(rec, "evcc", "AuthorizationReq")
    assert first.header.signature is not None and first.body.authorization_req.gen_challenge is not None
    # While the charger answers Ongoing the EV repeats the request without challenge and signature [V2G2-684].
    assert [(r.header.signature, r.body.authorization_req.gen_challenge) for r in repeats] == [(None, None)] * 2


def test_a_rejected_contract_ends_the_session_with_failed(pkis: Pkis) -> None:
    class _Refuses(SimpleEVSE):
        async def authorize(self, evcc_id: str, emaid: str | None, now: float) -> AuthorizationDecision:
            return AuthorizationDecision.REJECTED

    out, charger, _rec = run(
        pnc_evcc(credentials=contract(pkis.home)), evse=_Refuses(), secc=pnc_secc(), **secc_side(pkis.home)
    )
    assert out.ended.reason is EndReason.FAILED_RECEIVED and out.ended.response_code == "FAILED"
    assert charger.failure is not None and pkis.home.identities.emaid in charger.failure


class _Reports(SimpleEVSE):
    def __init__(self) -> None:
        super().__init__()
        self.reports: list[SessionReport] = []

    async def report(self, report: SessionReport) -> None:
        self.reports.append(report)
        await super().report(report)


@pytest.mark.parametrize("family", [EnergyFamily.AC, EnergyFamily.DC])
def test_certificate_installation_then_pnc_in_the_same_session(pkis: Pkis, family: EnergyFamily) -> None:
    evse = _Reports()
    config = pnc_evcc(provisioning=provisioning(pkis.home), energy=family, precharge_interval_s=0.0)
    out, charger, rec = run(config, evse=evse, secc=pnc_secc(receipt_required=True), **secc_side(pkis.home))
    assert out.ok and charger.ok, (out, charger)
    sent = kinds(rec, "evcc")
    expected = [*_SET_UP, "ServiceDetailReq", "PaymentServiceSelectionReq", "CertificateInstallationReq"]
    assert sent[:6] == expected and sent[6:8] == ["PaymentDetailsReq", "AuthorizationReq"]
    # The Certificate service was detailed (Installation and Update) and selected with parameter set 1.
    (detail,) = bodies(rec, "secc", "ServiceDetailRes")
    sets = {s.parameter_set_id: s.parameter[0].string_value for s in detail.service_parameter_list.parameter_set}
    assert sets == {1: "Installation", 2: "Update"}
    (selection,) = bodies(rec, "evcc", "PaymentServiceSelectionReq")
    chosen = {s.service_id: s.parameter_set_id for s in selection.selected_service_list.selected_service}
    assert chosen == {1: None, 2: 1}
    # The new contract is the one presented, signing the authorization and the receipts.
    (installed,) = bodies(rec, "secc", "CertificateInstallationRes")
    (details,) = bodies(rec, "evcc", "PaymentDetailsReq")
    assert details.contract_signature_cert_chain == replace(installed.contract_signature_cert_chain, id=None)
    new_leaf = x509.load_der_x509_certificate(details.contract_signature_cert_chain.certificate)
    assert new_leaf != _leaf(pkis)
    for signed in (*_messages(rec, "evcc", "AuthorizationReq"), *_messages(rec, "evcc", "MeteringReceiptReq")):
        verify_message(signed, new_leaf)
    assert out.negotiated["contract_installed"] == pkis.home.identities.emaid
    assert any(r.event == "certificate_installation" for r in evse.reports)


def test_install_certificate_replaces_a_contract_the_ev_has(pkis: Pkis) -> None:
    config = pnc_evcc(credentials=contract(pkis.home), provisioning=provisioning(pkis.home), install_certificate=True)
    out, charger, rec = run(config, secc=pnc_secc(), **secc_side(pkis.home))
    assert out.ok and charger.ok and "CertificateInstallationReq" in kinds(rec, "evcc")


def test_a_contract_that_expires_soon_is_updated(pkis: Pkis) -> None:
    old = contract(pkis.home)
    # The contract is valid for two years: renewing anything that expires within three makes it due.
    config = pnc_evcc(credentials=old, provisioning=provisioning(pkis.home), contract_update_before_s=3 * 365 * 86400.0)
    out, charger, rec = run(config, secc=pnc_secc(), **secc_side(pkis.home))
    assert out.ok and charger.ok, (out, charger)
    assert kinds(rec, "evcc")[4:7] == ["PaymentServiceSelectionReq", "CertificateUpdateReq", "PaymentDetailsReq"]
    (selection,) = bodies(rec, "evcc", "PaymentServiceSelectionReq")
    assert {s.service_id: s.parameter_set_id for s in selection.selected_service_list.selected_service} == {
        1: None,
        2: 2,
    }
    (update,) = _messages(rec, "evcc", "CertificateUpdateReq")
    verify_message(update, _leaf(pkis))  # signed with the old contract key
    (details,) = bodies(rec, "evcc", "PaymentDetailsReq")
    renewed = x509.load_der_x509_certificate(details.contract_signature_cert_chain.certificate)
    assert renewed != _leaf(pkis) and renewed.subject == _leaf(pkis).subject
    assert "updated" in " ".join(out.notes)


def test_an_update_without_the_certificate_service_goes_on_with_the_old_contract(pkis: Pkis) -> None:
    config = pnc_evcc(
        credentials=contract(pkis.home), provisioning=provisioning(pkis.home), contract_update_before_s=1e9
    )
    out, charger, rec = run(config, secc=pnc_secc(certificate_installation=False), **secc_side(pkis.home))
    assert out.ok and charger.ok and "CertificateUpdateReq" not in kinds(rec, "evcc")
    assert any("no update here" in note for note in out.notes)


def test_pnc_asked_but_not_offered_stops_or_falls_back(pkis: Pkis) -> None:
    # A charger with EIM only (no -2 PnC checks): strict EV stops, a tolerant one uses EIM and says so.
    out, charger, rec = run(pnc_evcc(credentials=contract(pkis.home)), secc=pnc_secc())
    assert out.ended_regularly and out.failure == "PnC asked, the SECC offers ExternalPayment"
    assert kinds(rec, "evcc")[-1] == "SessionStopReq" and charger.ok
    out, charger, _ = run(pnc_evcc(credentials=contract(pkis.home), accept_fallback=True), secc=pnc_secc())
    assert out.ok and out.negotiated["authorization"] == "EIM"
    assert out.substitutions == ("PnC asked, the SECC offers ExternalPayment; EIM used instead",)


@pytest.mark.parametrize(
    ("config", "secc_changes", "why"),
    [
        ({}, {}, "no -2 contract (secp256r1) and no -2 OEM provisioning certificate to install one"),
        ({"provisioning": True}, {"certificate_installation": False}, "does not offer the Certificate service"),
    ],
)
def test_an_ev_that_cannot_use_pnc_here_says_why(
    pkis: Pkis, config: dict[str, Any], secc_changes: dict[str, Any], why: str
) -> None:
    changes = {"provisioning": provisioning(pkis.home)} if config else {}
    out, _charger, rec = run(pnc_evcc(**changes), secc=pnc_secc(**secc_changes), **secc_side(pkis.home))
    assert out.ended_regularly and out.failure is not None and why in out.failure
    assert kinds(rec, "evcc")[-1] == "SessionStopReq"


def test_an_ev_credentials_from_a_iso2_pki_directory(tmp_path: Path) -> None:
    layout = init_pki(tmp_path / "pki", kind="iso2")
    creds, prov = iso2_contract(layout.directory), iso2_provisioning(layout.directory)
    roots = [x509.load_der_x509_certificate(r) for r in prov.contract_roots]
    leaf, *subs = (x509.load_der_x509_certificate(d) for d in creds.chain)
    now = dt.datetime.now(dt.UTC)
    assert validate_chain(leaf, subs, roots, now=now, purpose=Purpose.CONTRACT, policy=ISO2).leaf == leaf
    from iso15118.security.pki import read_pki

    home = read_pki(layout)
    charger = Iso2Pnc(contract_roots=(home[Entity.MO_ROOT].certificate,))
    out, secc_out, _ = run(pnc_evcc(credentials=creds), secc=pnc_secc(), pnc=charger)
    assert out.ok and secc_out.ok and out.negotiated["authorization"] == "PnC"
    with pytest.raises(ConfigError, match="needs `v2g pki init --profile iso2`"):
        iso2_contract(init_pki(tmp_path / "pki20").directory)
