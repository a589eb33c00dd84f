"""The Lightning Pose comparison benchmark's smoke mode runs our side and prints its JSON."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmarks.bench_vs_lightning_pose import summarise, with_settings
from tests.ci import missing

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = REPO.parent / "shared" / "data" / "mirror-mouse-example"


@pytest.mark.slow
def test_smoke_mode_trains_our_side_and_reports_time_speed_and_error(tmp_path):
    if not DATA_DIR.is_dir():
        missing(f"mirror-mouse-example not found at {DATA_DIR}")
    keep = tmp_path / "runs"
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_vs_lightning_pose.py"), "--smoke-test",
                          "--keep", str(keep), "--ours-set", "training.channels_last=true"],
                         capture_output=True, text=True, timeout=600, check=True).stdout
    report = json.loads(out)
    assert report["epochs"] == 1 and report["repeats"] == 1 and "lp" not in report and "ratios" not in report
    assert report["ours_settings"] == ["training.channels_last=true"]
    assert report["ours_set"]["train_s_median"] > 0
    run, variant = report["runs"]
    assert variant["impl"] == "ours_set" and variant["train_s"] > 0 and 0 < variant["val_pixel_error"] < 600
    assert yaml.safe_load((keep / "config_ours_set.yaml").read_text())["training"]["channels_last"] is True
    assert run["impl"] == "ours" and run["wall_s"] > run["train_s"] > 0
    assert abs(run["train_images_per_s"] - 16 / run["train_s"]) < 0.05 * run["train_images_per_s"]  # 1 batch of 16
    assert 0 < run["val_pixel_error"] < 600  # frame pixels (the frames are 396 x 406)
    assert report["ours"]["wall_s_median"] == run["wall_s"]
    config = yaml.safe_load((keep / "config_ours.yaml").read_text())
    assert "channels_last" not in config["training"]
    assert config["training"]["train_batch_size"] == 16 and config["model"]["backbone"] == "resnet18"
    assert (keep / "ours_0" / "model" / "predictions_pixel_error.csv").is_file()


def test_settings_are_set_by_dotted_key_on_a_copy():
    base = {"training": {"precision": "32", "train_batch_size": 16}, "model": {"backbone": "resnet18"}}
    changed = with_settings(base, ["training.precision=bf16-mixed", "training.channels_last=true",
                                   "model.head.width=2"])
    assert changed == {"training": {"precision": "bf16-mixed", "train_batch_size": 16, "channels_last": True},
                       "model": {"backbone": "resnet18", "head": {"width": 2}}}
    assert base["training"] == {"precision": "32", "train_batch_size": 16}
    with pytest.raises(SystemExit, match="expected KEY=VALUE"):
        with_settings(base, ["training.precision"])


def test_each_side_of_ours_gets_lp_s_ratios():
    runs = [{"impl": name, "wall_s": wall, "train_s": train, "train_images_per_s": speed, "val_pixel_error": err}
            for name, wall, train, speed, err in [
                ("ours", 100.0, 90.0, 20.0, 10.0), ("ours_set", 50.0, 45.0, 40.0, 10.5), ("lp", 150.0, 135.0, 13.0, 10.0),
                ("ours", 120.0, 110.0, 16.0, 10.0), ("ours_set", 60.0, 55.0, 32.0, 10.5), ("lp", 130.0, 125.0, 14.0, 10.0)]]
    summary = summarise(runs)
    assert summary["ours"]["wall_s_median"] == 110.0 and summary["lp"]["wall_s_median"] == 140.0
    assert summary["ratios"] == {"wall_time_lp_over_ours": 1.273, "train_time_lp_over_ours": 1.3,
                                 "val_error_ours_over_lp": 1.0}
    assert summary["ratios_set"] == {"wall_time_lp_over_ours": 2.545, "train_time_lp_over_ours": 2.6,
                                     "val_error_ours_over_lp": 1.05}
