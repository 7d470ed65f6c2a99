"""Control layer: what the agent knows and decides. No D-Bus here."""
