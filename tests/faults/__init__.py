"""Fault suite: every loader and command under bad input and faults (issue 17)."""
