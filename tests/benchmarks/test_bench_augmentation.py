"""The augmentation benchmark's smoke mode runs as the README prints it and reports every op of
the dlc preset."""

import json
import subprocess
import sys
from pathlib import Path

from lightning_pose.data.augmentations import AUGMENTATION_PRESETS

REPO = Path(__file__).resolve().parents[2]


def test_smoke_mode_times_every_dlc_op_and_the_dataset():
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_augmentation.py"), "--smoke-test"],
                         capture_output=True, text=True, timeout=300, check=True, cwd=REPO).stdout
    report = json.loads(out)
    preset = AUGMENTATION_PRESETS.get("dlc")()
    assert list(report["ops"]) == [*preset, "Resize (final)"]
    for name, op in report["ops"].items():
        p = preset[name]["p"] if name in preset else 1.0
        assert op["p"] == p and op["ms_per_call"] > 0
        assert abs(op["expected_ms_per_example"] - round(op["ms_per_call"] * p, 3)) <= 0.002
    assert len(report["ours"]["ms_per_example_by_pass"]) == 1 and report["ours"]["ms_per_example"] > 0
    assert "lightning_pose" not in report  # no --lp-python
