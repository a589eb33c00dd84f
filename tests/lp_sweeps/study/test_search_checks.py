"""Searcher, scheduler and objective combinations are checked at study load, each refusal saying
why: multi-objective studies under one-metric searchers and schedulers, CMA-ES on categorical or
conditional spaces, PBT mutations that cannot change mid-training."""

import pytest
import yaml

from lp_sweeps.search import MUTABLE_KEYS, mutability
from lp_sweeps.study import StudyError, load_study

LR = "training.optimizer_params.learning_rate"
BASE = {
    "name": "combo",
    "base_config": "demo",
    "overrides": {"model.backbone": "resnet18", "model.backbone_pretrained": False,
                  "model.losses_to_use": ["temporal"]},
    "budget": {"num_samples": 2, "max_epochs": 3},
    "scheduler": {"name": "fifo"},
    "parameters": {
        LR: {"loguniform": [1.0e-4, 1.0e-2]},
        "losses.temporal.log_weight": {"uniform": [3.0, 8.0]},
    },
}


def study_with(tmp_path, **sections):
    data = {**BASE, **sections}
    data["parameters"] = {**BASE["parameters"], **sections.get("parameters", {})}
    path = tmp_path / "combo.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def rejected(tmp_path, key: str, **sections) -> str:
    path = study_with(tmp_path, **sections)
    with pytest.raises(StudyError) as err:
        load_study(path)
    assert err.value.key == key and str(err.value).startswith(f"{path}: {key}: "), str(err.value)
    return err.value.detail


def test_objective_list_makes_a_multi_objective_study(tmp_path):
    study = load_study(study_with(tmp_path, objective=["val_pixel_error", {"metric": "val_supervised_rmse"}]))
    assert study.metrics == ["val_pixel_error", "val_supervised_rmse"] and study.modes == ["min", "min"]
    assert study.multi_objective and study.objective.metric == "val_pixel_error"
    single = load_study(study_with(tmp_path, objective={"metric": "val_supervised_loss"}))
    assert single.metrics == ["val_supervised_loss"] and not single.multi_objective


def test_bad_objective_lists(tmp_path):
    assert "more than once" in rejected(tmp_path, "objective", objective=["val_pixel_error", "val_pixel_error"])
    assert "an empty list" in rejected(tmp_path, "objective", objective=[])
    assert "'val_loss'" in rejected(tmp_path, "objective[1].metric", objective=["val_pixel_error", "val_loss"])


@pytest.mark.parametrize("section, name, reason", [
    ("scheduler", "asha", "its rungs rank trials by one metric"),
    ("scheduler", "hyperband", "its brackets rank trials by one metric"),
    ("scheduler", "median", "it compares a trial's running mean with the median of one metric"),
    ("scheduler", "pbt", "it ranks the population by one metric"),
    ("searcher", "cmaes", "CMA-ES optimises a single objective"),
])
def test_one_metric_searchers_and_schedulers_refuse_several_objectives(tmp_path, section, name, reason):
    detail = rejected(tmp_path, f"{section}.name", objective=["val_pixel_error", "val_supervised_rmse"],
                      **{section: {"name": name}})
    assert f"{section} '{name}' needs a single objective ({reason})" in detail
    assert "['val_pixel_error', 'val_supervised_rmse']" in detail
    able = "['fifo']" if section == "scheduler" else "['optuna', 'random', 'grid']"
    assert detail.endswith(f"use one of {able}"), detail


def test_cmaes_refuses_choices_and_conditions_but_takes_ranges_and_grids(tmp_path):
    detail = rejected(tmp_path, "parameters.model.model_type", searcher={"name": "cmaes"},
                      parameters={"model.model_type": {"choice": ["heatmap", "regression"]}})
    assert "continuous and integer ranges only" in detail and "make it a grid parameter" in detail
    detail = rejected(tmp_path, "parameters.losses.temporal.epsilon.when", searcher={"name": "cmaes"},
                      parameters={"losses.temporal.epsilon": {"uniform": [1.0, 9.0],
                                                              "when": {"model.model_type": "heatmap"}}})
    assert "needs the same parameters in every trial" in detail
    study = load_study(study_with(tmp_path, searcher={"name": "cmaes", "seed": 1, "sigma0": 0.2},
                                  parameters={"model.model_type": {"grid": ["heatmap", "regression"]}}))
    assert study.searcher.options == {"seed": 1, "n_startup_trials": 1, "sigma0": 0.2}


def test_pbt_refuses_mutations_that_cannot_change_mid_training(tmp_path):
    choice = {"model.model_type": {"choice": ["heatmap", "regression"]}}
    detail = rejected(tmp_path, "scheduler.mutations", parameters=choice,
                      scheduler={"name": "pbt", "mutations": ["model.model_type", LR]})
    assert detail.startswith("model.model_type cannot change mid-training: it defines the network")
    assert "the donor's checkpoint weights only fit the donor's network" in detail
    down = {"data.downsample_factor": {"choice": [2, 3]}}
    detail = rejected(tmp_path, "scheduler.mutations", parameters=down,
                      scheduler={"name": "pbt", "mutations": ["data.downsample_factor"]})
    assert "it changes the data pipeline" in detail and str(list(MUTABLE_KEYS)) in detail
    assert "'losses.pca_singleview.log_weight' is not a parameter" in rejected(
        tmp_path, "scheduler.mutations", scheduler={"name": "pbt", "mutations": ["losses.pca_singleview.log_weight"]})
    detail = rejected(tmp_path, "parameters.model.model_type", scheduler={"name": "pbt"},
                      parameters={"model.model_type": {"grid": ["heatmap", "regression"]}})
    assert "takes no grid parameters" in detail
    detail = rejected(tmp_path, "resources.workers", scheduler={"name": "pbt"}, resources={"workers": 2})
    assert "data-parallel trials keep theirs in their Ray Train runs" in detail
    # immutable searched values are allowed (they come with the donor's checkpoint); not mutated
    study = load_study(study_with(tmp_path, parameters=choice, scheduler={"name": "pbt", "quantile_fraction": 0.5}))
    assert study.scheduler.options["mutations"] is None


def test_pbt_needs_something_to_mutate_and_bounds_its_options(tmp_path):
    only_type = {"parameters": {"model.model_type": {"choice": ["heatmap", "regression"]}}}
    path = tmp_path / "only.yaml"
    path.write_text(yaml.safe_dump({**BASE, **only_type, "scheduler": {"name": "pbt"}}, sort_keys=False))
    with pytest.raises(StudyError, match=r"scheduler.mutations: no parameter of this study can change mid-training"):
        load_study(path)
    assert "a number >= 0 and <= 0.5, got 0.6" in rejected(
        tmp_path, "scheduler.quantile_fraction", scheduler={"name": "pbt", "quantile_fraction": 0.6})
    assert "a non-empty list of names or null, got 'lr'" in rejected(
        tmp_path, "scheduler.mutations", scheduler={"name": "pbt", "mutations": "lr"})


@pytest.mark.parametrize("key, allowed", [
    (LR, True), ("losses.temporal.log_weight", True), ("losses.pca_multiview.epsilon", True),
    ("losses.temporal.epsilon", True), ("model.backbone", False), ("data.downsample_factor", False),
    ("training.train_batch_size", False), ("losses.temporal.prob_threshold", False),
])
def test_the_declared_list_decides_mutability(key, allowed):
    assert mutability(key)[0] is allowed


def test_hyperband_refuses_a_concurrency_limit_below_the_number_of_trials(tmp_path):
    detail = rejected(tmp_path, "budget.max_concurrent_trials", scheduler={"name": "hyperband"},
                      budget={"num_samples": 4, "max_epochs": 3, "max_concurrent_trials": 2})
    assert detail.startswith("2: scheduler 'hyperband' needs all 4 trials created together") and "use 'asha'" in detail
    study = load_study(study_with(tmp_path, scheduler={"name": "hyperband"},
                                  budget={"num_samples": 4, "max_epochs": 3, "max_concurrent_trials": 4}))
    assert study.scheduler.options == {"reduction_factor": 3.0}
