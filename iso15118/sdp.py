"""SDP payloads (placeholder module created with the foundation; see issue 3)."""
