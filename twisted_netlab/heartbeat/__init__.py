"""heartbeat family: see the package README section."""
