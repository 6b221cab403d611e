"""The README's state diagrams are the ones generated from the profiles' sequence tables, and every request the
table admits has a decision on both sides."""

from __future__ import annotations

from pathlib import Path

import pytest

from iso15118.din.profile import DIN
from iso15118.iso2.profile import ISO2
from iso15118.iso20 import evcc
from iso15118.iso20.kinds import RESPONSE_OF, Kind
from iso15118.iso20.profile import ISO20, diagram
from iso15118.iso20.secc import HANDLERS
from iso15118.session.diagram import mermaid
from iso15118.session.profile import Profile

README = Path(__file__).resolve().parents[2] / "README.md"
DIAGRAMS = Path(__file__).resolve().parents[2] / "docs" / "sequence-diagrams.md"
# Our EVCC does not install contract certificates yet (CertificateInstallation end to end is a later issue); the
# SECC answers the request all the same.
NOT_SENT_BY_OUR_EVCC = {Kind.CertificateInstallationReq}


def test_readme_diagram_is_current() -> None:
    text = README.read_text()
    marker = text.index("BEGIN STATE DIAGRAM ISO 15118-20")
    start = text.index("```mermaid\n", marker) + len("```mermaid\n")
    end = text.index("```", start)
    assert text[start:end] == diagram(), "regenerate the README diagram with iso15118.iso20.profile.diagram()"


def test_every_admitted_request_has_a_decision_on_both_sides() -> None:
    admitted = {Kind(kind) for _state, kind in ISO20.table.rows} | {Kind(k) for _s, _side, k in ISO20.table.side}
    assert len(admitted) > 15
    assert admitted - set(HANDLERS) == set(), "an admitted request without an SECC decision"
    sent = admitted - NOT_SENT_BY_OUR_EVCC
    assert sent - set(evcc.BUILD) == set(), "an admitted request the EVCC cannot build"
    assert {RESPONSE_OF[k] for k in sent} - set(evcc.NEXT) == set(), "a response without an EVCC decision"


@pytest.mark.parametrize(("title", "profile"), [("DIN 70121", DIN), ("ISO 15118-2", ISO2)])
def test_envelope_generation_diagrams_are_current(title: str, profile: Profile) -> None:
    text = DIAGRAMS.read_text()
    marker = text.index(f"BEGIN STATE DIAGRAM {title}")
    start = text.index("```mermaid\n", marker) + len("```mermaid\n")
    end = text.index("```", start)
    assert text[start:end] == mermaid(profile), f"regenerate docs/sequence-diagrams.md ({title}) from its table"
