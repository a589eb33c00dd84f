"""`benchmarks/bench_search_efficiency.py --smoke-test` runs the grid, ASHA + TPE and HyperBand +
TPE on mirror-mouse-example and prints what it measured as JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def test_bench_search_efficiency_smoke_prints_every_method(mirror_mouse_dir):
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_search_efficiency.py"), "--smoke-test",
                           "--data-dir", str(mirror_mouse_dir)], env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)  # stdout is only the JSON
    assert report["configurations"] == 2 and report["epochs"] == 2
    grid = report["grid"]
    assert grid["trial_epochs"] == 2 * 2 and grid["best_val_pixel_error"] > 0  # 2 cells x 2 epochs, all reported
    for method in ("asha_tpe", "hyperband_tpe"):
        [row] = report["methods"][method]
        assert row["seed"] == 0 and 1 <= row["trials"] <= 2 and 1 <= row["trial_epochs"] <= 4
        assert row["fraction_of_grid_trial_epochs"] == pytest.approx(row["trial_epochs"] / grid["trial_epochs"], abs=1e-4)
        assert row["ratio_to_grid_best"] == pytest.approx(row["best_val_pixel_error"] / grid["best_val_pixel_error"],
                                                          abs=1e-3)
        within = row["fraction_when_within_5pct"]
        assert within is None or 0 < within <= row["fraction_of_grid_trial_epochs"] + 1e-9
        if row["ratio_to_grid_best"] <= 1.05:
            assert within is not None
    assert report["target_met"] == (report["asha_tpe_median_fraction_when_within_5pct"] is not None
                                    and report["asha_tpe_median_fraction_when_within_5pct"] <= 0.25)
