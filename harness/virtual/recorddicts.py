"""JSON-ready views of what a virtual-bench session record carries (``v2g sim --json``): each side's end, the
SupportedAppProtocol negotiation, the TLS handshake, the SLAC match and the SDP answer."""

from __future__ import annotations

from typing import Any

from iso15118.security.tls import HandshakeInfo
from iso15118.transport.driver import SessionOutcome
from iso15118.transport.slac_link import SlacResult
from iso15118.transport.udp import SdpResult

__all__ = ["end_dict", "negotiation_dict", "sdp_dict", "slac_dict", "tls_dict"]


def negotiation_dict(outcome: SessionOutcome | None) -> dict[str, Any] | None:
    record = outcome.negotiation if outcome is not None else None
    if record is None:
        return None
    return {
        "transport": str(record.transport) if record.transport is not None else None,
        "offered": [o.namespace for o in record.offered],
        "chosen": record.chosen,
        "withheld": [list(w) for w in record.withheld],
        "downgrade": record.downgrade,
        "text": record.describe(),
    }


def tls_dict(info: HandshakeInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {
        "version": info.version,
        "cipher": info.cipher,
        "group": info.group,
        "peer_subject": info.peer_subject,
        "peer_key": info.peer_key,
        "peer_signature": info.peer_signature,
    }


def slac_dict(result: SlacResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "duration_s": result.duration,
        "attenuation_db": result.attenuation_db,
        "sounds": result.num_sounds,
        "nid": result.nid.hex(),
        "evse_mac": result.peer_mac.hex(":"),
    }


def sdp_dict(result: SdpResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "host": result.host,
        "port": result.response.port,
        "tries": result.tries,
        "security": str(result.response.security),
    }


def end_dict(outcome: SessionOutcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    end = outcome.ended
    return {
        "reason": str(end.reason),
        "detail": end.detail,
        "response_code": end.response_code,
        "requirement": end.requirement,
        "session_id": outcome.session_id.hex(),
    }
