"""Labeled-frame augmentation cost on mirror-mouse-example (406 x 396 frames, resized to 128 x 128),
per op and per training example, on one CPU thread; with ``--lp-python`` Lightning Pose's own
dataset is timed the same way in its venv. Prints JSON.

    python benchmarks/bench_augmentation.py                    # dlc preset, 3 passes over the 90 frames
    python benchmarks/bench_augmentation.py --lp-python "$(../shared/tools/lp_reference_venv.sh)"
    python benchmarks/bench_augmentation.py --smoke-test       # 8 frames, 1 pass, 3 calls per op

Per op: milliseconds per call with the op always applied (``p = 1``) to one full-size frame, and
its expected share per example (times the preset's ``p``). Per example: milliseconds of the
dataset's ``__getitem__`` (decoded frames cached after the first pass, augmentation, resize,
heatmaps) over the later passes. With ``--data-workers 0`` (Lightning Pose's benchmark config),
this is training time the model waits for on every step.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data" / "mirror-mouse-example"
sys.path.insert(0, str(REPO))

from benchmarks.bench_vs_lightning_pose import lp_config  # noqa: E402
from lightning_pose.data.augmentations import AUGMENTATION_PRESETS, AugmentationPipeline, imgaug_transform  # noqa: E402

# run by either interpreter (ours or LP's): times the dataset that `lightning_pose` there builds
_EXAMPLE_TIMER = """
import json, sys, time, torch
from omegaconf import OmegaConf
torch.set_num_threads(1)
config, frames, passes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
from lightning_pose.data.factory import get_dataset, get_imgaug_transform
try:
    from lightning_pose.config.load import load_config  # this project
    cfg = load_config(config)
    transform = get_imgaug_transform(cfg)
except ImportError:  # Lightning Pose 2.4
    cfg = OmegaConf.load(config)
    transform = get_imgaug_transform(cfg, cfg.data.data_dir)
dataset = get_dataset(cfg, data_dir=cfg.data.data_dir, imgaug_transform=transform)
count = min(frames, len(dataset))
times = []
for _ in range(passes):
    start = time.perf_counter()
    for i in range(count):
        dataset[i]
    times.append(1000 * (time.perf_counter() - start) / count)
print(json.dumps(times))
"""


def op_costs(preset: str, calls: int) -> dict:
    """Milliseconds per call of every op of ``preset`` (always applied) on a 406 x 396 frame."""
    torch.manual_seed(0)
    image = (torch.rand(3, 406, 396) * 255).to(torch.uint8)
    keypoints = torch.rand(17, 2) * 390
    costs = {}
    pipelines = {name: (imgaug_transform({name: {**spec, "p": 1.0}}), float(spec.get("p", 0.5)))
                 for name, spec in AUGMENTATION_PRESETS.get(preset)().items()}
    pipelines["Resize (final)"] = (AugmentationPipeline([], (128, 128)), 1.0)
    for name, (pipeline, p) in pipelines.items():
        pipeline(image, keypoints.clone())  # first call: allocations, OpenCV set-up
        start = time.perf_counter()
        for _ in range(calls):
            pipeline(image, keypoints.clone())
        ms = 1000 * (time.perf_counter() - start) / calls
        costs[name] = {"ms_per_call": round(ms, 3), "p": p, "expected_ms_per_example": round(ms * p, 3)}
    return costs


def example_cost(python: str, config: Path, frames: int, passes: int, ours: bool) -> dict:
    """Milliseconds per training example of the dataset ``python``'s ``lightning_pose`` builds,
    run outside the repository (so LP's interpreter never imports this project's package)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if ours:
        env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([python, "-c", _EXAMPLE_TIMER, str(config), str(frames), str(passes)],
                          capture_output=True, text=True, cwd=config.parent, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{python}: timing the dataset failed:\n{done.stderr[-3000:]}")
    times = json.loads(done.stdout.strip().splitlines()[-1])
    later = times[1:] or times  # the first pass also decodes (this project caches decoded frames)
    return {"ms_per_example_by_pass": [round(t, 3) for t in times], "ms_per_example": round(statistics.median(later), 3)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true")
    parser.add_argument("--lp-python", help="the python of a Lightning Pose 2.4.3 venv (lp_reference_venv.sh)")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    frames, passes, calls = (8, 1, 3) if args.smoke_test else (10**6, args.passes, 30)
    torch.set_num_threads(1)
    folder = Path(tempfile.mkdtemp(prefix="bench-augmentation-"))
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(lp_config(args.data_dir.resolve(), 1, False, 0)))
    report = {"benchmark": "bench_augmentation", "preset": "dlc", "frame": [406, 396], "resize": [128, 128],
              "ops": op_costs("dlc", calls), "ours": example_cost(sys.executable, config, frames, passes, ours=True)}
    report["ops_expected_ms_per_example"] = round(sum(o["expected_ms_per_example"] for o in report["ops"].values()), 3)
    if args.lp_python:
        report["lightning_pose"] = example_cost(args.lp_python, config, frames, passes, ours=False)
        report["lp_over_ours"] = round(report["lightning_pose"]["ms_per_example"] / report["ours"]["ms_per_example"], 3)
    shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
