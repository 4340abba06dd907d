"""A loopback server replaying recorded API responses, and a clock that never really sleeps."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest

from core.settings import Settings
from pipelines.sources.files import ParsedFile


@dataclass
class Reply:
    """One scripted response. `truncate` closes the connection halfway through the body."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    truncate: bool = False

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass
class Seen:
    """A request the server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str


@dataclass
class _Route:
    method: str
    path: str
    query: dict[str, str]
    replies: list[Reply]


class ReplayServer:
    """Serves scripted replies by method, path and query; a route's last reply repeats forever."""

    def __init__(self) -> None:
        self.routes: list[_Route] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms to every request

            def do_GET(self) -> None:
                server._serve(self)

            def do_POST(self) -> None:
                server._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def route(self, path: str, *replies: Reply, method: str = "GET", **query: Any) -> None:
        """Answer `method path` (when its query contains `query`) with `replies`, in order."""
        self.routes.insert(
            0, _Route(method, path, {k: str(v) for k, v in query.items()}, list(replies))
        )

    def requests(self, path: str | None = None) -> list[Seen]:
        return [s for s in self.seen if path is None or s.path == path]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next_reply(self, seen: Seen) -> Reply:
        with self._lock:
            self.seen.append(seen)
            for route in self.routes:
                if (
                    route.method == seen.method
                    and route.path == seen.path
                    and all(seen.query.get(k) == v for k, v in route.query.items())
                ):
                    return route.replies.pop(0) if len(route.replies) > 1 else route.replies[0]
        # 418 is never retried, so a test that forgot a route fails at once and says why
        return Reply(418, {"error": f"no route for {seen.method} {seen.path}?{seen.query}"})

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode() if length else ""
        seen = Seen(
            handler.command,
            parts.path,
            {k: v[-1] for k, v in parse_qs(parts.query).items()},
            {k.lower(): v for k, v in handler.headers.items()},
            body,
        )
        reply = self._next_reply(seen)
        if reply.delay_s:
            threading.Event().wait(reply.delay_s)
        data = reply.payload()
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "application/json")
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data) + (100 if reply.truncate else 0)))
            if reply.truncate:
                handler.send_header("Connection", "close")
                handler.close_connection = True
            handler.end_headers()
            handler.wfile.write(data[: len(data) // 2] if reply.truncate else data)
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True  # the client gave up (timeout tests)


class FakeClock:
    """Monotonic and wall time that only move when someone sleeps or the test advances them."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.wall = 1_767_225_600.0  # 2026-01-01T00:00:00Z
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.wall

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.wall += seconds


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    replay = ReplayServer()
    yield replay
    replay.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


TM_KEY = "tm-SECRET-key-6f1d0c9b"
FM_KEY = "fm-SECRET-key-3a7e55d2"
SPOTIFY_ID = "spotify-client-id"
SPOTIFY_SECRET = "sp-SECRET-4b9c2e11"


@pytest.fixture
def api_settings(server: ReplayServer, tmp_path: Path) -> Settings:
    """Settings pointing every connector at the replay server, with recognisable fake secrets."""
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "encore",
        ticketmaster_api_key=TM_KEY,
        ticketmaster_base_url=f"{server.url}/discovery/v2",
        spotify_client_id=SPOTIFY_ID,
        spotify_client_secret=SPOTIFY_SECRET,
        spotify_base_url=f"{server.url}/v1",
        spotify_token_url=f"{server.url}/api/token",
        setlistfm_api_key=FM_KEY,
        setlistfm_base_url=f"{server.url}/rest/1.0",
        http_timeout_s=2.0,
    )


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def nock(shared_data: Path, name: str) -> Reply:
    """A recorded Ticketmaster exchange (`nock_v2_<name>.json`) as a reply."""
    recording = read_json(
        shared_data / "ticketmaster-discovery-responses" / f"nock_v2_{name}.json"
    )[0]
    return Reply(recording["status"], recording["response"])


def tm_docs(shared_data: Path, name: str) -> Reply:
    """A Ticketmaster developer-docs example (`docs_v2_<name>.json`) as a reply."""
    example = read_json(shared_data / "ticketmaster-discovery-responses" / f"docs_v2_{name}.json")
    return Reply(int(example["_source_status"].split()[1]), example["body"])


def spotify(shared_data: Path, name: str) -> Any:
    return read_json(shared_data / "spotify-api-responses" / f"{name}.json")


def setlistfm(shared_data: Path, name: str) -> Any:
    return read_json(shared_data / "setlistfm-api-responses" / f"{name}.json")


@pytest.fixture(scope="module")
def database() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture
def con(database: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh connection per test (TEMP tables are per connection), cheaper than connect()."""
    cursor = database.cursor()
    yield cursor
    cursor.close()


def rows(con: duckdb.DuckDBPyConnection, parsed: ParsedFile) -> list[dict[str, str | None]]:
    """A parsed file's rows as dicts, `_line` included, in file order."""
    names = [*parsed.columns, "_line"]
    result = con.execute(f'SELECT * FROM "{parsed.table}"').fetchall()
    return [dict(zip(names, row, strict=True)) for row in result]


def write(path: Path, text: str) -> Path:
    """Write `text` as UTF-8 bytes and return the path."""
    path.write_bytes(text.encode())
    return path
