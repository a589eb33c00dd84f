"""The quickstart study end to end: a real local Ray, a real MLflow SQLite store, ASHA + TPE.

Nothing is mocked: trials train real (tiny) models on the generated demo project, and every
assertion reads what MLflow recorded through ``MlflowClient``.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
import torch
import yaml
from mlflow import MlflowClient

from lightning_pose.models import get_model_class
from lightning_pose.models.factory import load_checkpoint
from lp_sweeps import sweep

REPO = Path(__file__).resolve().parents[3]
QUICKSTART = REPO / "search_spaces" / "quickstart.yaml"
TINY = ["training.limit_train_batches=2", "training.val_batch_size=16", "video={frames_per_video: 0}"]  # no video stage
pytestmark = pytest.mark.slow


def children(client: MlflowClient, experiment_id: str, parent_run_id: str) -> list:
    return client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{parent_run_id}'", max_results=1000)


def test_quickstart_sweep_records_everything_in_mlflow(tmp_path):
    record = sweep.launch(QUICKSTART, ["budget.num_samples=6", *TINY], project_dir=tmp_path, num_cpus=2)
    client = MlflowClient(record.tracking_uri)
    parent = client.get_run(record.parent_run_id)
    assert parent.info.status == "FINISHED"
    runs = children(client, record.experiment_id, record.parent_run_id)
    trial_ids = [run.data.tags["lp_sweeps.trial_id"] for run in runs]
    assert len(runs) == 6 and len(set(trial_ids)) == 6  # exactly one child per trial
    # each trial trained in a process forked from the fork server, its Tune actor only relayed
    reports = [json.loads(line) for path in Path(record.storage_dir, record.sweep_name).glob("*/result.json")
               for line in path.read_text().splitlines()]
    assert len({r["trial_id"] for r in reports}) == 6 and all(r["lp_pid"] != r["pid"] for r in reports)

    for run in runs:
        assert "model.model_type" in run.data.params and "losses.temporal.log_weight" in run.data.params
        history = client.get_metric_history(run.info.run_id, "val_pixel_error")
        assert [m.step for m in history] == list(range(len(history))) and len(history) >= 1
        assert "config.yaml" in {a.path for a in client.list_artifacts(run.info.run_id)}
    stopped = [run for run in runs if run.data.tags.get("lp_sweeps.stopped_early") == "true"]
    assert stopped, "ASHA stopped no trial early"
    assert all(run.info.status == "KILLED" for run in stopped)
    assert all(len(client.get_metric_history(r.info.run_id, "val_pixel_error")) < 4 for r in stopped)

    best_run = client.get_run(parent.data.tags["lp_sweeps.best_run_id"])
    best_value = min(client.get_metric_history(r.info.run_id, "val_pixel_error")[-1].value for r in runs)
    assert parent.data.metrics["best_val_pixel_error"] <= best_value + 1e-6
    local = client.download_artifacts(best_run.info.run_id, "checkpoints/model.ckpt", str(tmp_path / "dl"))
    model_type = best_run.data.params["model.model_type"]
    model_class = get_model_class(model_type, semi_supervised=True)  # the study trains with [temporal]
    hparams = torch.load(local, map_location="cpu", weights_only=False)["hyper_parameters"]
    model = model_class(**hparams)
    assert load_checkpoint(model, local).complete

    versions = client.search_model_versions("name = 'quickstart'")
    assert [v.run_id for v in versions] == [best_run.info.run_id]
    assert (tmp_path / "best.yaml").exists() is False
    best, path = sweep.best(record.sweep_name, tmp_path, tmp_path / "best.yaml")
    assert best["trial_id"] == parent.data.tags["lp_sweeps.best_trial_id"] and path.is_file()
    [row] = sweep.status(tmp_path)
    assert row["sweep"] == record.sweep_name and row["state"] == "finished"
    assert sorted(t["trial_id"] for t in sweep.status(tmp_path, record.sweep_name)) == sorted(trial_ids)


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(1.0)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_interrupted_sweep_resumes_without_rerunning_or_duplicating(tmp_path):
    overrides = ["budget.num_samples=3", "budget.max_concurrent_trials=1", "scheduler={name: fifo}", "budget.max_epochs=2", *TINY]
    command = [sys.executable, "-m", "lp_sweeps.cli", "--project-dir", str(tmp_path), "launch", str(QUICKSTART), *overrides]
    driver = subprocess.Popen(command, cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(driver.stdout), daemon=True)
    reader.start()
    try:
        _wait_for(lambda: any(" finished |" in line for line in lines) or driver.poll() is not None, 300,
                  "the first trial to finish")
        assert driver.poll() is None, "".join(lines)
        driver.send_signal(signal.SIGINT)
        assert driver.wait(timeout=120) == 3, "".join(lines)  # ExitCode.INTERRUPTED
    finally:
        if driver.poll() is None:
            driver.kill()
    sweep_name = next((tmp_path / "sweeps").iterdir()).name
    record = json.loads((tmp_path / "sweeps" / sweep_name / "sweep.json").read_text())
    assert record["state"] == "interrupted", "".join(lines)
    client = MlflowClient(record["tracking_uri"])
    before = {r.data.tags["lp_sweeps.trial_id"]: r for r in children(client, record["experiment_id"], record["parent_run_id"])}
    finished_before = {t for t, r in before.items() if r.info.status == "FINISHED"}
    assert finished_before
    steps_before = {t: len(client.get_metric_history(before[t].info.run_id, "val_pixel_error")) for t in finished_before}
    told_before = optuna.load_study(study_name=sweep_name, storage=record["optuna_storage"]).get_trials(
        states=(optuna.trial.TrialState.COMPLETE,))
    assert len(told_before) >= len(finished_before)  # the searcher's study is on disk

    resumed = sweep.resume(sweep_name, tmp_path, num_cpus=2)
    assert resumed.state == "finished"
    after = children(client, record["experiment_id"], record["parent_run_id"])
    trial_ids = [r.data.tags["lp_sweeps.trial_id"] for r in after]
    assert len(trial_ids) == len(set(trial_ids)) == 3  # no duplicated child run
    for trial in finished_before:  # finished trials were not trained again
        run = next(r for r in after if r.data.tags["lp_sweeps.trial_id"] == trial)
        assert len(client.get_metric_history(run.info.run_id, "val_pixel_error")) == steps_before[trial]
    # the resumed searcher continued the same persisted Optuna study: one study, one trial per trial
    summaries = [x for x in optuna.get_all_study_summaries(record["optuna_storage"])
                 if x.user_attrs.get("lp_sweeps.sweep") == sweep_name]
    assert [x.study_name for x in summaries] == [sweep_name]
    told = optuna.load_study(study_name=sweep_name, storage=record["optuna_storage"]).get_trials()
    assert len(told) == 3 and all(t.state == optuna.trial.TrialState.COMPLETE for t in told)
    assert {t.number: t.params for t in told_before} == {t.number: t.params for t in told if t.number in
                                                         {b.number for b in told_before}}


def test_a_sweep_with_failed_trials_exits_4_and_records_them(tmp_path):
    """Half the trials need pretrained weights that are not on this machine (offline): they fail,
    the sweep still ends, records the others, and says so with ExitCode.TRIALS_FAILED."""
    overrides = ["budget.num_samples=1", "budget.max_epochs=1", "scheduler={name: fifo}", *TINY]
    study = tmp_path / "failing.yaml"
    data = yaml.safe_load(QUICKSTART.read_text())
    del data["overrides"]["model.backbone_pretrained"]
    data["parameters"]["model.backbone_pretrained"] = {"grid": [False, True]}
    study.write_text(yaml.safe_dump(data, sort_keys=False))
    env = {**os.environ, "LP_OFFLINE": "1", "TORCH_HOME": str(tmp_path / "no_weights_here")}
    result = subprocess.run([sys.executable, "-m", "lp_sweeps.cli", "launch", str(study), *overrides, "--project-dir",
                             str(tmp_path / "p"), "--num-cpus", "2"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 4, (result.stdout + result.stderr)[-3000:]  # ExitCode.TRIALS_FAILED
    assert "1 trial(s) failed" in result.stdout and "Ray session logs: " in result.stdout
    ray_logs = Path(result.stdout.split("Ray session logs: ")[1].splitlines()[0])
    try:  # the logs stay, the trials' working folders (model folders, GBs in a long sweep) do not
        [session] = ray_logs.glob("session_2*")
        assert any((session / "logs").glob("worker-*.err")) and not (session / "artifacts").exists()
    finally:
        shutil.rmtree(ray_logs, ignore_errors=True)
    record = json.loads(next((tmp_path / "p" / "sweeps").glob("*/sweep.json")).read_text())
    client = MlflowClient(record["tracking_uri"])
    runs = children(client, record["experiment_id"], record["parent_run_id"])
    assert sorted((r.data.params["model.backbone_pretrained"], r.info.status) for r in runs) == [
        ("false", "FINISHED"), ("true", "FAILED")]
