"""The README's state diagram is the one generated from the sequence table."""

from __future__ import annotations

from pathlib import Path

from iso15118.session.diagram import mermaid

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_diagram_is_current() -> None:
    text = README.read_text()
    start = text.index("```mermaid\n", text.index("BEGIN STATE DIAGRAM")) + len("```mermaid\n")
    end = text.index("```", start)
    assert text[start:end] == mermaid(), "regenerate the README diagram with iso15118.session.diagram.mermaid()"


def test_every_sequence_entry_has_a_transition_rule() -> None:
    from iso15118.session.states import SEQUENCE, TRANSITIONS

    assert {request for _state, request in SEQUENCE} <= set(TRANSITIONS)
