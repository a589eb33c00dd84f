"""load_config: LP files load as they are; unknown keys / wrong types fail at load time."""

import pathlib

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from omegaconf.errors import ConfigAttributeError

from lightning_pose.config import LP_ROOT_PATH, ConfigError, load_config, parse_override

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

# A config in Lightning Pose's own format, laid out like its mirror-mouse example: Hydra section,
# LP_ROOT_PATH interpolation, per-keypoint temporal epsilon, fiftyone block.
LP_EXAMPLE_YAML = """
data:
  image_resize_dims:
    width: 256
    height: 256
  data_dir: ${LP_ROOT_PATH:}/data/mirror-mouse-example
  video_dir: ${data.data_dir}/videos
  csv_file: CollectedData.csv
  downsample_factor: 2
  num_keypoints: 3
  keypoint_names: [paw_top, nose_top, paw_bot]
  mirrored_column_matches:
    - [0, 1]
    - [2, 1]
  columns_for_singleview_pca: [0, 1, 2]
training:
  imgaug: dlc
  train_batch_size: 16
  val_batch_size: 16
  test_batch_size: 16
  train_prob: 0.8
  val_prob: 0.1
  train_frames: 1
  num_gpus: 1
  num_workers: 4
  early_stop_patience: 3
  unfreezing_epoch: 20
  min_epochs: 300
  max_epochs: 300
  log_every_n_steps: 1
  check_val_every_n_epoch: 10
  rng_seed_data_pt: 42
  rng_seed_model_pt: 44
  lr_scheduler: multisteplr
  lr_scheduler_params:
    multisteplr:
      milestones: [150, 200, 250]
      gamma: 0.5
model:
  losses_to_use: ["pca_singleview"]
  backbone: resnet50_animal_ap10k
  model_type: heatmap
  heatmap_loss_type: mse
  model_name: my_base_toy_model
dali:
  general:
    seed: 123456
  base:
    train:
      sequence_length: 16
    predict:
      sequence_length: 64
  context:
    train:
      batch_size: 6
    predict:
      sequence_length: 64
losses:
  pca_multiview:
    log_weight: 10.7
    components_to_keep: 3
    epsilon: null
  pca_singleview:
    log_weight: 10.7
    components_to_keep: 0.99
    epsilon: null
  temporal:
    log_weight: 10.7
    epsilon: [12.9, 11.3, 0.7]
    prob_threshold: 0.05
eval:
  hydra_paths: ["2021-12-15/04-11-43/"]
  predict_vids_after_training: true
  save_vids_after_training: true
  fiftyone:
    dataset_name: rick_data_test
    model_display_names: ["test_model"]
    launch_app_from_script: false
    remote: true
    address: 127.0.0.1
    port: 5151
  test_videos_directory: ${data.video_dir}
  confidence_thresh_for_vid: 0.9
callbacks:
  anneal_weight:
    attr_name: total_unsupervised_importance
    init_val: 0.0
    increase_factor: 0.01
    final_val: 1.0
    freeze_until_epoch: 0
hydra:
  run:
    dir: outputs/${now:%Y-%m-%d}/${now:%H-%M-%S}
  sweep:
    dir: multirun/${now:%Y-%m-%d}/${now:%H-%M-%S}
    subdir: ${hydra.job.num}
"""


@pytest.fixture
def lp_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(LP_EXAMPLE_YAML)
    return path


def _write(tmp_path, text):
    path = tmp_path / "user.yaml"
    path.write_text(text)
    return path


def test_lp_root_path_is_repo_root():
    assert pathlib.Path(LP_ROOT_PATH) == REPO_ROOT


def test_lp_example_config_loads_as_is(lp_file):
    cfg = load_config(lp_file)
    assert "hydra" not in cfg
    assert cfg.data.data_dir == f"{REPO_ROOT}/data/mirror-mouse-example"
    assert cfg.data.video_dir == f"{REPO_ROOT}/data/mirror-mouse-example/videos"
    assert cfg.eval.test_videos_directory == cfg.data.video_dir
    assert list(cfg.losses.temporal.epsilon) == [12.9, 11.3, 0.7]
    assert cfg.losses.pca_multiview.components_to_keep == 3
    assert cfg.losses.pca_singleview.log_weight == 10.7
    assert cfg.training.rng_seed_model_pt == 44
    assert cfg.training.num_workers == 4
    assert cfg.callbacks.anneal_weight.freeze_until_epoch == 0
    # keys the file does not write take the schema default
    assert cfg.training.uniform_heatmaps_for_nan_keypoints is False
    assert cfg.model.backbone_pretrained is True
    assert cfg.losses.temporal_heatmap_mse.log_weight == 0.0


def test_loaded_config_is_struct(lp_file):
    cfg = load_config(lp_file)
    with pytest.raises(ConfigAttributeError):
        _ = cfg.training.not_a_key
    with pytest.raises(ConfigAttributeError):
        cfg.training.not_a_key = 1


def test_interpolations_stay_unresolved_in_the_config(lp_file):
    cfg = load_config(lp_file)
    raw = OmegaConf.to_container(cfg, resolve=False)
    assert raw["data"]["data_dir"] == "${LP_ROOT_PATH:}/data/mirror-mouse-example"


def test_dictconfig_and_dict_sources(lp_file):
    user = OmegaConf.load(lp_file)
    assert load_config(user).data.num_keypoints == 3
    assert load_config({"data": {"num_keypoints": 5}}).data.num_keypoints == 5


def test_unknown_key_names_file_path_and_allowed_keys(tmp_path):
    path = _write(tmp_path, "data:\n  image_resize_dims:\n    heigth: 256\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "data.image_resize_dims.heigth" in message
    assert "['height', 'width']" in message
    assert info.value.key == "data.image_resize_dims.heigth"


def test_unknown_top_level_key(tmp_path):
    path = _write(tmp_path, "trainig:\n  max_epochs: 3\n")
    with pytest.raises(ConfigError, match=r"trainig: unknown key 'trainig'.*'training'"):
        load_config(path)


def test_wrong_type_names_path_expected_type_and_value(tmp_path):
    path = _write(tmp_path, 'training:\n  train_batch_size: "abc"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "training.train_batch_size: expected int or 'auto', got 'abc'" in message


def test_wrong_types_in_lists_groups_and_nulls(tmp_path):
    cases = {
        "data:\n  columns_for_singleview_pca: [0, x]\n": "data.columns_for_singleview_pca[1]: "
        "expected int, got 'x'",
        "data:\n  image_resize_dims: 256\n": "data.image_resize_dims: expected a mapping",
        "training:\n  max_epochs: [1]\n": "training.max_epochs: expected int or null, got [1]",
        "training:\n  train_batch_size: null\n": "train_batch_size: expected int or 'auto', got None",
        "data:\n  keypoint_names: 3\n": "data.keypoint_names: expected list of str or null, got 3",
    }
    for text, expected in cases.items():
        with pytest.raises(ConfigError) as info:
            load_config(_write(tmp_path, text))
        assert expected in str(info.value), text


def test_yaml_float_without_dot_is_accepted(tmp_path):
    path = _write(tmp_path, "training:\n  optimizer_params:\n    learning_rate: 5e-5\n")
    cfg = load_config(path)
    assert cfg.training.optimizer_params.learning_rate == pytest.approx(5e-5)


def test_overrides(lp_file):
    cfg = load_config(
        lp_file,
        overrides=[
            "training.max_epochs=2",
            "model.losses_to_use=[temporal]",
            "+model.backbone_pretrained=false",
            "++training.optimizer_params.learning_rate=5e-5",
            "training.imgaug={Affine: {p: 0.5}}",
            "data.csv_file=[top.csv, bot.csv]",
        ],
    )
    assert cfg.training.max_epochs == 2
    assert list(cfg.model.losses_to_use) == ["temporal"]
    assert cfg.model.backbone_pretrained is False
    assert cfg.training.optimizer_params.learning_rate == pytest.approx(5e-5)
    assert OmegaConf.to_container(cfg.training.imgaug) == {"Affine": {"p": 0.5}}
    assert list(cfg.data.csv_file) == ["top.csv", "bot.csv"]


def test_override_replaces_a_mapping_value():
    user = {"training": {"imgaug": {"Affine": {"p": 0.5}}}}
    cfg = load_config(user, ["training.imgaug={Rot90: {p: 1}}"])
    assert OmegaConf.to_container(cfg.training.imgaug) == {"Rot90": {"p": 1}}


def test_group_override_merges():
    cfg = load_config({}, ["training.lr_scheduler_params.multisteplr={gamma: 0.1}"])
    assert cfg.training.lr_scheduler_params.multisteplr.gamma == 0.1
    assert list(cfg.training.lr_scheduler_params.multisteplr.milestones) == [150, 200, 250]


def test_bad_overrides(lp_file):
    with pytest.raises(ConfigError, match=r"override '\+model.not_a_key=1'.*model.not_a_key"):
        load_config(lp_file, ["+model.not_a_key=1"])
    with pytest.raises(ConfigError, match=r"training.max_epochs: expected int or null, got 'x'"):
        load_config(lp_file, ["training.max_epochs=x"])
    with pytest.raises(ConfigError, match="dotted.key=value"):
        load_config(lp_file, ["training.max_epochs"])
    with pytest.raises(ConfigError, match="deleting keys is not supported"):
        load_config(lp_file, ["~training.max_epochs"])


def test_parse_override_values_are_yaml():
    assert parse_override("a.b=[1, 2]") == ("a.b", [1, 2])
    assert parse_override("+a.b=null") == ("a.b", None)
    assert parse_override("a.b=0.5") == ("a.b", 0.5)


def test_legacy_keypoints_key_is_renamed():
    cfg = load_config({"data": {"keypoints": ["a", "b"]}})
    assert list(cfg.data.keypoint_names) == ["a", "b"]


def test_step_mode_drops_unwritten_epoch_defaults():
    user = {
        "training": {
            "min_steps": 100,
            "max_steps": 1000,
            "unfreezing_step": 10,
            "lr_scheduler_params": {"multisteplr": {"milestone_steps": [500]}},
        }
    }
    cfg = load_config(user)
    assert cfg.training.min_epochs is None and cfg.training.max_epochs is None
    assert cfg.training.unfreezing_epoch is None
    assert cfg.training.lr_scheduler_params.multisteplr.milestones is None
    # an epoch key the user did write is kept (validate_config then rejects the mix)
    cfg = load_config(user, ["training.max_epochs=5"])
    assert cfg.training.max_epochs == 5


def test_unresolvable_interpolation_fails_at_load(tmp_path):
    path = _write(tmp_path, "data:\n  video_dir: ${data.nope}/videos\n")
    with pytest.raises(ConfigError, match=r"data.video_dir: cannot resolve"):
        load_config(path)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "absent.yaml")
    path = _write(tmp_path, "data: [unclosed\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: line 2, column 1: expected ',' or ']'"), str(err.value)
    path = _write(tmp_path, "training:\n  max_epochs: 3\n  max_epochs: 4\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (f"{path}: line 3, column 3: key 'max_epochs' is given twice (first on line 2)\n"
                              "      max_epochs: 4\n      ^"), str(err.value)
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(_write(tmp_path, "- a\n- b\n"))


def test_saved_config_round_trips(lp_file, tmp_path):
    cfg = load_config(lp_file, ["training.max_epochs=7"])
    # keys the training pipeline stamps into the config it saves
    cfg.creation_datetime = "2025-01-02T03:04:05"
    cfg.model.lightning_pose_version = "2.4.0"
    saved = tmp_path / "saved.yaml"
    OmegaConf.save(cfg, saved, resolve=False)
    again = load_config(saved)
    assert again == cfg
    assert again.training.max_epochs == 7


def test_schema_works_as_hydra_defaults_entry(tmp_path):
    (tmp_path / "user.yaml").write_text(
        "defaults:\n  - lightning_pose_config\n  - _self_\ntraining:\n  max_epochs: 4\n"
    )
    with initialize_config_dir(config_dir=str(tmp_path), version_base=None):
        cfg = compose(config_name="user", overrides=["model.model_type=regression"])
    assert cfg.training.max_epochs == 4
    assert cfg.model.model_type == "regression"
    assert load_config(cfg).training.train_batch_size == 16
