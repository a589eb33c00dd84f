"""The new schedulers and searchers through a real local Ray and a real MLflow store: every trial
runs, the early-stopped ones are tagged and KILLED, MLflow has exactly one child run per trial."""

import copy

import optuna
import pytest
from mlflow import MlflowClient

from lp_sweeps import sweep
from tests.lp_sweeps.conftest import LR, TINY_OVERRIDES, write_study

pytestmark = pytest.mark.slow
MAX_EPOCHS = 3
STUDY = {
    "base_config": "demo",
    "overrides": {**TINY_OVERRIDES, "model.losses_to_use": []},
    "budget": {"num_samples": 4, "max_concurrent_trials": 2, "max_epochs": MAX_EPOCHS},
    "video": {"frames_per_video": 0},
    "resources": {"cpus": 1},
    "parameters": {
        LR: {"loguniform": [1.0e-4, 1.0e-2]},
        "training.train_batch_size": {"int": [2, 8], "step": 2},
    },
}


@pytest.mark.parametrize("name, searcher, scheduler, concurrency, min_stopped", [
    # HyperBand, max_t 3, eta 3: a bracket of 2 trials run to 3 epochs, then a bracket of 3 places
    # halved after 1 epoch (it gets the other 2 trials and keeps 1) -> exactly one trial stops
    # early. Its trials must all exist at once (no concurrency limit), or a bracket is halved
    # before its trials have started.
    ("hb", {"name": "optuna", "seed": 0}, {"name": "hyperband", "reduction_factor": 3}, None, 1),
    ("median_cmaes", {"name": "cmaes", "seed": 0, "n_startup_trials": 1},
     {"name": "median", "grace_period": 1, "min_samples_required": 1}, 2, 0),
])
def test_scheduler_and_searcher_run_real_trials(tmp_path, name, searcher, scheduler, concurrency, min_stopped):
    study = copy.deepcopy(STUDY)
    study.update(name=name, searcher=searcher, scheduler=scheduler)
    study["budget"]["max_concurrent_trials"] = concurrency
    record = sweep.launch(write_study(tmp_path, study), [], project_dir=tmp_path / "project", num_cpus=2,
                          printer=lambda _: None)
    assert record.state == "finished"
    client = MlflowClient(record.tracking_uri)
    runs = client.search_runs([record.experiment_id], f"tags.`mlflow.parentRunId` = '{record.parent_run_id}'")
    trial_ids = [r.data.tags["lp_sweeps.trial_id"] for r in runs]
    assert len(runs) == 4 and len(set(trial_ids)) == 4  # exactly one child run per trial
    stopped = 0
    for run in runs:
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_pixel_error")]
        assert steps == list(range(len(steps))) and 1 <= len(steps) <= MAX_EPOCHS, steps
        early = len(steps) < MAX_EPOCHS
        stopped += early
        assert run.data.tags["lp_sweeps.stopped_early"] == str(early).lower()
        assert run.info.status == ("KILLED" if early else "FINISHED")
    assert stopped >= min_stopped and stopped <= (1 if scheduler["name"] == "hyperband" else 3)
    trials = optuna.load_study(study_name=record.sweep_name, storage=record.optuna_storage).get_trials()
    # Optuna hears of every trial; Ray tells it of a trial that ended while paused (HyperBand) as pruned
    states = [t.state.name for t in trials]
    assert len(trials) == 4 and states.count("COMPLETE") + states.count("PRUNED") == 4 and "COMPLETE" in states
    if searcher["name"] == "cmaes":  # CMA-ES itself proposed the trials after the first
        assert sum(any(k.startswith("cma:") for k in t.system_attrs) for t in trials) >= 2
