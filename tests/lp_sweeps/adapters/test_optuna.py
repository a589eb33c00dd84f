"""The sweep's Optuna studies persist in the project folder: `optuna-dashboard` serves them on
127.0.0.1 and its API lists the sweep's trials with the objective values MLflow recorded."""

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.ports import free_port

pytestmark = pytest.mark.slow


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _wait(url: str, process: subprocess.Popen, timeout: float = 60.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"optuna-dashboard exited: {process.stderr.read()}")
        try:
            return _get(url)
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"optuna-dashboard did not answer {url} within {timeout} s")


def test_optuna_dashboard_lists_the_sweeps_trials_with_their_values(multi_objective_sweep):
    project, record = multi_objective_sweep
    assert record.optuna_storage == f"sqlite:///{project / 'optuna.db'}"
    executable = shutil.which("optuna-dashboard", path=str(Path(sys.executable).parent))
    assert executable, "optuna-dashboard is a dev extra"
    port = free_port()
    server = subprocess.Popen([executable, record.optuna_storage, "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        studies = _wait(f"http://127.0.0.1:{port}/api/studies", server)["study_summaries"]
        [study] = [s for s in studies if s["study_name"] == record.sweep_name]
        assert [d for d in study["directions"]] == ["minimize", "minimize"]
        detail = _get(f"http://127.0.0.1:{port}/api/studies/{study['study_id']}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    trials = detail["trials"]
    assert len(trials) == 4 and all(t["state"] == "Complete" for t in trials)
    client = MlflowClient(record.tracking_uri)
    runs = client.search_runs([record.experiment_id], f"tags.`mlflow.parentRunId` = '{record.parent_run_id}'")
    recorded = sorted((round(r.data.metrics["val_pixel_error"], 4), round(r.data.metrics["val_supervised_rmse"], 4))
                      for r in runs)
    served = sorted((round(float(t["values"][0]), 4), round(float(t["values"][1]), 4)) for t in trials)
    assert served == recorded
    # the dashboard's Pareto front is the one the sweep recorded
    front = sorted((round(float(t["values"][0]), 4), round(float(t["values"][1]), 4)) for t in detail["best_trials"])
    assert front == sorted((round(r["values"]["val_pixel_error"], 4), round(r["values"]["val_supervised_rmse"], 4))
                           for r in record.pareto_front)
    rates = sorted(float(p["param_external_value"]) for t in trials for p in t["params"]
                   if p["name"] == "training.optimizer_params.learning_rate")
    assert rates == sorted(float(r.data.params["training.optimizer_params.learning_rate"]) for r in runs)
