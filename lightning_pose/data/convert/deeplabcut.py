"""DeepLabCut project folder -> :class:`~lightning_pose.data.convert.base.SourceProject`.

Reads ``config.yaml`` (``scorer``, ``bodyparts``, ``video_sets``, ``multianimalproject``) and
``labeled-data/<video>/CollectedData_<scorer>.h5`` (or ``.csv`` when there is no ``.h5``, as
DeepLabCut itself prefers the ``.h5``) of every labeled video folder. Refused, before anything is
written: multi-animal projects, label files whose bodyparts differ from ``config.yaml``, label
files of another scorer, labeled images that are missing or unreadable. The images of every
labeled folder (labeled frames and any other extracted frames) are copied, so are the videos of
``videos/`` and those ``video_sets`` entries that exist.
"""

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import yaml
from PIL import Image, UnidentifiedImageError

from lightning_pose.data.convert.base import CONVERTERS, ConversionError, SourceProject
from lightning_pose.data.convert.deeplabcut_labels import LabelTable, read_label_file

__all__ = ["DeepLabCutConverter", "DlcConfig", "read_dlc_config"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".mpg", ".mpeg", ".m4v")
MAX_REPORTED = 5


@dataclass(frozen=True)
class DlcConfig:
    """The keys of a DeepLabCut ``config.yaml`` that the conversion uses."""

    path: Path
    scorer: str
    bodyparts: list[str]
    video_sets: list[str]


def _bodyparts(path: Path, value: object) -> list[str]:
    if value == "MULTI!":
        raise ConversionError(
            f"{str(path)!r}: bodyparts is 'MULTI!' (a multi-animal project); litpose convert reads "
            "single-animal projects only"
        )
    if not isinstance(value, list) or not value or not all(isinstance(b, str) and b for b in value):
        raise ConversionError(f"{str(path)!r}: bodyparts must be a non-empty list of names, got {value!r}")
    repeated = sorted({b for b in value if value.count(b) > 1})
    if repeated:
        raise ConversionError(f"{str(path)!r}: bodyparts lists {repeated[0]!r} more than once")
    return list(value)


def read_dlc_config(project: Path) -> DlcConfig:
    """Check and read ``project/config.yaml``."""
    path = project / "config.yaml"
    if not path.is_file():
        raise ConversionError(f"{str(project)!r} is not a DeepLabCut project: {str(path)!r} not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConversionError(f"{str(path)!r}: not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ConversionError(f"{str(path)!r}: expected a mapping of DeepLabCut settings")
    if raw.get("multianimalproject"):
        raise ConversionError(
            f"{str(path)!r}: multianimalproject is {raw['multianimalproject']!r}; multi-animal "
            "DeepLabCut projects are not supported (Lightning Pose tracks one animal per frame)"
        )
    scorer = raw.get("scorer")
    if not isinstance(scorer, str) or not scorer:
        raise ConversionError(f"{str(path)!r}: scorer must be a non-empty name, got {scorer!r}")
    video_sets = raw.get("video_sets") or {}
    if not isinstance(video_sets, dict):
        raise ConversionError(f"{str(path)!r}: video_sets must be a mapping of video paths, got {video_sets!r}")
    return DlcConfig(path, scorer, _bodyparts(path, raw.get("bodyparts")), [str(v) for v in video_sets])


def _label_file(folder: Path, scorer: str) -> Path | None:
    """``CollectedData_<scorer>.h5`` (else ``.csv``) in ``folder``; None if it has no labels."""
    for suffix in (".h5", ".csv"):
        path = folder / f"CollectedData_{scorer}{suffix}"
        if path.is_file():
            return path
    others = sorted(folder.glob("CollectedData*.h5")) + sorted(folder.glob("CollectedData*.csv"))
    if others:
        raise ConversionError(
            f"{str(others[0])!r}: label file of another scorer; config.yaml has scorer {scorer!r}, "
            f"so the labels must be in CollectedData_{scorer}.h5 or .csv"
        )
    return None


def _check_bodyparts(table: LabelTable, config: DlcConfig) -> None:
    for bodypart in table.bodyparts:
        if bodypart not in config.bodyparts:
            raise ConversionError(
                f"{str(table.path)!r}: bodypart {bodypart!r} is not in the bodyparts of "
                f"{str(config.path)!r} {config.bodyparts}"
            )
    for bodypart in config.bodyparts:
        if bodypart not in table.bodyparts:
            raise ConversionError(
                f"{str(table.path)!r}: has no columns for bodypart {bodypart!r}, which "
                f"{str(config.path)!r} lists"
            )


def _check_images(project: Path, table: LabelTable) -> list[tuple[int, int]]:
    """Each labeled image is a readable image inside the project; returns their (height, width)."""
    sizes, missing = [], []
    for name in table.image_names:
        posix = PurePosixPath(name)
        if posix.is_absolute() or ".." in posix.parts:
            raise ConversionError(f"{str(table.path)!r}: image {name!r} is not a path inside the project")
        path = project / name
        if not path.is_file():
            missing.append(name)
            continue
        try:
            with Image.open(path) as image:
                sizes.append((int(image.height), int(image.width)))
        except (UnidentifiedImageError, OSError) as err:
            raise ConversionError(f"{str(table.path)!r}: image {name!r} cannot be read: {err}") from err
    if missing:
        more = f" (and {len(missing) - MAX_REPORTED} more)" if len(missing) > MAX_REPORTED else ""
        raise ConversionError(
            f"{str(table.path)!r}: {len(missing)} labeled image(s) not found under {str(project)!r}: "
            f"{missing[:MAX_REPORTED]}{more}"
        )
    return sizes


def _label_tables(project: Path, config: DlcConfig) -> tuple[list[LabelTable], list[Path], list[str]]:
    """(label tables, their folders, notes) of every folder of ``labeled-data/``."""
    labeled_data = project / "labeled-data"
    if not labeled_data.is_dir():
        raise ConversionError(f"{str(project)!r}: no labeled-data folder; nothing to convert")
    tables, folders, notes = [], [], []
    for folder in sorted(p for p in labeled_data.iterdir() if p.is_dir() and not p.name.startswith(".")):
        path = _label_file(folder, config.scorer)
        if path is None:
            if not folder.name.endswith("_labeled"):  # DeepLabCut's check_labels output
                notes.append(f"{str(folder)!r} has no CollectedData_{config.scorer} file; skipped")
            continue
        table = read_label_file(path)
        _check_bodyparts(table, config)
        tables.append(table)
        folders.append(folder)
    if not tables:
        raise ConversionError(
            f"{str(labeled_data)!r}: no folder holds CollectedData_{config.scorer}.h5 or .csv"
        )
    return tables, folders, notes


def _image_copies(project: Path, folders: list[Path], labeled: list[str]) -> list[tuple[Path, str]]:
    """Every image of the labeled folders, plus labeled images kept elsewhere, at the same paths."""
    copies = {
        f"labeled-data/{folder.name}/{path.name}": path
        for folder in folders
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()
    }
    for name in labeled:
        copies.setdefault(name, project / name)
    return [(path, dest) for dest, path in copies.items()]


def _video_copies(project: Path, config: DlcConfig) -> tuple[list[tuple[Path, str]], list[str]]:
    """Videos of ``videos/`` and of ``video_sets`` that exist (first of each file name wins)."""
    found: dict[str, Path] = {}
    notes = []
    folder = project / "videos"
    candidates = sorted(folder.iterdir()) if folder.is_dir() else []
    for path in candidates:
        if path.suffix.lower() not in VIDEO_EXTENSIONS:
            continue
        if path.is_file():
            found[path.name] = path
        else:
            notes.append(f"{str(path)!r} is a broken link or not a file; not copied")
    for listed in config.video_sets:
        path = project / listed  # absolute paths stay absolute
        if path.name in found:
            continue
        if path.is_file():
            found[path.name] = path
        else:
            notes.append(f"video {listed!r} of config.yaml video_sets not found; not copied")
    return [(path, f"videos/{name}") for name, path in found.items()], notes


@CONVERTERS.register("deeplabcut")
class DeepLabCutConverter:
    """A DeepLabCut project folder (``config.yaml``, ``labeled-data/``, ``videos/``)."""

    description = "a DeepLabCut project folder (config.yaml, labeled-data/<video>/CollectedData_<scorer>.h5|csv)"

    def detect(self, source: Path) -> bool:
        return source.is_dir()

    def read(self, source: Path) -> SourceProject:
        config = read_dlc_config(source)
        tables, folders, notes = _label_tables(source, config)
        sizes = [size for table in tables for size in _check_images(source, table)]
        images = [name for table in tables for name in table.image_names]
        if not images:
            raise ConversionError(f"{str(source)!r}: the label files {[str(t.path) for t in tables]} have no rows")
        keypoints = np.concatenate(
            [table.values[:, [table.bodyparts.index(b) for b in config.bodyparts]] for table in tables]
        )
        distinct = sorted(set(sizes))
        if len(distinct) > 1:
            notes.append(f"labeled images have {len(distinct)} sizes (height, width) {distinct[:MAX_REPORTED]}")
        videos, video_notes = _video_copies(source, config)
        return SourceProject(
            format="deeplabcut",
            source=source,
            scorer=config.scorer,
            keypoint_names=list(config.bodyparts),
            image_names=images,
            keypoints=np.ascontiguousarray(keypoints, dtype=np.float64),
            frame_size=(max(h for h, _ in distinct), max(w for _, w in distinct)),
            copies=_image_copies(source, folders, images) + videos,
            frames=[],
            notes=notes + video_notes,
        )
