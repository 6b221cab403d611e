"""What an SECC offers and how it behaves: :class:`SeccConfig`, read by the SECC driver (:mod:`.secc`), the
server and `v2g secc` (whose TOML ``[secc]`` table holds these fields)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from iso15118.constants import NS_ISO20_AC
from iso15118.errors import ConfigError
from iso15118.session.services import AC, AC_BPT

__all__ = ["PRICING", "SeccConfig"]

PRICING: Final = {"none": 0, "price_levels": 2}
"""SeccConfig.pricing -> the Pricing service parameter (STD table 205; 1 = absolute prices is not offered)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccConfig:
    """What an SECC offers and how it behaves."""

    evse_id: str = "DE*V2G*E0001*1"
    protocols: tuple[str, ...] = (NS_ISO20_AC,)
    """Namespaces accepted in SupportedAppProtocol, in our order of preference."""
    services: tuple[int, ...] = (AC, AC_BPT)
    control_modes: tuple[int, ...] = (1, 2)
    """Parameter sets offered per service: 1 = Scheduled, 2 = Dynamic."""
    authorization: tuple[str, ...] = ("EIM",)
    """``EIM`` and/or ``PnC``."""
    certificate_installation: bool = False
    service_renegotiation: bool = True
    pause_allowed: bool = True
    standby_allowed: bool = True
    free_service: bool = False
    bpt_channel: int = 1
    generator_mode: int = 1
    islanding_detection: int = 2
    negative_discharge_limits: bool = False
    """Send EVSE discharge limits as negative values (Amendment 1) instead of magnitudes."""
    meter_id: str = "METER-1"
    schedule_duration_s: int = 86400
    pricing: str = "none"
    """``none``: Pricing = 0 offered and no price schedule sent. ``price_levels``: Pricing = 2 offered, and every
    ScheduleExchangeRes carries a one-level PriceLevelSchedule (a flat tariff) -- in Scheduled mode with each
    ChargingSchedule and DischargingSchedule, in Dynamic mode in Dynamic_SEResControlMode. The price schedule is
    optional in the XSD; some EVs (Josev's, J8 in tests/interop/README.md) refuse a schedule without one.
    Absolute price schedules (Pricing = 1) are not implemented."""

    def __post_init__(self) -> None:
        if self.pricing not in PRICING:
            raise ConfigError(f"SeccConfig.pricing must be one of {', '.join(PRICING)}, got {self.pricing!r}")
