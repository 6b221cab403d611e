"""SLAC (ISO 15118-3): HomePlug Green PHY management messages and sans-I/O matching state machines."""
