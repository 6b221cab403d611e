"""Field overrides on message objects, by dotted path, and small value helpers shared by the message builders.

Paths name the fields of the message's element (DIN and -2: of its ``V2G_Message`` Body element, so that
``evcc_id`` means the same in every generation); ``header.*`` paths name the message's header.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from harness.conformance.context import Context
from iso15118.errors import ConfigError

__all__ = ["apply_fields", "header", "resolve", "tamper_signature"]


def resolve(value: Any, ctx: Context) -> Any:
    """A field value: a callable is called with the tester's context."""
    return value(ctx) if callable(value) and not isinstance(value, type) else value


def _set(obj: Any, path: list[str], value: Any) -> Any:
    name = path[0]
    if not dataclasses.is_dataclass(obj) or name not in {f.name for f in dataclasses.fields(obj)}:
        raise ConfigError(f"{type(obj).__name__} has no field {name!r}")
    if len(path) == 1:
        return dataclasses.replace(obj, **{name: value})  # type: ignore[type-var]
    inner = getattr(obj, name)
    if inner is None:
        raise ConfigError(f"{type(obj).__name__}.{name} is absent; cannot set {'.'.join(path[1:])} inside it")
    return dataclasses.replace(obj, **{name: _set(inner, path[1:], value)})  # type: ignore[type-var]


def apply_fields(msg: Any, fields: Mapping[str, Any], ctx: Context) -> Any:
    """``msg`` with every ``fields`` entry (dotted path -> value) set, in order."""
    protocol = ctx.protocol
    for path, value in fields.items():
        names = path.split(".")
        if names[0] == "header" or protocol.body(msg) is msg:
            msg = _set(msg, names, resolve(value, ctx))
        else:
            msg = protocol.with_body(msg, _set(protocol.body(msg), names, resolve(value, ctx)))
    return msg


def header(ctx: Context, session_id: bytes | None = None) -> Any:
    """A MessageHeader of the case's protocol with the session's (or the given) SessionID."""
    return ctx.protocol.header(ctx.session_id if session_id is None else session_id)


def tamper_signature(msg: Any) -> Any:
    """``msg`` with one bit of its header signature's SignatureValue flipped."""
    signature = msg.header.signature
    if signature is None:
        raise ConfigError(f"{type(msg).__name__} carries no signature to tamper with")
    value = bytearray(signature.signature_value.value)
    value[len(value) // 2] ^= 0x01
    tampered = dataclasses.replace(
        signature, signature_value=dataclasses.replace(signature.signature_value, value=bytes(value))
    )
    return dataclasses.replace(msg, header=dataclasses.replace(msg.header, signature=tampered))
