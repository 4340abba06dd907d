"""The served entrypoints as real subprocesses on loopback, and their memory as /proc reports it.

    with serve(data_dir, "runtime") as runtime, serve(data_dir, "api") as api:
        ...                      # runtime.url, api.url; runtime.memory() -> current tree RSS

Each server runs in its own process group with its log in a file, so a load test neither blocks
on an unread pipe nor leaves an MCP subprocess behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from core.errors import ConfigError

ServerKind = Literal["runtime", "api"]
_ROOT = Path(__file__).resolve().parents[2]
_READY_PATH: dict[ServerKind, str] = {"runtime": "/ping", "api": "/health"}
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(kind: ServerKind, port: int) -> list[str]:
    if kind == "runtime":  # what `encore serve agentcore` runs, port and host from the env
        return [sys.executable, "-m", "agent.runtime"]
    return [sys.executable, "-m", "agent.cli", "serve", "api", "--port", str(port)]


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc/*/stat."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # gone since the scan
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _rss_mb(pid: int) -> float:
    try:
        resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return resident * _PAGE_KB / 1024


@dataclass
class Server:
    """A running server: its address, process and the peak memory seen by `sample()`."""

    kind: ServerKind
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    peak_rss_mb: float = 0.0
    peak_processes: int = 0
    _tree: list[int] = field(default_factory=list)

    def sample(self) -> float:
        """RSS of the server and its subprocesses (MCP servers) now, in MB; keeps the peak."""
        tree = _children()
        pids, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            todo.extend(tree.get(pid, []))
        total = sum(_rss_mb(pid) for pid in pids)
        self.peak_rss_mb = max(self.peak_rss_mb, total)
        self.peak_processes = max(self.peak_processes, len(pids))
        return total

    def log_tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _wait_ready(server: Server, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    path = _READY_PATH[server.kind]
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ConfigError(
                f"the {server.kind} server exited with code {server.process.returncode}:\n"
                + server.log_tail(),
                log=str(server.log),
            )
        try:
            if httpx.get(server.url + path, timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise ConfigError(
        f"the {server.kind} server did not answer {path} within {timeout_s:.0f} s; see {server.log}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()  # uvicorn shuts down; the runtime's atexit stops its MCP clients
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    # anything the server left behind in its own group (an MCP server mid-start)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def serve(
    kind: ServerKind,
    env: dict[str, str],
    log_dir: Path,
    *,
    command: list[str] | None = None,
    ready_timeout_s: float = 180.0,
) -> Iterator[Server]:
    """Start `kind` on a free loopback port with `env` (ENCORE_* of the data to serve);
    `command` (given the port as its last argument) replaces the real entrypoint."""
    port = free_port()
    log = log_dir / f"{kind}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and entrypoints
            [*command, str(port)] if command else _command(kind, port),
            env=os.environ | env | {"PORT": str(port), "HOST": "127.0.0.1"},
            cwd=_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(kind, f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_ready(server, ready_timeout_s)
        server.sample()
        yield server
    finally:
        _stop(process)
