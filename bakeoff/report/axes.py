"""Axis settings that read cleanly: plain-decimal dollar ticks on log cost axes, and time axes that fit their span.

Pure (plotly settings as dicts), so the rules are tested without drawing. Plotly's own choices were the trouble:
"$1e-5" (exponentformat "e") or "$10µ" (its SI default) for a cost, and six ticks all reading the same date, or
hours of an empty day, for a trend whose points are one day apart or fewer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import pandas as pd

MAX_TICKS = 8
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def usd_tick(value: float) -> str:
    """A tick's dollars as a plain decimal, never an exponent: 2e-05 -> "$0.00002", 1000 -> "$1,000"."""
    return "$" + format(Decimal(f"{value:.0e}"), ",f")


def log_cost_axis(costs: Sequence[float]) -> dict:
    """A log x-axis for positive dollar costs, padded in log space so end labels are not clipped, with
    plain-decimal ticks (the dashboard's and the report's cost-vs-quality charts share it)."""
    lo, hi = math.log10(min(costs)), math.log10(max(costs))
    pad = max(0.3, (hi - lo) * 0.15)
    tickvals, ticktext = dollar_log_ticks(10 ** (lo - pad), 10 ** (hi + pad))
    return {"type": "log", "range": [lo - pad, hi + pad], "tickvals": tickvals, "ticktext": ticktext,
            "tickprefix": ""}


def dollar_log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Ticks for a log axis showing lo..hi dollars (both > 0): the powers of ten; when fewer than three of those
    fit, 2 and 5 times them too; fewer still, every digit."""
    for steps in ((1,), (1, 2, 5), range(1, 10)):
        values = _multiples(lo, hi, steps)
        if len(values) >= 3:
            break
    return values, [usd_tick(v) for v in values]


def _multiples(lo: float, hi: float, steps: Sequence[int]) -> list[float]:
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    return [m * 10.0**e for e in decades for m in steps if lo <= m * 10.0**e * (1 + 1e-9) <= hi * (1 + 2e-9)]


def period_axis(periods: Sequence[pd.Timestamp], hourly: bool) -> dict:
    """x-axis settings for trend points one day (or one hour) apart: one tick per period or per few periods, in a
    format that changes from tick to tick (HH:MM within a day, dates across days), never more than MAX_TICKS."""
    if not len(periods):
        return {}
    first, last = min(periods), max(periods)
    step_ms, unit = (HOUR_MS, pd.Timedelta(hours=1)) if hourly else (DAY_MS, pd.Timedelta(days=1))
    count = int((last - first) / unit) + 1
    axis = {
        "title": f"hour of {first:%Y-%m-%d} (UTC)" if hourly else "day (UTC)",
        "tickformat": "%H:%M" if hourly else "%Y-%m-%d",
        "hoverformat": "%Y-%m-%d %H:%M" if hourly else "%Y-%m-%d",
        "tick0": first,
        "dtick": step_ms * math.ceil(count / MAX_TICKS),
    }
    if count == 1:  # one point: a period either side, so plotly does not zoom into minutes around it
        axis["range"] = [first - unit, last + unit]
    return axis
