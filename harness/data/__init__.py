"""Example persona files for `v2g secc` and `v2g evcc` (secc.toml, evcc.toml)."""
