"""Lossless JSON and XML views of binding objects, driven by the field metadata of the generated classes.

:mod:`exi.view_json` and :mod:`exi.view_xml` hold the two views; :mod:`exi.viewbase` what they share. A
:class:`ViewContext` (from :meth:`exi.document.Codec.view_context`) adds the schema set's knowledge: prefixes for
the XML view, and the types and elements that ``xsi:type`` casts and wildcard content resolve to.
"""

from __future__ import annotations

from exi.view_json import from_json, to_json
from exi.view_xml import from_xml, to_xml
from exi.viewbase import ViewContext, ViewError, text_of, value_of_text

__all__ = ["ViewContext", "ViewError", "from_json", "from_xml", "text_of", "to_json", "to_xml", "value_of_text"]
