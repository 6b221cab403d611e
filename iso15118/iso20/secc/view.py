"""What an ISO 15118-20 SECC decision sees, and what it remembers between requests.

:class:`SeccContext` is the SECC's memory of one session (frozen: a decision returns a new one);
:class:`SeccView` bundles it with the request's time and header, the configuration, the session's selection,
the controller inputs gathered so far, the peer's TLS identity and fresh randomness (SessionIDs and
GenChallenges come from a CSPRNG, so the runner hands the bytes in and decisions stay deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final

from iso15118.config import SeccConfig
from iso15118.decisions import Answer, Effect, Inputs, Need, PeerIdentity
from iso15118.iso20.kinds import Kind, kind_of
from iso15118.iso20.pnc import PncOutcome, PncVerifier
from iso15118.iso20.profile import ISO20
from iso15118.iso20.services import discharge_limit
from iso15118.messages import iso20 as m
from iso15118.session.selection import Selection

__all__ = [
    "ENTROPY_BYTES",
    "Decision",
    "SeccContext",
    "SeccView",
    "answer",
    "discharge",
    "fail",
    "kind",
    "ok",
    "parameters_answer",
]

ENTROPY_BYTES: Final = 32
"""Random bytes the runner hands to every decision (8 for a SessionID, 16 for a GenChallenge)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccContext:
    """What this SECC remembers about the session it serves."""

    evcc_id: str = ""
    service_id: int | None = None
    parameter_set: int | None = None
    control_mode: int | None = None
    """1 = Scheduled, 2 = Dynamic (from the selected parameter set)."""
    authorization: str | None = None
    gen_challenge: bytes | None = None
    authorized: bool = False
    schedule_ids: tuple[int, ...] = ()
    discharge: bool = False
    bpt_channel: str | None = None
    loops: int = 0
    meter: tuple[dict[str, Any], ...] = ()
    contract: PncOutcome | None = None
    resumed: bool = False
    cable_checked: bool = False
    precharge_target_v: float | None = None
    refusal: str | None = None
    """Why the EV did not get energy, when a decision refused it (reported in the outcome)."""
    notes: tuple[str, ...] = field(default=())
    """Deviations and events worth a line in the summary."""

    @property
    def dynamic(self) -> bool:
        """Dynamic control mode selected."""
        return self.control_mode == 2


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccView:
    """Everything a decision may read (see the module docstring)."""

    now: float
    header: m.MessageHeader
    ctx: SeccContext
    config: SeccConfig
    selection: Selection
    session_id: bytes
    inputs: Inputs = field(default_factory=Inputs)
    peer: PeerIdentity | None = None
    pnc: PncVerifier | None = None
    entropy: bytes = bytes(ENTROPY_BYTES)
    dc_capable: bool = False
    """The controller drives a DC output (DC services may be offered)."""
    stopping: bool = False
    """The operator asked the charger to stop (SIGINT/SIGTERM): loop responses carry EVSENotification
    Terminate with no delay, so the EV ends the session the standard's way [V2G20-1610]."""


Decision = Answer[SeccContext] | Need


def answer(response: Any, ctx: SeccContext, *effects: Effect) -> Answer[SeccContext]:
    """An answer with effects."""
    return Answer(response, ctx, tuple(effects))


def ok(v: SeccView) -> m.ResponseCode:
    """``OK`` (spelled once)."""
    return m.ResponseCode.OK


def fail(req: Any, code: m.ResponseCode, v: SeccView, why: str | None = None) -> Answer[SeccContext]:
    """The FAILED response to ``req`` with only its mandatory elements; the session ends after it is sent."""
    kind = kind_of(req)
    assert kind is not None, f"{type(req).__name__} is not a -20 message"
    response = ISO20.failure(req, kind, code, v.header)
    ctx = v.ctx if why is None else _with_refusal(v.ctx, f"{code}: {why}")
    return Answer(response, ctx)


def _with_refusal(ctx: SeccContext, text: str) -> SeccContext:
    return replace(ctx, refusal=ctx.refusal or text)


def kind(req: Any) -> Kind:
    """The kind of a -20 request (decisions only ever see -20 requests)."""
    found = kind_of(req)
    assert found is not None
    return found


def discharge(v: SeccView, value: float) -> m.RationalNumber:
    """A discharge limit as this charger sends them: a magnitude, or <= 0 when configured (Amendment 1)."""
    return discharge_limit(value, negative=v.config.negative_discharge_limits)


def parameters_answer(
    v: SeccView, response: type, bpt: bool, modes: tuple[tuple[str, type], tuple[str, type]], fields: dict[str, Any]
) -> Answer[SeccContext]:
    """An AC_/DC_ChargeParameterDiscoveryRes: the plain or BPT energy-transfer-mode element (``modes`` gives the
    (field, class) of each) with ``fields``."""
    field_name, cls = modes[1] if bpt else modes[0]
    return Answer(response(header=v.header, response_code=m.ResponseCode.OK, **{field_name: cls(**fields)}), v.ctx)
