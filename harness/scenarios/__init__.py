"""Scenario files of the virtual test bench (TOML, one per scenario), read by harness.bench.scenarios."""
