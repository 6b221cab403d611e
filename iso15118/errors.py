"""The exception tree of the protocol library.

::

    V2GError
     ├── ConfigError             a configuration value is missing or invalid
     ├── FramingError            a V2GTP or SDP frame violates its layout (names byte offset and rule)
     ├── CodecError              a message cannot be encoded or decoded (wraps the EXI error details)
     │    ├── MessageEncodeError
     │    └── MessageDecodeError
     ├── SecurityError           TLS, certificate or signature failure (names the reason)
     │    ├── CertificateError
     │    ├── SignatureError
     │    └── InstallationError  a contract installation or update refused (names the reason)
     ├── SlacError               SLAC matching failed (names the step and the rule)
     ├── BackendError            the OCPP backend link failed or refused something (names the reason)
     │    └── RpcError           an OCPP-J CALLERROR, sent or received (carries its OCPP error code)
     └── ProtocolError           a sequence/semantic rule was broken; carries the response code to send
          ├── LocalProtocolError  we were about to break the protocol
          └── RemoteProtocolError the peer broke the protocol

Every ``ProtocolError`` carries ``response_code``: the ISO 15118-20 ``responseCodeType`` value (as its
string, e.g. ``"FAILED_SequenceError"``) that the SECC puts on the wire before it ends the session, and
``requirement`` (e.g. ``"V2G20-1484"``) when a requirement ID names the rule.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "CertificateError",
    "CodecError",
    "ConfigError",
    "FramingError",
    "InstallationError",
    "LocalProtocolError",
    "MessageDecodeError",
    "MessageEncodeError",
    "ProtocolError",
    "RemoteProtocolError",
    "RpcError",
    "SecurityError",
    "SignatureError",
    "SlacError",
    "V2GError",
]


class V2GError(Exception):
    """Root of every error the protocol library raises."""


class ConfigError(V2GError):
    """A configuration value is missing or invalid."""


class FramingError(V2GError):
    """A frame violates its layout. ``offset`` is the byte offset of the offending field."""

    def __init__(self, reason: str, *, offset: int | None = None, rule: str | None = None) -> None:
        self.reason = reason
        self.offset = offset
        self.rule = rule
        super().__init__(reason)

    def __str__(self) -> str:
        where = f" at byte {self.offset}" if self.offset is not None else ""
        rule = f" [{self.rule}]" if self.rule else ""
        return f"bad frame{where}: {self.reason}{rule}"


class CodecError(V2GError):
    """A message cannot be encoded or decoded.

    ``path`` is the element path, ``bit_offset`` the position in the EXI stream (decoding only) and
    ``value`` the offending value (encoding only).
    """

    def __init__(
        self,
        reason: str,
        *,
        path: list[str] | None = None,
        bit_offset: int | None = None,
        value: object = None,
        detail: str | None = None,
    ) -> None:
        self.reason = reason
        self.path = list(path or [])
        self.bit_offset = bit_offset
        self.value = value
        self.detail = detail if detail is not None else reason
        super().__init__(self.detail)

    def __str__(self) -> str:
        return self.detail


class MessageEncodeError(CodecError):
    """A message object cannot be encoded."""


class MessageDecodeError(CodecError):
    """A byte stream cannot be decoded into a message."""


class SecurityError(V2GError):
    """TLS, certificate or signature failure."""


class CertificateError(SecurityError):
    """A certificate or chain is invalid; ``reason`` names why (expired, unknown issuer, ...)."""

    def __init__(self, reason: str, *, subject: str | None = None) -> None:
        self.reason = reason
        self.subject = subject
        super().__init__(f"{subject}: {reason}" if subject else reason)


class SignatureError(SecurityError):
    """An XML signature does not verify; ``reference`` names the failing reference, if any."""

    def __init__(self, reason: str, *, reference: str | None = None) -> None:
        self.reason = reason
        self.reference = reference
        super().__init__(f"reference {reference}: {reason}" if reference else reason)


class InstallationError(SecurityError):
    """A contract certificate installation or update was refused; the message says why.

    ``response_code`` is the ResponseCode value (of the generation concerned) that reports the refusal, when
    one fits.
    """

    def __init__(self, reason: str, *, response_code: str | None = None) -> None:
        self.reason = reason
        self.response_code = response_code
        super().__init__(reason)


class SlacError(V2GError):
    """SLAC matching failed."""


class BackendError(V2GError):
    """The OCPP backend (CSMS) link failed, or the backend refused something; the message says what."""


class RpcError(BackendError):
    """An OCPP-J CALLERROR: ``code`` is its OCPP error code (``FormatViolation``, ``NotImplemented``...).

    Raised by the parsing and validation of a frame, it is the CALLERROR to answer with; raised by a call, it is
    the CALLERROR the other side answered.
    """

    def __init__(self, code: str, reason: str, *, unique_id: str | None = None) -> None:
        self.code = code
        self.reason = reason
        self.unique_id = unique_id
        super().__init__(f"{code}: {reason}")


class ProtocolError(V2GError):
    """A protocol rule was broken. ``response_code`` is what the SECC answers before it ends the session."""

    def __init__(
        self,
        reason: str,
        *,
        response_code: str = "FAILED",
        requirement: str | None = None,
    ) -> None:
        self.reason = reason
        self.response_code = response_code
        self.requirement = requirement
        super().__init__(reason)

    def __str__(self) -> str:
        req = f" [{self.requirement}]" if self.requirement else ""
        return f"{self.reason} -> {self.response_code}{req}"


class LocalProtocolError(ProtocolError):
    """We were about to break the protocol (a bug in the application or in our use of the API)."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol."""
