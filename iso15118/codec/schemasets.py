"""The ISO 15118 schema sets: which XSDs make each set, and where their generated code goes.

``v2g schemas compile`` feeds :data:`PROJECT` to :func:`exi.compiler.compile_project`; the generated
binding classes land in :mod:`iso15118.messages.generated`, the codecs in
:mod:`iso15118.codec.generated` and the grammars in the repository's ``schemas/`` folder.
"""

from __future__ import annotations

from typing import Final

from exi.compiler import ProjectSpec, SchemaSetSpec
from iso15118.constants import PayloadType

__all__ = ["PAYLOAD_SETS", "PROJECT", "SCHEMA_ALIASES", "SET_NAMES"]

_SETS = (
    SchemaSetSpec("appprotocol", ("V2G_CI_AppProtocol.xsd",)),
    SchemaSetSpec("iso20_common", ("iso15118_20/V2G_CI_CommonMessages.xsd",)),
    SchemaSetSpec("iso20_ac", ("iso15118_20/V2G_CI_AC.xsd",)),
    SchemaSetSpec("iso20_dc", ("iso15118_20/V2G_CI_DC.xsd",)),
    SchemaSetSpec("iso20_wpt", ("iso15118_20/V2G_CI_WPT.xsd",)),
    SchemaSetSpec("iso20_acdp", ("iso15118_20/V2G_CI_ACDP.xsd",)),
    SchemaSetSpec("xmldsig", ("xmldsig-core-schema.xsd",)),
    SchemaSetSpec("din", ("din_spec/V2G_CI_MsgDef.xsd",)),
    SchemaSetSpec("iso2", ("iso15118_2/V2G_CI_MsgDef.xsd",)),
)

_MODULES = {
    "urn:iso:15118:2:2010:AppProtocol": "app_protocol",
    "http://www.w3.org/2000/09/xmldsig#": "xmldsig",
    "urn:iso:std:iso:15118:-20:CommonTypes": "iso20_types",
    "urn:iso:std:iso:15118:-20:CommonMessages": "iso20_common",
    "urn:iso:std:iso:15118:-20:AC": "iso20_ac",
    "urn:iso:std:iso:15118:-20:DC": "iso20_dc",
    "urn:iso:std:iso:15118:-20:WPT": "iso20_wpt",
    "urn:iso:std:iso:15118:-20:ACDP": "iso20_acdp",
    # DIN 70121 and ISO 15118-2 types extend each other across their four namespaces (MsgDef <-> MsgBody),
    # so each family shares one module.
    "urn:din:70121:2012:MsgDef": "din",
    "urn:din:70121:2012:MsgHeader": "din",
    "urn:din:70121:2012:MsgBody": "din",
    "urn:din:70121:2012:MsgDataTypes": "din",
    "urn:iso:15118:2:2013:MsgDef": "iso2",
    "urn:iso:15118:2:2013:MsgHeader": "iso2",
    "urn:iso:15118:2:2013:MsgBody": "iso2",
    "urn:iso:15118:2:2013:MsgDataTypes": "iso2",
}

PROJECT: Final = ProjectSpec(
    sets=_SETS,
    modules=_MODULES,
    class_package="iso15118.messages.generated",
    codec_package="iso15118.codec.generated",
    tokens={"PnC": "Pnc", "EVSEID": "EvseId", "EVCCID": "EvccId", "eMAID": "Emaid", "V2X": "V2x"},
    # The XML view's prefixes: the schemas declare v2gci_ct (-20 CommonTypes), v2gci_d/_b/_t/_h (DIN, -2) and ds
    # (xmldsig's own); the namespaces they leave unnamed get the same convention.
    prefixes={
        "urn:iso:15118:2:2010:AppProtocol": "app",
        "http://www.w3.org/2000/09/xmldsig#": "ds",
        "urn:iso:std:iso:15118:-20:CommonMessages": "v2gci_cm",
        "urn:iso:std:iso:15118:-20:AC": "v2gci_ac",
        "urn:iso:std:iso:15118:-20:DC": "v2gci_dc",
        "urn:iso:std:iso:15118:-20:WPT": "v2gci_wpt",
        "urn:iso:std:iso:15118:-20:ACDP": "v2gci_acdp",
    },
)

SET_NAMES: Final = tuple(s.name for s in _SETS)

#: V2GTP payload type -> schema set whose grammar decodes it.
PAYLOAD_SETS: Final = {
    PayloadType.SAP: "appprotocol",
    PayloadType.ISO20_COMMON: "iso20_common",
    PayloadType.ISO20_AC: "iso20_ac",
    PayloadType.ISO20_DC: "iso20_dc",
    PayloadType.ISO20_ACDP: "iso20_acdp",
    PayloadType.ISO20_WPT: "iso20_wpt",
    PayloadType.SCHEDULE_RENEGOTIATION: "iso20_common",
    PayloadType.METERING_CONFIRMATION: "iso20_common",
}

#: CLI names of the schema sets (``--schema``).
SCHEMA_ALIASES: Final = {
    "appprotocol": "appprotocol",
    "iso20-common": "iso20_common",
    "iso20-ac": "iso20_ac",
    "iso20-dc": "iso20_dc",
    "iso20-wpt": "iso20_wpt",
    "iso20-acdp": "iso20_acdp",
    "xmldsig": "xmldsig",
    "din": "din",
    "iso2": "iso2",
}
