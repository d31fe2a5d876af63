"""llama.cpp generation: tokens one by one from `Llama.generate` on a worker thread, streamed as events.

The worker holds the CPU turn shared with transformers_local (hf_lock.CPU_TURN) for the whole
generation, so in-process models never generate at the same time; a closed stream stops it at the
next token, and so does a stop sequence (a base model's next transcript line), none of which is streamed.
Usage is the engine's own count: prompt ids in, sampled ids out (a stop sequence's tokens included:
they were generated and took their time, as llama-cpp-python's own completion call counts them).

Why not `create_completion(stop=...)`: its stream holds a partial stop sequence back too, but it
would take over the sampling, seeding, prefix reuse and counting set here; the one StopSequences
filter does the same for both local engines.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from providers.base import Event, Finish, Request, Sent, ServerError, TextDelta, Usage
from providers.hf_lock import CPU_TURN
from providers.llamacpp_local_loading import LoadedGGUF
from providers.stop_sequences import StopSequences

_DONE = object()


@dataclass
class _Outcome:
    generated: int = 0
    finish: str = "length"
    error: BaseException | None = None


async def generate(
    loaded: LoadedGGUF, prompt_ids: list[int], req: Request, stops: tuple[str, ...] = ()
) -> AsyncIterator[Event]:
    """Sent, text as tokens arrive up to the first of `stops`, Usage, Finish; holds CPU_TURN until the
    worker has stopped."""
    async for status in CPU_TURN.take(f"{loaded.path.name} is generating"):
        yield status
    stop = threading.Event()
    thread: threading.Thread | None = None
    try:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def push(item: Any) -> None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, item)

        outcome = _Outcome()
        thread = threading.Thread(
            target=_run,
            args=(loaded, prompt_ids, req, StopSequences(stops), stop, outcome, push),
            name=f"bakeoff-llamacpp[{loaded.path.name}]",
            daemon=True,
        )
        yield Sent()
        thread.start()  # releases CPU_TURN when done
        while (item := await queue.get()) is not _DONE:
            yield TextDelta(item)
        thread.join()
        if outcome.error is not None:
            raise ServerError(f"generation failed: {type(outcome.error).__name__}: {outcome.error}")
        yield Usage(input_tokens=len(prompt_ids), output_tokens=outcome.generated, source="counted")
        yield Finish(outcome.finish)
    finally:
        stop.set()
        if thread is None or thread.ident is None:
            CPU_TURN.release()
        elif thread.is_alive():
            with contextlib.suppress(BaseException):
                await asyncio.to_thread(thread.join)


def _run(
    loaded: LoadedGGUF,
    prompt_ids: list[int],
    req: Request,
    cut: StopSequences,
    stop: threading.Event,
    outcome: _Outcome,
    push: Any,
) -> None:
    import llama_cpp

    llm = loaded.llm
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    try:
        llm.reset()  # no prefix reuse from an earlier request: every prompt is processed, as elsewhere
        # an unseeded request draws a fresh random seed (LLAMA_DEFAULT_SEED), never an earlier request's seed
        llm.set_seed(req.seed if req.seed is not None else llama_cpp.LLAMA_DEFAULT_SEED)
        greedy = req.temperature <= 0
        tokens = llm.generate(
            prompt_ids,
            temp=0.0 if greedy else req.temperature,
            top_p=1.0 if req.top_p is None else req.top_p,
            top_k=0,
            min_p=0.0,
            typical_p=1.0,
            repeat_penalty=1.0,
            reset=True,
        )
        vocab = llm._model.vocab
        for token in tokens:
            if stop.is_set():
                outcome.finish = "cancelled"
                break
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                outcome.finish = "stop"
                break
            outcome.generated += 1
            piece = llm.detokenize([token], prev_tokens=None)
            text = cut.feed(decoder.decode(piece))
            if text:
                push(text)
            if cut.hit:
                outcome.finish = "stop"
                break
            if outcome.generated >= req.max_tokens:
                outcome.finish = "length"
                break
        tokens.close()
        tail = cut.feed(decoder.decode(b"", final=True)) + cut.flush()
        if tail:
            push(tail)
    except BaseException as exc:
        outcome.error = exc
    finally:
        CPU_TURN.release()
        push(_DONE)
