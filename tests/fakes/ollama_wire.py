"""Ollama `/api/chat` NDJSON lines and `/api/tags`, as in wire-formats/ollama.md.

One JSON object per line, no blank lines (the client would json.loads('')), a `message` on every
line including the final `done: true` line that carries the counts and nanosecond durations.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tests.fakes.server import Reply, json_reply

CHAT_PATH = "/api/chat"
TAGS_PATH = "/api/tags"
MODEL = "llama3.2"


def line(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode() + b"\n"


def frames(
    texts: Sequence[str],
    *,
    model: str = MODEL,
    prompt_eval_count: int | None = 26,
    eval_count: int = 2,
    done_reason: str | None = "stop",
    thinking: Sequence[str] = (),
) -> list[bytes]:
    out = [
        line(
            {
                "model": model,
                "created_at": "2025-01-01T00:00:00.000000Z",
                "message": {"role": "assistant", "content": "", "thinking": t},
                "done": False,
            }
        )
        for t in thinking
    ]
    out += [
        line(
            {
                "model": model,
                "created_at": "2025-01-01T00:00:00.010000Z",
                "message": {"role": "assistant", "content": t},
                "done": False,
            }
        )
        for t in texts
    ]
    final: dict[str, Any] = {
        "model": model,
        "created_at": "2025-01-01T00:00:00.020000Z",
        "message": {"role": "assistant", "content": ""},
    }
    if done_reason is not None:
        final["done_reason"] = done_reason
    final.update({"done": True, "total_duration": 182242375, "load_duration": 41295167})
    if prompt_eval_count is not None:
        final.update({"prompt_eval_count": prompt_eval_count, "prompt_eval_duration": 24573166})
    final.update({"eval_count": eval_count, "eval_duration": 115959084})
    out.append(line(final))
    return out


def stream_reply(
    texts: Sequence[str] = (),
    *,
    frame_list: Sequence[bytes] | None = None,
    drop_after: int | None = None,
    **kw: Any,
) -> Reply:
    return Reply(
        frames=list(frame_list) if frame_list is not None else frames(texts, **kw),
        content_type="application/x-ndjson",
        drop_after=drop_after,
    )


def midstream_error(
    texts: Sequence[str], message: str = "an error was encountered while running the model"
) -> Reply:
    body = [
        line(
            {
                "model": MODEL,
                "created_at": "2025-10-26T17:21:21.196249Z",
                "message": {"role": "assistant", "content": t},
                "done": False,
            }
        )
        for t in texts
    ]
    return Reply(frames=[*body, line({"error": message})], content_type="application/x-ndjson")


def not_found(model: str) -> Reply:
    """From server/routes.go: 404 with {"error": "model 'x' not found"}."""
    return Reply(
        status=404,
        body=json.dumps({"error": f"model '{model}' not found"}).encode(),
        content_type="application/json; charset=utf-8",
    )


def tags(*names: str) -> Reply:
    return json_reply(
        {
            "models": [
                {
                    "name": n,
                    "model": n,
                    "modified_at": "2025-05-04T17:37:44.706015396-07:00",
                    "size": 2019393189,
                    "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
                    "details": {
                        "parent_model": "",
                        "format": "gguf",
                        "family": "llama",
                        "families": ["llama"],
                        "parameter_size": "3.2B",
                        "quantization_level": "Q4_K_M",
                    },
                }
                for n in names
            ]
        }
    )
