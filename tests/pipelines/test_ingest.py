"""File ingestion as a user runs it: bad rows quarantined, loads atomic and idempotent."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from core.settings import Settings
from pipelines import ingest
from pipelines.ingest import ingest_files
from tests.conftest import query_warehouse

ARTISTS = [
    ["Artist ID", "Artist Name", "Primary Genre", "Country", "Popularity", "Followers"],
    ["x1", "Rolling Stones, The", "Rock", "GB", "81", "14,200,000"],
    ["x2", "Velvet Wolves", "Indie", "us", "44", "52000"],
    ["x3", "", "pop", "US", "50", "1000"],  # line 4: no name
    ["x4", "Loud Noise", "metal", "US", "140", "n/a"],  # line 5: popularity and followers
    ["x5", "the rolling stones", "rock", "GB", "80", "14100000"],  # same act as x1
]


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_bad_rows_are_quarantined_with_reasons_and_lines(
    settings: Settings, tmp_path: Path
) -> None:
    [outcome] = ingest_files(settings, [_csv(tmp_path / "artists.csv", ARTISTS)])
    assert outcome.status == "succeeded", outcome.message
    assert outcome.entity == "artists"  # inferred from the headers
    run = outcome.run
    assert run is not None
    assert (run.records_in, run.accepted, run.quarantined) == (5, 3, 2)
    assert run.inserted == 2  # x1 and x5 are one artist

    rows = query_warehouse(
        settings, "SELECT artist_id, name, genre, country, followers FROM artists ORDER BY 1"
    )
    assert rows == [
        ("x1", "The Rolling Stones", "rock", "GB", 14_200_000),
        ("x2", "Velvet Wolves", "indie", "US", 52_000),
    ]
    quarantined = query_warehouse(
        settings, "SELECT line_number, reasons, record->>'Artist ID' FROM quarantine ORDER BY 1"
    )
    assert [(line, key) for line, _, key in quarantined] == [(4, "x3"), (5, "x4")]
    assert quarantined[0][1] == ["name: missing"]
    assert "popularity: out_of_range (must be <= 100) (got 140)" in quarantined[1][1]
    assert "followers: invalid_number (got n/a)" in quarantined[1][1]
    links = dict(query_warehouse(settings, "SELECT source_key, canonical_id FROM entity_map"))
    assert links == {"x1": "x1", "x2": "x2", "x5": "x1"}


def test_the_raw_file_and_curated_rows_land_in_the_lake(settings: Settings, tmp_path: Path) -> None:
    [outcome] = ingest_files(settings, [_csv(tmp_path / "artists.csv", ARTISTS)], source="crm")
    assert outcome.run is not None
    raw = list((settings.lake_dir / "raw" / "source=crm").glob("dt=*/*-artists.csv"))
    assert len(raw) == 1 and raw[0].read_bytes() == (tmp_path / "artists.csv").read_bytes()
    curated = list((settings.lake_dir / "curated" / "artists").glob("dt=*/*.parquet"))
    assert len(curated) == 1
    assert duckdb.execute(f"SELECT count(*) FROM '{curated[0]}'").fetchall() == [(3,)]


def test_the_same_input_twice_changes_nothing(settings: Settings, tmp_path: Path) -> None:
    path = _csv(tmp_path / "artists.csv", ARTISTS)
    ingest_files(settings, [path])
    before = query_warehouse(settings, "SELECT * FROM artists ORDER BY 1")
    [again] = ingest_files(settings, [path])
    assert again.status == "skipped" and "same content" in again.message
    [forced] = ingest_files(settings, [path], force=True)
    assert forced.status == "succeeded" and forced.run is not None
    assert (forced.run.inserted, forced.run.updated) == (0, 0)
    assert query_warehouse(settings, "SELECT * FROM artists ORDER BY 1") == before
    statuses = query_warehouse(settings, "SELECT status FROM pipeline_runs ORDER BY started_at")
    assert [s for (s,) in statuses] == ["succeeded", "succeeded"]  # skipped runs are not runs


def test_a_folder_loads_parents_first_and_translates_keys(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    _csv(folder / "a_shows.csv", [
        ["show_id", "artist_id", "venue_id", "date", "status", "min_price", "max_price"],
        ["s1", "x2", "v1", "2025-05-02", "Played", "$25.00", "$60.00"],
        ["s2", "x9", "v1", "2025-05-03", "completed", "25", "60"],  # unknown artist
    ])  # fmt: skip
    _csv(folder / "b_venues.csv", [
        ["venue_id", "venue_name", "city", "state", "country", "capacity", "type"],
        ["v1", "The Lantern Room", "NYC", "New York", "United States", "650", "Club"],
    ])  # fmt: skip
    _csv(folder / "c_artists.csv", ARTISTS)
    outcomes = ingest_files(settings, [folder])
    assert [o.entity for o in outcomes] == ["artists", "venues", "concerts"]
    assert query_warehouse(settings, "SELECT city, state, country, venue_type FROM venues") == [
        ("New York", "NY", "US", "club")
    ]
    assert query_warehouse(settings, "SELECT concert_id, artist_id, status FROM concerts") == [
        ("s1", "x2", "completed")
    ]
    [(reasons,)] = query_warehouse(
        settings, "SELECT reasons FROM quarantine WHERE entity = 'concerts'"
    )
    assert reasons == ["artist_id: orphan_fk (no artists with this id)"]
    assert query_warehouse(settings, "SELECT count(*) FROM concert_performance") == [(1,)]


def test_sales_with_wrong_amounts_are_quarantined(small_settings: Settings, tmp_path: Path) -> None:
    settings = small_settings.model_copy(update={"data_dir": tmp_path / "copy"})
    settings.data_dir.mkdir()
    settings.warehouse_file.write_bytes(small_settings.warehouse_file.read_bytes())
    concert, fan = query_warehouse(
        settings, "SELECT concert_id, (SELECT min(fan_id) FROM fans) FROM concerts LIMIT 1"
    )[0]
    path = _csv(tmp_path / "sales.csv", [
        ["order_id", "event_id", "customer_id", "purchased_at", "sales_channel", "tier", "qty",
         "price", "total"],
        ["o1", concert, fan, "2025-01-05 12:00:00", "Online", "GA", "2", "40.00", "80.00"],
        ["o2", concert, "", "2025-01-05 12:01:00", "box office", "vip", "1", "99.50", "95.00"],
        ["o3", concert, "F-nobody", "2025-01-05 12:02:00", "mobile", "general", "1", "40", "40"],
        ["o4", concert, fan, "2025-01-05 12:03:00", "app", "VIP", "1", "99.50", "99.50"],
        ["o5", concert, fan, "2025-01-06 09:00:00", "partner", "Reserved", "4", "50", "200"],
        ["o6", concert, fan, "2025-01-06 09:01:00", "carrier pigeon", "vip", "1", "50", "50"],
    ])  # fmt: skip
    [outcome] = ingest_files(settings, [path])
    assert outcome.entity == "ticket_sales" and outcome.run is not None
    assert (outcome.run.accepted, outcome.run.quarantined) == (3, 3)
    reasons = dict(query_warehouse(settings, "SELECT record->>'order_id', reasons FROM quarantine"))
    assert reasons["o2"] == ["record: amount_mismatch (amount <> quantity x unit_price)"]
    assert reasons["o3"] == ["fan_id: orphan_fk (no fans with this id)"]
    assert reasons["o6"] == ["channel: invalid_value (got carrier pigeon)"]
    # a row that failed validation is kept as written; an orphan (valid, refused afterwards) as
    # its values under the file's column names, its unknown fan included
    records = dict(query_warehouse(settings, "SELECT record->>'order_id', record FROM quarantine"))
    assert records["o2"] == (
        f'{{"order_id":"o2","event_id":"{concert}","customer_id":null,'
        '"purchased_at":"2025-01-05 12:01:00","sales_channel":"box office","tier":"vip",'
        '"qty":"1","price":"99.50","total":"95.00"}'
    )
    assert records["o3"] == (
        f'{{"order_id":"o3","event_id":"{concert}","customer_id":"F-nobody",'
        '"purchased_at":"2025-01-05 12:02:00","sales_channel":"mobile","tier":"general",'
        '"qty":"1","price":"40.00","total":"40.00"}'
    )
    assert query_warehouse(
        settings, "SELECT channel, price_tier, amount FROM ticket_sales WHERE sale_id = 'o1'"
    ) == [("web", "general", 80)]


def test_transient_failures_are_retried_then_alerted(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = ingest._transform_and_load

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) < 3:
            raise duckdb.IOException("disk hiccup")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "_transform_and_load", flaky)
    monkeypatch.setattr(ingest.time, "sleep", lambda s: None)
    [outcome] = ingest_files(settings, [_csv(tmp_path / "artists.csv", ARTISTS)])
    assert outcome.status == "succeeded" and outcome.run is not None and outcome.run.attempts == 3

    monkeypatch.setattr(
        ingest,
        "_transform_and_load",
        lambda *a, **k: (_ for _ in ()).throw(duckdb.IOException("gone")),
    )
    [failed] = ingest_files(settings, [_csv(tmp_path / "more.csv", ARTISTS[:2])])
    assert failed.status == "failed" and "after 3 attempts" in failed.message
    assert query_warehouse(
        settings, "SELECT status, attempts FROM pipeline_runs ORDER BY started_at"
    ) == [
        ("succeeded", 3),
        ("failed", 3),
    ]


# more than one DuckDB row group (122,880 rows), so a torn load could show as part of the rows
KILLED_ROWS = 150_000
# `encore ingest FILE --force` with its libraries imported before it is told to go: started
# together up front, the four runs' interpreter starts (seconds each on a loaded 2-core machine)
# overlap instead of adding up, and each run still loads in a process of its own that is killed
READY_THEN_INGEST = (
    "import sys, agent.cli, pipelines.ingest; print('ready', flush=True); sys.stdin.readline(); "
    "sys.argv = ['encore', 'ingest', *sys.argv[1:], '--force']; agent.cli.main()"
)


@pytest.mark.slow
def test_a_killed_load_leaves_the_warehouse_as_it_was(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "fans.csv"
    duckdb.execute(
        f"COPY (SELECT 'F' || i AS fan_id, 'Austin' AS city, 'TX' AS state, 'US' AS country, "
        f"'25-34' AS age_band, '2024-01-02' AS signup_date, 'rock' AS favorite_genre "
        f"FROM range({KILLED_ROWS}) t(i)) TO '{path}' (HEADER)"
    )
    env = {**os.environ, "ENCORE_DATA_DIR": str(settings.data_dir)}
    shares = (0.05, 0.4, 0.7, 0.9)
    waiting = [
        subprocess.Popen(
            [sys.executable, "-c", READY_THEN_INGEST, str(path)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for _ in shares
    ]
    try:
        for proc in waiting:
            assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"

        def start_run(proc: subprocess.Popen[bytes]) -> float:
            """Let a run go; return once its raw copy appears (it is recorded as running by
            then)."""
            before = _raw_copies(settings)
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            while _raw_copies(settings) == before and proc.poll() is None:
                time.sleep(0.002)
            return time.monotonic()

        # one full run first (in this process), to learn how long a run takes here; it creates
        # the warehouse and loads the rows
        started = time.monotonic()
        [outcome] = ingest_files(settings, [path])
        remaining = time.monotonic() - started
        assert outcome.status == "succeeded", outcome.message
        with duckdb.connect(str(settings.warehouse_file)) as con:  # start from an empty table
            con.execute("DELETE FROM fans")

        # then kill runs at points spread over the rest of the run, load and commit included
        for proc, share in zip(waiting, shares, strict=True):
            landed = start_run(proc)
            time.sleep(max(0.0, landed + remaining * share - time.monotonic()))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            (count,) = query_warehouse(settings, "SELECT count(*) FROM fans")[0]
            assert count in (0, KILLED_ROWS)  # all or nothing, never part
    finally:
        for proc in waiting:
            proc.kill()
            proc.wait()
    statuses = [s for (s,) in query_warehouse(settings, "SELECT status FROM pipeline_runs")]
    assert "running" in statuses  # at least one kill landed inside a run, not before or after it
    assert set(statuses) <= {"running", "succeeded"}
    # the next run, in this process (a process start less), loads the file whole
    [recovered] = ingest_files(settings, [path], force=True)
    assert recovered.status == "succeeded", recovered.message
    assert query_warehouse(settings, "SELECT count(*) FROM fans") == [(KILLED_ROWS,)]


def _raw_copies(settings: Settings) -> set[Path]:
    """The raw copies of fans.csv in the lake, whole or still being written."""
    return set((settings.lake_dir / "raw").rglob("*-fans.csv*"))


def test_a_mostly_bad_file_is_not_loaded_and_raises_alerts(
    settings: Settings, tmp_path: Path
) -> None:
    rows = [ARTISTS[0], ARTISTS[1], ARTISTS[3], ARTISTS[4], ["x6", "", "", "", "", ""]]
    [outcome] = ingest_files(settings, [_csv(tmp_path / "bad.csv", rows)], entity="artists")
    assert outcome.status == "failed"
    assert "75% of the rows failed validation, over the 50% limit" in outcome.message
    assert query_warehouse(settings, "SELECT count(*) FROM artists") == [(0,)]
    assert query_warehouse(settings, "SELECT count(*) FROM quarantine") == [
        (3,)
    ]  # the evidence is kept
    alerts = query_warehouse(settings, "SELECT severity, message FROM alerts ORDER BY severity")
    assert [severity for severity, _ in alerts] == ["critical", "critical"]  # rate and failed run
    metrics = dict(query_warehouse(settings, "SELECT name, value FROM pipeline_metrics"))
    assert metrics["quarantine_rate"] == 0.75 and metrics["run_failed"] == 1


def test_a_good_run_records_metrics_quality_and_catalog(settings: Settings, tmp_path: Path) -> None:
    [outcome] = ingest_files(settings, [_csv(tmp_path / "artists.csv", ARTISTS)])
    assert outcome.run is not None
    metrics = dict(query_warehouse(settings, "SELECT name, value FROM pipeline_metrics"))
    assert metrics["records_in"] == 5 and metrics["quarantine_rate"] == 0.4
    assert query_warehouse(settings, "SELECT severity FROM alerts") == [("critical",)]  # 40% > 25%
    catalog = dict(query_warehouse(settings, "SELECT dataset, row_count FROM data_catalog"))
    assert catalog["warehouse/artists"] == 2
    assert catalog["raw/files"] == 5 and catalog["curated/artists"] == 3
    located = dict(query_warehouse(settings, "SELECT dataset, location FROM data_catalog"))
    assert located["warehouse/artists"] == f"{settings.warehouse_file}#artists"  # not the input
    ingest_files(settings, [_csv(tmp_path / "more.csv", ARTISTS[:2])], entity="artists")
    catalog = dict(query_warehouse(settings, "SELECT dataset, row_count FROM data_catalog"))
    assert catalog["raw/files"] == 6  # the lake dataset grows run by run


def test_box_scores_attach_to_concerts_by_id_or_by_name(
    small_settings: Settings, tmp_path: Path
) -> None:
    settings = small_settings.model_copy(update={"data_dir": tmp_path / "copy"})
    settings.data_dir.mkdir()
    settings.warehouse_file.write_bytes(small_settings.warehouse_file.read_bytes())
    ((concert, artist, venue, city, day),) = query_warehouse(
        settings,
        "SELECT c.concert_id, a.name, v.name, v.city, c.event_date FROM concerts c "
        "JOIN artists a USING (artist_id) JOIN venues v USING (venue_id) "
        "WHERE c.status = 'completed' AND v.capacity > 100 "
        "AND concert_id NOT IN (SELECT concert_id FROM ticket_sales) ORDER BY 1 LIMIT 1",
    )
    path = _csv(tmp_path / "boxscores.csv", [
        ["Headliner", "Venue", "City", "Date", "Shows", "Attendance", "Capacity", "Gross"],
        [artist.upper(), venue, city, day.strftime("%d %B %Y"),
         "1", "95", "100", "$4,275.00"],
        ["Nobody Famous", "Nowhere Hall", "Austin", "2025-01-01", "1", "10", "100", "100"],
    ])  # fmt: skip
    [outcome] = ingest_files(settings, [path])
    assert outcome.entity == "concert_results" and outcome.run is not None
    assert (outcome.run.accepted, outcome.run.quarantined) == (1, 1)
    assert query_warehouse(settings, f"SELECT tickets_sold, capacity, gross_revenue, source FROM "
                            f"concert_results WHERE concert_id = '{concert}'") == [
        (95, 100, 4275, "files")
    ]  # fmt: skip
    performance = query_warehouse(
        settings,
        f"SELECT tickets_sold, results_source FROM concert_performance "
        f"WHERE concert_id = '{concert}'",
    )
    assert performance == [(95, "box_score")]
    [(reasons,)] = query_warehouse(settings, "SELECT reasons FROM quarantine")
    assert reasons[0].startswith(
        "record: unknown_concert (no concert of Nobody Famous at Nowhere Hall"
    )


def test_a_key_twice_in_one_file_keeps_the_first_valid_row(
    settings: Settings, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "fans.csv", [
        ["fan_id", "city", "age_band"],
        ["F1", "Austin", "ninety"],  # invalid: the valid F1 below wins
        ["F1", "Austin", "25-34"],
        ["F2", "Boston", "18-24"],
        ["F1", "Dallas", "35-44"],
    ])  # fmt: skip
    [outcome] = ingest_files(settings, [path], entity="fans")
    assert outcome.run is not None and (outcome.run.accepted, outcome.run.quarantined) == (2, 2)
    assert query_warehouse(settings, "SELECT fan_id, city, age_band FROM fans ORDER BY 1") == [
        ("F1", "Austin", "25-34"), ("F2", "Boston", "18-24")
    ]  # fmt: skip
    reasons = dict(query_warehouse(settings, "SELECT line_number, reasons FROM quarantine"))
    assert "fan_id: duplicate_key (also on line 3)" in reasons[2]
    assert reasons[5] == ["fan_id: duplicate_key (also on line 3)"]


def test_keys_in_order_with_a_repeat_past_a_row_without_a_key(
    settings: Settings, tmp_path: Path
) -> None:
    # keys in rising order are proved unique in one pass; a row with no key between two rows
    # with the same key must not hide the repeat
    path = _csv(tmp_path / "fans.csv", [
        ["fan_id", "city", "age_band"],
        ["F1", "Austin", "25-34"],
        ["", "Boston", "18-24"],
        ["F1", "Dallas", "35-44"],
        ["F2", "El Paso", "18-24"],
    ])  # fmt: skip
    [outcome] = ingest_files(settings, [path], entity="fans")
    assert outcome.run is not None and (outcome.run.accepted, outcome.run.quarantined) == (2, 2)
    assert query_warehouse(settings, "SELECT fan_id, city FROM fans ORDER BY 1") == [
        ("F1", "Austin"), ("F2", "El Paso")
    ]  # fmt: skip
    reasons = dict(query_warehouse(settings, "SELECT line_number, reasons FROM quarantine"))
    assert reasons[4] == ["fan_id: duplicate_key (also on line 2)"]


def test_real_tour_dates_from_wikipedia_become_artists_venues_and_concerts(
    settings: Settings, shared_data: Path
) -> None:
    path = shared_data / "wikipedia-world-tours-concerts" / "prepared_data_cont.csv"
    with path.open(newline="") as fh:
        rows = sum(1 for _ in csv.reader(fh)) - 1
    [outcome] = ingest_files(settings, [path], source="wikipedia")
    assert outcome.entity == "concert_listings" and outcome.run is not None
    assert outcome.status == "succeeded", outcome.message
    assert outcome.run.records_in == rows
    assert outcome.run.accepted + outcome.run.quarantined == rows  # nothing dropped
    # a footnote-marked date ("18 March 2019[b]") still counts; a date without a year does not
    dates = query_warehouse(
        settings,
        "SELECT c.event_date FROM concerts c JOIN artists a USING (artist_id) "
        "JOIN venues v USING (venue_id) WHERE a.name = 'Elton John' AND v.name = 'Amway Center'",
    )
    assert (date(2019, 3, 18),) in dates
    no_year = query_warehouse(settings, "SELECT count(*) FROM quarantine WHERE reasons[1] LIKE "
                               "'event_date: invalid_date (got % March)'")  # fmt: skip
    assert no_year[0][0] > 0
    venue = query_warehouse(settings, "SELECT city, country, round(latitude, 2) FROM venues "
                             "WHERE name = 'PPL Center'")  # fmt: skip
    assert venue == [("Allentown", "US", 40.6)]
    # the same file again maps to the same entities: nothing new
    [again] = ingest_files(settings, [path], source="wikipedia", force=True)
    assert again.run is not None and again.run.inserted == 0


def test_box_scores_of_unknown_concerts_found_them(settings: Settings, tmp_path: Path) -> None:
    rows = [
        ["Artist", "Venue", "City", "Country", "Date", "Tickets Sold", "Capacity", "Gross"],
        ["Velvet Wolves", "Mohawk", "Austin", "US", "2025-03-14", "850", "900", "$21,250.00"],
        ["Velvet Wolves", "Stubb's", "Austin", "US", "2025-03-15", "2000", "2100", "50000"],
        ["Nobody Famous", "Nowhere Hall", "Austin", "", "2025-01-01", "10", "100", "100"],
    ]
    path = _csv(tmp_path / "boxscores.csv", rows)
    [outcome] = ingest_files(settings, [path])
    assert outcome.status == "succeeded" and outcome.run is not None, outcome.message
    assert (outcome.run.accepted, outcome.run.quarantined) == (2, 1)  # no country: not founded
    assert query_warehouse(settings, "SELECT name FROM artists") == [("Velvet Wolves",)]
    assert query_warehouse(settings, "SELECT name, city, country FROM venues ORDER BY 1") == [
        ("Mohawk", "Austin", "US"), ("Stubb's", "Austin", "US"),
    ]  # fmt: skip
    performance = query_warehouse(
        settings,
        "SELECT c.event_date::VARCHAR, c.status, p.tickets_sold, p.capacity, p.results_source "
        "FROM concerts c JOIN concert_performance p USING (concert_id) ORDER BY 1",
    )
    assert performance == [
        ("2025-03-14", "completed", 850, 900, "box_score"),
        ("2025-03-15", "completed", 2000, 2100, "box_score"),
    ]
    [(reasons,)] = query_warehouse(settings, "SELECT reasons FROM quarantine")
    assert reasons[0].startswith("record: unknown_concert (no concert of Nobody Famous")
    # the same report again (forced) finds what it founded: nothing new
    [again] = ingest_files(settings, [path], force=True)
    assert again.run is not None and (again.run.inserted, again.run.updated) == (0, 0)
    assert query_warehouse(settings, "SELECT count(*) FROM concerts") == [(2,)]


def test_a_file_written_to_during_its_ingest_fails_and_loads_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _csv(tmp_path / "artists.csv", ARTISTS)
    hash_of = ingest.sha256_of

    def hashed_then_appended(file: Path) -> str:
        digest = hash_of(file)
        with file.open("a", newline="") as more:  # someone else still writing the file
            csv.writer(more).writerow(["x6", "Late Row", "rock", "US", "50", "100"])
        return digest

    monkeypatch.setattr(ingest, "sha256_of", hashed_then_appended)
    monkeypatch.setattr(ingest, "plan_file", lambda con, file: None)  # read only after the write
    [outcome] = ingest_files(settings, [path], entity="artists")
    assert outcome.status == "failed"
    assert "changed while it was being ingested" in (outcome.message or "")
    assert query_warehouse(settings, "SELECT count(*) FROM artists") == [(0,)]


def test_columns_that_name_no_field_are_said_and_kept_in_the_ledger(
    settings: Settings, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "fans.csv", [
        ["fan_id", "city", "age_band", "parking_spots", "Label"],
        ["F1", "Austin", "25-34", "2", "vip"],
    ])  # fmt: skip
    [outcome] = ingest_files(settings, [path], entity="fans")
    assert outcome.status == "succeeded" and outcome.run is not None
    assert outcome.message == (
        "2 column(s) not loaded, no field of fans has their name: parking_spots, Label"
    )
    [(inputs,)] = query_warehouse(
        settings, f"SELECT inputs FROM pipeline_runs WHERE run_id = '{outcome.run.run_id}'"
    )
    assert json.loads(str(inputs))[0]["unused_columns"] == ["parking_spots", "Label"]
