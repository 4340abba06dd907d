"""A price's currency symbol counts on ingest: it sets a row's missing currency, and symbols that
disagree with each other or with the currency column quarantine the row with the reason."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from pipelines.sources.files import read_file
from pipelines.transforms.validating import RECORD, Validation

FIXED = "concert_id,artist_id,venue_id,event_date,status"


def _read(path: Path) -> dict[str, dict[str, Any]]:
    """The concerts of a file as the ingest stores them (validated while read), by concert_id."""
    con = duckdb.connect()
    parsed = read_file(con, path, table="_raw", transform=Validation("concerts", path))
    cursor = con.execute(
        f"SELECT concert_id, price_min, price_max, currency, _reasons, {RECORD} "
        f"FROM {parsed.relation}"
    )
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def _csv(tmp_path: Path, header: str, *rows: str) -> Path:
    path = tmp_path / "concerts.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_the_symbol_sets_a_missing_currency(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"{FIXED},price_min,price_max,currency",
                "C1,A1,V1,2026-05-01,scheduled,€45,€99.50,",
                'C2,A1,V1,2026-05-02,scheduled,£30,"£1,200.00",',
                "C3,A1,V1,2026-05-03,scheduled, ¥5000,9900,",
                "C4,A1,V1,2026-05-04,scheduled,45,99.50,",
                "C5,A1,V1,2026-05-05,scheduled,$45,$99.50,",
                "C6,A1,V1,2026-05-06,scheduled,$45,99.50,cad",
                "C7,A1,V1,2026-05-07,scheduled,€45,99.50,eur")  # fmt: skip
    rows = _read(path)
    stored = {c: (r["price_min"], r["price_max"], r["currency"], r["_reasons"])
              for c, r in rows.items()}  # fmt: skip
    assert stored == {
        "C1": (Decimal("45.00"), Decimal("99.50"), "EUR", []),
        "C2": (Decimal("30.00"), Decimal("1200.00"), "GBP", []),
        "C3": (Decimal("5000.00"), Decimal("9900.00"), "JPY", []),
        # plain numbers: as before, the currency is not said
        "C4": (Decimal("45.00"), Decimal("99.50"), None, []),
        # "$" alone names no currency (USD? CAD? MXN?): not guessed, and fits a dollar one
        "C5": (Decimal("45.00"), Decimal("99.50"), None, []),
        "C6": (Decimal("45.00"), Decimal("99.50"), "CAD", []),
        "C7": (Decimal("45.00"), Decimal("99.50"), "EUR", []),
    }


def test_the_audits_xml_concert_is_quarantined_for_its_mixed_currencies(tmp_path: Path) -> None:
    path = tmp_path / "concerts.xml"
    path.write_text(
        "<concerts><concert><concert_id>C1</concert_id><artist_id>A1</artist_id>"
        "<venue_id>V1</venue_id><event_date>2026-05-01</event_date><status>scheduled</status>"
        "<price_min>€45</price_min><price_max>$99.50</price_max></concert></concerts>",
        encoding="utf-8",
    )
    [row] = _read(path).values()
    assert row["_reasons"] == ["record: currency_conflict (price_min in EUR, price_max in $)"]
    assert "€45" in row[RECORD] and "$99.50" in row[RECORD]


def test_symbols_that_disagree_with_the_currency_column_quarantine_the_row(
    tmp_path: Path,
) -> None:
    path = _csv(tmp_path, f"{FIXED},price_min,price_max,currency",
                "C1,A1,V1,2026-05-01,scheduled,£45,99.50,USD",
                "C2,A1,V1,2026-05-02,scheduled,40,$99.50,EUR",
                "C3,A1,V1,2026-05-03,scheduled,€45,£99.50,EUR",
                "C4,A1,V1,2026-05-04,scheduled,€45,€99.50,EUR")  # fmt: skip
    rows = _read(path)
    assert {c: r["_reasons"] for c, r in rows.items()} == {
        "C1": ["record: currency_conflict (price_min in GBP, currency USD)"],
        "C2": ["record: currency_conflict (price_max in $, currency EUR)"],
        "C3": [
            "record: currency_conflict (price_min in EUR, price_max in GBP)",
            "record: currency_conflict (price_max in GBP, currency EUR)",
        ],
        "C4": [],
    }
    assert rows["C4"][RECORD] is None and rows["C1"][RECORD] is not None
