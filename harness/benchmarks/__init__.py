"""Benchmarks behind `v2g bench ...`: they print measured figures; no test asserts on timing."""
