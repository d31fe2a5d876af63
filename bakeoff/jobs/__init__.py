"""Background jobs the dashboard starts and polls: live runs, live batches, repeat series."""
