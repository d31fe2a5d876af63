"""Axes that read cleanly (bakeoff/report/axes.py): plain dollar ticks on log cost axes, time ticks fit to the span.

The cost-vs-quality chart's dollar axis: test_figures.py."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from bakeoff.report.axes import dollar_log_ticks, period_axis, usd_tick
from ui.history_charts import trend_figure, trend_frame


def test_dollar_ticks_are_plain_decimals_never_exponents():
    assert [usd_tick(v) for v in (2e-05, 1e-08, 0.5, 1000)] == ["$0.00002", "$0.00000001", "$0.5", "$1,000"]


def test_dollar_log_ticks_are_the_powers_of_ten_then_finer_when_few_fit():
    assert dollar_log_ticks(1e-6, 1e-2)[1] == ["$0.000001", "$0.00001", "$0.0001", "$0.001", "$0.01"]
    assert dollar_log_ticks(1e-5, 1e-4)[1] == ["$0.00001", "$0.00002", "$0.00005", "$0.0001"]
    values, _ = dollar_log_ticks(6e-6, 1.9e-5)  # half a decade: every digit that fits
    assert values == [6e-06, 7e-06, 8e-06, 9e-06, 1e-05]


def test_one_day_of_daily_points_gets_one_date_tick_not_hours_of_an_empty_axis():
    axis = period_axis([pd.Timestamp("2026-12-04")], hourly=False)
    assert axis["tickformat"] == "%Y-%m-%d" and axis["dtick"] == 86_400_000
    assert axis["range"] == [pd.Timestamp("2026-12-03"), pd.Timestamp("2026-12-05")]


def test_hours_show_as_times_and_long_spans_thin_their_ticks():
    hours = [pd.Timestamp("2026-12-04 09:00"), pd.Timestamp("2026-12-04 18:00")]
    axis = period_axis(hours, hourly=True)
    assert axis["tickformat"] == "%H:%M" and axis["title"] == "hour of 2026-12-04 (UTC)"
    assert axis["dtick"] == 2 * 3_600_000 and "range" not in axis  # 10 hours: a tick every 2, at most 8
    year = period_axis([pd.Timestamp("2026-01-01"), pd.Timestamp("2026-12-31")], hourly=False)
    assert year["dtick"] == 46 * 86_400_000  # 365 days / 8 ticks, rounded up to whole days


def test_the_history_trend_uses_the_period_axis_and_plain_dollars():
    rows = [{"period": dt.datetime(2026, 12, 4, h), "model": "a", "answers": 1, "ttft_s": 0.1, "e2e_s": 1.0,
             "cost_usd": 1e-5 * h, "priced": 1, "score": None, "scored": 0} for h in (9, 10)]
    fig = trend_figure(trend_frame(rows), "cost_usd", hourly=True)
    assert fig.layout.xaxis.tickformat == "%H:%M" and fig.layout.title.text.startswith("Cost per answer (mean of "
                                                                                       "priced answers per hour")
    assert fig.layout.yaxis.exponentformat == "none" and fig.layout.yaxis.tickprefix == "$"  # not "$10µ"
