"""How many calls does `batch --until-decided` save against a fixed-N batch with the same error rate?

    python bench/adaptive_batches.py [--items 500] [--runs 2000] [--base 0.6] [--alpha 0.05] [--seed 0] [--quick]

Simulated paired pass/fail data with known pass-rate gaps: on each item model A passes with probability
base + gap/2 and model B with base − gap/2, independently; N = --items items are available. Each run:

  * adaptive: the hedged betting confidence sequence of metrics/sequential.py (what --until-decided runs),
    fed one item at a time, stopping when it excludes 0 or at N items. Calls = 2 × items used (one per
    model; a real batch also finishes the calls in flight when it decides, up to --concurrency more).
    Error: at gap 0 deciding at all (type I); at the other gaps not deciding that A is better by N items.
  * fixed-N: a two-sided paired z-test at α on the first n items. n is the smallest (from 30, where the
    normal approximation holds for pass/fail differences) whose simulated power, rejecting with the right
    sign, reaches the adaptive run's, so both have the same error rate; at gap 0, where every n has type-I
    error α, n = N (the whole batch, what a batch without --until-decided runs).

Same seeds for every gap. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from statistics import NormalDist

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/...` from anywhere

from metrics.sequential import stopping_times

GAPS = (0.0, 0.05, 0.1, 0.2, 0.3)
MIN_FIXED_N = 30


def pass_fail_diffs(rng: np.random.Generator, gap: float, base: float, runs: int, items: int) -> np.ndarray:
    a = rng.random((runs, items)) < base + gap / 2
    b = rng.random((runs, items)) < base - gap / 2
    return a.astype(float) - b.astype(float)


def z_power(diffs: np.ndarray, alpha: float) -> np.ndarray:
    """Share of runs where a paired z-test on the first n items rejects with A ahead, for n = 1 … columns."""
    n = np.arange(1, diffs.shape[1] + 1)
    mean = np.cumsum(diffs, axis=1) / n
    var = (np.cumsum(diffs**2, axis=1) - n * mean**2) / np.maximum(n - 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, mean / np.sqrt(var / n), np.sign(mean) * np.inf)
    z[:, : MIN_FIXED_N - 1] = 0  # below that, the normal approximation does not hold (3 passes of 3 would "reject")
    return np.mean(z > NormalDist().inv_cdf(1 - alpha / 2), axis=0)


def z_type_one(diffs: np.ndarray, alpha: float) -> float:
    """Two-sided rejection rate of the paired z-test on all the columns."""
    n = diffs.shape[1]
    sd = diffs.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, diffs.mean(axis=1) / (sd / math.sqrt(n)), 0.0)
    return float(np.mean(np.abs(z) > NormalDist().inv_cdf(1 - alpha / 2)))


def row(gap: float, args: argparse.Namespace) -> dict[str, float | str]:
    rng = np.random.default_rng(args.seed)
    diffs = pass_fail_diffs(rng, gap, args.base, args.runs, args.items)
    stops = stopping_times(diffs, args.alpha)
    used = np.minimum(stops.at, args.items)
    decided = np.isfinite(stops.at)
    if gap == 0:
        adaptive_error = float(decided.mean())
        fixed_n = args.items
        fixed_error = z_type_one(pass_fail_diffs(rng, 0.0, args.base, args.runs, args.items), args.alpha)
    else:
        power = float(np.mean(decided & (stops.sign > 0)))
        adaptive_error = 1 - power
        curve = z_power(pass_fail_diffs(rng, gap, args.base, args.runs, 4 * args.items), args.alpha)
        reach = np.nonzero(curve >= power)[0]
        fixed_n = int(reach[0]) + 1 if reach.size else math.inf
        fixed_error = 1 - float(curve[reach[0]]) if reach.size else 1 - float(curve[-1])
    adaptive_mean, adaptive_median = 2 * float(used.mean()), 2 * float(np.median(used))
    fixed_calls = 2 * fixed_n
    return {
        "gap": gap,
        "fixed": fixed_calls,
        "mean": adaptive_mean,
        "median": adaptive_median,
        "savings": 1 - adaptive_mean / fixed_calls,
        "vs_full": 1 - adaptive_mean / (2 * args.items),
        "adaptive_error": adaptive_error,
        "fixed_error": fixed_error,
    }


def table(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"Pass rates {args.base:g} ± gap/2, {args.items} items available, α = {args.alpha:g}, {args.runs} runs per gap "
        f"(seed {args.seed}). Calls count both models.",
        "",
        "| pass-rate gap | fixed-N calls (same error) | adaptive calls mean / median | savings | savings vs the full "
        f"{2 * args.items} | adaptive error | fixed error |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        kind = "type I" if r["gap"] == 0 else "miss"
        fixed = f"{r['fixed']:.0f}" if math.isfinite(r["fixed"]) else f"> {8 * args.items}"
        lines.append(
            f"| {r['gap']:g} | {fixed} | {r['mean']:.0f} / {r['median']:.0f} | {r['savings']:+.0%} | "
            f"{r['vs_full']:+.0%} | {r['adaptive_error']:.1%} {kind} | {r['fixed_error']:.1%} {kind} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--base", type=float, default=0.6, help="mean pass rate of the two models")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="400 runs per gap")
    args = parser.parse_args()
    if args.quick:
        args.runs = 400
    print(table([row(gap, args) for gap in GAPS], args))


if __name__ == "__main__":
    main()
