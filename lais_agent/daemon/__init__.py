"""The lais-agent process: wiring, lifecycle, logging, systemd integration."""
