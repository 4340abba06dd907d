"""Tools and pipelines share the DuckDB file by taking turns: readers wait out a writer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from core.errors import WarehouseError
from core.settings import Settings
from tests.conftest import copy_warehouse
from tools.warehouse import reading


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
