"""Every labeled image decodes, and is large enough for its labels, before training starts.

A corrupt, truncated or empty image file would otherwise be found only when a batch reads it,
in the middle of training (or of a sweep). :func:`check_labeled_images` decodes every labeled
image once (in a few threads: OpenCV releases the GIL), checks that the image is as large as its
labels imply (a label beyond its right or bottom edge means the CSV row and the image do not
belong together, e.g. labels made on a larger copy of the video), and remembers the result of each file, keyed by its path, size and modification time,
in a small JSON cache, so checking the same data again (every sweep trial, every run) costs a
``stat`` per image. ``benchmarks/bench_image_check.py`` measures the cost per 1,000 images.
"""

import concurrent.futures
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
from jaxtyping import Float
from omegaconf import DictConfig

from lightning_pose.utils.io import parse_label_csv, resolve_csv_path

__all__ = ["EDGE_TOLERANCE_PX", "check_config_images", "check_labeled_images", "default_cache_file"]

EDGE_TOLERANCE_PX = 2.0  # labels this far beyond the frame are taken as clicks on its edge
_THREADS = 4
_MAX_REPORTED = 5


def default_cache_file() -> Path:
    """``$LP_CACHE_DIR`` (else ``$XDG_CACHE_HOME/lightning_pose``, else ``~/.cache/lightning_pose``)
    ``/image_checks.json``."""
    root = os.environ.get("LP_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"),
                                                  "lightning_pose")
    return Path(root) / "image_checks.json"


def _key(path: Path) -> Optional[str]:
    try:
        stat = path.stat()
    except OSError:
        return None
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _decoded_size(path: Path) -> Optional[list[int]]:
    """``[height, width]`` of a decodable image, None if it does not decode."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return None if image is None or image.size == 0 else [int(image.shape[0]), int(image.shape[1])]


def _load_cache(cache_file: Path) -> dict:
    try:
        return json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return {}


def _current(cache: dict) -> dict:
    """The entries of the files that still exist as they were: without this the cache would grow
    with every folder ever checked (copies of a project, temporary folders), and every trial reads
    it whole."""
    return {key: size for key, size in cache.items() if _key(Path(key.rsplit("|", 2)[0])) == key}


def _save_cache(cache_file: Path, cache: dict) -> None:
    """Atomic replace, keeping only :func:`_current` entries; a concurrent writer's entries may be
    lost, which only costs a re-check."""
    cache = _current(cache)
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=cache_file.parent, delete=False, suffix=".tmp") as stream:
            json.dump(cache, stream)
        os.replace(stream.name, cache_file)
    except OSError:
        pass  # a read-only cache location: the check still ran


def _sizes(paths: Sequence[Path], cache_file: Optional[Path]) -> list[Optional[list[int]]]:
    cache = _load_cache(cache_file) if cache_file is not None else {}
    keys = [_key(path) for path in paths]
    todo = sorted({i for i, key in enumerate(keys) if key is not None and key not in cache})
    with concurrent.futures.ThreadPoolExecutor(_THREADS) as pool:
        for i, size in zip(todo, pool.map(_decoded_size, [paths[i] for i in todo])):
            cache[keys[i]] = size
    if todo and cache_file is not None:
        _save_cache(cache_file, cache)
    return [None if key is None else cache.get(key) for key in keys]


def _outside(keypoints: Float[np.ndarray, "keypoints 2"], size: list[int]) -> Optional[tuple[int, float, float]]:
    """(index, x, y) of the first labeled keypoint beyond the right or bottom edge of a ``[height,
    width]`` image. Negative coordinates (a keypoint that left the frame at its top or left) never
    reveal a size mismatch; the datasets treat them, like any keypoint outside the frame, as
    unlabeled (as Lightning Pose does)."""
    height, width = size
    x, y = keypoints[:, 0], keypoints[:, 1]
    bad = (x > width + EDGE_TOLERANCE_PX) | (y > height + EDGE_TOLERANCE_PX)
    hits = np.flatnonzero(bad & ~np.isnan(x) & ~np.isnan(y))
    return None if hits.size == 0 else (int(hits[0]), float(x[hits[0]]), float(y[hits[0]]))


def check_labeled_images(
    root_directory: str | os.PathLike,
    image_names: Sequence[str],
    keypoints: Float[np.ndarray, "frames keypoints 2"],
    keypoint_names: Sequence[str],
    csv_file: str | os.PathLike,
    n_header_rows: int = 3,
    cache_file: Optional[Path] = None,
) -> None:
    """Raise ``ValueError`` naming the CSV, its line, the image and what is wrong, for every image
    that does not decode and every image smaller than its labels (the first few listed).
    ``cache_file``: where results are remembered (default :func:`default_cache_file`)."""
    root = Path(root_directory)
    paths = [root / name for name in image_names]
    sizes = _sizes(paths, cache_file if cache_file is not None else default_cache_file())
    problems = []
    for i, (name, size) in enumerate(zip(image_names, sizes)):
        line = f"line {n_header_rows + i + 1} ({name!r})"
        if size is None:
            problems.append(f"{line}: {str(paths[i])!r} is empty or not a decodable image")
            continue
        outside = _outside(keypoints[i], size)
        if outside is not None:
            k, x, y = outside
            problems.append(f"{line}: keypoint {keypoint_names[k]!r} at x={x:g}, y={y:g} lies beyond the "
                            f"image ({size[1]} x {size[0]} px, width x height): labels and image do not match")
    if problems:
        more = f" (and {len(problems) - _MAX_REPORTED} more)" if len(problems) > _MAX_REPORTED else ""
        raise ValueError(f"{len(problems)} labeled frames of {str(csv_file)!r} cannot be used: "
                         + "; ".join(problems[:_MAX_REPORTED]) + more)


def check_config_images(data_cfg: DictConfig, cache_file: Optional[Path] = None) -> int:
    """:func:`check_labeled_images` for every label CSV of a config's ``data`` section (one per
    view); returns the number of labeled frames checked."""
    root = Path(data_cfg.data_dir)
    csv_files = [data_cfg.csv_file] if isinstance(data_cfg.csv_file, str) else list(data_cfg.csv_file)
    checked = 0
    for csv in csv_files:
        csv_file = resolve_csv_path(root, csv)
        labels = parse_label_csv(csv_file)
        check_labeled_images(root, labels.image_names, labels.keypoints, labels.keypoint_names, csv_file,
                             cache_file=cache_file)
        checked += len(labels.image_names)
    return checked
