"""One generation of an in-process transformers model: encode, take the CPU turn, stream tokens, finish.

`model.generate` runs on a worker thread and pushes text to a queue the async side drains, so the
event loop never blocks; closing the stream stops the thread at the next token.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from providers.base import (
    BadRequest,
    ConfigError,
    Event,
    Finish,
    ModelSpec,
    ProviderError,
    Request,
    Sent,
    ServerError,
    TextDelta,
    Unsupported,
    Usage,
)
from providers.conversation import chat_messages, check_context, completion_prompt
from providers.stop_sequences import StopSequences

if TYPE_CHECKING:
    from providers.transformers_local import LocalModel

_encode_lock = threading.Lock()  # fast tokenizers may not be mutated concurrently; encoding is ms


def _validate(spec: ModelSpec, req: Request) -> None:
    if req.max_tokens < 1:
        raise BadRequest(f"max_tokens must be at least 1 (got {req.max_tokens})")
    if spec.max_output_tokens is not None and req.max_tokens > spec.max_output_tokens:
        raise BadRequest(
            f"max_tokens {req.max_tokens} exceeds {spec.display_id}'s max output of {spec.max_output_tokens}"
        )
    if req.top_p is not None and not 0.0 < req.top_p <= 1.0:
        raise BadRequest(f"top_p must be in (0, 1] (got {req.top_p})")


def _encode(tokenizer: Any, spec: ModelSpec, req: Request) -> Any:
    """Prompt ids, shape (1, n): the chat template over the whole conversation for chat models, plain
    text (a transcript once there is history) for base models."""
    with _encode_lock:
        if spec.chat_template:
            try:
                encoded = tokenizer.apply_chat_template(
                    chat_messages(req), add_generation_prompt=True, return_tensors="pt", return_dict=True
                )
            except ValueError as exc:  # no chat template: a base model
                raise ConfigError(
                    f"{spec.id} has no chat template; set `chat_template: false` ({exc})"
                ) from exc
        else:
            encoded = tokenizer(completion_prompt(req), return_tensors="pt")
    input_ids = encoded["input_ids"]
    if input_ids.shape[1] == 0:
        raise BadRequest("the prompt is empty")
    return input_ids


def _check_context(spec: ModelSpec, loaded: LocalModel, req: Request, prompt_tokens: int) -> None:
    """The exact check, on the encoded prompt (template included): the runner's preflight only estimates."""
    window = spec.context_window or getattr(loaded.model.config, "max_position_embeddings", None)
    check_context(spec, req, prompt_tokens, window=window or None, exact=True)


class _StopFlag:
    """StoppingCriteria: true once the stream is closed or the streamed text hit a stop sequence.

    generate checks it before handing each new token to the streamer, so it stops one token later.
    """

    def __init__(self, cut: StopSequences) -> None:
        self.event = threading.Event()
        self.cut = cut

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        done = self.event.is_set() or self.cut.hit
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

    def __deepcopy__(self, memo: dict[int, Any]) -> _StopFlag:
        return self  # a copy would never see the flag


class _Sampler:
    """LogitsProcessor that draws the next token (temperature, then top-p) with its own generator.

    generate runs greedy on its output (all -inf but the drawn token), so no global RNG is used.
    """

    def __init__(self, temperature: float, top_p: float | None, seed: int | None, device: str = "cpu") -> None:
        import torch

        self.temperature = temperature
        self.top_p = top_p
        # multinomial wants a generator on the logits' device
        self.generator = torch.Generator(device=device).manual_seed(seed) if seed is not None else None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        logits = scores.float() / self.temperature
        if self.top_p is not None and self.top_p < 1.0:
            sorted_logits, order = logits.sort(dim=-1, descending=True)
            probs = sorted_logits.softmax(dim=-1)
            outside = probs.cumsum(dim=-1) - probs > self.top_p  # mass before a token already > top_p
            sorted_logits = sorted_logits.masked_fill(outside, float("-inf"))
            logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
        chosen = torch.multinomial(logits.softmax(dim=-1), 1, generator=self.generator)
        return torch.full_like(scores, float("-inf")).scatter(-1, chosen, 0.0)

    def __deepcopy__(self, memo: dict[int, Any]) -> _Sampler:
        return self


# A control marker among a tokenizer's added tokens that are not flagged special: `<start_of_image>`,
# `<end_of_image>` (snake_case in angle brackets) or `[multimodal]`. Gemma's GGUF marks these
# "user defined", like its real text tokens (runs of newlines, `<table>`, `<td>`), so only their
# shape tells them apart; a base model emits them, and they are not text.
_MARKER = re.compile(r"<[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+>|\[[A-Za-z_]+\]")


@functools.lru_cache(maxsize=32)
def _marker_ids(tokenizer: Any) -> frozenset[int]:
    """Ids of the tokenizer's control markers that skip_special_tokens leaves in (see _MARKER)."""
    added = getattr(tokenizer, "added_tokens_decoder", {})
    return frozenset(i for i, t in added.items() if not t.special and _MARKER.fullmatch(t.content))


@functools.cache
def _queue_streamer_class() -> type:
    from transformers import TextStreamer

    class QueueStreamer(TextStreamer):
        """TextStreamer's decoding (whole words, no special tokens, no control markers), handed to a callback
        up to the first stop sequence (`cut`), none of which is ever handed over."""

        def __init__(self, tokenizer: Any, push: Any, cut: StopSequences | None = None) -> None:
            super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
            self._push = push
            self._markers = _marker_ids(tokenizer)
            self._cut = cut or StopSequences(())

        def put(self, value: Any) -> None:
            if self._markers and not self.next_tokens_are_prompt:  # generated ids, not the prompt
                kept = [i for i in value.reshape(-1).tolist() if i not in self._markers]
                if not kept:
                    return
                value = value.new_tensor(kept)
            super().put(value)

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            text = self._cut.feed(text) + (self._cut.flush() if stream_end else "")
            if text:
                self._push(text)

    return QueueStreamer


_DONE = object()  # end-of-generation marker on the queue


@dataclass
class _Outcome:
    output: Any = None
    error: BaseException | None = None


def _generate_kwargs(
    loaded: LocalModel, input_ids: Any, req: Request, streamer: Any, stop: _StopFlag
) -> dict[str, Any]:
    """model.generate's arguments: greedy unless a temperature is set (then our own seeded sampler)."""
    import torch
    from transformers import LogitsProcessorList, StoppingCriteriaList

    generation_config = loaded.model.generation_config
    kwargs: dict[str, Any] = {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "max_new_tokens": req.max_tokens,
        "do_sample": False,
        "streamer": streamer,
        "stopping_criteria": StoppingCriteriaList([stop]),
    }
    if generation_config.pad_token_id is None and generation_config.eos_token_id is not None:
        eos = generation_config.eos_token_id
        kwargs["pad_token_id"] = eos[0] if isinstance(eos, list) else eos
    if req.temperature > 0:
        kwargs["logits_processor"] = LogitsProcessorList(
            [_Sampler(req.temperature, req.top_p, req.seed, device=loaded.device)]
        )
    return kwargs


async def _generate(
    loaded: LocalModel, input_ids: Any, req: Request, stops: tuple[str, ...] = ()
) -> AsyncIterator[Event]:
    """Sent, then text as generate produces it up to the first of `stops`, then Usage and Finish,
    holding loaded.lock.

    The generate thread releases the lock when it ends, so a closed stream frees the model only
    once the thread has really stopped.
    """
    device = "the CPU" if loaded.device == "cpu" else "the GPU"
    async for status in loaded.lock.take(f"{loaded.label or loaded.folder.name} is generating", device=device):
        yield status
    thread: threading.Thread | None = None
    cut = StopSequences(stops)
    stop = _StopFlag(cut)
    try:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def push(item: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
                loop.call_soon_threadsafe(queue.put_nowait, item)

        generation_config = loaded.model.generation_config
        streamer = _queue_streamer_class()(loaded.tokenizer, push, cut)
        kwargs = _generate_kwargs(loaded, input_ids, req, streamer, stop)
        outcome = _Outcome()
        thread = threading.Thread(
            target=_run_generate,
            args=(loaded, kwargs, outcome, push),
            name=f"bakeoff-generate[{loaded.folder.name}@{loaded.precision}]",
            daemon=True,
        )
        yield Sent()
        thread.start()  # the thread releases loaded.lock when generate returns
        while (item := await queue.get()) is not _DONE:
            yield TextDelta(item)
        thread.join()
        if outcome.error is not None:
            raise _generate_error(outcome.error)
        # Every generated token counts, the stop sequence's included and the one or two after it (the
        # streamer holds a trailing `:` until the next token; the stop flag is read one token later):
        # they were generated, so they took the time that tokens/s divides by (llama-cpp-python's own
        # completion call counts a stop sequence's tokens as output too).
        generated = outcome.output[0, input_ids.shape[1] :].tolist()
        yield Usage(input_tokens=int(input_ids.shape[1]), output_tokens=len(generated), source="counted")
        finish = "stop" if cut.hit else _finish_reason(generated, generation_config.eos_token_id, req.max_tokens)
        yield Finish(finish)
    finally:
        stop.event.set()
        if thread is None or thread.ident is None:  # never started: the lock is still ours
            loaded.lock.release()
        elif thread.is_alive():
            with contextlib.suppress(BaseException):  # already unwinding; a second cancel must not leak
                await asyncio.to_thread(thread.join)


def _run_generate(loaded: LocalModel, kwargs: dict[str, Any], outcome: _Outcome, push: Any) -> None:
    try:
        outcome.output = loaded.model.generate(**kwargs)
    except BaseException as exc:  # handed to the stream, which maps it
        outcome.error = exc
    finally:
        loaded.lock.release()
        push(_DONE)


def _generate_error(exc: BaseException) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, MemoryError) or "can't allocate" in str(exc) or type(exc).__name__ == "OutOfMemoryError":
        return Unsupported(f"out of memory while generating: {type(exc).__name__}: {exc}")
    return ServerError(f"generation failed: {type(exc).__name__}: {exc}")


def _finish_reason(generated: list[int], eos: int | list[int] | None, max_tokens: int) -> str:
    eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if generated and generated[-1] in eos_ids:
        return "stop"
    return "length" if len(generated) >= max_tokens else "stop"
