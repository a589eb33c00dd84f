"""lp_sweeps.tracking.trial_tracker: one child run per trial, buffered and spooled."""

import logging
import math
import multiprocessing
import os
import time
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from lp_sweeps.tracking import (
    TrackingFlushError, TrackingSetupError, TrialTracker, deliver_spooled, search_children, start_ui, stop_ui,
    wait_until_healthy,
)
from lp_sweeps.tracking.trial_tracker import last_seen
from tests.lp_sweeps.tracking.conftest import history, local_path, make_trial
from tests.ports import free_port


def test_one_child_run_per_trial_reused_on_restart(sweep, store: str, tmp_path: Path):
    tracker, parent = sweep
    first = make_trial(store, sweep, "t1", tmp_path)
    run_a = first.start()
    first.end("KILLED")
    retried = make_trial(store, sweep, "t1", tmp_path)
    assert retried.start() == run_a
    assert MlflowClient(store).get_run(run_a).info.status == "RUNNING"
    retried.end("FAILED")
    with make_trial(store, sweep, "t2", tmp_path) as other:
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
    trial = make_trial(store, sweep, "t1", tmp_path)
    run_id = trial.start()
    trial.log_params({"training": {"lr": 0.001, "batch": 8}, "notes": "x" * 7000})
    for step, loss in enumerate([3.0, 2.0, float("nan"), 1.5]):
        trial.log_metrics({"val_loss": loss, "lr-Adam/head": 0.1 * (step + 1), "rmse (px)": 2 * loss}, step=step)
    trial.log_text("model:\n  losses_to_use: [pca_singleview]\n", "config.yaml")
    trial.log_text("keypoint,error\nnose,1.0\near,2.5\n", "eval/per_keypoint_val_error.csv")
    trial.log_artifact(checkpoint, "checkpoints")
    trial.end()
    assert not trial.spool_path.exists()

    params = MlflowClient(store).get_run(run_id).data.params
    assert params["training.lr"] == "0.001" and params["training.batch"] == "8"
    assert len(params["notes"]) == 6000
    assert history(store, run_id, "val_loss") == [(0, 3.0), (1, 2.0), (3, 1.5)]
    assert [v for _, v in history(store, run_id, "lr-Adam/head")] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert history(store, run_id, "rmse _px_") == [(0, 6.0), (1, 4.0), (3, 3.0)]
    root = local_path(trial.artifact_uri)
    assert yaml.safe_load((root / "config.yaml").read_text()) == {"model": {"losses_to_use": ["pca_singleview"]}}
    assert (root / "eval" / "per_keypoint_val_error.csv").read_text() == "keypoint,error\nnose,1.0\near,2.5\n"
    assert (root / "checkpoints" / "epoch=3.ckpt").read_bytes() == b"weights"
    [row] = search_children(store, sweep[1])
    assert row["trial_id"] == "t1" and row["run_id"] == run_id and row["status"] == "FINISHED"
    assert row["metrics"]["val_loss"] == 1.5 and row["params"]["training.batch"] == "8"


def test_resume_skips_already_logged_params(sweep, store: str, tmp_path: Path, caplog):
    first = make_trial(store, sweep, "t1", tmp_path)
    run_id = first.start()
    first.log_params({"lr": 0.1, "batch": 8})
    first.end("FAILED")
    resumed = make_trial(store, sweep, "t1", tmp_path)
    assert resumed.start() == run_id
    with caplog.at_level(logging.WARNING, logger="lp_sweeps"):
        resumed.log_params({"lr": 0.1, "batch": 8, "resumed_from": "epoch 3"})
        resumed.log_params({"lr": 0.2})
        resumed.end()
    assert MlflowClient(store).get_run(run_id).data.params == {"lr": "0.1", "batch": "8", "resumed_from": "epoch 3"}
    assert "'lr' is already logged as '0.1'" in caplog.text


def test_rejected_record_is_dropped_and_later_ones_arrive(sweep, store: str, tmp_path: Path, caplog):
    trial = make_trial(store, sweep, "t1", tmp_path)
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
    assert history(store, run_id, "loss") == [(1, 2.0)]
    assert len(client.get_run(run_id).data.tags["note"]) == 8000


def test_misuse_is_reported_clearly(sweep, store: str, tmp_path: Path):
    trial = make_trial(store, sweep, "t1", tmp_path)
    with pytest.raises(RuntimeError, match="call start"):
        trial.log_metrics({"loss": 1.0}, step=0)
    trial.start()
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        trial.log_artifact(tmp_path / "missing.ckpt", "checkpoints")
    with pytest.raises(ValueError, match="'DONE'"):
        trial.end("DONE")
    trial.end()
    with pytest.raises(RuntimeError, match="not after end"):
        trial.log_params({"a": 1})
    with pytest.raises(ValueError, match="quotes"):
        make_trial(store, sweep, "it's", tmp_path)


def test_blocking_mode_delivers_before_returning(sweep, store: str, tmp_path: Path):
    trial = make_trial(store, sweep, "t1", tmp_path, background=False)
    run_id = trial.start()
    trial.log_metrics({"loss": 0.5}, step=7)
    assert history(store, run_id, "loss") == [(7, 0.5)]
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
    assert [step for step, _ in history(store, run_id, "loss")] == [0, 1, 2, 3, 4]
    assert history(store, run_id, "acc")[-1] == (4, pytest.approx(0.4))
    assert (local_path(replay.artifact_uri) / "config.yaml").read_text() == "a: 1\n"
    assert MlflowClient(store).get_run(run_id).info.status == "FINISHED"
    assert not info.value.spool_path.exists()


def _log_then_die(uri: str, parent: str, experiment_id: str, spool_dir: str) -> None:
    offline = TrialTracker(uri, parent, experiment_id, "t7", "trial_t7", "sweep-1", spool_dir=spool_dir,
                           start_timeout_s=0.2, initial_backoff_s=0.1, max_backoff_s=0.2)
    offline.start()
    for step in range(3):
        offline.log_metrics({"val_pixel_error": 10.0 - step}, step=step)
    os._exit(3)  # killed: no end(), no flush


def test_a_killed_trial_was_last_seen_at_its_latest_record_or_report():
    pending = [{"op": "metrics", "timestamp": 5000}, {"op": "tags"}, {"op": "status", "end_time": 7000}]
    assert last_seen(pending, 6.0) == 7.0
    assert last_seen(pending[:2], 6.0) == 6.0
    assert last_seen(pending[:2], 4.0) == 5.0
    assert last_seen([{"op": "tags"}], None) is None


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
    died = time.time()
    time.sleep(1.5)  # the delivery comes later; the run still ends when the trial was last seen
    last_report = died - 30.0  # older than its last record: the record wins
    assert deliver_spooled(store, parent, tracker.experiment_id, "sweep-1", states, tmp_path / "spool",
                           ended_at={"t7": last_report}) == ["t7"]
    [row] = search_children(store, parent)
    assert row["trial_id"] == "t7" and row["status"] == "KILLED"
    run = MlflowClient(store).get_run(row["run_id"])
    last_record = max(m.timestamp for m in MlflowClient(store).get_metric_history(row["run_id"], "val_pixel_error"))
    assert run.info.end_time == last_record < died * 1000
    assert history(store, row["run_id"], "val_pixel_error") == [(0, 10.0), (1, 9.0), (2, 8.0)]
    assert deliver_spooled(store, parent, tracker.experiment_id, "sweep-1", states, tmp_path / "spool") == []
    assert not list((tmp_path / "spool").iterdir())  # nothing left behind


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
        losses = history(url, trial.run_id, "train/loss")
        assert losses == [(step, 10.0 - step) for step in range(20)] + [(20, -1.0)]
        assert search_children(url, parent)[0]["status"] == "FINISHED"
    finally:
        stop_ui(server)
    assert server.poll() is not None
    assert history(store, trial.run_id, "lr") == [(step, 1e-3) for step in range(20)]
    assert not math.isnan(history(store, trial.run_id, "train/loss")[0][1])
