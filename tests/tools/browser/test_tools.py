"""The catalog tools as MCP clients see them: plain JSON arguments, settings-driven policy."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path

import pydantic
import pytest

from core.errors import ValidationError
from core.settings import Settings
from tests.tools.browser.conftest import WebServer
from tools.browser import BrowserConfig, fetch_page, lookup_source
from tools.context import ToolContext


@pytest.mark.parametrize("tool", [fetch_page, lookup_source])
def test_tool_arguments_are_plain_json(tool: typing.Callable[..., object]) -> None:
    hints = typing.get_type_hints(tool)
    params = list(inspect.signature(tool).parameters.values())[1:]  # after ctx
    fields: dict[str, typing.Any] = {
        p.name: (hints[p.name], ... if p.default is inspect.Parameter.empty else p.default)
        for p in params
    }
    schema = pydantic.create_model(f"{tool.__name__}_args", **fields).model_json_schema()
    assert set(schema["properties"]) <= {"url", "use_cache", "source", "query", "kind", "limit"}


class BrowserSettings(Settings):
    """Settings as they will look once the lead adds the browser fields."""

    browser_allowed_domains: list[str] | None = None
    browser_max_bytes: int | None = None


def test_config_comes_from_settings_when_the_fields_exist(tmp_path: Path) -> None:
    settings = BrowserSettings(
        _env_file=None,
        data_dir=tmp_path,
        browser_allowed_domains=["127.0.0.1"],
        browser_max_bytes=10,
    )
    config = BrowserConfig.from_settings(settings)
    assert config.allowed_domains == ("127.0.0.1",)
    assert config.max_bytes == 10
    assert (
        BrowserConfig.from_settings(Settings(_env_file=None, data_dir=tmp_path)) == BrowserConfig()
    )


def test_fetch_page_tool_follows_the_settings_allow_list(tmp_path: Path, web: WebServer) -> None:
    plain = ToolContext(Settings(_env_file=None, data_dir=tmp_path / "a"))
    with pytest.raises(ValidationError, match="not on the browser's allow-list"):
        fetch_page(plain, url=f"{web.url}/concert")
    allowing = ToolContext(
        BrowserSettings(
            _env_file=None, data_dir=tmp_path / "b", browser_allowed_domains=["127.0.0.1"]
        )
    )
    page = fetch_page(allowing, url=f"{web.url}/concert")
    assert page.items[0]["performer"] == "Phoebe Bridgers" and page.untrusted
