"""One run as a report: the input, the answers side by side, the figures, the charts, votes and verdicts."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from bakeoff.records import Judgment, Result, Run, Vote
from bakeoff.report import figures
from bakeoff.report.markup import Markup, Page, badge, el, frag, table, text_block
from bakeoff.report.scores import (
    JUDGE,
    PREFERRED,
    describe,
    format_score,
    judge_means,
    quality_choices,
    quality_long,
    score_label,
    score_names,
    task_relevant,
)
from bakeoff.runner.scoring import check_label
from metrics.cost import format_usd

TOKENS = {"reported": "reported by API", "counted": "counted (tokenizer)", "estimated": "estimated"}


def run_html(
    run: Run, results: Sequence[Result], *, judgments: Sequence[Judgment] = (), votes: Sequence[Vote] = ()
) -> str:
    """The whole report as one HTML document that needs nothing from the network."""
    judge = judge_means(judgments)
    frame = chart_frame(results, judge)
    names = score_names(results, [JUDGE] if judge else [])
    page = Page(f"Bakeoff report · run {run.run_id}")
    page.add(
        el("h1", "Bakeoff report"),
        el(
            "p",
            f"Run {run.run_id} · {run.created_at:%Y-%m-%d %H:%M} UTC · status {run.status} · from {run.source} · "
            f"{len(results)} model{'s' if len(results) != 1 else ''}",
            class_="meta",
        ),
        _input(run),
        el("h2", "Answers"),
        el("div", [_card(r) for r in results], class_="cards"),
        el("h2", "Figures"),
        _figures_table(results),
        _scores_table(results, names, judge),
        _checks(run, results),
        _charts(page, frame),
        _judgments(judgments),
        _votes(votes),
    )
    return page.render()


def chart_frame(results: Sequence[Result], judge: dict[str, float]) -> pd.DataFrame:
    """What bakeoff.report.figures draws: timings, cost and the task-relevant `score_<name>` columns, one row per
    answer (the dashboard's comparison frame has the same columns, so both draw the same charts)."""
    rows = []
    for r in results:
        rows.append(
            {
                "model": r.model_ref,
                "queue_s": r.queue_s,
                "ttft_s": r.ttft_s,
                "generation_s": r.e2e_s - r.ttft_s if r.e2e_s is not None and r.ttft_s is not None else None,
                "output_tokens_per_s": r.output_tokens_per_s,
                "cost_usd": float(r.cost_usd) if r.cost_usd is not None else None,
                **{f"score_{n}": v for n, v in r.scores.items()},
                **({f"score_{JUDGE}": judge.get(r.model_ref)} if judge else {}),
            }
        )
    columns = ["model", "queue_s", "ttft_s", "generation_s", "output_tokens_per_s", "cost_usd"]
    graded = [f"score_{n}" for n in score_names(results, [JUDGE] if judge else []) if task_relevant(n)]
    frame = pd.DataFrame(rows).reindex(columns=[*columns, *graded])  # task-relevant scores, in the report's order
    return frame.astype({c: float for c in [*columns[1:], *graded]})  # unknown is NaN, never 0


def _input(run: Run) -> Markup:
    p = run.params
    settings = (
        f"temperature {p.temperature} · max tokens {p.max_tokens} · top-p {p.top_p or 1.0} · "
        f"seed {p.seed if p.seed is not None else 'random'} · timeout {p.timeout_s:g} s"
    )
    checks = "; ".join(check_label(a) for a in run.assertions)
    return frag(
        el("h2", "Input"),
        text_block("Prompt", run.prompt),
        text_block("System prompt", p.system),
        text_block("Reference answer", run.reference),
        el("p", el("span", "Checks: ", class_="label"), checks, class_="note") if checks else None,
        el("p", settings, class_="note"),
    )


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "unknown" if value is None else f"{value:{spec}}{unit}"


def _card(r: Result) -> Markup:
    precision = el("span", r.precision, class_="badge") if r.precision else None
    error = el("div", f"{r.error.cls}: {r.error.message}", class_="error") if r.error else None
    facts = (
        f"TTFT {_fmt(r.ttft_s, '.2f', ' s')} · total {_fmt(r.e2e_s, '.2f', ' s')} · "
        f"{_fmt(r.output_tokens_per_s, '.1f', ' tok/s')} · cost {format_usd(r.cost_usd)}"
    )
    output = el("div", r.output, class_="text") if r.output else el("p", "(no text)", class_="note")
    head = el("h3", r.model_ref, badge(r.status), precision)
    return el("div", head, error, output, el("div", facts, class_="facts"), class_="card")


def _figures_table(results: Sequence[Result]) -> Markup:
    header = ["model", "status", "TTFT (s)", "total (s)", "tok/s", "tokens in", "tokens out", "tokens source"]
    header += ["cost", "cost basis", "price as of", "finish"]
    rows = [
        [
            r.model_ref,
            r.status,
            _fmt(r.ttft_s, ".3f"),
            _fmt(r.e2e_s, ".3f"),
            _fmt(r.output_tokens_per_s, ".1f"),
            r.input_tokens if r.input_tokens is not None else "unknown",
            r.output_tokens if r.output_tokens is not None else "unknown",
            TOKENS.get(r.tokens_source or "", "unknown"),
            format_usd(r.cost_usd),
            r.cost_basis or "unpriced",
            r.price_as_of.isoformat() if r.price_as_of else "–",
            r.finish_reason or "unknown",
        ]
        for r in results
    ]
    return frag(el("h3", "Speed, tokens and cost"), table(header, rows, numeric=[2, 3, 4, 5, 6, 8]))


def _scores_table(results: Sequence[Result], names: list[str], judge: dict[str, float]) -> Markup | None:
    """One row per score (models across, as on the cards), with what it measures; task-relevant scores first."""
    if not names and not any(r.checks for r in results):
        return None
    scores = [{**r.scores, **({JUDGE: judge[r.model_ref]} if r.model_ref in judge else {})} for r in results]
    rows = [
        [el("b", n) if task_relevant(n) else n, *[format_score(n, s.get(n)) for s in scores], describe(n)]
        for n in names
    ]
    if any(r.checks for r in results):
        ran = [[c for c in r.checks if c.get("passed") is not None] for r in results]
        passed = [
            f"{sum(c['passed'] for c in cs)}/{len(cs)}" if r.checks else "–" for r, cs in zip(results, ran, strict=True)
        ]
        rows.append(["checks passed", *passed, "Your checks that passed, of those that could run"])
    header = ["score", *[r.model_ref for r in results], "what it measures"]
    return frag(
        el("h3", "Scores"),
        table(header, rows, numeric=range(1, len(results) + 1)),
        el(
            "p",
            "In bold: the scores that say which answer is better for this task (they colour the charts).",
            class_="note",
        ),
    )


def _checks(run: Run, results: Sequence[Result]) -> Markup | None:
    if not run.assertions:
        return None
    models = [r.model_ref for r in results]
    rows = []
    for i, a in enumerate(run.assertions):
        cells = []
        for r in results:
            c = r.checks[i] if i < len(r.checks) else None
            if c is None:
                cells.append("–")
                continue
            mark = {True: "✓ pass", False: "✗ fail"}.get(c.get("passed"), "⚠ could not run")
            why = c.get("error") or c.get("detail") or ""
            cells.append(el("span", mark, class_="pass" if c.get("passed") else "fail", title=why))
        rows.append([check_label(a), *cells])
    return frag(el("h3", "Checks"), table(["check", *models], rows))


def _charts(page: Page, frame: pd.DataFrame) -> Markup:
    charts = []
    if frame["ttft_s"].notna().any():
        charts += [page.chart(figures.latency_breakdown(frame)), page.chart(figures.throughput(frame))]
    if frame["cost_usd"].notna().any():
        charts.append(page.chart(figures.cost_per_call(frame)))
    graded = quality_choices(frame)
    notes = []
    if graded:
        charts.append(page.chart(figures.quality_heatmap(quality_long(frame))))
        axis = next((n for n in PREFERRED if n in graded), graded[0])
        points = frame[["model", "cost_usd"]].assign(quality=frame[f"score_{axis}"])
        if points[["cost_usd", "quality"]].notna().all(axis=1).any():
            charts.append(page.chart(figures.cost_quality_scatter(points, axis)))
            if missing := list(points.loc[points[["cost_usd", "quality"]].isna().any(axis=1), "model"]):
                chart = f"cost-vs-{score_label(axis)} chart"
                notes.append(f"Not on the {chart} (unpriced or unscored): {', '.join(missing)}.")
    else:
        notes.append(
            "No score here says which answer is better for this task (no reference answer, checks or judge), "
            "so there is no quality chart."
        )
    if not frame["cost_usd"].notna().any() and len(frame):
        notes.append("No answer has a price, so there is no cost chart (unpriced is unknown, never $0).")
    return frag(el("h2", "Charts"), el("div", charts, class_="charts"), [el("p", n, class_="note") for n in notes])


def _judgments(judgments: Sequence[Judgment]) -> Markup | None:
    if not judgments:
        return None
    rows = []
    for j in judgments:
        who = j.model_a if j.mode == "rubric" else f"{j.model_a} vs {j.model_b}"
        if j.grader_error:
            got = f"grader error: {j.error_message or 'no verdict could be read'}"
        elif j.mode == "rubric":
            got = f"{j.score}/10"
        else:
            winner = {"a": f"{j.model_a} better", "b": f"{j.model_b} better"}.get(j.verdict or "", j.verdict or "")
            got = winner + ("" if j.consistent else " (the two orders disagreed)")
        rows.append([who, j.mode, got, el("div", j.rationale, class_="text") if j.rationale else "", j.judge_model])
    return frag(el("h2", "Judge verdicts"), table(["answer", "mode", "verdict", "rationale", "judge"], rows))


_OUTCOME = {"a": "{a} better", "b": "{b} better", "tie": "tie", "both_bad": "both bad"}


def _votes(votes: Sequence[Vote]) -> Markup | None:
    if not votes:
        return None
    rows = [
        [
            v.model_a,
            v.model_b,
            _OUTCOME[v.outcome].format(a=v.model_a, b=v.model_b),
            "yes" if v.blind else "no",
            f"{v.created_at:%Y-%m-%d %H:%M}",
        ]
        for v in votes
    ]
    return frag(el("h2", "Votes"), table(["answer A", "answer B", "vote", "blind", "when (UTC)"], rows))
