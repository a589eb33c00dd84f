"""lp_sweeps.study: study files are checked up front; trial configs compose and validate."""

import copy
import pathlib

import pytest
import yaml

from lightning_pose.config import load_config
from lightning_pose.data.demo import generate_demo_data
from lightning_pose.data.demo_scene import KEYPOINT_NAMES
from lp_sweeps.study.space import RandomSuggester
from lp_sweeps.study import (
    ALLOWED_METRICS,
    Budget,
    Replicates,
    Resources,
    SchedulerSpec,
    SearcherSpec,
    StudyError,
    VideoStage,
    base_config,
    compose_trial_config,
    grid_points,
    load_study,
    num_trials,
    prepare_demo_project,
    sample_parameters,
)

SEARCH_SPACES = pathlib.Path(__file__).resolve().parents[3] / "search_spaces"
NUM_KEYPOINTS = len(KEYPOINT_NAMES)

VALID = {
    "name": "unit",
    "base_config": "demo",
    "overrides": {"model.backbone": "resnet18", "model.backbone_pretrained": False},
    "budget": {"num_samples": 4, "max_epochs": 3},
    "parameters": {
        "model.model_type": {"choice": ["heatmap", "regression"]},
        "model.losses_to_use": {"choice": [[], ["temporal"]]},
        "losses.temporal.log_weight": {
            "uniform": [3.0, 8.0], "when": {"model.losses_to_use": {"contains": "temporal"}},
        },
    },
}


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> pathlib.Path:
    """A tiny two-view demo project: it holds both ``config.yaml`` and ``config_multiview.yaml``."""
    out = tmp_path_factory.mktemp("demo")
    generate_demo_data(out, num_frames_labeled=10, num_videos=1, frames_per_video=20, two_views=True)
    return out


def write(tmp_path: pathlib.Path, study: dict, name: str = "study.yaml") -> pathlib.Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def changed(**sections) -> dict:
    """VALID with top-level sections replaced (``parameters`` entries are added/replaced)."""
    study = copy.deepcopy(VALID)
    params = sections.pop("params", {})
    study.update(sections)
    study["parameters"].update(params)
    return study


def assert_rejected(tmp_path: pathlib.Path, study: dict, key: str, *fragments: str) -> None:
    path = write(tmp_path, study)
    with pytest.raises(StudyError) as err:
        load_study(path)
    message = str(err.value)
    assert message.startswith(f"{path}: "), message
    assert err.value.key == key, message
    for fragment in fragments:
        assert fragment in message, message


# ------------------------------------------------------------------------------------------
# a valid study
# ------------------------------------------------------------------------------------------


def test_valid_study_and_defaults(tmp_path):
    study = load_study(write(tmp_path, VALID))
    assert study.name == "unit" and study.path == str(tmp_path / "study.yaml")
    assert study.objective.metric == "val_pixel_error" and study.objective.mode == "min"
    assert study.searcher == SearcherSpec("optuna", {"seed": None})
    assert study.scheduler == SchedulerSpec("asha", {"grace_period": 1, "reduction_factor": 2.0})
    assert study.budget == Budget(4, None, None, 3)
    assert study.resources == Resources(1.0, 0.0, 1)
    assert study.num_keypoints == NUM_KEYPOINTS
    assert study.overrides == {"model.backbone": "resnet18", "model.backbone_pretrained": False}
    assert [p.key for p in study.parameters] == list(VALID["parameters"])
    assert study.base_values == {"model.losses_to_use": []}
    assert ALLOWED_METRICS == ("val_pixel_error", "val_supervised_loss", "val_supervised_rmse", "video_temporal_norm",
                               "video_pca_singleview_error", "video_pca_multiview_error", "video_confidence",
                               "video_pixel_error")
    assert study.video == VideoStage(200, None) and study.replicates == Replicates(0, 3, "none")


def test_yaml_details(tmp_path):
    text = """
name: yaml_details
overrides: {training: {train_batch_size: 4}}   # nested overrides are flattened
budget: {max_epochs: 2}
parameters:
  training.optimizer_params.learning_rate: {loguniform: [1e-4, 1e-2]}   # 1e-4 is a float here
"""
    path = tmp_path / "s.yaml"
    path.write_text(text)
    study = load_study(path)
    assert study.overrides == {"training.train_batch_size": 4}
    assert (study.parameters[0].low, study.parameters[0].high) == (1.0e-4, 1.0e-2)
    assert study.base_config == "demo" and study.budget.num_samples == 8
    path.write_text("name: x\nname: y\nparameters: {}\n")
    with pytest.raises(StudyError, match=r"(?s)s.yaml: line 2, column 1: key 'name' is given twice \(first on line 1\)"):
        load_study(path)


def test_budget_max_epochs_defaults_to_the_base_config(tmp_path):
    study = load_study(write(tmp_path, changed(budget={"num_samples": 2}, overrides={"training.max_epochs": 5})))
    assert study.budget.max_epochs == 5


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_study(tmp_path / "nope.yaml")


# ------------------------------------------------------------------------------------------
# bad studies: every message names the file, the key and what is allowed
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "study, key, fragments",
    [
        (changed(searchers={}), "searchers", ["unknown key", "'searcher'", "'parameters'"]),
        (changed(name="has space"), "name", ["letters, digits"]),
        (changed(searcher={"name": "hyperopt"}), "searcher.name", ["'hyperopt'", "['cmaes', 'grid', 'optuna', 'random']"]),
        (changed(searcher={"name": "optuna", "sampler": "tpe"}), "searcher.sampler", ["['name', 'seed']"]),
        (changed(scheduler={"name": "bohb"}), "scheduler.name",
         ["'bohb'", "['asha', 'fifo', 'hyperband', 'median', 'pbt']"]),
        (changed(scheduler={"name": "fifo", "grace_period": 2}), "scheduler.grace_period",
         ["unknown key; allowed keys: ['name']", "(scheduler 'fifo')"]),
        (changed(scheduler={"grace_period": 5}), "scheduler.grace_period", ["<= budget.max_epochs (3)"]),
        (changed(scheduler={"reduction_factor": 1}), "scheduler.reduction_factor", ["a number > 1"]),
        (changed(objective={"metric": "val_loss"}), "objective.metric", ["'val_loss'", str(list(ALLOWED_METRICS))]),
        (changed(objective={"mode": "max"}), "objective.mode", ["val_pixel_error is better when lower; use mode: min"]),
        (changed(objective={"mode": "best"}), "objective.mode", ["'best'", "['min', 'max']"]),
        (changed(objective={"metric": "video_temporal_norm"}), "scheduler.name",
         ["'asha' acts on values reported every epoch (it stops trials at rungs)", "scheduler: {name: fifo}"]),
        (changed(objective={"metric": "video_confidence"}, scheduler={"name": "fifo"}, video={"frames_per_video": 0}),
         "objective.metric", ["video_confidence is measured by the video stage"]),
        (changed(video={"frames_per_video": -1}), "video.frames_per_video", ["an int >= 0, got -1"]),
        (changed(video={"directory": "no_such_videos"}), "video.directory", ["'no_such_videos': no such folder"]),
        (changed(video={"frames": 10}), "video.frames", ["allowed keys: ['frames_per_video', 'directory']"]),
        (changed(replicates={"top_k": 2, "seeds": 0}), "replicates.seeds", ["an int >= 1, got 0"]),
        (changed(replicates={"top_k": 2, "seeds": 1, "ensemble": "eks"}), "replicates.ensemble",
         ["needs replicates.top_k >= 1 and seeds >= 2"]),
        (changed(replicates={"top_k": 1, "ensemble": "mean"}), "replicates.ensemble", ["'mean'", "['none', 'eks']"]),
        (changed(resources={"cpus": 0}), "resources.cpus", ["a number > 0, got 0"]),
        (changed(resources={"gpus": -1}), "resources.gpus", ["a number >= 0, got -1"]),
        (changed(resources={"workers": 1.5}), "resources.workers", ["an int >= 1, got 1.5"]),
        (changed(resources={"workers": 0}), "resources.workers", ["an int >= 1, got 0"]),
        (changed(resources={"workers": 2, "gpus": 0.5}), "resources.gpus", ["0.5: DDP workers need whole GPUs"]),
        (changed(budget={"num_samples": 0}), "budget.num_samples", ["an int >= 1"]),
        (changed(budget={"max_epochs": 0}), "budget.max_epochs", ["an int >= 1"]),
        (changed(budget={"time_budget_s": -5}), "budget.time_budget_s", ["a number > 0"]),
        (changed(budget={"max_concurrent_trials": 0}), "budget.max_concurrent_trials", ["an int >= 1"]),
        (changed(budget={"epochs": 3}), "budget.epochs", ["['num_samples', 'time_budget_s'"]),
        (changed(base_config="missing.yaml"), "base_config", ["'missing.yaml'", "['demo', 'demo_two_views']"]),
        (changed(overrides={"training.max_epoch": 3}), "overrides.training.max_epoch",
         ["not a Lightning Pose config key", "allowed keys at 'training'", "'max_epochs'"]),
        (changed(overrides={"training.train_batch_size": "big"}), "overrides.training.train_batch_size",
         ["expected int or 'auto', got 'big'"]),
        (changed(overrides={"training.max_steps": 100}), "training.max_steps", ["sweeps count epochs"]),
        (changed(parameters={}), "parameters", ["at least one parameter"]),
    ],
)
def test_bad_sections(tmp_path, study, key, fragments):
    assert_rejected(tmp_path, study, key, *fragments)


@pytest.mark.parametrize(
    "params, key, fragments",
    [
        # keys and types against the Lightning Pose schema
        ({"training.optimizer_params.lr": {"uniform": [0.1, 0.2]}}, "parameters.training.optimizer_params.lr",
         ["not a Lightning Pose config key", "allowed keys at 'training.optimizer_params': ['learning_rate']"]),
        ({"trainig.max_epochs": {"int": [1, 3]}}, "parameters.trainig.max_epochs",
         ["allowed keys at the top level", "'training'"]),
        ({"losses.temporal": {"choice": [1]}}, "parameters.losses.temporal",
         ["is a group", "['log_weight', 'epsilon', 'prob_threshold']"]),
        ({"training.train_batch_size": {"uniform": [1.5, 3.2]}}, "parameters.training.train_batch_size.uniform",
         ["gives 1.5", "takes int", "{int: [low, high]}"]),
        ({"model.model_type": {"choice": [1, 2]}}, "parameters.model.model_type.choice", ["gives 1", "takes str"]),
        ({"model.losses_to_use": {"choice": [["temporal"], "temporal"]}}, "parameters.model.losses_to_use.choice",
         ["gives temporal", "list of str or null"]),
        ({"training.optimizer_params.learning_rate": {"uniform": [1.0e-4, 1.0e-2],
                                                      "per_keypoint_groups": [list(range(8))]}},
         "parameters.training.optimizer_params.learning_rate.uniform", ["takes float (one value per keypoint)"]),
        ({"training.max_epochs": {"int": [2, 6]}}, "parameters.training.max_epochs", ["budget.max_epochs"]),
        ({"model.backbone": {"choice": ["resnet18", "resnet50"]}}, "parameters.model.backbone", ["also fixed in overrides"]),
        # values that fail Lightning Pose's own validation, alone on the base config
        ({"model.model_type": {"choice": ["heatmap", "heatmapp"]}}, "model.model_type",
         ["parameters.model.model_type=heatmapp", "unknown model type 'heatmapp'", "'heatmap_mhcrnn'"]),
        ({"data.downsample_factor": {"grid": [2, 4]}}, "data.downsample_factor", ["must be in [1, 3], got 4"]),
        # a range whose ends leave a key's valid range (the schema's declared ranges)
        ({"losses.temporal.epsilon": {"uniform": [-1.0, 5.0]}}, "losses.temporal.epsilon",
         ["parameters.losses.temporal.epsilon=-1.0 gives an invalid config", "must be >= 0, got -1.0"]),
        ({"losses.temporal.epsilon": {"uniform": [-2.0, 5.0], "per_keypoint_groups": [[0, 1, 2, 3], [4, 5, 6, 7]]}},
         "losses.temporal.epsilon[0]", ["must be >= 0, got -2.0"]),
        ({"losses.temporal.prob_threshold": {"uniform": [0.5, 1.5]}}, "losses.temporal.prob_threshold",
         ["parameters.losses.temporal.prob_threshold=1.5", "must be in [0, 1], got 1.5"]),
        ({"training.optimizer_params.learning_rate": {"uniform": [-1.0e-3, 1.0e-2]}},
         "training.optimizer_params.learning_rate", ["learning_rate=-0.001", "must be > 0, got -0.001"]),
        ({"training.train_batch_size": {"int": [0, 8], "step": 4}}, "training.train_batch_size",
         ["train_batch_size=0", "must be >= 1, got 0"]),
        ({"model.losses_to_use": {"choice": [["temporal"], ["temporall"]]}}, "model.losses_to_use[0]",
         ["unknown loss 'temporall'", "'pca_singleview'"]),
        # ranges
        ({"losses.temporal.log_weight": {"uniform": [8.0, 3.0]}}, "parameters.losses.temporal.log_weight.uniform",
         ["empty range"]),
        ({"model.model_type": {"choice": []}}, "parameters.model.model_type.choice", ["non-empty list"]),
        ({"training.train_batch_size": {"int": [4, 8], "step": 8}}, "parameters.training.train_batch_size.step",
         ["larger than the range [4, 8]"]),
        # conditions
        ({"losses.temporal.epsilon": {"uniform": [1.0, 2.0], "when": {"model.loss": "temporal"}}},
         "parameters.losses.temporal.epsilon.when.model.loss",
         ["allowed keys at 'model'", "'losses_to_use'", "or name a parameter", "'model.model_type'"]),
        ({"losses.temporal.epsilon": {"uniform": [1.0, 2.0], "when": {"model.model_type": "heatmapp"}}},
         "parameters.losses.temporal.epsilon.when.model.model_type",
         ["[heatmapp] is not a value of model.model_type", "allowed values: [heatmap, regression]"]),
        ({"losses.temporal.epsilon": {"uniform": [1.0, 2.0], "when": {"model.losses_to_use": {"contains": "pca"}}}},
         "parameters.losses.temporal.epsilon.when.model.losses_to_use", ["no value of model.losses_to_use contains pca"]),
        ({"losses.temporal.epsilon": {"uniform": [1.0, 2.0], "when": {"training.train_batch_size": {"contains": 4}}}},
         "parameters.losses.temporal.epsilon.when.training.train_batch_size", ["'contains' needs a list-valued key"]),
        ({"losses.temporal.epsilon": {"uniform": [1.0, 2.0], "when": {"model.backbone_pretrained": "no"}}},
         "parameters.losses.temporal.epsilon.when.model.backbone_pretrained", ["no can never match: the key holds bool"]),
        ({"losses.temporal.epsilon": {"uniform": [1.0, 2.0], "when": {"training.train_batch_size": {"in": [8, "16"]}}}},
         "parameters.losses.temporal.epsilon.when.training.train_batch_size", ["[8, 16] can never match", "int"]),
        ({"losses.temporal.epsilon": {"uniform": [1.0, 2.0], "when": {"losses.temporal.log_weight": 3.0}}},
         "parameters.losses.temporal.epsilon.when.losses.temporal.log_weight", ["losses.temporal.log_weight is uniform"]),
        ({"losses.temporal.epsilon": {"uniform": [1.0, 2.0], "when": {"losses.temporal.epsilon": 1.0}}},
         "parameters", ["conditions of ['losses.temporal.epsilon'] form a cycle"]),
        # per-keypoint groups against the demo's 8 keypoints
        ({"losses.temporal.epsilon": {"uniform": [1.0, 2.0], "per_keypoint_groups": [[0, 1], [2, 3]]}},
         "parameters.losses.temporal.epsilon.per_keypoint_groups",
         ["keypoints 0..7 exactly once", "data.num_keypoints=8", "missing [4, 5, 6, 7]"]),
        ({"losses.temporal.epsilon": {"uniform": [1.0, 2.0], "per_keypoint_groups": [[0, 1, 2, 3], [3, 4, 5, 6, 7]]}},
         "parameters.losses.temporal.epsilon.per_keypoint_groups", ["repeated [3]"]),
    ],
)
def test_bad_parameters(tmp_path, params, key, fragments):
    assert_rejected(tmp_path, changed(params=params), key, *fragments)


def test_grid_searcher_needs_grid_parameters(tmp_path):
    assert_rejected(tmp_path, changed(searcher={"name": "grid"}), "parameters.model.model_type",
                    "searcher 'grid' needs grid parameters only")
    study = {**VALID, "searcher": {"name": "grid"}, "parameters": {"data.downsample_factor": {"grid": [2, 3]}}}
    assert num_trials(load_study(write(tmp_path, study))) == 8


def test_condition_on_a_base_config_key(tmp_path, demo_dir):
    params = {"data.downsample_factor": {"choice": [3], "when": {"model.backbone": {"in": ["resnet18", "resnet34"]}}}}
    study = load_study(write(tmp_path, changed(params=params)))
    assert study.base_values["model.backbone"] == "resnet18"
    assert sample_parameters(study, RandomSuggester(0))["data.downsample_factor"] == 3


# ------------------------------------------------------------------------------------------
# sampling, grids and composing trial configs
# ------------------------------------------------------------------------------------------


def test_grid_points_and_num_trials(tmp_path):
    params = {"data.downsample_factor": {"grid": [1, 2, 3]}, "training.train_batch_size": {"grid": [4, 8]}}
    study = load_study(write(tmp_path, changed(params=params)))
    points = grid_points(study)
    assert len(points) == 6 and points[1] == {"data.downsample_factor": 1, "training.train_batch_size": 8}
    assert num_trials(study) == 4 * 6
    assert num_trials(load_study(write(tmp_path, VALID))) == 4


def test_sample_parameters_with_fixed_grid_values(tmp_path):
    study = load_study(write(tmp_path, changed(params={"data.downsample_factor": {"grid": [1, 3]}})))
    sampled = sample_parameters(study, RandomSuggester(0), grid_points(study)[1])
    assert sampled["data.downsample_factor"] == 3
    with pytest.raises(StudyError, match=r"study.yaml: data.image_resize_dims: is not a parameter"):
        sample_parameters(study, RandomSuggester(0), {"data.image_resize_dims": 1})


def test_compose_applies_overrides_sampled_values_and_budget(tmp_path, demo_dir):
    study = load_study(write(tmp_path, changed(budget={"max_epochs": 7}, overrides={
        "model.backbone": "resnet18", "model.backbone_pretrained": False, "training.train_batch_size": 4,
    })))
    sampled = {"model.model_type": "regression", "model.losses_to_use": ["temporal"], "losses.temporal.log_weight": 6.5}
    cfg = compose_trial_config(study, sampled, demo_dir)
    assert cfg.data.data_dir == str(demo_dir)
    assert cfg.model.model_type == "regression" and list(cfg.model.losses_to_use) == ["temporal"]
    assert cfg.losses.temporal.log_weight == 6.5 and cfg.training.train_batch_size == 4
    # the demo config trains 10 epochs with milestones [6, 8] and unfreezes at epoch 2
    assert (cfg.training.max_epochs, cfg.training.min_epochs) == (7, 7)
    assert list(cfg.training.lr_scheduler_params.multisteplr.milestones) == [6, 7]
    assert cfg.training.unfreezing_epoch == 2


def test_compose_clamps_short_budgets(tmp_path, demo_dir):
    overrides = {**VALID["overrides"], "training.check_val_every_n_epoch": 1}
    for max_epochs, milestones, unfreezing in ((2, [2], 1), (1, [1], 0)):
        study = load_study(write(tmp_path, changed(budget={"max_epochs": max_epochs}, overrides=overrides)))
        cfg = compose_trial_config(study, {"model.model_type": "heatmap"}, demo_dir)
        assert cfg.training.max_epochs == max_epochs
        assert list(cfg.training.lr_scheduler_params.multisteplr.milestones) == milestones
        assert cfg.training.unfreezing_epoch == unfreezing


def test_compose_leaves_unsampled_parameters_at_the_base_value(tmp_path, demo_dir):
    study = load_study(write(tmp_path, VALID))
    base = base_config(study, demo_dir)
    cfg = compose_trial_config(study, {"model.model_type": "heatmap", "model.losses_to_use": []}, demo_dir)
    assert cfg.losses.temporal.log_weight == base.losses.temporal.log_weight == 5.0


def test_compose_errors_name_the_study_and_the_key(tmp_path, demo_dir):
    path = write(tmp_path, changed(params={
        "losses.temporal.epsilon": {"uniform": [1.0, 2.0], "per_keypoint_groups": [[0, 1, 2, 3], [4, 5, 6, 7]]},
    }))
    study = load_study(path)
    with pytest.raises(StudyError, match=rf"^{path}: training.max_epochs: is not a parameter"):
        compose_trial_config(study, {"training.max_epochs": 3}, demo_dir)
    with pytest.raises(StudyError, match=rf"^{path}: losses.temporal.epsilon: expected a list of 8 values"):
        compose_trial_config(study, {"losses.temporal.epsilon": [1.0, 2.0]}, demo_dir)
    with pytest.raises(StudyError, match=rf"^{path}: model.model_type: the trial .* heatmap_multiview_transformer"):
        compose_trial_config(study, {"model.model_type": "heatmap_multiview_transformer"}, demo_dir)
    with pytest.raises(StudyError, match=rf"^{path}: base_config: 'demo' needs demo_dir"):
        base_config(study)
    with pytest.raises(StudyError, match=r"base_config: .*config.yaml not found"):
        base_config(study, tmp_path / "no_demo_here")


def test_base_config_from_a_file_relative_to_the_study(tmp_path, demo_dir):
    (tmp_path / "project").mkdir()
    user = yaml.safe_load((demo_dir / "config.yaml").read_text())
    user["training"]["max_epochs"] = user["training"]["min_epochs"] = 12
    (tmp_path / "project" / "lp_config.yaml").write_text(yaml.safe_dump(user))
    study = load_study(write(tmp_path, changed(base_config="project/lp_config.yaml", budget={"num_samples": 2})))
    assert study.base_config == str(tmp_path / "project" / "lp_config.yaml")
    assert study.budget.max_epochs == 12
    cfg = compose_trial_config(study, sample_parameters(study, RandomSuggester(2)))
    assert cfg.data.data_dir == user["data"]["data_dir"] and cfg.model.backbone == "resnet18"
    with pytest.raises(StudyError, match="base_config: is a file"):
        prepare_demo_project(study, tmp_path)


def test_prepare_demo_project(tmp_path, demo_dir):
    study = load_study(write(tmp_path, VALID))
    before = (demo_dir / "config.yaml").stat().st_mtime_ns
    assert prepare_demo_project(study, demo_dir) == demo_dir / "config.yaml"
    assert (demo_dir / "config.yaml").stat().st_mtime_ns == before  # already there: kept
    fresh = prepare_demo_project(study, tmp_path / "fresh")
    assert fresh == tmp_path / "fresh" / "config.yaml"
    assert load_config(fresh).data.num_keypoints == NUM_KEYPOINTS


# ------------------------------------------------------------------------------------------
# the shipped search spaces
# ------------------------------------------------------------------------------------------


SHIPPED = sorted(SEARCH_SPACES.glob("*.yaml"))


def test_search_spaces_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert {"heads", "downsample", "temporal_epsilon", "loss_weights", "full", "quickstart"} <= names


@pytest.mark.filterwarnings("ignore:multiview data with model.model_type='heatmap'")
@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_study_loads_and_composes(path, demo_dir):
    study = load_study(path)
    assert study.name == path.stem
    points = grid_points(study)
    for seed in (0, 1):
        sampled = sample_parameters(study, RandomSuggester(seed), points[seed % len(points)])
        cfg = compose_trial_config(study, sampled, demo_dir)
        for key, value in sampled.items():
            node = cfg
            for part in key.split("."):
                node = node[part]
            assert (list(node) if isinstance(value, list) else node) == value
        if study.base_config.startswith("demo"):
            assert cfg.model.backbone == "resnet18" and cfg.model.backbone_pretrained is False


def test_quickstart_is_small():
    study = load_study(SEARCH_SPACES / "quickstart.yaml")
    assert 6 <= num_trials(study) <= 8 and 2 <= study.budget.max_epochs <= 4
    assert study.base_config == "demo"
    assert study.scheduler.name == "asha" and study.scheduler.options["grace_period"] == 1
    assert study.overrides["data.image_resize_dims.height"] == study.overrides["data.image_resize_dims.width"] == 128
    by_key = {p.key: p for p in study.parameters}
    design = [by_key.get(k) for k in ("model.model_type", "data.downsample_factor")]
    assert any(p is not None and len(p.values) >= 2 for p in design)
    assert any(key.endswith("log_weight") for key in by_key)


@pytest.mark.parametrize(
    "study, key, fragments",
    [
        (changed(budget={"max_epochs": 3}, overrides={**VALID["overrides"], "training.check_val_every_n_epoch": 5}),
         "training.check_val_every_n_epoch", ["validates every 5 epochs but a trial trains budget.max_epochs=3"]),
        (changed(params={"training.check_val_every_n_epoch": {"choice": [1, 4]}}), "training.check_val_every_n_epoch",
         ["parameters.training.check_val_every_n_epoch=4: validates every 4 epochs"]),
        (changed(overrides={**VALID["overrides"], "training.val_check_interval": 0.5}), "training.val_check_interval",
         ["report once per validation epoch"]),
        (changed(overrides={**VALID["overrides"], "callbacks.anneal_weight.freeze_until_epoch": 60}),
         "callbacks.anneal_weight.freeze_until_epoch",
         ["parameters.model.losses_to_use=[temporal]: 60 >= budget.max_epochs - 1 (2)", "weight init_val=0"]),
        (changed(params={"model.model_type": {"choice": ["heatmap", "heatmap_mhcrnn"]},
                         "data.downsample_factor": {"choice": [2, 3]}}),
         "data.downsample_factor",
         ["the combination {model.model_type: heatmap_mhcrnn, model.losses_to_use: [], data.downsample_factor: 3}",
          "add a `when:` condition", "needs downsample_factor 2, got 3"]),
    ],
)
def test_values_that_clash_with_the_budget_or_each_other_are_refused_at_load(tmp_path, study, key, fragments):
    assert_rejected(tmp_path, study, key, *fragments)


def test_a_when_condition_resolves_a_clashing_combination(tmp_path):
    study = changed(params={"model.model_type": {"choice": ["heatmap", "heatmap_mhcrnn"]},
                            "data.downsample_factor": {"choice": [2, 3], "when": {"model.model_type": "heatmap"}}})
    assert [p.key for p in load_study(write(tmp_path, study)).parameters][-1] == "data.downsample_factor"
