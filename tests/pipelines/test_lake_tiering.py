"""Lake tiering as an operator runs it: old raw partitions go cold, read ones stay hot, nothing
is lost, a rerun changes nothing, a dry run changes nothing; S3 gets lifecycle rules."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from pipelines.commands import app
from pipelines.lake.access import access_path, record_reads
from pipelines.lake.tiering import TierPolicy, apply, plan
from tests.conftest import query_warehouse
from tests.pipelines.lake_helpers import (
    DAYS_AGO,
    artists_on,
    copy_lake,
    day,
    ingested_lake,
)
from tools.context import ToolContext
from tools.query.runner import run_sql

POLICY = TierPolicy(hot_days=30, read_keeps_hot_days=30)


@pytest.fixture
def lake(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Settings:
    """A private copy of the ingested lake and warehouse (tiering moves files)."""
    return copy_lake(ingested_lake(tmp_path_factory), tmp_path)


def _files(settings: Settings) -> dict[str, int]:
    return {
        str(p.relative_to(settings.lake_dir)): p.stat().st_size
        for p in sorted(settings.lake_dir.rglob("*"))
        if p.is_file()
    }


def _raw(settings: Settings) -> list[list[object]]:
    return run_sql(
        ToolContext(settings, user="counter", role="admin"),
        "SELECT source, dt, name, bytes, md5(content) AS md5 FROM raw_files ORDER BY ALL",
    ).rows


def _age_reads(settings: Settings, days: int = 90) -> None:
    """Make every logged lake read `days` old (the test's own counting reads them all)."""
    at = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    with closing(sqlite3.connect(access_path(settings))) as con, con:
        con.execute("UPDATE lake_access SET at = ?", (at,))


def _curated_rows(settings: Settings) -> list[list[object]]:
    return run_sql(
        ToolContext(settings, user="counter", role="admin"),
        "SELECT dt, count(*) AS n FROM curated_artists GROUP BY dt ORDER BY dt",
    ).rows


def test_dry_run_changes_nothing(lake: Settings) -> None:
    before = _files(lake)
    runs = query_warehouse(lake, "SELECT count(*) FROM pipeline_runs")
    report = apply(lake, POLICY, dry_run=True)
    assert report.dry_run and report.run_id is None
    assert sorted((p.dataset, p.partition, p.action) for p in report.partitions) == [
        ("raw/crm", f"dt={day(100)}", "cold"),
        ("raw/crm", f"dt={day(60)}", "cold"),
        ("raw/files", f"dt={day(60)}", "cold"),
    ]
    assert _files(lake) == before
    assert query_warehouse(lake, "SELECT count(*) FROM pipeline_runs") == runs


def test_old_partitions_go_cold_read_ones_stay_hot_and_nothing_is_lost(lake: Settings) -> None:
    raw_before, curated_before = _raw(lake), _curated_rows(lake)
    _age_reads(lake)
    # someone reads the crm partition of 60 days ago through the lake engine
    run_sql(
        ToolContext(lake, user="analyst1", role="admin"),
        f"SELECT count(*) FROM raw_files WHERE source = 'crm' AND dt = DATE '{day(60)}'",
    )
    report = apply(lake, POLICY)
    actions = {(p.dataset, p.partition): p.action for p in report.partitions}
    assert actions == {
        ("raw/crm", f"dt={day(100)}"): "cold",
        ("raw/crm", f"dt={day(60)}"): "hot (read)",
        ("raw/files", f"dt={day(60)}"): "cold",
    }
    hot = lake.lake_dir / "raw"
    cold = lake.lake_dir / "cold" / "raw"
    assert not (hot / "source=crm" / f"dt={day(100)}").exists()
    assert not (hot / "source=files").exists()
    assert len(list((cold / "source=crm" / f"dt={day(100)}").glob("*.parquet"))) == 1
    assert (hot / "source=crm" / f"dt={day(60)}").is_dir()

    # every raw object is still there, byte for byte, through the lake engine
    assert _raw(lake) == raw_before
    assert _curated_rows(lake) == curated_before  # curated data is never tiered
    tiers = run_sql(
        ToolContext(lake, role="admin"),
        "SELECT source, dt, tier FROM raw_files ORDER BY source, dt",
    ).rows
    assert tiers == [
        ["crm", day(100).isoformat(), "cold"],
        ["crm", day(60).isoformat(), "hot"],
        ["crm", day(2).isoformat(), "hot"],
        ["files", day(60).isoformat(), "cold"],
    ]

    # the catalog follows the files; the run is in the ledger
    catalog = {
        d: (loc, sorted(cast(list[str], p)))
        for d, loc, p in query_warehouse(
            lake, "SELECT dataset, location, partitions FROM data_catalog WHERE zone = 'raw'"
        )
    }
    assert catalog["raw/crm"][1] == [f"dt={day(60)}", f"dt={day(2)}"]
    assert catalog["raw/crm/cold"] == (str(cold / "source=crm"), [f"dt={day(100)}"])
    assert catalog["raw/files"][1] == []
    assert catalog["raw/files/cold"] == (str(cold / "source=files"), [f"dt={day(60)}"])
    [(status, inputs, files)] = query_warehouse(
        lake, "SELECT status, inputs, records_in FROM pipeline_runs WHERE pipeline = 'lake-tier'"
    )
    assert status == "succeeded" and files == 2
    assert {(i["dataset"], i["action"]) for i in json.loads(str(inputs))} == {
        ("raw/crm", "cold"),
        ("raw/files", "cold"),
    }

    # a second run has nothing to do and leaves everything as it was
    after = _files(lake)
    catalog_after = query_warehouse(lake, "SELECT * FROM data_catalog ORDER BY dataset")
    again = apply(lake, POLICY)
    assert query_warehouse(lake, "SELECT * FROM data_catalog ORDER BY dataset") == catalog_after
    assert again.run_id is None and again.count("cold") == 0
    assert _files(lake) == after
    assert query_warehouse(
        lake, "SELECT count(*) FROM pipeline_runs WHERE pipeline = 'lake-tier'"
    ) == [(1,)]


def test_expiry_removes_old_raw_but_never_curated(lake: Settings) -> None:
    curated = _curated_rows(lake)
    _age_reads(lake)
    apply(lake, POLICY)
    report = apply(lake, TierPolicy(hot_days=30, raw_expiry_days=90))
    assert [
        (p.dataset, p.partition, p.tier) for p in report.partitions if p.action == "expire"
    ] == [("raw/crm", f"dt={day(100)}", "cold")]
    assert [r[:2] for r in _raw(lake)] == [
        ["crm", day(60).isoformat()],
        ["crm", day(2).isoformat()],
        ["files", day(60).isoformat()],
    ]
    assert _curated_rows(lake) == curated
    assert sum(cast(int, n) for _, n in curated) == sum(len(artists_on(a)) for a in DAYS_AGO)
    assert query_warehouse(
        lake, "SELECT partitions FROM data_catalog WHERE dataset = 'raw/crm/cold'"
    ) == [([f"dt={day(60)}"],)]


def test_a_crash_after_packing_loses_nothing_on_rerun(
    lake: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw_before = _raw(lake)
    _age_reads(lake)
    from pipelines.lake import tiering

    monkeypatch.setattr(tiering, "_remove_empty", _crash)
    with pytest.raises(RuntimeError):
        apply(lake, POLICY)
    monkeypatch.undo()
    apply(lake, POLICY)
    assert _raw(lake) == raw_before  # no object twice, none lost
    assert plan(lake, POLICY) == []
    runs = query_warehouse(
        lake,
        "SELECT status, error FROM pipeline_runs WHERE pipeline = 'lake-tier' ORDER BY started_at",
    )
    assert runs == [("failed", "power cut"), ("succeeded", None)]


def _crash(*_: object, **__: object) -> None:
    raise RuntimeError("power cut")


def test_encore_lake_tier_command(lake: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    monkeypatch.setenv("ENCORE_DATA_DIR", str(lake.data_dir))
    monkeypatch.setenv("ENCORE_LAKE_HOT_DAYS", "30")
    root = typer.Typer()
    root.registered_groups.extend(app.registered_groups)
    out = CliRunner().invoke(root, ["lake", "tier", "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "dry run" in out.output and "3 partitions" in out.output
    out = CliRunner().invoke(root, ["lake", "tier"])
    assert out.exit_code == 0, out.output
    assert "moved 3 partitions to cold" in out.output


def _log(settings: Settings) -> list[tuple[str, str, str]]:
    with closing(sqlite3.connect(access_path(settings))) as con:
        rows = con.execute("SELECT user, dataset, partition FROM lake_access ORDER BY 1, 2, 3")
        return [(str(u), str(d), str(p)) for u, d, p in rows.fetchall()]


def test_the_access_log_keeps_only_what_tiering_needs(lake: Settings) -> None:
    now = datetime.now(UTC)
    old, read = ("raw/crm", f"dt={day(100)}"), ("raw/crm", f"dt={day(60)}")
    record_reads(lake, "analyst1", [old], at=now - timedelta(days=90))
    for days_ago in (20, 10, 5):  # read again and again: one entry, the latest
        record_reads(lake, "analyst1", [read], at=now - timedelta(days=days_ago))
    record_reads(lake, "analyst2", [read], at=now - timedelta(days=40))
    assert _log(lake) == [("analyst1", *old), ("analyst1", *read), ("analyst2", *read)]
    assert apply(lake, POLICY, dry_run=True).reads_pruned == 0 and len(_log(lake)) == 3

    report = apply(lake, POLICY)
    # reads older than the 30-day window can keep nothing hot any more: pruned
    assert report.reads_pruned == 2
    assert _log(lake) == [("analyst1", *read)]
    actions = {(p.dataset, p.partition): p.action for p in report.partitions}
    assert actions[read] == "hot (read)" and actions[old] == "cold"
