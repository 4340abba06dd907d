"""`encore pipeline run` as a user runs it: every source, one summary, quality after."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from core.settings import Settings
from pipelines.generate import SCALES, generate
from pipelines.generate.dirty import make_dirty
from pipelines.orchestrate import run_pipeline
from pipelines.sinks.files import FileSink


def test_a_run_loads_the_landing_folder_and_skips_unconfigured_sources(
    settings: Settings,
) -> None:
    landing = settings.data_dir / "landing"
    with FileSink(landing, "csv") as sink:
        for name, chunk in make_dirty(generate(SCALES["small"], 5, date(2026, 5, 1)), 5):
            if name.startswith("encore_crm/"):
                sink.write(name, chunk)
    steps, report = run_pipeline(settings)
    by_name = {s.name: s for s in steps}
    assert by_name["files"].status == "done", by_name["files"].detail
    records, accepted, quarantined = by_name["files"].records
    assert records == accepted + quarantined and quarantined > 0  # the dirty rows, kept aside
    assert by_name["stream"].status == "skipped"
    assert "ENCORE_TICKETMASTER_API_KEY" in by_name["ticketmaster"].detail
    assert by_name["spotify"].status == "skipped"
    assert report.passed

    again, _ = run_pipeline(settings)  # nothing new in the landing folder: nothing loads twice
    assert "6 already loaded" in {s.name: s for s in again}["files"].detail


def test_lineage_names_every_source_record_of_an_entity(tmp_path: Path) -> None:
    env = {**os.environ, "ENCORE_DATA_DIR": str(tmp_path / "encore"), "COLUMNS": "200"}
    encore = str(Path(sys.executable).parent / "encore")
    crm = tmp_path / "crm.csv"
    crm.write_text("artist_id,name,genre\nA1,The Velvet Wolves,indie\n")
    other = tmp_path / "other.csv"
    other.write_text("artist_id,name,genre\nX9,Velvet Wolves,indie\n")
    for path, source in ((crm, "crm"), (other, "partner")):
        done = subprocess.run([encore, "ingest", str(path), "--source", source], env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    shown = subprocess.run([encore, "pipeline", "lineage", "artists", "A1"], env=env,
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "crm" in shown.stdout and "partner" in shown.stdout and "X9" in shown.stdout
    assert "founded" in shown.stdout
