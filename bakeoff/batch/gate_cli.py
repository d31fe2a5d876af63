"""`python -m bakeoff gate SUITE --model ID --min pass_rate=0.9 --max cost_usd=0.50`: a test suite as a CI check.

Runs the suite as an ordinary batch (bakeoff/batch/runner.py, so it is stored, resumable and reportable
like any other), then checks every threshold for every model (bakeoff/batch/gate.py). Everything that
can be wrong with the input (a metric name, a `name=value`, the suite, a model, an output path) is
refused before any call. Exit codes: 0 every model meets every threshold, 1 one does not (or the batch
stopped early), 2 bad input, nothing sent.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
from pathlib import Path
from typing import Any

from bakeoff.batch import cli as batch_cli
from bakeoff.batch.gate import GateInputError, GateResult, Threshold, describe_metrics, evaluate, parse_threshold
from bakeoff.batch.gate_report import junit_xml, summary_markdown
from bakeoff.batch.input import BatchInputError, load_items
from bakeoff.batch.runner import Batch, BatchRefused, estimate_batch, run_batch
from bakeoff.batch.suite import SuiteInfo
from bakeoff.catalog.config import Catalog
from bakeoff.interrupts import steps_on_sigint
from bakeoff.store.store import Store

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"  # GitHub Actions appends this file to the job's summary page


def add_parser(sub: Any) -> None:
    g = sub.add_parser(
        "gate",
        help="run a test suite and exit 1 unless every model meets the thresholds (CI): JUnit XML, markdown",
        description="Run a suite (see `batch`) against each --model, then check each threshold per model. "
        "Exit 0: all met; 1: some model misses one (or the batch stopped early); 2: bad input, nothing sent. "
        "A threshold on a metric with no data (every call failed, unpriced answers) fails.",
        epilog="metrics:\n" + describe_metrics(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g.add_argument("file", help="the test suite (.yaml with prompts and tests)")
    g.add_argument("--model", action="append", metavar="ID", help="models.yaml id or provider/model (repeatable)")
    g.add_argument("--min", action="append", default=[], metavar="METRIC=VALUE", help="e.g. pass_rate=0.9")
    g.add_argument("--max", action="append", default=[], metavar="METRIC=VALUE", help="e.g. cost_usd=0.50")
    g.add_argument("--junit", metavar="FILE", help="write JUnit XML: a testsuite per model, a testcase per cell")
    g.add_argument("--summary", metavar="FILE", help=f"write a markdown summary (also appended to ${STEP_SUMMARY_ENV})")
    g.add_argument("--repeats", type=int, default=1, help="times each prompt is sent to each model")
    g.add_argument("--concurrency", type=int, default=8, help="calls in flight at once, over all models")
    g.add_argument("--system", help="system prompt for tests without their own")
    g.add_argument("--max-tokens", type=int, default=256)
    g.add_argument("--temperature", type=float, default=0.7)
    g.add_argument("--top-p", type=float)
    g.add_argument("--seed", type=int)
    g.add_argument("--timeout", type=float, default=120.0, help="seconds per call after the request is sent")


def thresholds_from_args(args: argparse.Namespace) -> list[Threshold]:
    found = [parse_threshold(t, "min") for t in args.min] + [parse_threshold(t, "max") for t in args.max]
    if not found:
        raise GateInputError("give at least one threshold, e.g. --min pass_rate=0.9 --max cost_usd=0.50")
    return found


def _writable(flag: str, path: str) -> None:
    folder = Path(path).expanduser().parent
    if not folder.is_dir():
        raise GateInputError(f"{flag} {path}: the folder {folder} does not exist")
    if Path(path).expanduser().is_dir():
        raise GateInputError(f"{flag} {path} is a folder; give a file name")


def _prepare(args: argparse.Namespace, catalog: Catalog) -> tuple[Batch, list[Threshold]]:
    """The batch and thresholds, or GateInputError / BatchInputError / BatchRefused: nothing sent yet."""
    thresholds = thresholds_from_args(args)
    for flag, path in (("--junit", args.junit), ("--summary", args.summary)):
        if path:
            _writable(flag, path)
    items = load_items(args.file)
    if not any(SuiteInfo.from_metadata(i.metadata) for i in items):
        raise GateInputError(f"{args.file} is a prompt list, not a test suite: a gate needs `prompts` and `tests`")
    if not args.model:
        raise GateInputError("pick at least one model with --model ID")
    batch = Batch(
        items=items,
        model_refs=list(args.model),
        params=batch_cli.params_from_args(args),
        repeats=args.repeats,
        concurrency=args.concurrency,
        name=Path(args.file).name,
    )
    est = estimate_batch(batch, catalog)  # resolves every model: an unknown one is refused here
    cells = len(items) * len(batch.model_refs) * batch.repeats
    print(f"gate {batch.batch_id}: {cells} cells; estimate {est.summary()}", file=sys.stderr)
    return batch, thresholds


_STATES = {"failed": "failed a check", "error": "call errors", "not run": "not run"}


def _print(result: GateResult) -> None:
    for gate in result.models:
        counts = gate.counts()
        print(
            f"{'PASS' if gate.passed else 'FAIL'} {gate.model}: {counts['passed']}/{len(gate.cells)} cells passed"
            + "".join(f", {n} {_STATES[s]}" for s, n in counts.items() if n and s != "passed")
        )
        for check in gate.checks:
            print(f"  {'✓' if check.passed else '✗'} {check.line()}")
    if not result.complete:
        print(f"the batch did not finish ({result.status}): {result.note or 'stopped early'}")
    failed = result.failed_checks()
    if result.passed:
        print(f"gate passed: every model meets every threshold (batch {result.batch_id})")
    else:
        print(f"gate failed (batch {result.batch_id}):" + "".join(f"\n  {c.line()}" for c in failed))


def _write(result: GateResult, junit: str | None, summary: str | None) -> None:
    """Write the reports; a file that cannot be written is reported, and the gate's verdict still stands."""
    markdown = summary_markdown(result)
    targets: list[tuple[str, bytes, str]] = []
    if junit:
        targets.append((junit, junit_xml(result), "wb"))
    if summary:
        targets.append((summary, markdown.encode(), "wb"))
    if os.environ.get(STEP_SUMMARY_ENV):
        targets.append((os.environ[STEP_SUMMARY_ENV], markdown.encode() + b"\n", "ab"))
    for path, data, mode in targets:
        try:
            with Path(path).expanduser().open(mode) as fh:
                fh.write(data)
        except OSError as exc:
            print(f"error: could not write {path} ({exc.strerror or exc})", file=sys.stderr)


def command(args: argparse.Namespace, catalog: Catalog, store: Store) -> int:
    try:
        batch, thresholds = _prepare(args, catalog)
    except (GateInputError, BatchInputError, BatchRefused) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop, cancel = threading.Event(), threading.Event()
    try:
        with steps_on_sigint(*batch_cli._stop_steps(stop, cancel)):
            outcome = asyncio.run(
                run_batch(batch, catalog, store, stop=stop, cancel=cancel, on_progress=batch_cli._Ticker())
            )
    except BatchRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = evaluate(
        suite=batch.name,
        batch_id=batch.batch_id,
        status=outcome.status,
        note=outcome.note,
        items=batch.items,
        models=batch.model_refs,
        repeats=batch.repeats,
        results=outcome.results,
        thresholds=thresholds,
    )
    _print(result)
    _write(result, args.junit, args.summary)
    return 0 if result.passed else 1
