"""The speed options (training.precision, channels_last, compile, train_batch_size: auto) are
searchable like any config key; values the trials could not train with are refused at load."""

import pytest

from lp_sweeps.study import compose_trial_config, load_study, sample_parameters
from lp_sweeps.study.space import RandomSuggester
from tests.lp_sweeps.study.test_loader import VALID, assert_rejected, changed, demo_dir, write  # noqa: F401

SPEED = {
    "training.precision": {"choice": ["32", "bf16-mixed"]},
    "training.channels_last": {"choice": [False, True]},
    "training.compile": {"choice": [False, True]},
    "training.train_batch_size": {"choice": ["auto", 8]},
}


def test_speed_options_are_searchable_and_reach_the_trial_config(tmp_path, demo_dir):  # noqa: F811
    study = load_study(write(tmp_path, {**VALID, "parameters": SPEED}))
    assert [p.key for p in study.parameters] == list(SPEED)
    seen = set()
    suggester = RandomSuggester(seed=0)
    for _ in range(12):
        sampled = sample_parameters(study, suggester)
        cfg = compose_trial_config(study, sampled, demo_dir)
        seen.add((cfg.training.precision, cfg.training.channels_last, cfg.training.compile,
                  cfg.training.train_batch_size))
    assert {s[0] for s in seen} == {"32", "bf16-mixed"} and {s[3] for s in seen} == {"auto", 8}
    assert {s[1] for s in seen} == {False, True} and {s[2] for s in seen} == {False, True}


def test_an_unknown_precision_is_refused_naming_the_value(tmp_path):
    assert_rejected(tmp_path, changed(params={"training.precision": {"choice": ["32", "fp8"]}}),
                    "training.precision", "parameters.training.precision=fp8", "expected one of ['32', 'bf16-mixed'")


def test_a_batch_size_word_other_than_auto_is_refused(tmp_path):
    assert_rejected(tmp_path, changed(params={"training.train_batch_size": {"choice": [8, "max"]}}),
                    "parameters.training.train_batch_size.choice", "gives max, but the field takes int or 'auto'")


@pytest.mark.parametrize("where", ["parameters", "overrides"])
def test_16_mixed_without_gpus_is_refused_at_load(tmp_path, where):
    if where == "parameters":
        study, key = changed(params={"training.precision": {"choice": ["bf16-mixed", "16-mixed"]}}), \
            "parameters.training.precision"
    else:
        study = changed(overrides={**VALID["overrides"], "training.precision": "16-mixed"})
        key = "training.precision"
    assert_rejected(tmp_path, study, key, "16-mixed needs a CUDA GPU per trial, but resources.gpus is 0")
    load_study(write(tmp_path, {**study, "resources": {"cpus": 1, "gpus": 1, "workers": 1}}))  # fine with a GPU
