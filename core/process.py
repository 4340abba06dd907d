"""Leaving a finished process without Python's module-by-module teardown.

A process that imported pandas, scikit-learn, DuckDB and the MCP stack spends 0.5-2 s at exit
clearing ~1,700 modules one by one; a client waiting for it (an MCP client for its server, a
user for `encore ask`) waits that long for nothing. `exit_now` does what the interpreter's exit
must do (non-daemon threads end, exit handlers run, output is flushed) and skips the rest. Only
for processes whose work is done and whose writes are committed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn


def exit_now(code: int = 0) -> NoReturn:
    """Join non-daemon threads, run the exit handlers, flush stdout and stderr, exit `code`."""
    for thread in threading.enumerate():  # as the interpreter would: non-daemon threads end
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # e.g. a chart renderer's browser, logging's flush, OTel's export
    for stream in (sys.stdout, sys.stderr):  # a closed stream (an MCP server's stdout) is fine
        with contextlib.suppress(ValueError, OSError):
            stream.flush()
    os._exit(code)
