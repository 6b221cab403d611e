"""Reading and building ``V2G_Message`` documents of one generation (a generated message module).

::

    env = Envelope(din)                                   # din = iso15118.messages.generated.din
    kind, body = env.open(msg)                            # (Kind.CableCheckReq, CableCheckReq(...))
    msg = env.wrap(env.header(session_id), CableCheckRes(...))

The Body's fields are the generation's message kinds: each field's XSD element name is a :class:`Kind`, and each
element has a class of its own (DIN's ``SessionStopReq`` element is class ``SessionStop``), so a body element's
class tells its kind. Everything is read from the generated classes' metadata, once, when an Envelope is made.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType, ModuleType
from typing import Any

from iso15118.envelope.kinds import RESPONSE_OF, Kind
from iso15118.session.failures import minimal_instance

__all__ = ["Envelope"]


class Envelope:
    """The V2G_Message of one generated module: which Body field carries which kind, and its class."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        field_of: dict[Kind, str] = {}
        class_of: dict[Kind, type] = {}
        for f in dataclasses.fields(module.Body):
            element = str(f.metadata.get("xsd"))
            if element not in Kind.__members__:
                continue  # the abstract BodyElement
            kind = Kind(element)
            field_of[kind] = f.name
            class_of[kind] = getattr(module, f.metadata["type"].partition(":")[2])
        kind_of_class = {cls: kind for kind, cls in class_of.items()}
        if len(kind_of_class) != len(class_of):
            raise ValueError(f"{module.__name__}: two Body elements share a class; kinds cannot be told apart")
        self.field_of = MappingProxyType(field_of)
        """Kind -> the Body field that carries it."""
        self.class_of = MappingProxyType(class_of)
        """Kind -> the class of its Body element."""
        self.kind_of_class = MappingProxyType(kind_of_class)
        """Body element class -> its kind."""
        self.kinds = frozenset(field_of)
        """The kinds this generation has."""

    def is_message(self, msg: Any) -> bool:
        """True for a V2G_Message of this generation."""
        return type(msg) is self.module.V2G_Message

    def open(self, msg: Any) -> tuple[Kind, Any] | None:
        """The kind and element of a V2G_Message's Body; None when it is not one of this generation's or its
        Body holds no element (the schema allows an empty Body)."""
        if not self.is_message(msg):
            return None
        body = msg.body
        for kind, name in self.field_of.items():
            element = getattr(body, name)
            if element is not None:
                return kind, element
        return None

    def body(self, msg: Any) -> Any:
        """The Body element of a V2G_Message of this generation (None if there is none)."""
        opened = self.open(msg)
        return None if opened is None else opened[1]

    def kind(self, element: Any) -> Kind:
        """The kind of a Body element (KeyError for a class that is no Body element of this generation)."""
        return self.kind_of_class[type(element)]

    def header(self, session_id: bytes, **fields: Any) -> Any:
        """A MessageHeader with ``session_id`` (and Notification or Signature when given)."""
        return self.module.MessageHeader(session_id=session_id, **fields)

    def failed(self, request: Kind, code: str, **fields: Any) -> Any:
        """The response element to a ``request`` kind carrying FAILED ``code``: ``fields`` as given, every other
        mandatory element with a minimal valid value (the session ends after it)."""
        cls = self.class_of[RESPONSE_OF[request]]
        return minimal_instance(cls, override={"response_code": self.module.ResponseCode(code), **fields})

    def wrap(self, header: Any, element: Any) -> Any:
        """A V2G_Message carrying ``element`` in its Body."""
        name = self.field_of[self.kind(element)]
        return self.module.V2G_Message(header=header, body=self.module.Body(**{name: element}))
