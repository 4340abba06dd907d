"""`encore demo --no-ui` and `encore users` make logins the REST API accepts (a loopback server)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from agent.rest.app import create_app
from agent.rest.config import ApiSettings
from core.settings import Settings
from tests.agent.rest.conftest import client, running
from tests.conftest import copy_warehouse

ENCORE = shutil.which("encore", path=str(Path(sys.executable).parent)) or "encore"
PASSWORD = "a long enough password"


def encore(
    data_dir: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENCORE_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    env.pop("ENCORE_WAREHOUSE_PATH", None)
    return subprocess.run(
        [ENCORE, *args], input=stdin, capture_output=True, text=True, env=env, timeout=300
    )


def token(url: str, name: str, password: str) -> httpx.Response:
    with client(url) as http:
        return http.post("/v1/token", data={"username": name, "password": password})


def me(url: str, access_token: str) -> httpx.Response:
    with client(url, access_token) as http:
        return http.get("/v1/me")


def test_demo_login_and_added_users_sign_in_to_the_api(
    trained_warehouse: Settings, tmp_path: Path
) -> None:
    settings = copy_warehouse(trained_warehouse, tmp_path, models=True)
    data_dir = settings.data_dir
    demo = encore(data_dir, "demo", "--scale", "small", "--no-ui")
    assert demo.returncode == 0, demo.stderr
    found = re.search(r"Demo login: (\S+) / (\S+) \(analyst\)", demo.stdout)
    assert found, demo.stdout
    demo_name, demo_password = found.groups()

    with running(create_app(settings, ApiSettings(rate_burst=1000))) as url:
        signed_in = token(url, demo_name, demo_password)
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json()["role"] == "analyst"

        added = encore(data_dir, "users", "add", "pat", "--role", "partner", "--password-stdin",
                       stdin=PASSWORD + "\n")  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert PASSWORD not in added.stdout
        partner = token(url, "pat", PASSWORD)
        assert partner.status_code == 200, partner.text
        assert partner.json()["role"] == "partner"
        old = partner.json()["access_token"]
        assert me(url, old).json() == {"user": "pat", "role": "partner"}

        again = encore(data_dir, "users", "add", "pat", "--role", "admin", "--password-stdin",
                       stdin=PASSWORD + "\n")  # fmt: skip
        assert again.returncode == 2 and "--replace" in again.stderr  # no silent overwrite
        promoted = encore(data_dir, "users", "add", "pat", "--role", "admin", "--replace",
                          "--password-stdin", stdin="another password\n")  # fmt: skip
        assert promoted.returncode == 0, promoted.stderr
        assert me(url, old).status_code == 401  # the partner token went with the old role
        assert token(url, "pat", PASSWORD).status_code == 401
        admin = token(url, "pat", "another password")
        assert admin.json()["role"] == "admin"

        listed = encore(data_dir, "users", "list")
        assert re.search(r"demo\s+.\s+analyst", listed.stdout), listed.stdout
        assert re.search(r"pat\s+.\s+admin", listed.stdout), listed.stdout

        removed = encore(data_dir, "users", "remove", "pat")
        assert removed.returncode == 0, removed.stderr
        assert me(url, admin.json()["access_token"]).status_code == 401
        assert token(url, "pat", "another password").status_code == 401
        assert token(url, demo_name, demo_password).status_code == 200

    bad = encore(data_dir, "users", "add", "eve", "--role", "owner", "--password-stdin",
                 stdin=PASSWORD + "\n")  # fmt: skip
    assert bad.returncode == 2 and "partner, analyst, admin" in bad.stderr
    short = encore(data_dir, "users", "add", "eve", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "8 characters" in short.stderr
