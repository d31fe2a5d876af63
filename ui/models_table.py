"""The Models page's table: column labels with units, formats and definitions (help tooltips)."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from bakeoff.catalog.view import KIND_HELP, SIZE_HELP
from bakeoff.store import model_stats
from metrics.latency import HELP
from ui import state

MEASURED_HELP = "Median over this machine's successful answers in History (all runs, any prompt)."

COLUMN_CONFIG = {
    "id": st.column_config.TextColumn("id", help="The models.yaml key: pick it on Compare or pass it to the CLI "
                                      "(`python -m bakeoff run --model ID`)."),
    "model": st.column_config.TextColumn("model", pinned=True),
    "provider": st.column_config.TextColumn("provider", help="Which SDK / wire protocol Bakeoff talks to it with."),
    "kind": st.column_config.TextColumn("kind", help=KIND_HELP),
    "size": st.column_config.TextColumn("size", help=SIZE_HELP),
    "params_b": st.column_config.NumberColumn("params (B)", format="%.4g",
                                              help="Total parameters, billions. — = no sourced figure (unknown)."),
    "active_params_b": st.column_config.NumberColumn(
        "active params (B)", format="%.4g",
        help="Mixture-of-experts models use only some experts per token: parameters active per token, billions. "
        "— for dense models (all parameters are active) and where unknown."),
    "context_window": st.column_config.NumberColumn("context (tokens)", format="localized",
                                                    help="Longest prompt + answer the model accepts, in tokens."),
    "license": st.column_config.TextColumn("license"),
    "best_for": st.column_config.ListColumn("best for", help="Uses models.yaml recommends it for (the Advisor's "
                                            "task types)."),
    "price_in_per_m": st.column_config.NumberColumn(
        "input ($/1M tok)", format="$%.3f",
        help="USD per 1M input tokens, from the pricing.yaml row in force today. — = unpriced (unknown, not "
        "free). Local models have no per-token price: they cost hardware $/hour (see Settings)."),
    "price_out_per_m": st.column_config.NumberColumn("output ($/1M tok)", format="$%.3f",
                                                     help="USD per 1M output tokens (incl. reasoning tokens unless "
                                                     "billed apart), from pricing.yaml."),
    "price_as_of": st.column_config.DateColumn("price as of", help="The date the price row took effect."),
    "median_ttft_s": st.column_config.NumberColumn("median TTFT (s)", format="%.3f",
                                                   help=f"{HELP['ttft_s']} {MEASURED_HELP}"),
    "median_tokens_per_s": st.column_config.NumberColumn("median output (tok/s)", format="%.1f",
                                                         help=f"{HELP['output_tokens_per_s']} {MEASURED_HELP}"),
    "cost_per_1k_usd": st.column_config.NumberColumn(
        "cost per 1K answers ($)", format="$%.4f",
        help="Mean cost of a priced successful answer in History × 1000: API price × tokens, or for local models "
        "hardware $/hour × busy seconds. Depends on your prompts' lengths."),
    "answers": st.column_config.NumberColumn("answers measured", format="%d",
                                             help="Successful answers in History behind the measured figures."),
    "measured": st.column_config.TextColumn("measured", help="Answers, precision and date of the latest run behind "
                                            "the measured figures."),
    "card_url": st.column_config.LinkColumn("card", display_text="model card", help="The vendor's model page."),
    "facts_source": st.column_config.LinkColumn("facts source", display_text=r"https?://(?:www\.)?([^/]+)",
                                                 help="Where params, context and licence were read."),
    "facts_as_of": st.column_config.DateColumn("facts as of", help="When those facts were read."),
    "active": st.column_config.CheckboxColumn("active", help="Unticked = retired: hidden from Compare, kept so "
                                              "old runs keep their facts."),
    "notes": st.column_config.TextColumn("notes"),
}


# What decides a choice first (size, price, speed), then the facts behind it and their sources.
COLUMN_ORDER = [
    "model", "provider", "kind", "size", "params_b", "active_params_b", "context_window", "price_in_per_m",
    "price_out_per_m", "median_ttft_s", "median_tokens_per_s", "cost_per_1k_usd", "best_for", "license", "card_url",
    "price_as_of", "answers", "measured", "facts_source", "facts_as_of", "id", "active", "notes",
]


@st.cache_data(ttl=10, show_spinner=False)
def measured(db_url: str) -> dict[model_stats.Key, model_stats.MeasuredStats]:
    """History's per-model figures (db_url keys the cache: one entry per database)."""
    return model_stats.measured_stats(state.store())


def measured_or_warn(db_url: str) -> dict[model_stats.Key, model_stats.MeasuredStats]:
    """Measured figures, or none with a warning when the database cannot be read (the catalog still shows)."""
    try:
        return measured(db_url)
    except sa.exc.SQLAlchemyError as exc:  # the message can name the server; show the kind of failure only
        st.warning(f"Could not read measured figures from the database ({type(exc).__name__}); showing the catalog "
                   "without them. Check the database location on the Settings page.", icon=":material/database:")
        return {}


def render_models_table(frame: pd.DataFrame) -> None:
    st.dataframe(
        frame,
        column_config=COLUMN_CONFIG,
        column_order=[c for c in COLUMN_ORDER if c in frame.columns],
        placeholder="—",
        hide_index=True,
        width="stretch",
    )
