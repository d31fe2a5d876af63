"""`python -m bakeoff`: the dashboard's engine, headless.

Exit codes: 0 every model answered, 1 at least one model failed (all results still printed),
2 the input could not be run at all (message on stderr), 130 stopped by Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bakeoff import run_cli
from bakeoff.batch import cli as batch_cli
from bakeoff.batch import gate_cli
from bakeoff.catalog import prices_import, prices_import_report, prices_import_write
from bakeoff.catalog.capability import weak
from bakeoff.catalog.config import Catalog, catalog_paths, load_catalog, resolve
from bakeoff.catalog.env import load_env
from bakeoff.catalog.readiness import readiness_map
from bakeoff.judge_choice import unparsed_warning, weak_judge_warning
from bakeoff.judging import (
    MODES,
    InvalidJudging,
    JudgeSettings,
    default_judge,
    judge_blocking,
    parse_criteria,
    parse_rate,
)
from bakeoff.records import Judgment
from bakeoff.report import cli as report_cli
from bakeoff.store import export
from bakeoff.store.store import Store, open_for_cli
from metrics.cost import format_usd
from metrics.judge import DEFAULT_CRITERIA, JUDGE_MAX_TOKENS
from providers import registry


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bakeoff", description="Compare language models: cost, speed, quality.")
    p.add_argument("--db", help="SQLite file to use (default: BAKEOFF_DB or the user data dir)")
    sub = p.add_subparsers(dest="command", required=True)
    _models_parser(sub)
    run_cli.add_parser(sub)
    _judge_parser(sub)
    batch_cli.add_parser(sub)
    gate_cli.add_parser(sub)
    _export_parser(sub)
    report_cli.add_parser(sub)
    _prices_parser(sub)
    return p


def _models_parser(sub: Any) -> None:
    m = sub.add_parser("models", help="list the catalog with availability")
    m.add_argument("--json", action="store_true")


def _judge_parser(sub: Any) -> None:
    j = sub.add_parser("judge", help="grade a stored run's answers with a judge model (LLM-as-judge)")
    j.add_argument("run_id")
    j.add_argument("--judge", metavar="ID", help="judge model (default: the bundled smollm2-135m-instruct)")
    j.add_argument("--mode", choices=MODES, default="rubric")
    j.add_argument(
        "--criterion",
        action="append",
        metavar="NAME[: DESCRIPTION]",
        help=f"(repeatable) what to judge on; default: {', '.join(DEFAULT_CRITERIA)}",
    )
    j.add_argument("--max-tokens", type=int, default=JUDGE_MAX_TOKENS, help="longest judge reply")
    j.add_argument("--json", action="store_true")


def _export_parser(sub: Any) -> None:
    e = sub.add_parser("export", help="write a stored run as CSV or JSONL to stdout")
    e.add_argument("run_id")
    e.add_argument("--format", choices=["csv", "jsonl"], default="csv")


def _prices_parser(sub: Any) -> None:
    prices = sub.add_parser("prices", help="keep pricing.yaml current").add_subparsers(
        dest="prices_command", required=True
    )
    i = prices.add_parser(
        "import",
        help="dated rows from a LiteLLM-format price map: shows the changes, --write applies them",
        description="Map LiteLLM's model_prices_and_context_window.json to models.yaml ids and show the price "
        "changes as new dated rows. Rows set by hand win.",
    )
    i.add_argument(
        "file",
        nargs="?",
        metavar="FILE|URL",
        help=f"the price map (default: the copy in the tokencost package; newest: {prices_import.LITELLM_URL})",
    )
    i.add_argument("--write", action="store_true", help="append to pricing.yaml, fill missing context windows")
    i.add_argument(
        "--as-of", type=dt.date.fromisoformat, metavar="YYYY-MM-DD", help="date of new rows (default: today)"
    )
    i.add_argument("--model", action="append", metavar="ID", help="only these models.yaml ids (repeatable)")
    i.add_argument(
        "--supersede-hand-rows",
        action="store_true",
        help="also add a new dated row where the price differs from a row set by hand (which stays for older runs)",
    )


def _store(args: argparse.Namespace) -> Store:
    return open_for_cli(args.db)


def model_rows(catalog: Catalog) -> list[dict[str, Any]]:
    today = dt.date.today()
    out = []
    for model_id, e in catalog.entries.items():
        try:
            spec = resolve(catalog, model_id)
            av = registry.get(e.provider).check(spec)
            availability = {"state": av.state, "detail": av.detail}
        except Exception as exc:  # one provider failing to load must not hide the rest
            availability = {"state": "unsupported", "detail": str(exc)}
        price = catalog.price_on(model_id, today)
        out.append(
            {
                "id": model_id,
                "label": e.label,
                "provider": e.provider,
                "model": e.model,
                "kind": e.kind,
                "open_weights": e.open_weights,
                "params_b": e.params_b,
                "active_params_b": e.active_params_b,
                "context_window": e.context_window,
                "max_output_tokens": e.max_output_tokens,
                "license": e.license,
                "precisions": list(e.precisions),
                "active": e.active,
                "availability": availability,
                "price_per_1m": (
                    {
                        "input": str(price.input),
                        "output": str(price.output),
                        "cached_input": str(price.cached_input) if price.cached_input is not None else None,
                        "as_of": price.as_of.isoformat(),
                        "source": price.source,
                    }
                    if price
                    else None
                ),
                "facts_source": e.facts_source,
                "facts_as_of": e.facts_as_of.isoformat() if e.facts_as_of else None,
            }
        )
    return out


def _judgment_json(j: Judgment) -> dict[str, Any]:
    return {
        "judgment_id": j.judgment_id,
        "judge_model": j.judge_model,
        "mode": j.mode,
        "model_a": j.model_a,
        "model_b": j.model_b,
        "score": j.score,
        "verdict": j.verdict,
        "consistent": j.consistent,
        "rationale": j.rationale,
        "grader_error": j.grader_error,
        "error_message": j.error_message,
        "cost_usd": str(j.cost_usd) if j.cost_usd is not None else None,
        "cost_basis": j.cost_basis,
        "latency_s": j.latency_s,
        "raw_output": j.raw_output,
    }


def _judge(args: argparse.Namespace, catalog: Catalog) -> int:
    store = _store(args)
    found = store.get_run(args.run_id)
    if found is None:
        print(f"error: no run with id {args.run_id!r}", file=sys.stderr)
        return 2
    run, results = found
    chosen = catalog.entries.get(catalog.catalog_id(args.judge) or args.judge) if args.judge else None
    # readiness probes every active model (local servers included): only when choosing or warning needs it
    ready = {} if chosen is not None and not weak(chosen) else readiness_map(catalog)
    judge_ref = args.judge or default_judge(catalog, ready)
    if judge_ref is None:
        print("error: no model can judge here (no API key set, no local server up): pass --judge ID", file=sys.stderr)
        return 2
    caution = weak_judge_warning(catalog, catalog.catalog_id(judge_ref) or judge_ref, ready)
    if caution:
        print(f"warning: {caution}", file=sys.stderr)
    try:
        criteria = parse_criteria("\n".join(args.criterion)) if args.criterion else dict(DEFAULT_CRITERIA)
        settings = JudgeSettings(judge_ref=judge_ref, mode=args.mode, criteria=criteria, max_tokens=args.max_tokens)
        judgments = judge_blocking(run, results, settings, catalog, store)
    except InvalidJudging as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {"run_id": run.run_id, "judgments": [_judgment_json(j) for j in judgments]},
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for j in judgments:
            who = j.model_a if j.mode == "rubric" else f"{j.model_a} vs {j.model_b}"
            got = (
                f"grader error: {j.error_message}"
                if j.grader_error
                else (f"score {j.score}/10" if j.mode == "rubric" else f"verdict {j.verdict}")
            )
            print(f"== {who}: {got} · {format_usd(j.cost_usd)} · {j.latency_s or 0:.2f} s")
            if j.rationale:
                print("   " + j.rationale.replace("\n", "\n   "))
        ok, total = parse_rate(judgments)
        print(f"{ok}/{total} judgments parsed (judge {judge_ref})")
    unreadable = unparsed_warning(judge_ref, *parse_rate(judgments))
    if unreadable:
        print(f"warning: {unreadable}", file=sys.stderr)
    return 0 if all(not j.grader_error for j in judgments) else 1


def _prices_import(args: argparse.Namespace, catalog: Catalog) -> int:
    if args.file:
        location = args.file
        source = location if "://" in location else str(Path(location).expanduser().resolve())
    else:
        bundled = prices_import.bundled_price_map()
        if bundled is None:
            print(
                "error: give the price map: FILE or URL (e.g. "
                f"{prices_import.LITELLM_URL}), or install tokencost for an offline copy",
                file=sys.stderr,
            )
            return 2
        location, source = str(bundled[0]), bundled[1]
    try:
        data = prices_import.read_price_map(location)
        plan = prices_import.plan(
            catalog,
            data,
            source=source,
            as_of=args.as_of or dt.date.today(),
            only=args.model,
            supersede_hand=args.supersede_hand_rows,
        )
        if args.write:
            prices_import_write.write(plan, *catalog_paths())
    except (prices_import.PriceImportError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(prices_import_report.render(plan, written=args.write))
    return 0


def _models(args: argparse.Namespace, catalog: Catalog) -> int:
    rows = model_rows(catalog)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        av = row["availability"]
        detail = f": {av['detail']}" if av["detail"] else ""
        print(f"{row['id']:<32} {row['provider']:<18} {row['kind']:<10} {av['state']}{detail}")
    return 0


def _export(args: argparse.Namespace, catalog: Catalog) -> int:
    found = _store(args).get_run(args.run_id)
    if found is None:
        print(f"error: no run with id {args.run_id!r}", file=sys.stderr)
        return 2
    data = export.to_csv([found]) if args.format == "csv" else export.to_jsonl([found])
    sys.stdout.buffer.write(data)
    return 0


def _run(args: argparse.Namespace, catalog: Catalog) -> int:
    return run_cli.command(args, catalog, _store(args))


def _batch(args: argparse.Namespace, catalog: Catalog) -> int:
    return batch_cli.command(args, catalog, _store(args))


def _gate(args: argparse.Namespace, catalog: Catalog) -> int:
    return gate_cli.command(args, catalog, _store(args))


def _report(args: argparse.Namespace, catalog: Catalog) -> int:
    return report_cli.command(args, _store(args))


COMMANDS: dict[str, Callable[[argparse.Namespace, Catalog], int]] = {
    "models": _models,
    "run": _run,
    "judge": _judge,
    "batch": _batch,
    "gate": _gate,
    "export": _export,
    "report": _report,
    "prices": _prices_import,
}


def main(argv: Sequence[str] | None = None) -> int:
    load_env()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    catalog = load_catalog()
    for problem in catalog.problems:
        print(f"warning: {problem} (entry skipped)", file=sys.stderr)
    try:
        return COMMANDS[args.command](args, catalog)
    except KeyboardInterrupt:  # a Ctrl-C the command had no graceful step left for
        print("\ninterrupted", file=sys.stderr)
        return 130
