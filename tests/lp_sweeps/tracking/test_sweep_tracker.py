"""lp_sweeps.tracking.sweep_tracker: the driver's parent run, best trial, retention, registry."""

import socket
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from lp_sweeps.tracking import SweepTracker
from tests.lp_sweeps.tracking.conftest import EXPERIMENT, local_path, make_trial


def test_start_sweep_creates_then_resumes_one_parent(store: str, tmp_path: Path):
    tracker = SweepTracker(store, EXPERIMENT)
    first = tracker.start_sweep("sweep-1", params={"space": {"lr": "loguniform"}}, tags={"owner": "me"})
    second = SweepTracker(store, EXPERIMENT).start_sweep("sweep-1", params={"space": {"lr": "loguniform"}})
    other = tracker.start_sweep("sweep-2")
    assert first == second != other
    client = MlflowClient(store)
    run = client.get_run(first)
    tags = run.data.tags
    assert tags["lp_sweeps.role"] == "parent" and tags["lp_sweeps.sweep_name"] == "sweep-1"
    assert tags["owner"] == "me" and tags["lp_sweeps.host"] == socket.gethostname()
    assert tags["lp_sweeps.version.mlflow"] == "3.17.2" and len(tags["lp_sweeps.git_commit"]) > 0
    assert {"lp_sweeps.version.torch", "lp_sweeps.version.ray", "lp_sweeps.version.optuna"} <= set(tags)
    assert run.data.params == {"space.lr": "loguniform"}
    assert run.info.artifact_uri.startswith((tmp_path.resolve() / "mlartifacts").as_uri())
    parents = client.search_runs([tracker.experiment_id], "tags.`lp_sweeps.role` = 'parent'")
    assert sorted(r.info.run_id for r in parents) == sorted([first, other])


def test_finish_sweep_records_best_trial(sweep, store: str):
    tracker, parent = sweep
    config = {"model": {"backbone": "resnet18"}, "training": {"lr": 0.001}}
    best = {"trial_id": "t3", "run_id": "r3", "metric": "val_loss", "value": 1.25, "config": config}
    tracker.finish_sweep(parent, best)
    run = MlflowClient(store).get_run(parent)
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"best_val_loss": 1.25}
    assert run.data.tags["lp_sweeps.best_trial_id"] == "t3" and run.data.tags["lp_sweeps.best_run_id"] == "r3"
    text = (local_path(run.info.artifact_uri) / "best_config.yaml").read_text()
    assert yaml.safe_load(text) == config
    with pytest.raises(ValueError, match="lacks keys"):
        tracker.finish_sweep(parent, {"trial_id": "t3"})


def _trial_with_checkpoint(store, sweep, tmp_path: Path, trial_id: str, losses: list[float]) -> str:
    ckpt = tmp_path / f"{trial_id}.ckpt"
    ckpt.write_bytes(trial_id.encode())
    with make_trial(store, sweep, trial_id, tmp_path) as trial:
        for step, loss in enumerate(losses):
            trial.log_metrics({"val_loss": loss}, step=step)
        trial.log_artifact(ckpt, "checkpoints")
    return trial.run_id


def test_retention_keeps_best_k_checkpoints(sweep, store: str, tmp_path: Path):
    tracker, parent = sweep
    last = {"a": [0.9, 0.5], "b": [0.4, 0.2], "c": [0.1, 0.9], "d": [0.6, 0.3], "e": [float("nan")]}
    runs = {trial_id: _trial_with_checkpoint(store, sweep, tmp_path, trial_id, v) for trial_id, v in last.items()}
    kept = tracker.apply_retention(parent, "val_loss", mode="min", keep_best_k=2)
    assert kept == [runs["b"], runs["d"]]
    client = MlflowClient(store)
    for trial_id, run_id in runs.items():
        run = client.get_run(run_id)
        on_disk = (local_path(run.info.artifact_uri) / "checkpoints" / f"{trial_id}.ckpt").exists()
        assert on_disk == (run_id in kept)
        assert (run.data.tags.get("lp_sweeps.checkpoint_deleted") == "true") == (run_id not in kept)
    assert tracker.apply_retention(parent, "val_loss", mode="min", keep_best_k=2) == kept  # idempotent
    assert tracker.apply_retention(parent, "val_loss", mode="min", keep_best_k=1, scope="all") == [runs["c"]]
    with pytest.raises(ValueError, match="'median'"):
        tracker.apply_retention(parent, "val_loss", mode="median")


def test_register_best_model_points_at_checkpoint(sweep, store: str, tmp_path: Path):
    tracker, _ = sweep
    run_id = _trial_with_checkpoint(store, sweep, tmp_path, "t1", [0.5])
    assert tracker.register_best_model(run_id, "checkpoints/t1.ckpt", "study-a") == 1
    assert tracker.register_best_model(run_id, "checkpoints/t1.ckpt", "study-a") == 2
    version = MlflowClient(store).get_model_version("study-a", "1")
    assert version.run_id == run_id
    assert version.source == MlflowClient(store).get_run(run_id).info.artifact_uri + "/checkpoints/t1.ckpt"
    assert local_path(version.source).read_bytes() == b"t1"
    with pytest.raises(ValueError, match="no artifact 'checkpoints/missing.ckpt'"):
        tracker.register_best_model(run_id, "checkpoints/missing.ckpt", "study-a")
