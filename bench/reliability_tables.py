"""Reliability tables: every fault on every wire, and every kind of bad input, run for real and tabled.

    python bench/reliability_tables.py [--write docs/reliability.md] [--only faults|inputs]

Fault matrix: each fault of tests/reliability/faults.py (HTTP errors in each provider's own shape, a hung
server, a refused connection, a stream that drops, ends early, breaks or is empty, an error inside a 200)
is served by each wire's fake server (tests/fakes) to the provider's real SDK, through Bakeoff's runner,
retry policy and a SQLite store, one model per run.

Bad input: the cases the tests hold (tests/reliability/test_bad_input.py, test_url_policy.py and
tests/unit/test_batch.py): run parameters, one bad model among good ones, catalog files, prompt files,
base URLs, CLI arguments and database paths, each through the function or the CLI that takes it.

Every row says what was given, what Bakeoff promises, what it did, and ✓ or ✗. Nothing is looked up:
each case runs now. Exit status 1 if any row is ✗ (tests/reliability lists the known ones as KNOWN_GAPS).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/reliability_tables.py` from anywhere

from bakeoff.batch.input import BatchInputError, parse_items  # noqa: E402
from bakeoff.catalog.config import Catalog, CatalogEntry, load_catalog  # noqa: E402
from bakeoff.catalog.url_policy import RefusedURL, check_base_url  # noqa: E402
from bakeoff.records import Params, Run  # noqa: E402
from bakeoff.runner.engine import run_blocking  # noqa: E402
from bakeoff.runner.fan_out import InvalidRun, RetryPolicy  # noqa: E402
from bakeoff.store.store import Store  # noqa: E402
from providers import registry  # noqa: E402
from providers._http_errors import request_id as header_request_id  # noqa: E402
from tests.fakes.server import FakeServer, closed_port_url  # noqa: E402
from tests.integration.wires import KEYS, WIRES, Wire  # noqa: E402
from tests.providers.conftest import PROVIDER_ENV  # noqa: E402
from tests.reliability import test_bad_input as bad  # noqa: E402
from tests.reliability.faults import FAULTS, PARTIAL, Fault  # noqa: E402
from tests.reliability.test_url_policy import ALWAYS_REFUSED  # noqa: E402
from tests.unit.test_batch import BAD_FILES, UNCLOSED_QUOTES  # noqa: E402

POLICY = RetryPolicy(max_attempts=3, base_s=0.01, cap_s=0.03)  # as tests/reliability/test_fault_matrix.py
HALF = "".join(PARTIAL)
OK, BAD = "✓", "✗"


@dataclass(frozen=True)
class Row:
    group: str
    given: str
    expected: str
    observed: str
    ok: bool


class _Errors(logging.Handler):
    """Counts ERROR records: a failure that is data on a result must not also be logged as a crash."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


# ---- the fault matrix -------------------------------------------------------------------------------------------


def _describe(status: str, cls: str, http: int | None, calls: int, kept: str, rid: str | None) -> str:
    parts = [status, cls]
    if http is not None:
        parts.append(f"HTTP {http}")
    parts.append(f"{calls} call{'s' if calls != 1 else ''}")
    if kept:
        parts.append(kept)
    if rid:
        parts.append(f"request id {rid}")
    return " · ".join(parts)


def fault_row(name: str, wire: Wire, fault: Fault, store: Store, errors: _Errors) -> Row:
    want = fault.expect(wire, POLICY.max_attempts)
    fake = FakeServer().start()
    try:
        reply = fault.reply(wire) if fault.reply is not None else None
        base_url = wire.base_url(fake) if reply is not None else closed_port_url() + wire.url_suffix
        if reply is not None:
            wire.serve(fake, reply)
        cat = Catalog(entries={name: CatalogEntry(
            provider=wire.provider, model=wire.model, kind="local" if name == "ollama" else "commercial",
            base_url=base_url, api_key_env=wire.key_env,
        )})
        hung = reply is not None and reply.headers_delay > 0
        run = Run(prompt="Say hi", model_refs=[name], params=Params(max_tokens=64, timeout_s=0.5 if hung else 5.0))
        logged = errors.count
        (r,) = run_blocking(run, cat, store, policy=POLICY)
        requests = wire.requests(fake)
    finally:
        fake.stop()
    rid = header_request_id(reply.headers) if reply is not None and not hung else None
    calls = want.attempts if reply is not None else 0  # requests the server should have seen
    expected = _describe(want.status, "its own error class" if want.cls == "*" else want.cls, want.http_status,
                         want.attempts, "partial text kept" if want.partial else "", rid)
    kept = "partial text kept" if r.output == HALF else (f"text {r.output[:30]!r}" if r.output else "")
    cls, http = (r.error.cls, r.error.http_status) if r.error is not None else ("no error", None)
    observed = _describe(r.status, cls, http, r.attempts, kept, r.request_id)
    if rid and not r.request_id:
        observed += " · no request id"
    if requests != calls:
        observed += f" · {requests} requests reached the server"
    if errors.count > logged:
        observed += f" · {errors.count - logged} error(s) logged"
    ok = (r.status, r.attempts, requests, errors.count, r.request_id) == (
        want.status, want.attempts, calls, logged, rid or r.request_id
    )
    ok = ok and r.error is not None and bool(r.error.hint) and r.output == (HALF if want.partial else "")
    if want.cls == "*":  # an in-band error: its class is the provider's to choose, from the taxonomy
        ok = ok and cls not in ("ProviderError", "InternalError")
    else:
        ok = ok and (cls, http) == (want.cls, want.http_status)
    return Row(wire.provider, fault.name, expected, observed, ok)


def fault_rows() -> Iterator[Row]:
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'faults.db'}")
        for name, wire in WIRES.items():
            for fault in FAULTS:
                yield fault_row(name, wire, fault, store, errors)
    logging.getLogger().removeHandler(errors)


# ---- bad input --------------------------------------------------------------------------------------------------


def _short(text: str, limit: int = 110) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _refused(
    exc_type: type[Exception], says: str, call: Callable[..., object], *args: Any, **kw: Any
) -> tuple[str, bool]:
    """(what call(*args, **kw) did, whether that was the refusal promised: `exc_type` carrying `says`)."""
    try:
        outcome = call(*args, **kw)
    except exc_type as exc:
        return f"refused: {_short(str(exc))}", says in str(exc) and "Traceback" not in str(exc)
    except Exception as exc:
        return f"raised {type(exc).__name__}: {_short(str(exc))}", False
    return f"accepted ({_short(repr(outcome), 60)})", False


def _fresh_scripted():
    registry.register("scripted", "tests.fakes.scripted:ScriptedProvider")
    return registry.get("scripted")


def run_parameter_rows() -> Iterator[Row]:
    for case, (run, says) in bad.REFUSED.items():
        scripted = _fresh_scripted()
        observed, ok = _refused(InvalidRun, says, run_blocking, run, bad.catalog(), None, policy=bad.ONCE)
        if scripted.calls:
            observed, ok = f"{observed} · but a request was sent", False
        yield Row("run parameters", case, f"refused before sending: {says}", observed, ok)
    for case, (run, cls, says) in bad.PER_MODEL.items():
        _fresh_scripted()
        bad_one, good = run_blocking(run, bad.catalog(), None, policy=bad.ONCE)
        observed = f"{bad_one.status} · {bad_one.error.cls if bad_one.error else '-'}: " + _short(
            bad_one.error.message if bad_one.error else bad_one.output, 80
        ) + f" · the other model: {good.status}"
        ok = bad_one.error is not None and (bad_one.error.cls, bad_one.attempts) == (cls, 0)
        ok = ok and says in bad_one.error.message and good.status == "ok"
        yield Row("one bad model of two", case, f"{cls} before sending ({says}); the other model answers", observed, ok)


def catalog_rows(tmp: Path) -> Iterator[Row]:
    cases = {case: (m, p, file, says) for case, (m, p, file, says) in bad.BROKEN_FILES.items()}
    cases["a key written twice"] = (bad.DUPLICATED, "prices: {}\n", "models.yaml", bad.DUPLICATE_WARNING)
    for case, (models, pricing, file, says) in cases.items():
        folder = Path(tempfile.mkdtemp(dir=tmp))
        try:
            cat = load_catalog(*bad._write(folder, models, pricing))
        except Exception as exc:
            yield Row("catalog files", case, f"{file}: reported ({says})", f"raised {type(exc).__name__}", False)
            continue
        problems = [str(p) for p in cat.problems]
        ok = any(p.startswith(file) and says in p for p in problems) or any(
            p.file == file and says in p.path for p in cat.problems
        )
        observed = "; ".join(_short(p, 90) for p in problems[:2]) or "no problem reported"
        yield Row("catalog files", case, f"{file}: reported, the rest loads ({says})", observed, ok)


def prompt_file_rows() -> Iterator[Row]:
    for name, data, says in BAD_FILES:
        observed, ok = _refused(BatchInputError, says, parse_items, data, name)
        yield Row("prompt files", f"{name}: {_short(repr(data), 60)}", f"refused: {says}", observed, ok)
    for data, line in UNCLOSED_QUOTES:
        says = f"the quote opened on line {line} is never closed"
        observed, ok = _refused(BatchInputError, says, parse_items, data, "q.csv")
        yield Row("prompt files", f"q.csv: {_short(repr(data), 60)}", f"refused: {says}", observed, ok)


def url_rows() -> Iterator[Row]:
    for url in ALWAYS_REFUSED:
        observed, ok = _refused(RefusedURL, "refused: ", check_base_url, url, shared=False, resolve=False)
        yield Row("base URLs", url, "refused, saying why", observed, ok)


def cli_rows(tmp: Path) -> Iterator[Row]:
    os.environ["BAKEOFF_DB"] = str(tmp / "cli.db")
    folder = bad.cli_files(tmp)
    for case, (argv, says) in bad.CLI_CASES.items():
        scripted = _fresh_scripted()
        args = [a.format(dir=folder) for a in argv]
        code, err = bad.cli_outcome(args)
        ok = code == 2 and says in err and "error: " in err and "Traceback" not in err and not scripted.calls
        last = err.strip().splitlines()[-1] if err.strip() else "(nothing on stderr)"
        observed = f"exit {code}: {_short(last.replace(str(folder), 'DIR'))}"
        shown = " ".join(a.replace(str(folder), "DIR") for a in args)
        yield Row("CLI", f"{case}: bakeoff {shown}", f"exit 2: {says}", observed, ok)
    for case, make in bad.DB_PATHS.items():
        scripted = _fresh_scripted()
        path = make(Path(tempfile.mkdtemp(dir=tmp)))
        code, err = bad.cli_outcome(["--db", str(path), *bad.RUN])
        ok = code == 2 and str(path) in err and "Traceback" not in err and not scripted.calls
        last = err.strip().splitlines()[-1] if err.strip() else "(nothing on stderr)"
        observed = f"{code}: {_short(last.replace(str(path.parent), 'DIR'))}"
        yield Row("database path", f"--db {case}", "exit 2: error naming the path", observed, ok)


def input_rows() -> Iterator[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        yield from run_parameter_rows()
        yield from catalog_rows(Path(tmp))
        yield from prompt_file_rows()
        yield from url_rows()
        yield from cli_rows(Path(tmp))


# ---- output ---------------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def table(rows: list[Row], first: str, second: str) -> str:
    lines = [f"| {first} | {second} | expected | observed | |", "|---|---|---|---|---|"]
    lines += [f"| {_cell(r.group)} | {_cell(r.given)} | {_cell(r.expected)} | {_cell(r.observed)} | "
              f"{OK if r.ok else BAD} |" for r in rows]
    return "\n".join(lines)


def total(rows: list[Row]) -> str:
    return f"{sum(r.ok for r in rows)}/{len(rows)}"


def report(faults: list[Row], inputs: list[Row]) -> str:
    out = [
        "# Reliability tables",
        "",
        f"Generated by `python bench/reliability_tables.py --write docs/reliability.md` on "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d}: every row was run, none is written by hand. "
        "✗ marks a promise not kept yet; tests/reliability lists those as KNOWN_GAPS.",
    ]
    if faults:
        out += [
            "",
            f"## Faults: {total(faults)} handled as promised",
            "",
            "Each provider's real SDK against its fake server, through the runner (3 attempts, short backoff) and "
            "a SQLite store. A call is one request sent; partial text is the answer's first half, kept.",
            "",
            table(faults, "wire", "fault"),
        ]
    if inputs:
        out += [
            "",
            f"## Bad input: {total(inputs)} answered as promised",
            "",
            "Through the runner, the catalog loader, the prompt-file parser, the base-URL policy and the CLI.",
            "",
            table(inputs, "kind", "input"),
        ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", type=Path, help="also write the markdown to this file")
    parser.add_argument("--only", choices=["faults", "inputs"])
    args = parser.parse_args(argv)
    for name in PROVIDER_ENV:  # no developer key or host may reach a fake, nor a real key a table
        os.environ.pop(name, None)
    os.environ.update(KEYS)
    logging.disable(logging.WARNING)  # the SDKs' warnings would drown the table; ERRORs still count
    faults = list(fault_rows()) if args.only != "inputs" else []
    inputs = list(input_rows()) if args.only != "faults" else []
    text = report(faults, inputs)
    print(text)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
    return 0 if all(r.ok for r in faults + inputs) else 1


if __name__ == "__main__":
    sys.exit(main())
