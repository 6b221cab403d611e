"""Generate the Python source of the binding classes (frozen dataclasses and StrEnums) of a schema.

The generated modules depend on the standard library only. Each field carries its XSD identity in
``dataclasses.field(metadata=...)``:

``xsd`` local name, ``ns`` namespace, ``kind`` (``element``, ``attribute``, ``value``, ``content``),
``lexical`` (``boolean``, ``integer``, ``string``, ``hex``, ``base64``, ``enum``, ``complex``),
``type`` (``"module:Class"`` for complex and enumerated values), ``repeated`` and ``optional``, and the
facets ``range`` (integers), ``length`` (exact, min, max) and ``occurs`` (list bounds); a generic
``content`` field lists its possible children in ``children``. A class whose content has alternatives
(an xs:choice, a substitution group) lists them in ``__exi_choices__`` as ``((field names), required)``.
"""

from __future__ import annotations

from collections.abc import Mapping

from exi.bindings import Bindings, ClassSpec, EnumSpec, FieldSpec
from exi.grammar import TypeGrammar
from exi.model import UNBOUNDED, QName

__all__ = ["generate_class_modules"]

_PY_TYPES = {"boolean": "bool", "integer": "int", "string": "str", "hex": "bytes", "base64": "bytes"}


class _ModuleWriter:
    def __init__(
        self, module: str, package: str, bindings: Bindings, namespace: tuple[str, ...], source_note: str
    ) -> None:
        self.module = module
        self.package = package
        self.bindings = bindings
        self.namespace = namespace
        self.source_note = source_note
        self.imports: set[str] = set()

    def ref(self, module: str, name: str) -> str:
        if module == self.module:
            return name
        self.imports.add(module)
        return f"_{module}.{name}"

    def qualified(self, module: str, name: str) -> str:
        return f"{self.package}.{module}:{name}"

    def enum_of(self, f: FieldSpec, owner: ClassSpec) -> EnumSpec:
        assert f.datatype is not None
        context = f.xml if f.kind in ("element", "attribute") else owner.key
        return self.bindings.enum_for(f.datatype, context)

    def value_type(self, f: FieldSpec, owner: ClassSpec) -> tuple[str, str, str]:
        """(annotation, lexical, type reference) of a field's single value."""
        if f.kind == "content":
            return "str | tuple[str, object]", "content", ""
        if f.type_key is not None:
            spec = self.bindings.classes[f.type_key]
            return self.ref(spec.module, spec.name), "complex", self.qualified(spec.module, spec.name)
        assert f.datatype is not None
        if f.datatype.kind == "enum":
            es = self.enum_of(f, owner)
            return self.ref(es.module, es.name), "enum", self.qualified(es.module, es.name)
        return _PY_TYPES[f.datatype.lexical], f.datatype.lexical, ""

    def field_line(self, f: FieldSpec, owner: ClassSpec) -> str:
        ann, lexical, tref = self.value_type(f, owner)
        meta: dict[str, object] = {"xsd": f.xml[1], "ns": f.xml[0], "kind": f.kind, "lexical": lexical}
        if tref:
            meta["type"] = tref
        if f.repeated:
            meta["repeated"] = True
        if f.optional:
            meta["optional"] = True
        if f.kind == "content":
            meta["children"] = self.children(owner)
            if any(pos.kind == "SE*" for pos in self.grammar_types[owner.key].positions):
                meta["wildcard"] = True
                ann = "object"  # text, (local name, value) children and exi.values.Wild elements
        dt = f.datatype
        if dt is not None and dt.lexical == "integer":
            meta["range"] = (dt.lo, dt.hi)
        if dt is not None and (dt.length is not None or dt.min_length is not None or dt.max_length is not None):
            meta["length"] = (dt.length, dt.min_length, dt.max_length)
        if f.kind == "element" and f.repeated:
            meta["occurs"] = (f.min_occurs, None if f.max_occurs == UNBOUNDED else f.max_occurs)
        meta_src = "{" + ", ".join(f"{k!r}: {v!r}" for k, v in meta.items()) + "}"
        if f.repeated:
            annotation = f"tuple[{ann}, ...]"
            default = "default=(), " if f.optional or f.kind == "content" else ""
        elif f.optional:
            annotation = f"{ann} | None"
            default = "default=None, "
        else:
            annotation, default = ann, ""
        return f"    {f.name}: {annotation} = field({default}metadata={meta_src})"

    def children(self, owner: ClassSpec) -> dict[str, str]:
        """For a generic class: child element local name -> lexical kind or "module:Class"."""
        tg = self.grammar_types[owner.key]
        out: dict[str, str] = {}
        for pos in tg.positions:
            if pos.kind != "SE":
                continue
            for m in pos.members:
                if m.type_key is not None:
                    spec = self.bindings.classes[m.type_key]
                    out[m.qname[1]] = self.qualified(spec.module, spec.name)
                elif m.datatype is not None and m.datatype.kind == "enum":
                    es = self.bindings.enum_for(m.datatype, m.qname)
                    out[m.qname[1]] = self.qualified(es.module, es.name)
                elif m.datatype is not None:
                    out[m.qname[1]] = m.datatype.lexical
        return out

    grammar_types: Mapping[QName, TypeGrammar] = {}

    def class_source(self, spec: ClassSpec, elements: Mapping[QName, list[str]]) -> str:
        base = ""
        if spec.base is not None:
            b = self.bindings.classes[spec.base]
            base = f"({self.ref(b.module, b.name)})"
        kind = "abstract complex type" if spec.abstract else "complex type"
        doc = f"XSD {kind} ``{spec.key[1].split('@')[0]}``"
        if "@" in spec.key[1]:
            doc = f"The anonymous XSD type of element ``{spec.key[1].split('@')[0]}``"
        roots = elements.get(spec.key, [])
        if roots:
            doc += "; global element" + ("s " if len(roots) > 1 else " ") + ", ".join(f"``{r}``" for r in roots)
        lines = [
            "@dataclass(frozen=True, slots=True, kw_only=True)",
            f"class {spec.name}{base}:",
            f'    """{doc}."""',
            "",
            f"    __exi_type__: ClassVar[tuple[str, str]] = ({spec.key[0]!r}, {spec.key[1]!r})",
        ]
        if spec.generic:
            lines.append("    __exi_generic__: ClassVar[bool] = True")
        if spec.choices:
            lines.append(f"    __exi_choices__: ClassVar[tuple[tuple[tuple[str, ...], bool], ...]] = {spec.choices!r}")
        own = spec.fields[spec.inherited :]
        lines.extend(self.field_line(f, spec) for f in own)
        return "\n".join(lines)

    def alias_source(self, alias: ClassSpec) -> str:
        """A subclass that names a global element sharing its type with another one."""
        base = self.bindings.classes[alias.key]
        return "\n".join(
            [
                "@dataclass(frozen=True, slots=True, kw_only=True)",
                f"class {alias.name}({base.name}):",
                f'    """Global element ``{alias.name}`` (XSD type ``{alias.key[1]}``, shared with '
                f'``{base.name}``)."""',
            ]
        )

    def enum_source(self, es: EnumSpec) -> str:
        lines = [f"class {es.name}(StrEnum):", f'    """XSD enumeration ``{es.key[1].split("@")[0]}``."""', ""]
        lines.extend(f"    {m} = {v!r}" for m, v in zip(es.members, es.values, strict=True))
        return "\n".join(lines)


def _ordered(classes: list[ClassSpec]) -> list[ClassSpec]:
    """Bases before derived classes, otherwise in name order (deterministic output)."""
    by_key = {c.key: c for c in classes}
    done: set[QName] = set()
    out: list[ClassSpec] = []

    def visit(c: ClassSpec) -> None:
        if c.key in done:
            return
        if c.base is not None and c.base in by_key:
            visit(by_key[c.base])
        done.add(c.key)
        out.append(c)

    for c in sorted(classes, key=lambda c: c.name):
        visit(c)
    return out


def generate_class_modules(
    bindings: Bindings,
    package: str,
    namespaces: Mapping[str, tuple[str, ...]],
    grammar_types: Mapping[QName, TypeGrammar],
    global_elements: Mapping[QName, list[str]],
    headers: Mapping[str, str],
) -> dict[str, str]:
    """Source text of every binding module, keyed by module name (within ``package``).

    ``namespaces`` maps module name -> the namespaces whose classes it holds; ``global_elements`` maps a
    type key to the global elements that use it (for docstrings); ``headers`` maps module name ->
    provenance text placed in each module's docstring.
    """
    out: dict[str, str] = {}
    for module, namespace in sorted(namespaces.items()):
        w = _ModuleWriter(module, package, bindings, namespace, headers.get(module, ""))
        w.grammar_types = grammar_types
        enums = sorted((e for e in bindings.enums.values() if e.module == module), key=lambda e: e.name)
        classes = _ordered([c for c in bindings.classes.values() if c.module == module])
        aliases = sorted((a for a in bindings.aliases.values() if a.module == module), key=lambda a: a.name)
        body = [w.enum_source(e) for e in enums] + [w.class_source(c, global_elements) for c in classes]
        body += [w.alias_source(a) for a in aliases]
        names = [e.name for e in enums] + [c.name for c in classes] + [a.name for a in aliases]
        imports = sorted(w.imports)
        lines = [
            f'"""Binding classes for the XSD namespace{"s" if len(namespace) > 1 else ""} '
            + ", ".join(f"``{ns}``" for ns in namespace)
            + ".",
            "",
            headers.get(module, "").strip(),
            '"""',
            "",
            "from __future__ import annotations",
            "",
            "from dataclasses import dataclass, field",
        ]
        if enums:
            lines.append("from enum import StrEnum")
        lines.append("from typing import ClassVar")
        if imports:
            lines.append("")
            lines.extend(f"from {package} import {m} as _{m}" for m in imports)
        lines.append("")
        lines.append("__all__ = [" + ", ".join(repr(n) for n in sorted(names)) + "]")
        text = "\n".join(lines) + "\n\n\n" + "\n\n\n".join(body) + "\n"
        out[module] = text
    return out
