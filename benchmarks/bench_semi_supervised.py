"""Semi-supervised epochs as a 1-CPU sweep trial trains them (temporal loss, mirror-mouse-example);
prints JSON.

    python benchmarks/bench_semi_supervised.py               # heatmap and heatmap_mhcrnn, 3 epochs each
    python benchmarks/bench_semi_supervised.py --smoke-test  # 1 epoch of 2 batches each

The config is the search-efficiency benchmark's (``mirror_mouse_search.yaml``: resnet18 from random
weights, 128x128, 8 labeled frames and 8 unlabeled video frames per step, dlc augmentation, the
temporal loss) with 10 training batches per epoch and one validation per epoch, trained with one
torch thread and no loader workers, as a trial with ``resources.cpus: 1`` trains.

Reported per model type: each training epoch's seconds (first batch to last, validation
excluded), the seconds the steps waited for their batches (labeled frames and unlabeled video
frames, decoded and augmented) and the seconds in the steps (forward, losses, backward, optimizer),
each summed over all epochs after the first (the first also builds the video reader), and the
validation epochs' seconds.
"""

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import lightning.pytorch as pl
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightning_pose.config import load_config  # noqa: E402
from lightning_pose.train import train  # noqa: E402

HERE = Path(__file__).resolve().parent
BASE_CONFIG = HERE / "mirror_mouse_search.yaml"
DATA_DIR = HERE.parents[1] / "shared" / "data" / "mirror-mouse-example"
MODEL_TYPES = ("heatmap", "heatmap_mhcrnn")


class EpochClock(pl.Callback):
    """Per training epoch: the steps' wait for data and the steps' own time (the epoch's seconds
    are their sum); per validation epoch: its seconds."""

    def __init__(self) -> None:
        self.epochs: list[dict] = []
        self.validation_s: list[float] = []
        self._batch_end = self._batch_start = self._val_start = 0.0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.epochs.append({"data_wait_s": 0.0, "step_s": 0.0, "steps": 0})
        self._batch_end = time.perf_counter()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._batch_start = time.perf_counter()
        self.epochs[-1]["data_wait_s"] += self._batch_start - self._batch_end

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._batch_end = time.perf_counter()
        epoch = self.epochs[-1]
        epoch["step_s"] += self._batch_end - self._batch_start
        epoch["steps"] += 1

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._val_start = time.perf_counter()

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.validation_s.append(time.perf_counter() - self._val_start)


def overrides(model_type: str, args: argparse.Namespace) -> list[str]:
    size = args.size
    return [
        f"data.data_dir={args.data_dir}", f"data.video_dir={args.data_dir / 'videos'}",
        f"data.image_resize_dims={{height: {size}, width: {size}}}",
        f"model.model_type={model_type}", f"training.max_epochs={args.epochs}", f"training.min_epochs={args.epochs}",
        f"training.limit_train_batches={args.batches}",
        f"training.lr_scheduler_params.multisteplr.milestones=[{args.epochs}]",  # a constant rate
    ]


def _epoch_seconds(epoch: dict) -> float:
    return epoch["data_wait_s"] + epoch["step_s"]


def _rounded(values: list[float]) -> list[float]:
    return [round(v, 2) for v in values]


def measure(model_type: str, args: argparse.Namespace) -> dict:
    cfg = load_config(BASE_CONFIG, overrides(model_type, args))
    clock = EpochClock()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lp-semi-bench-") as model_dir:
        with contextlib.redirect_stdout(sys.stderr):  # stdout is the JSON report
            train(cfg, model_dir=model_dir, skip_evaluation=True, extra_callbacks=[clock], quiet=True)
    later = clock.epochs[1:] or clock.epochs
    steps = sum(e["steps"] for e in later)
    return {
        "epoch_s": _rounded([_epoch_seconds(e) for e in clock.epochs]),
        "median_epoch_s_after_first": round(statistics.median(_epoch_seconds(e) for e in later), 2),
        "steps_after_first": steps,
        "data_wait_s_per_step": round(sum(e["data_wait_s"] for e in later) / steps, 3),
        "step_s_per_step": round(sum(e["step_s"] for e in later) / steps, 3),
        "validation_epoch_s": _rounded(clock.validation_s),
        "wall_s": round(time.perf_counter() - start, 1),
    }


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true", help="1 epoch of 2 batches per model type")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batches", type=int, default=10, help="training batches per epoch")
    parser.add_argument("--size", type=int, default=128, help="image height and width")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a 1-CPU trial has 1)")
    parser.add_argument("--model-types", nargs="+", default=list(MODEL_TYPES))
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    if args.smoke_test:
        args.epochs, args.batches = 1, 2
    if not (args.data_dir / "CollectedData.csv").is_file():
        raise SystemExit(f"mirror-mouse-example not found at {args.data_dir}")
    torch.set_num_threads(args.threads)
    report = {
        "benchmark": "bench_semi_supervised",
        "settings": {"epochs": args.epochs, "batches_per_epoch": args.batches, "image_size": args.size, "threads": args.threads, "smoke_test": args.smoke_test},
        "model_types": {model_type: measure(model_type, args) for model_type in args.model_types},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
