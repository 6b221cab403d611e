"""The reports: JUnit XML parses and its counts match, the JSON holds every result, the HTML is self-contained."""

from __future__ import annotations

import asyncio
import json
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.conformance.context import RunConfig
from harness.conformance.credentials import Credentials
from harness.conformance.faulty import fault
from harness.conformance.model import CaseResult, Verdict
from harness.conformance.own import OwnSecc
from harness.conformance.report import RunInfo, write_reports
from harness.conformance.run import not_run, run_cases, run_error
from tests.conformance.conftest import CASES, SELF_TEST_TIMING

# A passing case, a failing one (a fault breaks our SUT) and an inconclusive one (TLS on an in-memory target).
_CHOSEN = ("SECC-HP-02", "SECC-SEQ-03", "SECC-SEC-02", "SECC-FRM-11")


@pytest.fixture(scope="module")
def results(credentials: Credentials) -> list[CaseResult]:
    async def go() -> list[CaseResult]:
        target = OwnSecc(credentials=credentials, timing=SELF_TEST_TIMING, fault=fault("secc-sequence-ok"))
        try:
            config = RunConfig(credentials=credentials, timing=SELF_TEST_TIMING)
            return await run_cases([CASES[c] for c in _CHOSEN], target, config)
        finally:
            await target.aclose()

    found = asyncio.run(go())
    assert [r.verdict for r in found] == [Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.PASS]
    return found


@pytest.fixture(scope="module")
def written(results: list[CaseResult], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    now = time.time()
    info = RunInfo(target="test <target> & co", started=now - 1, finished=now, settings={"tls": False})
    return write_reports(results, tmp_path_factory.mktemp("report"), info)


def test_junit_parses_and_counts_match(written: dict[str, Path], results: list[CaseResult]) -> None:
    root = ET.parse(written["junit"]).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "0")
    assert sum(int(suite.get("skipped", "0")) for suite in root.findall("testsuite")) == 1
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 4
    for suite in root.findall("testsuite"):
        members = suite.findall("testcase")
        assert suite.get("tests") == str(len(members))
        assert suite.get("failures") == str(sum(1 for c in members if c.find("failure") is not None))
        assert suite.get("skipped") == str(sum(1 for c in members if c.find("skipped") is not None))
        assert suite.get("name", "").startswith("conformance.secc.")
        float(suite.get("time", "x"))
    by_name = {c.get("name", "").split()[0]: c for c in cases}
    assert set(by_name) == set(_CHOSEN)
    failure = by_name["SECC-SEQ-03"].find("failure")
    assert failure is not None and "expected FAILED_SequenceError" in failure.get("message", "")
    skipped = by_name["SECC-SEC-02"].find("skipped")
    assert skipped is not None and skipped.get("message", "").startswith(
        "inconclusive: needs TLS: the target is in-memory"
    )
    requirements = [
        p.get("value")
        for p in by_name["SECC-SEQ-03"].findall("./properties/property")
        if p.get("name") == "requirement"
    ]
    assert "V2G20-1486" in requirements
    assert by_name["SECC-HP-02"].find("failure") is None and by_name["SECC-HP-02"].find("skipped") is None
    out = by_name["SECC-HP-02"].findtext("system-out") or ""
    assert "SessionSetupRes" in out


def test_json_holds_every_result(written: dict[str, Path], results: list[CaseResult]) -> None:
    data = json.loads(written["json"].read_text())
    assert data["format"] == "v2gstack-conformance/1"
    assert data["summary"] == {"total": 4, "pass": 2, "fail": 1, "inconclusive": 1, "error": 0}
    assert data["error"] is None
    assert [r["id"] for r in data["results"]] == list(_CHOSEN)
    first = data["results"][0]
    assert first["verdict"] == "pass" and first["requirements"] and first["steps"]
    frames = [e for e in first["trace"] if e["direction"] == "rx"]
    assert frames and all(e["hex"] and e["decoded"] for e in frames)
    assert all(e["hex"].startswith("01fe") for e in frames)  # whole V2GTP frames
    perf = [m for m in first["measurements"] if m["kind"] == "performance"]
    assert len(perf) == len(frames) and all(m["ok"] for m in perf)


def test_html_is_self_contained(written: dict[str, Path]) -> None:
    html = written["html"].read_text()
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", html, re.IGNORECASE)
    assert "<link" not in html.lower() and "@import" not in html
    for case_id in _CHOSEN:
        assert f'id="{case_id}"' in html and f'href="#{case_id}"' in html
    assert "test &lt;target&gt; &amp; co" in html and "<target>" not in html  # escaped
    assert "01fe8002" in html  # frames in hex
    assert "FAIL" in html and "INCONCLUSIVE" in html


def test_a_run_that_lost_its_sut_reports_errors_not_skips(tmp_path: Path) -> None:
    why = "cannot reach the SECC: cannot connect to [::1]:9: Connection refused"
    results = [not_run(CASES[c], why, None) for c in _CHOSEN]
    assert all(r.verdict is Verdict.ERROR for r in results) and run_error(results) == why
    now = time.time()
    info = RunInfo(target="SECC at [::1]:9", started=now, finished=now, error=run_error(results))
    paths = write_reports(results, tmp_path, info)
    root = ET.parse(paths["junit"]).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "0", "4")
    assert sum(int(suite.get("skipped", "0")) for suite in root.findall("testsuite")) == 0
    for case in root.iter("testcase"):
        error = case.find("error")
        assert error is not None and error.get("message") == f"not run: {why}" and case.find("skipped") is None
    assert {p.get("value") for p in root.iter("property") if p.get("name") == "run_error"} == {why}
    data = json.loads(paths["json"].read_text())
    assert data["error"] == why and data["summary"]["error"] == 4
    assert "Run error" in paths["html"].read_text()
