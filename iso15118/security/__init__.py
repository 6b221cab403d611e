"""Security: TLS 1.3 contexts, the ISO 15118-20 PKI, certificate checks and XML signatures (no sockets)."""
