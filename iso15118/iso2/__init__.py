"""ISO 15118-2 (AC and DC, EIM and Plug & Charge) as a profile of the session core."""
