"""ISO 15118-20 message classes: CommonTypes, CommonMessages, AC, DC, WPT and ACDP in one namespace.

All names are the XSD names with a trailing ``Type`` dropped (``SessionSetupReq``, ``RationalNumber``,
``ResponseCode``...). The classes are generated (see :mod:`iso15118.messages.generated`).
"""

from __future__ import annotations

from iso15118.messages.generated.iso20_ac import *  # noqa: F403
from iso15118.messages.generated.iso20_acdp import *  # noqa: F403
from iso15118.messages.generated.iso20_common import *  # noqa: F403
from iso15118.messages.generated.iso20_dc import *  # noqa: F403
from iso15118.messages.generated.iso20_types import *  # noqa: F403
from iso15118.messages.generated.iso20_wpt import *  # noqa: F403
from iso15118.messages.generated.xmldsig import Signature, SignedInfo  # noqa: F401
