"""Token and cost truth: Bakeoff's cost against usage x price worked by hand, and its token estimates.

    python bench/token_cost_truth.py [--quick]

1. Cost: each wire's fake (OpenAI, Anthropic, Gemini, Cohere) streams an answer whose usage block
   carries chosen token counts (cached input, thinking tokens and Cohere's billed-vs-raw split
   included); the real SDK and Bakeoff's runner price it with the pricing.yaml row in force. The
   expected cost is computed here independently, in Decimal, from the numbers *on the wire* and
   each vendor's billing rules. Bakeoff keeps costs as exact Decimal (rounded only for display), so
   "exact" = equal to the hand value, digit for digit. Ollama (a local model) is priced as hardware $/hour x busy
   seconds; the check recomputes it from the result's own stamps.
2. Tokens: where a provider reports no usage, Bakeoff estimates with tiktoken (o200k/cl100k for
   OpenAI models, cl100k as the stand-in for everything else). On a mixed text sample (prose,
   code, French, numbers) the estimate is set against the exact count: tiktoken's own encoding
   for OpenAI models (what the API bills for the text; a chat message adds a fixed ~7 framing
   tokens that a text-only estimate does not see), and the local models' own tokenizers
   (SmolLM2, Gemma) via TransformersProvider.count_tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from _harness import machine

from bakeoff.catalog.config import Catalog, CatalogEntry, load_catalog, resolve
from bakeoff.records import Params, Result, Run
from bakeoff.runner.engine import prepare
from bakeoff.runner.fan_out import RetryPolicy, fan_out
from metrics.tokens import encoding_name_for, estimate_tokens
from tests.fakes import anthropic_wire, cohere_wire, gemini_wire, ollama_wire, openai_wire
from tests.fakes.server import FakeServer, Reply
from tests.integration.wires import ANTHROPIC, COHERE, GEMINI, KEYS, OLLAMA, OPENAI, Wire

M = Decimal(1_000_000)
TEXTS = ["The answer", " is 42."]


@dataclass
class Case:
    label: str
    wire: Wire
    price_key: str  # pricing.yaml id
    reply: Reply
    expected: Callable[[Catalog], Decimal]  # from the wire's numbers and the vendor's billing rule


def row_of(cat: Catalog, key: str):  # type: ignore[no-untyped-def]
    row = cat.price_on(key, dt.date.today())
    if row is None:
        raise SystemExit(f"pricing.yaml has no row for {key} today")
    return row


def cases() -> list[Case]:
    return [*_openai_cases(), *_anthropic_cases(), *_gemini_cases(), *_cohere_cases()]


def _openai_cases() -> list[Case]:
    out: list[Case] = []
    for p, c, o in [(12, 0, 7), (123_457, 0, 45_678), (150_000, 100_000, 9_999)]:
        out.append(
            Case(
                f"OpenAI gpt-4o-mini prompt {p:,} (cached {c:,}) completion {o:,}",
                OPENAI,
                "gpt-4o-mini",
                openai_wire.stream_reply(TEXTS, usage_body=openai_wire.usage(prompt=p, completion=o, cached=c or None)),
                # prompt_tokens include the cached ones, billed at the cached rate
                lambda cat, p=p, c=c, o=o: (
                    (
                        (p - c) * row_of(cat, "gpt-4o-mini").input
                        + c * row_of(cat, "gpt-4o-mini").cached_input
                        + o * row_of(cat, "gpt-4o-mini").output
                    )
                    / M
                ),
            )
        )
    return out


def _anthropic_cases() -> list[Case]:
    out: list[Case] = []
    for i, r, o in [(9, 0, 3), (98_765, 0, 4_321), (5_000, 180_000, 2_500)]:
        out.append(
            Case(
                f"Anthropic claude-haiku-4-5 input {i:,} (cache read {r:,}) output {o:,}",
                ANTHROPIC,
                "claude-haiku-4-5",
                anthropic_wire.stream_reply(TEXTS, input_tokens=i, output_tokens=o, cache_read=r),
                # input_tokens exclude cache reads, which are billed at the cache-read rate
                lambda cat, i=i, r=r, o=o: (
                    (
                        i * row_of(cat, "claude-haiku-4-5").input
                        + r * row_of(cat, "claude-haiku-4-5").cached_input
                        + o * row_of(cat, "claude-haiku-4-5").output
                    )
                    / M
                ),
            )
        )
    return out


def _gemini_cases() -> list[Case]:
    out: list[Case] = []
    for p, c, o, t in [(7, None, 10, None), (200_001, 50_000, 12_345, None), (3_000, None, 800, 1_500)]:
        out.append(
            Case(
                f"Gemini 2.0 Flash prompt {p:,} (cached {c or 0:,}) candidates {o:,} thoughts {t or 0:,}",
                GEMINI,
                "gemini-2.0-flash",
                gemini_wire.stream_reply(
                    TEXTS,
                    prompt_tokens=p,
                    output_tokens=o,
                    cached=c,
                    thoughts=["Thinking."] if t else (),
                    thoughts_tokens=t,
                ),
                # promptTokenCount includes cached tokens; thinking tokens are billed as output
                lambda cat, p=p, c=c or 0, o=o, t=t or 0: (
                    (
                        (p - c) * row_of(cat, "gemini-2.0-flash").input
                        + c * row_of(cat, "gemini-2.0-flash").cached_input
                        + (o + t) * row_of(cat, "gemini-2.0-flash").output
                    )
                    / M
                ),
            )
        )
    return out


def _cohere_cases() -> list[Case]:
    out: list[Case] = []
    for bi, bo, raw in [(5, 26, 71), (87_654, 3_210, 87_720)]:
        out.append(
            Case(
                f"Cohere command-a billed {bi:,} in / {bo:,} out (raw tokens {raw:,} in)",
                COHERE,
                "command-a",
                cohere_wire.stream_reply(TEXTS, billed=(bi, bo), tokens=(raw, bo)),
                # billed_units are what Cohere charges; `tokens` include hidden system tokens
                lambda cat, bi=bi, bo=bo: (
                    (bi * row_of(cat, "command-a").input + bo * row_of(cat, "command-a").output) / M
                ),
            )
        )
    return out


def run_case(case: Case, priced: Catalog) -> Result:
    fake = FakeServer().start()
    try:
        case.wire.serve(fake, case.reply)
        cat = Catalog(local_compute=priced.local_compute)
        cat.entries[case.price_key] = CatalogEntry(
            provider=case.wire.provider,
            model=case.wire.model,
            kind="local" if case.wire.provider == "ollama" else "commercial",
            base_url=case.wire.base_url(fake),
            api_key_env=case.wire.key_env,
        )
        if case.price_key in priced.prices:
            cat.prices[case.price_key] = priced.prices[case.price_key]
        run = Run(prompt="What is the answer?", model_refs=[case.price_key], params=Params(max_tokens=64))
        (res,) = asyncio.run(fan_out(run, prepare(run, cat), cat, policy=RetryPolicy(max_attempts=1)))
        if res.status != "ok":
            raise SystemExit(f"{case.label}: {res.status} {res.error}")
        return res
    finally:
        fake.stop()


def cost_section() -> tuple[str, int, int]:
    priced = load_catalog()
    lines = [
        "| case | tokens Bakeoff recorded (in / cached / out / reasoning) | Bakeoff USD | by hand USD (unrounded) | "
        "exact | to the cent |",
        "|---|---|---:|---:|---|---|",
    ]
    exact = total = 0
    for case in cases():
        res = run_case(case, priced)
        want = case.expected(priced)
        got = res.cost_usd
        same = got == want
        cent = got is not None and abs(got - want) < Decimal("0.005")
        exact += same
        total += 1
        toks = f"{res.input_tokens} / {res.cached_input_tokens} / {res.output_tokens} / {res.reasoning_tokens}"
        lines.append(
            f"| {case.label} | {toks} | {got} | {want.normalize()} | {'yes' if same else '**no**'} | "
            f"{'yes' if cent else '**no**'} |"
        )
    # Ollama: local compute, priced per busy second
    ollama = Case(
        "Ollama llama3.2 (local): $/hour x busy seconds",
        OLLAMA,
        "llama3.2-local",
        ollama_wire.stream_reply(TEXTS, model=OLLAMA.model, prompt_eval_count=26, eval_count=9),
        lambda cat: Decimal(0),
    )
    res = run_case(ollama, priced)
    busy_s = Decimal(res.last_token_ns - res.sent_ns) / Decimal(1_000_000_000)
    want = priced.local_compute.usd_per_hour * busy_s / 3600
    got = res.cost_usd
    cent = got is not None and abs(got - want) < Decimal("0.005")
    same = got is not None and abs(got - want) <= want * Decimal("1e-9")  # busy seconds pass through a float
    exact += same
    total += 1
    lines.append(
        f"| {ollama.label} ({priced.local_compute.usd_per_hour} $/h, {busy_s:.4f} s) | {res.input_tokens} / - / "
        f"{res.output_tokens} / - | {got} | {want:.12f} | {'yes' if same else '**no**'} | "
        f"{'yes' if cent else '**no**'} |"
    )
    return "\n".join(lines), exact, total


SAMPLE = (
    "Bakeoff compares language models side by side: cost, speed and quality, on the same prompt.\n"
    "def ttft_s(sent_ns: int, first_ns: int) -> float:\n    return (first_ns - sent_ns) / 1e9  # seconds\n"
    "Le modèle répond en français, avec des accents et des apostrophes : « c'est déjà ça ».\n"
    "Prices: $0.15 per 1M input tokens, $0.60 per 1M output tokens; 123,456 tokens cost $0.0185184.\n"
    "Over 20,000 leagues under the sea, Captain Nemo's Nautilus kept a steady 12 knots."
)


def tokens_section(quick: bool) -> str:
    import tiktoken

    estimate_tokens("warm", "gpt-4o")  # seeds the offline encodings
    lines = [
        f"Sample: {len(SAMPLE)} characters, {len(SAMPLE.split())} words (prose, Python, French, prices).\n",
        "| model | exact count (how) | Bakeoff's estimate (how) | error |",
        "|---|---:|---:|---:|",
    ]
    for model in ("gpt-4o-mini", "gpt-4.1", "gpt-4", "gpt-3.5-turbo"):
        name = tiktoken.encoding_name_for_model(model)
        exact = len(tiktoken.get_encoding(name).encode(SAMPLE))
        est = estimate_tokens(SAMPLE, model)
        lines.append(f"| {model} | {exact} ({name}) | {est} ({encoding_name_for(model)}) | {_err(est, exact)} |")
    if quick:
        return "\n".join(lines)
    from providers.transformers_local import TransformersProvider

    cat = load_catalog()
    provider = TransformersProvider()
    for ref in ("smollm2-135m-instruct", "gemma-3-270m"):
        spec = resolve(cat, ref)
        try:
            exact = provider.count_tokens(spec, SAMPLE)
        except Exception as exc:  # a missing bundled model is reported, not fatal
            lines.append(f"| {ref} | not available: {type(exc).__name__}: {exc} | | |")
            continue
        est = estimate_tokens(SAMPLE, spec.model)
        lines.append(
            f"| {ref} | {exact} (its own tokenizer) | {est} ({encoding_name_for(spec.model)} stand-in) | "
            f"{_err(est, exact)} |"
        )
    return "\n".join(lines)


def _err(est: int, exact: int) -> str:
    return f"{est - exact:+d} ({(est - exact) / exact:+.1%})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the local tokenizers")
    args = parser.parse_args()
    os.environ.update(KEYS)
    print(f"Machine: {machine()}\n")
    table, exact, total = cost_section()
    print(f"Cost: {exact}/{total} cases exact (goal: all, to the cent)\n\n{table}\n")
    print(tokens_section(args.quick))


if __name__ == "__main__":
    main()
