"""Reports of a conformance run: JUnit XML for CI, JSON with everything, and a self-contained HTML page.

JUnit follows the conventions Jenkins, GitLab, Azure DevOps and GitHub test reporters read (the attributes of
Jenkins' ``junit-10.xsd``; ``<properties>`` inside ``<testcase>`` as pytest writes them): one ``<testsuite>`` per
SUT role and category, one ``<testcase>`` per case (``classname`` ``conformance.<role>.<category>``, ``name`` ID
and title, ``time`` in seconds), ``<failure>`` for FAIL, ``<skipped>`` for INCONCLUSIVE, ``<error>`` for ERROR
(the SUT was not found or went away: the case did not run, and CI must not count it as skipped), requirement IDs
and preconditions as ``<properties>``, the trace summary in ``<system-out>``. The JSON holds every result with
its full evidence (hex, decoded messages, measurements) and the run's error. The HTML is
:mod:`harness.conformance.html`.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.conformance.html import render_html
from harness.conformance.model import CaseResult, Verdict

__all__ = ["RunInfo", "to_json", "to_junit", "write_reports"]

JSON_FORMAT = "v2gstack-conformance/1"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """What was tested, how, and when."""

    target: str
    started: float
    finished: float
    settings: dict[str, Any] = field(default_factory=dict)
    """Run settings worth reporting: timing, slack, tolerant mode, TLS, PKI."""
    tester: str = "v2gstack conformance harness"
    error: str | None = None
    """Why the run stopped early (the SUT was not found or went away), or None."""


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def counts(results: Sequence[CaseResult]) -> dict[str, int]:
    """Number of cases per verdict, and in total."""
    found = Counter(r.verdict.value for r in results)
    return {"total": len(results), **{v.value: found.get(v.value, 0) for v in Verdict}}


def _trace_text(result: CaseResult, limit: int = 200) -> str:
    lines = []
    for entry in result.trace[:limit]:
        elapsed = f" ({entry.elapsed * 1000:.1f} ms)" if entry.elapsed is not None else ""
        lines.append(f"{entry.at:9.4f} {entry.direction:4} {entry.text}{elapsed}")
    if len(result.trace) > limit:
        lines.append(f"... {len(result.trace) - limit} more entries in the JSON and HTML reports")
    return "\n".join(lines)


def to_junit(results: Sequence[CaseResult], info: RunInfo) -> bytes:
    """The JUnit XML document of a run."""
    total = counts(results)
    root = ET.Element(
        "testsuites",
        {
            "name": "v2gstack ISO 15118-20 conformance",
            "tests": str(total["total"]),
            "failures": str(total["fail"]),
            "errors": str(total["error"]),
            "time": f"{sum(r.duration for r in results):.3f}",
        },
    )
    suites: dict[str, list[CaseResult]] = {}
    for result in results:
        suites.setdefault(f"{result.case.sut.value}.{result.case.category.value}", []).append(result)
    hostname = socket.gethostname()
    for name, members in suites.items():
        found = counts(members)
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": f"conformance.{name}",
                "tests": str(found["total"]),
                "failures": str(found["fail"]),
                "errors": str(found["error"]),
                "skipped": str(found["inconclusive"]),
                "time": f"{sum(r.duration for r in members):.3f}",
                "timestamp": _iso(min(r.started for r in members)),
                "hostname": hostname,
            },
        )
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", {"name": "target", "value": info.target})
        if info.error is not None:
            ET.SubElement(props, "property", {"name": "run_error", "value": info.error})
        for key, value in sorted(info.settings.items()):
            ET.SubElement(props, "property", {"name": key, "value": str(value)})
        for result in members:
            _testcase(suite, name, result)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _testcase(suite: ET.Element, name: str, result: CaseResult) -> None:
    case = result.case
    element = ET.SubElement(
        suite,
        "testcase",
        {
            "classname": f"conformance.{name}",
            "name": f"{case.id} {case.title}",
            "time": f"{result.duration:.3f}",
        },
    )
    props = ET.SubElement(element, "properties")
    for requirement in case.requirements:
        ET.SubElement(props, "property", {"name": "requirement", "value": requirement})
    for need in sorted(case.needs):
        ET.SubElement(props, "property", {"name": "precondition", "value": need.value})
    ET.SubElement(props, "property", {"name": "verdict", "value": result.verdict.value})
    if result.verdict is Verdict.FAIL:
        failure = ET.SubElement(element, "failure", {"message": result.reason, "type": "ConformanceFailure"})
        failure.text = "\n".join(
            f"{s.index}. {s.description}: {s.outcome}" + (f" - {s.detail}" if s.detail else "") for s in result.steps
        )
    elif result.verdict is Verdict.INCONCLUSIVE:
        ET.SubElement(element, "skipped", {"message": f"inconclusive: {result.reason}"})
    elif result.verdict is Verdict.ERROR:
        ET.SubElement(element, "error", {"message": result.reason, "type": "SutUnreachable"})
    out = ET.SubElement(element, "system-out")
    out.text = f"expected: {case.expected}\nverdict: {result.verdict.value}: {result.reason}\n" + _trace_text(result)


def _result_json(result: CaseResult) -> dict[str, Any]:
    case = result.case
    return {
        "id": case.id,
        "title": case.title,
        "sut": case.sut.value,
        "category": case.category.value,
        "requirements": list(case.requirements),
        "needs": sorted(n.value for n in case.needs),
        "preconditions": case.preconditions,
        "stimulus": case.stimulus,
        "expected": case.expected,
        "negative": case.negative,
        "verdict": result.verdict.value,
        "reason": result.reason,
        "started": _iso(result.started) + "Z",
        "duration_s": result.duration,
        "target": result.target,
        "steps": [
            {"index": s.index, "description": s.description, "outcome": s.outcome, "detail": s.detail}
            for s in result.steps
        ],
        "measurements": [
            {
                "what": mm.what,
                "kind": mm.kind,
                "measured_s": mm.measured,
                "limit_s": mm.limit,
                "lower_s": mm.lower,
                "ok": mm.ok,
                "requirement": mm.requirement,
            }
            for mm in result.measurements
        ],
        "trace": [
            {
                "at_s": e.at,
                "direction": e.direction,
                "text": e.text,
                "payload_type": e.payload_type,
                "stream": e.stream,
                "hex": e.hex,
                "decoded": e.decoded,
                "elapsed_s": e.elapsed,
            }
            for e in result.trace
        ],
    }


def to_json(results: Sequence[CaseResult], info: RunInfo) -> dict[str, Any]:
    """Everything about a run as one JSON-compatible object."""
    return {
        "format": JSON_FORMAT,
        "tester": info.tester,
        "target": info.target,
        "started": _iso(info.started) + "Z",
        "finished": _iso(info.finished) + "Z",
        "settings": info.settings,
        "error": info.error,
        "summary": counts(results),
        "results": [_result_json(r) for r in results],
    }


def write_reports(results: Sequence[CaseResult], directory: Path, info: RunInfo) -> dict[str, Path]:
    """Write ``conformance.xml`` (JUnit), ``conformance.json`` and ``conformance.html`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "junit": directory / "conformance.xml",
        "json": directory / "conformance.json",
        "html": directory / "conformance.html",
    }
    paths["junit"].write_bytes(to_junit(results, info))
    paths["json"].write_text(json.dumps(to_json(results, info), indent=1) + "\n", encoding="utf-8")
    paths["html"].write_text(render_html(results, info, counts(results)), encoding="utf-8")
    return paths
