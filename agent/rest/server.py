"""`encore serve api`: uvicorn over the app, listening before the app's imports are done.

Importing the app (FastAPI, DuckDB, pandas, the tools) takes about a second on a quiet machine and
several on a busy one. One process binds its socket first, so a client connecting meanwhile is
queued by the kernel and answered once the app is up, instead of refused and left to retry. This
module imports nothing heavy for that reason.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from core.errors import ConfigError

log = logging.getLogger(__name__)

_BACKLOG = 2048  # uvicorn's default


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket listening on host:port (IPv6 when the host is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=_BACKLOG)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port} ({os.strerror(exc.errno) if exc.errno else exc}); "
            "choose another --port or --host"
        ) from exc


def serve(host: str = "127.0.0.1", port: int = 8080, workers: int = 1) -> None:
    """Serve the API with uvicorn (loopback by default; containers pass host=0.0.0.0).

    With `workers` > 1 each worker process builds its own app; rate limits and revocations
    hold across them, as they live in files under the data dir.
    """
    # uvicorn's own access log is off: ours names the user
    options: dict[str, Any] = {"host": host, "port": port, "access_log": False, "log_level": "info"}
    if workers > 1:  # uvicorn's parent binds the socket and imports no app; workers import it
        import uvicorn

        # a worker loads pandas, DuckDB and the models before it answers uvicorn's health
        # check, which on a busy host takes longer than the default 5 s: it was killed in a loop
        uvicorn.run(
            "agent.rest.app:worker_app", factory=True, workers=workers,
            timeout_worker_healthcheck=120, **options,
        )  # fmt: skip
        return
    sock = listen(host, port)  # before the imports below: connections queue meanwhile
    try:
        import uvicorn

        from agent.rest.app import worker_app

        config = uvicorn.Config(worker_app(), **options)
        # uvicorn names the address only for sockets it binds itself
        shown = f"[{host}]" if ":" in host else host
        log.info("serving on http://%s:%d (Ctrl+C to stop)", shown, sock.getsockname()[1])
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
