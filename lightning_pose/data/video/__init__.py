"""Video input: pluggable frame readers, file checks, decode cache, unlabeled training sequences
and prediction batches.

Readers are registered in :data:`VIDEO_READERS` (``"opencv"`` ships here); a GPU decoder is added
by registering another :class:`VideoReader` subclass, without touching the dataset or loader code.
"""

from lightning_pose.data.video.augment import (
    UNLABELED_AUGMENTATION_PRESETS,
    affine_matrix,
    augment_sequence,
    uses_unlabeled_augmentation,
    warp_frames,
)
from lightning_pose.data.video.base import VIDEO_READERS, VideoReader, build_video_reader
from lightning_pose.data.video.cache import DEFAULT_DECODE_CACHE, DecodeCache, decode_resized
from lightning_pose.data.video.factory import (
    build_prediction_loader,
    build_unlabeled_dataset,
    train_sequence_length,
)
from lightning_pose.data.video.opencv import OpenCVVideoReader
from lightning_pose.data.video.paths import (
    VIDEO_EXTENSIONS,
    check_multiview_video_paths,
    check_video_paths,
)
from lightning_pose.data.video.predict import (
    PredictionVideoLoader,
    PredictionWindow,
    prediction_num_iters,
    prediction_windows,
)
from lightning_pose.data.video.probe import (
    VideoFileNotFoundError,
    VideoInfo,
    count_frames,
    probe_video,
    video_size,
)
from lightning_pose.data.video.unlabeled import (
    UnlabeledVideoDataset,
    UnlabeledWindowSampler,
    train_num_iters,
)

__all__ = [
    "DEFAULT_DECODE_CACHE",
    "DecodeCache",
    "OpenCVVideoReader",
    "PredictionVideoLoader",
    "PredictionWindow",
    "UNLABELED_AUGMENTATION_PRESETS",
    "UnlabeledVideoDataset",
    "UnlabeledWindowSampler",
    "VIDEO_EXTENSIONS",
    "VIDEO_READERS",
    "VideoFileNotFoundError",
    "VideoInfo",
    "VideoReader",
    "affine_matrix",
    "augment_sequence",
    "build_prediction_loader",
    "build_unlabeled_dataset",
    "build_video_reader",
    "check_multiview_video_paths",
    "check_video_paths",
    "count_frames",
    "decode_resized",
    "prediction_num_iters",
    "prediction_windows",
    "probe_video",
    "train_num_iters",
    "train_sequence_length",
    "uses_unlabeled_augmentation",
    "video_size",
    "warp_frames",
]
