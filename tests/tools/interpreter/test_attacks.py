"""Attacks on the local sandbox: each is contained, the host unaffected, the error clear."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from core.settings import Settings
from tools.interpreter import AnalysisResult, Limits, LocalSandbox
from tools.interpreter.local import _PidsCgroup, _preexec

FAST = Limits(wall_s=40, cpu_s=6, memory_mb=768, file_mb=8, max_output=10_000)


def _run(code: str, limits: Limits = FAST, frame: pd.DataFrame | None = None) -> AnalysisResult:
    return LocalSandbox().run(code, frame, {}, limits)


@pytest.fixture
def loopback_server() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.setblocking(False)
    yield server
    server.close()


@pytest.fixture
def pids_cgroup() -> Iterator[_PidsCgroup]:
    """A pids cgroup of 16 processes (its path is None where the host allows none)."""
    cgroup = _PidsCgroup(16)
    yield cgroup
    cgroup.close()


def _unhooked(
    argv: list[str], cgroup: _PidsCgroup, *, timeout: float
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run a child the way the sandbox does but without the audit hook; also the layers it set."""
    status_r, status_w = os.pipe()
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env={},
            timeout=timeout,
            pass_fds=(status_w,),
            preexec_fn=lambda: _preexec(FAST, cgroup, status_w),
        )
    finally:
        os.close(status_w)
        # the child closes its copy before exec, so this read ends even while grandchildren live
        with os.fdopen(status_r, "rb") as status:
            layers = status.read().decode()
    return proc, layers


def _accepted(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def test_network_is_refused(loopback_server: socket.socket) -> None:
    port = loopback_server.getsockname()[1]
    result = _run(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)")
    assert result.error is not None and "not allowed" in result.error
    assert not _accepted(loopback_server)


def test_network_namespace_alone_blocks_loopback(
    loopback_server: socket.socket, pids_cgroup: _PidsCgroup
) -> None:
    """The namespace layer holds without the audit hook: a plain child cannot reach the host."""
    port = loopback_server.getsockname()[1]
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"
    proc, layers = _unhooked([sys.executable, "-I", "-S", "-c", code], pids_cgroup, timeout=30)
    if "net-namespace" not in layers:
        pytest.skip("this kernel refuses network namespaces; the audit hook is the only layer")
    assert proc.returncode != 0 and "unreachable" in proc.stderr.lower()
    assert not _accepted(loopback_server)


def test_files_outside_are_unreadable(small_warehouse: Settings) -> None:
    warehouse = small_warehouse.warehouse_file
    code = (
        f"for path in ['/etc/passwd', {str(warehouse)!r}, '../' * 12 + 'etc/hostname']:\n"
        "    try:\n"
        "        print(path, open(path, 'rb').read(8))\n"
        "    except PermissionError as exc:\n"
        "        print('refused', exc)\n"
        "import os\n"
        "os.listdir('/')\n"
    )
    result = _run(code)
    assert result.stdout.count("refused") == 3
    assert "root:" not in result.stdout and "DUCK" not in result.stdout
    assert result.error is not None and "cannot list" in result.error


def test_symlink_out_of_the_work_dir_is_refused() -> None:
    result = _run("import os\nos.symlink('/etc/passwd', 'p')\nprint(open('p').read())")
    assert result.error is not None and "PermissionError" in result.error
    assert "root:" not in result.stdout


def test_fork_bomb_and_subprocess_are_refused() -> None:
    result = _run("import os\nwhile True:\n    os.fork()")
    assert result.error is not None and "os.fork is not allowed" in result.error
    escaped = _run("import subprocess\nsubprocess.run(['sh', '-c', ':(){ :|:& };:'])")
    assert escaped.error is not None and "not allowed" in escaped.error
    native = _run("import ctypes\nctypes.CDLL(None).fork()")
    assert native.error is not None and "not allowed" in native.error


def test_pids_cgroup_stops_a_native_fork_bomb(pids_cgroup: _PidsCgroup) -> None:
    """Without the audit hook (a shell), the process limit still holds when a cgroup is possible."""
    if pids_cgroup.path is None:
        pytest.skip("no writable pids cgroup on this host")
    script = "for i in $(seq 64); do sleep 5 >/dev/null 2>&1 & done; echo done"
    proc, _ = _unhooked(["/bin/sh", "-c", script], pids_cgroup, timeout=60)
    assert "fork" in proc.stderr.lower() or "resource" in proc.stderr.lower()


def test_memory_bomb_is_stopped() -> None:
    result = _run("blocks = []\nwhile True:\n    blocks.append(bytearray(100 * 1024 * 1024))")
    assert result.error is not None and "MemoryError" in result.error


def test_endless_loop_hits_the_cpu_limit() -> None:
    result = _run("while True:\n    pass", Limits(wall_s=120, cpu_s=2, memory_mb=768))
    assert result.timed_out  # CPU seconds are a time limit too; the error says which one
    assert result.error is not None and "more than 2 s of CPU" in result.error
    assert "ENCORE_ANALYSIS_CPU_S" in result.error
    assert result.duration_s < 60


def test_sleeping_code_hits_the_wall_clock() -> None:
    result = _run("import time\ntime.sleep(600)", Limits(wall_s=3, cpu_s=6, memory_mb=768))
    assert result.timed_out
    assert result.error is not None and "longer than 3 s (wall clock)" in result.error
    assert "ENCORE_ANALYSIS_TIMEOUT_S" in result.error


def test_huge_output_is_capped() -> None:
    result = _run(
        "for i in range(200_000):\n    print('x' * 100)\n"
        "import os, sys\nos.write(1, b'y' * 50_000_000)\nprint('after')"
    )
    assert len(result.stdout) <= FAST.max_output + 100
    assert result.stdout.endswith("[output truncated]")


def test_huge_file_hits_the_file_size_limit() -> None:
    result = _run("with open('big.bin', 'wb') as f:\n    f.write(b'0' * (64 * 1024 * 1024))")
    assert result.error is not None and "File too large" in result.error


def test_environment_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCORE_TEST_SECRET", "s3cr3t-value")
    code = (
        "import os\nprint(sorted(os.environ))\n"
        "try:\n    print(open(f'/proc/{os.getppid()}/environ').read())\n"
        "except PermissionError as exc:\n    print('refused')\n"
    )
    result = _run(code)
    assert "s3cr3t" not in result.stdout and "ENCORE_TEST_SECRET" not in result.stdout
    assert "AWS" not in result.stdout and "refused" in result.stdout


def test_native_readers_find_nothing(small_warehouse: Settings, tmp_path: Path) -> None:
    """pyarrow and duckdb open files in C, unseen by the audit hook: the mounts hide them."""
    neighbour = tmp_path / "other-request.csv"  # e.g. another analysis' extract in the temp dir
    neighbour.write_text("secret\n1\n")
    code = (
        "import os, duckdb, pyarrow.csv\n"
        "for name, read in [('duckdb', lambda: duckdb.connect(params['w'], read_only=True)),\n"
        "                   ('pyarrow', lambda: pyarrow.csv.read_csv('/etc/passwd')),\n"
        f"                   ('neighbour', lambda: pyarrow.csv.read_csv({str(neighbour)!r}))]:\n"
        "    try:\n"
        "        read()\n"
        "        print(name, 'READ')\n"
        "    except Exception as exc:\n"
        "        print(name, 'failed', type(exc).__name__)\n"
    )
    sandbox = LocalSandbox(hidden=(small_warehouse.data_dir, small_warehouse.warehouse_file))
    result = sandbox.run(code, None, {"w": str(small_warehouse.warehouse_file)}, FAST)
    if "hidden-paths" not in result.isolation:
        pytest.skip("this host refuses mount namespaces; the audit hook is the only file layer")
    assert result.error is None, result.error
    assert "duckdb failed" in result.stdout and "pyarrow failed" in result.stdout
    assert "neighbour failed" in result.stdout
    assert "READ" not in result.stdout
