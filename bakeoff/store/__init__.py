"""Persistence: the SQLAlchemy store (SQLite or PostgreSQL), history queries, measured stats and exports."""
