"""The session-wide test PKI of tests/transport_session."""

from __future__ import annotations

from tests.transport_session.conftest import pki

__all__ = ["pki"]
