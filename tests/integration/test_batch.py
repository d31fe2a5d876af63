"""A 50-prompt batch through the real OpenAI and Anthropic SDKs against the wire fakes, with injected 429s
(retry-after) and a requests/min limit: every cell completes, none twice; an interrupted batch resumes
without re-running anything finished; aggregates and CIs match the known answers. Also the CLI end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from subprocess import PIPE

import pandas as pd
import pytest

from bakeoff.batch.input import load_items
from bakeoff.batch.results import aggregate_frame, paired
from bakeoff.batch.runner import Batch, run_batch_blocking
from bakeoff.batch.store import batch_results, get_batch
from bakeoff.catalog.config import Catalog, RateLimit
from bakeoff.records import Params
from bakeoff.runner.fan_out import RetryPolicy
from bakeoff.store.store import Store, url_for_path
from metrics.aggregate import bootstrap_ci
from tests.fakes.server import FakeServer, Recorded, Reply
from tests.integration.conftest import PRICE, entry
from tests.integration.wires import ANTHROPIC, KEYS, OPENAI, Wire, paced
from tests.providers.conftest import PROVIDER_ENV

ROOT = Path(__file__).resolve().parents[2]
N = 50
RPM = 1200  # 20 requests/s for the OpenAI model: 50 cells take about 2.5 s
POLICY = RetryPolicy(max_attempts=6, base_s=0.01, cap_s=0.05)


def _prompt_of(rec: Recorded) -> str:
    content = rec.json["messages"][-1]["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


class PromptServer(FakeServer):
    """Answers by prompt: `answer(prompt)`; every `every`-th prompt gets one 429 with retry-after first."""

    def __init__(self, wire: Wire, answer, every: int = 7, retry_after: float = 0.2):
        super().__init__()
        self.wire, self.answer, self.every, self.retry_after = wire, answer, every, retry_after
        self.seen: Counter[str] = Counter()  # requests per prompt
        self.served_ok: Counter[str] = Counter()  # 200 answers per prompt
        self.times: list[float] = []

    def _next_reply(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            if recorded.path != self.wire.path:
                return super()._next_reply(recorded)
            prompt = _prompt_of(recorded)
            self.seen[prompt] += 1
            self.times.append(time.monotonic())
            number = int(prompt.split()[2].split("+")[0])  # "What is 14+14?" -> 14
            if number % self.every == 0 and self.seen[prompt] == 1:
                return self.wire.rate_limited(self.retry_after)
            self.served_ok[prompt] += 1
        text = self.answer(number)
        return self.wire.ok([text], 20, 2)


def _prompt_file(tmp_path: Path) -> Path:
    rows = [{"id": f"q{i}", "prompt": f"What is {i}+{i}?", "reference": str(2 * i), "level": i % 3} for i in range(N)]
    path = tmp_path / "set.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def two_servers(keys):
    right = PromptServer(OPENAI, lambda i: str(2 * i)).start()  # always right
    half = PromptServer(ANTHROPIC, lambda i: str(2 * i) if i % 2 == 0 else "no idea").start()  # right on even i
    yield right, half
    right.stop()
    half.stop()


def _catalog(right: FakeServer, half: FakeServer) -> Catalog:
    cat = Catalog()
    cat.entries["right"] = entry(OPENAI, right, rate_limit=RateLimit(requests_per_minute=RPM))
    cat.entries["half"] = entry(ANTHROPIC, half)
    cat.prices["right"] = [PRICE]
    return cat


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_fifty_prompts_with_429s_and_a_rate_limit_then_resume(two_servers, store, tmp_path):
    right, half = two_servers
    cat = _catalog(right, half)
    items = load_items(_prompt_file(tmp_path))
    batch = Batch(items=items, model_refs=["right", "half"], params=Params(max_tokens=16), concurrency=8)

    # First session: interrupted once 30 cells have landed.
    cancel = threading.Event()
    landed = []

    def on_result(res, cached):
        landed.append(res)
        if len(landed) >= 30:
            cancel.set()

    first = run_batch_blocking(batch, cat, store, cancel=cancel, on_result=on_result, policy=POLICY)
    assert first.status == "stopped"
    finished = {r.cell_key for r in first.results if r.status == "ok"}
    assert 30 <= len(finished) < 2 * N
    done_first = {
        m: {f"What is {r.item_id[1:]}+{r.item_id[1:]}?" for r in first.results if r.model_ref == m and r.status == "ok"}
        for m in ("right", "half")
    }
    before = {m: Counter(s.served_ok) for m, s in (("right", right), ("half", half))}
    for server in (right, half):  # no prompt was answered twice, 429s aside
        assert set(server.served_ok.values()) <= {1}

    # Resume from the store alone (no file), as the CLI and the page do.
    resumed = run_batch_blocking(get_batch(store, batch.batch_id), cat, store, policy=POLICY)
    assert resumed.status == "done" and resumed.note is None
    assert resumed.cached == finished  # nothing finished was run again
    assert len(resumed.results) == 2 * N and all(r.status == "ok" for r in resumed.results)

    # The resume asked only for what had not finished, each once; nothing finished was sent again.
    everything = {f"What is {i}+{i}?" for i in range(N)}
    for model, server in (("right", right), ("half", half)):
        asked_again = server.served_ok - before[model]
        assert set(asked_again) == everything - done_first[model] and set(asked_again.values()) == {1}
        assert all(server.seen[f"What is {i}+{i}?"] >= 2 for i in range(0, N, 7))  # every injected 429 was retried
    stored = batch_results(store, batch.batch_id)
    assert len(stored) == 2 * N and len({r.cell_key for r in stored}) == 2 * N
    by_item = {r.item_id: r for r in stored if r.model_ref == "right"}
    limited = {r.item_id for r in stored if [a["outcome"] for a in r.attempt_log] == ["RateLimited", "ok"]}
    assert limited and limited <= {f"q{i}" for i in range(0, N, 7)}  # 429s were retried within the cell
    assert by_item["q3"].item_metadata == {"level": "0"}

    # The requests/min limit held: never more than RPM/60 requests in any second (+1 at the window's edge).
    assert _max_in_window(right.times, 1.0) <= RPM // 60 + 1

    # Known data: "right" is always right, "half" right on even numbers only.
    agg = aggregate_frame(resumed.results, ["right", "half"]).set_index("model")
    assert (agg.loc["right", "exact_match"], agg.loc["right", "exact_match_low"]) == (1.0, 1.0)
    halves = [1.0 if i % 2 == 0 else 0.0 for i in range(N)]
    expected = bootstrap_ci(halves, "mean")  # same data, same seed: the same interval
    assert agg.loc["half", "exact_match"] == 0.5
    assert (agg.loc["half", "exact_match_low"], agg.loc["half", "exact_match_high"]) == (expected.low, expected.high)
    assert 0.3 < expected.low < 0.5 < expected.high < 0.7
    assert agg.loc["right", "cost_total_usd"] == pytest.approx(N * (20 * 2 + 2 * 8) / 1e6)
    assert agg.loc["half", "cost_total_usd"] is None or pd.isna(agg.loc["half", "cost_total_usd"])  # unpriced
    assert agg.loc["half", "unpriced"] == N
    pc = paired(resumed.results, "right", "half", "exact_match")
    assert (pc["items"], pc["a_wins"], pc["ties"], pc["b_wins"], pc["mean_diff"]) == (N, 0.5, 0.5, 0.0, 0.5)


def _cli_env(tmp_path: Path, server: FakeServer) -> dict[str, str]:
    """`python -m bakeoff` configured by files and environment only: model `right` on `server`, priced."""
    models = tmp_path / "models.yaml"
    models.write_text(
        "models:\n"
        "  right:\n"
        "    provider: openai\n"
        f"    model: {OPENAI.model}\n"
        "    kind: commercial\n"
        f"    base_url: {OPENAI.base_url(server)}\n"
        "    api_key_env: OPENAI_API_KEY\n"
        "    rate_limit: {requests_per_minute: 6000, tokens_per_minute: 600000}\n"
    )
    pricing = tmp_path / "pricing.yaml"
    pricing.write_text("prices:\n  right:\n    - {as_of: 2024-01-01, source: test, input: 2, output: 8}\n")
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_ENV and k != "DATABASE_URL"}
    env.update(
        PYTHONPATH=str(ROOT),
        BAKEOFF_DB=str(tmp_path / "cli.db"),
        BAKEOFF_MODELS=str(models),
        BAKEOFF_PRICING=str(pricing),
        BAKEOFF_EMBEDDINGS="off",
        OPENAI_API_KEY=KEYS["OPENAI_API_KEY"],
    )
    return env


def _batch_cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bakeoff", "batch", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180
    )


def test_cli_batch_end_to_end_with_resume(keys, tmp_path):
    right = PromptServer(OPENAI, lambda i: str(2 * i), every=2, retry_after=0.05).start()
    try:
        env = _cli_env(tmp_path, right)
        prompts = tmp_path / "p.jsonl"
        lines = (json.dumps({"prompt": f"What is {i}+{i}?", "reference": str(2 * i)}) for i in range(6))
        prompts.write_text("\n".join(lines) + "\n")

        def bakeoff(*args: str) -> subprocess.CompletedProcess[str]:
            return _batch_cli(env, tmp_path, *args)

        out_file = tmp_path / "out.csv"
        done = bakeoff(
            str(prompts), "--model", "right", "--repeats", "2", "--budget", "1", "--out", str(out_file), "--json"
        )
        assert done.returncode == 0, done.stderr
        payload = json.loads(done.stdout)
        assert payload["status"] == "done" and len(payload["results"]) == 12
        assert "12/12 cells" in done.stderr and "estimate 12 calls: up to $" in done.stderr
        assert payload["aggregates"][0]["exact_match"] == 1.0
        frame = pd.read_csv(out_file, encoding="utf-8-sig")
        assert len(frame) == 12 and set(frame["status"]) == {"ok"} and set(frame["repeat"]) == {0, 1}
        assert sorted(right.served_ok.values()) == [2] * 6  # 2 repeats each, never more
        assert KEYS["OPENAI_API_KEY"] not in done.stdout + done.stderr + out_file.read_text(encoding="utf-8-sig")

        again = bakeoff("--resume", payload["batch_id"], "--json")
        assert again.returncode == 0, again.stderr
        resumed = json.loads(again.stdout)
        assert all(r["cached"] for r in resumed["results"]) and len(resumed["results"]) == 12
        assert sorted(right.served_ok.values()) == [2] * 6  # the resume billed nothing

        refused = bakeoff(str(prompts), "--model", "right", "--max-tokens", "100000", "--budget", "0.01")
        assert refused.returncode == 2 and "above the $0.01 cap" in refused.stderr
        bad = bakeoff(str(tmp_path / "missing.csv"), "--model", "right")
        assert bad.returncode == 2 and "no such file" in bad.stderr
    finally:
        right.stop()


def _interrupted_batch(tmp_path: Path, server: FakeServer, presses: int) -> tuple[subprocess.Popen[str], str, str]:
    """Three prompts, one call at a time; Ctrl-C `presses` times once the first call has streamed its first text."""
    env = _cli_env(tmp_path, server)
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"prompt": f"q{i}"}) + "\n" for i in range(3)))
    args = ["batch", "p.jsonl", "--model", "right", "--concurrency", "1", "--json"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bakeoff", *args], env=env, cwd=tmp_path, text=True, stdout=PIPE, stderr=PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while OPENAI.requests(server) == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(presses):
            time.sleep(1.0)  # the first text left with the headers
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return proc, out, err


def _paced_answer(between_s: float) -> Reply:
    texts = ["Partial", " answer"]
    return paced(OPENAI.ok(texts, 20, 2), texts, first_delay=0.0, between_delay=between_s)


def test_cli_first_ctrl_c_lets_the_call_in_flight_finish_and_resume_skips_it(keys, fake, tmp_path):
    OPENAI.serve(fake, _paced_answer(between_s=4.0))
    proc, out, err = _interrupted_batch(tmp_path, fake, presses=1)
    assert proc.returncode == 1 and "Traceback" not in err, err  # 1: stopped early
    assert "the calls in flight finish and are saved with their cost" in err and "resume with:" in err
    payload = json.loads(out)
    assert payload["status"] == "stopped"
    (cell,) = payload["results"]
    assert (cell["status"], cell["output"], cell["cost_usd"]) == ("ok", "Partial answer", "0.000056")
    assert OPENAI.requests(fake) == 1  # no new call after the Ctrl-C
    resumed = _batch_cli(_cli_env(tmp_path, fake), tmp_path, "--resume", payload["batch_id"], "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert OPENAI.requests(fake) == 3  # the two cells left; the finished one was not sent again


def test_cli_second_ctrl_c_aborts_the_call_in_flight_keeping_what_it_streamed(keys, fake, tmp_path):
    OPENAI.serve(fake, _paced_answer(between_s=120.0))
    proc, out, err = _interrupted_batch(tmp_path, fake, presses=2)
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert "aborting the calls in flight: what they streamed is saved as cancelled" in err
    payload = json.loads(out)
    assert payload["status"] == "stopped" and OPENAI.requests(fake) == 1
    (stored,) = batch_results(Store(url_for_path(tmp_path / "cli.db")), payload["batch_id"])
    assert (stored.status, stored.output, stored.error.cls) == ("cancelled", "Partial", "Cancelled")
    assert stored.tokens_source == "estimated" and stored.cost_usd is not None and stored.cost_usd > 0
