"""A SUT that lacks what a case needs makes the case inconclusive with a clean reason, never a FAIL or a leaked
tester exception; a SUT that has it and breaks the rule still fails.

Each SUT here is our own, restricted by configuration (EIM only, AC only, no BPT...), while the target still
claims every capability: the verdict comes from what the SUT offers on the wire, as with a remote SUT whose
capabilities were not declared.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from harness.conformance.credentials import Credentials
from harness.conformance.model import CaseResult, SutRole, Verdict
from harness.conformance.sutfault import Fault
from iso15118.config import NS_ISO20_AC, NS_ISO20_DC
from iso15118.messages.app_protocol import ResponseCode as SapCode
from iso15118.session.selection import EnergyFamily
from tests.conformance.conftest import CASES, describe, run, run_against_own

_S, _E = SutRole.SECC, SutRole.EVCC
_SUTS: dict[str, tuple[SutRole, dict[str, Any]]] = {
    "secc-eim-only": (_S, {"authorization": ("EIM",)}),
    "secc-ac-only": (_S, {"protocols": (NS_ISO20_AC,), "services": (1, 5)}),
    "secc-dc-only": (_S, {"protocols": (NS_ISO20_DC,), "services": (2, 6)}),
    "secc-no-bpt": (_S, {"services": (1, 2)}),
    "secc-scheduled-only": (_S, {"control_modes": (1,)}),
    "secc-no-renegotiation": (_S, {"service_renegotiation": False}),
    "evcc-ac-only": (_E, {"energy": EnergyFamily.AC}),
    "evcc-unidirectional": (_E, {"bidirectional": False}),
    "evcc-eim-only": (_E, {"authorization": "EIM", "credentials": None, "accept_fallback": False}),
}


def _against(sut: str, case_id: str, credentials: Credentials) -> CaseResult:
    role, driver = _SUTS[sut]
    restricted = Fault(name=sut, role=role, description=f"our {role.value}, {sut}", driver=driver)
    return run(run_against_own(CASES[case_id], credentials, restricted))


_PNC = "needs PnC: the SUT offers EIM only"


@pytest.mark.parametrize(
    ("sut", "case_id", "reason"),
    [
        # SEC-08 answered WARNING_AuthorizationSelectionInvalid once: a false FAIL. Its siblings leaked ConfigError.
        ("secc-eim-only", "SECC-SEC-08", _PNC),
        ("secc-eim-only", "SECC-SEC-07", _PNC),
        ("secc-eim-only", "SECC-SEC-09", _PNC),
        ("secc-eim-only", "SECC-SEC-10", _PNC),
        ("secc-eim-only", "SECC-SEC-11", _PNC),
        ("secc-eim-only", "SECC-SEC-13", _PNC),
        ("secc-eim-only", "SECC-HP-06", _PNC),
        ("secc-ac-only", "SECC-DC-01", f"needs -20 DC: the SUT does not accept {NS_ISO20_DC} (Failed_NoNegotiation)"),
        # PAR-02 offers AC 1.1: the plain offer is probed on a new connection before the case is given up.
        ("secc-dc-only", "SECC-PAR-02", f"needs -20 AC: the SUT does not accept {NS_ISO20_AC} (Failed_NoNegotiation)"),
        ("secc-dc-only", "SECC-SEC-01", f"needs -20 AC: the SUT does not accept {NS_ISO20_AC} (Failed_NoNegotiation)"),
        ("secc-no-bpt", "SECC-HP-03", "needs AC_BPT: the SUT offers AC only"),
        ("secc-no-bpt", "SECC-PAR-04", "needs AC_BPT: the SUT offers AC only"),
        ("secc-no-bpt", "SECC-DC-08", "needs DC_BPT: the SUT offers DC only"),
        ("secc-scheduled-only", "SECC-HP-02", "needs Dynamic control: the SUT offers Scheduled only"),
        (
            "secc-no-renegotiation",
            "SECC-HP-10",
            "needs service-renegotiation: the SUT does not allow it (FAILED_NoServiceRenegotiationSupported)",
        ),
        ("evcc-ac-only", "EVCC-DC-01", f"needs -20 DC: the EV offers {NS_ISO20_AC} only"),
        ("evcc-unidirectional", "EVCC-HP-01", "needs AC_BPT: the EV ended the session when offered AC_BPT"),
        ("evcc-eim-only", "EVCC-HP-05", "needs PnC: the EV ended the session when offered PnC"),
    ],
)
def test_what_the_sut_lacks_is_inconclusive(sut: str, case_id: str, reason: str, credentials: Credentials) -> None:
    result = _against(sut, case_id, credentials)
    assert result.verdict is Verdict.INCONCLUSIVE, describe(result)
    assert result.reason.endswith(reason), describe(result)
    assert "tester error" not in result.reason and "Error:" not in result.reason


@pytest.mark.parametrize(
    ("sut", "case_id"),
    [
        ("secc-no-bpt", "SECC-HP-01"),  # a plain AC case needs no BPT
        ("secc-no-bpt", "SECC-HP-07"),  # the resumed session keeps the AC service its paused one fell back to
        ("secc-eim-only", "SECC-HP-02"),
        ("evcc-eim-only", "EVCC-HP-01"),
    ],
)
def test_what_the_case_does_not_need_still_passes(sut: str, case_id: str, credentials: Credentials) -> None:
    result = _against(sut, case_id, credentials)
    assert result.verdict is Verdict.PASS, describe(result)


def _note_minor(msg: Any, memory: dict[str, Any]) -> Any:
    if type(msg).__name__ == "supportedAppProtocolReq":
        memory["minor"] = max(o.version_number_minor for o in msg.app_protocol)
    return msg


def _refuse_minor(msg: Any, memory: dict[str, Any]) -> Any:
    if type(msg).__name__ == "supportedAppProtocolRes" and memory.get("minor"):
        return dataclasses.replace(msg, response_code=SapCode.Failed_NoNegotiation, schema_id=None)
    return msg


def test_a_refusal_of_what_the_sut_supports_still_fails(credentials: Credentials) -> None:
    # The SECC speaks -20 AC but refuses version 1.1: the probe finds AC 1.0 accepted, so PAR-02 fails.
    picky = Fault(name="refuses-minor", role=_S, description="", incoming=_note_minor, outgoing=_refuse_minor)
    result = run(run_against_own(CASES["SECC-PAR-02"], credentials, picky))
    assert result.verdict is Verdict.FAIL, describe(result)
    assert "answered Failed_NoNegotiation, expected OK_SuccessfulNegotiation" in result.reason
    assert any("probe on a new connection" in e.text and "OK_SuccessfulNegotiation" in e.text for e in result.trace)
