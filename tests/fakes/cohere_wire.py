"""Cohere v2 chat frames (named-event SSE, `Content-Type: text/event-stream`), as in wire-formats/cohere.md.

Order: message-start, content-start, content-delta*, content-end, message-end (finish_reason and
usage with billed_units and tokens), then `data: [DONE]` as the third-party fixtures show.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tests.fakes.server import Reply, json_reply

CHAT_PATH = "/v2/chat"
GENERATION_ID = "29f14a5a-11de-4cae-9800-25e4747408ea"


def event(name: str, payload: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def frames(
    texts: Sequence[str],
    *,
    billed: tuple[int, int] = (5, 26),
    tokens: tuple[int, int] = (71, 26),
    cached: int | None = None,
    finish: str = "COMPLETE",
    error: str | None = None,
    done: bool = True,
) -> list[bytes]:
    out = [
        event(
            "message-start",
            {
                "type": "message-start",
                "id": GENERATION_ID,
                "delta": {
                    "message": {
                        "role": "assistant",
                        "content": [],
                        "tool_plan": "",
                        "tool_calls": [],
                        "citations": [],
                    }
                },
            },
        ),
        event(
            "content-start",
            {
                "type": "content-start",
                "index": 0,
                "delta": {"message": {"content": {"type": "text", "text": ""}}},
            },
        ),
    ]
    out += [
        event(
            "content-delta",
            {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": t}}}},
        )
        for t in texts
    ]
    out.append(event("content-end", {"type": "content-end", "index": 0}))
    usage: dict[str, Any] = {
        "billed_units": {"input_tokens": billed[0], "output_tokens": billed[1]},
        "tokens": {"input_tokens": tokens[0], "output_tokens": tokens[1]},
    }
    if cached is not None:
        usage["cached_tokens"] = cached
    delta: dict[str, Any] = {"finish_reason": finish, "usage": usage}
    if error is not None:
        delta["error"] = error
    out.append(event("message-end", {"type": "message-end", "delta": delta}))
    if done:
        out.append(b"data: [DONE]\n\n")
    return out


def stream_reply(
    texts: Sequence[str] = (),
    *,
    frame_list: Sequence[bytes] | None = None,
    drop_after: int | None = None,
    content_type: str = "text/event-stream",
    **kw: Any,
) -> Reply:
    return Reply(
        frames=list(frame_list) if frame_list is not None else frames(texts, **kw),
        content_type=content_type,
        drop_after=drop_after,
    )


def error_reply(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return json_reply(
        {"id": "3f1c2b6e-0000-4000-8000-000000000429", "message": message}, status=status, headers=headers
    )
