"""validate_config: LP's ModelConfig.validate checks plus the types of the Any-typed fields."""

import dataclasses
import typing

import pytest
from omegaconf import ListConfig, OmegaConf

from lightning_pose.config import ConfigError, LightningPoseConfig, default_config, is_multiview, load_config, validate_config
from lightning_pose.config.introspect import is_group, unwrap_optional
from lightning_pose.config.schema_ranges import VALUE_RANGES

BASE = {
    "data": {
        "data_dir": "/data/project",
        "video_dir": "/data/project/videos",
        "image_resize_dims": {"height": 256, "width": 384},
        "num_keypoints": 3,
        "keypoint_names": ["nose", "paw_left", "paw_right"],
    }
}
MULTIVIEW = [
    "data.view_names=[top, bot]",
    "data.csv_file=[top.csv, bot.csv]",
    "model.model_type=heatmap_multiview_transformer",
]
REPROJECTION = [
    "data.camera_params_file=calib.csv",
    "losses.supervised_reprojection_heatmap_mse.log_weight=3.0",
]
STEP_MODE = [
    "training.min_steps=100",
    "training.max_steps=1000",
    "training.unfreezing_step=50",
    "training.lr_scheduler_params.multisteplr.milestone_steps=[500, 800]",
]


def _cfg(*overrides):
    return load_config(BASE, list(overrides))


def test_valid_configs_pass():
    validate_config(_cfg())
    validate_config(_cfg(*STEP_MODE))
    validate_config(_cfg(*MULTIVIEW))
    validate_config(_cfg("training.imgaug={Affine: {p: 0.5, kwargs: {rotate: [-10, 10]}}}"))
    validate_config(_cfg("training.ckpt_every_n_epochs=20", "training.check_val_every_n_epoch=10"))
    validate_config(_cfg("losses.pca_singleview.components_to_keep=4", "training.train_frames=0.5"))
    validate_config(_cfg("losses.temporal.epsilon=[1.0, 2, 3.5]", "training.val_prob=null"))


FAILURES = [
    # (overrides, dotted key in the error, words of the message)
    (["data.num_keypoints=null"], "data.num_keypoints", "positive int"),
    (["data.num_keypoints=0", "data.keypoint_names=null"], "data.num_keypoints", "must be >= 1, got 0"),
    (["data.keypoint_names=[a, b]"], "data.keypoint_names", "2 names given"),
    (["data.data_dir=null"], "data.data_dir", "must be set"),
    (["data.image_resize_dims.height=null"], "data.image_resize_dims.height", "must be set"),
    (["data.image_resize_dims.height=200"], "data.image_resize_dims.height", "multiple of 128"),
    # LP repeats the height test and never looks at the width; here the width is checked too
    (["data.image_resize_dims.width=200"], "data.image_resize_dims.width", "multiple of 128"),
    (["training.train_prob=0.8", "training.val_prob=0.3"], "training.val_prob", "exceeds 1"),
    (["training.train_prob=0"], "training.train_prob", "(0, 1]"),
    (
        ["training.ckpt_every_n_epochs=15", "training.check_val_every_n_epoch=10"],
        "training.ckpt_every_n_epochs",
        "not divisible",
    ),
    (
        ["training.lr_scheduler_params.multisteplr.milestones=[150, 400]"],
        "training.lr_scheduler_params.multisteplr.milestones",
        "[400] exceed training.max_epochs=300",
    ),
    (
        [*STEP_MODE, "training.lr_scheduler_params.multisteplr.milestone_steps=[2000]"],
        "training.lr_scheduler_params.multisteplr.milestone_steps",
        "exceed training.max_steps=1000",
    ),
    ([*STEP_MODE, "training.max_epochs=300"], "training.max_epochs", "must be null in step mode"),
    (STEP_MODE[:2], "training.unfreezing_step", "must be set in step mode"),
    (["training.unfreezing_step=5"], "training.unfreezing_step", "must be null in epoch mode"),
    (["training.max_epochs=null"], "training.max_epochs", "must be set in epoch mode"),
    (["model.model_type=transformer"], "model.model_type", "allowed"),
    (["model.heatmap_loss_type=l1"], "model.heatmap_loss_type", "allowed"),
    (["model.losses_to_use=[pca_singleveiw]"], "model.losses_to_use[0]", "unknown loss"),
    (["data.downsample_factor=4"], "data.downsample_factor", "must be in [1, 3], got 4"),
    (["training.imgaug=dlc-fancy"], "training.imgaug", "dlc-top-down"),
    (["training.imgaug=5"], "training.imgaug", "mapping"),
    (["data.csv_file=5"], "data.csv_file", "file name"),
    (["data.csv_file=[a.csv, b.csv]"], "data.csv_file", "view_names is null"),
    (["data.bbox_file=3"], "data.bbox_file", "file name"),
    (["data.mirrored_column_matches=[[0, a]]"], "data.mirrored_column_matches", "index lists"),
    (["training.train_frames=0"], "training.train_frames", "positive"),
    (["training.train_frames=all"], "training.train_frames", "positive"),
    (["training.val_check_interval=-1"], "training.val_check_interval", "positive"),
    (["losses.temporal.epsilon=wide"], "losses.temporal.epsilon", "list of numbers"),
    (["losses.temporal.epsilon=[1, x]"], "losses.temporal.epsilon", "list of numbers"),
    (
        ["losses.pca_singleview.components_to_keep=1.5"],
        "losses.pca_singleview.components_to_keep",
        "(0, 1]",
    ),
    (
        ["losses.pca_multiview.components_to_keep=0"],
        "losses.pca_multiview.components_to_keep",
        "int >= 1",
    ),
    (
        ["model.model_type=heatmap_multiview_transformer"],
        "model.model_type",
        "needs data.view_names",
    ),
    ([*MULTIVIEW, "data.csv_file=[top.csv]"], "data.csv_file", "one file per view"),
    ([*MULTIVIEW, "data.csv_file=top.csv"], "data.csv_file", "one file per view"),
    ([*MULTIVIEW, "training.imgaug_hflip=true"], "training.imgaug_hflip", "multiview"),
    (
        [*MULTIVIEW, *REPROJECTION, "training.imgaug=default"],
        "training.imgaug",
        "supervised_reprojection_heatmap_mse",
    ),
    (
        [*MULTIVIEW, *REPROJECTION, "training.imgaug_3d=false"],
        "training.imgaug_3d",
        "supervised_reprojection_heatmap_mse",
    ),
    (
        ["model.losses_to_use=[temporal]", "data.video_dir=null", "eval.test_videos_directory=/v"],
        "data.video_dir",
        "losses_to_use",
    ),
    (["data.video_dir=null"], "eval.test_videos_directory", "predict_vids_after_training"),
]


@pytest.mark.parametrize(
    ("overrides", "key", "words"), FAILURES, ids=[f"{key}:{words}" for _, key, words in FAILURES]
)
def test_validation_failures_name_the_key(overrides, key, words):
    cfg = _cfg(*overrides)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")
    assert words in str(info.value)


def test_log_weights_must_be_numbers_in_a_plain_dictconfig():
    cfg = OmegaConf.create(OmegaConf.to_container(_cfg(), resolve=False))
    cfg.losses.temporal.log_weight = "heavy"
    expected = r"losses.temporal.log_weight: expected a number, got 'heavy'"
    with pytest.raises(ConfigError, match=expected):
        validate_config(cfg)
    cfg.losses.temporal.log_weight = 3
    # None switches a supervised_* loss off
    cfg.losses.supervised_pairwise_projections.log_weight = None
    validate_config(cfg)


def test_is_multiview():
    assert is_multiview(_cfg()) is False
    assert is_multiview(_cfg(*MULTIVIEW)) is True
    with pytest.raises(ConfigError, match="data.view_names: give two or more views"):
        is_multiview(_cfg("data.view_names=[top]", "data.csv_file=[top.csv]"))


def test_multiview_with_a_single_view_model_warns():
    cfg = _cfg(*MULTIVIEW, "model.model_type=heatmap")
    with pytest.warns(UserWarning, match="heatmap_multiview_transformer"):
        validate_config(cfg)


def test_mhcrnn_needs_downsample_factor_2():
    cfg = _cfg("model.model_type=heatmap_mhcrnn", "data.downsample_factor=3")
    with pytest.raises(ConfigError, match="data.downsample_factor: model.model_type heatmap_mhcrnn needs downsample_factor 2"):
        validate_config(cfg)


RANGE_FAILURES = [
    ("losses.temporal.epsilon=-0.5", "losses.temporal.epsilon", "must be >= 0, got -0.5"),
    ("losses.temporal.epsilon=[1.0, 2.0, -3.0]", "losses.temporal.epsilon[2]", "must be >= 0, got -3.0"),
    ("losses.temporal.prob_threshold=1.5", "losses.temporal.prob_threshold", "must be in [0, 1], got 1.5"),
    ("losses.pca_singleview.epsilon=-1.0", "losses.pca_singleview.epsilon", "must be >= 0, got -1.0"),
    ("losses.temporal.log_weight=.inf", "losses.temporal.log_weight", "must be a finite number, got inf"),
    ("training.optimizer_params.learning_rate=0.0", "training.optimizer_params.learning_rate", "must be > 0, got 0.0"),
    ("training.optimizer_params.learning_rate=-0.001", "training.optimizer_params.learning_rate", "must be > 0"),
    ("training.train_batch_size=0", "training.train_batch_size", "must be >= 1, got 0"),
    ("training.val_batch_size=-4", "training.val_batch_size", "must be >= 1, got -4"),
    ("training.max_epochs=0", "training.max_epochs", "must be >= 1, got 0"),
    ("training.train_prob=0.0", "training.train_prob", "must be in (0, 1], got 0.0"),
    ("training.val_prob=1.2", "training.val_prob", "must be in [0, 1], got 1.2"),
    ("training.lr_scheduler_params.multisteplr.gamma=0.0", "training.lr_scheduler_params.multisteplr.gamma", "> 0"),
    ("training.lr_scheduler_params.multisteplr.milestones=[10, -5]",
     "training.lr_scheduler_params.multisteplr.milestones[1]", "must be >= 0, got -5"),
    ("eval.confidence_thresh_for_vid=2.0", "eval.confidence_thresh_for_vid", "must be in [0, 1], got 2.0"),
    ("callbacks.anneal_weight.final_val=-1.0", "callbacks.anneal_weight.final_val", "must be >= 0"),
    ("training.patch_mask.final_ratio=1.5", "training.patch_mask.final_ratio", "must be in [0, 1]"),
    ("dali.base.train.sequence_length=0", "dali.base.train.sequence_length", "must be >= 1, got 0"),
]


@pytest.mark.parametrize(("override", "key", "words"), RANGE_FAILURES, ids=[key for _, key, _ in RANGE_FAILURES])
def test_values_out_of_their_range_are_refused(override, key, words):
    with pytest.raises(ConfigError) as info:
        validate_config(_cfg(override))
    assert info.value.key == key and words in str(info.value), str(info.value)


def _numeric_fields(group: type, prefix: str = "") -> set[str]:
    keys = set()
    for field in dataclasses.fields(group):
        key = f"{prefix}{field.name}"
        inner, _ = unwrap_optional(field.type)
        if is_group(inner):
            keys |= _numeric_fields(inner, f"{key}.")
        elif inner in (int, float) or typing.get_args(inner) in ((int,), (float,)):
            keys.add(key)
    return keys


def test_every_numeric_key_of_the_schema_has_a_declared_range():
    declared = set(VALUE_RANGES)
    numeric = _numeric_fields(LightningPoseConfig)
    any_typed_numbers = {"losses.temporal.epsilon", "losses.temporal_heatmap_mse.epsilon",
                         "losses.temporal_heatmap_kl.epsilon",  # number or per-keypoint list
                         "training.train_batch_size"}  # int or "auto"
    assert numeric | any_typed_numbers == declared
    for key in declared:  # the defaults lie inside the ranges
        value = OmegaConf.select(default_config(), key)
        for item in (value if isinstance(value, ListConfig) else [value]):
            assert item is None or VALUE_RANGES[key].contains(item), (key, item)
