"""lp_sweeps.tracking.sweep_tracker: the driver's parent run, best trial, retention, registry."""

import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from mlflow import MlflowClient
from omegaconf import OmegaConf

from lightning_pose.config import load_config
from lightning_pose.data.demo import demo_config
from lightning_pose.data.demo_scene import KEYPOINT_NAMES
from lightning_pose.models import get_model
from lp_sweeps.tracking import SweepTracker, load_tracker_model
from lp_sweeps.tracking.model_package import predict_frames
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


def _tiny_tracker_run(store: str, sweep, tmp_path: Path) -> tuple[str, torch.nn.Module]:
    """A trial run holding a real (random) heatmap tracker's checkpoint and its config."""
    config = demo_config(tmp_path / "data", tmp_path / "data" / "videos", (64, 64))
    config["data"]["image_resize_dims"] = {"height": 64, "width": 64}
    cfg = load_config(config)
    model = get_model(cfg)
    ckpt = tmp_path / "model.ckpt"
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, ckpt)
    with make_trial(store, sweep, "t1", tmp_path) as trial:
        trial.log_metrics({"val_loss": 0.5}, step=3)
        trial.log_artifact(ckpt, "checkpoints")
        trial.log_text(OmegaConf.to_yaml(cfg), "config.yaml")
    return trial.run_id, model


def test_register_best_model_logs_a_logged_model_that_loads_strictly_from_alias_best(sweep, store: str, tmp_path: Path):
    tracker, _ = sweep
    run_id, model = _tiny_tracker_run(store, sweep, tmp_path)
    assert tracker.register_best_model(run_id, "checkpoints/model.ckpt", "study-a") == 1
    assert tracker.register_best_model(run_id, "checkpoints/model.ckpt", "study-a") == 2
    client = MlflowClient(store)
    best = client.get_model_version_by_alias("study-a", "best")
    assert int(best.version) == 2 and best.run_id == run_id and best.source.startswith("models:/m-")
    logged = client.search_logged_models([tracker.experiment_id])
    assert len(logged) == 2 and {m.source_run_id for m in logged} == {run_id}
    assert all(m.tags["lp_sweeps.epoch"] == "3" for m in logged)
    loaded = load_tracker_model("models:/study-a@best", store)
    assert type(loaded.model) is type(model) and loaded.load_report.complete
    expected = model.state_dict()
    assert all(torch.equal(value, expected[key]) for key, value in loaded.model.state_dict().items())
    frames = np.zeros((2, 64, 64, 3), dtype=np.uint8)
    assert loaded.model.training is False
    predictions = predict_frames(loaded, frames)  # the pyfunc's predict: x, y, likelihood per keypoint
    assert predictions.shape == (2, 3 * len(KEYPOINT_NAMES))
    with pytest.raises(ValueError, match="no artifact 'checkpoints/missing.ckpt'"):
        tracker.register_best_model(run_id, "checkpoints/missing.ckpt", "study-a")
