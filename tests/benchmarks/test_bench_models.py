"""The model throughput benchmark: its smoke mode runs as its docstring prints it and measures every
model type once; ``--interleave`` variants name the speed options they turn on and are checked
before anything is built."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import bench_models

REPO = Path(__file__).resolve().parents[2]


def _bench(*args: str) -> dict:
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_models.py"), "--smoke-test", *args],
                         capture_output=True, text=True, timeout=600, check=True, cwd=REPO).stdout
    return json.loads(out)


def test_smoke_mode_measures_each_model_type_once():
    report = _bench("--device", "cpu")
    rows = report["results"]
    assert [(row["model_type"], row["backbone"]) for row in rows] == [
        ("regression", "resnet18"), ("heatmap", "resnet18"), ("heatmap_mhcrnn", "resnet18"),
        ("heatmap_multiview_transformer", "vits_dino")]
    for row in rows:
        assert (row["image_size"], row["batch_size"], row["steps"], row["precision"]) == (128, 2, 1, "32")
        # one step: its time and the throughput are the same measurement
        assert row["images_per_s"] == pytest.approx(2 / row["seconds_per_step"], rel=0.01)


def test_interleaved_variants_are_timed_in_one_process():
    report = _bench("--device", "cpu", "--model-types", "heatmap", "--interleave", "32", "bf16-mixed+channels-last")
    (row,) = report["results"]
    names = ["32", "bf16-mixed+channels-last"]
    assert list(row["images_per_s"]) == names and list(row["warm_up_s"]) == names
    assert row["speed_up_over_first"]["32"] == 1.0
    ratio = row["images_per_s"]["bf16-mixed+channels-last"] / row["images_per_s"]["32"]
    assert row["speed_up_over_first"]["bf16-mixed+channels-last"] == pytest.approx(ratio, abs=0.01)


@pytest.mark.parametrize("name, precision, channels_last, compile_", [
    ("32", "32", False, False),
    ("compile", "32", False, True),
    ("channels-last+compile", "32", True, True),
    ("bf16-mixed+channels-last+compile", "bf16-mixed", True, True),
])
def test_a_variant_names_its_speed_options(name, precision, channels_last, compile_):
    assert bench_models.variant(name) == name
    assert bench_models.variant_options(name) == argparse.Namespace(
        precision=precision, channels_last=channels_last, compile=compile_)


@pytest.mark.parametrize("name", ["fp16", "32+bf16-mixed", "compile+compile", "channels_last"])
def test_a_bad_variant_is_refused_naming_the_options(name):
    with pytest.raises(argparse.ArgumentTypeError, match="join distinct options of 32, bf16-mixed, channels-last, compile"):
        bench_models.variant(name)
