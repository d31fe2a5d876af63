"""History page pieces: filters, the paged runs table, selection actions, one opened run, trends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import pandas as pd
import streamlit as st

from bakeoff.catalog.config import Catalog
from bakeoff.jobs.registry import Jobs
from bakeoff.jobs.runs import start_run
from bakeoff.records import Params, Run
from bakeoff.report.scores import score_label, task_relevant
from bakeoff.runner.conversation import earlier_runs, threads
from bakeoff.runner.fan_out import InvalidRun
from bakeoff.runner.scoring import check_label
from bakeoff.store import export
from bakeoff.store import history_query as hq
from bakeoff.store.history_query import HistoryFilter, Page, RunRow
from bakeoff.store.store import Store
from metrics.cost import format_usd
from metrics.latency import HELP
from ui.history_charts import TRENDS, trend_figure, trend_frame
from ui.judge_panel import render_judgments
from ui.prefill import request_prefill
from ui.run_view import render_run
from ui.tables import SCORE_ORDER, score_help

SELECTED = "history_selected"
CONFIRM = "history_confirm_delete"  # run ids waiting for the user to confirm their deletion
PAGE_SIZES = (10, 20, 50, 100)
MAX_EXPORT = 500  # runs in one download: each is read whole (answers included)


def run_label(r: RunRow) -> str:
    """A stable, unique label (it ends with the run id): the value of the pickers below."""
    prompt = r.prompt if len(r.prompt) <= 60 else r.prompt[:59] + "…"
    turn = f"turn {r.turn} · " if r.in_conversation else ""
    return f"{r.created_at:%Y-%m-%d %H:%M} · {turn}{prompt!r} · {', '.join(r.model_refs)} · {r.run_id}"


def label_id(label: str) -> str:
    return label.rsplit(" · ", 1)[-1]


def filters(store: Store) -> HistoryFilter:
    a, b, c, d = st.columns([3, 2, 3, 2])
    models = a.multiselect(
        "Models", hq.models_in_history(store), key="history_models", placeholder="any model",
        help="Runs in which at least one of these models answered.",
    )
    dates = b.date_input(
        "Dates (UTC)", value=(), key="history_dates", format="YYYY-MM-DD",
        help="Runs started between these days, both included (one day picked: that day only). Empty: any day.",
    )
    text = c.text_input("Prompt contains", key="history_text", placeholder="any text", help="Case-insensitive.")
    statuses = d.multiselect(
        "Status", [*hq.RUN_STATUSES, hq.WITH_FAILURES], key="history_status", placeholder="any",
        help="done / running / cancelled (stopped) / interrupted (its process died) / unsaved (it finished, but "
        f"the store could not save all of it); “{hq.WITH_FAILURES}”: at least one model failed, timed out or was "
        "cut off.",
    )
    picked = list(dates) if isinstance(dates, (tuple, list)) else [dates] if dates else []
    since, until = [*picked, None, None][:2]
    return HistoryFilter(models=tuple(models), since=since, until=until or since, text=text, statuses=tuple(statuses))


def page_picker(total: int) -> tuple[int, int]:
    """(page, page size) widgets; the page number is clamped when a filter shrinks the result."""
    left, mid, _ = st.columns([1, 1, 4])
    size = left.selectbox("Runs per page", PAGE_SIZES, index=1, key="history_page_size")
    pages = max(1, -(-total // size))
    if st.session_state.get("history_page", 1) > pages:
        st.session_state["history_page"] = pages
    page = mid.number_input(f"Page (of {pages})", 1, pages, key="history_page")
    return int(page), int(size)


def runs_table(page: Page) -> None:
    frame = pd.DataFrame(
        {
            "when": [r.created_at.strftime("%Y-%m-%d %H:%M:%S") for r in page.rows],
            "turn": [str(r.turn) if r.in_conversation else "" for r in page.rows],
            "prompt": [r.prompt for r in page.rows],
            "models": [", ".join(r.model_refs) for r in page.rows],
            "ok": [f"{r.n_ok}/{r.n_results}" for r in page.rows],
            "cost": [format_usd(Decimal(str(r.cost_usd))) if r.cost_usd is not None else "unpriced"
                     for r in page.rows],
            "mean_e2e_s": [r.mean_e2e_s for r in page.rows],
            "status": [r.status for r in page.rows],
            "run_id": [r.run_id for r in page.rows],
            "conversation_id": [r.conversation_id if r.in_conversation else "" for r in page.rows],
        }
    )
    st.dataframe(
        frame,
        hide_index=True,
        key="history_table",
        column_config={
            "when": st.column_config.TextColumn("started (UTC)"),
            "prompt": st.column_config.TextColumn("prompt", width="medium"),
            "ok": st.column_config.TextColumn("answered", help="Models that answered / models asked."),
            "cost": st.column_config.TextColumn(
                "cost (USD)", help="Sum over the run's priced answers; 'unpriced' when none had a price."
            ),
            "mean_e2e_s": st.column_config.NumberColumn("mean total (s)", format="%.2f", help=HELP["e2e_s"]),
            "turn": st.column_config.TextColumn(
                "turn", help="Which user turn of its conversation this run sent (empty: a single question)."
            ),
            "run_id": st.column_config.TextColumn("run id"),
            "conversation_id": st.column_config.TextColumn("conversation", help="The id of its first run."),
        },
    )


def selection(page: Page, store: Store) -> list[str]:
    """Many runs picked for export or deletion (their ids); the pick survives paging and filtering."""
    chosen = list(st.session_state.get(SELECTED, []))
    options = list(dict.fromkeys(chosen + [run_label(r) for r in page.rows]))

    def select_page() -> None:
        st.session_state[SELECTED] = list(dict.fromkeys(list(st.session_state.get(SELECTED, [])) +
                                                        [run_label(r) for r in page.rows]))

    left, right = st.columns([5, 1])
    picked = left.multiselect(
        "Selected runs", options, key=SELECTED, placeholder="pick runs to export or delete",
        help="The selection is kept while you page and filter.",
    )
    right.button("Select this page", key="history_select_page", on_click=select_page,
                 icon=":material/select_all:", use_container_width=True)
    ids = [label_id(x) for x in picked]
    if ids:
        _selection_actions(ids, store)
    return ids


def _selection_actions(picked: Sequence[str], store: Store) -> None:
    if len(picked) > MAX_EXPORT:
        st.warning(f"{len(picked)} runs selected: downloads take at most {MAX_EXPORT} at a time; "
                   "narrow the selection.")
        pairs = []
    else:
        pairs = [found for rid in picked if (found := store.get_run(rid)) is not None]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    name = f"bakeoff-{len(pairs)}-runs-{stamp}"
    a, b, c, d = st.columns(4)
    disabled = not pairs
    a.download_button("Download CSV", export.to_csv(pairs) if pairs else b"", file_name=f"{name}.csv",
                      mime="text/csv", key="history_sel_csv", icon=":material/download:", disabled=disabled,
                      use_container_width=True)
    b.download_button("Download JSONL", export.to_jsonl(pairs) if pairs else b"", file_name=f"{name}.jsonl",
                      mime="application/jsonl", key="history_sel_jsonl", disabled=disabled, use_container_width=True)
    c.download_button("Download Parquet", export.to_parquet(pairs) if pairs else b"", file_name=f"{name}.parquet",
                      mime="application/vnd.apache.parquet", key="history_sel_parquet", disabled=disabled,
                      use_container_width=True)
    d.button(f"Delete {len(picked)} run{'s' if len(picked) != 1 else ''}…", key="history_sel_delete",
             on_click=ask_delete, args=(list(picked),), icon=":material/delete:", use_container_width=True)


def ask_delete(run_ids: list[str]) -> None:
    st.session_state[CONFIRM] = list(run_ids)


def _do_delete(store: Store) -> None:
    ids = st.session_state.pop(CONFIRM, [])
    for rid in ids:
        store.delete_run(rid)
    gone = set(ids)
    st.session_state[SELECTED] = [x for x in st.session_state.get(SELECTED, []) if label_id(x) not in gone]
    if label_id(st.session_state.get("history_open") or "") in gone:
        del st.session_state["history_open"]
    st.session_state["history_deleted"] = len(ids)


def confirm_delete(store: Store) -> None:
    """The confirmation step of a delete, drawn while one is pending."""
    if n := st.session_state.pop("history_deleted", 0):
        st.success(f"Deleted {n} run{'s' if n != 1 else ''}.")
    ids = st.session_state.get(CONFIRM)
    if not ids:
        return
    with st.container(border=True):
        st.warning(
            f"Delete {len(ids)} run{'s' if len(ids) != 1 else ''} for good? Their answers, votes and judgments "
            "are removed from the database; this cannot be undone.",
            icon=":material/warning:",
        )
        a, b, _ = st.columns([1, 1, 4])
        a.button("Yes, delete", type="primary", key="history_delete_yes", on_click=_do_delete, args=(store,))
        b.button("Cancel", key="history_delete_no", on_click=lambda: st.session_state.pop(CONFIRM, None))


def open_run(page: Page, store: Store, cat: Catalog, jobs: Jobs) -> None:
    """The chosen run exactly as it was, with re-run and delete."""
    labels = [run_label(r) for r in page.rows]
    if not labels:
        return
    if st.session_state.get("history_open") not in labels:
        st.session_state.pop("history_open", None)
    chosen = st.selectbox("Open a run", labels, key="history_open",
                          help="Shows the run as it was saved: its answers, figures, scores and judgments.")
    found = store.get_run(label_id(chosen)) if chosen else None
    if found is None:
        return
    run, results = found
    chain = store.conversation(run.conversation_id)
    conversation = len(chain) > 1 or run.turn > 1
    latest = chain[-1][0] if chain else run  # by turn, then start: the turn a follow-up continues
    a, b, c, _ = st.columns([2, 2, 1, 1])
    if a.button("Re-run with the same settings", key="history_rerun", icon=":material/replay:",
                type="secondary" if conversation else "primary",
                help="Starts a new run with this prompt, these models and settings (and, for a conversation, "
                "the same earlier turns), and opens it on Compare."):
        rerun(run, cat, store, jobs)
    if conversation:
        if b.button("Continue this conversation", type="primary", key="history_continue", icon=":material/forum:",
                    help=f"Opens its latest turn (turn {latest.turn}) on Compare, where a follow-up continues "
                    "each model's thread."):
            continue_conversation(latest)
    c.button("Delete this run…", key="history_delete_one", on_click=ask_delete, args=([run.run_id],),
             icon=":material/delete:")
    if conversation:
        st.caption(f"Turn {run.turn} of a conversation of {max(latest.turn, run.turn)} turns; each card shows that "
                   "model's earlier turns above this answer.")
    st.subheader("Prompt")
    st.text(run.prompt)
    if run.params.system:
        st.caption("System prompt:")
        st.text(run.params.system)
    p = run.params
    st.caption(f"{run.created_at:%Y-%m-%d %H:%M:%S} UTC · temperature {p.temperature} · max tokens {p.max_tokens} · "
               f"top-p {p.top_p or 1.0} · seed {p.seed if p.seed is not None else 'random'} · "
               f"timeout {p.timeout_s:g} s · status {run.status} · from {run.source}")
    if run.reference is not None:
        st.caption("Reference answer:")
        st.text(run.reference)
    if run.assertions:
        st.caption("Checks: " + "; ".join(check_label(a) for a in run.assertions))
    judgments = store.judgments_for(run.run_id)
    render_run(run, results, key="history", judgments=judgments, threads=threads(run, earlier_runs(chain, run)))
    render_judgments(judgments, key="history")


def continue_conversation(latest: Run) -> None:
    """Open a conversation's latest turn on Compare, the sidebar set to its models and settings."""
    st.session_state["compare_run_id"] = latest.run_id
    st.session_state.pop("compare_series_id", None)
    request_prefill(st.session_state, model_refs=latest.model_refs, params=latest.params)
    st.switch_page("app_pages/compare.py")


def rerun(run: Run, cat: Catalog, store: Store, jobs: Jobs) -> None:
    """Start a new run with the same prompt, models and settings, then show it on Compare (settings prefilled)."""
    again = Run(
        prompt=run.prompt,
        model_refs=list(run.model_refs),
        params=Params(**vars(run.params)),
        reference=run.reference,
        assertions=list(run.assertions),
        turn=run.turn,  # a turn of a conversation is re-run after the same earlier turns, as a new conversation
        history=dict(run.history),
    )
    try:
        start_run(jobs, again, cat, store)
    except InvalidRun as exc:
        st.error(f"Could not re-run: {exc}")
        return
    st.session_state["compare_run_id"] = again.run_id
    request_prefill(st.session_state, model_refs=again.model_refs, prompt=again.prompt, params=again.params,
                    reference=again.reference, assertions=again.assertions)
    st.switch_page("app_pages/compare.py")


def graded(names: Sequence[str]) -> list[str]:
    """The names that grade an answer for its task (judge, checks, reference metrics; not reading ease or length),
    in display order."""
    keep = [n for n in names if task_relevant(n)]
    return sorted(keep, key=lambda n: SCORE_ORDER.index(n) if n in SCORE_ORDER else len(SCORE_ORDER))


def trends(store: Store, f: HistoryFilter) -> None:
    st.subheader("Trends per model", help="Daily means over the runs that match the filters above; hourly when "
                 "they all fall on one UTC day.")
    names = graded(hq.recent_score_names(store, f))
    score = None
    if names:
        score = st.selectbox("Quality score", names, format_func=score_label, key="history_trend_score",
                             help="Which score the quality trend plots.")
        if score:
            st.caption(score_help(score))
    rows = hq.trend_rows(store, f, score=score)
    hourly = len({r["period"] for r in rows}) == 1  # all in one UTC day: its hours say more than one dot per model
    frame = trend_frame(hq.trend_rows(store, f, score=score, bucket="hour") if hourly else rows)
    if frame.empty:
        st.caption("No answers match the filters, so there is no trend to draw.")
        return
    tabs = st.tabs(["Total time", "Time to first token", "Cost per answer", "Quality"])
    for tab, metric in zip(tabs, TRENDS, strict=True):
        with tab:
            if frame[metric].notna().any():
                st.plotly_chart(trend_figure(frame, metric, score_label(score or "score"), hourly),
                                key=f"history_trend_chart_{metric}")
            elif metric == "cost_usd":
                st.caption("None of these answers has a price (unpriced models are left out, never drawn as $0).")
            elif metric == "score":
                st.caption("No quality score recorded for these answers yet.")
            else:
                st.caption("No successful answers to time.")
