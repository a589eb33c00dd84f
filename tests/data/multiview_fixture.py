"""Two-view version of the mirror-mouse example, built the way Lightning Pose's test suite does.

Each labeled image is cut at row 168: rows 0-167 are the side ("top") view, rows 168-405 the
mirror ("bot") view. Labels keep the 7 body parts seen in both views (obs* keypoints dropped),
names lose their ``_top``/``_bot`` suffix and bottom-view y is shifted by -168. Layout::

    <root>/labeled-data/example_top/imgXX.png   <root>/top.csv
    <root>/labeled-data/example_bot/imgXX.png   <root>/bot.csv

Use the session fixture ``mirror_mouse_split`` (import it into a conftest or test module).
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lightning_pose.utils.io import parse_label_csv

Y_SPLIT = 168
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
    return MultiviewSplit(root=dst, view_names=list(VIEWS), csv_paths=[f"{v}.csv" for v in VIEWS])


@pytest.fixture(scope="session")
def mirror_mouse_split(mirror_mouse_dir, tmp_path_factory) -> MultiviewSplit:
    """The two-view split, built once per test session in a temporary directory."""
    return build_mirror_mouse_split(mirror_mouse_dir, tmp_path_factory.mktemp("mirror-mouse-split"))
