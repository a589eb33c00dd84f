"""The semi-supervised epoch benchmark's smoke mode runs as its docstring prints it and times every
step of both model types."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_smoke_mode_times_each_step_of_both_model_types():
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_semi_supervised.py"), "--smoke-test"],
                         capture_output=True, text=True, timeout=600, check=True, cwd=REPO).stdout
    report = json.loads(out)
    assert report["settings"] == {"epochs": 1, "batches_per_epoch": 2, "image_size": 128, "threads": 1,
                                  "smoke_test": True}
    assert list(report["model_types"]) == ["heatmap", "heatmap_mhcrnn"]
    for row in report["model_types"].values():
        assert len(row["epoch_s"]) == 1 and row["steps_after_first"] == 2  # one epoch: it is its own "after"
        waited, stepped = row["data_wait_s_per_step"], row["step_s_per_step"]
        assert waited > 0 and stepped > 0
        assert abs(row["epoch_s"][0] - 2 * (waited + stepped)) <= 0.02  # the epoch is its steps and their waits
        assert len(row["validation_epoch_s"]) == 1 and row["validation_epoch_s"][0] > 0
