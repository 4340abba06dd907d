"""The sandbox works wherever the project lives, the temp folder included.

The sandbox gives the analysis a private temp folder; a project cloned into /tmp (its venv, its
bootstrap script) must still be there for the child, read-only, while the rest of /tmp is not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
RUN = """
import json, sys
import pandas as pd
from tools.interpreter import Limits, LocalSandbox, local
secret = sys.argv[1]
code = (
    "import os, sys\\n"
    "show(df.groupby('g', as_index=False)['x'].sum())\\n"
    f"print(os.path.exists({secret!r}))\\n"
    f"open(sys.prefix + '/written', 'w')\\n"
)
frame = pd.DataFrame({"g": ["a", "a", "b"], "x": [1, 2, 3]})
r = LocalSandbox().run(code, frame, {}, Limits(wall_s=60, cpu_s=20, memory_mb=1024))
print(json.dumps({"prefix": sys.prefix, "bootstrap": str(local.BOOTSTRAP),
                  "result": r.model_dump(mode="json")}))
"""


@pytest.fixture
def clone_in_tmp() -> Iterator[Path]:
    """A clone in the temp folder: a real venv (its packages linked from ours) and the
    project's packages copied beside it."""
    with tempfile.TemporaryDirectory(prefix="encore-clone-", dir=tempfile.gettempdir()) as tmp:
        clone = Path(tmp) / "x"
        clone.mkdir()
        for package in ("core", "tools", "models", "pipelines"):
            shutil.copytree(
                ROOT / package, clone / package, ignore=shutil.ignore_patterns("__pycache__")
            )
        venv = clone / ".venv"
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
        )
        purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
        found = subprocess.run(
            [venv / "bin" / "python", "-c", purelib],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        site = Path(found.stdout.strip())
        site.rmdir()
        site.symlink_to(sysconfig.get_paths()["purelib"])
        yield clone


def test_analysis_runs_from_a_project_in_the_temp_folder(clone_in_tmp: Path) -> None:
    python = clone_in_tmp / ".venv" / "bin" / "python"
    secret = clone_in_tmp.parent / "other-request-extract.parquet"
    secret.write_text("not for this analysis")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(
        [str(python), "-c", RUN, str(secret)],
        cwd=clone_in_tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["prefix"].startswith(str(clone_in_tmp))  # the fault needs the venv under /tmp
    assert out["bootstrap"].startswith(str(clone_in_tmp))
    result = out["result"]
    assert result["tables"] and result["tables"][0]["rows"] == [["a", 3], ["b", 3]], result
    assert result["stdout"].startswith("False"), result  # the rest of the temp folder is hidden
    assert result["error"] and "written" in result["error"], result  # the venv is read-only
    assert not (clone_in_tmp / ".venv" / "written").exists()
    assert "hidden-paths" in result["isolation"] or os.geteuid() != 0
