"""Batch evaluation: prompt files or test suites in, prompt x model x repeat cells run with rate limits and
resume, aggregates (and a suite's pass/fail grid) out."""
