"""Auth files, history tables, the offline page and rendering, without a browser."""

from __future__ import annotations

import asyncio
import sqlite3
import stat

import chainlit.server
import pytest
from chainlit.user import User

from agent.ui import offline, render
from agent.ui.auth import (
    UserStore,
    check_password,
    ensure_auth_secret,
    ensure_demo_user,
    hash_password,
)
from agent.ui.config import ROLES, allowed_role, history_db
from agent.ui.history import create_tables, data_layer, element_storage
from agent.ui.storage import LocalStorageClient
from core.errors import QueryRefusedError, ValidationError
from core.settings import Settings
from tools.results import Table


def test_password_hash_is_salted_and_checked() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and first.startswith("scrypt$")
    assert check_password("correct horse", first)
    assert not check_password("wrong horse", first)
    assert not check_password("x", "garbage")


def test_users_file_is_private_and_authenticates(settings: Settings) -> None:
    store = UserStore(settings)
    store.add("ana", "long-enough-pw", role="partner")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert "long-enough-pw" not in store.path.read_text()
    user = store.authenticate("ana", "long-enough-pw")
    assert user is not None and user.role == "partner"
    assert store.authenticate("ana", "nope") is None
    assert store.authenticate("bob", "long-enough-pw") is None
    with pytest.raises(ValidationError, match="role"):
        store.add("eve", "long-enough-pw", role="root")


def test_demo_user_and_secret_are_created_once(settings: Settings) -> None:
    login = ensure_demo_user(settings)
    assert ensure_demo_user(settings) == login
    assert UserStore(settings).authenticate(*login) is not None
    secret = ensure_auth_secret(settings)
    assert len(secret) >= 32 and ensure_auth_secret(settings) == secret
    path = settings.data_dir / "ui" / "auth_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_roles_never_go_above_the_granted_one() -> None:
    assert allowed_role("partner", "analyst") == "partner"
    assert allowed_role("admin", "analyst") == "analyst"
    assert allowed_role("nonsense", "partner") == "partner"


def test_history_tables_work_with_chainlits_data_layer(settings: Settings) -> None:
    create_tables(settings)
    create_tables(settings)  # idempotent
    with sqlite3.connect(history_db(settings)) as con:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "threads", "steps", "elements", "feedbacks"} <= names

    async def roundtrip() -> tuple[object, object]:
        layer = data_layer(settings)
        created = await layer.create_user(User(identifier="ana", metadata={"role": "analyst"}))
        assert created is not None
        await layer.update_thread("t-1", name="first", user_id=created.id)
        thread = await layer.get_thread("t-1")
        return created, thread

    _, thread = asyncio.run(roundtrip())
    assert thread is not None and thread["name"] == "first"


def test_index_page_links_nothing_off_the_machine() -> None:
    offline.install()
    offline.install()
    html = chainlit.server.get_html_template("")
    assert "googleapis" not in html and "jsdelivr" not in html
    assert '<script type="module"' in html


def test_rendering_of_tables_charts_and_errors() -> None:
    table = Table.from_rows(["city", "tickets"], [("Austin", 10), ("Boston", 5)])
    assert list(render.table_frame(table).columns) == ["city", "tickets"]
    assert render.table_csv(table).decode().splitlines() == [
        "city,tickets",
        "Austin,10",
        "Boston,5",
    ]
    fig = render.figure({"plotly": {"data": [{"type": "bar", "x": [1], "y": [2]}], "layout": {}}})
    assert fig.data[0].type == "bar"
    assert "DROP" in render.plain_error(QueryRefusedError("only SELECT is allowed; got DROP"))
    said = render.plain_error(KeyError("secret internals"))
    assert "KeyError" in said and "secret internals" not in said


def test_element_store_keeps_files_privately_and_serves_them_back(settings: Settings) -> None:
    storage = element_storage(settings)
    key = "user-1/element-1/chart 1"

    async def roundtrip() -> tuple[dict[str, object], str]:
        stored = await storage.upload_file(key, '{"data": []}', mime="application/json")
        return stored, await storage.get_read_url(key)

    stored, url = asyncio.run(roundtrip())
    assert stored == {"object_key": key, "url": "/encore/elements/user-1/element-1/chart%201"}
    assert url == stored["url"]
    path = storage.path_of(key)
    assert path.read_text() == '{"data": []}' and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert storage.mime_of(key) == "application/json"
    for escape in ("../../users.json", "/etc/passwd", "user-1/../../auth_secret"):
        with pytest.raises(ValueError, match="outside"):
            storage.path_of(escape)
    assert asyncio.run(storage.delete_file(key)) and not path.exists()


def test_stored_html_is_never_served_as_a_page(settings: Settings) -> None:
    storage = element_storage(settings)
    asyncio.run(storage.upload_file("u/e/x.html", "<script>alert(1)</script>", mime="text/html"))
    assert storage.mime_of("u/e/x.html") == "application/octet-stream"


def test_history_keeps_elements(settings: Settings) -> None:
    layer = data_layer(settings)
    assert isinstance(layer.storage_provider, LocalStorageClient)
    assert layer.storage_provider.root == (settings.data_dir / "ui" / "elements").resolve()


def test_ui_roles_are_the_query_policys_roles() -> None:
    from tools.query.policy import load_policy

    assert set(ROLES) == set(load_policy().roles)
