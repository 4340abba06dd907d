"""Every SQL-injection payload of PayloadsAllTheThings is refused or runs harmlessly.

The payloads are fragments: each is tried as a whole statement, appended to a WHERE clause after a
string literal (the classic `name = '<payload>'`), and after a number. A query the guard accepts
must touch only allowed tables and functions, and runs on the read-only connection; afterwards the
warehouse file is byte-for-byte unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from core.errors import EncoreError, QueryRefusedError
from core.settings import Settings
from core.warehouse import reading
from tools.query.guard import Schema, check
from tools.query.policy import Policy
from tools.query.runner import execute_with_timeout


def _payloads(folder: Path) -> list[str]:
    found: list[str] = []
    for path in sorted(folder.glob("*.txt")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        found += [line.strip() for line in text.splitlines() if line.strip()]
    return list(dict.fromkeys(found))  # the lists overlap; each payload once


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _embeddings(payload: str) -> list[str]:
    return [
        payload,
        f"SELECT name FROM artists WHERE name = '{payload}'",
        f"SELECT name FROM artists WHERE popularity = 1 {payload}",
    ]


def test_sqli_payloads_are_refused_or_harmless(
    shared_data: Path, query_settings: Settings, policy: Policy, schema: Schema
) -> None:
    role = "analyst"  # the most permissive role short of admin
    folders = sorted(shared_data.glob("sqli-payloads-*"))
    assert folders, "no sqli-payloads-* folder in the shared data"
    payloads = [p for folder in folders for p in _payloads(folder)]
    payloads = list(dict.fromkeys(payloads))
    assert len(payloads) > 1000
    before = _sha256(query_settings.warehouse_file)
    allowed_tables = {t for t in schema["main"] if policy.role(role).grant(t) is not None}
    refused = accepted = 0
    with reading(query_settings) as con:
        for payload in payloads:
            for sql in _embeddings(payload):
                try:
                    checked = check(sql, policy.role(role), policy, schema)
                except QueryRefusedError as exc:
                    assert exc.message
                    refused += 1
                    continue
                accepted += 1
                assert set(checked.tables) <= allowed_tables, sql
                assert set(checked.functions) <= policy.functions, sql
                # a runtime error (bad cast, ...) is harmless: nothing was written
                with contextlib.suppress(EncoreError):
                    execute_with_timeout(con, checked.sql, timeout_s=2.0, fetch=checked.fetch)
        # the connection is read-only: even a write that slipped through could not land
        assert con.execute("SELECT COUNT(*) FROM artists").fetchone() == (250,)
    assert _sha256(query_settings.warehouse_file) == before
    assert refused > accepted
    assert accepted > 0  # e.g. `name = '' OR 1=1 --'`: read-only, allowed tables, harmless
