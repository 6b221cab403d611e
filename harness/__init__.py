"""The composition root: the `v2g` command line, the virtual test bench and the conformance harness.

Nothing in the library imports this package; it may import everything.
"""
