"""End-of-sweep bookkeeping with the tracking server away: the sweep keeps everything, exits with
ExitCode.UNSYNCED and prints the command that finishes it; that command, run as printed once the
server is back, delivers everything exactly once (a real `mlflow server`, a real local Ray)."""

import json
import os
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lp_sweeps.tracking import start_ui, stop_ui, wait_until_healthy
from tests.lp_sweeps.sweep.test_run import QUICKSTART, TINY
from tests.ports import free_port

pytestmark = pytest.mark.slow

LP_SWEEP = Path(sys.executable).parent / "lp-sweep"  # the console script, as a user types it


def _serve(tmp_path: Path, port: int) -> subprocess.Popen:
    server = start_ui(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "artifacts", port=port,
                      log_path=tmp_path / "server.log")
    wait_until_healthy(f"http://127.0.0.1:{port}", timeout=120, process=server)
    return server


def _wait_for(lines: list[str], text: str, count: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while sum(text in line for line in lines) < count:
        assert process.poll() is None, "".join(lines)[-3000:]
        assert time.monotonic() < deadline, f"timed out waiting for {count} x {text!r}: {''.join(lines)[-3000:]}"
        time.sleep(0.5)


def _counts(client: MlflowClient, experiment_id: str, parent: str) -> dict:
    runs = client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'")
    return {
        "runs": sorted((r.data.tags["lp_sweeps.trial_id"], r.info.status) for r in runs),
        "steps": sorted(tuple(m.step for m in client.get_metric_history(r.info.run_id, key))
                        for r in runs for key in ("val_pixel_error", "epoch")),
        "parent": client.get_run(parent).info.status,
        "best": len(client.get_metric_history(parent, "best_val_pixel_error")),
        "versions": len(client.search_model_versions("name = 'quickstart'")),
    }


def test_tracking_server_down_at_the_end_then_sync_delivers_everything_once(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(tmp_path, port)
    overrides = ["budget.num_samples=2", "budget.max_concurrent_trials=1", "scheduler={name: fifo}",
                 "budget.max_epochs=2", *TINY]
    command = [str(LP_SWEEP), "launch", str(QUICKSTART), *overrides, "--project-dir", str(tmp_path / "project"),
               "--tracking-uri", url, "--tracking-timeout", "10", "--num-cpus", "2"]
    driver = subprocess.Popen(command, cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(driver.stdout), daemon=True).start()
    try:
        _wait_for(lines, " started |", 2, driver, 600)  # the second (last) trial is under way
        stop_ui(server)
        assert driver.wait(timeout=600) == 5, "".join(lines)[-3000:]  # ExitCode.UNSYNCED
    finally:
        if driver.poll() is None:
            driver.kill()
        stop_ui(server)
    out = "".join(lines)
    assert f"MLflow tracking server {url} unreachable for 10 s at the end of the sweep" in out
    printed = next(line for line in out.splitlines() if "finish with: " in line).split("finish with: ")[1].strip()
    assert printed.startswith("lp-sweep sync quickstart-") and printed.endswith(f"--project-dir {tmp_path / 'project'}")
    assert list((tmp_path / "project" / "spool").glob("*.jsonl")), "the unsent records must be kept"

    server = _serve(tmp_path, port)
    try:
        client = MlflowClient(url)
        sweep_json = next((tmp_path / "project" / "sweeps").glob("*/sweep.json"))
        record = json.loads(sweep_json.read_text())
        assert record["state"] == "unsynced"
        finished = subprocess.run([str(LP_SWEEP), *shlex.split(printed)[1:]], cwd=tmp_path, capture_output=True,
                                  text=True, timeout=600)
        assert finished.returncode == 0, finished.stdout + finished.stderr
        counts = _counts(client, record["experiment_id"], record["parent_run_id"])
        assert [status for _, status in counts["runs"]] == ["FINISHED", "FINISHED"]
        assert counts["steps"] == [(0, 1)] * 4  # every epoch of both trials exactly once, two metrics each
        assert (counts["parent"], counts["best"], counts["versions"]) == ("FINISHED", 1, 1)
        assert not list((tmp_path / "project" / "spool").glob("*.jsonl"))
        again = subprocess.run([str(LP_SWEEP), *shlex.split(printed)[1:]], cwd=tmp_path, capture_output=True,
                               text=True, timeout=600)
        assert again.returncode == 0 and _counts(client, record["experiment_id"], record["parent_run_id"]) == counts
    finally:
        stop_ui(server)
