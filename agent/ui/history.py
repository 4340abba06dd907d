"""Chat history: Chainlit's SQLAlchemy data layer on a local SQLite file, tables created by us.

Chainlit's data layer reads and writes these tables but never creates them; the columns below
are the ones `chainlit.data.sql_alchemy` (2.12) names in its queries, in Chainlit's quoted
camelCase. SQLite accepts the Postgres-looking types (UUID, JSONB, TEXT[]) as plain affinities.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from chainlit.data.sql_alchemy import SQLAlchemyDataLayer

from core.settings import Settings

from . import turns
from .config import history_db, ui_dir
from .storage import LocalStorageClient

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS users (
    "id" UUID PRIMARY KEY,
    "identifier" TEXT NOT NULL UNIQUE,
    "metadata" JSONB NOT NULL,
    "createdAt" TEXT
);
CREATE TABLE IF NOT EXISTS threads (
    "id" UUID PRIMARY KEY,
    "createdAt" TEXT,
    "name" TEXT,
    "userId" UUID,
    "userIdentifier" TEXT,
    "tags" TEXT[],
    "metadata" JSONB,
    FOREIGN KEY ("userId") REFERENCES users("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS steps (
    "id" UUID PRIMARY KEY,
    "name" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "threadId" UUID NOT NULL,
    "parentId" UUID,
    "streaming" BOOLEAN NOT NULL,
    "waitForAnswer" BOOLEAN,
    "isError" BOOLEAN,
    "metadata" JSONB,
    "tags" TEXT[],
    "input" TEXT,
    "output" TEXT,
    "createdAt" TEXT,
    "command" TEXT,
    "start" TEXT,
    "end" TEXT,
    "generation" JSONB,
    "showInput" TEXT,
    "language" TEXT,
    "indent" INT,
    "defaultOpen" BOOLEAN,
    "autoCollapse" BOOLEAN,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS elements (
    "id" UUID PRIMARY KEY,
    "threadId" UUID,
    "type" TEXT,
    "url" TEXT,
    "chainlitKey" TEXT,
    "name" TEXT NOT NULL,
    "display" TEXT,
    "objectKey" TEXT,
    "size" TEXT,
    "page" INT,
    "language" TEXT,
    "forId" UUID,
    "mime" TEXT,
    "props" JSONB,
    "autoPlay" BOOLEAN,
    "playerConfig" JSONB,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS feedbacks (
    "id" UUID PRIMARY KEY,
    "forId" UUID NOT NULL,
    "threadId" UUID NOT NULL,
    "value" INT NOT NULL,
    "comment" TEXT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
);
"""


def create_tables(settings: Settings) -> None:
    """Create the history tables (Chainlit's and the turn results) if missing (idempotent)."""
    path = history_db(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as con:
        con.executescript(SCHEMA + turns.SCHEMA)


def turn_store(settings: Settings) -> turns.TurnStore:
    """The store of answers' tables and SQL, in the history file (tables created first)."""
    create_tables(settings)
    return turns.TurnStore(history_db(settings))


def element_storage(settings: Settings, root_path: str = "") -> LocalStorageClient:
    """Where tables, charts and files of past answers are kept, so resumed threads show them."""
    return LocalStorageClient(ui_dir(settings) / "elements", url_prefix=root_path)


def data_layer(
    settings: Settings, storage: LocalStorageClient | None = None
) -> SQLAlchemyDataLayer:
    """Chainlit's SQLAlchemy data layer on the history file (tables created first), with
    elements kept in `storage` (the local element store unless given)."""
    create_tables(settings)
    return SQLAlchemyDataLayer(
        conninfo=f"sqlite+aiosqlite:///{history_db(settings)}",
        storage_provider=storage or element_storage(settings),
    )
