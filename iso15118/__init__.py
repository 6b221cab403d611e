"""v2gstack's ISO 15118-20 protocol library.

The library does no I/O at import time, reads no environment and configures no logging. Its public
surface is curated in ``__all__``; everything else is importable for tests but carries no promise.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
