"""What the conformance runs against Josev need beyond ``tests/interop/josev.py``: the EVCC configuration Josev
ships for each protocol generation, read from its installed package (the -2 and DIN ones live outside the
``iso15118_20`` folder :func:`tests.interop.josev.example_evcc_config` reads)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["shipped_evcc_config"]


def shipped_evcc_config(python: Path, relative: str) -> dict[str, Any]:
    """Josev's ``iso15118/shared/examples/evcc/RELATIVE`` (e.g. ``DIN/evcc_config.json``) with one SDP cycle, so
    that its EVCC ends when the tester is gone instead of searching for a charger again."""
    done = subprocess.run(
        [str(python), "-I", "-c", "import iso15118, os; print(os.path.dirname(iso15118.__file__))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    path = Path(done.stdout.strip()) / "shared" / "examples" / "evcc" / relative
    config: dict[str, Any] = json.loads(path.read_text())
    return config | {"sdpRetryCycles": 1}
