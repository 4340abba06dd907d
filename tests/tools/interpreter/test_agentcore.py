"""The AgentCore Code Interpreter adapter builds offline and fails clearly without AWS."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pandas as pd
import pytest

from core.errors import SourceError
from core.settings import Settings
from tools.context import ToolContext
from tools.interpreter import Limits
from tools.interpreter.agentcore import RESULT_MARK, AgentCoreSandbox
from tools.interpreter.service import default_sandbox


def test_profile_selects_agentcore(tmp_path: Any) -> None:
    ctx = ToolContext(Settings(data_dir=tmp_path, profile="aws"))
    assert isinstance(default_sandbox(ctx), AgentCoreSandbox)
    assert default_sandbox(ToolContext(Settings(data_dir=tmp_path))).name == "local"


def test_without_aws_credentials_it_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    sandbox = AgentCoreSandbox(region="us-east-1")
    with pytest.raises(SourceError, match="check AWS credentials"):
        sandbox.run("print(1)", None, {}, Limits())


class _ScriptedClient:
    """Stands in for CodeInterpreter: runs nothing, answers like the service's stream."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def start(self, **kw: Any) -> str:
        self.calls.append(("start", kw))
        return "session"

    def upload_file(self, path: str, content: str) -> None:
        self.calls.append(("upload", path))

    def execute_code(self, code: str, clear_context: bool = False) -> dict[str, Any]:
        self.calls.append(("execute", code))
        line = RESULT_MARK + '{"tables": [{"columns": ["a"], "rows": [[1]]}], "charts": []}'
        stream = [{"result": {"structuredContent": {"stdout": f"hello\n{line}\n", "stderr": ""}}}]
        return {"stream": stream}

    def stop(self) -> bool:
        self.calls.append(("stop", None))
        return True


def test_results_are_parsed_from_the_stream() -> None:
    client = _ScriptedClient()
    result = AgentCoreSandbox("us-east-1", client=client).run(
        "show(df)", pd.DataFrame({"a": [1]}), {"n": 1}, Limits()
    )
    assert result.stdout == "hello" and result.tables[0].rows == [[1]]
    assert [c[0] for c in client.calls] == ["start", "upload", "execute", "stop"]
    program = client.calls[2][1]
    assert "show(df)" in program and "read_csv('extract.csv')" in program
    compile(program, "<program>", "exec")  # the wrapper is valid Python


class _PythonClient(_ScriptedClient):
    """Runs the program in a plain local Python and answers like the service's stream: the
    wrapper's own time limit is exercised, not a stand-in."""

    def execute_code(self, code: str, clear_context: bool = False) -> dict[str, Any]:
        self.calls.append(("execute", code))
        proc = subprocess.run(  # our own interpreter, the program under test
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
        content = {"stdout": proc.stdout, "stderr": proc.stderr}
        return {
            "stream": [{"result": {"structuredContent": content, "isError": proc.returncode != 0}}]
        }


def test_the_wall_clock_limit_holds_in_the_session() -> None:
    limits = Limits(wall_s=1.5)
    sandbox = AgentCoreSandbox("us-east-1", client=_PythonClient())
    stopped = sandbox.run("while True:\n    pass", None, {}, limits)
    assert stopped.timed_out and stopped.duration_s < 30
    assert stopped.error is not None and "longer than 1.5 s (wall clock)" in stopped.error
    assert "ENCORE_ANALYSIS_TIMEOUT_S" in stopped.error
    done = sandbox.run("print(sum(range(5)))", None, {}, limits)
    assert not done.timed_out and done.error is None and done.stdout.strip() == "10"
