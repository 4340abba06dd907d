"""Alerts of an ingest follow its inputs: one file's recovery never closes another file's alert."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from core.settings import Settings
from pipelines.ingest import ingest_files
from pipelines.stream import StreamRecord
from pipelines.streaming import load_batch
from tests.conftest import query_warehouse

HEADER = ["Artist ID", "Artist Name", "Primary Genre", "Country", "Popularity", "Followers"]
GOOD = [["g1", "Velvet Wolves", "indie", "US", "44", "52000"]]
NAMELESS = [[f"b{i}", "", "", "", "", ""] for i in (2, 3, 4)]  # 75% quarantined: the run fails
BAD = [["b1", "Loud Noise", "metal", "US", "40", "10"], *NAMELESS]


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *rows])
    return path


def _open_alerts(settings: Settings) -> list[tuple[str, str]]:
    rows = query_warehouse(
        settings,
        "SELECT details->>'metric', fingerprint FROM alerts WHERE resolved_at IS NULL ORDER BY 1",
    )
    return [(metric, fingerprint) for metric, fingerprint in rows]


def test_a_good_file_in_the_same_batch_leaves_a_bad_files_alerts_open(
    settings: Settings, tmp_path: Path
) -> None:
    bad, good = _csv(tmp_path / "bad.csv", BAD), _csv(tmp_path / "good.csv", GOOD)
    outcomes = ingest_files(settings, [bad, good], entity="artists")
    assert [o.status for o in outcomes] == ["failed", "succeeded"]
    still_open = _open_alerts(settings)
    assert [metric for metric, _ in still_open] == ["quarantine_rate", "run_failed"]
    assert all(str(bad.resolve()) in fingerprint for _, fingerprint in still_open)

    # the same good file again, with new rows: still not the bad file's recovery
    _csv(good, [*GOOD, ["g2", "Quiet Storm", "jazz", "US", "30", "900"]])
    ingest_files(settings, [good], entity="artists")
    assert len(_open_alerts(settings)) == 2

    # the bad file fixed: its own alerts close
    _csv(bad, [["b1", "Loud Noise", "metal", "US", "40", "10"]])
    [fixed] = ingest_files(settings, [bad], entity="artists")
    assert fixed.status == "succeeded"
    assert _open_alerts(settings) == []


def _stream_batch(rows: list[dict[str, str]], first: int) -> list[StreamRecord]:
    return [
        StreamRecord("events", "0", str(first + i), "k", {"entity": "fans", "record": row},
                     datetime.now(UTC))
        for i, row in enumerate(rows)
    ]  # fmt: skip


def test_a_stream_is_one_input_whatever_its_batches_are_named(settings: Settings) -> None:
    bad = [{"fan_id": "F1", "age_band": "twelve"}, {"fan_id": "F2", "age_band": "25-34"}]
    load_batch(settings, _stream_batch(bad, 0), source="stream:events")  # 50% quarantined
    [alert] = _open_alerts(settings)
    assert alert[0] == "quarantine_rate"
    good = [{"fan_id": "F3", "age_band": "25-34"}]
    load_batch(settings, _stream_batch(good, 2), source="stream:events")
    assert _open_alerts(settings) == []  # the stream recovered


def test_a_file_of_no_known_entity_is_a_failed_run_with_an_alert(
    settings: Settings, tmp_path: Path
) -> None:
    """Every ingestion is logged (1.5): one that cannot start still leaves a run and an alert."""
    odd = tmp_path / "odd.csv"
    odd.write_text("colour,flavour\nred,sweet\n")
    [outcome] = ingest_files(settings, [odd])
    assert outcome.status == "failed" and "pass --entity" in outcome.message
    assert outcome.run is not None
    [(status, entity, error, uri)] = query_warehouse(
        settings,
        "SELECT status, entity, error, inputs->>'$[0].uri' FROM pipeline_runs "
        f"WHERE run_id = '{outcome.run.run_id}'",
    )
    assert (status, entity, uri) == ("failed", None, str(odd.resolve()))
    assert "pass --entity" in str(error)
    assert ("run_failed", True) in [
        (metric, str(odd.resolve()) in (fingerprint or ""))
        for metric, fingerprint in _open_alerts(settings)
    ]
