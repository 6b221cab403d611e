"""EXI fragments of ISO 15118-2 signatures that the generated codec cannot make on its own. Pure.

Every element a -2 signature references is digested as an EXI fragment of the -2 schema set
(:func:`iso15118.codec.encode_fragment` with ``"iso2"``), with one exception: ``{MsgBody}eMAID`` is declared
four times with two different types (``EMAIDType`` in CertificateInstallationRes / CertificateUpdateRes,
``eMAIDType`` in PaymentDetailsReq / CertificateUpdateReq). A fragment has no parent to pick the
declaration by, so EXI 1.0 section 8.5.3 codes such an element with the relaxed *schema-informed element
fragment grammar*; it is the only such qname in any ISO 15118 schema. Our codec refuses it as a fragment
root, so :func:`encode_element_fragment` codes it here:

* ``ElementFragment0``: AT(A_0..A_n-1) for the n attribute qnames declared anywhere in the schema set
  (sorted by local name, then URI), AT(*), SE(F_0..F_m-1) for the m element qnames of the fragment
  grammar, SE(*), EE, CH -- n + m + 4 codes, plus the non-strict escape;
* after CH: ``ElementFragment2``: SE(F_0..F_m-1), SE(*), EE, CH -- m + 3 codes, plus the escape.

For -2 (n = 10, m = 243) that is 9 bits then 8 bits, with or without the escape. Attribute values are
schema-typed (``Id`` is an xs:ID, a string in every declaration), the character content is untyped: a
string. OpenV2G and EXIficient code the eMAID fragment this way; libcbv2g before cbexigen PR #135 coded it
with ``EMAIDType``'s own grammar and so disagreed on this one digest.

:func:`encode_iso2_signed_info` is the SignedInfo alternative a tolerant verifier accepts: SignedInfo coded
as a fragment of the -2 message schema set (which imports xmldsig) instead of the xmldsig-only schema set
that ISO 15118-2 Annex J.4 names (as quoted publicly, e.g. cbexigen issue #69) and that Josev and EVerest
use; older OpenV2G-based stacks signed with it (tux-evse iso15118-encoders PR #2 fixed exactly that).
"""

from __future__ import annotations

import dataclasses
from typing import Final

from exi.datatypes import bits_for
from exi.errors import EncodeError
from exi.runtime import w_str
from iso15118.codec import codec_for, encode_fragment
from iso15118.errors import MessageEncodeError
from iso15118.messages.xmldsig import SignedInfo

__all__ = [
    "ISO2_ATTRIBUTES",
    "RELAXED_ELEMENTS",
    "encode_element_fragment",
    "encode_iso2_fragment",
    "encode_iso2_signed_info",
]

_BODY = "urn:iso:15118:2:2013:MsgBody"
_TYPES = "urn:iso:15118:2:2013:MsgDataTypes"
#: Every attribute qname declared in the -2 schema set (with xmldsig), in EXI order: local name, then URI.
#: tests/security/test_iso2_fragments.py checks it against the XSDs.
ISO2_ATTRIBUTES: Final[tuple[tuple[str, str], ...]] = (
    ("", "Algorithm"),
    ("", "Encoding"),
    ("", "Id"),
    (_BODY, "Id"),
    (_TYPES, "Id"),
    ("", "MimeType"),
    (_TYPES, "Name"),
    ("", "Target"),
    ("", "Type"),
    ("", "URI"),
)
#: Fragment roots of the -2 schema set declared with differing types: coded with the element fragment grammar.
RELAXED_ELEMENTS: Final = frozenset({(_BODY, "eMAID")})
_HEADER = 0x80


def _fragment_rows(schema: str) -> tuple[tuple[object, ...], ...]:
    rows: tuple[tuple[object, ...], ...] = codec_for(schema).module.FRAGMENT
    return rows


def _attributes(obj: object) -> list[tuple[tuple[str, str], str]]:
    """The attributes of ``obj`` present, as (qname, value), from its dataclass metadata."""
    found = []
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        meta = f.metadata
        if meta.get("kind") == "attribute":
            value = getattr(obj, f.name)
            if value is not None:
                found.append(((str(meta.get("ns", "")), str(meta["xsd"])), str(value)))
    return found


def _content(obj: object) -> str | None:
    if isinstance(obj, str):
        return obj
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        if f.metadata.get("kind") == "value":
            value = getattr(obj, f.name)
            return None if value is None else str(value)
    return None


def encode_element_fragment(
    obj: object,
    root: tuple[str, str],
    *,
    schema: str = "iso2",
    attributes: tuple[tuple[str, str], ...] = ISO2_ATTRIBUTES,
) -> bytes:
    """``obj`` (simple content, attributes) as an EXI fragment whose root uses the element fragment grammar.

    ``root`` is the (namespace, local name) of the element; ``obj`` a string or a generated class with a
    ``value`` field and attribute fields. Raises :class:`~iso15118.errors.MessageEncodeError` for a root
    that is not in the schema set's fragment grammar, an attribute it does not declare, or element content.
    """
    rows = _fragment_rows(schema)
    qnames = [(str(row[0]), str(row[1])) for row in rows]
    if root not in qnames:
        raise MessageEncodeError(f"{root[1]} is not an element of schema set {schema}", value=obj)
    m, n = len(qnames), len(attributes)
    start_width = bits_for(n + m + 4 + 1)  # + the non-strict escape to second-level productions
    content_width = bits_for(m + 3 + 1)
    fragment_width = bits_for(m + 2)
    acc, bits = (_HEADER << fragment_width) | qnames.index(root), 8 + fragment_width
    try:
        # Attributes in EXI order, which is also the order Canonical EXI asks for.
        for qname, value in sorted(_attributes(obj), key=lambda item: attributes.index(item[0])):
            acc, bits = (acc << start_width) | attributes.index(qname), bits + start_width
            acc, bits = w_str(acc, bits, value)
        text = _content(obj)
        if text is not None:
            acc, bits = (acc << start_width) | (n + m + 3), bits + start_width  # CH, untyped
            acc, bits = w_str(acc, bits, text)
            acc, bits = (acc << content_width) | (m + 1), bits + content_width  # EE in ElementFragment2
        else:
            acc, bits = (acc << start_width) | (n + m + 2), bits + start_width  # EE in ElementFragment0
    except ValueError:
        raise MessageEncodeError(f"{root[1]}: an attribute the schema set does not declare", value=obj) from None
    except EncodeError as exc:
        raise MessageEncodeError(f"{root[1]}: {exc.reason}", value=obj) from None
    acc, bits = (acc << fragment_width) | (m + 1), bits + fragment_width  # ED of the fragment
    pad = -bits % 8
    return (acc << pad).to_bytes((bits + pad) // 8, "big")


def encode_iso2_fragment(obj: object, schema: str, root: str) -> bytes:
    """A -2 signed element's fragment: the codec's, or the element fragment grammar's for ``eMAID``.

    Fits :attr:`iso15118.security.signatures.SignedElement.encoder`.
    """
    if schema == "iso2" and (_BODY, root) in RELAXED_ELEMENTS:
        return encode_element_fragment(obj, (_BODY, root), schema=schema)
    return encode_fragment(obj, schema, root)


def encode_iso2_signed_info(signed_info: SignedInfo) -> bytes:
    """SignedInfo as a fragment of the -2 message schema set: the tolerated alternative, not Annex J.4's."""
    return encode_fragment(signed_info, "iso2", "SignedInfo")
