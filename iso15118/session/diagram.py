"""A profile's main-stream state diagram, generated from its sequence table (Mermaid ``stateDiagram-v2``).

One diagram per profile; the README embeds each between ``BEGIN STATE DIAGRAM <name>`` markers and a test keeps
them current. Edges are labelled with the request, the guard that admits it (``AC``, ``DC``...) and the
condition of the transition, and the requirement that defines it. SessionStopReq, admitted in every set-up state
[V2G20-2645], is drawn once, as a note.
"""

from __future__ import annotations

from enum import StrEnum

from iso15118.session.context import CoreState
from iso15118.session.profile import ALWAYS, Profile

__all__ = ["mermaid"]


def _name(state: StrEnum) -> str:
    return "ENDED" if state is CoreState.ENDED else state.name


def mermaid(profile: Profile, *, collapse: str | None = None, note: str = "") -> str:
    """The diagram of ``profile`` as Mermaid text (deterministic).

    Rows admitted by the requirement ``collapse`` (e.g. SessionStop in every set-up state) are left out and
    described once by ``note``, attached to the profile's first set-up state.
    """
    table = profile.table
    order = {s: i for i, s in enumerate(type(profile.initial_state))}
    lines = ["stateDiagram-v2", f"    [*] --> {_name(profile.initial_state)}"]
    edges: list[str] = []
    for (state, kind), rules in sorted(table.rows.items(), key=lambda kv: (order.get(kv[0][0], 99), str(kv[0][1]))):
        for rule in rules:
            if collapse is not None and rule.requirement == collapse:
                continue
            for transition in rule.after:
                to = state if transition.target is None else transition.target
                conditions = [c for c in (rule.guard, transition.condition) if c != ALWAYS]
                label = str(kind) + (f" [{', '.join(conditions)}]" if conditions else "")
                edge = f"    {_name(state)} --> {_name(to)}: {label} ({transition.requirement})"
                if edge not in edges:
                    edges.append(edge)
    lines += edges
    lines.append("    ENDED --> [*]")
    if note:
        lines.append(f"    note right of {_name(profile.setup_state)}")
        lines += [f"        {line}" for line in note.splitlines()]
        lines.append("    end note")
    return "\n".join(lines) + "\n"
