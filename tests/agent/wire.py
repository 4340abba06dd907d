"""Loopback servers speaking the OpenAI chat-completions (SSE) and Ollama /api/chat (NDJSON) wire
protocols, replaying one scripted tool call and then a final answer."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Script:
    """First request: call `tool` with `args`; any request carrying a tool result: answer."""

    def __init__(self, tool: str, args: dict[str, Any], answer: str) -> None:
        self.tool, self.args, self.answer = tool, args, answer
        self.requests: list[dict[str, Any]] = []

    def saw_tool_result(self, body: dict[str, Any]) -> bool:
        return any(m.get("role") == "tool" for m in body.get("messages", []))


def _openai_chunks(script: Script, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    base = {"id": "c1", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": body["model"]}  # fmt: skip
    if script.saw_tool_result(body):
        for word in script.answer.split(" "):
            yield base | {"choices": [{"index": 0, "delta": {"content": word + " "}}]}
        yield base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    else:
        call = {"index": 0, "id": "call_1", "type": "function",
                "function": {"name": script.tool, "arguments": ""}}  # fmt: skip
        yield base | {
            "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [call]}}]
        }
        args = json.dumps(script.args)
        for part in (args[: len(args) // 2], args[len(args) // 2 :]):
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": part}}]}
            yield base | {"choices": [{"index": 0, "delta": delta}]}
        yield base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}
    usage = {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57}
    yield base | {"choices": [], "usage": usage}


def _ollama_lines(script: Script, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    base = {"model": body["model"], "created_at": "2026-11-27T00:00:00Z"}
    if script.saw_tool_result(body):
        for word in script.answer.split(" "):
            yield base | {"message": {"role": "assistant", "content": word + " "}, "done": False}
    else:
        call = {"function": {"name": script.tool, "arguments": script.args}}
        yield base | {"message": {"role": "assistant", "content": "", "tool_calls": [call]},
                      "done": False}  # fmt: skip
    yield base | {"message": {"role": "assistant", "content": ""}, "done": True,
                  "done_reason": "stop", "prompt_eval_count": 50, "eval_count": 7,
                  "total_duration": 1000}  # fmt: skip


@contextmanager
def serve(script: Script) -> Iterator[str]:
    """A loopback server for both protocols; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            script.requests.append(body)
            if self.path.endswith("/chat/completions"):
                payload = (
                    b"".join(
                        f"data: {json.dumps(c)}\n\n".encode() for c in _openai_chunks(script, body)
                    )
                    + b"data: [DONE]\n\n"
                )
                kind = "text/event-stream"
            elif self.path == "/api/chat":
                lines = _ollama_lines(script, body)
                payload = b"".join(json.dumps(c).encode() + b"\n" for c in lines)
                kind = "application/x-ndjson"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
