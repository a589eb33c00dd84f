"""Chaos: a 6-trial sweep whose trial processes are killed (SIGKILL) twice and whose driver is
killed once, then `lp-sweep resume` finishes it. Afterwards every trial has exactly one child run,
no finished trial was trained again, every epoch is in each child's history exactly once (every
step counted), and the interrupted trials continued from their checkpoints."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.lp_sweeps.sweep.test_run import QUICKSTART, TINY

pytestmark = pytest.mark.slow

LP_SWEEP = Path(sys.executable).parent / "lp-sweep"
EPOCHS = 3


def _descendants(root: int) -> set[int]:
    """Every process below ``root`` (the driver's local Ray: GCS, raylet, workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _title(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""


def _running_trial_pids(driver: subprocess.Popen) -> list[int]:
    """The driver's trial processes that are training now (by their process title)."""
    return sorted(pid for pid in _descendants(driver.pid) if _title(pid).startswith("ray::ImplicitFunc.train"))


def _trial_dirs(project: Path) -> dict[str, Path]:
    """trial id -> its Ray folder (Tune names it ``_trainable_<id>_...``)."""
    return {p.name.split("_")[2]: p for p in (project / "ray_results").glob("*/_trainable_*") if p.is_dir()}


def _checkpointed(project: Path) -> set[str]:
    """Trials with a complete checkpoint: every report carries one, and Ray writes a report to the
    trial's ``result.json`` only after its checkpoint is stored (a ``model.ckpt`` that exists may
    still be being copied)."""
    return {t for t, d in _trial_dirs(project).items()
            if (d / "result.json").is_file() and (d / "result.json").read_text().strip()}


def _ended(project: Path) -> set[str]:
    files = list((project / "sweeps").glob("*/ended_trials.txt"))
    return set(files[0].read_text().split()) if files else set()


def _wait(condition, timeout: float, what: str, driver: subprocess.Popen, lines: list[str]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert driver.poll() is None, f"driver exited while waiting for {what}: {''.join(lines)[-3000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {''.join(lines)[-3000:]}"
        time.sleep(0.5)


def _kill_a_trial(project: Path, driver: subprocess.Popen, lines: list[str], checkpoints: int) -> None:
    """SIGKILL one training trial process once at least ``checkpoints`` trials have a checkpoint."""
    _wait(lambda: len(_checkpointed(project)) >= checkpoints and _running_trial_pids(driver), 900,
          f"{checkpoints} checkpointed trials", driver, lines)
    os.kill(_running_trial_pids(driver)[0], signal.SIGKILL)


def _wait_for_ray_to_go(pids: set[int], timeout: float = 30) -> None:
    """The killed driver's Ray processes end; any left after ``timeout`` are killed (as the end
    of the driver's process group would)."""
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(1)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_killed_trials_and_driver_then_resume_record_every_epoch_once(tmp_path):
    project = tmp_path / "project"
    overrides = ["budget.num_samples=6", "budget.max_concurrent_trials=2", "scheduler={name: fifo}",
                 f"budget.max_epochs={EPOCHS}", *TINY]
    driver = subprocess.Popen([str(LP_SWEEP), "launch", str(QUICKSTART), *overrides, "--project-dir", str(project),
                               "--num-cpus", "2"], cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(driver.stdout), daemon=True).start()
    try:
        _kill_a_trial(project, driver, lines, 1)
        _kill_a_trial(project, driver, lines, 3)
        # the driver dies while trials are running past their first epoch and at least one has ended
        _wait(lambda: _ended(project) and len(_checkpointed(project) - _ended(project)) >= 1 and
              len(_trial_dirs(project)) >= 4, 900, "a finished trial and a checkpointed running one", driver, lines)
        ray_processes = _descendants(driver.pid)
        # checkpointed first, ended second, then the kill at once: a trial that ends meanwhile is
        # in both (the driver notes a trial's end before Tune records it), so never counted as
        # interrupted, although Tune will not run it again
        checkpointed = _checkpointed(project)
        ended_before, killed_at = _ended(project), time.time() * 1000
        driver.send_signal(signal.SIGKILL)
        interrupted = checkpointed - ended_before
        driver.wait(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
    _wait_for_ray_to_go(ray_processes)
    record = json.loads(next((project / "sweeps").glob("*/sweep.json")).read_text())
    resumed = subprocess.run([str(LP_SWEEP), "resume", record["sweep_name"], "--project-dir", str(project)],
                             cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-5000:]

    client = MlflowClient(record["tracking_uri"])
    runs = client.search_runs([record["experiment_id"]], f"tags.`mlflow.parentRunId` = '{record['parent_run_id']}'")
    trial_ids = [run.data.tags["lp_sweeps.trial_id"] for run in runs]
    assert len(trial_ids) == len(set(trial_ids)) == 6  # exactly one child run per trial
    for run in runs:
        for key in ("val_pixel_error", "epoch"):
            steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, key))
            assert steps == list(range(EPOCHS)), (run.data.tags["lp_sweeps.trial_id"], key, steps)
        assert run.info.status == "FINISHED"
    by_trial = {run.data.tags["lp_sweeps.trial_id"]: run for run in runs}
    for trial in ended_before:  # not trained again: nothing of theirs logged after the driver died
        history = client.get_metric_history(by_trial[trial].info.run_id, "val_pixel_error")
        assert max(m.timestamp for m in history) < killed_at
    for trial in interrupted:  # continued from a checkpoint, not from the start
        resumes = client.get_metric_history(by_trial[trial].info.run_id, "resumed_from_epoch")
        assert resumes and all(0 <= m.value <= EPOCHS - 1 for m in resumes), (trial, resumes)
