"""Search efficiency on mirror-mouse-example: Lightning Pose's full grid against ASHA + TPE and
HyperBand + TPE on the same space; prints JSON.

    python benchmarks/bench_search_efficiency.py               # the full run (about an hour on 2 cores)
    python benchmarks/bench_search_efficiency.py --smoke-test  # 2 grid cells, 1 seed, 2 epochs
    python benchmarks/bench_search_efficiency.py --methods hyperband_tpe --seed-list 2 \
        --grid-best 16.27 --grid-trial-epochs 192  # one method and seed against an earlier run's grid

The space has 16 configurations over the mission's dimensions: the heatmap head's loss
(``model.heatmap_loss_type``: mse, kl), the downsample factor (2, 3), the temporal loss's epsilon
(5, 20 px) and its log-weight (3, 6). The grid trains every configuration FIFO for ``--epochs``
epochs (Lightning Pose's ``hyper-sweep``); ASHA + TPE and HyperBand + TPE search the same
configurations (as ``choice`` parameters) with the same per-trial epoch cap and ``--num-samples``
trials each, once per searcher seed. Two trials train at a time, one CPU each.

Reported, for the grid: its best ``val_pixel_error`` (the best report of any trial) and its total
trial-epochs (validation reports); for each method and seed: the best error found, the
trial-epochs spent, their fraction of the grid's, and the fraction of the grid's trial-epochs
spent (reports of all trials ordered by the time MLflow received them) when a report first came
within 5 % of the grid's best. The target: ASHA + TPE within 5 % of the grid's best at no more than
25 % of the grid's trial-epochs (median over seeds).
"""

import argparse
import contextlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lp_sweeps import sweep  # noqa: E402
from lp_sweeps.tracking import TrackingStore, search_children  # noqa: E402

HERE = Path(__file__).resolve().parent
BASE_CONFIG = HERE / "mirror_mouse_search.yaml"
METRIC = "val_pixel_error"
WITHIN = 1.05  # "within 5 % of the grid's best"
TARGET_FRACTION = 0.25
SPACE = {  # 2 x 2 x 2 x 2 = 16 configurations
    "model.heatmap_loss_type": ["mse", "kl"],
    "data.downsample_factor": [2, 3],
    "losses.temporal.epsilon": [5.0, 20.0],
    "losses.temporal.log_weight": [3.0, 6.0],
}
SMOKE_SPACE = {"model.heatmap_loss_type": ["mse", "kl"]}


def _study(name: str, space: dict, kind: str, searcher: dict, scheduler: dict, budget: dict, args) -> dict:
    overrides = {"training.limit_train_batches": args.limit_train_batches,
                 "data.image_resize_dims": {"height": args.size, "width": args.size}}
    if args.data_dir is not None:
        overrides.update({"data.data_dir": str(args.data_dir), "data.video_dir": str(Path(args.data_dir) / "videos")})
    return {
        "name": name, "base_config": str(BASE_CONFIG),
        "overrides": {k: v for k, v in overrides.items() if v is not None},
        "searcher": searcher, "scheduler": scheduler,
        "budget": {"max_epochs": args.epochs, **budget},
        "resources": {"cpus": 1},
        "video": {"frames_per_video": 0},  # the benchmark compares the labeled-frame objective only
        "parameters": {key: {kind: values} for key, values in space.items()},
    }


def _histories(record) -> list[tuple[int, float, str]]:
    """Every report of every trial: (time MLflow received it, value, trial id)."""
    store = TrackingStore(record.tracking_uri)
    points = []
    for row in search_children(record.tracking_uri, record.parent_run_id):
        points += [(m.timestamp, m.value, row["trial_id"]) for m in store.metric_history(row["run_id"], METRIC)]
    return sorted(points)


def _run(study: dict, folder: Path, num_cpus: int) -> tuple[list, float]:
    path = folder / f"{study['name']}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # stdout is the JSON report
        record = sweep.launch(path, [], project_dir=folder / "project", num_cpus=num_cpus, printer=print)
    if record.state != "finished":
        raise SystemExit(f"sweep {record.sweep_name} ended {record.state}")
    points = _histories(record)
    # only MLflow's metric histories are needed: the trials' checkpoints (up to three of ~130 MB per
    # trial) go, so the 7 sweeps never hold more than one sweep's worth of disk
    shutil.rmtree(record.storage_dir, ignore_errors=True)
    return points, time.perf_counter() - start


def _first_within(points: list, target: float, grid_epochs: int) -> Optional[float]:
    for count, (_, value, _) in enumerate(points, start=1):
        if value <= target:
            return round(count / grid_epochs, 4)
    return None


def _method_row(seed: int, points: list, wall: float, grid_best: float, grid_epochs: int) -> dict:
    best = min(value for _, value, _ in points)
    return {
        "seed": seed, "trials": len({trial for _, _, trial in points}),
        "best_val_pixel_error": round(best, 4), "ratio_to_grid_best": round(best / grid_best, 4),
        "trial_epochs": len(points), "fraction_of_grid_trial_epochs": round(len(points) / grid_epochs, 4),
        "fraction_when_within_5pct": _first_within(points, WITHIN * grid_best, grid_epochs),
        "wall_time_s": round(wall, 1),
    }


def _median_fraction(rows: list[dict]) -> Optional[float]:
    """Median over seeds of the fraction at which the method came within 5 % (never: infinite)."""
    values = [r["fraction_when_within_5pct"] if r["fraction_when_within_5pct"] is not None else float("inf")
              for r in rows]
    median = statistics.median(values)
    return None if median == float("inf") else round(median, 4)


def _methods(args) -> dict:
    asha = {"name": "asha", "grace_period": args.grace_period, "reduction_factor": args.reduction_factor}
    hyperband = {"name": "hyperband", "reduction_factor": args.reduction_factor}
    # HyperBand's brackets need their trials created together: no concurrency limit
    chosen = {"asha_tpe": (asha, {"max_concurrent_trials": 2}), "hyperband_tpe": (hyperband, {})}
    return {name: chosen[name] for name in args.methods}


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true", help="2 grid cells, 1 seed, 2 epochs, 1 batch per epoch")
    parser.add_argument("--epochs", type=int, default=12, help="per-trial epoch cap (the grid's epochs)")
    parser.add_argument("--num-samples", type=int, default=12, help="trials of each ASHA / HyperBand sweep")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--grace-period", type=int, default=1)
    parser.add_argument("--reduction-factor", type=float, default=4.0)
    parser.add_argument("--limit-train-batches", type=int, default=None,
                        help="training batches per epoch (default: all, 10 with the temporal loss)")
    parser.add_argument("--size", type=int, default=128, help="image height and width")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: the base config's (../shared/...)")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--methods", nargs="+", choices=("asha_tpe", "hyperband_tpe"),
                        default=["asha_tpe", "hyperband_tpe"])
    parser.add_argument("--seed-list", type=int, nargs="+", help="these searcher seeds (default: 0 .. --seeds - 1)")
    parser.add_argument("--grid-best", type=float,
                        help="with --grid-trial-epochs: an earlier run's grid figures; the grid is not trained again")
    parser.add_argument("--grid-trial-epochs", type=int)
    args = parser.parse_args(argv)
    if (args.grid_best is None) != (args.grid_trial_epochs is None):
        parser.error("--grid-best and --grid-trial-epochs go together")
    space = SPACE
    if args.smoke_test:
        space, args.epochs, args.num_samples, args.seeds, args.limit_train_batches = SMOKE_SPACE, 2, 2, 1, 1
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lp-search-bench-") as tmp:
        folder = Path(tmp)
        if args.grid_best is None:
            grid_points, grid_wall = _run(_study("grid", space, "grid", {"name": "grid"}, {"name": "fifo"},
                                                 {"num_samples": 1, "max_concurrent_trials": 2}, args), folder,
                                          args.num_cpus)
            grid_best, grid_epochs = min(v for _, v, _ in grid_points), len(grid_points)
        else:
            grid_best, grid_epochs, grid_wall = args.grid_best, args.grid_trial_epochs, None
        methods: dict[str, list] = {}
        for method, (scheduler, budget) in _methods(args).items():
            for seed in (args.seed_list if args.seed_list is not None else range(args.seeds)):
                study = _study(f"{method}_s{seed}", space, "choice", {"name": "optuna", "seed": seed}, scheduler,
                               {"num_samples": args.num_samples, **budget}, args)
                points, wall = _run(study, folder, args.num_cpus)
                methods.setdefault(method, []).append(_method_row(seed, points, wall, grid_best, grid_epochs))
    asha_median = _median_fraction(methods["asha_tpe"]) if "asha_tpe" in methods else None
    report = {
        "benchmark": "bench_search_efficiency",
        "configurations": len(_combinations(space)), "epochs": args.epochs, "image_size": args.size,
        "grid": {"best_val_pixel_error": round(grid_best, 4), "trial_epochs": grid_epochs,
                 "wall_time_s": None if grid_wall is None else round(grid_wall, 1), "trained": grid_wall is not None},
        "methods": methods,
        "asha_tpe_median_fraction_when_within_5pct": asha_median,
        "hyperband_tpe_median_fraction_when_within_5pct": (_median_fraction(methods["hyperband_tpe"])
                                                           if "hyperband_tpe" in methods else None),
        "target_met": asha_median is not None and asha_median <= TARGET_FRACTION,
        "settings": {"num_samples": args.num_samples, "seeds": args.seeds, "grace_period": args.grace_period,
                     "reduction_factor": args.reduction_factor, "limit_train_batches": args.limit_train_batches,
                     "methods": args.methods, "seed_list": args.seed_list,
                     "smoke_test": args.smoke_test},
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(report, indent=2))


def _combinations(space: dict) -> list:
    combos = [{}]
    for key, values in space.items():
        combos = [{**c, key: v} for c in combos for v in values]
    return combos


if __name__ == "__main__":
    main()
