"""OCPP-J, the RPC framing of OCPP 2.0.1 and 2.1 over WebSocket: frames in and out, and schema validation. Pure.

A frame is a JSON array (OCPP 2.0.1 Part 4, "RPC framework"):

* CALL ``[2, messageId, action, payload]`` -- a request;
* CALLRESULT ``[3, messageId, payload]`` -- its answer;
* CALLERROR ``[4, messageId, errorCode, errorDescription, errorDetails]`` -- the request could not be handled;
* OCPP 2.1 adds CALLRESULTERROR ``[5, ...]`` (a CALLRESULT that could not be handled) and SEND ``[6, messageId,
  action, payload]`` (a request that gets no answer).

:func:`parse_frame` reads one; whatever is wrong with it raises :class:`~iso15118.errors.RpcError` carrying the
CALLERROR the receiver answers with: text that is no JSON array with a readable messageId is an
``RpcFrameworkError`` (its CALLERROR carries the messageId ``"-1"`` when none could be read), an unknown
message type ``MessageTypeNotSupported``. :func:`validate` checks a payload against the official JSON schema of
its action (the ones the PyPI ``ocpp`` package ships, the same files OCA publishes) and maps the first violation
to the error code OCPP-J defines for it:

=========================================  ===============================
schema violation                           OCPP error code
=========================================  ===============================
a required field missing, too many items   OccurrenceConstraintViolation
a value of the wrong JSON type             TypeConstraintViolation
a value out of range, not in its enum,     PropertyConstraintViolation
too long, not matching its pattern
a field the schema does not define         FormatViolation
=========================================  ===============================

An action the schemas do not define at all is ``NotImplemented`` for a CALL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any, Final

from ocpp.messages import get_validator

from iso15118.errors import RpcError

__all__ = [
    "MAX_MESSAGE_ID",
    "Call",
    "CallError",
    "CallResult",
    "ErrorCode",
    "Frame",
    "OcppVersion",
    "encode_frame",
    "parse_frame",
    "validate",
]

MAX_MESSAGE_ID: Final = 36
"""A messageId is a string of at most 36 characters (a UUID fits)."""

_UNREADABLE_ID: Final = "-1"


class OcppVersion(StrEnum):
    """The OCPP versions this backend speaks; the value is what the ``ocpp`` package calls it."""

    V201 = "2.0.1"
    V21 = "2.1"

    @property
    def subprotocol(self) -> str:
        """The WebSocket subprotocol that selects it (``ocpp2.0.1``, ``ocpp2.1``)."""
        return f"ocpp{self.value}"


class ErrorCode(StrEnum):
    """The OCPP-J CALLERROR codes this implementation sends."""

    FORMAT_VIOLATION = "FormatViolation"
    GENERIC_ERROR = "GenericError"
    INTERNAL_ERROR = "InternalError"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"
    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    PROTOCOL_ERROR = "ProtocolError"
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"
    SECURITY_ERROR = "SecurityError"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """A request (``send``: an OCPP 2.1 SEND, which gets no answer)."""

    unique_id: str
    action: str
    payload: dict[str, Any]
    send: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResult:
    """The answer to the CALL with the same messageId."""

    unique_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallError:
    """A CALLERROR (``result_error``: an OCPP 2.1 CALLRESULTERROR)."""

    unique_id: str
    code: str
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    result_error: bool = False


Frame = Call | CallResult | CallError


def _message_id(frame: list[Any]) -> str:
    if len(frame) < 2 or not isinstance(frame[1], str) or not 0 < len(frame[1]) <= MAX_MESSAGE_ID:
        raise RpcError(ErrorCode.RPC_FRAMEWORK_ERROR, "no readable messageId", unique_id=_UNREADABLE_ID)
    return frame[1]


def _object(value: Any, what: str, unique_id: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RpcError(ErrorCode.FORMAT_VIOLATION, f"the {what} is not a JSON object", unique_id=unique_id)
    return value


def parse_frame(text: str | bytes, version: OcppVersion) -> Frame:
    """The frame in ``text``; :class:`~iso15118.errors.RpcError` (with the CALLERROR to answer) if it is none."""
    try:
        frame = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise RpcError(ErrorCode.RPC_FRAMEWORK_ERROR, "not JSON", unique_id=_UNREADABLE_ID) from None
    if not isinstance(frame, list) or not frame or not isinstance(frame[0], int) or isinstance(frame[0], bool):
        raise RpcError(
            ErrorCode.RPC_FRAMEWORK_ERROR, "not an array starting with a MessageTypeId", unique_id=_UNREADABLE_ID
        )
    unique_id = _message_id(frame)
    kind = frame[0]
    sends = (2, 6) if version is OcppVersion.V21 else (2,)
    if kind in sends:
        if len(frame) != 4 or not isinstance(frame[2], str):
            raise RpcError(ErrorCode.RPC_FRAMEWORK_ERROR, "a CALL has 4 elements", unique_id=unique_id)
        return Call(
            unique_id=unique_id, action=frame[2], payload=_object(frame[3], "payload", unique_id), send=kind == 6
        )
    if kind == 3:
        if len(frame) != 3:
            raise RpcError(ErrorCode.RPC_FRAMEWORK_ERROR, "a CALLRESULT has 3 elements", unique_id=unique_id)
        return CallResult(unique_id=unique_id, payload=_object(frame[2], "payload", unique_id))
    if kind == 4 or (kind == 5 and version is OcppVersion.V21):
        if len(frame) != 5 or not isinstance(frame[2], str) or not isinstance(frame[3], str):
            raise RpcError(ErrorCode.RPC_FRAMEWORK_ERROR, "a CALLERROR has 5 elements", unique_id=unique_id)
        details = _object(frame[4], "errorDetails", unique_id)
        return CallError(
            unique_id=unique_id, code=frame[2], description=frame[3], details=details, result_error=kind == 5
        )
    raise RpcError(ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, f"MessageTypeId {kind} is not supported", unique_id=unique_id)


def encode_frame(frame: Frame) -> str:
    """The compact JSON text of ``frame``."""
    if isinstance(frame, Call):
        body: list[Any] = [6 if frame.send else 2, frame.unique_id, frame.action, frame.payload]
    elif isinstance(frame, CallResult):
        body = [3, frame.unique_id, frame.payload]
    else:
        body = [5 if frame.result_error else 4, frame.unique_id, frame.code, frame.description, frame.details]
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


_CODE_OF_VALIDATOR: Final = {
    "required": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "minItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "additionalProperties": ErrorCode.FORMAT_VIOLATION,
}


_PRECEDENCE: Final = {name: rank for rank, name in enumerate(("required", "type", "additionalProperties"))}


@cache
def _validator(version: OcppVersion, action: str, response: bool) -> Any:
    try:
        return get_validator(3 if response else 2, action, version.value)
    except OSError:
        return None  # no schema: the action does not exist in this version


def validate(version: OcppVersion, action: str, payload: dict[str, Any], *, response: bool = False) -> None:
    """Check ``payload`` (of a CALL, or with ``response`` of its CALLRESULT) against the action's JSON schema.

    Raises :class:`~iso15118.errors.RpcError` with the OCPP error code of the first violation (table above).
    """
    validator = _validator(version, action, response)
    if validator is None:
        raise RpcError(ErrorCode.NOT_IMPLEMENTED, f"{action} is not an OCPP {version} action")
    # The outermost violation first; of several at one place, a wrong type before what its value breaks.
    errors = sorted(
        validator.iter_errors(payload),
        key=lambda e: (len(e.absolute_path), _PRECEDENCE.get(str(e.validator), len(_PRECEDENCE))),
    )
    if not errors:
        return
    error = errors[0]
    where = "/".join(str(p) for p in error.absolute_path) or "payload"
    code = _CODE_OF_VALIDATOR.get(str(error.validator), ErrorCode.PROPERTY_CONSTRAINT_VIOLATION)
    what = "CALLRESULT of " if response else ""
    raise RpcError(code, f"{what}{action} {where}: {error.message}")
