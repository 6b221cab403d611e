"""The sans-I/O ISO 15118-20 session core: bytes and ``now`` in; events, bytes and deadlines out."""
