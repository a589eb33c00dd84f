"""Data-parallel trials: training throughput of one trial with 1 worker vs 2 DDP workers; prints JSON.

    python benchmarks/bench_ddp.py               # CPU: 1 worker x 2 CPUs vs 2 workers x 0.9 CPU
    python benchmarks/bench_ddp.py --smoke-test  # 2 epochs, tiny images
    python benchmarks/bench_ddp.py --gpu         # also 1 GPU vs 2 GPUs (needs 2 GPUs)

Each configuration is a one-trial sweep of the quickstart study (resnet18 heatmap model on the
generated demo project, same global batch size, same epochs) on a local Ray with SQLite MLflow.
Reported per configuration:
- ``steady_images_per_s``: labeled training frames per second between the first and the last
  validation report (start-up and the first epoch excluded), from Ray's ``time_total_s``;
- ``trial_wall_s``: the whole trial (for 2 workers this includes Ray Train's worker start-up);
- ``final_val_pixel_error``: the objective after the last epoch.
On the CPU both configurations use the same two cores, so the figure shows the DDP cost
(gradient all-reduce over gloo, two processes) rather than a speed-up.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightning_pose.data.utils import split_sizes_from_probabilities  # noqa: E402
from lp_sweeps import sweep  # noqa: E402
from lp_sweeps.study import base_config, load_study  # noqa: E402

QUICKSTART = Path(__file__).resolve().parents[1] / "search_spaces" / "quickstart.yaml"


def results(experiment_dir: Path) -> list[dict]:
    [result] = list(experiment_dir.glob("*/result.json"))
    return [json.loads(line) for line in result.read_text().splitlines() if line.strip()]


def run_config(name: str, workers: int, cpus: float, gpus: float, epochs: int, size: int, batch: int,
               num_cpus: int | None) -> dict:
    overrides = [
        "budget.num_samples=1", "budget.max_concurrent_trials=1", f"budget.max_epochs={epochs}",
        "scheduler={name: fifo}", "model.model_type=heatmap", f"training.train_batch_size={batch}",
        f"data.image_resize_dims={{height: {size}, width: {size}}}", "model.losses_to_use=[]",
        "training.optimizer_params.learning_rate=0.002",
        f"resources.workers={workers}", f"resources.cpus={cpus}", f"resources.gpus={gpus}",
    ]
    study_file = QUICKSTART
    with tempfile.TemporaryDirectory(prefix=f"bench-ddp-{name}-") as project:
        # the quickstart's sampled parameters are fixed by the overrides above except the model
        # type and the loss weight, which do not change the work per frame here
        record = sweep.launch(study_file, overrides, project_dir=project, num_cpus=num_cpus, printer=lambda _: None)
        rows = results(Path(record.storage_dir) / record.sweep_name)
        study = load_study(record.study_file)
        cfg = base_config(study, sweep.demo_folder(study, Path(project)))
        train_frames = _train_frames(cfg)
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
    epochs, size = (2, 64) if args.smoke_test else (args.epochs, args.image_size)
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
