"""MLflow tracking adapter against a real MLflow (SQLite store under tmp_path; one slow server test)."""

import json
import logging
import math
import multiprocessing
import os
import shutil
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import yaml
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, RESOURCE_DOES_NOT_EXIST

from lp_sweeps.tracking import (
    SweepTracker,
    TrackingFlushError,
    TrackingSetupError,
    TrialTracker,
    default_artifact_location,
    default_tracking_uri,
    deliver_spooled,
    is_transient_error,
    read_trial_history,
    search_children,
    serialize_dict,
    start_ui,
    stop_ui,
    wait_until_healthy,
)
from lp_sweeps.tracking_support import Spool, finite_metrics, param_value, sanitize_key
from tests.ports import free_port

EXPERIMENT = "study-a"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite database with its tables created once (creating them takes ~6 s)."""
    folder = tmp_path_factory.mktemp("template")
    MlflowClient(default_tracking_uri(folder)).search_experiments()
    return folder / "mlruns.db"


@pytest.fixture
def store(tmp_path: Path, template_db: Path) -> str:
    shutil.copy(template_db, tmp_path / "mlruns.db")
    return default_tracking_uri(tmp_path)


@pytest.fixture
def sweep(store: str) -> tuple[SweepTracker, str]:
    tracker = SweepTracker(store, EXPERIMENT)
    return tracker, tracker.start_sweep("sweep-1", params={"search.num_samples": 4}, tags={"owner": "tests"})


def _trial(store: str, sweep: tuple[SweepTracker, str], trial_id: str, tmp_path: Path, **kwargs) -> TrialTracker:
    tracker, parent = sweep
    name, spool = f"trial_{trial_id}", tmp_path / "spool"
    return TrialTracker(store, parent, tracker.experiment_id, trial_id, name, "sweep-1", spool_dir=spool, **kwargs)


def _local(uri: str) -> Path:
    return Path(urlparse(uri).path)


# ------------------------------------------------------------------------------------ pure helpers


def test_default_uri_and_artifact_location(tmp_path: Path):
    uri = default_tracking_uri(tmp_path)
    assert uri == f"sqlite:///{tmp_path.resolve()}/mlruns.db"
    assert default_artifact_location(uri) == (tmp_path.resolve() / "mlartifacts").as_uri()
    assert default_artifact_location("http://127.0.0.1:5000") is None


@pytest.mark.parametrize(
    "name, expected",
    [
        ("lr-Adam/head", "lr-Adam/head"),
        ("val loss (px)", "val loss _px_"),
        ("train:loss", "train_loss"),
        ("/a//b/", "a/b"),
        ("./x/../y", "_/x/__/y"),
        ("epoch=3", "epoch_3"),
        ("", "_"),
    ],
)
def test_sanitize_key(name, expected):
    assert sanitize_key(name) == expected


def test_sanitize_key_cuts_to_mlflow_limit_and_values_are_limited():
    assert len(sanitize_key("k" * 300)) == 250
    long_value = param_value("v" * 7000)
    assert len(long_value) == 6000 and long_value.endswith("...[truncated]")
    assert param_value(0.001) == "0.001"


def test_finite_metrics_drops_nan_and_inf_and_names_bad_values():
    out = finite_metrics({"a": 1, "b": float("nan"), "c": float("inf"), "d/e f": np.float32(0.5)})
    assert out == {"a": 1.0, "d/e f": 0.5}
    with pytest.raises(ValueError, match="'vec'"):
        finite_metrics({"vec": np.array([1.0, 2.0])})


def test_serialize_dict_formats():
    assert serialize_dict({"b": 1, "a": {"x": [1, 2]}}, "config.yaml") == "b: 1\na:\n  x:\n  - 1\n  - 2\n"
    assert json.loads(serialize_dict({"a": np.int64(3)}, "x.json")) == {"a": 3}
    table = {"keypoint": ["nose", "tail"], "pixel_error": [1.5, 2.25]}
    assert serialize_dict(table, "per_keypoint_val_error.csv") == "keypoint,pixel_error\nnose,1.5\ntail,2.25\n"
    with pytest.raises(ValueError, match="differ in length"):
        serialize_dict({"a": [1], "b": [1, 2]}, "t.csv")
    with pytest.raises(ValueError, match="'.txt'"):
        serialize_dict({"a": 1}, "t.txt")


def test_transient_errors_are_retried_and_others_are_not():
    assert is_transient_error(MlflowException("API request failed", error_code=INTERNAL_ERROR))
    assert is_transient_error(ConnectionRefusedError(111, "refused"))
    assert not is_transient_error(MlflowException("no such run", error_code=RESOURCE_DOES_NOT_EXIST))
    assert not is_transient_error(PermissionError(13, "denied"))


def test_spool_replays_only_unacknowledged_records(tmp_path: Path):
    spool = Spool(tmp_path, "k")
    for step in range(3):
        spool.append({"op": "metrics", "step": step, "timestamp": 0, "metrics": {"a": 1.0}})
    spool.acknowledge(2)
    with open(spool.path, "a") as handle:
        handle.write('{"seq": 4, "op": "metr')  # a write cut short by a crash
    again = Spool(tmp_path, "k")
    assert [r["seq"] for r in again.load_pending()] == [3]
    assert again.append({"op": "tags", "tags": {}})["seq"] == 4
    again.remove()
    assert not spool.path.exists() and not spool.ack_path.exists()


def test_spool_is_emptied_once_large_and_fully_acknowledged(tmp_path: Path):
    spool = Spool(tmp_path, "k")
    spool.append({"op": "tags", "tags": {"blob": "x" * (1 << 20)}})
    spool.compact()  # not acknowledged yet: kept
    assert spool.path.stat().st_size > 1 << 20
    spool.acknowledge(1)
    spool.compact()
    assert spool.path.read_text() == ""
    again = Spool(tmp_path, "k")
    assert again.load_pending() == [] and again.append({"op": "tags", "tags": {}})["seq"] == 2


# ------------------------------------------------------------------------------------ driver side


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
    text = (_local(run.info.artifact_uri) / "best_config.yaml").read_text()
    assert yaml.safe_load(text) == config
    with pytest.raises(ValueError, match="lacks keys"):
        tracker.finish_sweep(parent, {"trial_id": "t3"})


# ------------------------------------------------------------------------------------- trial side


def test_one_child_run_per_trial_reused_on_restart(sweep, store: str, tmp_path: Path):
    tracker, parent = sweep
    first = _trial(store, sweep, "t1", tmp_path)
    run_a = first.start()
    first.end("KILLED")
    retried = _trial(store, sweep, "t1", tmp_path)
    assert retried.start() == run_a
    assert MlflowClient(store).get_run(run_a).info.status == "RUNNING"
    retried.end("FAILED")
    with _trial(store, sweep, "t2", tmp_path) as other:
        run_b = other.run_id
    assert run_b not in (None, run_a)
    assert tracker.child_runs(parent) == {"t1": run_a, "t2": run_b}
    client = MlflowClient(store)
    assert client.get_run(run_a).info.status == "FAILED" and client.get_run(run_b).info.status == "FINISHED"
    tags = client.get_run(run_a).data.tags
    assert tags["mlflow.parentRunId"] == parent and tags["lp_sweeps.trial_name"] == "trial_t1"
    assert tags["lp_sweeps.sweep_name"] == "sweep-1" and "lp_sweeps.git_commit" in tags
    assert len(client.search_runs([tracker.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'")) == 2


def test_params_metrics_artifacts_round_trip(sweep, store: str, tmp_path: Path):
    checkpoint = tmp_path / "epoch=3.ckpt"
    checkpoint.write_bytes(b"weights")
    trial = _trial(store, sweep, "t1", tmp_path)
    run_id = trial.start()
    trial.log_params({"training": {"lr": 0.001, "batch": 8}, "notes": "x" * 7000})
    for step, loss in enumerate([3.0, 2.0, float("nan"), 1.5]):
        trial.log_metrics({"val_loss": loss, "lr-Adam/head": 0.1 * (step + 1), "rmse (px)": 2 * loss}, step=step)
    trial.log_dict({"model": {"losses_to_use": ["pca_singleview"]}}, "config.yaml")
    trial.log_dict({"keypoint": ["nose", "ear"], "error": [1.0, 2.5]}, "eval/per_keypoint_val_error.csv")
    trial.log_checkpoint(checkpoint)
    trial.end()
    assert not trial.spool_path.exists()

    params = MlflowClient(store).get_run(run_id).data.params
    assert params["training.lr"] == "0.001" and params["training.batch"] == "8"
    assert len(params["notes"]) == 6000
    assert read_trial_history(store, run_id, "val_loss") == [(0, 3.0), (1, 2.0), (3, 1.5)]
    assert [v for _, v in read_trial_history(store, run_id, "lr-Adam/head")] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert read_trial_history(store, run_id, "rmse _px_") == [(0, 6.0), (1, 4.0), (3, 3.0)]
    root = _local(trial.artifact_uri)
    assert yaml.safe_load((root / "config.yaml").read_text()) == {"model": {"losses_to_use": ["pca_singleview"]}}
    assert (root / "eval" / "per_keypoint_val_error.csv").read_text() == "keypoint,error\nnose,1.0\near,2.5\n"
    assert (root / "checkpoints" / "epoch=3.ckpt").read_bytes() == b"weights"
    [row] = search_children(store, sweep[1])
    assert row["trial_id"] == "t1" and row["run_id"] == run_id and row["status"] == "FINISHED"
    assert row["metrics"]["val_loss"] == 1.5 and row["params"]["training.batch"] == "8"


def test_resume_skips_already_logged_params(sweep, store: str, tmp_path: Path, caplog):
    first = _trial(store, sweep, "t1", tmp_path)
    run_id = first.start()
    first.log_params({"lr": 0.1, "batch": 8})
    first.end("FAILED")
    resumed = _trial(store, sweep, "t1", tmp_path)
    assert resumed.start() == run_id
    with caplog.at_level(logging.WARNING, logger="lp_sweeps"):
        resumed.log_params({"lr": 0.1, "batch": 8, "resumed_from": "epoch 3"})
        resumed.log_params({"lr": 0.2})
        resumed.end()
    assert MlflowClient(store).get_run(run_id).data.params == {"lr": "0.1", "batch": "8", "resumed_from": "epoch 3"}
    assert "'lr' is already logged as '0.1'" in caplog.text


def test_rejected_record_is_dropped_and_later_ones_arrive(sweep, store: str, tmp_path: Path, caplog):
    trial = _trial(store, sweep, "t1", tmp_path)
    run_id = trial.start()
    client = MlflowClient(store)
    client.delete_run(run_id)  # e.g. someone deleted the run in the UI
    with caplog.at_level(logging.ERROR, logger="lp_sweeps"):
        trial.log_metrics({"loss": 1.0}, step=0)
        trial.flush(5.0)
    assert "MLflow rejected record" in caplog.text
    client.restore_run(run_id)
    trial.log_metrics({"loss": 2.0}, step=1)
    trial.set_tags({"note": "y" * 9000})
    trial.end()
    assert read_trial_history(store, run_id, "loss") == [(1, 2.0)]
    assert len(client.get_run(run_id).data.tags["note"]) == 8000


def test_misuse_is_reported_clearly(sweep, store: str, tmp_path: Path):
    trial = _trial(store, sweep, "t1", tmp_path)
    with pytest.raises(RuntimeError, match="call start"):
        trial.log_metrics({"loss": 1.0}, step=0)
    trial.start()
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        trial.log_checkpoint(tmp_path / "missing.ckpt")
    with pytest.raises(ValueError, match="'DONE'"):
        trial.end("DONE")
    trial.end()
    with pytest.raises(RuntimeError, match="not after end"):
        trial.log_params({"a": 1})
    with pytest.raises(ValueError, match="quotes"):
        _trial(store, sweep, "it's", tmp_path)


def test_blocking_mode_delivers_before_returning(sweep, store: str, tmp_path: Path):
    trial = _trial(store, sweep, "t1", tmp_path, background=False)
    run_id = trial.start()
    trial.log_metrics({"loss": 0.5}, step=7)
    assert read_trial_history(store, run_id, "loss") == [(7, 0.5)]
    trial.end()


def test_unknown_parent_run_is_a_setup_error(sweep, store: str, tmp_path: Path):
    tracker, _ = sweep
    trial = TrialTracker(store, "0" * 32, tracker.experiment_id, "t1", "t1", "sweep-1", spool_dir=tmp_path)
    with pytest.raises(TrackingSetupError, match="parent run 0000"):
        trial.start()
    with pytest.raises(TrackingFlushError, match="setup failed"):
        trial.flush(1.0)


def test_unreachable_server_buffers_and_spool_replays(sweep, store: str, tmp_path: Path, caplog):
    tracker, parent = sweep
    down = f"http://127.0.0.1:{free_port()}"
    kwargs = {"spool_dir": tmp_path / "spool", "start_timeout_s": 0.2, "initial_backoff_s": 0.1, "max_backoff_s": 0.2}
    offline = TrialTracker(down, parent, tracker.experiment_id, "t1", "trial_t1", "sweep-1", **kwargs)
    with caplog.at_level(logging.WARNING, logger="lp_sweeps"):
        assert offline.start() is None
        began = time.monotonic()
        for step in range(5):
            offline.log_metrics({"loss": 1.0 / (step + 1), "acc": 0.1 * step}, step=step)
        offline.log_text("a: 1\n", "config.yaml")
        assert time.monotonic() - began < 0.5  # training is not held up
        with pytest.raises(TrackingFlushError, match=r"records \(10 metric values\).*spool file") as info:
            offline.end(timeout=0.5)
    assert info.value.remaining_metric_values == 10 and info.value.spool_path.exists()
    assert caplog.text.count(f"MLflow tracking server {down} unreachable, buffering") == 1

    replay = TrialTracker(store, parent, tracker.experiment_id, "t1", "trial_t1", "sweep-1", **kwargs)
    run_id = replay.start()
    replay.end()
    assert [step for step, _ in read_trial_history(store, run_id, "loss")] == [0, 1, 2, 3, 4]
    assert read_trial_history(store, run_id, "acc")[-1] == (4, pytest.approx(0.4))
    assert (_local(replay.artifact_uri) / "config.yaml").read_text() == "a: 1\n"
    assert MlflowClient(store).get_run(run_id).info.status == "FINISHED"
    assert not info.value.spool_path.exists()


def _log_then_die(uri: str, parent: str, experiment_id: str, spool_dir: str) -> None:
    offline = TrialTracker(uri, parent, experiment_id, "t7", "trial_t7", "sweep-1", spool_dir=spool_dir,
                           start_timeout_s=0.2, initial_backoff_s=0.1, max_backoff_s=0.2)
    offline.start()
    for step in range(3):
        offline.log_metrics({"val_pixel_error": 10.0 - step}, step=step)
    os._exit(3)  # killed: no end(), no flush


def test_the_sweep_delivers_what_a_killed_trial_left_in_its_spool(sweep, store: str, tmp_path: Path):
    """A trial whose process ended while the server was away (stopped by ASHA, its node lost) left
    records in the shared spool folder; at the end of the sweep the driver sends them."""
    tracker, parent = sweep
    down = f"http://127.0.0.1:{free_port()}"
    trial = multiprocessing.get_context("spawn").Process(
        target=_log_then_die, args=(down, parent, tracker.experiment_id, str(tmp_path / "spool")))
    trial.start()
    trial.join(60)
    assert trial.exitcode == 3

    states = {"t7": "KILLED", "t8": "FINISHED"}  # t8 left nothing behind
    assert deliver_spooled(store, parent, tracker.experiment_id, "sweep-1", states, tmp_path / "spool") == ["t7"]
    [row] = search_children(store, parent)
    assert row["trial_id"] == "t7" and row["status"] == "KILLED"
    assert read_trial_history(store, row["run_id"], "val_pixel_error") == [(0, 10.0), (1, 9.0), (2, 8.0)]
    assert deliver_spooled(store, parent, tracker.experiment_id, "sweep-1", states, tmp_path / "spool") == []
    assert not list((tmp_path / "spool").iterdir())  # nothing left behind


# --------------------------------------------------------------------------- retention and registry


def _trial_with_checkpoint(store, sweep, tmp_path: Path, trial_id: str, losses: list[float]) -> str:
    ckpt = tmp_path / f"{trial_id}.ckpt"
    ckpt.write_bytes(trial_id.encode())
    with _trial(store, sweep, trial_id, tmp_path) as trial:
        for step, loss in enumerate(losses):
            trial.log_metrics({"val_loss": loss}, step=step)
        trial.log_checkpoint(ckpt)
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
        on_disk = (_local(run.info.artifact_uri) / "checkpoints" / f"{trial_id}.ckpt").exists()
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
    assert _local(version.source).read_bytes() == b"t1"
    with pytest.raises(ValueError, match="no artifact 'checkpoints/missing.ckpt'"):
        tracker.register_best_model(run_id, "checkpoints/missing.ckpt", "study-a")


# ------------------------------------------------------------------------------------ live server


@pytest.mark.slow
def test_metrics_logged_while_server_down_arrive_after_it_starts(sweep, store: str, tmp_path: Path, caplog):
    tracker, parent = sweep
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    trial = TrialTracker(
        url, parent, tracker.experiment_id, "t1", "trial_t1", "sweep-1",
        spool_dir=tmp_path / "spool", start_timeout_s=0.2, initial_backoff_s=0.2, max_backoff_s=1.0,
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="lp_sweeps"):
        assert trial.start() is None
        began = time.monotonic()
        for step in range(20):
            trial.log_metrics({"train/loss": 10.0 - step, "lr": 1e-3}, step=step)
        assert time.monotonic() - began < 1.0
        deadline = time.monotonic() + 10
        while "unreachable" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert f"MLflow tracking server {url} unreachable, buffering" in caplog.text
    server = start_ui(store, tmp_path / "served-artifacts", port=port, log_path=tmp_path / "server.log")
    try:
        wait_until_healthy(url, timeout=90, process=server)
        trial.flush(timeout=60)
        assert trial.run_id is not None
        trial.log_metrics({"train/loss": -1.0}, step=20)
        trial.end(timeout=60)
        history = read_trial_history(url, trial.run_id, "train/loss")
        assert history == [(step, 10.0 - step) for step in range(20)] + [(20, -1.0)]
        assert search_children(url, parent)[0]["status"] == "FINISHED"
    finally:
        stop_ui(server)
    assert server.poll() is not None
    assert read_trial_history(store, trial.run_id, "lr") == [(step, 1e-3) for step in range(20)]
    assert not math.isnan(read_trial_history(store, trial.run_id, "train/loss")[0][1])
