"""The smallest valid instance of any message class, built generically from the generated classes' metadata.

A FAILED response carries the response code and only the mandatory elements, each with a minimal valid
value; a profile builds it with :func:`minimal_instance` from the response class its kind tables name
(:meth:`~iso15118.session.profile.Profile.failure`). Nothing here is per message: required fields come from
the generated classes' metadata (``optional``, ``range``, ``length``, ``occurs``) and the alternatives that must
be present from ``__exi_choices__``. Where a class has a required choice, the branch that mirrors ``prefer``'s
is taken (a BPT_Dynamic request gets a BPT_Dynamic response).
"""

from __future__ import annotations

import dataclasses
import importlib
from functools import cache
from typing import Any

__all__ = ["minimal_instance"]


@cache
def _resolve(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def _simple(meta: dict[str, Any]) -> Any:
    lexical = meta["lexical"]
    if lexical == "enum":
        return next(iter(_resolve(meta["type"])))
    if lexical == "boolean":
        return False
    if lexical == "integer":
        lo, hi = meta.get("range", (None, None))
        if lo is not None and lo > 0:
            return lo
        return hi if hi is not None and hi < 0 else 0
    exact, lo, _hi = meta.get("length", (None, None, None))
    size = exact if exact is not None else (lo or 0)
    return "x" * size if lexical == "string" else bytes(size)


def _mirror(name: str) -> str:
    return name.replace("_req_", "_res_").replace("req_", "res_")


def minimal_instance(cls: type, *, prefer: Any = None, override: dict[str, Any] | None = None) -> Any:
    """The smallest valid object of ``cls``; ``override`` sets fields; ``prefer`` steers required choices."""
    override = dict(override or {})
    chosen: dict[str, Any] = {}
    skip: set[str] = set()
    for names, required in getattr(cls, "__exi_choices__", ()):
        skip.update(names)
        if not required or any(n in override for n in names):
            continue
        pick = None
        if prefer is not None:
            for f in dataclasses.fields(prefer):
                if getattr(prefer, f.name, None) is not None and _mirror(f.name) in names:
                    pick = _mirror(f.name)
        candidates = [pick] if pick else list(names)
        for name in candidates:
            meta = _field(cls, name).metadata
            target = _resolve(meta["type"]) if meta["lexical"] == "complex" else None
            if target is not None and getattr(target, "__exi_choices__", None) is None and _abstract(target):
                continue
            chosen[name] = _value(meta, prefer=None)
            break
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if "xsd" not in meta:
            continue
        if f.name in override:
            kwargs[f.name] = override[f.name]
        elif f.name in chosen:
            kwargs[f.name] = chosen[f.name]
        elif f.name in skip or meta.get("optional") or meta["kind"] == "content":
            continue
        elif meta.get("repeated"):
            lo = meta.get("occurs", (1, None))[0]
            kwargs[f.name] = tuple(_value(meta, prefer=None) for _ in range(max(lo, 1)))
        else:
            kwargs[f.name] = _value(meta, prefer=None)
    return cls(**kwargs)


def _value(meta: Any, prefer: Any) -> Any:
    if meta["lexical"] == "complex":
        return minimal_instance(_resolve(meta["type"]), prefer=prefer)
    return _simple(meta)


def _field(cls: type, name: str) -> dataclasses.Field[Any]:
    return next(f for f in dataclasses.fields(cls) if f.name == name)


def _abstract(cls: type) -> bool:
    # A type is abstract in the XSD when its class is an abstract base nobody instantiates on the wire:
    # the generated docstring says so.
    return "abstract complex type" in (cls.__doc__ or "")
