"""What the EVCC and SECC decisions are configured with: :class:`EvccConfig` (what an EV asks for) and
:class:`SeccConfig` (what a charger offers). `v2g evcc` / `v2g secc` read them from the TOML ``[evcc]`` and
``[secc]`` tables; the fields that take one of a few values list them in :data:`EVCC_CHOICES` and
:data:`SECC_CHOICES`, which the configs check on construction and the TOML loader checks per key.

Values that are modelling choices of ours rather than the standard's are marked as such where they are set."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from iso15118.constants import NS_DIN, NS_ISO20_AC, NS_ISO20_DC, EnergyService
from iso15118.controller import ControlMode
from iso15118.errors import ConfigError
from iso15118.messages import iso20 as m
from iso15118.security.credentials import ContractCredentials, ProvisioningCredentials
from iso15118.security.profiles import DEFAULT_EVCCID
from iso15118.session.selection import EnergyFamily

__all__ = ["EVCC_CHOICES", "PRICING", "SECC_CHOICES", "EvccConfig", "SeccConfig", "check_choices"]

AUTHORIZATION: Final = ("EIM", "PnC")
PRICING: Final = {"none": 0, "price_levels": 2}
"""SeccConfig.pricing -> the Pricing service parameter (STD table 205; 1 = absolute prices is not offered)."""

EVCC_CHOICES: Final[Mapping[str, tuple[str, ...]]] = {
    "authorization": AUTHORIZATION,
    "stop_with": ("Terminate", "Pause", "ServiceRenegotiation"),
    "power_tolerance_acceptance": tuple(str(v) for v in m.PowerToleranceAcceptance),
}
SECC_CHOICES: Final[Mapping[str, tuple[str, ...]]] = {
    "authorization": AUTHORIZATION,
    "pricing": tuple(PRICING),
    "protocol_preference": ("ev", "secc"),
}


def check_choices(config: object, choices: Mapping[str, tuple[str, ...]]) -> None:
    """Refuse a field (or an item of a tuple field) outside its choices; None means "not set" and passes."""
    for name, allowed in choices.items():
        value = getattr(config, name)
        items = value if isinstance(value, tuple) else (value,)
        bad = [v for v in items if v is not None and v not in allowed]
        if bad:
            raise ConfigError(f"{type(config).__name__}.{name} must be one of {', '.join(allowed)}, got {bad[0]!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class EvccConfig:
    """What an EVCC asks for and how it behaves."""

    evcc_id: str = DEFAULT_EVCCID
    """SessionSetupReq's EVCCID: the vehicle certificate's CN (the test PKI's default; `v2g evcc` with a PKI takes
    the CN of its vehicle certificate unless this is set)."""
    energy: EnergyFamily = EnergyFamily.AC
    """AC or DC: which -20 namespace is offered (with ``bidirectional``: AC_BPT or DC_BPT when discharging)."""
    protocols: tuple[str, ...] | None = None
    """Namespaces offered in SupportedAppProtocol, most preferred first (priority 1, 2...); None: the -20
    namespace of ``energy``."""
    authorization: str = "EIM"
    """``EIM`` or ``PnC`` (PnC needs ``credentials``)."""
    credentials: ContractCredentials | None = None
    provisioning: ProvisioningCredentials | None = None
    """The OEM provisioning credentials for CertificateInstallation (with ``install_certificate``)."""
    install_certificate: bool = False
    """Ask for a contract certificate (CertificateInstallationReq) when the SECC offers the service; the installed
    contract serves PnC in the same session and is reported (``contract_installed``) for the next ones."""
    control_mode: ControlMode = ControlMode.DYNAMIC
    bidirectional: bool = True
    """Select the BPT service (AC_BPT, DC_BPT) when the EVSE offers it and the EV's limits say it can discharge."""
    accept_fallback: bool = False
    """When the SECC cannot give what was asked (discharge, PnC, a control mode, resuming a session), go on with
    what it offers and say so in the outcome; by default the EV stops the session and the outcome says why."""
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
    """Pause before repeating a request the SECC answered ``Ongoing`` (Authorization, ScheduleExchange,
    CableCheck)."""
    authorization_attempts: int = 3
    """Give up (SessionStop) after this many authorization refusals (WARNING responses)."""
    max_loops: int | None = None
    """Stop after this many charge-loop exchanges (testing); None: until the EV is done."""
    renegotiate_schedule_after: int | None = None
    """EV-initiated schedule renegotiation after this many loops (testing): -20 on side stream 0x8101, -2 with
    PowerDelivery(Renegotiate)."""
    metering_confirmation_after: int | None = None
    """EV-initiated metering confirmation (side stream 0x8102, PnC) after this many loops (testing)."""
    power_tolerance_acceptance: str | None = None
    """Scheduled mode: send PowerToleranceAcceptance (e.g. ``PowerToleranceConfirmed``) in PowerDeliveryReq
    (optional in the XSD; some SECCs, Josev's among them, require it)."""
    stop_with: str = "Terminate"
    """How the session ends when the EV is done: ``Terminate``, ``Pause`` or ``ServiceRenegotiation`` (a -20
    notion: a -2 session terminates instead)."""
    precharge_tolerance_v: float = 10.0
    """DC: precharge is done when the EVSE's voltage is within this of the EV's target (our choice; the
    standard leaves the threshold to the EV)."""
    precharge_interval_s: float = 0.05
    """DC: pause between DC_PreChargeReq while the voltage rises."""
    precharge_timeout_s: float = 7.0
    """DC: give up (and stop the session) when the charger's voltage has not reached the target this long after
    the first DC_PreChargeReq. DIN 70121 and ISO 15118-2 give the EV 7 s (V2G_EVCC_PreCharge_Timeout); our
    references give no -20 value, so the same 7 s is used."""
    welding_safe_voltage_v: float = 60.0
    """DC: welding detection ends once the EVSE's output is below this (our choice: the usual DC touch-safe
    limit)."""
    welding_attempts: int = 20
    """DC: give up welding detection (and stop the session anyway) after this many requests."""
    cable_check_timeout_s: float = 40.0
    """DIN 70121 and ISO 15118-2 DC: give up (and stop the session) when the charger still answers CableCheck
    Ongoing this long after the first answer (V2G_EVCC_CableCheck_Timeout, DIN 70121 table 77: 40 s)."""
    evcc_mac: bytes = bytes.fromhex("020000000001")
    """DIN 70121 and ISO 15118-2: SessionSetupReq's EVCCID, the EV's MAC address (hexBinary, 1 to 8 bytes; these
    generations have no string EVCCID, ``evcc_id`` is -20's). The default is a locally administered address."""
    contract_update_before_s: float = 21 * 86400.0
    """ISO 15118-2 Plug & Charge: renew the contract certificate (CertificateUpdateReq, when the SECC offers the
    Certificate service) once it expires within this many seconds. Our choice: 21 days, the threshold RISE-V2G
    uses for OK_CertificateExpiresSoon."""

    def __post_init__(self) -> None:
        check_choices(self, EVCC_CHOICES)
        if not 1 <= len(self.evcc_mac) <= 8:
            raise ConfigError(f"EvccConfig.evcc_mac must have 1 to 8 bytes, got {len(self.evcc_mac)}")
        if self.protocols is not None and NS_DIN in self.protocols and self.energy is not EnergyFamily.DC:
            raise ConfigError("EvccConfig.protocols offers DIN 70121, which is DC only: set energy to DC")

    @property
    def offered_protocols(self) -> tuple[str, ...]:
        """The namespaces offered in SupportedAppProtocol, most preferred first."""
        if self.protocols is not None:
            return self.protocols
        return (NS_ISO20_DC,) if self.energy is EnergyFamily.DC else (NS_ISO20_AC,)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccConfig:
    """What an SECC offers and how it behaves."""

    evse_id: str = "DE*V2G*E0001*1"
    din_evse_id: bytes | None = None
    """DIN 70121's EVSEID, hexBinary of at most 32 bytes (-20 and -2 send ``evse_id`` as a string); None: the
    ASCII bytes of ``evse_id``. ``00`` says the charger has none [V2G-DC-876]."""
    protocols: tuple[str, ...] = (NS_ISO20_AC, NS_ISO20_DC)
    """Namespaces accepted in SupportedAppProtocol, in our order of preference (DC only with a DC-capable
    controller; over each connection only those its transport is valid for, see
    :mod:`iso15118.transport.negotiation`)."""
    protocol_preference: str = "ev"
    """Whose order picks among the protocols both ends speak: ``ev`` (the default) takes the EV's priority, the
    standard's rule [V2G20-169], with ``protocols``' order breaking ties; ``secc`` takes the first of
    ``protocols`` the EV offered (a charger that would rather run, say, DIN 70121 than -2 whatever the EV
    prefers), the EV's priority breaking ties. Either way only what the EV offered can be chosen."""
    services: tuple[int, ...] = tuple(
        int(s) for s in (EnergyService.AC, EnergyService.AC_BPT, EnergyService.DC, EnergyService.DC_BPT)
    )
    """Energy services offered; ServiceDiscovery lists those of the session's family (BPT ones only when the
    controller says it is bidirectional)."""
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
    receipt_required: bool = False
    """ISO 15118-2: ask for a MeteringReceipt in the charge-loop responses of Plug & Charge sessions (EIM sessions
    never ask [V2G2-691])."""
    schedule_duration_s: int = 86400
    pricing: str = "none"
    """``none``: Pricing = 0 offered and no price schedule sent. ``price_levels``: Pricing = 2 offered, and every
    ScheduleExchangeRes carries a one-level PriceLevelSchedule (a flat tariff) -- in Scheduled mode with each
    ChargingSchedule and DischargingSchedule, in Dynamic mode in Dynamic_SEResControlMode. The price schedule is
    optional in the XSD; some EVs (Josev's, J8 in tests/interop/README.md) refuse a schedule without one.
    Absolute price schedules (Pricing = 1) are not implemented."""

    pause_expiry_s: float = 86400.0
    """How long a paused session can be resumed. The public sources give no figure; this is our choice, and
    the store forgets the oldest paused sessions first when it holds ``paused_limit``."""
    paused_limit: int = 256
    """Paused sessions kept at most (per SECC process)."""

    def __post_init__(self) -> None:
        check_choices(self, SECC_CHOICES)
        if self.din_evse_id is not None and not 1 <= len(self.din_evse_id) <= 32:
            raise ConfigError(f"SeccConfig.din_evse_id must have 1 to 32 bytes, got {len(self.din_evse_id)}")
