"""The main-stream state diagram, generated from :data:`~iso15118.session.states.SEQUENCE` and
:data:`~iso15118.session.states.TRANSITIONS` (a Mermaid ``stateDiagram-v2``; the README embeds it)."""

from __future__ import annotations

from iso15118.session.states import SEQUENCE, TRANSITIONS, State

__all__ = ["mermaid"]

_SKIP_STOP = "SessionStopReq"  # accepted in every set-up state [V2G20-2645]; drawn once as a note


def mermaid() -> str:
    """The diagram as Mermaid text (deterministic)."""
    lines = ["stateDiagram-v2", f"    [*] --> {State.WAIT_SAP.name}"]
    edges: list[str] = []
    for (state, request), _requirement in sorted(
        SEQUENCE.items(), key=lambda kv: (list(State).index(kv[0][0]), kv[0][1])
    ):
        if request == _SKIP_STOP and state is not State.WAIT_SESSION_STOP:
            continue
        for condition, target, requirement in TRANSITIONS.get(request, ()):
            to = state if target is None else target
            label = request if condition == "any" else f"{request} [{condition}]"
            edge = f"    {state.name} --> {to.name}: {label} ({requirement})"
            if edge not in edges:
                edges.append(edge)
    lines += edges
    lines.append(f"    {State.ENDED.name} --> [*]")
    lines.append(f"    note right of {State.WAIT_AUTHORIZATION_SETUP.name}")
    lines.append(
        "        SessionStopReq is also accepted in every state from here to WAIT_POWER_DELIVERY (V2G20-2645);"
    )
    lines.append("        any FAILED response code ends the session.")
    lines.append("    end note")
    return "\n".join(lines) + "\n"
