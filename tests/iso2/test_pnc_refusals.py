"""Every -2 Plug & Charge tampering refused with its response code, in sessions through the real runner: the charger
answers FAILED with the -2 code, ends the session and logs the refusal with the peer and the rule; the EV refuses a
tampered CPS response and stops."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

from iso15118.iso2.pnc import sign_authorization, sign_metering_receipt
from iso15118.messages.generated import iso2 as m
from iso15118.security.iso2_cps import ContractCertificatePool
from iso15118.security.iso2_signatures import sign_message
from iso15118.security.profiles import Entity
from iso15118.session.events import EndReason
from tests.iso2.pncsupport import (
    Pkis,
    TamperingProvider,
    contract,
    expired_contract,
    pnc_evcc,
    pnc_secc,
    provisioning,
    secc_side,
    tampering_ev,
)
from tests.iso2.support import kinds, run

_LOG = "iso15118.transport.runner"


def _refused(out: Any, charger: Any, code: str) -> None:
    """The charger answered ``code`` and ended the session; the EV ended on receiving it."""
    assert charger.ended.reason is EndReason.FAILED_SENT and charger.ended.response_code == code, charger
    assert out.ended.reason is EndReason.FAILED_RECEIVED and out.ended.response_code == code, out
    assert charger.loops == 0 and charger.failure is not None and code in charger.failure


def _warned(caplog: pytest.LogCaptureFixture, kind: str, code: str, rule: str) -> str:
    """The charger's WARNING line about the refusal: who, what, which code, which rule."""
    lines = [r.getMessage() for r in caplog.records if r.name == _LOG and r.levelno == logging.WARNING]
    found = [line for line in lines if f"{kind} of EVCCID" in line and code in line]
    assert found, lines
    assert found[0].startswith("SECC ") and f"[{rule}]" in found[0]
    return found[0]


def _body(msg: m.V2G_Message, **changes: Any) -> m.V2G_Message:
    """``msg`` with fields of its Body element changed (the signature left as it was)."""
    name = next(f.name for f in dataclasses.fields(msg.body) if getattr(msg.body, f.name) is not None)
    element = dataclasses.replace(getattr(msg.body, name), **changes)
    return dataclasses.replace(msg, body=m.Body(**{name: element}))


def test_a_signed_authorization_with_another_challenge(
    pkis: Pkis, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    creds = contract(pkis.home)

    def other_challenge(msg: m.V2G_Message) -> m.V2G_Message:
        challenge = msg.body.authorization_req.gen_challenge
        if challenge is None:
            return msg
        return sign_authorization(_body(msg, gen_challenge=bytes(b ^ 0xFF for b in challenge)), creds)

    with caplog.at_level(logging.WARNING, logger=_LOG), tampering_ev(monkeypatch, AuthorizationReq=other_challenge):
        out, charger, _ = run(pnc_evcc(credentials=creds), secc=pnc_secc(), **secc_side(pkis.home))
    _refused(out, charger, "FAILED_ChallengeInvalid")
    _warned(caplog, "AuthorizationReq", "FAILED_ChallengeInvalid", "V2G2-475")


def test_an_authorization_signed_by_another_key(pkis: Pkis, monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    stranger = contract(pkis.foreign)
    with (
        caplog.at_level(logging.WARNING, logger=_LOG),
        tampering_ev(monkeypatch, AuthorizationReq=lambda msg: sign_authorization(msg, stranger)),
    ):
        out, charger, _ = run(pnc_evcc(credentials=contract(pkis.home)), secc=pnc_secc(), **secc_side(pkis.home))
    _refused(out, charger, "FAILED_SignatureError")
    _warned(caplog, "AuthorizationReq", "FAILED_SignatureError", "ISO 15118-2 8.4.3.7.2 AuthorizationRes")


def test_an_unsigned_first_authorization(pkis: Pkis, monkeypatch: pytest.MonkeyPatch) -> None:
    unsigned = lambda msg: dataclasses.replace(msg, header=dataclasses.replace(msg.header, signature=None))  # noqa: E731
    with tampering_ev(monkeypatch, AuthorizationReq=unsigned):
        out, charger, _ = run(pnc_evcc(credentials=contract(pkis.home)), secc=pnc_secc(), **secc_side(pkis.home))
    _refused(out, charger, "FAILED_SignatureError")


@pytest.mark.parametrize(
    ("which", "code"),
    [("foreign", "FAILED_CertChainError"), ("expired", "FAILED_CertificateExpired")],
)
def test_a_contract_the_charger_cannot_trust(pkis: Pkis, caplog: Any, which: str, code: str) -> None:
    creds = contract(pkis.foreign) if which == "foreign" else expired_contract(pkis.home)
    with caplog.at_level(logging.WARNING, logger=_LOG):
        out, charger, rec = run(pnc_evcc(credentials=creds), secc=pnc_secc(), **secc_side(pkis.home))
    _refused(out, charger, code)
    assert kinds(rec, "evcc")[-1] == "PaymentDetailsReq"
    _warned(caplog, "PaymentDetailsReq", code, "ISO 15118-2 8.4.3.6.3 PaymentDetailsRes")


def test_an_emaid_that_is_not_the_contract_s(pkis: Pkis, monkeypatch: pytest.MonkeyPatch) -> None:
    with tampering_ev(monkeypatch, PaymentDetailsReq=lambda msg: _body(msg, emaid="DEXYZC999999990")):
        out, charger, _ = run(pnc_evcc(credentials=contract(pkis.home)), secc=pnc_secc(), **secc_side(pkis.home))
    _refused(out, charger, "FAILED_CertChainError")
    assert "DEXYZC999999990" in (charger.failure or "")


@pytest.mark.parametrize("tamper", ["signature", "meter"])
def test_a_receipt_the_contract_did_not_sign_for_this_meter(
    pkis: Pkis, monkeypatch: pytest.MonkeyPatch, caplog: Any, tamper: str
) -> None:
    def bad(msg: m.V2G_Message) -> m.V2G_Message:
        if tamper == "signature":
            return sign_metering_receipt(msg, contract(pkis.foreign))
        info = msg.body.metering_receipt_req.meter_info
        changed = _body(msg, meter_info=dataclasses.replace(info, meter_reading=(info.meter_reading or 0) + 1000))
        return sign_metering_receipt(changed, contract(pkis.home))  # signed, but not what was metered

    with caplog.at_level(logging.WARNING, logger=_LOG), tampering_ev(monkeypatch, MeteringReceiptReq=bad):
        out, charger, _ = run(
            pnc_evcc(credentials=contract(pkis.home)), secc=pnc_secc(receipt_required=True), **secc_side(pkis.home)
        )
    code = "FAILED_MeteringSignatureNotValid"
    assert charger.ended.response_code == code and out.ended.reason is EndReason.FAILED_RECEIVED
    line = _warned(caplog, "MeteringReceiptReq", code, "ISO 15118-2 8.4.3.13.3 MeteringReceiptRes")
    assert ("signature" if tamper == "signature" else "MeterInfo") in line


def test_an_installation_request_of_another_oem(pkis: Pkis, caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger=_LOG):
        out, charger, _ = run(
            pnc_evcc(provisioning=provisioning(pkis.foreign)), secc=pnc_secc(), **secc_side(pkis.home)
        )
    _refused(out, charger, "FAILED_CertChainError")
    _warned(
        caplog, "CertificateInstallationReq", "FAILED_CertChainError", "ISO 15118-2 8.4.3.11 CertificateInstallation"
    )


def test_a_charger_without_a_certificate_provider(pkis: Pkis) -> None:
    checks = secc_side(pkis.home, cps=False)
    out, charger, _ = run(pnc_evcc(provisioning=provisioning(pkis.home)), secc=pnc_secc(), **checks)
    _refused(out, charger, "FAILED_NoCertificateAvailable")


def _tampered_emaid(res: m.V2G_Message) -> m.V2G_Message:
    body = res.body.certificate_installation_res or res.body.certificate_update_res
    assert body is not None
    return _body(res, emaid=dataclasses.replace(body.emaid, value="DEXYZC999999990"))


def _resigned_by_stranger(pkis: Pkis) -> Any:
    def resign(res: m.V2G_Message) -> m.V2G_Message:
        return sign_message(res, pkis.foreign[Entity.CPS_LEAF].key)

    return resign


@pytest.mark.parametrize("tamper", ["emaid", "stranger"])
def test_the_ev_refuses_a_tampered_installation_response(pkis: Pkis, tamper: str) -> None:
    change = _tampered_emaid if tamper == "emaid" else _resigned_by_stranger(pkis)
    checks = secc_side(pkis.home, TamperingProvider(ContractCertificatePool.from_pki(pkis.home), change))
    out, charger, rec = run(pnc_evcc(provisioning=provisioning(pkis.home)), secc=pnc_secc(), **checks)
    assert out.ended_regularly and out.failure is not None, out
    assert out.failure.startswith("the CertificateInstallationRes is refused: the CPS signature")
    assert kinds(rec, "evcc")[-2:] == ["CertificateInstallationReq", "SessionStopReq"]
    assert "contract_installed" not in out.negotiated and charger.loops == 0


def test_a_tampered_update_leaves_a_tolerant_ev_with_its_old_contract(pkis: Pkis) -> None:
    checks = secc_side(pkis.home, TamperingProvider(ContractCertificatePool.from_pki(pkis.home), _tampered_emaid))
    config = pnc_evcc(
        credentials=contract(pkis.home), provisioning=provisioning(pkis.home), contract_update_before_s=1e9
    )
    out, _charger, _ = run(config, secc=pnc_secc(), **checks)
    assert out.ended_regularly and out.failure is not None and "CertificateUpdateRes is refused" in out.failure
    out, charger, _ = run(dataclasses.replace(config, accept_fallback=True), secc=pnc_secc(), **checks)
    assert out.ok and charger.ok and out.negotiated["authorization"] == "PnC"
    assert "CertificateUpdateRes is refused" in out.substitutions[0] and "contract_installed" not in out.negotiated
