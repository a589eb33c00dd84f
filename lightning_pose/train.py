"""``train(cfg)``: the full Lightning Pose training pipeline, then prediction and metrics.

Output directory layout::

    <model_dir>/config.yaml                      resolved config
    <model_dir>/<label CSV copies>
    <model_dir>/tb_logs/<model_name>/version_0/  metrics.csv, hparams.yaml, checkpoints/*-best.ckpt
    <model_dir>/predictions.csv                  labeled frames, with a train/validation/test set column
    <model_dir>/predictions_pixel_error.csv      per-keypoint pixel error (frame pixels)
    <model_dir>/video_preds/<video>.csv          (+ _temporal_norm.csv, PCA error files)
"""

import copy
import dataclasses
import logging
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import CSVLogger
from omegaconf import DictConfig, OmegaConf

from lightning_pose.batch_size import check_memory_cap, resolve_train_batch_size
from lightning_pose.callbacks import get_callbacks
from lightning_pose.config import ConfigError, check_if_semi_supervised, validate_config
from lightning_pose.data.factory import get_data_module, get_dataset, get_imgaug_transform
from lightning_pose.data.video.paths import check_multiview_video_paths, check_video_paths
from lightning_pose.losses.factory import get_loss_factories
from lightning_pose.models.factory import get_model, load_checkpoint
from lightning_pose.models.performance import apply_speed_options
from lightning_pose.predict import build_metric_pcas, predict_labeled, predict_video, view_keypoint_names

__all__ = [
    "TrainResult", "check_precision", "check_train_frames", "device_settings", "prepare_model", "resolve_paths",
    "train", "videos_to_predict",
]

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainResult:
    model_dir: Path
    best_checkpoint: str | None
    model: pl.LightningModule
    metrics: dict[str, float]
    data_module: Any = None  # the labeled data the model was trained on (splits, un-shuffled loaders)


def resolve_paths(data_cfg: DictConfig, base_dir: str | os.PathLike) -> tuple[str, str | None]:
    """Absolute ``data_dir`` and ``video_dir`` (relative ones are taken from ``base_dir``)."""
    data_dir = Path(base_dir, data_cfg.data_dir).resolve()
    if not data_dir.is_dir():
        raise ConfigError("data.data_dir", f"directory not found: {data_dir}")
    video_dir = None
    if data_cfg.video_dir is not None:
        video_dir = Path(data_dir, data_cfg.video_dir).resolve()
    return str(data_dir), None if video_dir is None else str(video_dir)


def check_train_frames(training_cfg: DictConfig, num_train: int) -> None:
    """A frame count above the training split is an error (Lightning Pose warns and uses all)."""
    frames = training_cfg.train_frames
    if frames is not None and float(frames) > 1 and int(frames) > num_train:
        raise ConfigError(
            "training.train_frames", f"asks for {int(frames)} frames but the training split has {num_train}"
        )


def _trainer_limits(training_cfg: DictConfig, num_train: int, semi: bool) -> dict:
    steps_per_epoch = math.ceil(num_train / int(training_cfg.train_batch_size))
    if semi:
        steps_per_epoch = max(steps_per_epoch, 10)
    limits = {
        "limit_train_batches": training_cfg.limit_train_batches or steps_per_epoch,
        "check_val_every_n_epoch": training_cfg.check_val_every_n_epoch,
        "val_check_interval": training_cfg.val_check_interval,
        "log_every_n_steps": int(training_cfg.log_every_n_steps),
        "accumulate_grad_batches": int(training_cfg.accumulate_grad_batches),
        "profiler": training_cfg.profiler,
    }
    if training_cfg.max_steps is not None:
        return {**limits, "min_steps": training_cfg.min_steps, "max_steps": int(training_cfg.max_steps)}
    return {**limits, "min_epochs": training_cfg.min_epochs, "max_epochs": int(training_cfg.max_epochs)}


def _write_inputs(cfg: DictConfig, model_dir: Path, data_dir: str, video_dir: str | None) -> list[str]:
    """Save the config (data paths made absolute, so the model directory is self-contained) and
    copy the label CSVs beside it."""
    saved = cfg.copy()
    saved.data.data_dir, saved.data.video_dir = data_dir, video_dir
    OmegaConf.save(saved, model_dir / "config.yaml")
    csv_files = cfg.data.csv_file if isinstance(cfg.data.csv_file, str) else list(cfg.data.csv_file)
    labels = [str(Path(data_dir, f)) for f in ([csv_files] if isinstance(csv_files, str) else csv_files)]
    for label in labels:
        shutil.copy(label, model_dir / Path(label).name)
    return labels


def device_settings(training_cfg: DictConfig) -> dict:
    """The Trainer's accelerator and devices: the GPUs when CUDA is available, else one CPU."""
    if torch.cuda.is_available():
        return {"accelerator": "gpu", "devices": max(int(training_cfg.num_gpus), 1)}
    return {"accelerator": "cpu", "devices": 1}


def check_precision(training_cfg: DictConfig, devices: Mapping[str, Any]) -> None:
    """``16-mixed`` (float16 autocast with a gradient scaler) is refused on CPU: torch's CPU
    autocast works in bfloat16 and Lightning's 16-mixed plugin there gives no speed-up, so the
    request is almost certainly a mistake. ``bf16-mixed`` runs on both."""
    if training_cfg.precision == "16-mixed" and devices.get("accelerator") not in ("gpu", "cuda"):
        raise ConfigError("training.precision", "16-mixed needs a CUDA GPU, but training runs on "
                          f"{devices.get('accelerator')!r}; use 'bf16-mixed' or '32' on CPU")


def _probe_device(devices: Mapping[str, Any]) -> torch.device:
    if devices.get("accelerator") in ("gpu", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def prepare_model(cfg: DictConfig, model: pl.LightningModule, data_module, devices: Mapping[str, Any]) -> DictConfig:
    """Batch size (``auto`` probed, memory cap checked) then the speed options; returns the
    config with ``training.train_batch_size`` as the int the run trains with."""
    device = _probe_device(devices)
    batch = resolve_train_batch_size(model, data_module, cfg.training, device)
    if batch != cfg.training.train_batch_size:
        cfg = copy.deepcopy(cfg)
        cfg.training.train_batch_size = batch
        data_module.train_batch_size = math.ceil(batch / max(int(cfg.training.num_gpus), 1))
    check_memory_cap(model, data_module, cfg.training, device)
    apply_speed_options(model, channels_last=cfg.training.channels_last, compile=cfg.training.compile)
    return cfg


def videos_to_predict(cfg: DictConfig, data_dir: str, directory: str | os.PathLike | None = None) -> list:
    """The videos to predict after training: those of ``directory`` (default
    ``eval.test_videos_directory``, else ``data.video_dir``; relative to ``data_dir``), one path
    per video, or (multiview) one list of per-view paths per session."""
    directory = directory or cfg.eval.test_videos_directory or cfg.data.video_dir
    if directory is None:
        return []
    directory = str(Path(data_dir, directory))
    if cfg.data.view_names and len(cfg.data.view_names) > 1:
        sessions = check_multiview_video_paths(directory, list(cfg.data.view_names))
        return [list(files) for files in zip(*[sessions[v] for v in cfg.data.view_names])]
    return check_video_paths(directory)


def train(
    cfg: DictConfig,
    model_dir: str | os.PathLike | None = None,
    skip_evaluation: bool = False,
    extra_callbacks: Sequence[pl.Callback] = (),
    base_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    resume_from: str | os.PathLike | None = None,
    quiet: bool = False,
    trainer_settings: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train the model ``cfg`` describes and write everything to ``model_dir`` (default: cwd).

    All inputs (config, label CSV, images, videos, train_frames) are checked before training
    starts. ``extra_callbacks`` are added to the Lightning Trainer (the sweep platform reports
    to Ray Tune this way); ``base_dir`` resolves relative data paths (default: cwd);
    ``cache_dir`` keeps decoded video frames on disk for later runs; ``resume_from`` is a Lightning
    checkpoint to continue from (weights, optimiser, epoch counter); ``quiet`` drops the model
    summary (sweep trials); ``trainer_settings`` replace the Trainer's device settings (accelerator,
    devices, strategy, plugins: a DDP run under Ray Train). The per-device batch sizes follow
    ``training.num_gpus`` (see :func:`lightning_pose.data.factory.get_data_module`).
    """
    validate_config(cfg)
    devices = device_settings(cfg.training) if trainer_settings is None else dict(trainer_settings)
    check_precision(cfg.training, devices)
    model_dir = Path(model_dir or os.getcwd()).resolve()
    model_dir.mkdir(parents=True, exist_ok=True)
    data_dir, video_dir = resolve_paths(cfg.data, base_dir or os.getcwd())
    pl.seed_everything(0, workers=True)
    semi = check_if_semi_supervised(cfg.model.losses_to_use)
    dataset = get_dataset(cfg, data_dir, get_imgaug_transform(cfg))
    data_module = get_data_module(cfg, dataset, video_dir=video_dir, cache_dir=cache_dir)
    check_train_frames(cfg.training, len(data_module.train_indices))
    model = get_model(cfg, data_module, get_loss_factories(cfg, data_module))
    cfg = prepare_model(cfg, model, data_module, devices)
    labels_files = _write_inputs(cfg, model_dir, data_dir, video_dir)
    callbacks = get_callbacks(cfg.training, cfg.callbacks, semi) + list(extra_callbacks)
    trainer = pl.Trainer(
        default_root_dir=str(model_dir),
        logger=CSVLogger(save_dir=str(model_dir / "tb_logs"), name=cfg.model.model_name),
        callbacks=callbacks,
        enable_progress_bar=False,
        enable_model_summary=not quiet,
        # as Lightning Pose on GPUs (only matters under DDP); torch's SyncBatchNorm needs CUDA
        sync_batchnorm=devices.get("accelerator") == "gpu",
        precision=devices.pop("precision", cfg.training.precision),
        **devices,
        **_trainer_limits(cfg.training, len(data_module.train_indices), semi),
    )
    trainer.fit(model, datamodule=data_module, ckpt_path=None if resume_from is None else str(resume_from))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else None
    if best:
        load_checkpoint(model, best)
    if trainer.global_rank == 0 and not skip_evaluation:
        evaluate(cfg, model, data_module, model_dir, data_dir, labels_files)
    return TrainResult(model_dir=model_dir, best_checkpoint=best or None, model=model, metrics=metrics,
                       data_module=data_module)


def evaluate(
    cfg: DictConfig, model: pl.LightningModule, data_module, model_dir: Path, data_dir: str, labels_files: list[str]
) -> None:
    """Predictions + metrics on every labeled frame, then on the test videos if asked for."""
    names = view_keypoint_names(cfg.data, data_module)
    pcas = build_metric_pcas(cfg.data, cfg.losses, data_module)
    views = list(cfg.data.view_names) if cfg.data.view_names and len(cfg.data.view_names) > 1 else None
    predict_labeled(model, data_module, names, cfg.model.model_type, model_dir, labels_files, views, pcas)
    if not cfg.eval.predict_vids_after_training:
        return
    for video in videos_to_predict(cfg, data_dir):
        stem = Path(video[0] if isinstance(video, list) else video).stem
        predict_video(model, cfg, video, model_dir / "video_preds" / f"{stem}.csv", names, pcas)
