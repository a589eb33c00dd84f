"""What ``lp-sweep init`` learns from a Lightning Pose project folder (read once, nothing written).

A project is ``DATA_DIR`` with label CSVs (DeepLabCut style: scorer / bodyparts / coords rows),
the labeled images they name and, optionally, ``videos/``. Its views come from ``config.yaml``
when there is one (``data.csv_file`` and ``data.view_names``); otherwise ``CollectedData.csv``
makes a single-view project, and several CSVs in ``DATA_DIR`` (``CollectedData_top.csv``,
``bot.csv``, ...) make one view each, named after the file.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from omegaconf import DictConfig
from PIL import Image

from lightning_pose.config import ConfigError, is_multiview, load_config
from lightning_pose.data.video.paths import VIDEO_EXTENSIONS
from lightning_pose.data.video.probe import count_frames
from lightning_pose.utils.io import LabeledData, check_image_files_exist, parse_label_csv, resolve_csv_path

__all__ = ["CONFIG_FILE", "DEFAULT_CSV", "ProjectInfo", "StarterError", "ViewInfo", "inspect_project"]

CONFIG_FILE = "config.yaml"
DEFAULT_CSV = "CollectedData.csv"
CSV_VIEW_PREFIX = "CollectedData_"


class StarterError(ValueError):
    """Bad input to ``lp-sweep init``: the message names the folder or file, and what is wrong."""


@dataclass(frozen=True)
class ViewInfo:
    name: Optional[str]  # None for a single-view project
    csv_file: str  # as the config names it (relative to the data folder)
    num_labeled: int
    image_size: tuple[int, int]  # (height, width) of its first labeled image


@dataclass(frozen=True)
class ProjectInfo:
    data_dir: Path
    config: Optional[DictConfig]  # the user's config.yaml, loaded onto the schema; None if absent
    keypoint_names: list[str]
    views: list[ViewInfo]
    video_dir: Path
    videos: dict[str, int]  # file name -> frame count

    @property
    def multiview(self) -> bool:
        return len(self.views) > 1

    @property
    def view_names(self) -> Optional[list[str]]:
        return [v.name for v in self.views] if self.multiview else None

    @property
    def csv_files(self) -> list[str]:
        return [v.csv_file for v in self.views]

    @property
    def num_labeled(self) -> int:
        return min(v.num_labeled for v in self.views)

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) that holds the labeled images of every view."""
        return max(v.image_size[0] for v in self.views), max(v.image_size[1] for v in self.views)


def _data_folder(data_dir: str | os.PathLike) -> Path:
    folder = Path(data_dir).expanduser().resolve()
    if not folder.exists():
        raise StarterError(f"DATA_DIR {str(data_dir)!r}: no such folder")
    if not folder.is_dir():
        raise StarterError(f"DATA_DIR {str(data_dir)!r}: not a folder")
    return folder


def _views_from_files(folder: Path) -> list[tuple[Optional[str], str]]:
    """(view name, csv file) pairs found in a project folder without a config."""
    if (folder / DEFAULT_CSV).is_file():
        return [(None, DEFAULT_CSV)]
    csvs = sorted(p.name for p in folder.glob("*.csv"))
    if not csvs:
        raise StarterError(f"DATA_DIR {str(folder)!r}: no label file: neither {DEFAULT_CSV} nor any other .csv "
                           "(a Lightning Pose project; `litpose convert` makes one from DeepLabCut or SLEAP)")
    if len(csvs) == 1:
        return [(None, csvs[0])]
    return [(Path(name).stem.removeprefix(CSV_VIEW_PREFIX), name) for name in csvs]


def _views_from_config(cfg: DictConfig) -> list[tuple[Optional[str], str]]:
    csv_file = cfg.data.csv_file
    if not is_multiview(cfg):
        return [(None, csv_file if isinstance(csv_file, str) else csv_file[0])]
    if isinstance(csv_file, str) or len(csv_file) != len(cfg.data.view_names):
        raise ConfigError("data.csv_file", f"expected one file per view {list(cfg.data.view_names)}, got {csv_file!r}")
    return list(zip(cfg.data.view_names, csv_file))


def _image_size(root: Path, labels: LabeledData, csv_path: Path) -> tuple[int, int]:
    check_image_files_exist(root, labels.image_names, csv_path)
    try:
        with Image.open(root / labels.image_names[0]) as image:
            width, height = image.size
    except OSError as err:
        raise StarterError(f"{str(csv_path)!r}: cannot read its first image "
                           f"{str(root / labels.image_names[0])!r}: {err}") from None
    return height, width


def _read_view(root: Path, name: Optional[str], csv_file: str) -> tuple[ViewInfo, list[str]]:
    csv_path = resolve_csv_path(root, csv_file)
    labels = parse_label_csv(csv_path)
    if not labels.image_names:
        raise StarterError(f"{str(csv_path)!r}: no labeled frames")
    view = ViewInfo(name, csv_file, len(labels.image_names), _image_size(root, labels, csv_path))
    return view, labels.keypoint_names


def _count_videos(video_dir: Path) -> dict[str, int]:
    if not video_dir.is_dir():
        return {}
    files = sorted(p for p in video_dir.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    return {p.name: count_frames(p) for p in files}


def _folder_key(cfg: Optional[DictConfig], key: str, config_dir: Path, default: Path) -> Path:
    value = getattr(cfg.data, key) if cfg is not None else None
    return default if value is None else (config_dir / value).resolve()


def inspect_project(data_dir: str | os.PathLike) -> ProjectInfo:
    """Read the project in ``data_dir``: views, keypoints, labeled frames, image size, videos.

    Raises :class:`StarterError` (a missing folder, no label file, views whose keypoints differ),
    ``ConfigError`` (a bad ``config.yaml``, naming it), ``FileNotFoundError`` or ``ValueError``
    (a label CSV or video that cannot be read, naming it)."""
    folder = _data_folder(data_dir)
    config_path = folder / CONFIG_FILE
    cfg = load_config(config_path) if config_path.is_file() else None
    root = _folder_key(cfg, "data_dir", folder, folder)
    pairs = _views_from_config(cfg) if cfg is not None else _views_from_files(folder)
    views, names = [], None
    for view_name, csv_file in pairs:
        view, keypoints = _read_view(root, view_name, csv_file)
        if names is not None and keypoints != names:
            raise StarterError(f"{csv_file!r}: keypoints {keypoints} differ from those of {pairs[0][1]!r}: {names}; "
                               "every view must label the same keypoints")
        views.append(view)
        names = keypoints
    video_dir = _folder_key(cfg, "video_dir", folder, root / "videos")
    return ProjectInfo(folder, cfg, names, views, video_dir, _count_videos(video_dir))
