"""`benchmarks/bench_ddp.py --smoke-test` runs both configurations and prints measured JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_bench_ddp_smoke_prints_both_configurations():
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "LP_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_ddp.py"), "--smoke-test"], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)  # stdout is only the JSON
    one, two = summary["configs"]
    assert (one["name"], one["workers"], two["name"], two["workers"]) == ("cpu_1_worker", 1, "cpu_2_workers", 2)
    for row in (one, two):
        assert row["epochs"] == 2 and row["train_frames_per_epoch"] > 0
        assert row["steady_images_per_s"] > 0 and row["trial_wall_s"] > 0 and row["final_val_pixel_error"] > 0
    assert summary["cpu_2_vs_1_worker_throughput_ratio"] == pytest.approx(
        two["steady_images_per_s"] / one["steady_images_per_s"], abs=1e-3)
