"""AgentCore Code Interpreter adapter: the same analyses in AWS's managed sandbox.

Selected by the `aws` settings profile. The client is imported and created lazily, so this
module builds offline; AWS is called only when an analysis runs. The extract travels as CSV and
the results come back in one marked line of stdout, as data.

Time limits as in the local sandbox: an alarm in the session stops the code after the
wall-clock limit (`timed_out`, the same error); the session's own timeout (60 s past it) is the
hard stop, and CPU and memory are the managed microVM's.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd

from core.errors import SourceError
from tools.interpreter.base import AnalysisResult, Limits, wall_limit_error
from tools.results import Table

RESULT_MARK = "__ENCORE_RESULT__"
TIME_LIMIT_MARK = "__ENCORE_TIME_LIMIT__"
_PRELUDE = """
import json as _json, pandas as pd, numpy as np
params = _json.loads({params!r})
df = pd.read_csv('extract.csv') if {has_extract!r} else None
_tables, _charts = [], []
def _table(frame, max_rows={max_rows}):
    if isinstance(frame, pd.Series):
        frame = frame.reset_index()
    positional = frame.index.names == [None] and pd.api.types.is_integer_dtype(frame.index)
    frame = frame.reset_index(drop=positional)
    data = _json.loads(frame.head(max_rows).to_json(orient='split', index=False))
    return {{'columns': [str(c) for c in data['columns']], 'rows': data['data']}}
def show(frame):
    _tables.append(frame)
def chart(kind, frame, x=None, y=None, title=''):
    spec = {{'kind': kind, 'x': x, 'y': y, 'title': title or None, 'table': _table(frame)}}
    _charts.append(spec)
    return spec
class _TimeLimit(BaseException):
    pass
def _stop(_signum, _frame):
    raise _TimeLimit({time_mark!r})
try:
    import signal as _signal
    _signal.signal(_signal.SIGALRM, _stop)
    _signal.setitimer(_signal.ITIMER_REAL, {wall_s!r})
except (ImportError, AttributeError, OSError, ValueError):  # no alarms off the main thread
    pass
"""
_EPILOGUE = """
try:
    _signal.setitimer(_signal.ITIMER_REAL, 0)
except (NameError, AttributeError, OSError, ValueError):
    pass
_result = globals().get('result')
if isinstance(_result, (pd.DataFrame, pd.Series)):
    _tables.append(_result)
elif isinstance(_result, (list, tuple)):
    _tables.extend(t for t in _result if isinstance(t, (pd.DataFrame, pd.Series)))
print({mark!r} + _json.dumps({{'tables': [_table(t) for t in _tables], 'charts': _charts}},
      default=str))
"""


class AgentCoreSandbox:
    """Runs analyses in an AgentCore Code Interpreter session (one session per run)."""

    name = "agentcore"

    def __init__(self, region: str, client: Any = None) -> None:
        self.region = region
        self._client = client

    def _connect(self) -> Any:
        if self._client is None:
            try:
                from bedrock_agentcore.tools.code_interpreter_client import CodeInterpreter
            except ImportError as exc:
                raise SourceError(
                    "the AgentCore Code Interpreter needs bedrock-agentcore; install it or use "
                    "the local profile"
                ) from exc
            self._client = CodeInterpreter(self.region)
        return self._client

    def run(
        self,
        code: str,
        extract: pd.DataFrame | None,
        params: dict[str, Any],
        limits: Limits,
    ) -> AnalysisResult:
        """Upload the extract, run prelude + code + epilogue, parse the marked result line."""
        started = time.perf_counter()
        client = self._connect()
        program = (
            _PRELUDE.format(
                params=json.dumps(params),
                has_extract=extract is not None,
                max_rows=limits.max_rows,
                time_mark=TIME_LIMIT_MARK,
                wall_s=float(limits.wall_s),
            )
            + code
            + _EPILOGUE.format(mark=RESULT_MARK)
        )
        try:
            client.start(session_timeout_seconds=max(60, int(limits.wall_s) + 60))
            try:
                if extract is not None:
                    client.upload_file("extract.csv", extract.to_csv(index=False))
                response = client.execute_code(program, clear_context=True)
            finally:
                client.stop()
        except SourceError:
            raise
        except Exception as exc:  # botocore errors: credentials, endpoint, throttling
            raise SourceError(
                f"AgentCore Code Interpreter call failed ({type(exc).__name__}: {exc}); "
                "check AWS credentials and region, or use the local profile",
                region=self.region,
            ) from exc
        result = _parse(response, limits)
        result.duration_s = round(time.perf_counter() - started, 3)
        return result


def _parse(response: dict[str, Any], limits: Limits) -> AnalysisResult:
    """Collect stdout/stderr from the response stream and split off the result line."""
    stdout, stderr, failed, texts = "", "", False, ""
    for event in response.get("stream", []):
        body = event.get("result", {})
        structured = body.get("structuredContent", {}) or {}
        stdout += structured.get("stdout", "")
        stderr += structured.get("stderr", "")
        failed = failed or bool(body.get("isError"))
        texts += "".join(
            str(c.get("text", "")) for c in body.get("content", []) if isinstance(c, dict)
        )
    payload: dict[str, Any] = {}
    lines = []
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARK):
            payload = json.loads(line[len(RESULT_MARK) :])
        else:
            lines.append(line)
    timed_out = failed and TIME_LIMIT_MARK in stderr + texts  # the traceback, wherever it is
    error = None
    if timed_out:
        error = wall_limit_error(limits)
    elif failed:
        error = (stderr.strip().splitlines() or ["the analysis failed"])[-1]
    return AnalysisResult(
        stdout="\n".join(lines)[: limits.max_output],
        stderr=stderr[: limits.max_output],
        tables=[Table(columns=t["columns"], rows=t["rows"]) for t in payload.get("tables", [])],
        charts=payload.get("charts", []),
        timed_out=timed_out,
        error=error,
        sandbox="agentcore",
        isolation=["agentcore-managed"],
    )
