"""Contract tests over the searcher and scheduler registries: every registered builder declares
its options, builds from its defaults, and its plan becomes a real Optuna sampler / Ray Tune
scheduler; unknown names and options are refused naming the allowed ones."""

import optuna
import pytest
from ray.tune.schedulers import TrialScheduler

from lightning_pose.registry import Registry
from lp_sweeps.adapters.optuna import make_sampler
from lp_sweeps.adapters.ray_tune import make_scheduler
from lp_sweeps.search import SCHEDULERS, SEARCHERS, Option, SamplerPlan, SchedulerPlan, options_of
from lp_sweeps.study import load_study


def _defaults(registry: Registry, name: str) -> dict:
    return {key: option.default for key, option in options_of(registry, name).items()}


@pytest.mark.parametrize("name", SEARCHERS.names())
def test_every_searcher_builds_an_optuna_sampler(name):
    options = options_of(SEARCHERS, name)
    assert all(isinstance(option, Option) for option in options.values())
    plan = SEARCHERS.get(name)(_defaults(SEARCHERS, name))
    assert isinstance(plan, SamplerPlan)
    assert isinstance(make_sampler(plan), optuna.samplers.BaseSampler)


@pytest.mark.parametrize("name", SCHEDULERS.names())
def test_every_scheduler_builds_a_ray_tune_scheduler(name):
    plan = SCHEDULERS.get(name)(_defaults(SCHEDULERS, name), 6)
    assert isinstance(plan, SchedulerPlan)
    assert isinstance(make_scheduler(plan), TrialScheduler)


def test_registries_refuse_duplicates_and_list_names_on_unknown():
    with pytest.raises(ValueError, match="searcher 'optuna' is registered twice"):
        SEARCHERS.add("optuna", lambda options: SamplerPlan("TPESampler"))
    with pytest.raises(ValueError, match=r"unknown scheduler 'pbt2'; allowed: \['asha', 'fifo'"):
        SCHEDULERS.get("pbt2")


def test_asha_plan_caps_the_grace_period_at_max_t():
    plan = SCHEDULERS.get("asha")({"grace_period": 5, "reduction_factor": 3.0}, 4)
    assert plan == SchedulerPlan("async_hyperband", {"time_attr": "training_iteration", "max_t": 4,
                                                      "grace_period": 4, "reduction_factor": 3.0})
    assert SEARCHERS.get("random")({"seed": 7}) == SamplerPlan("RandomSampler", {"seed": 7})


def test_a_scheduler_registered_in_one_function_is_accepted_by_study_validation(tmp_path):
    """Adding a scheduler is one registered function: the study loader reads its options from the
    registry (nothing else is edited)."""
    @SCHEDULERS.register("median_test", options={"grace_period": Option(int, 2, minimum=1)})
    def median(options: dict, max_t: int) -> SchedulerPlan:
        return SchedulerPlan("median_stopping_rule", {"grace_period": options["grace_period"]})

    try:
        study_file = tmp_path / "s.yaml"
        study_file.write_text("name: s\nbudget: {max_epochs: 3}\nscheduler: {name: median_test, grace_period: 3}\n"
                              "parameters: {training.optimizer_params.learning_rate: {loguniform: [1.0e-4, 1.0e-3]}}\n")
        study = load_study(study_file)
        assert study.scheduler.name == "median_test" and study.scheduler.options == {"grace_period": 3}
        assert isinstance(make_scheduler(median(dict(study.scheduler.options), 3)), TrialScheduler)
        study_file.write_text(study_file.read_text().replace("grace_period: 3", "grace_period: 0"))
        with pytest.raises(ValueError, match=r"scheduler.grace_period: expected an int >= 1, got 0 \(scheduler 'median_test'\)"):
            load_study(study_file)
    finally:
        SCHEDULERS.remove("median_test")
