"""Device parameter files of the virtual test bench (TOML); read by :mod:`harness.bench.params`."""
