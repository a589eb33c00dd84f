"""One source of truth for names: config validation and study validation ask the registries.

A loss and a model type registered here, in the test, are accepted by both validators with no
other edit, and refused again once they are taken out of the registries."""

from pathlib import Path

import pytest
import yaml

from lightning_pose.config import ConfigError, load_config, validate_config
from lightning_pose.data.demo import demo_project_config
from lightning_pose.losses.base import LOSSES, Loss
from lightning_pose.models.heatmap_tracker import HeatmapTracker, SemiSupervisedHeatmapTracker
from lightning_pose.models.registry import SEMI_SUPERVISED_TRACKERS, SUPERVISED_TRACKERS
from lp_sweeps.study import StudyError, load_study

STUDY = {
    "name": "new_names",
    "overrides": {"model.backbone": "resnet18", "model.backbone_pretrained": False},
    "budget": {"max_epochs": 2},
    "parameters": {
        "model.model_type": {"choice": ["heatmap", "toy_tracker"]},
        "model.losses_to_use": {"choice": [["temporal"], ["toy_smoothness"]]},
    },
}


class ToySmoothness(Loss):
    """An unsupervised loss a lab might add in its own module."""


@pytest.fixture
def registered():
    LOSSES.add("toy_smoothness", ToySmoothness, kind="unsupervised")
    SUPERVISED_TRACKERS.add("toy_tracker", HeatmapTracker)
    SEMI_SUPERVISED_TRACKERS.add("toy_tracker", SemiSupervisedHeatmapTracker)
    yield
    LOSSES.remove("toy_smoothness")
    SUPERVISED_TRACKERS.remove("toy_tracker")
    SEMI_SUPERVISED_TRACKERS.remove("toy_tracker")


def _config(model_type: str, losses: list[str]):
    cfg = load_config(demo_project_config(Path("/data/demo"), multiview=False))
    cfg.model.model_type, cfg.model.losses_to_use = model_type, losses
    return cfg


def test_config_validation_asks_the_registries(registered):
    validate_config(_config("toy_tracker", ["toy_smoothness", "temporal"]))
    validate_config(_config("toy_tracker", []))


def test_study_validation_asks_the_registries(registered, tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(STUDY, sort_keys=False))
    study = load_study(path)
    assert [p.values for p in study.parameters] == [("heatmap", "toy_tracker"), (["temporal"], ["toy_smoothness"])]


def test_without_registration_both_refuse(tmp_path):
    with pytest.raises(ConfigError, match=r"model.model_type: unknown semi-supervised model type 'toy_tracker'"):
        validate_config(_config("toy_tracker", ["temporal"]))
    with pytest.raises(ConfigError, match=r"model.losses_to_use\[0\]: unknown loss 'toy_smoothness'; allowed: \["):
        validate_config(_config("heatmap", ["toy_smoothness"]))
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(STUDY, sort_keys=False))
    with pytest.raises(StudyError, match=r"parameters.model.model_type=toy_tracker gives an invalid config"):
        load_study(path)
