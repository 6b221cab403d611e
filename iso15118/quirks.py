"""Field quirks as data: what real peers do against the standards, which of it tolerant mode accepts, and why.

Each :class:`Quirk` is a named deviation of a peer seen in the field (sources in ``QUIRKS``), accepted only in
tolerant mode and logged every time it is used; strict mode refuses it with the rule it breaks. Each is
applied in exactly one place, named in its :class:`QuirkInfo`, and tested for both modes in
``tests/negotiation/test_quirks.py``. A runtime's :class:`~iso15118.transport.policy.TransportPolicy` says
which quirks it accepts (all of them in tolerant mode unless narrowed, none in strict mode).

The field reports name more than the table holds. :data:`FIELD_NOTES` keeps the ones that turned out not to be
deviations a peer could need accepted -- the standard already allows them, or they cannot be told apart from
another message on the wire -- with the reason, so that nobody adds them as quirks by mistake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from iso15118.session.config import Role

__all__ = [
    "FIELD_NOTES",
    "FIXED_TCP_PORT",
    "QUIRKS",
    "FieldNote",
    "Quirk",
    "QuirkInfo",
    "accepted_line",
    "empty_evccid",
    "refused_line",
]

FIXED_TCP_PORT: Final = 15118
"""The port EVs that ignore the SDP response connect to: the SDP server's UDP port number, used for TCP."""


class Quirk(StrEnum):
    """A named peer deviation tolerant mode accepts."""

    EMPTY_EVCCID = "empty-evccid"
    FIXED_TCP_PORT = "fixed-tcp-port"


@dataclass(frozen=True, slots=True, kw_only=True)
class QuirkInfo:
    """What a quirk is, what it breaks, who accepts it, and where that happens."""

    quirk: Quirk
    role: Role
    """The end that accepts the quirk (the other end, the peer, shows it)."""
    generations: tuple[str, ...]
    """The protocol generations (``iso20``, ``iso2``, ``din``) whose rule it breaks."""
    seen: str
    """What the peer does."""
    rule: str
    """The rule it breaks, with its clause or requirement."""
    accepted: str
    """What tolerant mode does instead of refusing."""
    where: str
    """The one place the quirk is applied."""
    source: str
    """Field evidence."""


QUIRKS: Final[Mapping[Quirk, QuirkInfo]] = MappingProxyType(
    {
        Quirk.EMPTY_EVCCID: QuirkInfo(
            quirk=Quirk.EMPTY_EVCCID,
            role=Role.SECC,
            generations=("din", "iso2"),
            seen="the EV sends SessionSetupReq with an empty (zero-byte) EVCCID; the element is mandatory in both "
            "schemas, so 'missing' on the wire is this",
            rule="DIN 70121 and ISO 15118-2 SessionSetupReq: EVCCID is the EV's MAC address (the -2 schema's "
            "evccIDType holds 6 bytes)",
            accepted="the session goes on; the EV is identified by its TLS or network address only",
            where="iso15118.transport.runner (the SECC's screen of each request, before the decisions)",
            source="field-quirks.md: some chargers abort when the EVCCID is missing from SessionSetupReq",
        ),
        Quirk.FIXED_TCP_PORT: QuirkInfo(
            quirk=Quirk.FIXED_TCP_PORT,
            role=Role.SECC,
            generations=("iso20", "iso2", "din"),
            seen=f"the EV ignores the TCP port of the SDP response and connects to port {FIXED_TCP_PORT}",
            rule="SDP: the SECC announces its TCP server port in the SDP response [V2G20-153..156], and that is "
            "where the EVCC connects",
            accepted=f"the SECC also listens on port {FIXED_TCP_PORT} and serves such an EV there like any other "
            "(strict mode does not listen there: the EV's connection is refused)",
            where="iso15118.transport.secc_server.SeccServer.start (the second listener)",
            source="pyPLC doc/bug_analysis.md Issue11: an EV on fixed port 15118 worked on ABB chargers, was "
            "refused by Alpitronic",
        ),
    }
)
"""Every quirk, by name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldNote:
    """A field report that is not a quirk, and why; ``test`` names the test that shows it."""

    report: str
    verdict: str
    test: str


FIELD_NOTES: Final = (
    FieldNote(
        report="Tesla Supercharger V3 uses 4-byte SessionIDs",
        verdict="standard in DIN 70121 and ISO 15118-2 (sessionIDType: hexBinary of at most 8 bytes); our EVCC "
        "takes any length the schema allows. -20 fixes 8 bytes in its schema: a shorter one is not a -20 message.",
        test="tests/negotiation/test_field_notes.py::test_a_din_session_with_a_4_byte_session_id_is_strict",
    ),
    FieldNote(
        report="ReadyToChargeState must be sent as a boolean where some stacks send an enum",
        verdict="advice to EVs, which our DIN EVCC cannot break: DIN's PowerDeliveryReq.ReadyToChargeState is a "
        "boolean and its codec writes exactly that; -2's ChargeProgress (Start/Stop/Renegotiate) is another "
        "element in another schema. Schema-informed EXI has no spelling of an enum in a boolean's place: such a "
        "stream is another message (or undecodable), nothing a tolerant decoder could accept by name.",
        test="tests/negotiation/test_field_notes.py::test_din_ready_to_charge_is_the_schema_boolean",
    ),
    FieldNote(
        report="OK_SuccessfulNegotiationWithMinorDeviation sent wrongly (EVerest#1409; Josev's -20 SECC)",
        verdict="an ISO 15118-20 EV treats it as OK_SuccessfulNegotiation [V2G20-1090]: strict, not a quirk; our "
        "SECC never sends it for -20 [V2G20-1089] and does for DIN 70121 and -2 when the minor version differs",
        test="tests/negotiation/test_field_notes.py::test_a_minor_deviation_answer_for_iso20_is_accepted",
    ),
    FieldNote(
        report="EVs restart SLAC or SessionSetup at once after a failure",
        verdict="standard: a new connection starts a new session (a new SessionID), whatever failed before; our "
        "SECC serves it in strict mode. SLAC restarts within TT_matching_repetition are the SLAC machine's "
        "own rule (iso15118.slac.evse).",
        test="tests/negotiation/test_field_notes.py::test_a_new_session_right_after_a_failed_one_is_strict",
    ),
)
"""Field reports considered and found not to be quirks."""


def accepted_line(quirk: Quirk, detail: str) -> str:
    """The log line (and outcome note) of a quirk tolerant mode accepted."""
    return f"tolerant mode quirk {quirk} accepted: {detail} (deviates from: {QUIRKS[quirk].rule})"


def refused_line(quirk: Quirk, detail: str) -> str:
    """Why strict mode refused a quirk: the rule it breaks, and how to accept it."""
    return f"{detail}: refused, {QUIRKS[quirk].rule} (tolerant mode accepts it as quirk {quirk})"


def empty_evccid(kind: str, body: Any) -> str | None:
    """The :attr:`Quirk.EMPTY_EVCCID` a DIN 70121 or -2 request shows, or None; ``body`` is its Body element.

    -20's EVCCID is a string of its own rules and is not judged here.
    """
    if kind != "SessionSetupReq":
        return None
    evcc_id = getattr(body, "evcc_id", None)
    if isinstance(evcc_id, bytes | bytearray) and len(evcc_id) == 0:
        return "SessionSetupReq carries an empty EVCCID"
    return None
