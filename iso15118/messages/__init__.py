"""Typed, immutable message objects for every global element of the ISO 15118 schema sets.

The classes are frozen, slotted, keyword-only dataclasses generated from the official XSDs; XSD names
are kept (a trailing ``Type`` dropped) and fields are snake_case with the XSD name in their metadata.
Import them by protocol family:

- :mod:`iso15118.messages.iso20` — ISO 15118-20 (common, AC, DC, WPT, ACDP, plus the signature classes);
- :mod:`iso15118.messages.app_protocol` — SupportedAppProtocol;
- :mod:`iso15118.messages.xmldsig` — XML Signature;
- :mod:`iso15118.messages.generated.din` and ``.iso2`` — DIN 70121 and ISO 15118-2 (decode/encode only).
"""
