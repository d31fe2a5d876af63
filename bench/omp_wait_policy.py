"""OpenMP waiting and a busy CPU: SmolLM2-sized generation with libgomp's default waiting vs OMP_WAIT_POLICY=PASSIVE.

    python bench/omp_wait_policy.py [--cores 0,1] [--busy 3] [--reps 5] [--tokens 32]

Why: on a 2-core machine shared with other work, SmolLM2's time to first token went from 0.3 s to
4.6-6 s with torch's default two OpenMP threads, and back to 0.3-0.4 s with OMP_WAIT_POLICY=PASSIVE
or one thread: libgomp's threads spin while they wait for each other, and a spinning thread that
holds a core starves the one it waits for. providers/hf_lock.py therefore sets PASSIVE (unless the
user set a policy) before torch loads. This bench checks that it costs nothing when the cores are idle.

Each cell is a fresh process pinned to --cores (torch threads = that many), holding a Llama model of
SmolLM2-135M's shape (random weights: the same arithmetic, no download), greedy on a 40-token
prompt: prefill ms (generate 1 token) and decode tok/s (--tokens more), medians of --reps after a
warm-up. "busy" runs --busy processes spinning on the same cores meanwhile.

Measured 2026-12-04 on the H200 machine's CPU (16 idle cores; cells pinned to 2 of them, 3 reps,
16 decode tokens, this cell's code run inline), prefill ms / decode tok/s:
  idle:   2 threads default 156 / 21.7; 2 threads PASSIVE 134 / 19.3; 1 thread 178 / 14.8
  3 busy: 2 threads default did not finish in 60 s; 2 threads PASSIVE 283 / 9.7; 1 thread 391 / 6.4
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time

CELL = """
import json, os, statistics, sys, time
os.sched_setaffinity(0, {cores})
import torch
from transformers import LlamaConfig, LlamaForCausalLM
torch.manual_seed(0)
torch.set_num_threads({threads})
config = LlamaConfig(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                     num_key_value_heads=3, vocab_size=49152, max_position_embeddings=8192, rms_norm_eps=1e-5,
                     tie_word_embeddings=True)
model = LlamaForCausalLM(config).eval()
ids = torch.randint(0, 49152, (1, 40))
def gen(n):
    started = time.perf_counter()
    with torch.inference_mode():
        model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n,
                       do_sample=False, pad_token_id=0)
    return time.perf_counter() - started
gen(4)
prefill, decode = [], []
for _ in range({reps}):
    one, many = gen(1), gen({tokens} + 1)
    prefill.append(one * 1000)
    decode.append({tokens} / max(many - one, 1e-9))
print(json.dumps({{"prefill_ms": statistics.median(prefill), "decode_tok_s": statistics.median(decode)}}))
"""


def spin(cores: set[int]) -> None:
    os.sched_setaffinity(0, cores)
    while True:
        pass


def cell(cores: set[int], threads: int, policy: str | None, reps: int, tokens: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run(
        [sys.executable, "-c", CELL.format(cores=sorted(cores), threads=threads, reps=reps, tokens=tokens)],
        env=env, capture_output=True, text=True, timeout=900,
    )
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="0,1", help="the cores each cell is pinned to")
    parser.add_argument("--busy", type=int, default=3, help="spinning processes on those cores in the busy rows")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args()
    cores = {int(c) for c in args.cores.split(",")}
    print(f"{os.cpu_count()} cores here, cells pinned to {sorted(cores)}; load {os.getloadavg()[0]:.2f} at start\n")
    print("| cores | threads | OMP_WAIT_POLICY | prefill ms | decode tok/s |\n|---|---:|---|---:|---:|")
    for busy in (0, args.busy):
        spinners = [mp.get_context("fork").Process(target=spin, args=(cores,), daemon=True) for _ in range(busy)]
        for p in spinners:
            p.start()
        time.sleep(0.2 if busy else 0)
        try:
            for threads, policy in ((len(cores), None), (len(cores), "PASSIVE"), (1, None)):
                r = cell(cores, threads, policy, args.reps, args.tokens)
                label = f"{'busy (' + str(busy) + ' spinners)' if busy else 'idle'}"
                print(f"| {label} | {threads} | {policy or 'default'} | {r['prefill_ms']:.1f} | "
                      f"{r['decode_tok_s']:.1f} |", flush=True)
        finally:
            for p in spinners:
                p.kill()
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
