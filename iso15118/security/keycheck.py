"""The curve check both generations' contract key transport makes before any ECDH: a key of the wrong curve (or not
an EC key at all) is an :class:`~iso15118.errors.InstallationError` naming which key and what it was."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from iso15118.errors import InstallationError

__all__ = ["require_curve"]


def require_curve(key: object, curve: ec.EllipticCurve, what: str, wanted: str) -> None:
    """Refuse ``key`` unless it is an EC key on ``curve``; ``what`` names the key, ``wanted`` the curve."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if key.curve.name == curve.name:
            return
        found = key.curve.name
    else:
        found = type(key).__name__.lstrip("_")
    raise InstallationError(f"{what} must be a {wanted} key, not {found}")
