"""Hardware detection: a typed HardwareProfile probed from injectable roots."""
