"""Anthropic Messages frames (named-event SSE), as in wire-formats/anthropic.md.

Every frame has an `event:` line (2.14.0 drops frames without one). The default stream follows
the recorded live capture (§3a), including the server's habit of padding JSON with spaces before
the closing brace, and a cumulative `message_delta.usage` that repeats the input/cache counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tests.fakes.server import Reply, json_reply

MESSAGES_PATH = "/v1/messages"
MESSAGE_ID = "msg_013nnniYDrJDocdy5nrMU7cH"
MODEL = "claude-sonnet-4-5-20250929"


def event(name: str, payload: Any, pad: str = "") -> bytes:
    data = json.dumps(payload, separators=(",", ":"))
    if pad:
        data = data[:-1] + pad + "}"  # live server: spaces before the closing brace
    return f"event: {name}\ndata: {data}\n\n".encode()


def frames(
    texts: Sequence[str],
    *,
    input_tokens: int = 135,
    output_tokens: int = 10,
    cache_read: int = 0,
    cache_creation: int = 0,
    thinking_tokens: int | None = None,
    stop_reason: str = "end_turn",
    cumulative_input: bool = True,
) -> list[bytes]:
    """A whole stream. cumulative_input=False: the older shape, message_delta.usage has only output."""
    start_usage = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_creation,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {"ephemeral_5m_input_tokens": cache_creation, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 1,
        "service_tier": "standard",
        "inference_geo": "not_available",
    }
    out = [
        event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "model": MODEL,
                    "id": MESSAGE_ID,
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
            pad="   ",
        ),
        event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            pad="     ",
        ),
        b'event: ping\ndata: {"type": "ping"}\n\n',
    ]
    out += [
        event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}},
            pad="   ",
        )
        for t in texts
    ]
    out.append(event("content_block_stop", {"type": "content_block_stop", "index": 0}, pad="        "))
    delta_usage: dict[str, Any] = {"output_tokens": output_tokens}
    if cumulative_input:
        delta_usage = {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": cache_creation,
            "cache_read_input_tokens": cache_read,
            "output_tokens": output_tokens,
        }
    if thinking_tokens is not None:
        delta_usage["output_tokens_details"] = {"thinking_tokens": thinking_tokens}
    out.append(
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": delta_usage,
            },
            pad="             ",
        )
    )
    out.append(event("message_stop", {"type": "message_stop"}, pad="              "))
    return out


def thinking_block(text: str, index: int = 0) -> list[bytes]:
    """A thinking content block (extended thinking), which is not answer text."""
    return [
        event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        ),
        event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "thinking_delta", "thinking": text},
            },
        ),
        event("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


def error_event(type_: str = "overloaded_error", message: str = "Overloaded") -> bytes:
    """In-band error (docs: 'Error events'); the SDK raises APIStatusError with status 200."""
    return b'event: error\ndata: {"type": "error", "error": {"type": "%s", "message": "%s"}}\n\n' % (
        type_.encode(),
        message.encode(),
    )


def stream_reply(
    texts: Sequence[str] = (),
    *,
    frame_list: Sequence[bytes] | None = None,
    drop_after: int | None = None,
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> Reply:
    return Reply(
        frames=list(frame_list) if frame_list is not None else frames(texts, **kw),
        content_type="text/event-stream; charset=utf-8",
        headers={"request-id": "req_018EeWyXxfu5pfWkrYcMdjWG", **(headers or {})},
        drop_after=drop_after,
    )


def error_reply(status: int, type_: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return json_reply(
        {
            "type": "error",
            "error": {"type": type_, "message": message},
            "request_id": "req_011CYK5n67SytMUxm8WMZUWY",
        },
        status=status,
        headers={"request-id": "req_011CYK5n67SytMUxm8WMZUWY", **(headers or {})},
    )


def rate_limited(headers: dict[str, str]) -> Reply:
    """The recorded 429 body (message shortened) plus the headers a test wants."""
    return error_reply(
        429,
        "rate_limit_error",
        "This request would exceed your organization's rate limit of 20,000,000 prompt bytes per "
        "hour (org: 5576611f-a1ee-427c-9800-298d9579899c, model: claude-sonnet-4-5-20250929).",
        headers={"x-should-retry": "true", **headers},
    )
