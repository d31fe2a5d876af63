"""`python -m bakeoff batch FILE --model ID ...`: a prompt set, or a test suite, against several models, headless.

A suite (YAML with prompts, tests, vars and checks; bakeoff/batch/suite.py) runs prompts × tests × models
× repeats and adds pass rates per model and prompt; a missing variable or a bad check exits 2 before any
call. Progress (cells, running cost, ETA) goes to stderr; the per-model table, or with --json one object,
to stdout; --out writes one row per prompt × model × repeat (.csv, .jsonl or .parquet). Ctrl-C stops
gracefully: no new calls, the ones in flight finish and are saved with their cost (so a resume does not
send them again), and the resume command is printed. A second Ctrl-C aborts the calls in flight, keeping
what they streamed as cancelled results; a third quits at once. --until-decided (bakeoff/batch/adaptive.py) runs
two models' items in random order and stops once an anytime-valid confidence sequence separates them.
Exit codes: 0 every cell answered (with --until-decided: decided), 1 some failed or the batch stopped early
(or not decided), 2 it could not start.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakeoff.batch import adaptive
from bakeoff.batch.input import BatchInputError, load_items
from bakeoff.batch.results import aggregate_frame, cells_frame, export_bytes
from bakeoff.batch.runner import Batch, BatchOutcome, BatchRefused, Progress, estimate_batch, run_batch
from bakeoff.batch.store import batch_results, get_batch
from bakeoff.batch.suite import SuiteInfo
from bakeoff.catalog.config import Catalog
from bakeoff.interrupts import steps_on_sigint
from bakeoff.records import Params
from bakeoff.store.store import Store
from metrics.cost import format_usd

if TYPE_CHECKING:
    import pandas as pd


def params_from_args(args: argparse.Namespace) -> Params:
    """The sampling settings `run` and `batch` share, read from their common flags."""
    return Params(
        system=args.system,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
        timeout_s=args.timeout,
    )


def _usd(text: str) -> Decimal:
    try:
        value = Decimal(text.lstrip("$"))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount in USD: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"the budget must be a positive amount, got {text!r}")
    return value


def add_parser(sub: Any) -> None:
    b = sub.add_parser(
        "batch",
        help="run a prompt file (CSV/JSONL/YAML) or a test suite against several models: aggregates, resume, budget",
        description="Every prompt × model × repeat, within each provider's rate limits (models.yaml rate_limit). "
        "Columns: prompt, optional system, reference, id; others are kept as metadata. A YAML suite (prompts: "
        "templates with {{variables}}; tests: vars, reference, assert; optional system, description, defaultTest) "
        "runs every prompt for every test and reports pass/fail per test.",
    )
    b.add_argument("file", nargs="?", help="prompt file (.csv, .jsonl, .yaml) or suite (.yaml); not with --resume")
    b.add_argument("--model", action="append", metavar="ID", help="models.yaml id or provider/model (repeatable)")
    b.add_argument("--repeats", type=int, default=1, help="times each prompt is sent to each model")
    b.add_argument("--concurrency", type=int, default=8, help="calls in flight at once, over all models")
    b.add_argument("--budget", type=_usd, metavar="USD", help="refuse to start above it, stop when it is reached")
    b.add_argument("--resume", metavar="BATCH_ID", help="continue a stopped batch: finished cells are not re-run")
    b.add_argument("--out", metavar="FILE", help="write every cell to FILE (.csv, .jsonl or .parquet)")
    b.add_argument("--system", help="system prompt for items without their own")
    b.add_argument("--max-tokens", type=int, default=256)
    b.add_argument("--temperature", type=float, default=0.7)
    b.add_argument("--top-p", type=float)
    b.add_argument("--seed", type=int)
    b.add_argument("--timeout", type=float, default=120.0, help="seconds per call after the request is sent")
    b.add_argument("--json", action="store_true", help="print one JSON object: batch id, aggregates, every cell")
    b.add_argument(
        "--until-decided",
        action="store_true",
        help="two models (or one model on a suite's two prompts): items in random order (--seed), stop as soon as "
        "an anytime-valid confidence sequence on --metric rules out a tie",
    )
    b.add_argument("--metric", help="with --until-decided: pass (a suite's verdict, its default) or a bounded score")
    b.add_argument("--alpha", type=float, default=0.05, help="with --until-decided: the decision's error rate")
    b.add_argument("--max-items", type=int, metavar="N", help="with --until-decided: a random sample of N items")


def _out_format(path: str) -> str:
    """The --out format, once the file is known to be writable: checked before any call is paid for."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in ("csv", "jsonl", "parquet"):
        raise BatchRefused(f"--out {path}: use a .csv, .jsonl or .parquet file name.")
    if fmt == "parquet" and importlib.util.find_spec("pyarrow") is None:
        raise BatchRefused(f"--out {path}: Parquet needs pyarrow (pip install pyarrow), or use .csv or .jsonl.")
    try:
        _check_writable(path, Path(path).expanduser())
    except OSError as exc:
        raise BatchRefused(f"--out {path} cannot be written ({exc.strerror or exc}); pick another path.") from None
    return fmt


def _check_writable(path: str, out: Path) -> None:
    folder = out.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise BatchRefused(f"--out {path}: the folder {folder} {what}; create it or pick another path.")
    if out.is_dir():
        raise BatchRefused(f"--out {path} is a folder; give a file name.")
    existed = out.exists()
    with out.open("ab"):  # opened, not written: an existing file keeps its bytes until the batch is done
        pass
    if not existed:
        out.unlink(missing_ok=True)


def _write_out(path: str, fmt: str, frame: pd.DataFrame, batch_id: str) -> None:
    try:
        Path(path).expanduser().write_bytes(export_bytes(frame, fmt))
    except OSError as exc:  # checked before starting, but a disk can fill up: the cells are in the store anyway
        print(
            f"error: could not write {path} ({exc.strerror or exc}); the results are saved: "
            f"python -m bakeoff batch --resume {batch_id} --out FILE writes them without re-running what finished",
            file=sys.stderr,
        )
        return
    print(f"wrote {len(frame)} rows to {path}", file=sys.stderr)


def _build(args: argparse.Namespace, store: Store) -> Batch:
    if args.resume:
        batch = get_batch(store, args.resume)
        if batch is None:
            raise BatchRefused(f"No batch with id {args.resume!r} in {store.display_url}.")
        if args.model and list(args.model) != batch.model_refs:
            raise BatchRefused(
                f"Batch {batch.batch_id} ran {', '.join(batch.model_refs)}; resume it without --model "
                "(or start a new batch for other models)."
            )
        batch.concurrency = args.concurrency
        batch.budget_usd = args.budget if args.budget is not None else batch.budget_usd
        return batch
    if not args.file:
        raise BatchRefused("Give a prompt file (or --resume BATCH_ID).")
    if not args.model:
        raise BatchRefused("Pick at least one model with --model ID.")
    return Batch(
        items=load_items(args.file),
        model_refs=list(args.model),
        params=params_from_args(args),
        repeats=args.repeats,
        concurrency=args.concurrency,
        budget_usd=args.budget,
        name=Path(args.file).name,
    )


class _Ticker:
    """Progress on stderr: one rewritten line on a terminal, a line every few seconds otherwise."""

    def __init__(self, stream=sys.stderr, every_s: float = 5.0):
        self.stream = stream
        self.tty = stream.isatty()
        self.every_s = every_s
        self._last = -math.inf

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        final = p.done == p.total
        if self.tty:
            self.stream.write(f"\r\x1b[2K{p.line()}")
            if final:
                self.stream.write("\n")
        elif final or now - self._last >= self.every_s:
            self.stream.write(p.line() + "\n")
        else:
            return
        self._last = now
        self.stream.flush()


def _suite_shape(batch: Batch) -> tuple[int, int] | None:
    """(prompts, tests) of a suite batch; None for a plain prompt file."""
    infos = [i for item in batch.items if (i := SuiteInfo.from_metadata(item.metadata)) is not None]
    return (len({i.prompt_index for i in infos}), len({i.test for i in infos})) if infos else None


def _pass_lines(outcome: BatchOutcome) -> list[str]:
    """A suite's pass rate per model and prompt, e.g. "alpha · prompt 2: 2/3 tests passed (67%)"."""
    per = aggregate_frame(outcome.results, outcome.batch.model_refs, by_prompt=True)
    return [
        f"{row['model']} · prompt {row['prompt']}: {row['passed']}/{row['judged']} passed"
        + (f" ({row['pass_rate']:.0%})" if row["judged"] else "")
        for _, row in per.iterrows()
    ]


def _table(outcome: BatchOutcome) -> str:
    agg = aggregate_frame(outcome.results, outcome.batch.model_refs)
    lines = []
    for _, row in agg.iterrows():

        def f(v: Any, unit: str = "", digits: int = 3) -> str:
            return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}{unit}"

        total = row["cost_total_usd"]
        cost = format_usd(Decimal(str(total))) if total is not None and not math.isnan(total) else "unpriced"
        lines.append(
            f"{row['model']}: {row['ok']}/{row['cells']} ok · TTFT mean {f(row['ttft_s_mean'], ' s')} "
            f"p95 {f(row['ttft_s_p95'], ' s')} · E2E mean {f(row['e2e_s_mean'], ' s')} p95 {f(row['e2e_s_p95'], ' s')} "
            f"· {f(row['tok_s_mean'], ' tok/s', 1)} · cost {cost}"
            + (f" ({row['unpriced']} unpriced)" if row["unpriced"] else "")
        )
    if _suite_shape(outcome.batch) is not None:
        lines += _pass_lines(outcome)
    return "\n".join(lines)


def _by_prompt(outcome: BatchOutcome) -> list[dict[str, Any]]:
    per = aggregate_frame(outcome.results, outcome.batch.model_refs, by_prompt=True)
    return json.loads(per.to_json(orient="records", force_ascii=False))


def _stop_steps(stop: threading.Event, cancel: threading.Event) -> tuple[Callable[[], None], Callable[[], None]]:
    """What the first and second Ctrl-C do: stop starting cells, then abort the calls in flight."""

    def first() -> None:
        stop.set()
        print(
            "\nstopping: no new calls; the calls in flight finish and are saved with their cost "
            "(Ctrl-C again to abort them)…",
            file=sys.stderr,
        )

    def second() -> None:
        cancel.set()
        print(
            "\naborting the calls in flight: what they streamed is saved as cancelled, with the cost of what was "
            "received; resume sends them again (Ctrl-C again to quit at once)…",
            file=sys.stderr,
        )

    return first, second


def _referee(args: argparse.Namespace, batch: Batch, stop: threading.Event) -> adaptive.Referee | None:
    if not args.until_decided:
        if args.metric is not None or args.max_items is not None:
            raise BatchRefused("--metric and --max-items go with --until-decided.")
        return None
    return adaptive.prepare(
        batch,
        stop,
        metric=args.metric,
        alpha=args.alpha,
        max_items=args.max_items,
        seed=args.seed,
        resumed=bool(args.resume),
    )


def _announce(batch: Batch, done: set[str], est: Any, referee: Any) -> None:
    """The batch's shape, what is already done, the estimate and the cap, on stderr before anything is sent."""
    cells = len(batch.items) * len(batch.model_refs) * batch.repeats
    shape = _suite_shape(batch)
    inputs = f"{shape[0]} prompts × {shape[1]} tests" if shape else f"{len(batch.items)} prompts"
    print(
        f"batch {batch.batch_id}: {inputs} × {len(batch.model_refs)} models × {batch.repeats} "
        f"= {cells} cells{f' ({len(done)} already done)' if done else ''}; estimate {est.summary()}"
        + (f"; cap ${batch.budget_usd}" if batch.budget_usd is not None else ""),
        file=sys.stderr,
    )
    if referee is not None:
        print(referee.plan(), file=sys.stderr)


def _json_payload(batch: Batch, outcome: Any, est: Any, frame: Any, decision: Any) -> dict[str, Any]:
    """What `batch --json` prints: status, cost, aggregates, per-prompt pass rates, the decision, every cell."""
    agg = aggregate_frame(outcome.results, batch.model_refs)
    return {
        "batch_id": batch.batch_id,
        "status": outcome.status,
        "note": outcome.note,
        "cost_usd": str(outcome.progress.cost_usd) if outcome.progress else None,
        "estimate_usd": str(est.total_usd) if est.total_usd is not None else None,
        "aggregates": json.loads(agg.to_json(orient="records")),
        **({"by_prompt": _by_prompt(outcome)} if _suite_shape(batch) else {}),
        **({"adaptive": decision.to_json()} if decision is not None else {}),
        "results": json.loads(frame.to_json(orient="records", force_ascii=False)),
    }


def command(args: argparse.Namespace, catalog: Catalog, store: Store) -> int:
    stop, cancel = threading.Event(), threading.Event()
    try:
        fmt = _out_format(args.out) if args.out else None
        batch = _build(args, store)
        referee = _referee(args, batch, stop)
        done = {r.cell_key for r in batch_results(store, batch.batch_id) if r.status == "ok"} if args.resume else set()
        est = estimate_batch(batch, catalog, skip=done)
    except (BatchRefused, BatchInputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _announce(batch, done, est, referee)
    on_result = referee.on_result if referee is not None else None
    try:
        with steps_on_sigint(*_stop_steps(stop, cancel)):
            outcome = asyncio.run(
                run_batch(batch, catalog, store, stop=stop, cancel=cancel, on_progress=_Ticker(), on_result=on_result)
            )
    except BatchRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    decision = referee.finish(outcome, store) if referee is not None else None
    if outcome.note:
        print(outcome.note, file=sys.stderr)
    if outcome.status not in ("done", adaptive.DECIDED) or any(r.status != "ok" for r in outcome.results):
        flags = referee.resume_flags() if referee is not None else ""
        print(f"resume with: python -m bakeoff batch --resume {batch.batch_id}{flags}", file=sys.stderr)
    frame = cells_frame(batch.items, outcome.results, outcome.cached)
    if fmt is not None:
        _write_out(args.out, fmt, frame, batch.batch_id)
    if args.json:
        print(json.dumps(_json_payload(batch, outcome, est, frame, decision), indent=2, ensure_ascii=False))
    else:
        print(f"batch {batch.batch_id} [{outcome.status}]")
        print(_table(outcome))
        if decision is not None:
            print(decision.line())
    if decision is not None:
        return 0 if decision.decided else 1
    complete = outcome.status == "done" and all(r.status == "ok" for r in outcome.results)
    return 0 if complete else 1
