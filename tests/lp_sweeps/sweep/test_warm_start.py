"""`lp-sweep launch STUDY --warm-start SWEEP`: the new sweep's searcher receives the earlier sweep's
finished trials as completed Optuna trials (none is trained again); trials outside the new space
are refused before anything starts, naming the parameter and the value."""

import copy

import optuna
import pytest
from mlflow import MlflowClient

from lp_sweeps import sweep
from lp_sweeps.study import StudyError
from tests.lp_sweeps.conftest import LR, MULTI_OBJECTIVE_STUDY, write_study

pytestmark = pytest.mark.slow


def _children(client: MlflowClient, record) -> list:
    return client.search_runs([record.experiment_id], f"tags.`mlflow.parentRunId` = '{record.parent_run_id}'")


def test_second_sweep_starts_from_the_first_sweeps_trials_without_training_them(multi_objective_sweep, tmp_path):
    project, first = multi_objective_sweep
    client = MlflowClient(first.tracking_uri)
    before = {r.info.run_id: len(client.get_metric_history(r.info.run_id, "val_pixel_error"))
              for r in _children(client, first)}
    study = copy.deepcopy(MULTI_OBJECTIVE_STUDY)
    study.update(name="warm", objective={"metric": "val_pixel_error"}, budget={"num_samples": 2,
                 "max_concurrent_trials": 2, "max_epochs": 1})
    lines: list[str] = []
    second = sweep.launch(write_study(tmp_path, study), [], project_dir=project, num_cpus=2, printer=lines.append,
                          warm_start=first.sweep_name)
    assert second.state == "finished" and second.warm_start == {"sweep": first.sweep_name, "trials": 4}
    assert f"warm start: the searcher starts from 4 finished trials of sweep {first.sweep_name}" in lines

    storage = optuna.storages.RDBStorage(second.optuna_storage)
    trials = optuna.load_study(study_name=second.sweep_name, storage=storage).get_trials()
    warm = [t for t in trials if "lp_sweeps.warm_start_from" in t.user_attrs]
    assert len(warm) == 4 and len(trials) == 6  # 4 handed over + 2 proposed and trained
    old = optuna.load_study(study_name=first.sweep_name, storage=storage).get_trials()
    assert sorted((t.params[LR], t.values[0]) for t in warm) == sorted((t.params[LR], t.values[0]) for t in old)

    runs = _children(client, second)
    assert len(runs) == 2  # only the new trials were trained
    old_rates = {t.params[LR] for t in old}
    assert all(float(r.data.params[LR]) not in old_rates for r in runs)
    assert {r.info.run_id: len(client.get_metric_history(r.info.run_id, "val_pixel_error"))
            for r in _children(client, first)} == before
    assert client.get_run(second.parent_run_id).data.params["warm_start_trials"] == "4"


def test_trials_outside_the_new_space_are_refused_naming_parameter_and_value(multi_objective_sweep, tmp_path):
    project, first = multi_objective_sweep
    narrow = copy.deepcopy(MULTI_OBJECTIVE_STUDY)
    narrow["name"] = "narrow"
    narrow["parameters"]["model.model_type"] = {"choice": ["heatmap"]}
    old = optuna.load_study(study_name=first.sweep_name, storage=first.optuna_storage).get_trials()
    if all(t.params["model.model_type"] == "heatmap" for t in old):
        narrow["parameters"]["model.model_type"] = {"choice": ["regression"]}
    bad = next(t.params["model.model_type"] for t in old if t.params["model.model_type"] not in
               narrow["parameters"]["model.model_type"]["choice"])
    with pytest.raises(StudyError, match=rf"parameters.model.model_type: sweep {first.sweep_name} trial "
                                         rf"\S+ has model.model_type={bad}, outside this study's space"):
        sweep.launch(write_study(tmp_path, narrow), [], project_dir=project, warm_start=first.sweep_name)
    other = copy.deepcopy(MULTI_OBJECTIVE_STUDY)
    other["name"] = "other"
    other["parameters"]["losses.temporal.log_weight"] = {"uniform": [3.0, 8.0]}
    other["overrides"] = {**other["overrides"], "model.losses_to_use": ["temporal"]}
    with pytest.raises(StudyError, match=r"parameters.losses.temporal.log_weight: .* has no value for it"):
        sweep.launch(write_study(tmp_path, other), [], project_dir=project, warm_start=first.sweep_name)
    assert sorted(p.name for p in (project / "sweeps").iterdir()) == sorted(
        [first.sweep_name] + [p.name for p in (project / "sweeps").iterdir() if p.name.startswith("warm-")])
