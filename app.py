"""Streamlit entry point: page config and navigation, nothing else."""

import streamlit as st

from bakeoff.catalog.env import load_env
from ui.streamlit_secrets import load_streamlit_secrets

load_streamlit_secrets()  # keys from .streamlit/secrets.toml; the real environment wins, then secrets, then .env
load_env()
st.set_page_config(page_title="Bakeoff", page_icon="🥧", layout="wide")
st.navigation(
    [
        st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:", default=True),
        st.Page("app_pages/batch.py", title="Batch", icon=":material/dataset:"),
        st.Page("app_pages/history.py", title="History", icon=":material/history:"),
        st.Page("app_pages/leaderboard.py", title="Leaderboard", icon=":material/leaderboard:"),
        st.Page("app_pages/models.py", title="Models", icon=":material/table_view:"),
        st.Page("app_pages/quantization.py", title="Quantization", icon=":material/memory:"),
        st.Page("app_pages/advisor.py", title="Advisor", icon=":material/recommend:"),
        st.Page("app_pages/settings.py", title="Settings", icon=":material/settings:"),
    ]
).run()
