"""The UI's settings come from the environment or a `.env` file, as every other setting does."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.ui.config import UiSettings


def test_ui_settings_are_read_from_a_dot_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("ENCORE_UI_DEMO_USER=ana\nENCORE_UI_HEADER_AUTH=true\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENCORE_UI_DEMO_USER", raising=False)
    monkeypatch.delenv("ENCORE_UI_HEADER_AUTH", raising=False)
    settings = UiSettings()
    assert (settings.demo_user, settings.header_auth) == ("ana", True)
