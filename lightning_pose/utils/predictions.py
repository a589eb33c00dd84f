"""Turning model outputs into DeepLabCut-style prediction tables, and reading/writing them.

A prediction table has one row per frame (labeled data: indexed by image path; videos: by frame
number) and a three-level column header ``scorer / bodyparts / coords``: the scorer is
``"<model_type>_tracker"``, every keypoint has the columns ``x, y, likelihood`` in keypoint
order. Predictions on labeled data carry one more column ``("set", "", "")`` naming the split
of each frame (``train``, ``validation``, ``test`` or ``unused``).

The pieces here are small pure functions; a prediction loop chains them::

    keypoints, confidences = stack_predictions(trainer.predict(...))
    keypoints, confidences = align_context_predictions(keypoints, confidences, num_frames, ctx)
    df = predictions_to_dataframe(keypoints, confidences, names, model_type)
    write_predictions_csv(df, "predictions.csv")
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float
from torch import Tensor

from lightning_pose.utils.io import fix_empty_first_row

__all__ = [
    "COORDS",
    "SET_COLUMN",
    "SPLIT_NAMES",
    "make_prediction_columns",
    "predictions_to_dataframe",
    "add_split_column",
    "context_row_index",
    "align_context_predictions",
    "stack_predictions",
    "split_views",
    "write_predictions_csv",
    "read_predictions_csv",
]

COORDS = ("x", "y", "likelihood")
SET_COLUMN = ("set", "", "")
SPLIT_NAMES = ("train", "validation", "test")
_UNUSED = "unused"
_HEADER_ROWS = [0, 1, 2]
_LEVEL_NAMES = ["scorer", "bodyparts", "coords"]

Array2D = Float[np.ndarray, "num_frames num_columns"]


def _as_numpy(values: np.ndarray | Tensor) -> np.ndarray:
    if isinstance(values, Tensor):
        return values.detach().to("cpu", torch.float64).numpy()
    return np.asarray(values)


def make_prediction_columns(keypoint_names: Sequence[str], model_type: str) -> pd.MultiIndex:
    """``(f"{model_type}_tracker", name, coord)`` for every keypoint and coord in ``COORDS``."""
    if len(keypoint_names) == 0:
        raise ValueError("keypoint_names is empty")
    return pd.MultiIndex.from_product(
        [[f"{model_type}_tracker"], [str(n) for n in keypoint_names], list(COORDS)],
        names=_LEVEL_NAMES,
    )


def predictions_to_dataframe(
    keypoints: Float[np.ndarray, "num_frames two_x_num_keypoints"]
    | Float[Tensor, "num_frames two_x_num_keypoints"],
    confidences: Float[np.ndarray, "num_frames num_keypoints"]
    | Float[Tensor, "num_frames num_keypoints"],
    keypoint_names: Sequence[str],
    model_type: str,
    index: Sequence | pd.Index | None = None,
) -> pd.DataFrame:
    """Prediction table with values ``[x0, y0, l0, x1, y1, l1, ...]`` (float64, no rescaling).

    Args:
        keypoints: ``(N, 2K)`` predictions, ``x0, y0, x1, y1, ...``.
        confidences: ``(N, K)`` per-keypoint confidences (the ``likelihood`` columns).
        keypoint_names: the ``K`` keypoint names.
        model_type: e.g. ``"heatmap"``; the scorer is ``f"{model_type}_tracker"``.
        index: row labels (image paths); None: frame numbers ``0..N-1``.
    """
    kp, conf = _as_numpy(keypoints), _as_numpy(confidences)
    num_frames, num_keypoints = conf.shape
    if kp.shape != (num_frames, 2 * num_keypoints):
        raise ValueError(
            f"keypoints have shape {kp.shape}; confidences {conf.shape} need keypoints of shape "
            f"{(num_frames, 2 * num_keypoints)}"
        )
    if len(keypoint_names) != num_keypoints:
        raise ValueError(
            f"keypoint_names has {len(keypoint_names)} names but the predictions have "
            f"{num_keypoints} keypoints"
        )
    if index is not None and len(index) != num_frames:
        raise ValueError(f"index has {len(index)} entries but there are {num_frames} frames")
    values = np.concatenate(
        [kp.reshape(num_frames, num_keypoints, 2), conf[:, :, None]], axis=2, dtype=np.float64
    ).reshape(num_frames, 3 * num_keypoints)
    return pd.DataFrame(
        values, columns=make_prediction_columns(keypoint_names, model_type), index=index
    )


def add_split_column(
    df: pd.DataFrame,
    train_idx: Sequence[int] | np.ndarray,
    val_idx: Sequence[int] | np.ndarray,
    test_idx: Sequence[int] | np.ndarray,
) -> pd.DataFrame:
    """Copy of ``df`` with a last column ``("set", "", "")`` naming each row's split.

    Indices are row positions. Rows in none of the lists are ``"unused"``; a row listed twice
    takes the later split (train, then validation, then test).
    """
    labels = np.full(len(df), _UNUSED, dtype=object)
    for name, rows in zip(SPLIT_NAMES, (train_idx, val_idx, test_idx)):
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        bad = rows[(rows < 0) | (rows >= len(df))]
        if bad.size:
            raise ValueError(
                f"{name} indices {bad[:5].tolist()} are outside [0, {len(df)}) (rows of the table)"
            )
        labels[rows] = name
    out = df.copy()
    key = SET_COLUMN if out.columns.nlevels == 3 else "set"
    out[key] = labels.astype(str)
    return out


def context_row_index(num_rows: int, num_frames: int) -> np.ndarray:
    """Row of the context-model output that each video frame takes (length ``num_frames``).

    Output row ``i`` of a 5-frame context model belongs to frame ``i + 2``. Frames 0 and 1 take
    row 0; when the outputs cover every frame (``num_rows == num_frames``) the last two frames
    repeat the third-to-last shifted row, otherwise the missing frames take row 0.
    """
    if num_rows < 1 or num_rows > num_frames:
        raise ValueError(
            f"context alignment needs 1 <= num_rows <= num_frames, got num_rows={num_rows}, "
            f"num_frames={num_frames}"
        )
    shifted = np.arange(max(num_rows - 2, 0), dtype=np.int64)
    rows = np.concatenate([np.zeros(2, dtype=np.int64), shifted])
    if len(rows) < num_frames:
        return np.concatenate([rows, np.zeros(num_frames - len(rows), dtype=np.int64)])
    if num_frames < 3:
        raise ValueError(f"context alignment of a {num_frames}-frame video needs at least 3 frames")
    rows[-2:] = rows[-3]
    return rows


def align_context_predictions(
    keypoints: Float[np.ndarray, "num_rows two_x_num_keypoints"],
    confidences: Float[np.ndarray, "num_rows num_keypoints"],
    num_frames: int,
    context: bool = True,
) -> tuple[
    Float[np.ndarray, "num_out two_x_num_keypoints"],
    Float[np.ndarray, "num_out num_keypoints"],
]:
    """Match stacked video predictions to the video's frames.

    Rows beyond ``num_frames`` (padding of the last batch) are dropped; missing rows are not
    added. For a context model the rows are then shifted by two frames
    (:func:`context_row_index`), confidences alike, giving exactly ``num_frames`` rows.
    """
    if keypoints.shape[0] != confidences.shape[0]:
        raise ValueError(
            f"keypoints have {keypoints.shape[0]} rows but confidences {confidences.shape[0]}"
        )
    if num_frames < 1:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    keypoints, confidences = keypoints[:num_frames], confidences[:num_frames]
    if not context:
        return keypoints, confidences
    rows = context_row_index(keypoints.shape[0], num_frames)
    return keypoints[rows], confidences[rows]


def stack_predictions(
    outputs: Sequence[tuple[Tensor, Tensor]],
) -> tuple[
    Float[np.ndarray, "num_frames two_x_num_keypoints"],
    Float[np.ndarray, "num_frames num_keypoints"],
]:
    """Stack the ``(keypoints (B, 2K), confidences (B, K))`` batches of ``trainer.predict``.

    Returns float32 arrays (half-precision outputs are widened).
    """
    if len(outputs) == 0:
        raise ValueError("no prediction batches to stack (trainer.predict returned nothing)")
    for i, output in enumerate(outputs):
        if len(output) != 2 or output[0].ndim != 2 or output[1].ndim != 2:
            raise ValueError(
                f"prediction batch {i} must be (keypoints (B, 2K), confidences (B, K)), got "
                f"{[tuple(t.shape) for t in output]}"
            )
    keypoints = torch.cat([kp.detach().to("cpu", torch.float32) for kp, _ in outputs])
    confidences = torch.cat([conf.detach().to("cpu", torch.float32) for _, conf in outputs])
    if keypoints.shape != (confidences.shape[0], 2 * confidences.shape[1]):
        raise ValueError(
            f"stacked keypoints {tuple(keypoints.shape)} do not match confidences "
            f"{tuple(confidences.shape)} (need (N, 2K) and (N, K))"
        )
    return keypoints.numpy(), confidences.numpy()


def _split_frame(df: pd.DataFrame, num_views: int) -> list[pd.DataFrame]:
    if df.columns.nlevels != 3:
        raise ValueError(f"prediction tables need 3 column levels, got {df.columns.nlevels}")
    has_set = df.shape[1] > 0 and df.columns[-1][0] == "set"
    body = df.iloc[:, :-1] if has_set else df
    if body.shape[1] % (3 * num_views):
        raise ValueError(
            f"{body.shape[1]} keypoint columns cannot be split into {num_views} views of "
            "(x, y, likelihood) blocks"
        )
    width = body.shape[1] // num_views
    views = [body.iloc[:, v * width : (v + 1) * width].copy() for v in range(num_views)]
    if has_set:
        for view in views:
            view[df.columns[-1]] = df.iloc[:, -1].to_numpy()
    return views


def split_views(
    data: pd.DataFrame | Array2D, num_views: int
) -> list[pd.DataFrame] | list[np.ndarray]:
    """Split multiview predictions into one block per view (view ``v`` = column block ``v``).

    An array ``(N, V * C)`` gives ``V`` arrays ``(N, C)`` (keypoints ``C = 2K``, confidences
    ``C = K``). A prediction table over ``V * K`` keypoints gives ``V`` tables of ``K``
    keypoints each, each keeping the index and a trailing ``set`` column.
    """
    if num_views < 1:
        raise ValueError(f"num_views must be positive, got {num_views}")
    if isinstance(data, pd.DataFrame):
        return _split_frame(data, num_views)
    if data.shape[1] % num_views:
        raise ValueError(f"{data.shape[1]} columns cannot be split into {num_views} views")
    blocks = data.reshape(data.shape[0], num_views, data.shape[1] // num_views)
    return [np.ascontiguousarray(blocks[:, v]) for v in range(num_views)]


def write_predictions_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a prediction table (three header rows, index in the first column); returns the path."""
    if df.columns.nlevels != 3:
        raise ValueError(
            f"prediction tables need 3 column levels ({_LEVEL_NAMES}), got {df.columns.nlevels}"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path)
    return path


def _blank_unnamed(label: object) -> object:
    return "" if isinstance(label, str) and label.startswith("Unnamed: ") else label


def read_predictions_csv(path: str | Path) -> pd.DataFrame:
    """Read a prediction table written by :func:`write_predictions_csv`.

    The empty header cells of the ``set`` column (read by pandas as ``"Unnamed: ..."``) become
    ``""`` again, so a written table reads back equal.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"predictions CSV not found: {str(path)!r}")
    try:
        df = pd.read_csv(path, header=_HEADER_ROWS, index_col=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, IndexError, ValueError) as err:
        raise ValueError(
            f"could not read predictions CSV {str(path)!r} (3 header rows expected): {err}"
        ) from err
    df = fix_empty_first_row(df)
    df.columns = pd.MultiIndex.from_tuples(
        [tuple(_blank_unnamed(label) for label in column) for column in df.columns],
        names=_LEVEL_NAMES,
    )
    return df
