"""SupportedAppProtocol (the version handshake shared by DIN 70121, ISO 15118-2 and -20)."""

from __future__ import annotations

from iso15118.messages.generated.app_protocol import *  # noqa: F403
