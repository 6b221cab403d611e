"""DIN 70121 (DC charging over high-level communication) as a profile of the session core."""
