"""Which configs Lightning Pose 2.4.3 accepts and which this project accepts, side by side.

    python benchmarks/compare_config_checks.py --lp-python ~/.cache/lp-reference/venv/bin/python

Each variant changes one or two keys of a valid Lightning Pose config. LP's verdict: its
``ModelConfig(cfg).validate()`` plus building the augmentation pipeline and the loss factories
(what ``litpose train`` does before training); ours: ``load_config`` + ``validate_config``. Prints
JSON: one row per variant with both verdicts and the messages. Where LP accepts a config and we
refuse it, docs/differences.md says which silently wrong result the refusal prevents.
"""

import argparse
import copy
import json
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightning_pose.config import ConfigError, load_config, validate_config  # noqa: E402

MIRROR_MOUSE = Path(__file__).resolve().parents[2] / "shared" / "data" / "mirror-mouse-example"

KEYPOINTS = ["paw1LH_top", "paw2LF_top", "paw3RF_top", "paw4RH_top", "tailBase_top", "tailMid_top", "nose_top",
             "obs_top", "paw1LH_bot", "paw2LF_bot", "paw3RF_bot", "paw4RH_bot", "tailBase_bot", "tailMid_bot",
             "nose_bot", "obsHigh_bot", "obsLow_bot"]

BASE = {
    "data": {"image_resize_dims": {"height": 128, "width": 128}, "data_dir": str(MIRROR_MOUSE),
             "video_dir": str(MIRROR_MOUSE / "videos"), "csv_file": "CollectedData.csv", "downsample_factor": 2,
             "num_keypoints": 17, "keypoint_names": KEYPOINTS, "mirrored_column_matches": [list(range(7)), list(range(8, 15))],
             "columns_for_singleview_pca": [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14]},
    "training": {"imgaug": "dlc", "train_batch_size": 16, "val_batch_size": 16, "test_batch_size": 16,
                 "train_prob": 0.8, "val_prob": 0.1, "train_frames": 1, "num_gpus": 1, "unfreezing_epoch": 20,
                 "min_epochs": 300, "max_epochs": 300, "log_every_n_steps": 10, "check_val_every_n_epoch": 10,
                 "ckpt_every_n_epochs": None, "early_stopping": False, "early_stop_patience": 3,
                 "rng_seed_data_pt": 0, "rng_seed_model_pt": 0, "optimizer": "Adam",
                 "optimizer_params": {"learning_rate": 1e-3}, "lr_scheduler": "multisteplr",
                 "lr_scheduler_params": {"multisteplr": {"milestones": [150, 200, 250], "gamma": 0.5}}},
    "model": {"losses_to_use": ["pca_singleview"], "backbone": "resnet18", "backbone_pretrained": False,
              "model_type": "heatmap", "heatmap_loss_type": "mse", "model_name": "test", "checkpoint": None},
    "dali": {"base": {"train": {"sequence_length": 16}, "predict": {"sequence_length": 64}},
             "context": {"train": {"batch_size": 6}, "predict": {"sequence_length": 64}}},
    "losses": {"pca_multiview": {"log_weight": 5.0, "components_to_keep": 3, "epsilon": None},
               "pca_singleview": {"log_weight": 5.0, "components_to_keep": 0.99, "epsilon": None},
               "temporal": {"log_weight": 5.0, "epsilon": 20.0, "prob_threshold": 0.05}},
    "eval": {"predict_vids_after_training": True, "test_videos_directory": str(MIRROR_MOUSE / "videos"),
             "save_vids_after_training": False, "colormap": "cool", "confidence_thresh_for_vid": 0.9},
    "callbacks": {"anneal_weight": {"attr_name": "total_unsupervised_importance", "init_val": 0.0,
                                    "increase_factor": 0.01, "final_val": 1.0, "freeze_until_epoch": 0}},
}

VARIANTS = {
    "as is": {},
    "an extra key of the user's own": {"data.my_notes": "session 3"},
    "a misspelt key": {"training.max_epoch": 10},
    "a string where a number belongs": {"training.train_batch_size": "16"},
    "negative temporal epsilon": {"losses.temporal.epsilon": -1.0},
    "probability threshold above 1": {"losses.temporal.prob_threshold": 1.5},
    "learning rate 0": {"training.optimizer_params.learning_rate": 0.0},
    "negative learning rate": {"training.optimizer_params.learning_rate": -0.001},
    "batch size 0": {"training.train_batch_size": 0},
    "max_epochs 0": {"training.max_epochs": 0, "training.min_epochs": 0,
                     "training.lr_scheduler_params.multisteplr.milestones": [0], "training.unfreezing_epoch": 0},
    "train_prob 0": {"training.train_prob": 0.0},
    "val_prob above 1": {"training.val_prob": 1.5, "training.train_prob": 0.5},
    "infinite loss weight": {"losses.pca_singleview.log_weight": float("inf")},
    "negative anneal final value": {"callbacks.anneal_weight.final_val": -1.0},
    "negative PCA column": {"data.columns_for_singleview_pca": [0, 1, -2]},
    "negative milestone": {"training.lr_scheduler_params.multisteplr.milestones": [-5, 150]},
    "negative seed": {"training.rng_seed_model_pt": -1},
    "negative DALI seed": {"dali.general.seed": -1},
    "downsample factor 4": {"data.downsample_factor": 4},
    "heatmap_mhcrnn with downsample 3": {"model.model_type": "heatmap_mhcrnn", "data.downsample_factor": 3},
    "unknown loss": {"model.losses_to_use": ["temporall"]},
    "unknown augmentation preset": {"training.imgaug": "dlc2"},
    "unknown backbone": {"model.backbone": "resnet19"},
    "resize not a multiple of 128": {"data.image_resize_dims.height": 200},
    "train + val above 1": {"training.train_prob": 0.95, "training.val_prob": 0.1},
    "milestone beyond max_epochs": {"training.lr_scheduler_params.multisteplr.milestones": [400]},
    "ckpt not a multiple of validation": {"training.ckpt_every_n_epochs": 15},
    "temporal loss without video_dir": {"model.losses_to_use": ["temporal"], "data.video_dir": None},
    "anneal attr_name other than the default": {"callbacks.anneal_weight.attr_name": "my_weight"},
    "components_to_keep 1.5": {"losses.pca_singleview.components_to_keep": 1.5},
}

LP_SCRIPT = textwrap.dedent("""
    import copy, json, sys
    from omegaconf import OmegaConf
    from lightning_pose.api.model_config import ModelConfig
    from lightning_pose.data.datamodules import BaseDataModule
    from lightning_pose.data.factory import get_dataset, get_imgaug_transform
    from lightning_pose.losses.factory import get_loss_factories
    from lightning_pose.models.factory import get_model

    def build(cfg):
        # what litpose train does before fitting; the supervised data module stands in for DALI's
        # (GPU only), which only adds unlabeled video loading
        ModelConfig(cfg).validate()
        dataset = get_dataset(cfg, cfg.data.data_dir, get_imgaug_transform(cfg, cfg.data.data_dir))
        module = BaseDataModule(dataset, train_batch_size=cfg.training.train_batch_size,
                                val_batch_size=cfg.training.val_batch_size, train_probability=cfg.training.train_prob,
                                val_probability=cfg.training.val_prob, train_frames=cfg.training.train_frames,
                                torch_seed=cfg.training.rng_seed_data_pt)
        module.setup("fit")
        factories = get_loss_factories(cfg, module)  # builds the unsupervised losses too
        # LP builds semi-supervised models only on CUDA: the model is built as the supervised one
        supervised = copy.deepcopy(cfg)
        supervised.model.losses_to_use = []
        get_model(supervised, module, {"supervised": factories["supervised"], "unsupervised": None})

    out = {}
    for name, config in json.load(sys.stdin).items():
        try:
            build(OmegaConf.create(config))
            out[name] = "accepted"
        except Exception as err:
            out[name] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:300]
    print(json.dumps(out))
""")


def _variant(changes: dict) -> dict:
    config = copy.deepcopy(BASE)
    for key, value in changes.items():
        *groups, leaf = key.split(".")
        target = config
        for group in groups:
            target = target.setdefault(group, {})
        target[leaf] = value
    return config


def _ours(config: dict) -> str:
    try:
        validate_config(load_config(config))
        return "accepted"
    except (ConfigError, ValueError) as err:
        return f"{type(err).__name__}: {err}"[:300]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lp-python", required=True, help="python of a venv with lightning-pose 2.4.3")
    args = parser.parse_args(argv)
    configs = {name: _variant(changes) for name, changes in VARIANTS.items()}
    lp = subprocess.run([args.lp_python, "-c", LP_SCRIPT], input=json.dumps(configs).replace("Infinity", "1e999"),
                        capture_output=True, text=True, cwd="/", timeout=600)
    if lp.returncode != 0:
        raise SystemExit(f"the Lightning Pose check failed: {lp.stderr[-3000:]}")
    verdicts = json.loads(lp.stdout.strip().splitlines()[-1])
    rows = [{"variant": name, "changes": VARIANTS[name], "lightning_pose": verdicts[name], "lp_sweeps": _ours(config)}
            for name, config in configs.items()]
    print(json.dumps(rows, indent=2, default=str))


if __name__ == "__main__":
    main()
