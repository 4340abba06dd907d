"""The local sandbox: analysis code in a separate, locked-down Python process.

Layers, each of which holds on its own against some attacks:

1. Process: a fresh interpreter (`-I -S -B`) started with an environment built from scratch (no
   inherited variables, so no secrets), in its own temporary working directory and session
   (process group), stdin closed.
2. Network and mounts: the child enters new mount, user and network namespaces before exec
   (`unshare`), so it has no interfaces but a down loopback; if the kernel refuses, the audit
   hook still refuses sockets and `isolation` says which layers were active.
3. Resources (`setrlimit`): CPU seconds, address space, file size, open files, processes (the
   last only binds non-root users); a pids cgroup with `pids.max` when the host allows one,
   which also stops a root fork bomb; a wall-clock timeout that kills the whole process group.
   Either time limit (wall clock or CPU) sets `timed_out`, and the error names which one.
   Filesystem: in a private mount namespace /etc, /home, the data directory, the warehouse
   file and the host's credential folders are covered by empty read-only mounts, and the temp
   folder shows only this run's work dir (plus, read-only, the Python install when the project
   itself lives in the temp folder), so native readers that the audit hook cannot see (pyarrow,
   duckdb) find nothing there either.
4. Audit hook (`sys.addaudithook`, see bootstrap.py): refuses sockets, subprocesses, fork/exec,
   ctypes, and opening or listing files outside the work directory and the Python install.
5. Output: stdout/stderr are capped in the child and again when read; result tables are capped
   in rows; results come back as JSON that the host validates and never executes.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from tools.interpreter.base import AnalysisResult, Limits, cpu_limit_error, wall_limit_error
from tools.results import Table

log = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_CLONE_NEWNS = 0x00020000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
# The host's configuration and the credentials a root host keeps in its home; hidden from the
# child along with the data directory and warehouse that the caller names.
DEFAULT_HIDDEN = (
    "/etc",
    "/home",
    "/root/.aws",
    "/root/.ssh",
    "/root/.config",
    "/root/.docker",
    "/root/.netrc",
)
_SHARED_DATA = ("/usr/share/zoneinfo",)
_PIDS_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


def _import_paths() -> list[str]:
    """Where the child finds pandas and numpy: this interpreter's site-packages, not the project."""
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return [p for p in sorted(paths) if Path(p).is_dir()]


def _read_roots() -> list[str]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *_import_paths(), *_SHARED_DATA}
    roots.add(str(Path(sys.executable).resolve().parent.parent))
    return sorted(roots)


def _python_roots(python: str) -> list[str]:
    """The install holding `python` (its `bin/..`), as named and with links resolved."""
    named = Path(os.path.abspath(python))  # noqa: PTH100  # a venv is known by its link's path
    return sorted({str(named.parent.parent), str(named.resolve().parent.parent)})


class _PidsCgroup:
    """A pids cgroup for one run, when the host lets us create one (root on cgroup v1 or v2)."""

    def __init__(self, limit: int) -> None:
        self.path: Path | None = None
        for root in _PIDS_ROOTS:
            if not (root / "cgroup.procs").exists() or not os.access(root, os.W_OK):
                continue
            candidate = root / f"encore-sandbox-{uuid.uuid4().hex[:12]}"
            try:
                candidate.mkdir()
                (candidate / "pids.max").write_text(str(limit))
            except OSError:
                with contextlib.suppress(OSError):
                    candidate.rmdir()
                continue
            self.path = candidate
            return

    def join(self) -> None:
        """Called in the child before exec: move it (and all it starts) into the cgroup."""
        if self.path is not None:
            fd = os.open(self.path / "cgroup.procs", os.O_WRONLY)
            try:
                os.write(fd, str(os.getpid()).encode())
            finally:
                os.close(fd)

    def close(self) -> None:
        """Kill whatever is left in the cgroup, then remove it."""
        if self.path is None:
            return
        for _ in range(50):
            try:
                pids = [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
            except OSError:
                break
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
        with contextlib.suppress(OSError):
            self.path.rmdir()


def _kept_in_tmp(work: str, roots: list[str]) -> tuple[str, ...]:
    """The read roots inside the temp folder that holds `work` (a project cloned into /tmp:
    its venv, its Python), outermost only: `_private_tmp` binds them back read-only."""
    parent = os.path.dirname(work).rstrip("/") + "/"  # noqa: PTH120
    inside = sorted({r.rstrip("/") for r in roots if r.startswith(parent) and os.path.isdir(r)})  # noqa: PTH112
    kept: list[str] = []
    for root in inside:
        if not any(root.startswith(k + "/") for k in kept):
            kept.append(root)
    return tuple(kept)


def _bind_back(libc: ctypes.CDLL, fd: int, target: str, flags: int) -> bool:
    """Bind the directory open as `fd` onto `target` (created inside the fresh tmpfs)."""
    os.makedirs(target, exist_ok=True)  # noqa: PTH103
    source = f"/proc/self/fd/{fd}".encode()
    if libc.mount(source, os.fsencode(target), None, _MS_BIND | _MS_REC, None) != 0:
        return False
    if not flags:
        return True
    remount: int = libc.mount(None, os.fsencode(target), None, _MS_REMOUNT | _MS_BIND | flags, None)
    return remount == 0


def _private_tmp(libc: ctypes.CDLL, work: str, keep: tuple[str, ...] = ()) -> bool:
    """Cover the temp folder holding the work dir with an empty tmpfs, then bind the work dir
    back, and the `keep` directories read-only: other requests' extracts and the host's temp
    files are out of sight, the Python install is not."""
    parent = os.path.dirname(work)  # noqa: PTH120
    fds = [os.open(path, os.O_PATH | os.O_DIRECTORY) for path in (work, *keep)]
    try:
        if libc.mount(
            b"tmpfs", os.fsencode(parent), b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=64k,mode=0755"
        ):
            return False
        read_only = _MS_RDONLY | _MS_NOSUID | _MS_NODEV
        return all(
            _bind_back(libc, fd, path, 0 if path == work else read_only)
            for fd, path in zip(fds, (work, *keep), strict=True)
        )
    finally:
        for fd in fds:
            os.close(fd)


def _hide(
    libc: ctypes.CDLL,
    hidden: tuple[str, ...],
    work: str | None = None,
    keep: tuple[str, ...] = (),
) -> bool:
    """In a private mount namespace, cover each hidden directory with an empty read-only tmpfs
    and each hidden file with /dev/null. Native readers (pyarrow, duckdb) bypass the audit
    hook, so the warehouse and data directory must not be there to read at all."""
    if libc.unshare(_CLONE_NEWNS) != 0:
        return False
    if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return False
    if work is not None and not _private_tmp(libc, work, keep):
        return False
    flags = _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    for path in hidden:
        target = os.fsencode(path)
        if os.path.isdir(path):  # noqa: PTH112  # no pathlib objects between fork and exec
            done = libc.mount(b"tmpfs", target, b"tmpfs", flags, b"size=4k,mode=0555")
        elif os.path.exists(path):  # noqa: PTH110
            done = libc.mount(b"/dev/null", target, None, _MS_BIND, None)
        else:
            continue
        if done != 0:
            return False
    return True


def _preexec(
    limits: Limits,
    cgroup: _PidsCgroup,
    status_fd: int,
    hidden: tuple[str, ...] = (),
    work: str | None = None,
    keep: tuple[str, ...] = (),
) -> None:
    """Runs in the forked child before exec: namespaces, cgroup, rlimits. Must not raise late."""
    flags = []
    cgroup.join()
    if cgroup.path is not None:
        flags.append("pids-cgroup")
    libc = ctypes.CDLL(None, use_errno=True)
    # The mount namespace comes first: it needs the host's root; the user namespace drops it
    # and locks these mounts so the child cannot lift them.
    if hidden and _hide(libc, hidden, work, keep):
        flags.append("hidden-paths")
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0 or libc.unshare(_CLONE_NEWNET) == 0:
        flags.append("net-namespace")
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mb, limits.file_mb * mb))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.write(status_fd, ",".join(flags).encode())
    os.close(status_fd)


def _environment(work: Path) -> dict[str, str]:
    """Built from scratch: nothing of the host's environment (keys, tokens) reaches the child."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(work),
        "TMPDIR": str(work),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        # One BLAS thread: threads count against the process limit and the CPU budget.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _read_capped(path: Path, limit: int) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    text = data[:limit].decode("utf-8", errors="replace")
    return text + ("\n[output truncated]" if len(data) > limit else "")


class LocalSandbox:
    """Runs analyses in a separate local process (see the module docstring for the layers)."""

    name = "local"

    def __init__(self, python: str | None = None, hidden: tuple[str | Path, ...] = ()) -> None:
        """`hidden`: paths the child must not see (the warehouse, the data directory)."""
        self.python = python or sys.executable
        self.hidden = tuple(str(p) for p in (*hidden, *DEFAULT_HIDDEN))

    def run(
        self,
        code: str,
        extract: pd.DataFrame | None,
        params: dict[str, Any],
        limits: Limits,
    ) -> AnalysisResult:
        """Run `code` with `df` = the extract; never raises for the analysis' own failures."""
        with tempfile.TemporaryDirectory(prefix="encore-analysis-") as tmp:
            work = Path(tmp)
            return self._run_in(work, code, extract, params, limits)

    def _run_in(
        self,
        work: Path,
        code: str,
        extract: pd.DataFrame | None,
        params: dict[str, Any],
        limits: Limits,
    ) -> AnalysisResult:
        extract_name = None
        if extract is not None:
            extract_name = "extract.parquet"
            extract.to_parquet(work / extract_name, index=False)
        config = {
            "code": code,
            "params": params,
            "paths": _import_paths(),
            "read_roots": _read_roots(),
            "work_dir": str(work),
            "extract": extract_name,
            "result_file": str(work / "_result.json"),
            "max_output": limits.max_output,
            "max_rows": limits.max_rows,
            "max_tables": limits.max_tables,
        }
        config_file = work / "_config.json"
        config_file.write_text(json.dumps(config, default=str), encoding="utf-8")
        # a copy in the work dir: the project (and so bootstrap.py) may be out of the child's
        # sight, e.g. a clone in the temp folder
        bootstrap = work / "_bootstrap.py"
        shutil.copyfile(BOOTSTRAP, bootstrap)
        cgroup = _PidsCgroup(limits.processes)
        roots = [*_read_roots(), *_python_roots(self.python)]
        hidden = _hideable(self.hidden, [str(work), *roots])
        keep = _kept_in_tmp(str(work), roots)
        status_r, status_w = os.pipe()
        started = time.perf_counter()
        timed_out = False
        try:
            with (work / "_stdout").open("wb") as out, (work / "_stderr").open("wb") as err:
                proc = subprocess.Popen(  # noqa: S603  # fixed argv; the code travels in a file
                    [self.python, "-I", "-S", "-B", str(bootstrap), str(config_file)],
                    cwd=work,
                    env=_environment(work),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                    pass_fds=(status_w,),
                    preexec_fn=lambda: _preexec(limits, cgroup, status_w, hidden, str(work), keep),
                )
                os.close(status_w)
                status_w = -1
                try:
                    proc.wait(timeout=limits.wall_s)
                except subprocess.TimeoutExpired:
                    timed_out = True
                finally:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            with os.fdopen(status_r, "rb") as status:
                layers = [s for s in status.read().decode().split(",") if s]
            status_r = -1
        finally:
            cgroup.close()
            for fd in (status_r, status_w):
                if fd >= 0:
                    os.close(fd)
        duration = time.perf_counter() - started
        result = self._collect(work, proc.returncode, limits, timed_out)
        result.duration_s = round(duration, 3)
        result.isolation = ["process", "empty-env", "rlimits", "audit-hook", *layers]
        return result

    def _collect(
        self, work: Path, returncode: int, limits: Limits, timed_out: bool
    ) -> AnalysisResult:
        stdout = _read_capped(work / "_stdout", limits.max_output)
        stderr = _read_capped(work / "_stderr", limits.max_output)
        result = AnalysisResult(stdout=stdout, stderr=stderr, timed_out=timed_out)
        payload = _load_results(work / "_result.json")
        if timed_out:
            result.error = wall_limit_error(limits)
        elif payload is None and _out_of_cpu(returncode, stderr):
            # the CPU budget is a time limit too: a busy loop on an idle machine meets it first
            result.timed_out = True
            result.error = cpu_limit_error(limits)
        elif payload is None:
            result.error = _death_reason(returncode, stderr, limits)
        if payload is not None:
            result.error = result.error or payload.get("error")
            result.tables = [
                Table(columns=t["columns"], rows=t["rows"]) for t in payload.get("tables", [])
            ]
            result.charts = [c for c in payload.get("charts", []) if isinstance(c, dict)]
            for stream, key in (("stdout", "stdout_dropped"), ("stderr", "stderr_dropped")):
                if payload.get(key):
                    setattr(result, stream, getattr(result, stream) + "\n[output truncated]")
        return result


def _hideable(paths: tuple[str, ...], needed: list[str]) -> tuple[str, ...]:
    """The hidden paths that cover nothing the child needs (its work dir, Python, packages)."""
    keep = []
    for path in paths:
        real = os.path.realpath(path)
        if any(n == real or n.startswith(real.rstrip("/") + "/") for n in needed):
            log.warning("not hiding %s from the sandbox: the sandbox needs what is inside", path)
            continue
        keep.append(real)
    return tuple(keep)


def _load_results(path: Path) -> dict[str, Any] | None:
    """The child's results file, if it wrote a well-formed one (it is data; nothing is run)."""
    try:
        with path.open("rb") as handle:
            data = json.loads(handle.read(32 * 1024 * 1024))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _out_of_cpu(returncode: int, stderr: str) -> bool:
    """SIGXCPU at the soft CPU limit, SIGKILL at the hard one (code that ignored SIGXCPU)."""
    return returncode in (-signal.SIGXCPU, -signal.SIGKILL) and "MemoryError" not in stderr


def _death_reason(returncode: int, stderr: str, limits: Limits) -> str:
    if "MemoryError" in stderr:
        return f"the analysis needed more than {limits.memory_mb} MB of memory"
    tail = stderr.strip().splitlines()[-1:] if stderr.strip() else []
    return f"the analysis process failed (exit {returncode}){': ' + tail[0] if tail else ''}"
