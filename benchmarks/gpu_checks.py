"""Every GPU check issue 12 asks for, in one run that prints one JSON object; made for the few
minutes a lent GPU is available (``run`` tool), and exercised on CPU by ``--smoke-test``.

    python benchmarks/gpu_checks.py                 # on the GPU machine (about 8 minutes)
    python benchmarks/gpu_checks.py --smoke-test    # CPU, tiny sizes: every code path, no figures

Checks, each in its own process with its own time limit (a check that fails or runs out of time
is reported with its error and the others still run):

- ``models``: ``bench_models.py`` on HeatmapTracker resnet50 256x256 in fp32, then bf16-mixed and
  16-mixed with channels-last, then bf16-mixed + channels-last + compile (images/s);
- ``auto_batch``: ``training.train_batch_size: auto`` for that model on the mirror-mouse data: the
  batch the probe chose (from the saved ``config.yaml``) and the time the probe and one epoch took;
- ``shared_gpu``: the quickstart sweep's trials with ``resources.gpus: 0.5`` (two trials share
  the GPU) against ``gpus: 1`` (one at a time): trial-epochs per second of sweep wall time;
- ``vs_lightning_pose``: ``bench_vs_lightning_pose.py`` (our side; LP's as well given
  ``--lp-python``).
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_sweep_overhead import trial_rows, tuner_wall_s  # noqa: E402
from benchmarks.bench_vs_lightning_pose import DATA_DIR, lp_config  # noqa: E402
from lp_sweeps import sweep  # noqa: E402

HERE = Path(__file__).resolve().parent
QUICKSTART = HERE.parent / "search_spaces" / "quickstart.yaml"
MODEL_VARIANTS = {  # name -> bench_models.py options
    "fp32": ["--precision", "32"],
    "bf16_channels_last": ["--precision", "bf16-mixed", "--channels-last"],
    "fp16_channels_last": ["--precision", "16-mixed", "--channels-last"],
    "bf16_channels_last_compile": ["--precision", "bf16-mixed", "--channels-last", "--compile"],
}


def _json_tail(text: str) -> dict:
    """The JSON object a benchmark printed last on stdout (it prints only that)."""
    return json.loads(text[text.index("{"):])


def run_check(command: list[str], timeout_s: float, prints_json: bool = True) -> dict:
    """``command`` in its own process: its JSON output (when it prints one) and its wall time, or
    the error and the end of its stderr."""
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                              env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "LP_OFFLINE": "1"})
    except subprocess.TimeoutExpired:
        return {"error": f"ran past its {timeout_s:.0f} s limit", "wall_s": round(time.perf_counter() - start, 1)}
    if done.returncode != 0:
        return {"error": f"exit code {done.returncode}", "stderr_tail": done.stderr[-1500:],
                "wall_s": round(time.perf_counter() - start, 1)}
    output = _json_tail(done.stdout) if prints_json else {}
    return {**output, "wall_s": round(time.perf_counter() - start, 1)}


def models_commands(smoke: bool) -> dict[str, list[str]]:
    common = [sys.executable, str(HERE / "bench_models.py"), "--model-types", "heatmap"]
    if smoke:  # CPU: no float16 autocast, no compile (minutes on 2 cores)
        return {name: [*common, "--smoke-test", "--device", "cpu", *MODEL_VARIANTS[name]]
                for name in ("fp32", "bf16_channels_last")}
    return {name: [*common, "--device", "cuda", "--backbones", "resnet50", "--size", "256", "--batch", "16",
                   "--steps", "10", *options] for name, options in MODEL_VARIANTS.items()}


def auto_batch_config(folder: Path, smoke: bool) -> Path:
    """bench_vs_lightning_pose's config as resnet50 at 256x256 (128 and resnet18 for the smoke
    test, which caps the memory at 1 GiB so the probe runs on CPU), batch ``auto``, one epoch."""
    config = lp_config(DATA_DIR, 1, smoke, workers=2)
    size = 128 if smoke else 256
    config["data"]["image_resize_dims"] = {"height": size, "width": size}
    config["model"]["backbone"] = "resnet18" if smoke else "resnet50"
    config["training"].update({"train_batch_size": "auto", "limit_train_batches": 2, "check_val_every_n_epoch": 1})
    if smoke:
        config["training"]["memory_cap_bytes"] = 2**30
    path = folder / "auto_batch.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def auto_batch(folder: Path, smoke: bool, timeout_s: float) -> dict:
    config, out = auto_batch_config(folder, smoke), folder / "auto_batch_model"
    command = [sys.executable, "-m", "lightning_pose.cli.main", "train", str(config), "--output_dir", str(out)]
    result = run_check(command, timeout_s, prints_json=False)
    if (out / "config.yaml").is_file():
        saved = yaml.safe_load((out / "config.yaml").read_text())
        result.update({"train_batch_size_chosen": saved["training"]["train_batch_size"],
                       "image_size": saved["data"]["image_resize_dims"]["height"],
                       "backbone": saved["model"]["backbone"]})
    return result


def shared_gpu_command(gpus: float, smoke: bool) -> list[str]:
    """A sweep of quickstart trials at ``gpus`` per trial (0 for the CPU smoke test), FIFO, run
    by this script's ``--_sweep`` mode."""
    trials, epochs = (2, 1) if smoke else (4, 3)
    overrides = [f"resources.gpus={0 if smoke else gpus}", f"budget.num_samples={trials}",
                 f"budget.max_epochs={epochs}", "scheduler={name: fifo}", "video={frames_per_video: 0}",
                 "budget.max_concurrent_trials=2"] + (["training.limit_train_batches=2"] if smoke else [])
    return [sys.executable, str(Path(__file__).resolve()), "--_sweep", *overrides]


def sweep_throughput(overrides: list[str]) -> dict:
    """One quickstart sweep in this process: trial-epochs per second of the Tuner's wall time."""
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lp-gpu-sweep-") as project:
        record = sweep.launch(QUICKSTART, overrides, project_dir=project, num_cpus=os.cpu_count(),
                              printer=lines.append)
        rows = trial_rows(Path(record.storage_dir) / record.sweep_name)
    wall = tuner_wall_s(lines)
    epochs = sum(int(row["training_iteration"]) for row in rows)
    return {"state": record.state, "trials": len(rows), "trial_epochs": epochs, "tuner_wall_s": round(wall, 1),
            "trial_epochs_per_s": round(epochs / wall, 4), "overrides": overrides}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_sweep"]:
        with contextlib.redirect_stdout(sys.stderr):
            result = sweep_throughput(argv[1:])
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true", help="CPU, tiny sizes")
    parser.add_argument("--lp-python", help="a Lightning Pose 2.4.3 python for the side-by-side run")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the side-by-side run")
    args = parser.parse_args(argv)
    smoke = args.smoke_test
    limit = 240.0 if smoke else 150.0
    report: dict = {"benchmark": "gpu_checks", "smoke_test": smoke}
    with tempfile.TemporaryDirectory(prefix="lp-gpu-checks-") as tmp:
        report["models"] = {name: run_check(command, limit) for name, command in models_commands(smoke).items()}
        report["auto_batch"] = auto_batch(Path(tmp), smoke, limit)
        report["shared_gpu"] = {f"gpus_{gpus:g}": run_check(shared_gpu_command(gpus, smoke), limit * 2)
                                for gpus in ((0.5,) if smoke else (0.5, 1.0))}  # on CPU both are gpus=0
        side_by_side = [sys.executable, str(HERE / "bench_vs_lightning_pose.py")]
        side_by_side += ["--smoke-test"] if smoke else ["--epochs", str(args.epochs)]
        if args.lp_python:
            side_by_side += ["--lp-python", args.lp_python]
        report["vs_lightning_pose"] = run_check(side_by_side, limit * 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
