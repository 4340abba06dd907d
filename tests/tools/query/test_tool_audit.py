"""Tools that read the warehouse with SQL of their own are audited like queries (DESIGN 6):
who, the tool and its arguments, the tables, the rows, allowed or refused with the reason."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from core.errors import EncoreError
from core.settings import Settings
from tests.conftest import copy_warehouse
from tools.context import ToolContext
from tools.insights.profile import upcoming_concerts
from tools.insights.ranking import venue_ranking
from tools.query.audit import audit_log


def test_insight_tools_are_audited_with_their_caller_and_arguments(
    small_warehouse: Settings, tmp_path: Path
) -> None:
    settings = copy_warehouse(small_warehouse, tmp_path)
    partner = ToolContext(settings, user="pat", role="partner")
    ranked = venue_ranking(partner, state="CA", limit=3)
    with pytest.raises(EncoreError):
        upcoming_concerts(partner, venue="Nowhere Hall 9000")
    with closing(sqlite3.connect(settings.data_dir / "audit.sqlite")) as con:
        rows = con.execute(
            "SELECT user, role, kind, sql, tables, rows, decision, reason FROM query_audit "
            "ORDER BY id"
        ).fetchall()
    (user, role, kind, sql, tables, count, decision, _), refused = rows
    assert (user, role, kind, decision) == ("pat", "partner", "tool", "allowed")
    assert sql == 'venue_ranking({"limit": 3, "state": "CA"})' and count == len(ranked.rows)
    assert "venues" in json.loads(tables)
    assert refused[3].startswith("upcoming_concerts(") and refused[6] == "refused"
    assert "Nowhere Hall 9000" in refused[7]
    # the user sees their own entries in audit_log, as for queries
    assert {e.sql for e in audit_log(partner).entries} == {sql, refused[3]}
