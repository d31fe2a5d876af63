"""`python -m bakeoff run --prompt ... --model ID ...`: one prompt to several models, results on stdout.

`--messages conv.json` sends a conversation instead: an OpenAI-style list of {role, content}, whose last
user turn every model answers after the same earlier turns (bakeoff/runner/conversation.py).

Ctrl-C stops the calls in flight the way the dashboard's Stop does: what each model streamed so far is
saved (status `cancelled`, priced on the tokens received), every result is printed (valid JSON with
--json), and the exit code is 130. A second Ctrl-C quits at once.

As text, the answers are printed as soon as they are in and saved, and their quality scores after them
(agreement may wait for the embedder); --json prints one document once the scores are in.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from bakeoff.batch.cli import params_from_args
from bakeoff.catalog.config import Catalog
from bakeoff.interrupts import steps_on_sigint
from bakeoff.records import Result, Run
from bakeoff.runner.conversation import InvalidMessages, from_messages, turn_number
from bakeoff.runner.engine import run_blocking, unsaved_message
from bakeoff.runner.fan_out import InvalidRun
from bakeoff.runner.scoring import CHECK_SYNTAX, InvalidCheck, parse_checks
from bakeoff.store.store import Store
from metrics.assertions import Assertion
from metrics.cost import format_usd
from providers.base import Turn

INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C


def add_parser(sub: Any) -> None:
    r = sub.add_parser("run", help="send one prompt (or a conversation) to several models at once")
    ask = r.add_mutually_exclusive_group(required=True)
    ask.add_argument("--prompt")
    ask.add_argument(
        "--messages",
        metavar="FILE",
        help='a conversation as JSON: [{"role": "system"|"user"|"assistant", "content": "..."}, ...] ending with '
        "the user turn to answer",
    )
    r.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="ID",
        help="models.yaml id or provider/model, optional @fp32|@bf16|@8bit|@4bit (repeatable)",
    )
    r.add_argument("--system")
    r.add_argument("--max-tokens", type=int, default=256)
    r.add_argument("--temperature", type=float, default=0.7)
    r.add_argument("--top-p", type=float)
    r.add_argument("--seed", type=int)
    r.add_argument("--timeout", type=float, default=120.0, help="seconds per model after the request is sent")
    r.add_argument("--reference", help="reference answer, stored with the run (enables reference metrics)")
    r.add_argument("--check", action="append", default=[], metavar="CHECK", help=f"(repeatable) {CHECK_SYNTAX}")
    r.add_argument("--assert-contains", action="append", default=[], metavar="TEXT", help="the answer contains TEXT")
    r.add_argument("--assert-not-contains", action="append", default=[], metavar="TEXT", help="the answer lacks TEXT")
    r.add_argument("--assert-regex", action="append", default=[], metavar="PATTERN", help="the pattern matches")
    r.add_argument(
        "--assert-json-schema", metavar="SCHEMA", help="the answer is JSON valid against SCHEMA (JSON text or @FILE)"
    )
    r.add_argument("--json", action="store_true")


def _print_answers(run: Run, results: list[Result]) -> None:
    print(f"run {run.run_id}" + (f" (turn {run.turn} of a conversation)" if run.turn > 1 else ""))
    for r in results:
        _print_answer(r)
    sys.stdout.flush()


def _print_answer(r: Result) -> None:
    def f(v: float | None, unit: str) -> str:
        return "unknown" if v is None else f"{v:.3f}{unit}"

    print(f"== {r.model_ref} [{r.status}]")
    if r.error:
        print(f"   error: {r.error.cls}: {r.error.message}" + (f" ({r.error.hint})" if r.error.hint else ""))
    if r.output:
        print("   " + r.output.strip().replace("\n", "\n   "))
    print(
        f"   ttft {f(r.ttft_s, ' s')} · total {f(r.e2e_s, ' s')} · {f(r.output_tokens_per_s, ' tok/s')} · "
        f"tokens in/out {r.input_tokens}/{r.output_tokens} ({r.tokens_source or 'unknown'}) · "
        f"{format_usd(r.cost_usd)}{f' ({r.cost_basis})' if r.cost_basis else ''} · finish {r.finish_reason}"
        + (f" · {r.attempts} attempts" if r.attempts > 1 else "")
    )


def _print_scores(r: Result) -> None:
    lines = ["   scores: " + " · ".join(f"{k} {v:.3g}" for k, v in r.scores.items())] if r.scores else []
    for c in r.checks:
        verdict = "error" if c["passed"] is None else ("pass" if c["passed"] else "FAIL")
        lines.append(f"   check {c['label']}: {verdict} ({c['error'] or c['detail']})")
    lines += [f"   note: {note}" for note in r.score_notes]
    if lines:
        print(f"== {r.model_ref} · scores")
        print("\n".join(lines))


def _assertions(args: argparse.Namespace) -> list[Assertion]:
    out = parse_checks("\n".join(args.check))
    out += [Assertion("contains", t) for t in args.assert_contains]
    out += [Assertion("not_contains", t) for t in args.assert_not_contains]
    out += [Assertion("regex", p) for p in args.assert_regex]
    if args.assert_json_schema:
        schema = args.assert_json_schema
        if schema.startswith("@"):
            schema = Path(schema[1:]).expanduser().read_text(encoding="utf-8")
        out.append(Assertion("json_schema", schema))
    return out


def _conversation(args: argparse.Namespace) -> tuple[str | None, tuple[Turn, ...], str]:
    """(system, history, prompt) from --prompt/--system, or from the --messages file; InvalidMessages if it is bad."""
    if args.messages is None:
        return args.system, (), args.prompt
    path = Path(args.messages).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidMessages(f"{args.messages}: cannot read it ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidMessages(f"{args.messages} is not JSON text: {exc}") from None
    try:
        system, history, prompt = from_messages(data)
    except InvalidMessages as exc:
        raise InvalidMessages(f"{args.messages}: {exc}") from None
    if system is not None and args.system is not None:
        raise InvalidMessages(f"{args.messages} has a system message and --system gives another: give one")
    return (system if system is not None else args.system), history, prompt


def command(args: argparse.Namespace, catalog: Catalog, store: Store) -> int:
    try:
        assertions = _assertions(args)
        system, history, prompt = _conversation(args)
    except (InvalidCheck, InvalidMessages, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    params = params_from_args(args)
    params.system = system
    run = Run(
        prompt=prompt,
        model_refs=args.model,
        reference=args.reference,
        assertions=assertions,
        source="cli",
        params=params,
        turn=turn_number(history),
        history={ref: history for ref in args.model} if history else {},
    )
    cancel = threading.Event()

    def stop() -> None:
        cancel.set()
        print("\nstopping: keeping what each model has streamed (Ctrl-C again to quit at once)…", file=sys.stderr)

    try:
        with steps_on_sigint(stop):
            answers = None if args.json else (lambda results: _print_answers(run, results))
            results = run_blocking(run, catalog, store, cancel=cancel, on_answers=answers)
    except InvalidRun as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        where = {"conversation_id": run.conversation_id, "turn": run.turn}
        payload = {"run_id": run.run_id, **where, "results": [{**r.to_json(), **where} for r in results]}
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        for r in results:
            _print_scores(r)
    if run.unsaved:  # the answers above are printed, but not in the store
        print(f"error: {unsaved_message(run)}", file=sys.stderr)
    if cancel.is_set():
        saved = "" if run.unsaved else f": the partial answers are saved in run {run.run_id}"
        print(f"interrupted{saved}", file=sys.stderr)
        return INTERRUPTED
    return 0 if all(r.status == "ok" for r in results) and not run.unsaved else 1
