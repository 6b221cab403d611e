"""Sub-commands of `v2g`.

Every module here defines ``register(subparsers)``; :mod:`harness.cli` finds them.
"""
