"""Test-wide settings: hypothesis profiles.

``HYPOTHESIS_PROFILE=thorough`` raises example counts for local deep runs; the default profile keeps the
suite within its CI budget while still meeting every acceptance count (those tests set their own
``max_examples``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    deadline=None,
    max_examples=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
