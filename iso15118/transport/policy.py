"""Strict versus tolerant transport: which transport each generation may run over, which deviations a runtime
accepts, named and logged.

Strict (the default) keeps each generation's own rules (:meth:`TransportPolicy.admits`): ISO 15118-20 runs over
TLS 1.3 only, with the -20 suites, groups and signature algorithms [V2G20-1264] [V2G20-2356]; ISO 15118-2 over
TLS 1.2 with the -2 profile (``tls_iso2``, :attr:`~iso15118.security.tls.TlsMode.ISO2`) or plain TCP; DIN 70121
over plain TCP only; and the standards' timers. Tolerant is an explicit lab mode for peers that do not conform
(Josev, field chargers); each relaxation of the transport is a :class:`Deviation`, logged once when a runtime
starts, and each peer quirk it accepts a :class:`~iso15118.quirks.Quirk` (:attr:`TransportPolicy.quirks`),
logged whenever it is used:

* ``tls12``: TLS 1.2 and the lab curves, suites and signature algorithms of
  :attr:`~iso15118.security.tls.TlsMode.TOLERANT` are accepted next to the -20 ones;
* ``relaxed-timing``: every timer multiplied by ``timing_scale`` (:meth:`Timing.scaled`);
* ``plain-tcp``: ISO 15118-20 without TLS. Strict mode refuses a runtime that could then speak nothing but -20
  (:class:`ConfigError`) and never selects -20 over plain TCP [V2G20-1264];
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
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from iso15118.errors import ConfigError
from iso15118.quirks import QUIRKS, Quirk
from iso15118.security.tls import TlsConfig, TlsMode
from iso15118.session.connection import Role, SessionConfig
from iso15118.transport.generations import STANDARD_NAMES, Standard, Transport, standard_of

__all__ = ["DEFAULT_TOLERANT_TIMING_SCALE", "Admission", "Deviation", "TransportPolicy"]

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
    Deviation.PLAIN_TCP: "ISO 15118-20 over plain TCP; -20 mandates TLS 1.3 with mutual authentication [V2G20-1264]",
    Deviation.TLS12: "TLS 1.2 and lab curves/suites/signature algorithms accepted next to the -20 set "
    "[V2G20-2356] [V2G20-1237]",
    Deviation.RELAXED_TIMING: "every timer of the standard multiplied by {scale:g}",
    Deviation.NO_CLIENT_CERTIFICATE: "the SECC does not require the vehicle certificate (TLS without mutual "
    "authentication) [V2G20-1264]",
    Deviation.SCHEMA_DEVIATIONS: "messages that deviate from their schema as EXIficient codes them (EXI non-strict "
    "undeclared productions) are decoded and each deviation logged",
}
_STRICT_TRANSPORTS = {Standard.ISO20: "TLS 1.3", Standard.ISO2: "TLS 1.2 or TCP", Standard.DIN: "TCP"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Admission:
    """Whether a generation may be selected over a transport; the deviation it needs, or why it may not."""

    allowed: bool
    deviation: Deviation | None = None
    reason: str = ""


def _standards(protocols: Iterable[str] | None) -> set[Standard]:
    """The generations of ``protocols`` (None: ISO 15118-20 only, what a runtime spoke before DIN and -2)."""
    if protocols is None:
        return {Standard.ISO20}
    return {s for s in map(standard_of, protocols) if s is not None}


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportPolicy:
    """How a runtime secures its connections and how strictly it keeps the standards' rules.

    ``tls``: the ISO 15118-20 TLS 1.3 identity and trust (None: no TLS 1.3). ``tls_iso2``: the ISO 15118-2 TLS 1.2
    identity and trust (mode :attr:`~iso15118.security.tls.TlsMode.ISO2`; None: -2 over plain TCP only).
    ``timing_scale`` None is 1 in strict mode and :data:`DEFAULT_TOLERANT_TIMING_SCALE` in tolerant mode; strict
    mode refuses any other factor. ``quirks``: the peer quirks tolerant mode accepts (None: every one of
    :data:`~iso15118.quirks.QUIRKS`); strict mode accepts none and refuses a configured one.
    """

    tls: TlsConfig | None
    tolerant: bool = False
    timing_scale: float | None = None
    tls_iso2: TlsConfig | None = None
    quirks: frozenset[Quirk] | None = None

    @property
    def scale(self) -> float:
        """The timer factor in effect."""
        if self.timing_scale is not None:
            return self.timing_scale
        return DEFAULT_TOLERANT_TIMING_SCALE if self.tolerant else 1.0

    def check(self, role: Role | None = None, protocols: Iterable[str] | None = None) -> None:
        """Refuse a combination strict mode does not allow, with the rule it breaks.

        ``role`` adds the rules of one end: an SECC must require the vehicle's certificate. ``protocols``: the
        namespaces the runtime speaks (None: ISO 15118-20 only); without TLS, strict mode needs one that runs
        over plain TCP (ISO 15118-2, DIN 70121).
        """
        if self.tls is None and not self.tolerant and _standards(protocols) <= {Standard.ISO20}:
            raise ConfigError(
                "plain TCP (no TLS) is refused: ISO 15118-20 mandates TLS 1.3 with mutual authentication "
                "[V2G20-1264]; allow it for lab peers with tolerant mode (--tolerant)"
            )
        if self.tls_iso2 is not None and self.tls_iso2.mode is not TlsMode.ISO2:
            raise ConfigError(
                f"tls_iso2 must be an ISO 15118-2 TLS configuration (mode iso2), not {self.tls_iso2.mode}"
            )
        if self.quirks and not self.tolerant:
            raise ConfigError(f"peer quirks ({', '.join(sorted(self.quirks))}) are accepted in tolerant mode only")
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

    def accepted_quirks(self, role: Role | None = None) -> tuple[Quirk, ...]:
        """The peer quirks accepted (none in strict mode); ``role`` keeps those of one end."""
        if not self.tolerant:
            return ()
        chosen = self.quirks if self.quirks is not None else frozenset(QUIRKS)
        return tuple(q for q in QUIRKS if q in chosen and (role is None or QUIRKS[q].role is role))

    def accepts(self, quirk: Quirk) -> bool:
        """True when tolerant mode accepts ``quirk``."""
        return quirk in self.accepted_quirks()

    def admits(self, standard: Standard | None, transport: Transport) -> Admission:
        """May ``standard`` be selected over ``transport``? Strict: each generation's own rule; tolerant mode
        also lets ISO 15118-20 run over TLS 1.2 and plain TCP, naming the deviation."""
        if standard is Standard.ISO20:
            if transport is Transport.TLS13:
                return Admission(allowed=True)
            if self.tolerant:
                deviation = Deviation.TLS12 if transport is Transport.TLS12 else Deviation.PLAIN_TCP
                return Admission(allowed=True, deviation=deviation)
            if transport is Transport.TLS12:
                return Admission(allowed=False, reason="ISO 15118-20 is never selected over TLS 1.2 [V2G20-2356]")
            return Admission(allowed=False, reason="ISO 15118-20 needs TLS 1.3 [V2G20-1264]")
        if standard is Standard.ISO2 and transport is Transport.TLS13:
            return Admission(allowed=False, reason="ISO 15118-2 runs over TLS 1.2 or plain TCP, not TLS 1.3")
        if standard is Standard.DIN and transport is not Transport.TCP:
            return Admission(allowed=False, reason="DIN 70121 has no TLS: plain TCP only")
        return Admission(allowed=True)

    def serves_plain_tcp(self, protocols: Iterable[str]) -> bool:
        """An SECC speaking ``protocols`` accepts plain TCP connections: without any TLS configuration, or for a
        generation that runs over plain TCP in strict mode (ISO 15118-2, DIN 70121)."""
        if self.tls is None and self.tls_iso2 is None:
            return True
        return bool(_standards(protocols) & {Standard.ISO2, Standard.DIN})

    def describe(self, role: Role | None = None) -> list[str]:
        """One sentence per deviation in effect, then one per peer quirk accepted."""
        lines = [f"{d}: {_EXPLAINED[d].format(scale=self.scale)}" for d in self.deviations(role)]
        for quirk in self.accepted_quirks(role):
            info = QUIRKS[quirk]
            lines.append(f"{quirk} (peer quirk, {info.role.upper()}): {info.seen}; deviates from: {info.rule}")
        return lines

    def log_deviations(self, role: Role) -> None:
        """Log every deviation and quirk in effect (WARNING), or that the runtime is strict (INFO)."""
        described = self.describe(role)
        if not described:
            rules = ", ".join(f"{STANDARD_NAMES[s]}: {t}" for s, t in _STRICT_TRANSPORTS.items())
            log.info("%s: strict transport, each generation's own (%s), standard timers", role.upper(), rules)
        for line in described:
            log.warning("%s: tolerant mode deviation %s", role.upper(), line)

    def tls_config(self) -> TlsConfig | None:
        """The -20 TLS configuration with the mode matching the policy (tolerant TLS in tolerant mode)."""
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
