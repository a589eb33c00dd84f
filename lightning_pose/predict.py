"""Prediction on labeled frames and videos, with metric files written next to the predictions."""

import logging
import os
from pathlib import Path

from collections.abc import Sequence

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from lightning_pose.config import load_config
from lightning_pose.data.datamodules import BaseDataModule
from lightning_pose.data.factory import build_data_module, get_dataset, get_imgaug_transform, is_context_model
from lightning_pose.data.video.factory import build_prediction_loader
from lightning_pose.data.video.paths import check_multiview_video_paths, check_video_paths
from lightning_pose.metrics import compute_metrics_single
from lightning_pose.models.factory import get_model, load_checkpoint
from lightning_pose.utils.pca import KeypointPCA
from lightning_pose.utils.predictions import (
    add_split_column,
    align_context_predictions,
    predictions_to_dataframe,
    split_views,
    stack_predictions,
    write_predictions_csv,
)

__all__ = [
    "best_checkpoint",
    "build_metric_pcas",
    "load_trained_model",
    "predict_inputs",
    "predict_labeled",
    "predict_video",
    "view_keypoint_names",
]

logger = logging.getLogger(__name__)


def view_keypoint_names(data_cfg: DictConfig, data_module: BaseDataModule) -> list[str]:
    """Keypoint names of one view: from the config, else from the (first view's) label file."""
    if data_cfg.keypoint_names:
        return [str(n) for n in data_cfg.keypoint_names]
    names = data_module.dataset.keypoint_names
    return list(next(iter(names.values())) if isinstance(names, dict) else names)


def build_metric_pcas(data_cfg: DictConfig, losses_cfg: DictConfig, data_module: BaseDataModule) -> dict:
    """PCA objects for the reprojection-error metrics (single view only, as Lightning Pose)."""
    pcas: dict = {}
    if data_module.is_multiview:
        return pcas
    if data_cfg.columns_for_singleview_pca:
        try:
            pcas["pca_singleview"] = KeypointPCA(
                "pca_singleview",
                data_module,
                components_to_keep=losses_cfg.pca_singleview.components_to_keep,
                empirical_epsilon_percentile=1.0,
                columns_for_singleview_pca=list(data_cfg.columns_for_singleview_pca),
                centering_method=losses_cfg.pca_singleview.centering_method,
            ).fit()
        except ValueError as err:  # too few complete training frames for this PCA
            logger.warning(f"skipping the single-view PCA metric: {err}")
    if data_cfg.mirrored_column_matches:
        try:
            pcas["pca_multiview"] = KeypointPCA(
                "pca_multiview",
                data_module,
                components_to_keep=3,
                empirical_epsilon_percentile=1.0,
                mirrored_column_matches=[list(m) for m in data_cfg.mirrored_column_matches],
            ).fit()
        except ValueError as err:
            logger.warning(f"skipping the multiview PCA metric: {err}")
    return pcas


@torch.no_grad()
def _run(model: torch.nn.Module, batches) -> tuple[np.ndarray, np.ndarray]:
    model.eval()
    outputs = []
    for batch in batches:
        batch = {k: v.to(model.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        keypoints, confidences = model.predict_step(batch, 0)[:2]
        outputs.append((keypoints.cpu(), confidences.cpu()))
    return stack_predictions(outputs)


def predict_labeled(
    model: torch.nn.Module,
    data_module: BaseDataModule,
    keypoint_names: list[str],
    model_type: str,
    output_dir: str | os.PathLike,
    labels_files: list[str],
    view_names: list[str] | None = None,
    pcas: dict | None = None,
) -> list[Path]:
    """Predict every labeled frame; write ``predictions[_<view>].csv`` with a ``set`` column and
    the per-keypoint pixel-error (and PCA) metric files. Returns the predictions files."""
    keypoints, confidences = _run(model, data_module.full_labeled_dataloader())
    views = view_names or [None]
    written = []
    for (kp, conf), view, labels in zip(
        zip(split_views(keypoints, len(views)), split_views(confidences, len(views))), views, labels_files
    ):
        index = data_module.dataset.image_names if view is None else data_module.dataset.dataset[view].image_names
        df = predictions_to_dataframe(kp, conf, keypoint_names, model_type, index=list(index))
        df = add_split_column(df, data_module.train_indices, data_module.val_indices, data_module.test_indices)
        path = write_predictions_csv(df, Path(output_dir) / (f"predictions_{view}.csv" if view else "predictions.csv"))
        compute_metrics_single(labels, path, keypoint_names, **(pcas or {}) if view is None else {})
        written.append(path)
    return written


def predict_video(
    model: torch.nn.Module,
    cfg: DictConfig,
    video: str | os.PathLike | list[str],
    output_file: str | os.PathLike,
    keypoint_names: list[str],
    pcas: dict | None = None,
    max_frames: int | None = None,
) -> list[Path]:
    """Predict every frame of a video (multiview: a list with one video per view, in
    ``data.view_names`` order), or its first ``max_frames``. Writes ``output_file`` (multiview:
    ``<stem>_<view>.csv`` per view) and the temporal-norm (and PCA) metric files beside it;
    returns the predictions files."""
    context = is_context_model(cfg.model)
    videos = [str(v) for v in video] if isinstance(video, (list, tuple)) else [str(video)]
    loader = build_prediction_loader(cfg, videos if len(videos) > 1 else videos[0], context=context, max_frames=max_frames)
    keypoints, confidences = _run(model, loader)
    num_frames = loader.num_frames
    keypoints, confidences = align_context_predictions(keypoints, confidences, num_frames, context=context)
    output_file = Path(output_file)
    views = list(cfg.data.view_names) if len(videos) > 1 else [None]
    written = []
    for kp, conf, view in zip(split_views(keypoints, len(views)), split_views(confidences, len(views)), views):
        df = predictions_to_dataframe(kp, conf, keypoint_names, cfg.model.model_type)
        target = output_file if view is None else output_file.with_name(f"{output_file.stem}_{view}.csv")
        path = write_predictions_csv(df, target)
        compute_metrics_single(None, path, keypoint_names, **(pcas or {}) if view is None else {})
        written.append(path)
    return written


def best_checkpoint(model_dir: str | os.PathLike) -> Path:
    """The ``*-best.ckpt`` of the newest ``tb_logs/<name>/version_*`` run in a model directory."""
    found = sorted(Path(model_dir).glob("tb_logs/*/version_*/checkpoints/*.ckpt"), key=os.path.getmtime)
    if not found:
        raise FileNotFoundError(f"no checkpoint under {Path(model_dir) / 'tb_logs'}; was the model trained there?")
    best = [p for p in found if p.name.endswith("-best.ckpt")]
    return (best or found)[-1]


def load_trained_model(model_dir: str | os.PathLike, overrides: Sequence[str] = ()) -> tuple[DictConfig, torch.nn.Module]:
    """The config saved in a model directory (plus overrides) and its best checkpoint, loaded strictly."""
    model_dir = Path(model_dir)
    config_file = model_dir / "config.yaml"
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file} not found: not a model directory written by `litpose train`")
    cfg = load_config(config_file, overrides=list(overrides))
    model = get_model(cfg, data_module=None, loss_factories=None)
    load_checkpoint(model, str(best_checkpoint(model_dir)))
    return cfg, model.eval()


def _training_data_module(cfg: DictConfig) -> BaseDataModule | None:
    """The un-augmented training data (for PCA metrics); None when the labeled data is gone."""
    if cfg.data.data_dir is None or not Path(cfg.data.data_dir).is_dir():
        return None
    plain = OmegaConf.merge(cfg, {"training": {"imgaug": "default", "imgaug_hflip": False, "num_workers": 0}})
    return build_data_module(plain.training, get_dataset(plain, str(cfg.data.data_dir), get_imgaug_transform(plain)))


def _expand_inputs(cfg: DictConfig, inputs: Sequence[str]) -> list:
    """Videos (multiview: per-session lists in view order) and label CSVs named on the command line."""
    expanded: list = []
    views = list(cfg.data.view_names or [])
    for item in inputs:
        path = Path(item)
        if path.suffix == ".csv":
            expanded.append(path)
        elif len(views) > 1 and path.is_dir():
            sessions = check_multiview_video_paths(path, views)
            expanded.extend([list(files) for files in zip(*[sessions[v] for v in views])])
        else:
            expanded.extend(check_video_paths(path))
    return expanded


def predict_inputs(model_dir: str | os.PathLike, inputs: Sequence[str], overrides: Sequence[str] = ()) -> list[Path]:
    """``litpose predict``: videos -> ``video_preds/<stem>.csv``; label CSVs ->
    ``image_preds/<csv name>/predictions.csv``; metric files beside each. All inputs are checked first."""
    cfg, model = load_trained_model(model_dir, overrides)
    items = _expand_inputs(cfg, inputs)
    data_module = _training_data_module(cfg)
    pcas = build_metric_pcas(cfg.data, cfg.losses, data_module) if data_module is not None else {}
    names = view_keypoint_names(cfg.data, data_module) if data_module is not None else list(cfg.data.keypoint_names)
    written: list[Path] = []
    for item in items:
        if isinstance(item, Path) and item.suffix == ".csv":
            labeled = OmegaConf.merge(cfg, {"data": {"csv_file": str(item.resolve())}, "training": {"imgaug": "default"}})
            module = build_data_module(labeled.training, get_dataset(labeled, str(cfg.data.data_dir), get_imgaug_transform(labeled)))
            out_dir = Path(model_dir) / "image_preds" / item.name
            out_dir.mkdir(parents=True, exist_ok=True)
            written += predict_labeled(model, module, names, cfg.model.model_type, out_dir, [str(item)], None, pcas)
            continue
        stem = Path(item[0] if isinstance(item, list) else item).stem
        written += predict_video(model, cfg, item, Path(model_dir) / "video_preds" / f"{stem}.csv", names, pcas)
    return written
