"""Writing a Lightning Pose project from a checked :class:`SourceProject`.

The project is assembled in a hidden folder beside ``lp_dir`` and moved into place only when
complete, so a failure never leaves a half-written project and never touches what was there.
Layout::

    config.yaml             Lightning Pose config: keypoints, image sizes, absolute data paths
    CollectedData.csv       3 header rows (scorer / bodyparts / coords), one row per labeled frame
    labeled-data/...        the images (copied byte for byte, or embedded frames saved as PNG)
    videos/                 the source videos that were found (may be empty)

``--overwrite`` replaces exactly those four entries of an existing ``lp_dir``; anything else in it
is kept.
"""

import math
import shutil
import uuid
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import yaml
from omegaconf import OmegaConf

from lightning_pose.config import default_config, load_config, validate_config
from lightning_pose.data.convert.base import ConversionError, EncodedFrame, SourceProject
from lightning_pose.data.video.paths import VIDEO_EXTENSIONS
from lightning_pose.data.video.probe import probe_video
from lightning_pose.utils.io import fix_empty_first_row

__all__ = [
    "CSV_FILE",
    "OUTPUTS",
    "check_destination",
    "label_table",
    "project_config",
    "resize_dims",
    "write_project",
]

CSV_FILE = "CollectedData.csv"
OUTPUTS = ("config.yaml", CSV_FILE, "labeled-data", "videos")
MAX_RESIZE_SIDE = 384  # longest side of the model input; LP needs multiples of 128
MAX_LISTED = 5


def resize_dims(height: int, width: int, max_side: int = MAX_RESIZE_SIDE) -> tuple[int, int]:
    """Model input ``(height, width)``: the frame scaled down so its longer side is at most
    ``max_side``, each side rounded to the nearest multiple of 128 (at least 128)."""
    scale = min(1.0, max_side / max(height, width))
    return tuple(max(128, 128 * math.floor(side * scale / 128 + 0.5)) for side in (height, width))


def label_table(project: SourceProject) -> pd.DataFrame:
    """DeepLabCut-style label table: 3-level columns, index = project-relative image paths."""
    columns = pd.MultiIndex.from_tuples(
        [(project.scorer, name, coord) for name in project.keypoint_names for coord in ("x", "y")],
        names=["scorer", "bodyparts", "coords"],
    )
    values = project.keypoints.reshape(len(project.image_names), -1)
    return pd.DataFrame(values, index=pd.Index(project.image_names, dtype=object), columns=columns)


def _write_labels(project: SourceProject, path: Path) -> None:
    """Write the CSV and read it back: every value must come back bit for bit."""
    label_table(project).to_csv(path, na_rep="")
    read = pd.read_csv(path, header=[0, 1, 2], index_col=0, float_precision="round_trip")
    back = fix_empty_first_row(read)
    expected = project.keypoints.reshape(len(project.image_names), -1)
    same = [str(i) for i in back.index] == project.image_names and np.array_equal(
        back.to_numpy(dtype=np.float64), expected, equal_nan=True
    )
    if not same:
        raise RuntimeError(f"{str(path)!r} does not read back as the labels written (a bug; please report it)")


def project_config(project: SourceProject, lp_dir: Path, predict_videos: bool) -> dict:
    """The Lightning Pose defaults with the data section of this project (plain dict)."""
    config = OmegaConf.to_container(default_config(), resolve=False)
    height, width = project.frame_size
    resize_height, resize_width = resize_dims(height, width)
    config["data"].update(
        image_orig_dims={"height": height, "width": width},
        image_resize_dims={"height": resize_height, "width": resize_width},
        data_dir=str(lp_dir),
        video_dir=str(lp_dir / "videos"),
        csv_file=CSV_FILE,
        num_keypoints=len(project.keypoint_names),
        keypoint_names=list(project.keypoint_names),
    )
    config["eval"]["predict_vids_after_training"] = predict_videos
    validate_config(load_config(config))
    return config


def _save_frame(frame: EncodedFrame, path: Path) -> None:
    pixels = np.asarray(frame.read())
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    elif pixels.ndim == 3 and pixels.shape[2] == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    if pixels.ndim not in (2, 3) or pixels.dtype not in (np.uint8, np.uint16):
        raise ConversionError(f"frame for {frame.dest!r} has shape {pixels.shape} and dtype {pixels.dtype}")
    if not cv2.imwrite(str(path), pixels):
        raise OSError(f"cannot write {str(path)!r}")


def _write_media(project: SourceProject, staging: Path) -> None:
    for folder in ("labeled-data", "videos"):
        (staging / folder).mkdir()
    for source, dest in project.copies:
        (staging / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, staging / dest)
    for frame in project.frames:
        (staging / frame.dest).parent.mkdir(parents=True, exist_ok=True)
        _save_frame(frame, staging / frame.dest)


def _usable_videos(video_dir: Path) -> tuple[bool, list[str]]:
    """(every .mp4/.avi decodes and there is at least one, notes on those that do not)."""
    videos = sorted(p for p in video_dir.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    notes = []
    for path in videos:
        try:
            probe_video(path)
        except ValueError as err:
            notes.append(f"video {path.name!r} cannot be decoded ({err}); videos are not predicted after training")
    return bool(videos) and not notes, notes


def check_destination(source: Path, lp_dir: Path, overwrite: bool) -> None:
    """Refuse a destination that is, or is inside, the source; a non-empty one without
    ``overwrite``; and with ``overwrite``, one whose replaced entries hold the source."""
    if lp_dir.exists() and not lp_dir.is_dir():
        raise ConversionError(f"--lp_dir {str(lp_dir)!r} exists and is not a folder")
    if lp_dir == source or source in lp_dir.parents:
        raise ConversionError(
            f"--lp_dir {str(lp_dir)!r} is inside the source {str(source)!r}; choose a folder outside it"
        )
    if not lp_dir.is_dir():
        return
    entries = sorted(p.name for p in lp_dir.iterdir())
    if entries and not overwrite:
        raise ConversionError(
            f"--lp_dir {str(lp_dir)!r} is not empty (holds {entries[:MAX_LISTED]}); choose a new or "
            f"empty folder, or pass --overwrite to replace its config.yaml, {CSV_FILE}, labeled-data/ and "
            "videos/ (other files are kept)"
        )
    for name in OUTPUTS:
        if source == lp_dir / name or lp_dir / name in source.parents:
            raise ConversionError(f"--overwrite would replace {str(lp_dir / name)!r}, which holds the source")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _install(staging: Path, lp_dir: Path, overwrite: bool) -> None:
    if not lp_dir.exists():
        staging.rename(lp_dir)
        return
    for name in OUTPUTS:
        if overwrite:
            _remove(lp_dir / name)
        elif (lp_dir / name).exists() or (lp_dir / name).is_symlink():
            raise ConversionError(f"{str(lp_dir / name)!r} appeared during the conversion; nothing was replaced")
    for name in OUTPUTS:
        (staging / name).rename(lp_dir / name)


def write_project(project: SourceProject, lp_dir: Path, overwrite: bool = False) -> tuple[Path, list[str]]:
    """Write the project into ``lp_dir`` (absolute); returns (config path, notes)."""
    lp_dir.parent.mkdir(parents=True, exist_ok=True)
    # created with mkdir (not mkdtemp, whose mode 0700 the project would keep after the rename)
    staging = lp_dir.parent / f".{lp_dir.name}.converting-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        _write_media(project, staging)
        _write_labels(project, staging / CSV_FILE)
        predict_videos, notes = _usable_videos(staging / "videos")
        config = project_config(project, lp_dir, predict_videos)
        with open(staging / "config.yaml", "w") as stream:
            yaml.safe_dump(config, stream, sort_keys=False)
        _install(staging, lp_dir, overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return lp_dir / "config.yaml", notes
