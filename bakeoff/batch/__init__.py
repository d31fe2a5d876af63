"""Batch evaluation: prompt files in, prompt x model x repeat cells run with rate limits and resume, aggregates out."""
