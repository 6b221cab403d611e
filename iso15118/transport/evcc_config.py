"""What an EVCC asks for and how it behaves: :class:`EvccConfig`, read by the EVCC driver (:mod:`.evcc`), the
client and `v2g evcc` (whose TOML ``[evcc]`` table holds these fields)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from iso15118.constants import NS_ISO20_AC
from iso15118.controller import ControlMode
from iso15118.errors import ConfigError
from iso15118.messages import iso20 as m
from iso15118.transport.evcc_pnc import ContractCredentials

__all__ = ["AUTHORIZATION", "POWER_TOLERANCE_ACCEPTANCE", "STOP_WITH", "EvccConfig"]

AUTHORIZATION: Final = ("EIM", "PnC")
STOP_WITH: Final = ("Terminate", "Pause", "ServiceRenegotiation")
POWER_TOLERANCE_ACCEPTANCE: Final = tuple(str(v) for v in m.PowerToleranceAcceptance)


@dataclass(frozen=True, slots=True, kw_only=True)
class EvccConfig:
    """What an EVCC asks for and how it behaves."""

    evcc_id: str = "WMIV1234567890ABCDEX"
    protocols: tuple[str, ...] = (NS_ISO20_AC,)
    """Namespaces offered in SupportedAppProtocol, most preferred first (priority 1, 2...)."""
    authorization: str = "EIM"
    """``EIM`` or ``PnC`` (PnC needs ``credentials``)."""
    credentials: ContractCredentials | None = None
    control_mode: ControlMode = ControlMode.DYNAMIC
    bidirectional: bool = True
    """Select AC_BPT when the EVSE offers it (and the EV's limits say it can discharge)."""
    loop_interval_s: float = 0.1
    """Pause between charge-loop requests (the SECC times out after 0.5 s [V2G20-1499])."""
    meter_info_requested: bool = True
    max_supporting_points: int = 1024
    negative_discharge_limits: bool = False
    resume_session_id: bytes | None = None
    """Resume this paused session (SessionSetupReq carries its SessionID)."""
    resume_service_id: int | None = None
    """The service the paused session had selected (the EV keeps it, as the SECC does [V2G20-2539])."""
    authorization_retry_s: float = 0.5
    authorization_attempts: int = 3
    """Give up (SessionStop) after this many authorization refusals (WARNING responses)."""
    max_loops: int | None = None
    """Stop after this many charge-loop exchanges (testing); None: until the EV is done."""
    renegotiate_schedule_after: int | None = None
    """EV-initiated schedule renegotiation (side stream 0x8101) after this many loops (testing)."""
    metering_confirmation_after: int | None = None
    """EV-initiated metering confirmation (side stream 0x8102, PnC) after this many loops (testing)."""
    power_tolerance_acceptance: str | None = None
    """Scheduled mode: send PowerToleranceAcceptance (e.g. ``PowerToleranceConfirmed``) in PowerDeliveryReq
    (optional in the XSD; some SECCs, Josev's among them, require it)."""
    stop_with: str = "Terminate"
    """How the session ends when the EV is done: ``Terminate``, ``Pause`` or ``ServiceRenegotiation``."""

    def __post_init__(self) -> None:
        choices = {
            "authorization": AUTHORIZATION,
            "stop_with": STOP_WITH,
            "power_tolerance_acceptance": (*POWER_TOLERANCE_ACCEPTANCE, None),
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                listed = ", ".join(str(a) for a in allowed)
                raise ConfigError(f"EvccConfig.{name} must be one of {listed}, got {value!r}")
