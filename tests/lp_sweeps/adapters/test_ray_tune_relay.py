"""A local sweep's trials train in processes forked from the fork server, and in their Tune
actors when it is unavailable (real local Ray, real MLflow, the quickstart study)."""

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lp_sweeps import sweep
from lp_sweeps.adapters import ray_tune

REPO = Path(__file__).resolve().parents[3]
QUICKSTART = REPO / "search_spaces" / "quickstart.yaml"
ONE_TRIAL = ["budget.num_samples=2", "budget.max_epochs=1", "budget.max_concurrent_trials=1", "scheduler={name: fifo}",
             "training.limit_train_batches=2", "training.val_batch_size=16", "video={frames_per_video: 0}"]
pytestmark = pytest.mark.slow


def _reports(record) -> list[dict]:
    return [json.loads(line) for path in Path(record.storage_dir, record.sweep_name).glob("*/result.json")
            for line in path.read_text().splitlines()]


def test_without_a_fork_server_the_trials_train_in_their_actors(tmp_path, monkeypatch):
    monkeypatch.setattr(ray_tune, "FORK_SERVER_PRELOAD", ["lp_sweeps_no_such_module"])  # the server cannot start
    record = sweep.launch(QUICKSTART, ONE_TRIAL, project_dir=tmp_path, num_cpus=2)
    assert record.state == "finished" and [t["status"] for t in record.trials] == ["TERMINATED", "TERMINATED"]
    reports = _reports(record)
    assert len(reports) == 2 and all(r["lp_pid"] == r["pid"] for r in reports)  # one epoch each, in the actor
    assert reports[0]["pid"] == reports[1]["pid"]  # Tune reused the actor for the second trial
    client = MlflowClient(record.tracking_uri)
    runs = client.search_runs([record.experiment_id], f"tags.`mlflow.parentRunId` = '{record.parent_run_id}'")
    assert sorted(run.info.status for run in runs) == ["FINISHED", "FINISHED"]


def test_trials_of_a_reused_actor_share_one_forked_process(tmp_path):
    record = sweep.launch(QUICKSTART, ONE_TRIAL, project_dir=tmp_path, num_cpus=2)
    assert record.state == "finished"
    reports = _reports(record)
    assert len(reports) == 2 and reports[0]["pid"] == reports[1]["pid"]
    assert reports[0]["lp_pid"] == reports[1]["lp_pid"] != reports[0]["pid"]
