"""Stream records take the file path: same validation, same warehouse, redelivery harmless."""

from __future__ import annotations

import csv
from pathlib import Path

from core.settings import Settings
from pipelines.stream import LocalStream, StreamRecord
from pipelines.streaming import load_batch, produce_file
from tests.conftest import query_warehouse


def test_produced_records_load_and_a_redelivered_batch_changes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "fans.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["fan_id", "city", "age_band"])
        writer.writerows([[f"F{i}", "Austin", "25-34"] for i in range(40)])
        writer.writerow(["F99", "Austin", "twelve"])  # quarantined, not lost
    stream = LocalStream(tmp_path / "stream", "events", 2)
    assert produce_file(stream, path) == 41

    batches: list[int] = []

    def handle(records: list[StreamRecord]) -> None:
        batches.append(len(records))
        load_batch(settings, records, source="stream:events")

    stream.consume("warehouse", handle, max_records=100, idle_timeout_s=0.2)
    assert sum(batches) == 41 and stream.lag("warehouse") == {"0": 0, "1": 0}
    assert query_warehouse(settings, "SELECT count(*) FROM fans") == [(40,)]
    assert query_warehouse(settings, "SELECT count(*) FROM quarantine") == [(1,)]

    # at-least-once: the same records delivered again (as after a crash before commit)
    records = LocalStream(tmp_path / "stream", "events").read("replay", max_records=100)
    outcomes = load_batch(settings, records, source="stream:events")
    assert all(o.status == "skipped" or (o.run and o.run.inserted == 0) for o in outcomes)
    assert query_warehouse(settings, "SELECT count(*) FROM fans") == [(40,)]
