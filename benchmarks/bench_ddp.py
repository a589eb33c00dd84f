"""Data-parallel trials: training throughput of one trial with 1 worker vs 2 DDP workers; prints JSON.

    python benchmarks/bench_ddp.py               # CPU: 1 worker x 2 CPUs vs 2 workers x 0.9 CPU
    python benchmarks/bench_ddp.py --smoke-test  # 2 epochs, tiny images
    python benchmarks/bench_ddp.py --gpu         # also 1 GPU vs 2 GPUs (needs 2 GPUs)

Each configuration is a one-trial sweep (resnet18 heatmap model from random weights on the
generated demo project, same global batch size, same epochs) on a local Ray with SQLite MLflow.
Reported per configuration:
- ``steady_images_per_s``: training-split frames per second of epoch time (training plus
  validation) between the first and the last report (start-up and the first epoch excluded),
  from Ray's ``time_total_s``;
- ``trial_wall_s``: the whole trial (for 2 workers this includes Ray Train's worker start-up);
- ``final_val_pixel_error``: the objective after the last epoch.
On the CPU both configurations use the same two cores, so the figure shows the DDP cost
(gradient all-reduce over gloo, two processes) rather than a speed-up.
"""

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightning_pose.data.utils import split_sizes_from_probabilities  # noqa: E402
from lp_sweeps import sweep  # noqa: E402
from lp_sweeps.study import base_config  # noqa: E402

def results(experiment_dir: Path) -> list[dict]:
    [result] = list(experiment_dir.glob("*/result.json"))
    return [json.loads(line) for line in result.read_text().splitlines() if line.strip()]


def write_study(folder: Path, workers: int, cpus: float, gpus: float, epochs: int, size: int, batch: int) -> Path:
    """A one-trial study: resnet18 heatmap model on the demo project, fixed learning rate."""
    study = {
        "name": "bench-ddp",
        "base_config": "demo",
        "overrides": {
            "model.backbone": "resnet18", "model.backbone_pretrained": False, "model.model_type": "heatmap",
            "model.losses_to_use": [], "data.image_resize_dims": {"height": size, "width": size},
            "training.check_val_every_n_epoch": 1, "training.train_batch_size": batch,
            "eval.predict_vids_after_training": False,
        },
        "objective": {"metric": "val_pixel_error", "mode": "min"},
        "searcher": {"name": "random", "seed": 0},
        "scheduler": {"name": "fifo"},
        "budget": {"num_samples": 1, "max_epochs": epochs, "max_concurrent_trials": 1},
        "resources": {"cpus": cpus, "gpus": gpus, "workers": workers},
        "parameters": {"training.optimizer_params.learning_rate": {"choice": [2.0e-3]}},
    }
    path = folder / "bench_ddp.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def run_config(name: str, workers: int, cpus: float, gpus: float, epochs: int, size: int, batch: int,
               num_cpus: int | None) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-ddp-{name}-") as project:
        study_file = write_study(Path(project), workers, cpus, gpus, epochs, size, batch)
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the JSON
            record = sweep.launch(study_file, [], project_dir=project, num_cpus=num_cpus, printer=lambda _: None)
        rows = results(Path(record.storage_dir) / record.sweep_name)
        study = record.load_study()
        train_frames = _train_frames(base_config(study, sweep.demo_folder(study, Path(project))))
    first, last = rows[0], rows[-1]
    frames = train_frames * (len(rows) - 1)
    span = last["time_total_s"] - first["time_total_s"]
    return {
        "name": name, "workers": workers, "cpus_per_worker": cpus, "gpus_per_worker": gpus, "epochs": len(rows),
        "train_frames_per_epoch": train_frames, "steady_images_per_s": round(frames / span, 2) if span > 0 else None,
        "trial_wall_s": round(last["time_total_s"], 1), "final_val_pixel_error": round(last["val_pixel_error"], 3),
    }


def _train_frames(cfg) -> int:
    """Labeled frames in the training split: the frames one epoch trains on."""
    labels = pd.read_csv(Path(cfg.data.data_dir, cfg.data.csv_file), header=[0, 1, 2], index_col=0)
    return split_sizes_from_probabilities(len(labels), float(cfg.training.train_prob), cfg.training.val_prob)[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16, help="global training batch size (split across workers)")
    parser.add_argument("--gpu", action="store_true", help="also benchmark on GPUs (needs CUDA)")
    args = parser.parse_args(argv)
    epochs, size = (2, 128) if args.smoke_test else (args.epochs, args.image_size)
    configs = [("cpu_1_worker", 1, 2.0, 0.0, 2), ("cpu_2_workers", 2, 0.9, 0.0, 2)]
    if args.gpu:
        if not torch.cuda.is_available():
            raise SystemExit("--gpu: CUDA is not available on this machine")
        configs.append(("gpu_1_worker", 1, 2.0, 1.0, None))
        if torch.cuda.device_count() >= 2:  # DDP ranks need a GPU each
            configs.append(("gpu_2_workers", 2, 2.0, 1.0, None))
    rows = [run_config(name, w, c, g, epochs, size, args.batch, n) for name, w, c, g, n in configs]
    base = rows[0]["steady_images_per_s"]
    two = rows[1]["steady_images_per_s"]
    summary = {
        "benchmark": "bench_ddp", "torch": torch.__version__, "cuda": torch.cuda.is_available(),
        "image_size": size, "global_batch": args.batch, "configs": rows,
        "cpu_2_vs_1_worker_throughput_ratio": round(two / base, 3) if base and two else None,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
