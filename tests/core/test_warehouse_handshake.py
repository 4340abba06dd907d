"""A writer gets the warehouse while other processes keep reading it (audit 9, D1).

Readers in other processes step aside when a writer announces itself beside the file; a marker
left by a dead writer blocks nobody.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import WarehouseError
from core.settings import Settings
from core.warehouse import connect_writer, reading

ROOT = Path(__file__).resolve().parents[2]

# A server's read traffic: one query every 0.2 s through the shared reader, without ever idling
_READER = """
import sys, time
from pathlib import Path
from core.errors import WarehouseError
from core.settings import Settings
from core.warehouse import reading, share_readers

share_readers()
settings = Settings(data_dir=Path(sys.argv[1]))
while True:
    try:
        with reading(settings) as con:
            (n,) = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'loaded'"
            ).fetchone()
        print(f"ok {n}", flush=True)
    except WarehouseError as exc:
        print(f"error {exc}", flush=True)
    time.sleep(0.2)
"""


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def _next_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line, f"the reader process ended (exit {proc.poll()})"
    return line


@pytest.fixture
def warehouse(settings: Settings) -> Settings:
    connect_writer(settings).close()
    return settings


@pytest.fixture
def busy_reader(warehouse: Settings) -> Iterator[subprocess.Popen[str]]:
    proc = _spawn(_READER, str(warehouse.data_dir))
    try:
        for _ in range(3):  # it answers, so its shared reader holds the file
            assert _next_line(proc) == "ok 0"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_writer_gets_the_file_from_a_busy_server_that_keeps_answering(
    warehouse: Settings, busy_reader: subprocess.Popen[str]
) -> None:
    started = time.monotonic()
    con = connect_writer(warehouse, wait_s=15)
    waited = time.monotonic() - started
    con.execute("CREATE TABLE loaded AS SELECT 1 AS n")
    con.close()
    # a behaviour bound, not a benchmark: before, the reader never idled and the writer failed
    assert waited < 10
    assert not Path(str(warehouse.warehouse_file) + ".writer").exists()
    seen = [_next_line(busy_reader) for _ in range(5)]  # still answering, with the new table
    assert not [line for line in seen if line.startswith("error")]
    assert seen[-1] == "ok 1"


def test_a_dead_writers_marker_blocks_no_reader_and_is_removed(warehouse: Settings) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    marker = Path(str(warehouse.warehouse_file) + ".writer")
    marker.write_text(f"{int(gone.stdout)} {time.time() + 600} {time.time()}\n")
    started = time.monotonic()
    with reading(warehouse, wait_s=5) as con:
        assert con.execute("SELECT 1").fetchone() == (1,)
    assert time.monotonic() - started < 3
    assert not marker.exists()


def test_a_live_writers_marker_holds_readers_back_with_a_plain_message(
    warehouse: Settings,
) -> None:
    waiting = _spawn("import time; print('up', flush=True); time.sleep(30)")
    try:
        assert _next_line(waiting) == "up"
        marker = Path(str(warehouse.warehouse_file) + ".writer")
        marker.write_text(f"{waiting.pid} {time.time() + 600} {time.time()}\n")
        with (
            pytest.raises(WarehouseError, match="the warehouse is being loaded"),
            reading(warehouse, wait_s=0.5),
        ):
            pass
        marker.unlink()
        with reading(warehouse, wait_s=5) as outer:  # gone: readers open again
            marker.write_text(f"{waiting.pid} {time.time() + 600} {time.time()}\n")
            # a call inside a call already holds the file: it does not wait for itself
            with reading(warehouse, wait_s=0.5) as inner:
                assert inner.execute("SELECT 1").fetchone() == (1,)
            assert outer.execute("SELECT 2").fetchone() == (2,)
        marker.unlink()
    finally:
        waiting.kill()
        waiting.wait()


def test_a_writer_kept_out_by_a_long_query_says_queries_hold_the_file(
    warehouse: Settings,
) -> None:
    long_query = _spawn(
        """
        import sys, time
        from pathlib import Path
        from core.settings import Settings
        from core.warehouse import reading

        with reading(Settings(data_dir=Path(sys.argv[1]))) as con:
            print("reading", flush=True)
            time.sleep(30)
        """,
        str(warehouse.data_dir),
    )
    try:
        assert _next_line(long_query) == "reading"
        with pytest.raises(WarehouseError, match="queries are reading the warehouse") as failed:
            connect_writer(warehouse, wait_s=1)
        assert str(long_query.pid) in str(failed.value)
        # it gave up: its marker is gone, readers are not held back
        assert not Path(str(warehouse.warehouse_file) + ".writer").exists()
    finally:
        long_query.kill()
        long_query.wait()
