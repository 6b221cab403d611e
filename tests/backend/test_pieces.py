"""The sans-I/O pieces of the backend: OCPP-J frames and validation, the outbox across a restart, charging
profiles, the payloads the station builds (each validated against the OCPP 2.0.1 and 2.1 schemas), OCSP."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from harness.csms import OcspResponder, parse_grid_event
from iso15118.backend.authorization import (
    OcspVerdict,
    authorize_request,
    decision_of,
    eim_token,
    ocsp_request_data,
    ocsp_verdict,
)
from iso15118.backend.observer import charging_needs
from iso15118.backend.outbox import Outbox
from iso15118.backend.profiles import ChargingProfiles, ProfileRefused
from iso15118.backend.rpc import Call, CallError, CallResult, OcppVersion, encode_frame, parse_frame, validate
from iso15118.backend.station import Station, StationConfig, Transaction
from iso15118.backend.transactions import MeterSample, StopReason, timestamp
from iso15118.controller import AuthorizationDecision
from iso15118.errors import BackendError, ConfigError, RpcError
from iso15118.security.profiles import Entity
from tests.backend.conftest import Credentials

T0 = 1_750_000_000.0
BOTH = [OcppVersion.V201, OcppVersion.V21]


# ---- OCPP-J ----------------------------------------------------------------------------------------------------
def test_frames_round_trip_and_every_broken_frame_names_its_callerror() -> None:
    for frame in (
        Call(unique_id="1", action="Heartbeat", payload={}),
        CallResult(unique_id="2", payload={"currentTime": "x"}),
        CallError(unique_id="3", code="NotSupported", description="no", details={}),
    ):
        assert parse_frame(encode_frame(frame), OcppVersion.V201) == frame
    broken = {
        "{": ("RpcFrameworkError", "-1"),
        "[]": ("RpcFrameworkError", "-1"),
        '[2, 5, "Heartbeat", {}]': ("RpcFrameworkError", "-1"),
        '[2, "' + "x" * 37 + '", "Heartbeat", {}]': ("RpcFrameworkError", "-1"),
        '[2, "a", "Heartbeat"]': ("RpcFrameworkError", "a"),
        '[2, "a", "Heartbeat", []]': ("FormatViolation", "a"),
        '[6, "a", "Heartbeat", {}]': ("MessageTypeNotSupported", "a"),  # SEND exists in 2.1 only
    }
    for text, (code, unique_id) in broken.items():
        with pytest.raises(RpcError) as exc:
            parse_frame(text, OcppVersion.V201)
        assert (exc.value.code, exc.value.unique_id) == (code, unique_id), text
    send = parse_frame('[6, "a", "NotifyPeriodicEventStream", {}]', OcppVersion.V21)
    assert isinstance(send, Call) and send.send


def test_validation_maps_schema_violations_to_ocpp_error_codes() -> None:
    validate(OcppVersion.V201, "Reset", {"type": "Immediate"})
    cases = {
        "OccurrenceConstraintViolation": {},
        "TypeConstraintViolation": {"type": 5},
        "PropertyConstraintViolation": {"type": "Later"},
        "FormatViolation": {"type": "Immediate", "extra": 1},
    }
    for code, payload in cases.items():
        with pytest.raises(RpcError) as exc:
            validate(OcppVersion.V201, "Reset", payload)
        assert exc.value.code == code
    with pytest.raises(RpcError) as unknown:
        validate(OcppVersion.V201, "NoSuchAction", {})
    assert unknown.value.code == "NotImplemented"


# ---- the outbox --------------------------------------------------------------------------------------------------
def test_the_outbox_keeps_order_seq_numbers_and_open_transactions_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "ocpp.sqlite"
    box = Outbox(path)
    for _ in range(3):
        box.transaction_event("tx1", lambda seq: {"seqNo": seq}, T0, data={"evse_id": 1})
    box.queue("Other", {"n": 1}, T0)
    head = box.head()
    assert head is not None and head.payload == {"seqNo": 0}
    box.delivered(head.id)
    box.close()
    again = Outbox(path)  # a new process: nothing lost, the order and the counter go on
    assert [again.head().payload if again.head() else None] == [{"seqNo": 1}]  # type: ignore[union-attr]
    assert again.pending == 3
    assert [(t.transaction_id, t.next_seq) for t in again.open_transactions()] == [("tx1", 3)]
    again.transaction_event("tx1", lambda seq: {"seqNo": seq}, T0, data={}, ended=True)
    assert again.open_transactions() == []
    with pytest.raises(BackendError, match="already ended"):
        again.transaction_event("tx1", lambda seq: {"seqNo": seq}, T0, data={})


def test_recovery_ends_a_crashed_transaction_with_its_next_seq_no_and_last_reading() -> None:
    box = Outbox()
    station = Station(StationConfig(sample_interval_s=0.0), box)
    tx = station.attach("s1", T0)
    station.start(tx, eim_token("EV"), T0)
    station.metered(tx, MeterSample(imported_wh=1500, exported_wh=7), T0 + 10)
    crashed = Station(StationConfig(), box)  # the same outbox after a restart
    assert crashed.recover(T0 + 100) == 1
    payloads = []
    while (head := box.head()) is not None:
        payloads.append(head.payload)
        box.delivered(head.id)
    assert [p["seqNo"] for p in payloads] == [0, 1, 2]
    ended = payloads[-1]
    assert ended["transactionInfo"]["stoppedReason"] == "PowerLoss" and ended["offline"] is True
    assert {"value": 1500, "measurand": "Energy.Active.Import.Register"}.items() <= ended["meterValue"][0][
        "sampledValue"
    ][0].items()
    for payload in payloads:
        validate(OcppVersion.V201, "TransactionEvent", payload)


# ---- charging profiles --------------------------------------------------------------------------------------
def _profile(purpose: str = "TxProfile", **changes: Any) -> dict[str, Any]:
    period: dict[str, Any] = {"startPeriod": 0, "limit": 16.0}
    base: dict[str, Any] = {
        "id": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [
            {
                "id": 1,
                "startSchedule": timestamp(T0),
                "duration": 3600,
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [period, {"startPeriod": 600, "limit": 8000.0}],
            }
        ],
    }
    if purpose == "TxProfile":
        base["transactionId"] = "tx"
    return {**base, **changes}


def test_profiles_stack_convert_units_and_end_with_their_schedule_and_transaction() -> None:
    profiles = ChargingProfiles()
    active = {"tx": 1}
    profiles.install(_profile(), 1, active)
    at = lambda t: profiles.allowance(T0 + t, evse_id=1, transaction_id="tx", started_at=T0, volts=230.0)  # noqa: E731
    assert at(10).charge_max_w == 16 * 230 * 3 and at(10).discharge_max_w == 0.0  # A x V x 3 phases by default
    assert at(700).charge_max_w == 8000 * 230 * 3
    assert not at(3700).restricted  # the schedule's duration is over
    cap = _profile("ChargingStationMaxProfile", id=2, chargingSchedule=[{
        "id": 2, "startSchedule": timestamp(T0), "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 5000.0}],
    }])  # fmt: skip
    profiles.install(cap, 0, active)
    assert at(700).charge_max_w == 5000.0
    for bad, evse, why in (
        (_profile(transactionId="other"), 1, "no transaction other"),
        (_profile("ChargingStationExternalConstraints"), 1, "not set by the CSMS"),
        (_profile("ChargingStationMaxProfile"), 1, "evseId 0"),
        (
            _profile(
                chargingProfileKind="Relative",
                chargingSchedule=[
                    {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 5, "limit": 1.0}]}
                ],
            ),
            1,
            "start at 0",
        ),
    ):
        with pytest.raises(ProfileRefused, match=why):
            profiles.install(bad, evse, active)
    profiles.end_transaction("tx")
    assert at(10).charge_max_w == 5000.0  # only the cap is left


def test_a_21_v2x_period_sets_a_signed_setpoint_within_its_discharge_limit() -> None:
    profiles = ChargingProfiles()
    period = {"startPeriod": 0, "operationMode": "CentralSetpoint", "setpoint": -9000.0, "dischargeLimit": -7000.0}
    profile = _profile(chargingProfileKind="Relative", chargingSchedule=[
        {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [period]}
    ])  # fmt: skip
    profiles.install(profile, 1, {"tx": 1})
    allowed = profiles.allowance(T0 + 5, evse_id=1, transaction_id="tx", started_at=T0, volts=230.0)
    assert allowed.setpoint_w == -7000.0 and allowed.discharge_max_w == 7000.0
    assert allowed.bound(-10_000.0) == -7000.0


def test_the_grid_dispatch_is_a_valid_21_profile_for_the_next_window() -> None:
    dispatch = parse_grid_event("17:00-20:00/8000")
    noon = dt.datetime(2025, 6, 2, 12, tzinfo=dt.UTC).timestamp()
    start, end = dispatch.window_after(noon)
    assert (start - noon, end - start) == (5 * 3600, 3 * 3600)
    assert dispatch.window_after(noon + 9 * 3600)[0] == start + 86_400  # 21:00: tomorrow's
    payload = {"evseId": 1, "chargingProfile": dispatch.profile(noon, "tx", 4)}
    validate(OcppVersion.V21, "SetChargingProfile", payload)
    for text in ("17:00-20:00", "25:00-20:00/1", "17:00-20:00/0"):
        with pytest.raises(ConfigError):
            parse_grid_event(text)


# ---- payloads the station sends ---------------------------------------------------------------------------------
@pytest.mark.parametrize("version", BOTH)
@pytest.mark.parametrize("dc", [False, True])
def test_charging_needs_validate_in_both_versions(version: OcppVersion, dc: bool) -> None:
    tx = Transaction(key="s", evse_id=1, dc=dc, bidirectional=True, soc=55.0)
    tx.needs.update(
        departure_time=7200,
        ev_target_energy_request=20_000.0,
        ev_maximum_charge_power=11_000.0,
        ev_minimum_charge_power=1_400.0,
        ev_maximum_discharge_power=11_000.0,
        ev_maximum_v2x_energy_request=40_000.0,
        ev_minimum_v2x_energy_request=-10_000.0,
        dynamic=True,
        ev_maximum_voltage=450.0,
    )
    payload = charging_needs(version, tx, T0)
    validate(version, "NotifyEVChargingNeeds", payload)
    expected = ("DC_BPT" if dc else "AC_BPT") if version is OcppVersion.V21 else ("DC" if dc else "AC_single_phase")
    assert payload["chargingNeeds"]["requestedEnergyTransfer"] == expected


@pytest.mark.parametrize("version", BOTH)
def test_every_transaction_event_and_status_validates(version: OcppVersion) -> None:
    box = Outbox()
    station = Station(StationConfig(version=version, sample_interval_s=0.0), box)
    station.online = True
    tx = station.attach("s1", T0)
    station.metered(tx, MeterSample(imported_wh=0, power_w=0.0), T0)
    station.start(tx, {"idToken": "DE1234", "type": "eMAID"}, T0 + 1)
    station.charging(tx, True, T0 + 2)
    station.metered(tx, MeterSample(imported_wh=10, exported_wh=2, power_w=-3000.0, soc=61.0), T0 + 3)
    station.charging(tx, False, T0 + 4)
    station.end(tx, StopReason.REMOTE, T0 + 5)
    sent = 0
    while (head := box.head()) is not None:
        validate(version, head.action, head.payload)
        box.delivered(head.id)
        sent += 1
    assert sent == 5
    for action, payload in [*station.notices, *station.status_notices(T0)]:
        validate(version, action, payload)
    validate(version, "BootNotification", station.boot_request())


# ---- authorization and OCSP --------------------------------------------------------------------------------------
def test_authorize_payloads_and_decisions(creds: Credentials) -> None:
    chain = tuple(creds.pki.chain(Entity.CONTRACT_LEAF))
    payload = authorize_request({"idToken": "DE1", "type": "eMAID"}, chain, send_certificate=True)
    validate(OcppVersion.V201, "Authorize", payload)
    assert len(payload["iso15118CertificateHashData"]) == 2 and payload["certificate"].startswith("-----BEGIN")
    assert decision_of({"idTokenInfo": {"status": "Accepted"}}) is AuthorizationDecision.ACCEPTED
    assert decision_of({"idTokenInfo": {"status": "Blocked"}}) is AuthorizationDecision.REJECTED
    revoked = {"idTokenInfo": {"status": "Accepted"}, "certificateStatus": "CertificateRevoked"}
    assert decision_of(revoked) is AuthorizationDecision.REVOKED


def test_ocsp_answers_are_believed_only_from_the_issuer(creds: Credentials) -> None:
    pki = creds.pki
    leaf, issuer = pki[Entity.CONTRACT_LEAF].certificate, pki[Entity.MO_SUB_CA2]
    responder = OcspResponder([issuer])
    request = ocsp_request_data(leaf, issuer.certificate)
    good = responder.status(request)
    assert good is not None and ocsp_verdict(good, leaf, issuer.certificate) is OcspVerdict.GOOD
    responder.revoked.add(leaf.serial_number)
    revoked = responder.status(request)
    assert revoked is not None and ocsp_verdict(revoked, leaf, issuer.certificate) is OcspVerdict.REVOKED
    forged = _signed_by(pki[Entity.MO_SUB_CA1], request)  # another CA's key
    with pytest.raises(BackendError, match="not signed by the certificate's issuer"):
        ocsp_verdict(forged, leaf, issuer.certificate)
    with pytest.raises(BackendError, match="no DER"):
        ocsp_verdict(base64.b64encode(b"junk").decode(), leaf, issuer.certificate)
    assert OcspResponder([pki[Entity.MO_SUB_CA1]]).status(request) is None  # not its certificate


def _signed_by(ca: Any, request: dict[str, Any]) -> str:
    now = dt.datetime.now(dt.UTC)
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=bytes.fromhex(request["issuerNameHash"]),
        issuer_key_hash=bytes.fromhex(request["issuerKeyHash"]),
        serial_number=int(request["serialNumber"], 16),
        algorithm=hashes.SHA256(),
        cert_status=ocsp.OCSPCertStatus.GOOD,
        this_update=now,
        next_update=now + dt.timedelta(hours=1),
        revocation_time=None,
        revocation_reason=None,
    )
    cert: x509.Certificate = ca.certificate
    response = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, cert).sign(ca.key, hashes.SHA512())
    return base64.b64encode(response.public_bytes(serialization.Encoding.DER)).decode()
