"""Pictures of a model's predictions: keypoints drawn on a few labeled frames (with their labels)
and on a few video frames (with the ground truth where the video has it), tiled into one PNG."""

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from lightning_pose.data.video.base import build_video_reader
from lightning_pose.utils.predictions import SET_COLUMN, read_predictions_csv
from lp_sweeps.trial.evaluation import ground_truth_file, keypoint_xy, read_keypoint_table

__all__ = ["keypoint_names", "labeled_frames_png", "video_frames_png"]

TILE_WIDTH = 320
PREDICTION = (255, 32, 32)  # red dots: the model
TRUTH = (40, 220, 90)  # green rings: labels / ground truth
_SPLIT_ORDER = ("validation", "test", "train")


def keypoint_names(predictions: pd.DataFrame) -> list[str]:
    return [n for n in dict.fromkeys(predictions.columns.get_level_values(1)) if n]


def _draw(image: Image.Image, predicted: np.ndarray, truth: Optional[np.ndarray], caption: str) -> Image.Image:
    scale = TILE_WIDTH / image.width
    tile = image.convert("RGB").resize((TILE_WIDTH, max(1, round(image.height * scale))))
    pen = ImageDraw.Draw(tile)
    radius = 3
    for k in range(len(predicted)):
        if truth is not None and np.isfinite(truth[k]).all():
            tx, ty = truth[k] * scale
            pen.ellipse((tx - radius - 1, ty - radius - 1, tx + radius + 1, ty + radius + 1), outline=TRUTH, width=2)
            if np.isfinite(predicted[k]).all():
                pen.line((tx, ty, *(predicted[k] * scale)), fill=TRUTH, width=1)
        if np.isfinite(predicted[k]).all():
            px, py = predicted[k] * scale
            pen.ellipse((px - radius, py - radius, px + radius, py + radius), fill=PREDICTION, outline=(255, 255, 255))
    pen.rectangle((0, 0, tile.width, 14), fill=(0, 0, 0))
    pen.text((3, 1), caption, fill=(255, 255, 255))
    return tile


def _grid(tiles: Sequence[Image.Image], columns: int = 2) -> bytes:
    rows = math.ceil(len(tiles) / columns)
    height = max(t.height for t in tiles)
    sheet = Image.new("RGB", (columns * TILE_WIDTH, rows * height), (255, 255, 255))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * TILE_WIDTH, (i // columns) * height))
    out = io.BytesIO()
    sheet.save(out, format="PNG")
    return out.getvalue()


def _pick_rows(predictions: pd.DataFrame, count: int) -> list[int]:
    """Up to ``count`` labeled rows, validation frames first."""
    split = predictions.iloc[:, -1].astype(str).to_numpy() if predictions.columns[-1] == SET_COLUMN else None
    if split is None:
        return list(range(min(count, len(predictions))))
    order = [i for name in _SPLIT_ORDER for i in np.flatnonzero(split == name)]
    return [int(i) for i in order[:count]]


def labeled_frames_png(predictions_csv: Path, labels_csv: Path, data_dir: Path, count: int = 4) -> Optional[bytes]:
    """The predictions of ``count`` labeled frames (validation first) on their images, with labels."""
    predictions = read_predictions_csv(predictions_csv)
    labels = read_keypoint_table(labels_csv)
    names = keypoint_names(predictions)
    predicted, truth = keypoint_xy(predictions, names, len(predictions)), keypoint_xy(labels, names, len(labels))
    rows = _pick_rows(predictions, count)
    tiles = []
    for i in rows:
        image_path = Path(data_dir, str(predictions.index[i]))
        if not image_path.is_file():
            continue
        label_row = labels.index.get_loc(predictions.index[i]) if predictions.index[i] in labels.index else None
        split = str(predictions.iloc[i, -1]) if predictions.columns[-1] == SET_COLUMN else ""
        tiles.append(_draw(Image.open(image_path), predicted[i], None if label_row is None or truth is None
                           else truth[label_row], f"{split} {predictions.index[i]}"))
    return _grid(tiles) if tiles else None


def video_frames_png(predictions_csv: Path, video: Path, count: int = 4) -> Optional[bytes]:
    """The predictions on ``count`` frames spread over the predicted part of ``video``."""
    predictions = read_predictions_csv(predictions_csv)
    names = keypoint_names(predictions)
    predicted = keypoint_xy(predictions, names, len(predictions))
    truth_file = ground_truth_file(video)
    truth = None
    if truth_file is not None:
        table = read_keypoint_table(truth_file)
        truth = keypoint_xy(table, names, min(len(table), len(predictions)))
    frames = sorted({int(i) for i in np.linspace(0, len(predictions) - 1, count)})
    tiles = []
    with build_video_reader("opencv", video) as reader:
        for index in frames:
            pixels = reader.read_frames(index, 1)
            if pixels.shape[0] == 0:
                continue
            image = Image.fromarray(pixels[0].permute(1, 2, 0).numpy())
            own_truth = None if truth is None or index >= len(truth) else truth[index]
            tiles.append(_draw(image, predicted[index], own_truth, f"{video.name} frame {index}"))
    return _grid(tiles) if tiles else None
