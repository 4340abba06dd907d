"""A stand-in for SageMaker's scikit-learn serving container: GET /ping, POST /invocations.

As the container does, it imports SAGEMAKER_PROGRAM from SAGEMAKER_SUBMIT_DIRECTORY (the code/
folder of an extracted model.tar.gz), loads the model once with model_fn(model dir), and answers
each invocation with input_fn -> predict_fn -> output_fn. It imports nothing of Encore itself: what
the handler needs must come from the artifact.

    python sagemaker_container.py MODEL_DIR     prints "listening on PORT" once the model is loaded
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _load(model_dir: str) -> tuple[Any, Any]:
    code_dir = os.environ["SAGEMAKER_SUBMIT_DIRECTORY"]
    sys.path.insert(0, code_dir)
    handler = importlib.import_module(os.environ["SAGEMAKER_PROGRAM"].removesuffix(".py"))
    model = handler.model_fn(model_dir)
    shipped = sorted(
        name
        for name, module in list(sys.modules.items())
        if str(getattr(module, "__file__", "") or "").startswith(code_dir)
    )
    print(f"modules from {code_dir}: {', '.join(shipped)}", flush=True)
    return handler, model


def main() -> None:
    handler, model = _load(sys.argv[1])

    class Container(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/ping":
                self._send(200, b"", "text/plain")
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            if self.path != "/invocations":
                self._send(404, b"not found", "text/plain")
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            content_type = self.headers.get("Content-Type", "application/json")
            accept = self.headers.get("Accept", "application/json")
            try:
                data = handler.input_fn(body, content_type)
                result = handler.output_fn(handler.predict_fn(data, model), accept)
            except Exception:  # the container answers 500 with the handler's traceback
                self._send(500, traceback.format_exc().encode(), "text/plain")
                return
            payload, kind = result if isinstance(result, tuple) else (result, accept)
            self._send(200, payload if isinstance(payload, bytes) else payload.encode(), kind)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Container)
    server.daemon_threads = True
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
