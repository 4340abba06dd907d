"""The ETL on Spark: the DuckDB transforms transpiled by sqlglot give the same rows.

Every test here shares the session's local Spark (`spark` in conftest.py; ~10 s to start).

(a) Parity: messy files (every edge of the casts, dates, enums and names the rules know) and the
    real Wikipedia tour dates are read once by the ingest's reader, then classified by the DuckDB
    SQL as generated and by its Spark transpilation: the accepted values and the quarantine
    reasons must be identical, row by row.
(b) The Glue job script end to end on a file:// lake (Spark's S3A needs hadoop-aws jars, which
    are not installed): raw partition in, curated Parquet and the quarantine dataset out. Its S3
    side (upload, job, trigger, run polling) is tested against moto in test_glue_etl.py.
"""

from __future__ import annotations

import csv
import json
import shutil
import unicodedata
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.aws.spark import java_format, java_regex, plan_transforms, run_transforms, to_spark
from pipelines.sources.files import read_file

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Spark's start (~10 s) and its first compile of the transforms (~10 s) dominate
pytestmark = pytest.mark.slow


# -- messy inputs ---------------------------------------------------------------------------

INTEGERS = ["1", "1.5", "2.5", "-1.5", "1e3", "+5", "0x10", "1_000", "9223372036854775808", "01",
            "1.", ".5", "1,000", "$5", "NaN", "-0", "12 000", "abc", "", "  7  ", "1d", "0x1F",
            "5e-1", "99999999999", "250001", "0"]  # fmt: skip
DOUBLES = ["NaN", "inf", "Infinity", "-inf", "1e400", "1.5", "1e3", "0x10", ".5", "5.", "1_0",
           "+1", "1d", "1f", "40.6022059", "-75.47", "91", "-180.0", "1,5", "$3", "",
           "  12.5 "]  # fmt: skip
DECIMALS = ["12.345", "12.355", "-12.345", "1e2", "1.5e-1", "0.005", "99999999999999999999",
            "1_0", "12.3456789012", ".5", "5.", "+1.5", "NaN", "$1,200.50", "€30", "£7.5",
            "1 000.00", "12.30", "12.300", "abc", "", "1d", "0"]  # fmt: skip
DATES = ["2024-01-02", "2024-1-2", "2024", "2024-01", "2024-01-02T10:00", "2024-01-02 10:00",
         "2024-01-02x", "20240102", "2024/01/02", "0202-05-01", "2024-02-30", "8 September 2018",
         "September 8, 2018", "Sep 8, 2018", "8 Sep 2018", "18 March 2019[b]", "09/08/2018",
         "8.9.2018", "2018/9/8", "1 April", "8 september 2018", "8 SEPTEMBER 2018",
         "Sept 8, 2018", "2024-01-02T", "31/12/2020", "2024-01-02\n", "12 May 2019[note 3]",
         "2019-05-12[3]", "", "2024.01.02", "1949-12-31", "2040-01-01", "May 5 2019"]  # fmt: skip
TIMESTAMPS = ["2024-01-02 10:00:00", "2024-01-02T10:00:00", "2024-01-02 10:00", "2024-01-02",
              "2024-01-02 10", "2024-01-02T10:00:00Z", "2024-01-02T10:00:00+02:00",
              "2024-01-02T10:00:00+0200", "2024-01-02T10:00:00+02", "2024-01-02T10:00Z",
              "2024-01-02 10:00:00.123456", "2024-01-02 25:00:00", "2024-01-02 10:00:00 UTC",
              "2024-01-02T10:00:00-05:30", "01/02/2024 10:30", "01/02/2024 10:30:15",
              "02.01.2024 10:30", "garbage", "2024-13-01 10:00:00", "", "1/2/2024 9:05",
              "2024-01-02T10:00:00.5Z"]  # fmt: skip
CHANNELS = ["Box Office", "box-office", "BOXOFFICE", "web", "Online", "app", "resale",
            "ticketmaster", "", " mobile "]  # fmt: skip
TIERS = ["GA", "General Admission", "vip", "VIP", "Reserved Seating", "premium ", "floor"]
NAMES = [unicodedata.normalize("NFD", "Beyoncé"), "Rolling Stones, The", "Jay-Z ft. Kanye",
         "Jay-Z FEAT Kanye", "Amway Center[1]", "  spaced   name ", "x" * 201, "",
         "Sigur Rós", "A Band, A", "Tab\tSeparated", "AC/DC & Friends", "line\nbreak"]  # fmt: skip
IDS = ["A1", "x" * 65, "", " B2 ", "ÄÖ-3"]
COUNTRIES = ["United States", "usa", "gb", "Deutschland", "U.S.", "XYZ", "", "mx",
             "Republic of Korea"]  # fmt: skip
CITIES = ["NYC", "new york city", "Saint Louis", "Ft. Worth", "Mexico City[2]", "", "L.A."]
STATES = ["California", "tx", "New South Wales", "Bavaria", "x" * 65, ""]
ZONES = ["America/Mexico_City", "Europe/London", "UTC", "bad zone", "Etc/GMT+5", "", "Europe/"]
VENUE_TYPES = ["Arena", "theatre", "Nightclub", "open air", "festival", "bowl", ""]
STATUSES = ["Scheduled", "canceled", "played", "postponed", "tbd", ""]
SPOTIFY = ["4Z8W4fKeB5YxbusRsdQVPb", "short", "", "4Z8W4fKeB5YxbusRsdQVP!"]
BANDS = ["18-24", "65+", "25 - 34", "teen", ""]

MESSY: dict[str, dict[str, list[str]]] = {
    "venues": {"Venue ID": IDS, "Venue Name": NAMES, "City": CITIES, "State": STATES,
               "Country": COUNTRIES, "lat": DOUBLES, "lng": DOUBLES[::-1],
               "Seating Capacity": INTEGERS, "type": VENUE_TYPES, "timezone": ZONES},
    "concerts": {"event_id": IDS, "artist_id": IDS[::-1], "venue_id": ["V1", "V2"],
                 "date": DATES, "tour": NAMES, "status": STATUSES, "onsale_date": DATES[::-1],
                 "min_price": DECIMALS, "max_price": DECIMALS[::-1],
                 "currency": ["usd", "MXN", "€", "", "EURO"], "starts_at": TIMESTAMPS},
    "ticket_sales": {"order_id": IDS, "event_id": ["C1", "C2"], "customer_id": IDS,
                     "purchased_at": TIMESTAMPS, "sales_channel": CHANNELS, "tier": TIERS,
                     "qty": INTEGERS, "price": DECIMALS, "total": DECIMALS[3:] + DECIMALS[:3]},
    "artists": {"id": IDS, "artist_name": NAMES, "genres": ["Rock", " POP ", "", "Hip Hop"],
                "country": COUNTRIES, "popularity": INTEGERS, "followers": INTEGERS[::-1],
                "formed": INTEGERS, "spotify_artist_id": SPOTIFY},
    "fans": {"fan_id": IDS, "city": CITIES, "state": STATES, "country": COUNTRIES,
             "age_group": BANDS, "joined": DATES, "genre": ["Rock", "", " Jazz "]},
    "concert_results": {"concert_id": IDS + [""] * 3, "headliner": NAMES, "venue": NAMES[::-1],
                        "city": CITIES, "date": DATES, "shows": INTEGERS,
                        "attendance": INTEGERS[::-1], "capacity": INTEGERS, "gross": DECIMALS},
}  # fmt: skip


def _write_messy(folder: Path, entity: str) -> Path:
    columns = MESSY[entity]
    count = max(len(values) for values in columns.values()) * 2
    path = folder / f"{entity}.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for i in range(count):  # each column cycles its values at its own pace
            writer.writerow([values[(i * (k + 1) + i // len(values)) % len(values)]
                             for k, values in enumerate(columns.values())])  # fmt: skip
    return path


# -- the two engines ------------------------------------------------------------------------


Classified = tuple[list[dict[str, Any]], dict[int, list[str]], list[dict[str, Any]]]


def _duckdb(path: Path, entity: str) -> Classified:
    """Accepted rows, quarantine reasons by line, and the raw rows, as ingest's DuckDB SQL does."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    parsed = read_file(con, path, table="_raw")
    plan = plan_transforms(entity, [*parsed.columns, "_line"], "_raw")
    rows = con.execute(f"SELECT * FROM ({plan.sql}) ORDER BY _line").fetchall()
    names = [d[0] for d in con.description]
    checked = [dict(zip(names, row, strict=True)) for row in rows]
    raw_names = [*parsed.columns, "_line"]
    raw_rows = con.execute("SELECT * FROM _raw ORDER BY _line").fetchall()
    raw = [dict(zip(raw_names, r, strict=True)) for r in raw_rows]
    con.close()
    accepted = [{k: r[k] for k in [*plan.fields, "_line"]} for r in checked if not r["_reasons"]]
    quarantined = {r["_line"]: list(r["_reasons"]) for r in checked if r["_reasons"]}
    return accepted, quarantined, raw


def _spark(spark: SparkSession, raw: list[dict[str, Any]], entity: str) -> Classified:
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    names = list(raw[0])
    schema = StructType(
        [StructField(n, LongType() if n == "_line" else StringType()) for n in names]
    )
    frame = spark.createDataFrame([tuple(r[n] for n in names) for r in raw], schema)
    result = run_transforms(spark, frame, entity)
    # one Spark job for both outcomes (each action would run the transforms again)
    checked = sorted((r.asDict() for r in result.checked.collect()), key=lambda r: r["_line"])
    accepted = [{k: r[k] for k in [*result.fields, "_line"]} for r in checked if not r["_reasons"]]
    quarantined = {r["_line"]: list(r["_reasons"]) for r in checked if r["_reasons"]}
    return accepted, quarantined, [r for r in checked if r["_reasons"]]


def _assert_same(spark: SparkSession, path: Path, entity: str) -> tuple[int, int]:
    accepted, quarantined, raw = _duckdb(path, entity)
    spark_accepted, spark_quarantined, records = _spark(spark, raw, entity)
    assert spark_quarantined == quarantined
    assert len(spark_accepted) == len(accepted)
    for mine, theirs in zip(spark_accepted, accepted, strict=True):
        assert mine == theirs, (mine, theirs)
    by_line = {r["_line"]: r for r in raw}
    for row in records:  # the raw row rides along for the quarantine's record
        sources = [v for k, v in row.items() if k.startswith("_src_")]
        original = [v for k, v in by_line[row["_line"]].items() if k != "_line"]
        assert sources == original
    return len(accepted), len(quarantined)


@pytest.mark.parametrize("entity", list(MESSY))
def test_messy_rows_are_classified_alike_by_duckdb_and_spark(
    spark: SparkSession, tmp_path: Path, entity: str
) -> None:
    accepted, quarantined = _assert_same(spark, _write_messy(tmp_path, entity), entity)
    assert quarantined > 0 and accepted + quarantined >= 2 * len(NAMES)


def test_real_tour_dates_are_classified_alike(spark: SparkSession, shared_data: Path) -> None:
    source = shared_data / "wikipedia-world-tours-concerts" / "prepared_data_cont.csv"
    accepted, quarantined = _assert_same(spark, source, "concert_listings")
    assert accepted + quarantined == 7397
    assert accepted > 6000 and quarantined > 0  # e.g. dates without a year ("1 April")


def test_rules_that_do_not_transpile_by_themselves() -> None:
    assert java_format("%d %B %Y") == "d MMMM yyyy"
    assert java_format("%Y%m%d") == "yyyyMMdd"  # numbers that touch need fixed widths
    assert java_format("%m/%d/%Y %H:%M") == "M/d/yyyy H:m"
    assert java_regex(r"^[A-Z]{2}$") == r"^[A-Z]{2}\z"
    assert java_regex(r"[,\s_]") == "[,\\t\\n\\f\\r _]"
    spark_sql = to_spark("SELECT regexp_replace(x, '\\s+(ft\\.?)\\s+', ' \\1 ', 'gi') FROM t")
    assert "(?iu)" in spark_sql and "' $1 '" in spark_sql
    assert "STARTSWITH" in to_spark("SELECT prefix(x, ' ') FROM t").upper()


# -- the Glue job script, end to end on a file:// lake -----------------------------------------

LISTINGS_CSV = """Artist,Venue,City,Country,Date,Tour title
Elton John,PPL Center,Allentown,United States,8 September 2018,Farewell Yellow Brick Road
"Rolling Stones, The",Wembley Stadium,London,UK,"June 25, 2022",Sixty
Nobody,Nowhere,,Atlantis,1 April,No Year
"""
FANS_BAD_CSV = "fan_id,age_group,joined\n,teen,yesterday\n,old,soon\n"


def _parquet_rows(folder: Path) -> list[dict[str, Any]]:
    return [row for path in sorted(folder.glob("*.parquet"))
            for row in pq.read_table(path).to_pylist()]  # fmt: skip


def test_glue_job_turns_a_raw_partition_into_curated_parquet_and_a_quarantine(
    spark: SparkSession, tmp_path: Path
) -> None:
    from pipelines.aws.glue_job import main

    day = "2026-11-27"
    raw = tmp_path / "lake" / "raw" / "source=files" / f"dt={day}"
    raw.mkdir(parents=True)
    venues = _write_messy(tmp_path, "venues")
    shutil.copy(venues, raw / "run1-venues.csv")
    (raw / "run2-listings.csv").write_text(LISTINGS_CSV)
    (raw / "run3-fans.csv").write_text(FANS_BAD_CSV)
    argv = ["--lake", f"file://{tmp_path / 'lake'}", "--source", "files", "--dt", day,
            "--JOB_RUN_ID", "jr_1", "--max_quarantine_rate", "0.99"]  # fmt: skip

    assert main(argv, spark=spark) == 1  # the fans file has only bad rows: the run fails

    curated = tmp_path / "lake" / "curated"
    accepted, quarantined, _ = _duckdb(venues, "venues")
    got = _parquet_rows(curated / "venues" / f"dt={day}")
    assert [p.name for p in (curated / "venues" / f"dt={day}").glob("*.parquet")] == [
        "run1-venues-00000.parquet"
    ]

    fields = [{k: r[k] for k in accepted[0]} for r in got]  # beside them: _source, _resolved...
    assert sorted(fields, key=lambda r: r["_line"]) == accepted  # the same lines, too
    quarantine = _parquet_rows(curated / "quarantine" / f"dt={day}")
    venue_reasons = {r["line_number"]: r["reasons"] for r in quarantine if r["entity"] == "venues"}
    assert venue_reasons == quarantined
    assert {r["run_id"] for r in quarantine} == {"jr_1"}

    listings = _parquet_rows(curated / "concert_listings" / f"dt={day}")
    assert [(r["artist"], r["country"], r["event_date"]) for r in listings] == [
        ("Elton John", "US", date(2018, 9, 8)),
        ("The Rolling Stones", "GB", date(2022, 6, 25)),
    ]
    [nobody] = [r for r in quarantine if r["entity"] == "concert_listings"]
    assert nobody["line_number"] == 4 and json.loads(nobody["record"])["Artist"] == "Nobody"
    assert "event_date: invalid_date (got 1 April)" in nobody["reasons"]
    assert not (curated / "fans").exists()  # over the quarantine limit: nothing curated
    assert sum(r["entity"] == "fans" for r in quarantine) == 2

    # a rerun replaces its outputs instead of adding copies
    assert main(argv, spark=spark) == 1
    assert len(_parquet_rows(curated / "quarantine" / f"dt={day}")) == len(quarantine)
    assert len(_parquet_rows(curated / "venues" / f"dt={day}")) == len(got)


def test_glue_job_arguments_are_parsed_like_glue_passes_them() -> None:
    from pipelines.aws.glue_job import JobArgumentError, parse_options, partition_day

    argv = ["script.py", "--lake", "s3://b", "--source=files", "--dt", "today",
            "--job-bookmark-option", "job-bookmark-disable"]  # fmt: skip
    options = parse_options(argv, ["lake", "dt"])
    assert options["lake"] == "s3://b" and options["source"] == "files"
    assert options["max_quarantine_rate"] == "0.5"  # optional, defaulted
    assert options["job_bookmark_option"] == "job-bookmark-disable"  # Glue's own pass through
    assert partition_day("2026-11-27") == "2026-11-27"
    with pytest.raises(JobArgumentError, match="missing job arguments: --dt"):
        parse_options(["--lake", "s3://b"], ["lake", "dt"])
    with pytest.raises(JobArgumentError, match="--lake needs a value"):
        parse_options(["--lake", "--dt", "x"], ["lake"])
    with pytest.raises(JobArgumentError, match="YYYY-MM-DD"):
        partition_day("27/11/2026")
