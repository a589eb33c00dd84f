"""Build augmentation, datasets and data modules from a Lightning Pose config.

The public functions keep Lightning Pose's signatures (root config); each delegates to a small
builder that reads only the config groups it needs.
"""

import math
import os

from omegaconf import DictConfig, OmegaConf

from lightning_pose.config import check_if_semi_supervised
from lightning_pose.config.schema_training import AUTO_BATCH_FALLBACK
from lightning_pose.data.augmentations import AugmentationPipeline, build_augmentation
from lightning_pose.data.datamodules import BaseDataModule, UnlabeledDataModule
from lightning_pose.data.datasets import BaseTrackingDataset, HeatmapDataset, MultiviewHeatmapDataset
from lightning_pose.data.video.factory import build_unlabeled_dataset

__all__ = ["get_data_module", "get_dataset", "get_imgaug_transform", "is_context_model"]


def is_context_model(model_cfg: DictConfig) -> bool:
    return model_cfg.model_type == "heatmap_mhcrnn"


def _imgaug_setting(training_cfg: DictConfig):
    value = training_cfg.imgaug
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig) else value


def build_imgaug_transform(training_cfg: DictConfig, data_cfg: DictConfig) -> AugmentationPipeline:
    dims = data_cfg.image_resize_dims
    return build_augmentation(_imgaug_setting(training_cfg), int(dims.height), int(dims.width))


def get_imgaug_transform(cfg: DictConfig) -> AugmentationPipeline:
    return build_imgaug_transform(cfg.training, cfg.data)


def build_dataset(
    data_cfg: DictConfig, model_cfg: DictConfig, training_cfg: DictConfig, data_dir: str, pipeline: AugmentationPipeline
):
    dims = data_cfg.image_resize_dims
    common = {
        "root_directory": data_dir,
        "image_resize_height": int(dims.height),
        "image_resize_width": int(dims.width),
        "imgaug_transform": pipeline,
        "num_keypoints": int(data_cfg.num_keypoints),
    }
    view_names = list(data_cfg.view_names or [])
    if model_cfg.model_type == "regression":
        if len(view_names) > 1:
            raise NotImplementedError("multiview data is not supported by the regression model")
        return BaseTrackingDataset(csv_path=data_cfg.csv_file, imgaug_hflip=bool(training_cfg.imgaug_hflip), **common)
    heatmap_args = {
        "downsample_factor": int(data_cfg.downsample_factor),
        "do_context": is_context_model(model_cfg),
        "uniform_heatmaps": bool(training_cfg.uniform_heatmaps_for_nan_keypoints),
    }
    if len(view_names) > 1:
        return MultiviewHeatmapDataset(
            csv_paths=list(data_cfg.csv_file), view_names=view_names, resize=True, **heatmap_args, **common
        )
    return HeatmapDataset(
        csv_path=data_cfg.csv_file, imgaug_hflip=bool(training_cfg.imgaug_hflip), **heatmap_args, **common
    )


def get_dataset(cfg: DictConfig, data_dir: str, imgaug_transform: AugmentationPipeline):
    return build_dataset(cfg.data, cfg.model, cfg.training, data_dir, imgaug_transform)


def build_data_module(
    training_cfg: DictConfig,
    dataset,
    unlabeled_dataset=None,
) -> BaseDataModule:
    """Batch sizes are per device: ``ceil(batch / num_gpus)`` for train and val. A train batch
    size ``auto`` starts at :data:`AUTO_BATCH_FALLBACK`; the training pipeline sets the probed one."""
    num_gpus = max(int(training_cfg.num_gpus), 1)
    train_batch = training_cfg.train_batch_size
    train_batch = AUTO_BATCH_FALLBACK if train_batch == "auto" else int(train_batch)
    kwargs = {
        "train_batch_size": math.ceil(train_batch / num_gpus),
        "val_batch_size": math.ceil(int(training_cfg.val_batch_size) / num_gpus),
        "test_batch_size": int(training_cfg.test_batch_size),
        "num_workers": training_cfg.num_workers,
        "train_probability": float(training_cfg.train_prob),
        "val_probability": None if training_cfg.val_prob is None else float(training_cfg.val_prob),
        "train_frames": training_cfg.train_frames,
        "torch_seed": int(training_cfg.rng_seed_data_pt),
    }
    if unlabeled_dataset is None:
        return BaseDataModule(dataset, **kwargs)
    return UnlabeledDataModule(dataset, unlabeled_dataset, **kwargs)


def get_data_module(
    cfg: DictConfig, dataset, video_dir: str | None = None, cache_dir: str | os.PathLike | None = None
) -> BaseDataModule:
    """Supervised data module, or a semi-supervised one with unlabeled videos from ``video_dir``.

    ``cache_dir`` keeps decoded, resized video frames on disk so later runs skip decoding.
    """
    if not check_if_semi_supervised(cfg.model.losses_to_use):
        return build_data_module(cfg.training, dataset)
    if video_dir is None:
        raise ValueError("model.losses_to_use needs unlabeled videos, but data.video_dir is not set")
    unlabeled = build_unlabeled_dataset(cfg, video_dir, context=is_context_model(cfg.model), cache_dir=cache_dir)
    return build_data_module(cfg.training, dataset, unlabeled)
