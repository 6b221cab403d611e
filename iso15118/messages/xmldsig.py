"""W3C XML Signature classes (the -20 header signature and the signed-info fragment)."""

from __future__ import annotations

from iso15118.messages.generated.xmldsig import *  # noqa: F403
