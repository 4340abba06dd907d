"""The data catalog (requirement 7.2): what each dataset is, where it lives and how big it is.

Updated after every load for the warehouse tables and the lake datasets the run touched; the
Glue Data Catalog plays this part at scale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb

from core.warehouse import CONTRACT_TABLES
from pipelines.ledger import utc_now


@dataclass(frozen=True)
class Dataset:
    """One catalog entry: a lake dataset or a warehouse table."""

    name: str
    zone: str
    location: str
    fmt: str
    schema: dict[str, str]
    partitions: list[str]
    rows: int


def record_datasets(con: duckdb.DuckDBPyConnection, datasets: list[Dataset]) -> None:
    """Insert or refresh catalog entries, in one statement (a load records nine)."""
    if not datasets:
        return
    now = utc_now()
    values = [
        [d.name, d.zone, d.location, d.fmt, json.dumps(d.schema), d.partitions, d.rows, now]
        for d in datasets
    ]
    con.execute(
        f"""INSERT INTO data_catalog (dataset, zone, location, format, schema, partitions,
                                     row_count, updated_at)
           VALUES {", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(values))}
           ON CONFLICT (dataset) DO UPDATE SET location = excluded.location,
               format = excluded.format, schema = excluded.schema,
               partitions = list_distinct(
                   list_concat(data_catalog.partitions, excluded.partitions)),
               -- a lake dataset grows by each run's rows; a warehouse table is counted whole
               row_count = CASE WHEN excluded.zone = 'warehouse' THEN excluded.row_count
                                ELSE data_catalog.row_count + excluded.row_count END,
               updated_at = excluded.updated_at""",
        [value for row in values for value in row],
    )


def record_dataset(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    *,
    zone: str,
    location: str,
    fmt: str,
    schema: dict[str, str],
    partitions: list[str],
    rows: int,
) -> None:
    """Insert or refresh one catalog entry."""
    record_datasets(con, [Dataset(dataset, zone, location, fmt, schema, partitions, rows)])


def warehouse_entries(con: duckdb.DuckDBPyConnection) -> list[Dataset]:
    """Every contract table with its current columns and row count, as catalog entries (located
    in the warehouse file `con` is connected to)."""
    located = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    location = located[0] if located and located[0] else "memory"
    listed = ", ".join(f"'{t}'" for t in CONTRACT_TABLES)
    columns: dict[str, dict[str, str]] = {t: {} for t in CONTRACT_TABLES}
    for table, column, data_type in con.execute(  # one query for all (each costs a catalog scan)
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        f"WHERE table_catalog = current_database() AND table_schema = 'main' "
        f"AND table_name IN ({listed}) ORDER BY table_name, ordinal_position"
    ).fetchall():
        columns[table][column] = data_type
    counts = dict(
        con.execute(
            " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in CONTRACT_TABLES)
        ).fetchall()
    )
    return [
        Dataset(
            f"warehouse/{table}",
            "warehouse",
            f"{location}#{table}",
            "duckdb",
            columns[table],
            [],
            int(counts.get(table, 0)),
        )
        for table in CONTRACT_TABLES
    ]


def catalog(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every catalog entry, by zone and name."""
    cursor = con.execute("SELECT * FROM data_catalog ORDER BY zone, dataset")
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
