"""`python -m bakeoff report ID --html FILE`: a stored run or batch as one self-contained HTML file.

Exit codes: 0 written, 2 no run or batch has the id, or the file could not be written (message on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bakeoff.report import UnknownId, build
from bakeoff.store.store import Store


def add_parser(sub: Any) -> None:
    r = sub.add_parser(
        "report",
        help="a stored run or batch as one self-contained HTML file to share (opens offline)",
        description="Answers side by side, figures, charts, votes and verdicts (a run), or aggregates with CIs, "
        "paired comparisons and every answer (a batch). Plotly is inlined: the file loads nothing from the network.",
    )
    r.add_argument("id", metavar="RUN_OR_BATCH_ID")
    r.add_argument("--html", required=True, metavar="FILE", help="where to write the report; - for stdout")


def command(args: argparse.Namespace, store: Store) -> int:
    try:
        data = build(store, args.id).encode("utf-8", "replace")
    except UnknownId as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.html == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    path = Path(args.html).expanduser()
    try:
        path.write_bytes(data)
    except OSError as exc:
        print(f"error: cannot write the report to {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({len(data) / 1e6:.1f} MB): opens in any browser, offline")
    return 0
