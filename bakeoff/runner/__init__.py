"""Running a comparison: the fan-out over providers, the process's engine loop, rate limits and scoring."""
