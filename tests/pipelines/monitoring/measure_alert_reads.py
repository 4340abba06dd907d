"""How much of its alert log the CloudWatch monitor reads for one pipeline run, as the log grows.

Starts its own moto server on loopback, seeds N old (resolved) alerts, then counts the Logs
requests and log events of a fresh monitor (a new process) for a failing run, a repeat of the
failure, a healthy run and a failing run again:

    .venv/bin/python -m tests.pipelines.monitoring.measure_alert_reads 100 1000 3000
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3

from pipelines.monitoring import CloudWatchMonitor, record_run
from tests.conftest import MOTO_SERVER, _free_port, _wait_until_up
from tests.pipelines.monitoring.alert_reads import DIMS, CountingLogs, seed_old_alerts

REGION = "us-east-1"
RUNS = (("fails", 1.0), ("fails again", 1.0), ("healthy", 0.0), ("fails after", 1.0))
HEALTHY = {"quarantine_rate": 0.01, "retries_exhausted": 0.0, "duration_s": 12.0}
"""An ingest run's other metrics: within the rules, so each run also resolves their alerts."""


def measure(url: str, count: int) -> list[tuple[str, int, int, int, float]]:
    """(run, read requests, events read, Logs requests, seconds) of each of `RUNS`, a fresh
    monitor each, with `count` old alerts in the log."""
    group = f"/measure/{uuid.uuid4().hex[:12]}/alerts"
    logs = boto3.client("logs", region_name=REGION, endpoint_url=url)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION, endpoint_url=url)
    seeder = CloudWatchMonitor(client=cloudwatch, logs_client=logs, log_group=group)
    seed_old_alerts(seeder, count)
    rows = []
    for n, (name, failed) in enumerate(RUNS):
        counting = CountingLogs(logs)
        monitor = CloudWatchMonitor(client=cloudwatch, logs_client=counting, log_group=group)
        started = time.perf_counter()
        record_run(monitor, {**HEALTHY, "run_failed": failed}, run_id=f"run-{n}",
                   source="ingest:crm", dimensions=DIMS)  # fmt: skip
        seconds = time.perf_counter() - started
        requests = sum(counting.calls.values())
        rows.append((name, counting.reads, counting.events_read, requests, seconds))
    return rows


def main(counts: list[int]) -> None:
    logging.disable(logging.ERROR)  # the runs' alert lines are not the measurement
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_EC2_METADATA_DISABLED="true", NO_PROXY="127.0.0.1,localhost")  # fmt: skip
    port = _free_port()
    log = Path(tempfile.mkdtemp()) / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc, log)
        print(f"{'old alerts':>10}  {'run':<12} {'reads':>5} {'events read':>11} "
              f"{'Logs requests':>13}  seconds")  # fmt: skip
        for count in counts:
            for name, reads, events, requests, seconds in measure(url, count):
                print(f"{count:>10}  {name:<12} {reads:>5} {events:>11} {requests:>13}  "
                      f"{seconds:7.3f}")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [100, 1000])
