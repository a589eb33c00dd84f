"""`benchmarks/gpu_checks.py --smoke-test`: every check of the GPU script runs on CPU and reports
measured figures (the real run needs a lent GPU)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ci import missing

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = REPO.parent / "shared" / "data" / "mirror-mouse-example"
pytestmark = pytest.mark.slow


def test_smoke_mode_runs_every_check_on_cpu():
    if not DATA_DIR.is_dir():
        missing(f"mirror-mouse-example not found at {DATA_DIR}")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "LP_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_checks.py"), "--smoke-test"], env=env,
                          capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["smoke_test"] is True
    assert sorted(report["models"]) == ["bf16_channels_last", "fp32"]
    for name, precision in (("fp32", "32"), ("bf16_channels_last", "bf16-mixed")):
        [result] = report["models"][name]["results"]
        assert result["precision"] == precision and result["images_per_s"] > 0, report["models"][name]
    auto = report["auto_batch"]
    assert "error" not in auto, auto
    assert isinstance(auto["train_batch_size_chosen"], int) and auto["train_batch_size_chosen"] >= 1
    assert (auto["image_size"], auto["backbone"]) == (128, "resnet18")
    assert list(report["shared_gpu"]) == ["gpus_0.5"]  # on CPU one sweep (gpus=0) stands for both
    for sweep in report["shared_gpu"].values():
        assert "error" not in sweep, sweep
        assert sweep["state"] == "finished" and sweep["trials"] == 2 and sweep["trial_epochs"] == 2
        assert sweep["trial_epochs_per_s"] == pytest.approx(2 / sweep["tuner_wall_s"], rel=0.01)
    side = report["vs_lightning_pose"]
    assert "error" not in side, side
    assert side["runs"][0]["impl"] == "ours" and side["runs"][0]["val_pixel_error"] > 0
