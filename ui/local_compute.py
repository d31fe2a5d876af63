"""A per-session hardware $/hour for pricing local models, set on the Settings page.

pricing.yaml's `local_compute` is the default for everyone; a user can try another rate for
their own session without editing the file. The override lives in a plain session_state key
(not a widget key), so it survives moving between pages.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import streamlit as st

from bakeoff.catalog.config import Catalog

OVERRIDE_KEY = "settings_usd_per_hour_override"  # Decimal or absent
OVERRIDE_LABEL = "set on the Settings page for this session"


def override() -> Decimal | None:
    value = st.session_state.get(OVERRIDE_KEY)
    return Decimal(str(value)) if value is not None else None


def set_override(value: float | Decimal | None) -> None:
    if value is None:
        st.session_state.pop(OVERRIDE_KEY, None)
    else:
        st.session_state[OVERRIDE_KEY] = Decimal(str(value))


def effective_catalog(cat: Catalog) -> Catalog:
    """The catalog this session prices runs with: the shared one, or a copy carrying the session's $/hour."""
    rate = override()
    if rate is None:
        return cat
    compute = cat.local_compute.model_copy(
        update={"usd_per_hour": rate, "label": OVERRIDE_LABEL, "source": None, "as_of": dt.date.today()}
    )
    return dataclasses.replace(cat, local_compute=compute)
