"""The image-check benchmark's smoke mode runs and prints its JSON."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_smoke_mode_prints_cold_and_warm_costs():
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_image_check.py"), "--smoke-test"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    report = json.loads(out)
    assert report["images"] == 50 and set(report["seconds_per_1000_images"]) == {"cold", "warm"}
    assert report["seconds_per_1000_images"]["warm"] < report["seconds_per_1000_images"]["cold"]
