"""Tools and pipelines share the DuckDB file by taking turns: readers wait out a writer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from core.errors import WarehouseError
from core.settings import Settings
from core.warehouse import connect_writer, reading, release_readers, share_readers
from tests.conftest import copy_warehouse


def _hold_writer(settings: Settings, seconds: float) -> subprocess.Popen[str]:
    """Another process that opens the warehouse for writing and keeps it for `seconds`."""
    code = textwrap.dedent(
        f"""
        import time, duckdb
        con = duckdb.connect({str(settings.warehouse_file)!r})
        print("locked", flush=True)
        time.sleep({seconds})
        con.close()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_reader_waits_for_a_writer_in_another_process(small_warehouse, tmp_path) -> None:
    settings = copy_warehouse(small_warehouse, tmp_path)
    writer = _hold_writer(settings, 1.5)
    started = time.monotonic()
    with reading(settings, wait_s=30) as con:
        (count,) = con.execute("SELECT count(*) FROM artists").fetchone()
    assert count == 250
    assert time.monotonic() - started > 0.5  # it did wait for the writer to let go
    writer.wait(timeout=10)


def test_a_reader_gives_up_with_a_plain_message(small_warehouse, tmp_path) -> None:
    settings = copy_warehouse(small_warehouse, tmp_path)
    writer = _hold_writer(settings, 5)
    try:
        with (
            pytest.raises(WarehouseError, match="busy with a pipeline load"),
            reading(settings, wait_s=0.3),
        ):
            pass
    finally:
        writer.kill()
        writer.wait()


def test_a_missing_warehouse_is_not_waited_for(settings: Settings) -> None:
    started = time.monotonic()
    with pytest.raises(WarehouseError, match="encore demo"), reading(settings):
        pass
    assert time.monotonic() - started < 5


@pytest.fixture
def shared_readers() -> Iterator[None]:
    """`reading()` as the MCP servers run it: one open database shared between calls."""
    share_readers()
    try:
        yield
    finally:
        share_readers(False)


def test_shared_reader_steps_aside_for_a_writer_in_the_same_process(
    small_warehouse: Settings, tmp_path, shared_readers: None
) -> None:
    settings = copy_warehouse(small_warehouse, tmp_path)
    with reading(settings) as first, reading(settings) as second:
        assert first.execute("SELECT count(*) FROM artists").fetchone() == (250,)
        assert second.execute("SELECT count(*) FROM venues").fetchone() == (120,)
    writer = connect_writer(settings, wait_s=5)  # the idle shared reader is closed for it
    writer.execute(
        "UPDATE artists SET popularity = 0 WHERE artist_id = (SELECT min(artist_id) FROM artists)"
    )
    writer.close()
    with reading(settings) as con:  # reopened: the change is visible
        assert con.execute("SELECT count(*) FROM artists WHERE popularity = 0").fetchone()[0] >= 1
    release_readers(settings)


def test_shared_reader_closes_when_idle_so_other_processes_can_write(
    small_warehouse: Settings, tmp_path, shared_readers: None
) -> None:
    settings = copy_warehouse(small_warehouse, tmp_path)
    with reading(settings) as con:
        con.execute("SELECT count(*) FROM artists").fetchone()
    code = textwrap.dedent(
        f"""
        import time, duckdb
        start = time.monotonic()
        while True:
            try:
                duckdb.connect({str(settings.warehouse_file)!r}).close()
                break
            except duckdb.Error:
                time.sleep(0.05)
        print(round(time.monotonic() - start, 2))
        """
    )
    waited = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert float(waited.stdout) < 10  # the idle reader let go (after ~2 s), not never
