"""The sandboxed child's entry point: set up paths and guards, run the analysis, write results.

Run as `python -I -S -B bootstrap.py CONFIG_JSON` inside the work directory. It imports nothing
from the project; the host passes the import paths, limits and file names in the config.
The audit hook installed here is one layer of several (see tools/interpreter/local.py): it
refuses network calls, new processes, native-library loading and file access outside the work
directory and the Python installation.
"""

# The audit hook runs on every file event, so it sticks to os.path (no pathlib objects).
# ruff: noqa: PTH109, PTH118, PTH123
from __future__ import annotations

import io
import json
import os
import sys
import traceback
from typing import Any

_BLOCKED_EVENTS = frozenset(
    {
        "socket.__new__",
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.kill",
        "os.killpg",
        "pty.spawn",
        "ctypes.dlopen",
        "ctypes.dlsym",
        "ctypes.call_function",
        "ctypes.addressof",
        "ctypes.cdata",
        "urllib.Request",
        "webbrowser.open",
    }
)
_PATH_EVENTS = frozenset({"os.listdir", "os.scandir", "glob.glob", "os.chdir"})
_WRITE_EVENTS = frozenset(
    {
        "os.remove",
        "os.rename",
        "os.mkdir",
        "os.rmdir",
        "os.truncate",
        "os.symlink",
        "os.link",
        "os.chmod",
        "os.chown",
        "os.utime",
        "shutil.rmtree",
    }
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class _CappedText(io.TextIOBase):
    """A text stream that keeps at most `limit` characters and notes what it dropped."""

    def __init__(self, target: Any, limit: int) -> None:
        self._target = target
        self._left = limit
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        kept = text[: max(self._left, 0)]
        if kept:
            self._target.write(kept)
            self._left -= len(kept)
        self.dropped += len(text) - len(kept)
        return len(text)

    def flush(self) -> None:
        self._target.flush()


class _LazyModule:
    """`pd`/`np` for code that never touches them: pandas costs a second of CPU to import."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        import importlib

        return getattr(importlib.import_module(self._name), attr)


def _guard(work_dir: str, read_roots: list[str]) -> None:
    """Install the audit hook; from here on the analysis runs under it."""
    work = os.path.realpath(work_dir)
    roots = [os.path.realpath(r) for r in read_roots] + [work, "/dev/null", "/dev/urandom"]
    busy = [False]

    def inside(path: object, allowed: list[str]) -> bool:
        if isinstance(path, int) or path is None:
            return True
        text = os.fsdecode(path) if isinstance(path, str | bytes | os.PathLike) else str(path)
        real = os.path.realpath(os.path.join(os.getcwd(), text))
        return any(real == a or real.startswith(a.rstrip("/") + "/") for a in allowed)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if busy[0]:
            return
        busy[0] = True
        try:
            if event in _BLOCKED_EVENTS:
                raise PermissionError(f"sandbox: {event} is not allowed in analyses")
            if event == "open":
                path, mode, flags = [*args, None, None, None][:3]
                writing = any(c in str(mode or "") for c in "wax+") or bool(
                    isinstance(flags, int) and flags & _WRITE_FLAGS
                )
                if not inside(path, [work] if writing else roots):
                    raise PermissionError(f"sandbox: cannot open {path!r}; use the data in df")
            elif event in _PATH_EVENTS and args and not inside(args[0], roots):
                raise PermissionError(f"sandbox: cannot list {args[0]!r}")
            elif event in _WRITE_EVENTS and args and not inside(args[0], [work]):
                raise PermissionError(f"sandbox: cannot change {args[0]!r}")
        finally:
            busy[0] = False

    # _posixsubprocess.fork_exec starts processes without an audit event; pandas has usually
    # imported it already, so the function itself is replaced.
    import _posixsubprocess

    def refused(*_: object) -> None:
        raise PermissionError("sandbox: starting processes is not allowed in analyses")

    _posixsubprocess.fork_exec = refused  # type: ignore[assignment]
    sys.addaudithook(hook)


def _frame_to_table(frame: Any, max_rows: int) -> dict[str, Any]:
    import pandas as pd

    if isinstance(frame, pd.Series):
        frame = frame.reset_index()
    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(frame)
    # Labels (groupby keys, describe()'s statistics) are data; unnamed row numbers are not.
    positional = frame.index.names == [None] and pd.api.types.is_integer_dtype(frame.index)
    frame = frame.reset_index(drop=positional)
    head = frame.head(max_rows)
    payload = json.loads(head.to_json(orient="split", index=False, date_format="iso"))
    return {
        "columns": [str(c) for c in payload["columns"]],
        "rows": payload["data"],
        "truncated": len(frame) > max_rows,
    }


def main(config_path: str) -> int:
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    sys.path[:0] = config["paths"]
    # ctypes loads libpython at import and numpy imports ctypes; after the guard that load
    # would be refused, so ctypes comes in now (its later dlopen/calls stay refused).
    import ctypes  # noqa: F401

    work = config["work_dir"]
    os.chdir(work)
    df = None
    pd: Any = _LazyModule("pandas")
    np: Any = _LazyModule("numpy")
    if config.get("extract"):
        import pandas as pd

        name = config["extract"]
        df = pd.read_parquet(name) if name.endswith(".parquet") else pd.read_csv(name)
    tables: list[Any] = []
    charts: list[dict[str, Any]] = []

    def show(frame: Any) -> None:
        """Return a DataFrame (or Series) as a result table."""
        tables.append(frame)

    def chart(
        kind: str, frame: Any, x: str | None = None, y: str | None = None, title: str = ""
    ) -> dict[str, Any]:
        """Return a chart spec (kind, columns, rows); the host builds the figure from it."""
        table = _frame_to_table(frame, config["max_rows"])
        spec = {"kind": kind, "x": x, "y": y, "title": title or None, "table": table}
        charts.append(spec)
        return spec

    out = _CappedText(sys.stdout, config["max_output"])
    err = _CappedText(sys.stderr, config["max_output"])
    sys.stdout, sys.stderr = out, err
    namespace: dict[str, Any] = {
        "__name__": "__analysis__",
        "df": df,
        "pd": pd,
        "np": np,
        "show": show,
        "chart": chart,
        "params": config.get("params", {}),
    }
    error = None
    _guard(work, config["read_roots"])
    try:
        exec(compile(config["code"], "<analysis>", "exec"), namespace)  # noqa: S102  # the sandboxed child
    except BaseException as exc:  # the analysis' own failure is reported, not raised
        lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
        error = "".join(line for line in lines if "bootstrap.py" not in line)[-4000:]
    frames: tuple[type, ...] = ()
    if "pandas" in sys.modules:  # no pandas imported means no DataFrames to return
        frames = (sys.modules["pandas"].DataFrame, sys.modules["pandas"].Series)
    for name in ("result", "tables"):
        value = namespace.get(name)
        if isinstance(value, list | tuple):
            tables.extend(v for v in value if isinstance(v, frames))
        elif frames and isinstance(value, frames):
            tables.append(value)
        elif name == "result" and value is not None and not tables:
            print(repr(value))
    results = {
        "tables": [_frame_to_table(t, config["max_rows"]) for t in tables[: config["max_tables"]]],
        "charts": charts[: config["max_tables"]],
        "error": error,
        "stdout_dropped": out.dropped,
        "stderr_dropped": err.dropped,
    }
    with open(config["result_file"], "w", encoding="utf-8") as handle:
        json.dump(results, handle, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
