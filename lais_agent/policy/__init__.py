"""Capability policies: which tier this machine is in and what it may run. Pure core."""
