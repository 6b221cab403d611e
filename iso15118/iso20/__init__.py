"""ISO 15118-20: the profile (sequence table, kinds, timers) and the pure SECC and EVCC decisions."""
