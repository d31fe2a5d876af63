"""One card per model: the answer, then the figures that decide a choice."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence

import streamlit as st

from bakeoff.records import Result
from bakeoff.report.scores import score_label, task_relevant
from bakeoff.runner.conversation import EarlierTurn, totals
from metrics.cost import format_usd
from metrics.latency import HELP
from ui import state
from ui.tables import JUDGE_SCORE, TOKENS_LABEL, format_score, score_help, score_names

# On the card, in this order (all scores are in its tooltip and in the comparison table). The task-relevant ones
# (judge, checks, reference metrics) are its "quality"; agreement and length are facts beside them, not grades.
CARD_SCORES = (
    JUDGE_SCORE,
    "assertions_passed",
    "semantic_similarity",
    "token_f1",
    "rougeL",
    "chrf",
    "agreement",
    "words",
)
FLAGS = ("is_refusal", "is_json")  # shown only when true
WAIT = ":material/hourglass_top:"  # an icon font, not an emoji: headless and minimal systems lack emoji glyphs

STATUS_BADGE = {
    "queued": ("queued", "gray"),
    "running": ("running", "blue"),
    "ok": ("done", "green"),
    "error": ("failed", "red"),
    "interrupted": ("interrupted", "orange"),
    "timeout": ("timed out", "orange"),
    "cancelled": ("stopped", "gray"),
}
_IMAGE = re.compile(r"!\[")


def safe_markdown(text: str) -> str:
    """Model output as markdown without remote images (no tracking pixels); HTML stays escaped."""
    return _IMAGE.sub(r"!\\[", text)


def error_text(r: Result) -> str:
    """A failed card's message: class, provider, HTTP status and request id where known, what happened, what to do.

    The message comes from a remote server, so it is shown like model output (no remote images).
    """
    assert r.error is not None
    facts = [r.provider]
    if r.error.http_status is not None:
        facts.append(f"HTTP {r.error.http_status}")
    if r.request_id:
        facts.append(f"request id `{r.request_id.replace('`', '')}`")
    text = f"**{r.error.cls}** ({' · '.join(facts)}): {safe_markdown(r.error.message)}"
    return text + (f"\n\n{r.error.hint}" if r.error.hint else "")


LONG_ANSWER_CHARS = 1200
LONG_ANSWER_HEIGHT_PX = 420


def is_long(text: str) -> bool:
    """Too long to read comfortably in a card (it scrolls there; the Focus view shows it whole)."""
    return len(text) > LONG_ANSWER_CHARS or text.count("\n") > 24


def _fmt(value: float | None, fmt: str, unit: str) -> str:
    return "unknown" if value is None else f"{value:{fmt}}{unit}"


def render_card(
    r: Result, *, alias: str | None = None, judge_score: float | None = None, earlier: Sequence[EarlierTurn] = ()
) -> None:
    """One model's card. alias: blind mode, shown instead of the name, with figures and scores hidden.
    earlier: this model's earlier turns of the conversation, shown collapsed above the newest answer."""
    label, color = STATUS_BADGE.get(r.status, (r.status, "gray"))
    with st.container(border=True):
        head = f"**{alias or r.model_ref}** :{color}-badge[{label}]"
        if r.precision and alias is None:
            head += f" :violet-badge[{r.precision}]"
        if alias is None and is_base_model(r.model_ref):
            head += " :orange-badge[base model · completes text]"
        st.markdown(head)
        if earlier:
            _earlier(earlier, blind=alias is not None)
            st.caption(f"turn {len(earlier) + 1} · newest answer")
        if r.progress and not r.done:
            _progress(r)
        if r.output and r.done and is_long(r.output):  # long answers scroll; "Focus on one answer" shows them whole
            with st.container(height=LONG_ANSWER_HEIGHT_PX, border=False):
                st.markdown(safe_markdown(r.output))
        elif r.output:
            st.markdown(safe_markdown(r.output))
        elif r.status == "running" and not r.progress:
            st.caption(_waiting(r))
        if r.error:
            show = st.error if r.status == "error" else st.warning
            show(error_text(r))
        if r.done and alias is None:
            _figures(r)
            if line := conversation_total(earlier, r):
                st.caption(line)
            _scores(r, judge_score)


def is_base_model(model_ref: str) -> bool:
    """A catalog model without a chat template: it continues the prompt rather than answering it."""
    entry = state.catalog().entries.get(model_ref.partition("@")[0])
    return entry is not None and not entry.chat_template


def progress_line(message: str, elapsed_s: float | None, last_load_s: float | None) -> tuple[float | None, str]:
    """(bar fraction or None, text) for a card waiting on its provider. A load is measured against the last load
    of the same weights here (capped below 1: it is an expectation, not a promise); a first load shows time only.

    >>> progress_line("loading x (first use)…", 5.0, 20.0)
    (0.25, ':material/hourglass_top: loading x (first use)… · 5.0 s of about 20 s (the last load here)')
    >>> progress_line("loading x (first use)…", 3.0, None)[1]
    ':material/hourglass_top: loading x (first use)… · 3.0 s (first load on this machine: no earlier time to compare)'
    """
    loading = message.startswith("loading")
    if elapsed_s is None:
        return None, f"{WAIT} {message}"
    if loading and last_load_s:
        return min(elapsed_s / last_load_s, 0.99), f"{WAIT} {message} · {seconds(elapsed_s)} of about " \
            f"{seconds(last_load_s)} (the last load here)"
    first = " (first load on this machine: no earlier time to compare)" if loading else ""
    return None, f"{WAIT} {message} · {seconds(elapsed_s)}{first}"


def seconds(x: float) -> str:
    """Tenths under ten seconds (a warm load takes 0.4 s), whole seconds above.

    >>> seconds(0.42), seconds(12.6)
    ('0.4 s', '13 s')
    """
    return f"{x:.1f} s" if x < 10 else f"{x:.0f} s"


@st.cache_data(ttl=600, max_entries=256, show_spinner=False)
def _last_load_s(provider: str, model: str, precision: str | None, run_id: str) -> float | None:
    """Read once per run and weights (the card redraws twice a second while it waits)."""
    del run_id  # part of the cache key only: a new run reads the newest load time
    return state.store().last_load_s(provider, model, precision)


def _progress(r: Result) -> None:
    elapsed = (time.perf_counter_ns() - r.progress_since_ns) / 1e9 if r.progress_since_ns is not None else None
    last = _last_load_s(r.provider, r.model, r.precision, r.run_id) if r.progress.startswith("loading") else None
    fraction, text = progress_line(r.progress, elapsed, last)
    if r.progress.startswith("loading"):
        st.progress(fraction if fraction is not None else 0.0, text=text)
    else:
        st.caption(text)


def _waiting(r: Result) -> str:
    """A running card with no text yet: since when it waits, and for what."""
    now = time.perf_counter_ns()
    if r.sent_ns is not None:
        return f"waiting for the first token… · {seconds((now - r.sent_ns) / 1e9)} since the request went out"
    if r.queued_ns is not None:
        return f"{WAIT} preparing the request · {seconds((now - r.queued_ns) / 1e9)}"
    return "waiting for the first token…"


def _earlier(items: Sequence[EarlierTurn], *, blind: bool) -> None:
    """A card's earlier turns, collapsed: the prompts and this model's answers, with each turn's figures."""
    with st.expander(f"Earlier turns ({len(items)})", icon=":material/forum:"):
        for i, t in enumerate(items, 1):
            with st.chat_message("user"):
                st.caption(f"turn {i}")
                st.markdown(safe_markdown(t.prompt))
            with st.chat_message("assistant"):
                if t.answer:
                    st.markdown(safe_markdown(t.answer))
                elif t.result is not None:
                    why = t.result.error.cls if t.result.error else STATUS_BADGE.get(t.result.status, ("",))[0]
                    st.caption(f"no answer ({why}): this turn is left out of this model's thread")
                if t.result is not None and not blind and t.result.sent_ns is not None:
                    st.caption(_turn_figures(t.result))


def _turn_figures(r: Result) -> str:
    tokens = f"{r.input_tokens if r.input_tokens is not None else '?'} / "
    tokens += f"{r.output_tokens if r.output_tokens is not None else '?'}"
    return f"TTFT {_fmt(r.ttft_s, '.2f', ' s')} · tokens in/out {tokens} · {format_usd(r.cost_usd)}"


def conversation_total(earlier: Sequence[EarlierTurn], newest: Result) -> str | None:
    """One model's conversation so far, all its stored turns summed; None for a single turn."""
    results = [t.result for t in earlier if t.result is not None] + [newest]
    if len(results) < 2:
        return None
    t = totals(results)
    cost = "unpriced" if t.cost_usd is None else format_usd(t.cost_usd)
    if t.cost_usd is not None and t.unpriced:
        cost += f" + {t.unpriced} unpriced"
    tokens = "unknown" if t.input_tokens is None or t.output_tokens is None else f"{t.input_tokens} / {t.output_tokens}"
    return (
        f"conversation, {t.turns} turns: tokens in/out **{tokens}** · cost **{cost}** · "
        f"time **{_fmt(t.e2e_s, '.2f', ' s')}**"
    )


def _scores(r: Result, judge_score: float | None) -> None:
    scores = dict(r.scores)
    if judge_score is not None:
        scores[JUDGE_SCORE] = judge_score
    if scores:
        shown = [n for n in CARD_SCORES if n in scores]
        graded = [n for n in shown if task_relevant(n)]
        facts = [n for n in shown if n not in graded] + [n for n in FLAGS if scores.get(n)]
        lines = []
        if graded:
            lines.append("quality: " + " · ".join(f"{score_label(n)} **{format_score(n, scores[n])}**" for n in graded))
        if facts:
            lines.append(" · ".join(f"{score_label(n)} {format_score(n, scores[n])}" for n in facts))
        details = "  \n".join(
            f"{score_label(n)} = {format_score(n, scores[n])}: {score_help(n)}"
            for n in score_names([r], [JUDGE_SCORE] if judge_score is not None else [])
        )
        st.caption("  \n".join(lines) or "scores: see the comparison table", help=details)
    failed = [c for c in r.checks if c.get("passed") is not True]
    if failed:
        lines = [
            f"{'✗' if c.get('passed') is False else '⚠'} {c['label']}: {c.get('error') or c.get('detail')}"
            for c in failed
        ]
        st.caption(safe_markdown("  \n".join(lines)))  # details quote the model's output
    elif r.checks:
        st.caption(f"✓ all {len(r.checks)} checks passed")
    for note in r.score_notes:
        st.caption(f"ℹ️ {note}")


def _figures(r: Result) -> None:
    tokens = TOKENS_LABEL.get(r.tokens_source or "", "unknown")
    cost = format_usd(r.cost_usd) + (f" · {r.cost_basis}" if r.cost_basis else "")
    lines = [
        f"TTFT **{_fmt(r.ttft_s, '.2f', ' s')}** · total **{_fmt(r.e2e_s, '.2f', ' s')}** · "
        f"**{_fmt(r.output_tokens_per_s, '.1f', ' tok/s')}**",
        f"tokens in/out **{r.input_tokens if r.input_tokens is not None else '?'} / "
        f"{r.output_tokens if r.output_tokens is not None else '?'}** ({tokens})",
        f"cost **{cost}** · finish **{r.finish_reason or 'unknown'}**"
        + (f" · attempts {r.attempts}" if r.attempts > 1 else ""),
    ]
    if r.provider_meta.get("temperature_ignored"):
        lines.append("temperature not applied: this API version fixes sampling")
    if r.memory_bytes:
        at = f" ({r.precision})" if r.precision else ""
        lines.append(f"weights in memory **{r.memory_bytes / 1e6:,.0f} MB**{at}")
    st.caption("  \n".join(lines), help="  \n".join(f"{k}: {v}" for k, v in HELP.items()))


def render_cards(
    results: Sequence[Result],
    per_row: int | None = None,
    *,
    aliases: Mapping[str, str] | None = None,
    judge: Mapping[str, float] | None = None,
    threads: Mapping[str, Sequence[EarlierTurn]] | None = None,
) -> None:
    """Cards in rows (up to 4; two or three models share the width rather than sit in quarter columns).
    aliases (result_id -> "Model A"...): blind mode; judge: model_ref -> mean judge score;
    threads: model_ref -> its earlier turns of the conversation."""
    judge, threads = judge or {}, threads or {}
    per_row = per_row or min(4, max(2, len(results)))
    for start in range(0, len(results), per_row):
        row = results[start : start + per_row]
        for col, r in zip(st.columns(per_row), row, strict=False):
            with col:
                render_card(
                    r,
                    alias=aliases.get(r.result_id) if aliases else None,
                    judge_score=judge.get(r.model_ref),
                    earlier=threads.get(r.model_ref, ()),
                )
