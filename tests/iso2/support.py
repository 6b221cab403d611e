"""Running ISO 15118-2 sessions in memory between our EVCC and SECC, and reading what they sent."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from iso15118.config import EvccConfig, SeccConfig
from iso15118.constants import NS_ISO2
from iso15118.envelope.states import body_of
from iso15118.iso2.profile import ISO2
from tests.session.recording import Recorder, run_pair

__all__ = ["EVCC", "SECC", "bodies", "evcc", "kinds", "run", "secc"]

EVCC = EvccConfig(protocols=(NS_ISO2,), loop_interval_s=0.0, authorization_retry_s=0.0, max_loops=3)
"""An EV offering only -2, looping without pauses."""
SECC = SeccConfig(protocols=(NS_ISO2,))
"""A charger offering only -2."""


def evcc(**changes: Any) -> EvccConfig:
    """:data:`EVCC` with ``changes``."""
    return dataclasses.replace(EVCC, **changes)


def secc(**changes: Any) -> SeccConfig:
    """:data:`SECC` with ``changes``."""
    return dataclasses.replace(SECC, **changes)


def run(config: EvccConfig = EVCC, **kwargs: Any) -> tuple[Any, Any, Recorder]:
    """One in-memory session: (EVCC outcome, SECC outcome, both sides recorded)."""
    rec = Recorder()
    kwargs.setdefault("secc", SECC)
    out, charger = asyncio.run(run_pair(config, recorder=rec, **kwargs))
    return out, charger, rec


def kinds(rec: Recorder, role: str) -> list[str]:
    """What ``role`` sent, by kind (``supportedAppProtocolReq`` for the SAP message)."""
    return [str(ISO2.kind_of(r.message) or type(r.message).__name__) for r in rec.messages if r.sender == role]


def bodies(rec: Recorder, role: str, kind: str) -> list[Any]:
    """The Body elements of one kind ``role`` sent."""
    return [body_of(r.message) for r in rec.messages if r.sender == role and str(ISO2.kind_of(r.message)) == kind]
