"""Strict versus tolerant transport: which deviations from ISO 15118-20 a runtime accepts, named and logged.

Strict (the default) is the standard: TLS 1.3 with the -20 suites, groups and signature algorithms
[V2G20-1264] [V2G20-2356], and the standard's timers. Tolerant is an explicit lab mode for peers that do not
conform (Josev, field chargers); each relaxation is a :class:`Deviation`, logged once when a runtime starts:

* ``tls12``: TLS 1.2 and the lab curves, suites and signature algorithms of
  :attr:`~iso15118.security.tls.TlsMode.TOLERANT` are accepted next to the -20 ones;
* ``relaxed-timing``: every timer multiplied by ``timing_scale`` (:meth:`Timing.scaled`);
* ``plain-tcp``: no TLS at all. Strict mode refuses this with a :class:`ConfigError` [V2G20-1264];
* ``no-client-certificate``: an SECC that does not require the vehicle's certificate, i.e. TLS without mutual
  authentication (Josev's TLS 1.2 EVCC presents none). Strict mode refuses it [V2G20-1264];
* ``schema-deviations``: a received message that deviates from its XSD the way EXIficient codes it (non-strict
  undeclared productions: Josev's FAILED responses with an empty list where one element is required) is decoded
  and each deviation logged (:class:`~iso15118.session.events.SchemaDeviationTolerated`). Strict mode ends the
  session with a decode error naming the element and bit.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from enum import StrEnum

from iso15118.errors import ConfigError
from iso15118.security.tls import TlsConfig, TlsMode
from iso15118.session.connection import Role, SessionConfig

__all__ = ["DEFAULT_TOLERANT_TIMING_SCALE", "Deviation", "TransportPolicy"]

log = logging.getLogger(__name__)

DEFAULT_TOLERANT_TIMING_SCALE = 2.0
"""Timer factor of tolerant mode unless configured."""


class Deviation(StrEnum):
    """A named departure from ISO 15118-20 that tolerant mode allows."""

    PLAIN_TCP = "plain-tcp"
    TLS12 = "tls12"
    RELAXED_TIMING = "relaxed-timing"
    NO_CLIENT_CERTIFICATE = "no-client-certificate"
    SCHEMA_DEVIATIONS = "schema-deviations"


_EXPLAINED = {
    Deviation.PLAIN_TCP: "plain TCP without TLS; -20 mandates TLS 1.3 with mutual authentication [V2G20-1264]",
    Deviation.TLS12: "TLS 1.2 and lab curves/suites/signature algorithms accepted next to the -20 set "
    "[V2G20-2356] [V2G20-1237]",
    Deviation.RELAXED_TIMING: "every timer of the standard multiplied by {scale:g}",
    Deviation.NO_CLIENT_CERTIFICATE: "the SECC does not require the vehicle certificate (TLS without mutual "
    "authentication) [V2G20-1264]",
    Deviation.SCHEMA_DEVIATIONS: "messages that deviate from their schema as EXIficient codes them (EXI non-strict "
    "undeclared productions) are decoded and each deviation logged",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportPolicy:
    """How a runtime secures its connections and how strictly it keeps the standard's rules.

    ``tls`` None means plain TCP (tolerant only). ``timing_scale`` None is 1 in strict mode and
    :data:`DEFAULT_TOLERANT_TIMING_SCALE` in tolerant mode; strict mode refuses any other factor.
    """

    tls: TlsConfig | None
    tolerant: bool = False
    timing_scale: float | None = None

    @property
    def scale(self) -> float:
        """The timer factor in effect."""
        if self.timing_scale is not None:
            return self.timing_scale
        return DEFAULT_TOLERANT_TIMING_SCALE if self.tolerant else 1.0

    def check(self, role: Role | None = None) -> None:
        """Refuse a combination strict mode does not allow, with the rule it breaks.

        ``role`` adds the rules of one end: an SECC must require the vehicle's certificate.
        """
        if self.tls is None and not self.tolerant:
            raise ConfigError(
                "plain TCP (no TLS) is refused: ISO 15118-20 mandates TLS 1.3 with mutual authentication "
                "[V2G20-1264]; allow it for lab peers with tolerant mode (--tolerant)"
            )
        if self.tls is not None and self.tls.mode is TlsMode.TOLERANT and not self.tolerant:
            raise ConfigError("the TLS configuration asks for tolerant TLS, but the runtime is strict (--tolerant)")
        if self._without_client_certificate(role) and not self.tolerant:
            raise ConfigError(
                "require_client_certificate = false is refused: ISO 15118-20 mandates TLS 1.3 with mutual "
                "authentication [V2G20-1264]; allow it for lab peers with tolerant mode (--tolerant)"
            )
        if self.timing_scale is not None:
            if not 0 < self.timing_scale <= 100:
                raise ConfigError(f"timing_scale must be in (0, 100], got {self.timing_scale:g}")
            if self.timing_scale != 1.0 and not self.tolerant:
                raise ConfigError("timing_scale other than 1 relaxes the standard's timers: tolerant mode only")

    def _without_client_certificate(self, role: Role | None) -> bool:
        return role is Role.SECC and self.tls is not None and not self.tls.require_client_certificate

    def deviations(self, role: Role | None = None) -> tuple[Deviation, ...]:
        """The deviations in effect (none in strict mode); ``role`` adds those of one end."""
        if not self.tolerant:
            return ()
        found = [Deviation.PLAIN_TCP if self.tls is None else Deviation.TLS12]
        if self._without_client_certificate(role):
            found.append(Deviation.NO_CLIENT_CERTIFICATE)
        if self.scale != 1.0:
            found.append(Deviation.RELAXED_TIMING)
        found.append(Deviation.SCHEMA_DEVIATIONS)
        return tuple(found)

    def describe(self, role: Role | None = None) -> list[str]:
        """One sentence per deviation in effect."""
        return [f"{d}: {_EXPLAINED[d].format(scale=self.scale)}" for d in self.deviations(role)]

    def log_deviations(self, role: Role) -> None:
        """Log every deviation in effect (WARNING), or that the runtime is strict (INFO)."""
        described = self.describe(role)
        if not described:
            log.info("%s: strict ISO 15118-20 transport (TLS 1.3, standard timers)", role.upper())
        for line in described:
            log.warning("%s: tolerant mode deviation %s", role.upper(), line)

    def tls_config(self) -> TlsConfig | None:
        """The TLS configuration with the mode matching the policy (tolerant TLS in tolerant mode)."""
        if self.tls is None:
            return None
        mode = TlsMode.TOLERANT if self.tolerant else TlsMode.STRICT
        return self.tls if self.tls.mode is mode else dataclasses.replace(self.tls, mode=mode)

    @property
    def tls_mode(self) -> TlsMode:
        """The TLS mode for the handshake checks."""
        return TlsMode.TOLERANT if self.tolerant else TlsMode.STRICT

    def session_config(self, base: SessionConfig | None = None) -> SessionConfig:
        """``base`` (default: the standard's) with the timers scaled and, in tolerant mode, schema deviations
        tolerated, as the policy says."""
        config = base or SessionConfig()
        if self.tolerant and not config.tolerant_decoding:
            config = dataclasses.replace(config, tolerant_decoding=True)
        if self.scale == 1.0:
            return config
        return dataclasses.replace(config, timing=config.timing.scaled(self.scale))
