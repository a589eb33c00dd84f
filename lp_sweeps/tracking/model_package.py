"""A trained tracker as an MLflow model, without MLflow: what the package holds and how it comes
back (the MLflow side is :class:`lp_sweeps.tracking.mlflow_client.TrackerPyfunc`).

The package is the trial's resolved ``config.yaml`` and its Lightning checkpoint. Loading builds
the tracker class the config names (:func:`lightning_pose.models.get_model`) and loads the
checkpoint strictly: a missing, unexpected or mis-shaped weight is an error.
"""

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch
from jaxtyping import UInt8

from lightning_pose.config import load_config
from lightning_pose.data.datatypes import UnlabeledBatchDict
from lightning_pose.data.factory import is_context_model
from lightning_pose.data.video.augment import imagenet_normalize_01
from lightning_pose.data.video.cache import resize_frames
from lightning_pose.models.factory import get_model, load_checkpoint
from lightning_pose.utils.predictions import predictions_to_dataframe

__all__ = ["CHECKPOINT_ARTIFACT", "CONFIG_ARTIFACT", "LoadedTracker", "load_tracker", "predict_frames"]

CHECKPOINT_ARTIFACT = "checkpoint"  # names of the package's files (MLflow pyfunc artifacts)
CONFIG_ARTIFACT = "config"


class LoadedTracker:
    """A tracker loaded from a package: the model (eval mode) and its config."""

    def __init__(self, artifacts: Mapping[str, str | os.PathLike]) -> None:
        self.cfg = load_config(str(artifacts[CONFIG_ARTIFACT]))
        self.model = get_model(self.cfg, data_module=None, loss_factories=None)
        self.load_report = load_checkpoint(self.model, str(artifacts[CHECKPOINT_ARTIFACT]), strict=True)
        self.model.eval()


def load_tracker(config_file: str | os.PathLike, checkpoint_file: str | os.PathLike) -> LoadedTracker:
    return LoadedTracker({CONFIG_ARTIFACT: config_file, CHECKPOINT_ARTIFACT: checkpoint_file})


@torch.no_grad()
def predict_frames(tracker: LoadedTracker, frames: UInt8[np.ndarray, "frames height width 3"]) -> pd.DataFrame:
    """Keypoints (x, y, likelihood per keypoint, in the frames' pixels) of RGB frames of one view
    (non-context models; a context model needs consecutive frames: ``litpose predict``)."""
    if is_context_model(tracker.cfg.model):
        raise ValueError(f"{tracker.cfg.model.model_type} models need consecutive video frames; "
                         "predict videos with `litpose predict` instead")
    dims = tracker.cfg.data.image_resize_dims
    images = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    resized = resize_frames(images, int(dims.height), int(dims.width))
    height, width = frames.shape[1:3]
    batch = UnlabeledBatchDict(
        frames=imagenet_normalize_01(resized).to(tracker.model.device),
        transforms=torch.tensor([-1.0]),
        bbox=torch.tensor([0.0, 0.0, height, width]).repeat(len(frames), 1),
        is_multiview=False,
    )
    keypoints, confidences = tracker.model.predict_step(batch, 0)[:2]
    names = list(tracker.cfg.data.keypoint_names or [f"kp{i}" for i in range(confidences.shape[1])])
    return predictions_to_dataframe(keypoints.cpu(), confidences.cpu(), names, tracker.cfg.model.model_type)
