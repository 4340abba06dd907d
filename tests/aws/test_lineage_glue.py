"""`encore pipeline lineage` follows an entity's raw files through the Glue runs that read them.

Two sources ingested locally link two records to one artist; a Glue run recorded as
`encore aws etl run` records it (`record_run`, from the job's manifest) read one of those raw
files, another Glue run an unrelated file. The lineage names the first, its curated output and
its Redshift table, and not the second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from core.warehouse import reading, writing
from pipelines.aws.glue_etl import record_run
from pipelines.commands.common import pipeline_app
from pipelines.ingest import ingest_files

DAY = "2026-11-27"


def _glue_file(uri: str, outputs: list[str]) -> dict[str, Any]:
    return {"uri": uri, "entity": "artists", "rows": 1, "accepted": 1, "quarantined": 0,
            "status": "succeeded", "message": "", "outputs": outputs,
            "datasets": {"artists": {"artist_id": "VARCHAR", "_resolved": "BOOLEAN"}}}  # fmt: skip


def test_lineage_shows_the_glue_runs_over_the_entitys_raw_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "encore")
    crm, partner = tmp_path / "crm.csv", tmp_path / "partner.csv"
    crm.write_text("artist_id,name,genre\nA1,The Velvet Wolves,indie\n")
    partner.write_text("artist_id,name,genre\nX9,Velvet Wolves,indie\n")
    for path, source in ((crm, "crm"), (partner, "partner")):
        [done] = ingest_files(settings, [path], source=source)
        assert done.status == "succeeded", done.message
    with reading(settings) as con:
        [(raw,)] = con.execute(
            "SELECT r.inputs->0->>'raw_uri' FROM entity_map m JOIN pipeline_runs r USING (run_id) "
            "WHERE m.source = 'partner'"
        ).fetchall()
    curated = f"file:{tmp_path}/lake/curated/artists/dt={DAY}/partner-00000.parquet"
    manifest = {"run_id": "jr_lineage", "source": "partner", "dt": DAY, "files": [
        _glue_file(f"file:{raw}", [curated, f"file:{tmp_path}/lake/curated/quarantine/q.parquet"]),
    ]}  # fmt: skip
    other = "s3a://b/raw/source=partner/dt=x/other.csv"
    unrelated = {"run_id": "jr_elsewhere", "source": "partner", "dt": DAY,
                 "files": [_glue_file(other, [])]}  # fmt: skip
    with writing(settings) as con:
        assert record_run(con, manifest, "b") == 1
        assert record_run(con, unrelated, "b") == 1
    monkeypatch.setenv("ENCORE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ENCORE_REDSHIFT_SCHEMA", "analytics")

    shown = CliRunner().invoke(pipeline_app, ["lineage", "artists", "A1"], terminal_width=400)

    assert shown.exit_code == 0, shown.output
    assert "crm" in shown.output and "X9" in shown.output  # the source records, as before
    glue = shown.output.split("Glue ETL runs over these raw files", 1)[1]
    assert "jr_lineage" in glue and "jr_elsewhere" not in glue
    assert f"raw file:{raw}" in glue and "-> Glue run jr_lineage" in glue
    assert f"-> curated {curated}" in glue and "-> Redshift analytics.artists" in glue
    assert "quarantine" not in glue  # only the entity's curated dataset

    alone = CliRunner().invoke(pipeline_app, ["lineage", "venues", "V1"], terminal_width=400)
    assert alone.exit_code == 1 and "no venue 'V1' in the warehouse" in alone.output
