"""Train a heatmap tracker (resnet18, random init) on mirror-mouse-example on the CPU; print JSON.

    python benchmarks/bench_train_mirror_mouse.py               # default settings (the target run)
    python benchmarks/bench_train_mirror_mouse.py --smoke-test  # 1 epoch, a few seconds

Reported: the validation pixel error of the best checkpoint (mean Euclidean distance in frame
pixels over labeled validation keypoints), the error of the mean-pose baseline (every keypoint at
its mean training position) on the same frames, epochs, wall time and training images/s.
The target: pixel error at most half the baseline's within 20 minutes on a 2-core machine.
"""

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightning_pose.config import load_config  # noqa: E402
from lightning_pose.metrics import summarise_pixel_error  # noqa: E402
from lightning_pose.train import train  # noqa: E402
from lightning_pose.utils.io import parse_label_csv  # noqa: E402
from lightning_pose.utils.predictions import SET_COLUMN, read_predictions_csv  # noqa: E402

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mirror-mouse-example"


class Throughput(pl.Callback):
    """Training time and images seen (validation excluded)."""

    def __init__(self) -> None:
        self.images = 0
        self.seconds = 0.0
        self._start = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.seconds += time.perf_counter() - self._start
        self.images += int(batch["images"].shape[0])


def settings(args: argparse.Namespace) -> dict:
    epochs = 1 if args.smoke_test else args.epochs
    return {
        "data": {
            "data_dir": str(args.data_dir),
            "csv_file": "CollectedData.csv",
            "num_keypoints": 17,
            "image_resize_dims": {"height": args.size, "width": args.size},
        },
        "training": {
            "imgaug": "dlc",
            "train_batch_size": 8,
            "val_batch_size": 16,
            "train_prob": 0.8,
            "val_prob": 0.1,
            "min_epochs": epochs,
            "max_epochs": epochs,
            "unfreezing_epoch": 0,  # random init: train the backbone from the start
            "check_val_every_n_epoch": max(1, min(5, epochs)),
            "log_every_n_steps": 5,
            "num_workers": args.workers,
            "rng_seed_data_pt": 42,
            "optimizer_params": {"learning_rate": args.lr},
            "lr_scheduler_params": {"multisteplr": {"milestones": [int(epochs * 0.7), int(epochs * 0.9)], "gamma": 0.3}},
        },
        "model": {"model_type": "heatmap", "backbone": "resnet18", "backbone_pretrained": False, "model_name": "bench"},
        "eval": {"predict_vids_after_training": False},
    }


def mean_pose_baseline(csv_file: Path, predictions: pd.DataFrame) -> float:
    """Mean Euclidean error on the validation frames when every keypoint sits at its training mean."""
    labels = parse_label_csv(csv_file)
    split = predictions[SET_COLUMN].to_numpy()
    mean_pose = np.nanmean(labels.keypoints[split == "train"], axis=0)
    errors = np.linalg.norm(labels.keypoints[split == "validation"] - mean_pose, axis=-1)
    return float(np.nanmean(errors))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--workers", type=int, default=0, help="data loader worker processes (0 is fastest on 2 cores)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    if not (args.data_dir / "CollectedData.csv").is_file():
        raise SystemExit(f"mirror-mouse-example not found at {args.data_dir}")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    cfg = load_config(OmegaConf.create(settings(args)))
    throughput = Throughput()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as model_dir:
        with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the JSON report
            result = train(cfg, model_dir=model_dir, extra_callbacks=[throughput])
        wall = time.perf_counter() - start
        predictions = read_predictions_csv(Path(model_dir) / "predictions.csv")
        summary = summarise_pixel_error(read_predictions_csv_errors(Path(model_dir)))
        baseline = mean_pose_baseline(args.data_dir / "CollectedData.csv", predictions)
    val_error = summary["validation"]["mean"]
    report = {
        "benchmark": "bench_train_mirror_mouse",
        "val_pixel_error": round(val_error, 3),
        "mean_pose_baseline_pixel_error": round(baseline, 3),
        "ratio_to_baseline": round(val_error / baseline, 3),
        "target_met": bool(val_error <= 0.5 * baseline and wall <= 20 * 60),
        "train_pixel_error": round(summary["train"]["mean"], 3),
        "epochs": int(cfg.training.max_epochs),
        "image_size": args.size,
        "wall_time_s": round(wall, 1),
        "train_images_per_s": round(throughput.images / max(throughput.seconds, 1e-9), 2),
        "best_checkpoint_epoch": Path(result.best_checkpoint).name if result.best_checkpoint else None,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(report, indent=2))


def read_predictions_csv_errors(model_dir: Path) -> pd.DataFrame:
    return pd.read_csv(model_dir / "predictions_pixel_error.csv", index_col=0)


if __name__ == "__main__":
    main()
