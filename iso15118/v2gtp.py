"""V2GTP framing (placeholder module created with the foundation; see issue 3)."""
