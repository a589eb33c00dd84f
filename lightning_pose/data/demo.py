"""A small synthetic Lightning Pose project with known ground truth, generated in seconds.

    from lightning_pose.data.demo import generate_demo_data
    config_path = generate_demo_data("demo_project")             # single view
    config_path = generate_demo_data("demo_mv", two_views=True)  # views "top" and "bottom"

Single-view layout (``out_dir``)::

    config.yaml
    CollectedData.csv                       3 header rows, x/y per keypoint, a few empty cells
    labeled-data/session0/img0042.png       labeled frames and their +-2 context frames
    videos/session0.mp4                     mp4v, one per session
    videos/session0_ground_truth.csv        every frame's true keypoints (same 3-row header)

With ``two_views=True`` every session is seen by a ``top`` and a ``bottom`` camera:
``CollectedData_top.csv`` / ``CollectedData_bottom.csv`` (same frames, same file names),
``labeled-data/session0_top/...``, ``videos/session0_top.mp4`` + ``session0_bottom.mp4`` (and
their ground truth) and ``config_multiview.yaml``; ``config.yaml`` is then a single-view config
of the top view (its videos are repeated in ``videos_top/``, since the multiview ``videos/``
folder holds both views). The scene itself is described in :mod:`lightning_pose.data.demo_scene`.
"""

import argparse
import copy
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import yaml
from jaxtyping import Float

from lightning_pose.data.demo_scene import (
    KEYPOINT_NAMES,
    VIEW_NAMES,
    figure_scale,
    make_background,
    project,
    render_frame,
    simulate_pose_3d,
)

__all__ = ["DEFAULT_IMAGE_SIZE", "demo_config", "demo_project_config", "generate_demo_data", "keypoint_table", "main"]

SCORER = "demo"
RESIZE = 128
MIN_SIZE = 32
DEFAULT_IMAGE_SIZE = (160, 192)  # (height, width) of the frames generate_demo_data renders


def keypoint_table(
    keypoints: Float[np.ndarray, "rows keypoints 2"],
    index: Sequence | pd.Index,
    keypoint_names: Sequence[str] = KEYPOINT_NAMES,
) -> pd.DataFrame:
    """``(N, K, 2)`` keypoints -> DataFrame with the 3-level (scorer, bodyparts, coords) header."""
    columns = pd.MultiIndex.from_tuples(
        [(SCORER, name, coord) for name in keypoint_names for coord in ("x", "y")],
        names=["scorer", "bodyparts", "coords"],
    )
    return pd.DataFrame(keypoints.reshape(len(keypoints), -1), index=list(index), columns=columns)


def _write_video(path: Path, frames: Sequence[np.ndarray], fps: float) -> None:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cv2.VideoWriter cannot write {str(path)!r} (codec mp4v)")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()


def _labeled_indices(
    num_labeled: int, num_sessions: int, num_frames: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Sorted labeled frame indices per session, away from the ends so +-2 context frames exist."""
    candidates = num_frames - 4
    base, extra = divmod(num_labeled, num_sessions)
    per_session = [base + (i < extra) for i in range(num_sessions)]
    if candidates <= 0 or max(per_session) > candidates:
        raise ValueError(
            f"cannot label {num_labeled} frames in {num_sessions} videos of {num_frames} frames"
        )
    return [np.sort(rng.choice(candidates, size=n, replace=False) + 2) for n in per_session]


def _render_session(
    points3d: Float[np.ndarray, "frames points 3"],
    view: str,
    size: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[list[np.ndarray], Float[np.ndarray, "frames keypoints 2"]]:
    """(BGR frames, projected keypoints (T, K, 2)) of one session in one view."""
    height, width = size
    background = make_background(height, width, rng, view)
    points2d = project(points3d, view, height)
    scale = figure_scale(height, width)
    frames = [render_frame(background, p, scale, rng) for p in points2d]
    return frames, points2d[:, : len(KEYPOINT_NAMES)]


def _hide_some(keypoints: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Copy of labeled keypoints with about ``fraction`` of them set to NaN (at least one)."""
    out = keypoints.copy()
    mask = rng.random(out.shape[:2]) < fraction
    if not mask.any():
        mask[0, KEYPOINT_NAMES.index("tail_tip")] = True
    out[mask] = np.nan
    return out


# fixed parts of the demo config: small and fast (resnet18 from scratch, 10 epochs)
_TRAINING = {
    "imgaug": "dlc",
    "imgaug_hflip": False,
    "train_batch_size": 8,
    "val_batch_size": 8,
    "test_batch_size": 8,
    "train_prob": 0.8,
    "val_prob": 0.1,
    "train_frames": 1,
    "unfreezing_epoch": 2,
    "min_epochs": 10,
    "max_epochs": 10,
    "log_every_n_steps": 5,
    "check_val_every_n_epoch": 2,
    "rng_seed_data_pt": 0,
    "rng_seed_model_pt": 0,
    "optimizer": "Adam",
    "optimizer_params": {"learning_rate": 1e-3},
    "lr_scheduler": "multisteplr",
    "lr_scheduler_params": {"multisteplr": {"milestones": [6, 8], "gamma": 0.5}},
}
_MODEL = {
    "losses_to_use": [],
    "backbone": "resnet18",
    "backbone_pretrained": False,
    "model_type": "heatmap",
    "heatmap_loss_type": "mse",
    "model_name": "demo",
}
_DALI = {
    "general": {"seed": 123456},
    "base": {"train": {"sequence_length": 8}, "predict": {"sequence_length": 32}},
    "context": {"train": {"batch_size": 8}, "predict": {"sequence_length": 32}},
}


def demo_config(
    data_dir: Path,
    video_dir: Path,
    image_size: tuple[int, int],
    csv_file: str | list[str] = "CollectedData.csv",
    view_names: Sequence[str] | None = None,
) -> dict:
    """A Lightning Pose config (plain dict) for the demo project: small, fast, CPU-friendly."""
    num_kp = len(KEYPOINT_NAMES)
    height, width = image_size
    data = {
        "image_orig_dims": {"height": height, "width": width},
        "image_resize_dims": {"height": RESIZE, "width": RESIZE},
        "data_dir": str(data_dir),
        "video_dir": str(video_dir),
        "csv_file": csv_file,
        "downsample_factor": 2,
        "num_keypoints": num_kp,
        "keypoint_names": list(KEYPOINT_NAMES),
        "mirrored_column_matches": list(range(num_kp)) if view_names else None,
        "columns_for_singleview_pca": list(range(num_kp)),
        "view_names": list(view_names) if view_names else None,
    }
    temporal_epsilon = round(0.06 * min(height, width), 1)  # pixels per frame, scaled to the image
    losses = {
        "pca_singleview": {"log_weight": 5.0, "components_to_keep": 0.99, "epsilon": None},
        "pca_multiview": {"log_weight": 5.0, "components_to_keep": 3, "epsilon": None},
        "temporal": {"log_weight": 5.0, "epsilon": temporal_epsilon, "prob_threshold": 0.05},
    }
    return {
        "data": data,
        "training": copy.deepcopy(_TRAINING),
        "model": copy.deepcopy(_MODEL),
        "dali": copy.deepcopy(_DALI),
        "losses": losses,
        "eval": {
            "predict_vids_after_training": True,
            "test_videos_directory": str(video_dir),
            "save_vids_after_training": False,
        },
        "callbacks": {"anneal_weight": {"freeze_until_epoch": 0}},
    }


def _write_config(path: Path, config: dict) -> Path:
    with open(path, "w") as stream:
        yaml.safe_dump(config, stream, sort_keys=False)
    return path


def _write_session(
    out: Path,
    session: str,
    view: str | None,
    points3d: np.ndarray,
    labeled: np.ndarray,
    options: dict,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Render one session in one view; write its video, ground truth and labeled images.

    Returns the labeled rows (index = image paths relative to ``out``).
    """
    name = session if view is None else f"{session}_{view}"
    frames, keypoints = _render_session(points3d, view or "top", options["image_size"], rng)
    for video_dir in options["video_dirs"][view]:
        video_dir.mkdir(parents=True, exist_ok=True)
        _write_video(video_dir / f"{name}.mp4", frames, options["fps"])
        keypoint_table(keypoints, range(len(frames))).to_csv(video_dir / f"{name}_ground_truth.csv")
    image_dir = out / "labeled-data" / name
    image_dir.mkdir(parents=True, exist_ok=True)
    digits = max(4, len(str(len(frames) - 1)))
    to_write = {int(i) for i in labeled}
    if options["context_frames"]:
        to_write |= {int(i) + d for i in labeled for d in (-2, -1, 1, 2)}
    for i in sorted(to_write):
        cv2.imwrite(str(image_dir / f"img{i:0{digits}d}.png"), frames[i])
    images = [f"labeled-data/{name}/img{int(i):0{digits}d}.png" for i in labeled]
    return keypoint_table(keypoints[labeled], images)


def generate_demo_data(
    out_dir: str | os.PathLike,
    num_frames_labeled: int = 60,
    num_videos: int = 2,
    frames_per_video: int = 200,
    two_views: bool = False,
    seed: int = 0,
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
    context_frames: bool = True,
    missing_fraction: float = 0.04,
    fps: float = 30.0,
) -> Path:
    """Write the demo project into ``out_dir``; returns its config path (``config.yaml``, or
    ``config_multiview.yaml`` with ``two_views``). ``image_size`` is ``(height, width)``."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    height, width = int(image_size[0]), int(image_size[1])
    if min(height, width) < MIN_SIZE:
        raise ValueError(
            f"image_size {height}x{width} is too small; both sides need >= {MIN_SIZE} px"
        )
    rng = np.random.default_rng(seed)
    views: list[str | None] = list(VIEW_NAMES) if two_views else [None]
    video_dirs = {None: [out / "videos"]}
    if two_views:
        video_dirs = {"top": [out / "videos", out / "videos_top"], "bottom": [out / "videos"]}
    options = {
        "image_size": (height, width),
        "video_dirs": video_dirs,
        "fps": fps,
        "context_frames": context_frames,
    }
    labeled = _labeled_indices(num_frames_labeled, num_videos, frames_per_video, rng)
    tables: dict[str | None, list[pd.DataFrame]] = {view: [] for view in views}
    for s in range(num_videos):
        points3d = simulate_pose_3d(frames_per_video, height, width, rng)
        for view in views:
            table = _write_session(out, f"session{s}", view, points3d, labeled[s], options, rng)
            tables[view].append(table)
    csv_names = {v: "CollectedData.csv" if v is None else f"CollectedData_{v}.csv" for v in views}
    for view in views:
        table = pd.concat(tables[view])
        values = table.to_numpy().reshape(len(table), -1, 2)
        hidden = keypoint_table(_hide_some(values, missing_fraction, rng), table.index)
        hidden.to_csv(out / csv_names[view], na_rep="", float_format="%.4f")
    return _write_configs(out, (height, width), csv_names, two_views)


def demo_project_config(out: Path, multiview: bool, size: tuple[int, int] = DEFAULT_IMAGE_SIZE) -> dict:
    """The config :func:`generate_demo_data` writes into ``out``: ``config.yaml`` of a single-view
    project, or (``multiview``) ``config_multiview.yaml`` of a two-view one."""
    if not multiview:
        return demo_config(out, out / "videos", size)
    csv_files = [f"CollectedData_{v}.csv" for v in VIEW_NAMES]
    return demo_config(out, out / "videos", size, csv_file=csv_files, view_names=VIEW_NAMES)


def _write_configs(out: Path, size: tuple[int, int], csv_names: dict, two_views: bool) -> Path:
    """config.yaml (and config_multiview.yaml); returns the one that uses all the data."""
    if not two_views:
        return _write_config(out / "config.yaml", demo_project_config(out, False, size))
    top_only = demo_config(out, out / "videos_top", size, csv_file=csv_names["top"])
    _write_config(out / "config.yaml", top_only)
    return _write_config(out / "config_multiview.yaml", demo_project_config(out, True, size))


def main(argv: Sequence[str] | None = None) -> int:
    """``litpose demo-data OUT_DIR [--two-views] ...``: write the demo project, print its config."""
    parser = argparse.ArgumentParser(prog="litpose demo-data", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="folder to write the project into (created if needed)")
    parser.add_argument("--two-views", action="store_true", help="write views 'top' and 'bottom'")
    parser.add_argument("--num-frames-labeled", type=int, default=60)
    parser.add_argument("--num-videos", type=int, default=2)
    parser.add_argument("--frames-per-video", type=int, default=200)
    parser.add_argument("--height", type=int, default=160)
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    config = generate_demo_data(
        args.out_dir,
        num_frames_labeled=args.num_frames_labeled,
        num_videos=args.num_videos,
        frames_per_video=args.frames_per_video,
        two_views=args.two_views,
        seed=args.seed,
        image_size=(args.height, args.width),
    )
    print(config)
    return 0
