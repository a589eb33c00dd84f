"""The schema's defaults against Lightning Pose 2.4's ``scripts/configs/config_default.yaml``."""

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from lightning_pose.config import CONFIG_NAME, LightningPoseConfig, default_config

# Values written in LP 2.4's config_default.yaml (hand-copied, group by group). Keys whose
# template value is a placeholder, or whose LP code default (used when the key is absent from a
# user's file) differs from the template, are listed in DEVIATIONS instead.
LP_DEFAULT_VALUES = {
    "data.image_resize_dims.height": None,
    "data.image_resize_dims.width": None,
    "data.csv_file": "CollectedData.csv",
    "data.downsample_factor": 2,
    "data.num_keypoints": None,
    "data.keypoint_names": None,
    "data.mirrored_column_matches": None,
    "data.columns_for_singleview_pca": None,
    "training.imgaug": "dlc",
    "training.imgaug_hflip": False,
    "training.train_batch_size": 16,
    "training.val_batch_size": 32,
    "training.test_batch_size": 32,
    "training.train_prob": 0.95,
    "training.val_prob": 0.05,
    "training.train_frames": 1,
    "training.num_gpus": 1,
    "training.unfreezing_epoch": 20,
    "training.min_epochs": 300,
    "training.max_epochs": 300,
    "training.log_every_n_steps": 10,
    "training.ckpt_every_n_epochs": None,
    "training.early_stopping": False,
    "training.early_stop_patience": 3,
    "training.rng_seed_data_pt": 0,
    "training.rng_seed_model_pt": 0,
    "training.optimizer": "Adam",
    "training.optimizer_params.learning_rate": 1e-3,
    "training.lr_scheduler": "multisteplr",
    "training.lr_scheduler_params.multisteplr.milestones": [150, 200, 250],
    "training.lr_scheduler_params.multisteplr.gamma": 0.5,
    "model.losses_to_use": [],
    "model.backbone": "resnet50_animal_ap10k",
    "model.model_type": "heatmap",
    "model.heatmap_loss_type": "mse",
    "model.model_name": "test",
    "model.checkpoint": None,
    "dali.general.seed": 123456,
    "dali.base.train.sequence_length": 32,
    "dali.base.predict.sequence_length": 96,
    "dali.context.train.batch_size": 16,
    "dali.context.predict.sequence_length": 96,
    "losses.pca_multiview.log_weight": 11.0,
    "losses.pca_multiview.components_to_keep": 3,
    "losses.pca_multiview.epsilon": None,
    "losses.pca_singleview.log_weight": 11.0,
    "losses.pca_singleview.components_to_keep": 0.99,
    "losses.pca_singleview.epsilon": None,
    "losses.temporal.log_weight": 11.0,
    "losses.temporal.epsilon": 20.0,
    "losses.temporal.prob_threshold": 0.05,
    "eval.predict_vids_after_training": True,
    "eval.test_videos_directory": "${data.video_dir}",
    "eval.save_vids_after_training": False,
    "eval.colormap": "cool",
    "eval.confidence_thresh_for_vid": 0.90,
    "callbacks.anneal_weight.attr_name": "total_unsupervised_importance",
    "callbacks.anneal_weight.init_val": 0.0,
    "callbacks.anneal_weight.increase_factor": 0.01,
    "callbacks.anneal_weight.final_val": 1.0,
    "callbacks.anneal_weight.freeze_until_epoch": 60,
}

# key: (template value, schema default)
DEVIATIONS = {
    "data.data_dir": ("/replace/with/your/path", None),
    "data.video_dir": ("/replace/with/your/path", None),
    # LP reads these with cfg.get(key, fallback); an LP config without them gets the fallback
    "training.check_val_every_n_epoch": (5, 1),
    "training.uniform_heatmaps_for_nan_keypoints": (True, False),
}

# keys the LP code reads with a fallback although the template does not write them
LP_CODE_DEFAULTS = {
    "data.view_names": None,
    "data.bbox_file": None,
    "data.camera_params_file": None,
    "model.backbone_pretrained": True,
    "model.backbone_checkpoint": None,
    "model.head": "heatmap_cnn",
    "training.num_workers": None,
    "training.imgaug_3d": None,
    "training.min_steps": None,
    "training.max_steps": None,
    "training.unfreezing_step": None,
    "training.lr_scheduler_params.multisteplr.milestone_steps": None,
    "training.val_check_interval": None,
    "training.limit_train_batches": None,
    "training.accumulate_grad_batches": 1,
    "training.profiler": None,
    "training.patch_mask.init_step": 700,
    "training.patch_mask.final_step": 5000,
    "training.patch_mask.init_ratio": 0.1,
    "training.patch_mask.final_ratio": 0.5,
    "losses.supervised_pairwise_projections.log_weight": None,
    "losses.supervised_reprojection_heatmap_mse.log_weight": None,
}


def _value(cfg, key):
    node = OmegaConf.select(cfg, key)
    return OmegaConf.to_container(node) if OmegaConf.is_config(node) else node


def _raw(cfg, key):
    parent, _, leaf = key.rpartition(".")
    return OmegaConf.to_container(OmegaConf.select(cfg, parent), resolve=False)[leaf]


def test_defaults_equal_lp_template():
    cfg = default_config()
    for key, expected in LP_DEFAULT_VALUES.items():
        got = _raw(cfg, key) if key == "eval.test_videos_directory" else _value(cfg, key)
        assert got == expected, key
        assert type(got) is type(expected), key  # 3 stays an int, 0.99 a float


def test_documented_deviations_and_code_defaults():
    cfg = default_config()
    for key, (_template, ours) in DEVIATIONS.items():
        assert _value(cfg, key) == ours, key
    for key, expected in LP_CODE_DEFAULTS.items():
        assert _value(cfg, key) == expected, key


def test_groups_and_struct_mode():
    cfg = default_config()
    assert list(cfg.keys()) == [
        "data", "training", "model", "dali", "losses", "eval", "callbacks", "creation_datetime"
    ]
    assert OmegaConf.is_struct(cfg)


def test_registered_with_hydra_config_store():
    node = ConfigStore.instance().load(f"{CONFIG_NAME}.yaml").node
    assert OmegaConf.get_type(node) is LightningPoseConfig
    assert node.training.train_batch_size == 16
