"""The `encore` commands of the data pipelines, registered on shared Typer groups.

The root CLI (agent/cli.py) mounts `app`'s commands and `bench_app`.
"""

from pipelines.commands import bench, data, flows, lake, schedule  # noqa: F401 - importing registers the commands
from pipelines.commands.common import app, bench_app, console, print_counts
from pipelines.commands.data import build_dataset

__all__ = ["app", "bench_app", "build_dataset", "console", "print_counts"]
