"""Read API keys from a .env file next to the app (never from or into the database)."""

from __future__ import annotations

from pathlib import Path

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parents[2]


def load_env() -> None:
    """Load ./.env then the repo's .env; real environment variables always win."""
    load_dotenv(Path.cwd() / ".env", override=False)
    load_dotenv(ROOT / ".env", override=False)
