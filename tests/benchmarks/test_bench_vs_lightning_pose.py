"""The Lightning Pose comparison benchmark's smoke mode runs our side and prints its JSON."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.ci import missing

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = REPO.parent / "shared" / "data" / "mirror-mouse-example"


@pytest.mark.slow
def test_smoke_mode_trains_our_side_and_reports_time_speed_and_error(tmp_path):
    if not DATA_DIR.is_dir():
        missing(f"mirror-mouse-example not found at {DATA_DIR}")
    keep = tmp_path / "runs"
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_vs_lightning_pose.py"), "--smoke-test",
                          "--keep", str(keep)], capture_output=True, text=True, timeout=600, check=True).stdout
    report = json.loads(out)
    assert report["epochs"] == 1 and report["repeats"] == 1 and "lp" not in report and "ratios" not in report
    [run] = report["runs"]
    assert run["impl"] == "ours" and run["wall_s"] > run["train_s"] > 0
    assert abs(run["train_images_per_s"] - 16 / run["train_s"]) < 0.05 * run["train_images_per_s"]  # 1 batch of 16
    assert 0 < run["val_pixel_error"] < 600  # frame pixels (the frames are 396 x 406)
    assert report["ours"]["wall_s_median"] == run["wall_s"]
    config = yaml.safe_load((keep / "config.yaml").read_text())
    assert config["training"]["train_batch_size"] == 16 and config["model"]["backbone"] == "resnet18"
    assert (keep / "ours_0" / "model" / "predictions_pixel_error.csv").is_file()
