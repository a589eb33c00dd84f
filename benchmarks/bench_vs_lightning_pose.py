"""This project's ``litpose train`` against Lightning Pose 2.4.3's on the same config; prints JSON.

    python benchmarks/bench_vs_lightning_pose.py --smoke-test                 # our side only, seconds
    python benchmarks/bench_vs_lightning_pose.py --lp-python "$(../shared/tools/lp_reference_venv.sh)" \\
        --repeats 2 --epochs 5                                                 # A B A B, 5 epochs

The config (issue 12): mirror-mouse-example, heatmap model, resnet18 from random weights, 128x128,
batch 16, supervised, ``dlc`` augmentation, Adam 1e-3, milestones [30, 40, 50] (scaled with
``--epochs``), validation every 5 epochs, 60 epochs. Both sides get the same YAML file and the
same ``litpose train CONFIG --output_dir DIR`` command, each in its own process, alternating
(ours, LP, ours, LP, ...) so that drifts in machine load hit both alike.

``--ours-set KEY=VALUE`` (repeatable; for instance ``training.precision=bf16-mixed``) adds a third
side, ``ours_set`` (its settings under ``ours_settings``): our ``litpose train`` on the same config
with those keys set (this project's speed options, which Lightning Pose does not have), run in
turn with the other two and compared with LP on its own ratios.

Measured per run: wall time of the whole command (start-up, training, validation, prediction on
the labeled frames), training time and training images/s (the Trainer's training epochs only:
a callback added to every ``lightning.pytorch.Trainer`` of the process by this script's
``--_timed`` wrapper, identical for both sides) and the validation pixel error (mean over the
labeled validation keypoints of ``predictions_pixel_error.csv``, written by both). Ratios: LP
time / our time (above 1: we are faster) and our error / LP error (below 1: we are more accurate).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data" / "mirror-mouse-example"
TIMINGS_ENV = "LP_BENCH_TIMINGS"  # the file the --_timed wrapper writes its training timings to


def keypoint_names(csv_file: Path) -> list[str]:
    """The ``bodyparts`` row of a DLC-style label CSV, one name per keypoint (LP needs them)."""
    with open(csv_file) as f:
        rows = [f.readline().rstrip("\n").split(",") for _ in range(2)]
    return list(dict.fromkeys(rows[1][1:]))


def lp_config(data_dir: Path, epochs: int, smoke: bool, workers: int) -> dict:
    """A complete Lightning Pose 2.4 config (every key LP reads), the same for both sides."""
    names = keypoint_names(data_dir / "CollectedData.csv")
    milestones = [m for m in (30, 40, 50) if m < 60]
    scale = epochs / 60
    every = 1 if smoke else min(5, epochs)
    training = {
        "imgaug": "dlc", "imgaug_hflip": False, "train_batch_size": 16, "val_batch_size": 32, "test_batch_size": 32,
        "train_prob": 0.8, "val_prob": 0.1, "train_frames": 16 if smoke else 1, "num_gpus": 0, "num_workers": workers,
        "unfreezing_epoch": 0, "min_epochs": epochs, "max_epochs": epochs, "log_every_n_steps": 5,
        "check_val_every_n_epoch": every, "ckpt_every_n_epochs": None, "early_stopping": False,
        "early_stop_patience": 3, "rng_seed_data_pt": 0, "rng_seed_model_pt": 0, "optimizer": "Adam",
        "optimizer_params": {"learning_rate": 1e-3}, "lr_scheduler": "multisteplr",
        "lr_scheduler_params": {"multisteplr": {
            "milestones": sorted({max(1, round(m * scale)) for m in milestones}), "gamma": 0.5}},
        "uniform_heatmaps_for_nan_keypoints": True,
    }
    if smoke:
        training["limit_train_batches"] = 1
    return {
        "data": {
            "image_orig_dims": {"height": 406, "width": 396}, "image_resize_dims": {"height": 128, "width": 128},
            "data_dir": str(data_dir), "video_dir": "videos", "csv_file": "CollectedData.csv",
            "downsample_factor": 2, "num_keypoints": len(names), "keypoint_names": names,
            "mirrored_column_matches": None, "columns_for_singleview_pca": None,
        },
        "training": training,
        "model": {
            "losses_to_use": [], "backbone": "resnet18", "model_type": "heatmap", "heatmap_loss_type": "mse",
            "model_name": "bench", "checkpoint": None, "backbone_pretrained": False, "lightning_pose_version": None,
        },
        "dali": {
            "general": {"seed": 123456}, "base": {"train": {"sequence_length": 32}, "predict": {"sequence_length": 96}},
            "context": {"train": {"batch_size": 16}, "predict": {"sequence_length": 96}},
        },
        "losses": {
            "pca_multiview": {"log_weight": 5.0, "components_to_keep": 3, "epsilon": None},
            "pca_singleview": {"log_weight": 5.0, "components_to_keep": 0.99, "epsilon": None},
            "temporal": {"log_weight": 5.0, "epsilon": 20.0, "prob_threshold": 0.05},
        },
        "eval": {
            "predict_vids_after_training": False, "test_videos_directory": None, "save_vids_after_training": False,
            "colormap": "cool", "confidence_thresh_for_vid": 0.9, "hydra_paths": [""],
            "fiftyone": {"dataset_name": "test", "model_display_names": ["test_model"],
                         "launch_app_from_script": False, "remote": True, "address": "127.0.0.1", "port": 5151},
        },
        "callbacks": {"anneal_weight": {"attr_name": "total_unsupervised_importance", "init_val": 0.0,
                                        "increase_factor": 0.01, "final_val": 1.0, "freeze_until_epoch": 0}},
    }


def timed_litpose(argv: list[str]) -> None:
    """``litpose`` of whichever ``lightning_pose`` this interpreter imports, with a training timer
    added to every Lightning Trainer; the timings go to ``$LP_BENCH_TIMINGS`` as JSON."""
    import lightning.pytorch as pl

    class TrainTimer(pl.Callback):
        def __init__(self) -> None:
            self.seconds, self.images, self._start = 0.0, 0, 0.0

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self._start = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            self.images += int(batch["images"].shape[0])

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            self.seconds += time.perf_counter() - self._start
            Path(os.environ[TIMINGS_ENV]).write_text(json.dumps({"train_s": self.seconds, "images": self.images}))

    original = pl.Trainer.__init__

    def with_timer(self, *args, **kwargs):
        kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [TrainTimer()]
        original(self, *args, **kwargs)

    pl.Trainer.__init__ = with_timer
    from lightning_pose.cli.main import main

    sys.argv = ["litpose", *argv]
    result = main()
    sys.exit(result if isinstance(result, int) else 0)


def validation_error(model_dir: Path) -> float:
    import pandas as pd

    errors = pd.read_csv(model_dir / "predictions_pixel_error.csv", index_col=0)
    return float(errors[errors["set"] == "validation"].drop(columns="set").stack().mean())


def with_settings(config: dict, settings: list[str]) -> dict:
    """A copy of ``config`` with each ``dotted.key=value`` set, parsed as our ``litpose``
    overrides are (:func:`lightning_pose.config.load.parse_override`)."""
    # imported here: this script also runs under LP's interpreter (``--_timed``), which has no such module
    from omegaconf import OmegaConf

    from lightning_pose.config.errors import ConfigError
    from lightning_pose.config.load import parse_override

    changed = OmegaConf.create(config)
    for setting in settings:
        try:
            key, value = parse_override(setting)
        except ConfigError as err:
            raise SystemExit(f"--ours-set {setting!r}: expected KEY=VALUE, e.g. training.precision=bf16-mixed ({err})")
        OmegaConf.update(changed, key, value, merge=False)
    return OmegaConf.to_container(changed)


def run_once(name: str, python: str, config: Path, work: Path, log) -> dict:
    out, timings = work / "model", work / "timings.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env[TIMINGS_ENV] = str(timings)
    if name != "lp":
        env["PYTHONPATH"] = str(REPO)
    command = [python, str(Path(__file__).resolve()), "--_timed", "train", str(config), "--output_dir", str(out)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{name}: `{' '.join(command)}` failed with exit code {done.returncode}; see {log.name}")
    timing = json.loads(timings.read_text())
    return {"impl": name, "wall_s": round(wall, 2), "train_s": round(timing["train_s"], 2),
            "train_images_per_s": round(timing["images"] / max(timing["train_s"], 1e-9), 2),
            "val_pixel_error": round(validation_error(out), 3)}


def summarise(runs: list[dict]) -> dict:
    """Per side, the medians of its runs; per side of ours that LP ran beside, LP's over ours."""
    keys = ("wall_s", "train_s", "train_images_per_s", "val_pixel_error")
    sides = {}
    for name in dict.fromkeys(r["impl"] for r in runs):
        mine = [r for r in runs if r["impl"] == name]
        sides[name] = {f"{k}_median": round(statistics.median(r[k] for r in mine), 3) for k in keys}
    for name in [n for n in sides if n != "lp" and "lp" in sides]:
        ours, lp = sides[name], sides["lp"]
        suffix = "" if name == "ours" else name[len("ours"):]
        sides[f"ratios{suffix}"] = {
            "wall_time_lp_over_ours": round(lp["wall_s_median"] / ours["wall_s_median"], 3),
            "train_time_lp_over_ours": round(lp["train_s_median"] / ours["train_s_median"], 3),
            "val_error_ours_over_lp": round(ours["val_pixel_error_median"] / lp["val_pixel_error_median"], 3),
        }
    return sides


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_timed"]:
        return timed_litpose(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true", help="1 epoch, 16 training frames, 1 batch")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=1, help="runs per side, alternating A B A B")
    parser.add_argument("--lp-python", help="the python of a Lightning Pose 2.4.3 venv (lp_reference_venv.sh)")
    parser.add_argument("--workers", type=int, default=0, help="data-loader workers on both sides")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--keep", type=Path, help="keep the model directories and logs here")
    parser.add_argument("--ours-set", action="append", default=[], metavar="KEY=VALUE",
                        help="a third side: ours with this config key set (repeatable)")
    args = parser.parse_args(argv)
    if not (args.data_dir / "CollectedData.csv").is_file():
        raise SystemExit(f"mirror-mouse-example not found at {args.data_dir}")
    epochs = 1 if args.smoke_test else args.epochs
    base = lp_config(args.data_dir.resolve(), epochs, args.smoke_test, args.workers)
    configs = {"ours": base, "ours_set": with_settings(base, args.ours_set), "lp": base}
    sides = [("ours", sys.executable)] + ([("ours_set", sys.executable)] if args.ours_set else []) + (
        [("lp", args.lp_python)] if args.lp_python else [])
    root = Path(args.keep or tempfile.mkdtemp(prefix="bench-vs-lp-"))
    root.mkdir(parents=True, exist_ok=True)
    for name, _ in sides:
        (root / f"config_{name}.yaml").write_text(yaml.safe_dump(configs[name]))
    runs = []
    for repeat in range(args.repeats):
        for name, python in sides:
            work = root / f"{name}_{repeat}"
            work.mkdir()
            with open(work / "log.txt", "w") as log:
                runs.append({**run_once(name, python, root / f"config_{name}.yaml", work, log), "repeat": repeat})
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    report = {"benchmark": "bench_vs_lightning_pose", "epochs": epochs, "repeats": args.repeats,
              "smoke_test": args.smoke_test, "workers": args.workers, "ours_settings": args.ours_set, "runs": runs,
              **summarise(runs)}
    if args.keep is None:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
