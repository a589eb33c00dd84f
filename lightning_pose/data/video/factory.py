"""Config readers: build the unlabeled training dataset and the prediction loader from a config.

Keys read: ``data.image_resize_dims``, ``data.view_names``, ``training.imgaug``,
``training.num_gpus``, ``dali.general.seed``, ``dali.base.{train,predict}.sequence_length``,
``dali.context.train.batch_size`` and ``dali.context.predict.sequence_length``.
"""

import math
import os
from collections.abc import Sequence

from omegaconf import DictConfig

from lightning_pose.data.video.paths import check_multiview_video_paths, check_video_paths
from lightning_pose.data.video.predict import PredictionVideoLoader
from lightning_pose.data.video.unlabeled import UnlabeledVideoDataset

__all__ = ["build_prediction_loader", "build_unlabeled_dataset", "train_sequence_length"]

VideoSource = str | os.PathLike | Sequence[str | os.PathLike]


def train_sequence_length(cfg: DictConfig, context: bool) -> int:
    """Frames per unlabeled training sequence on one device.

    Base models: ``ceil(dali.base.train.sequence_length / num_gpus)``; context models:
    ``ceil(max(dali.context.train.batch_size - 4, 0) / num_gpus + 4)`` (the batch size must be at
    least 5: 4 frames are context only).
    """
    num_gpus = max(int(cfg.training.num_gpus), 1)
    if not context:
        return math.ceil(int(cfg.dali.base.train.sequence_length) / num_gpus)
    batch_size = int(cfg.dali.context.train.batch_size)
    if batch_size < 5:
        raise ValueError(
            f"dali.context.train.batch_size must be at least 5 for context models, got {batch_size}"
        )
    return math.ceil(max(batch_size - 4, 0) / num_gpus + 4)


def _view_names(cfg: DictConfig) -> list[str] | None:
    names = cfg.data.view_names
    return None if names is None or len(names) < 2 else [str(v) for v in names]


def build_unlabeled_dataset(
    cfg: DictConfig,
    videos: VideoSource,
    context: bool,
    cache_dir: str | os.PathLike | None = None,
) -> UnlabeledVideoDataset:
    """The unlabeled training dataset of a semi-supervised model (videos checked here)."""
    view_names = _view_names(cfg)
    resolved = (
        check_multiview_video_paths(videos, view_names)
        if view_names is not None
        else check_video_paths(videos)
    )
    dims = cfg.data.image_resize_dims
    return UnlabeledVideoDataset(
        resolved,
        resize_height=int(dims.height),
        resize_width=int(dims.width),
        sequence_length=train_sequence_length(cfg, context),
        context=context,
        imgaug=cfg.training.imgaug,
        seed=int(cfg.dali.general.seed) + int(os.environ.get("LOCAL_RANK", "0")),
        cache_dir=cache_dir,
        view_names=view_names,
    )


def build_prediction_loader(
    cfg: DictConfig, videos: VideoSource, context: bool, reader: str = "opencv", max_frames: int | None = None
) -> PredictionVideoLoader:
    """Prediction batches for one video (or one video per view, in ``data.view_names`` order);
    ``max_frames`` limits them to the video's first frames."""
    section = cfg.dali.context.predict if context else cfg.dali.base.predict
    dims = cfg.data.image_resize_dims
    return PredictionVideoLoader(
        videos,
        resize_height=int(dims.height),
        resize_width=int(dims.width),
        sequence_length=int(section.sequence_length),
        context=context,
        reader=reader,
        max_frames=max_frames,
    )
