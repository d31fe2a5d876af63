"""AppTest helpers shared by the UI tests: the app on a temporary catalog and database."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def start_app(tmp_path, monkeypatch):
    """Start app.py on the given models/pricing dicts; caches are cleared afterwards."""

    def start(models: dict, pricing: dict, timeout: float = 30) -> AppTest:
        (tmp_path / "models.yaml").write_text(yaml.safe_dump(models))
        (tmp_path / "pricing.yaml").write_text(yaml.safe_dump(pricing))
        monkeypatch.setenv("BAKEOFF_MODELS", str(tmp_path / "models.yaml"))
        monkeypatch.setenv("BAKEOFF_PRICING", str(tmp_path / "pricing.yaml"))
        monkeypatch.setenv("BAKEOFF_DB", str(tmp_path / "ui.db"))
        at = AppTest.from_file(APP, default_timeout=timeout)
        at.run()
        return at

    yield start
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
