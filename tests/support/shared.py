"""Locate the reference material in ../shared (or $V2G_SHARED); tests skip with a reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("V2G_SHARED", REPO.parent / "shared")).resolve()


def shared_path(*parts: str) -> Path:
    """Return a path inside the shared folder, or skip the calling test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference material {path} is not available (set V2G_SHARED to the shared folder)")
    return path


def shared_available(*parts: str) -> bool:
    """True when the path exists in the shared folder (for parametrisation at collection time)."""
    return SHARED.joinpath(*parts).exists()
