"""The conformance harness: a tester that plays the EV against an SECC or the SECC against an EVCC.

It checks the rules of one protocol generation (:mod:`~harness.conformance.generations`: ISO 15118-20 AC, AC_BPT,
DC and DC_BPT; ISO 15118-2 AC and DC; DIN 70121) independently of either peer (its own framing, timing and
checks, never our session core; the messages it sends are built by the library's EVCC and SECC decisions),
runs a library of data-driven cases (:mod:`harness.conformance.cases`) against a target
(:mod:`~harness.conformance.targets`: an SECC by address or SDP, an EVCC connecting to it; or our own stack,
:mod:`~harness.conformance.own`, optionally broken by a fault of :mod:`~harness.conformance.faulty`), and writes
JUnit XML, JSON and HTML reports (:mod:`~harness.conformance.report`). The command line is ``v2g conformance``;
README.md in this folder explains how to run it against a peer.
"""

from __future__ import annotations

from harness.conformance.cases import all_cases, select_cases
from harness.conformance.context import RunConfig
from harness.conformance.model import Case, CaseResult, Category, Need, Profile, SutRole, Verdict
from harness.conformance.report import RunInfo, write_reports
from harness.conformance.run import run_case, run_cases

__all__ = [
    "Case",
    "CaseResult",
    "Category",
    "Need",
    "Profile",
    "RunConfig",
    "RunInfo",
    "SutRole",
    "Verdict",
    "all_cases",
    "run_case",
    "run_cases",
    "select_cases",
    "write_reports",
]
