"""Two-view version of the mirror-mouse example, built the way Lightning Pose's test suite does.

Each labeled image is cut at row 168: rows 0-167 are the side ("top") view, rows 168-405 the
mirror ("bot") view. Labels keep the 7 body parts seen in both views (obs* keypoints dropped),
names lose their ``_top``/``_bot`` suffix and bottom-view y is shifted by -168. Layout::

    <root>/labeled-data/example_top/imgXX.png   <root>/top.csv
    <root>/labeled-data/example_bot/imgXX.png   <root>/bot.csv
    <root>/videos/example_top.mp4               <root>/videos/example_bot.mp4   (first frames, cut alike)

Use the session fixture ``mirror_mouse_split`` (import it into a conftest or test module).
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from lightning_pose.utils.io import parse_label_csv

Y_SPLIT = 168
VIDEO_FRAMES = 60  # frames of test_vid.mp4 written per view (enough for a few training windows)
BODY_PARTS = ["paw1LH", "paw2LF", "paw3RF", "paw4RH", "tailBase", "tailMid", "nose"]
VIEWS = ("top", "bot")


@dataclass(frozen=True)
class MultiviewSplit:
    root: Path
    view_names: list[str]
    csv_paths: list[str]  # relative to root, same order as view_names


def _write_view_csv(path: Path, image_names: list[str], keypoints: np.ndarray) -> None:
    """DLC-style CSV: 3 header rows, image path, then x, y per body part (NaN -> empty)."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["scorer"] + ["lp-sweeps"] * (2 * len(BODY_PARTS)))
        writer.writerow(["bodyparts"] + [name for name in BODY_PARTS for _ in range(2)])
        writer.writerow(["coords"] + ["x", "y"] * len(BODY_PARTS))
        for name, row in zip(image_names, keypoints.reshape(len(image_names), -1)):
            writer.writerow([name] + ["" if np.isnan(v) else repr(float(v)) for v in row])


def write_clip(src: Path, dst: Path, num_frames: int, rows: slice = slice(None)) -> Path:
    """The first ``num_frames`` frames of a video, cropped to ``rows``, written as mp4."""
    capture = cv2.VideoCapture(str(src))
    writer = None
    for _ in range(num_frames):
        ok, frame = capture.read()
        if not ok:
            break
        frame = np.ascontiguousarray(frame[rows])
        if writer is None:
            dst.parent.mkdir(parents=True, exist_ok=True)
            writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    capture.release()
    if writer is None:
        raise ValueError(f"could not read any frame of {src}")
    writer.release()
    return dst


def build_mirror_mouse_split(src: Path, dst: Path) -> MultiviewSplit:
    """Write the two-view split of ``src`` (mirror-mouse-example) under ``dst``."""
    labels = parse_label_csv(src / "CollectedData.csv")
    for view in VIEWS:
        (dst / "labeled-data" / f"example_{view}").mkdir(parents=True, exist_ok=True)
    for frame in sorted((src / "labeled-data").glob("*.png")):
        with Image.open(frame) as img:
            pixels = np.asarray(img)
        Image.fromarray(pixels[:Y_SPLIT]).save(dst / "labeled-data" / "example_top" / frame.name)
        Image.fromarray(pixels[Y_SPLIT:]).save(dst / "labeled-data" / "example_bot" / frame.name)
    for view in VIEWS:
        columns = [labels.keypoint_names.index(f"{part}_{view}") for part in BODY_PARTS]
        keypoints = labels.keypoints[:, columns].astype(np.float64)
        if view == "bot":
            keypoints[:, :, 1] -= Y_SPLIT
        image_names = [n.replace("labeled-data/", f"labeled-data/example_{view}/") for n in labels.image_names]
        _write_view_csv(dst / f"{view}.csv", image_names, keypoints)
    video = src / "videos" / "test_vid.mp4"
    write_clip(video, dst / "videos" / "example_top.mp4", VIDEO_FRAMES, slice(0, Y_SPLIT))
    write_clip(video, dst / "videos" / "example_bot.mp4", VIDEO_FRAMES, slice(Y_SPLIT, None))
    return MultiviewSplit(root=dst, view_names=list(VIEWS), csv_paths=[f"{v}.csv" for v in VIEWS])


@pytest.fixture(scope="session")
def mirror_mouse_split(mirror_mouse_dir, tmp_path_factory) -> MultiviewSplit:
    """The two-view split, built once per test session in a temporary directory."""
    return build_mirror_mouse_split(mirror_mouse_dir, tmp_path_factory.mktemp("mirror-mouse-split"))
