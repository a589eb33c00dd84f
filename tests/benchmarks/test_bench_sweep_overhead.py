"""`benchmarks/bench_sweep_overhead.py`: the warm/cold split of trial start overheads (hand-made
Ray results) and its smoke mode (a real local Ray and SQLite MLflow)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.bench_sweep_overhead import idle_breakdown, overhead_summary, targets_met, warm_trials

REPO = Path(__file__).resolve().parents[2]


def _row(pid: int, start: float, busy: float, overhead: float, age: float = 0.0) -> dict:
    return {"pid": pid, "hostname": "node", "timestamp": start + busy, "time_total_s": busy,
            "lp_start_overhead_s": overhead, "lp_process_age_s": age}


def test_a_trial_is_warm_when_an_earlier_trial_used_its_process():
    rows = [_row(11, 30.0, 5.0, 0.5), _row(10, 0.0, 10.0, 3.0), _row(11, 0.5, 9.0, 2.5), _row(10, 10.0, 4.0, 0.75),
            _row(12, 31.0, 1.0, 1.5)]
    assert [(r["pid"], r["lp_start_overhead_s"]) for r in warm_trials(rows)] == [(10, 0.75), (11, 0.5)]
    summary = overhead_summary(rows)
    assert summary["per_trial"] == [3.0, 2.5, 0.75, 0.5, 1.5]  # start order
    assert summary["mean"] == pytest.approx((3.0 + 2.5 + 0.75 + 0.5 + 1.5) / 5, abs=1e-3)
    assert summary["max"] == 3.0 and summary["warm_trials"] == 2 and summary["warm_mean"] == 0.625


def test_idle_slot_time_is_split_into_first_trial_start_ups_and_the_rest():
    # two slots, 20 s: process 10 starts up in 3 s, runs trials of 8 and 6 s (its second trial's age
    # is not start-up); process 11 starts up in 4 s, runs one trial of 12 s
    rows = [_row(10, 3.0, 8.0, 1.0, age=3.0), _row(10, 11.5, 6.0, 0.5, age=11.5), _row(11, 4.0, 12.0, 1.0, age=4.0)]
    assert idle_breakdown(rows, wall=20.0, slots=2) == {
        "idle_slot_s": 14.0, "process_startup_slot_s": 7.0, "processes": 2, "other_slot_s": 7.0}


@pytest.mark.slow
def test_smoke_mode_reuses_a_process_and_reports_measured_figures():
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "LP_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_sweep_overhead.py"), "--smoke-test"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)  # stdout is only the JSON
    assert report["trials"] == 3 and report["epochs_per_trial"] == 1
    assert report["fork_server"] is True and report["trials_in_forked_processes"] == 3
    overhead = report["start_overhead_s"]
    assert len(overhead["per_trial"]) == 3 and overhead["warm_trials"] == 1 and 0 < overhead["warm_mean"] < 60
    assert 0 < report["slot_utilisation"] <= 1 and 0 <= report["mlflow_logging_share"] < 1
    idle = report["idle"]  # three trials, the third in the first one's process: two start-ups
    assert idle["processes"] == 2 and 0 < idle["process_startup_slot_s"] < 120
    assert idle["idle_slot_s"] == pytest.approx(idle["process_startup_slot_s"] + idle["other_slot_s"], abs=0.11)
    assert report["tuner_wall_s"] <= report["total_wall_s_including_ray_start"]


def test_targets_are_judged_on_the_measured_figures():
    overheads = {"max": 3.2, "warm_mean": 0.9}
    assert targets_met(overheads, utilisation=0.89, logging_share=0.05) == {
        "overhead_le_3s": False, "utilisation_ge_75pct": True, "logging_le_5pct": True,
        "warm_overhead_mean_le_1s": True, "utilisation_ge_90pct": False}
    # no warm trial (each trial in its own process): the warm-start target is not met
    assert not targets_met({"max": 1.0, "warm_mean": None}, 0.95, 0.01)["warm_overhead_mean_le_1s"]
    assert targets_met({"max": 1.0, "warm_mean": 1.0}, 0.90, 0.01)["utilisation_ge_90pct"]
