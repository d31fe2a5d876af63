"""Background jobs the dashboard starts and polls, all in one registry on the engine loop (registry.py)."""
