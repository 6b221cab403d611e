"""What the runner asks the application, and whom it serves.

:data:`INPUT_CALLS` maps every :class:`~iso15118.decisions.Input` a decision may need to the one controller call
that answers it (the DC ones need a :class:`~iso15118.controller.DCEVSEController`); :func:`peer_identity`
describes the EV at the other end of a connection from its address and TLS handshake.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from iso15118.controller import DCEVSEController, EVSEController
from iso15118.decisions import Input, PeerIdentity
from iso15118.errors import ConfigError
from iso15118.security.identity import certificate_identity
from iso15118.security.tls import HandshakeInfo

__all__ = ["INPUT_CALLS", "InputCall", "peer_identity"]

InputCall = Callable[[EVSEController, Any, float], Awaitable[Any]]


def _dc(controller: EVSEController) -> DCEVSEController:
    if not isinstance(controller, DCEVSEController):
        raise ConfigError(f"{type(controller).__name__} has no DC output (DCEVSEController) for a DC session")
    return controller


INPUT_CALLS: Final[dict[Input, InputCall]] = {
    Input.LIMITS: lambda c, arg, now: c.evse_limits(now),
    Input.AUTHORIZATION: lambda c, arg, now: c.authorize(arg[0], arg[1], now),
    Input.POWER_DELIVERY: lambda c, arg, now: c.power_delivery(arg, now),
    Input.LOOP_COMMAND: lambda c, arg, now: c.charge_loop(arg[0], arg[1], now),
    Input.METER: lambda c, arg, now: c.meter(now),
    Input.DC_LIMITS: lambda c, arg, now: _dc(c).dc_limits(now),
    Input.CABLE_CHECK: lambda c, arg, now: _dc(c).cable_check(now),
    Input.PRECHARGE: lambda c, arg, now: _dc(c).precharge(arg[0], arg[1], now),
    Input.DC_LOOP: lambda c, arg, now: _dc(c).dc_charge_loop(arg, now),
    Input.WELDING: lambda c, arg, now: _dc(c).welding_detection(now),
}
"""Every controller input a decision may need; PAUSED comes from the session store, CERTIFICATE from the certificate
provider (the controller when it is one, else the runner's ``certificates``), not from these calls."""


def peer_identity(address: str, tls: HandshakeInfo | None) -> PeerIdentity:
    """Who is at the other end: the address, and the vehicle certificate's subject, CN and SHA-256 fingerprint."""
    if tls is None or tls.peer_certificate is None:
        return PeerIdentity(address=address, subject=tls.peer_subject if tls else None)
    identity = certificate_identity(tls.peer_certificate)
    return PeerIdentity(
        address=address, subject=identity.subject, fingerprint=identity.fingerprint, common_name=identity.common_name
    )
