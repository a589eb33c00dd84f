"""Replaying a recorded trial through a study's space (warm starts): every suggestion is checked
against the new space, per-keypoint groups and list choices included."""

import pytest
import yaml

from lp_sweeps.study import StudyError, load_study
from lp_sweeps.study.replay import Suggestion, replay_trial

EPS = "losses.temporal.epsilon"
STUDY = {
    "name": "replay", "base_config": "demo",
    "overrides": {"model.backbone": "resnet18", "model.backbone_pretrained": False},
    "budget": {"num_samples": 2, "max_epochs": 2},
    "parameters": {
        "model.losses_to_use": {"choice": [[], ["temporal"]]},
        EPS: {"uniform": [1.0, 10.0], "per_keypoint_groups": [[0, 1, 2, 3], [4, 5, 6, 7]],
              "when": {"model.losses_to_use": {"contains": "temporal"}}},
        "training.train_batch_size": {"int": [4, 16], "step": 4},
        "model.model_type": {"grid": ["heatmap", "regression"]},
    },
}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay") / "replay.yaml"
    path.write_text(yaml.safe_dump(STUDY, sort_keys=False))
    return load_study(path)


def test_a_recorded_trial_replays_into_values_and_suggestions(study):
    recorded = {"model.losses_to_use": "[temporal]", f"{EPS}[g0]": 2.5, f"{EPS}[g1]": 7.0,
                "training.train_batch_size": 12}
    sampled, asked = replay_trial(study, recorded, {"model.model_type": "regression"}, "sweep s trial 0")
    assert sampled == {"model.losses_to_use": ["temporal"], EPS: [2.5] * 4 + [7.0] * 4,
                       "training.train_batch_size": 12, "model.model_type": "regression"}
    assert asked == {"model.losses_to_use": Suggestion("categorical", ("[]", "[temporal]")),
                     f"{EPS}[g0]": Suggestion("uniform", (), 1.0, 10.0), f"{EPS}[g1]": Suggestion("uniform", (), 1.0, 10.0),
                     "training.train_batch_size": Suggestion("integer", (), 4, 16, 4)}
    # a false condition asks nothing more: the epsilon is not replayed
    sampled, asked = replay_trial(study, {"model.losses_to_use": "[]", "training.train_batch_size": 4},
                                  {"model.model_type": "heatmap"}, "sweep s trial 1")
    assert EPS not in sampled and len(asked) == 2


@pytest.mark.parametrize("recorded, key, fragment", [
    ({"model.losses_to_use": "[pca_singleview]", "training.train_batch_size": 4}, "parameters.model.losses_to_use",
     "has model.losses_to_use=[pca_singleview], outside this study's space (choices [[], [temporal]])"),
    ({"model.losses_to_use": "[]", "training.train_batch_size": 6}, "parameters.training.train_batch_size",
     "has training.train_batch_size=6, outside this study's space (integer [4, 16] in steps of 4)"),
    ({"model.losses_to_use": "[temporal]", f"{EPS}[g0]": 12.0, f"{EPS}[g1]": 2.0, "training.train_batch_size": 4},
     f"parameters.{EPS}[g0]", f"has {EPS}[g0]=12.0, outside this study's space (uniform [1.0, 10.0])"),
    ({"model.losses_to_use": "[]"}, "parameters.training.train_batch_size", "has no value for it"),
    ({"model.losses_to_use": "[]", "training.train_batch_size": 4, "training.optimizer_params.learning_rate": 0.01},
     "parameters.training.optimizer_params.learning_rate", "searched training.optimizer_params.learning_rate=0.01"),
])
def test_values_outside_the_space_are_refused_naming_parameter_and_value(study, recorded, key, fragment):
    with pytest.raises(StudyError) as err:
        replay_trial(study, recorded, {"model.model_type": "heatmap"}, "sweep s trial 3")
    assert err.value.key == key and fragment in err.value.detail and str(err.value).startswith(study.path)
    assert "sweep s trial 3" in err.value.detail
