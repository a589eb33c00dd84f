"""Per-keypoint evaluation metrics, and the metric CSVs written next to a predictions file.

Every metric maps predictions ``(N, K, 2)`` to one value per frame and keypoint ``(N, K)``:

* ``pixel_error``: Euclidean distance to the label (NaN where unlabeled);
* ``temporal_norm``: distance moved since the previous frame (NaN for the first frame);
* ``pca_singleview_reprojection_error`` / ``pca_multiview_reprojection_error``: distance between
  each keypoint and its projection onto a fitted :class:`~lightning_pose.utils.pca.KeypointPCA`
  subspace (NaN for keypoints the PCA does not cover).
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float
from torch import Tensor

from lightning_pose.utils.io import fix_empty_first_row
from lightning_pose.utils.pca import KeypointPCA
from lightning_pose.utils.predictions import SPLIT_NAMES, read_predictions_csv

__all__ = [
    "pixel_error",
    "temporal_norm",
    "pca_singleview_reprojection_error",
    "pca_multiview_reprojection_error",
    "compute_metrics_single",
    "summarise_pixel_error",
    "METRIC_FILE_SUFFIXES",
]

# result key -> file name suffix (``<predictions stem>_<suffix>.csv``)
METRIC_FILE_SUFFIXES = {
    "pixel_error": "pixel_error",
    "temporal_norm": "temporal_norm",
    "pca_singleview": "pca_singleview_error",
    "pca_multiview": "pca_multiview_error",
}

Points = Float[np.ndarray, "num_frames num_keypoints 2"]
PerKeypoint = Float[np.ndarray, "num_frames num_keypoints"]


def pixel_error(keypoints_true: Points, keypoints_pred: Points) -> PerKeypoint:
    """Euclidean distance between labels and predictions, NaN where the label is NaN."""
    if keypoints_true.shape != keypoints_pred.shape or keypoints_true.shape[-1] != 2:
        raise ValueError(
            f"keypoints_true {keypoints_true.shape} and keypoints_pred {keypoints_pred.shape} "
            "must both have shape (frames, keypoints, 2)"
        )
    return np.linalg.norm(keypoints_true - keypoints_pred, axis=2)


def temporal_norm(
    keypoints_pred: Float[np.ndarray, "num_frames *coords"] | Float[Tensor, "num_frames *coords"],
) -> Float[np.ndarray, "num_frames num_keypoints"]:
    """Distance each keypoint moved since the previous frame; row 0 is NaN.

    Takes ``(N, 2K)`` or ``(N, K, 2)``; the differences are computed in float32 (as the
    temporal loss does), the result is float64.
    """
    if isinstance(keypoints_pred, Tensor):
        keypoints_pred = keypoints_pred.detach().cpu().numpy()
    points = np.asarray(keypoints_pred, dtype=np.float32)
    valid_3d = points.ndim == 3 and points.shape[2] == 2
    if not (valid_3d or (points.ndim == 2 and points.shape[1] % 2 == 0)):
        raise ValueError(
            f"keypoints_pred must be (frames, 2K) or (frames, K, 2), got {points.shape}"
        )
    if points.shape[0] == 0:
        raise ValueError("keypoints_pred has no frames")
    points = points.reshape(points.shape[0], -1, 2)
    norms = np.full(points.shape[:2], np.nan, dtype=np.float64)
    norms[1:] = np.linalg.norm(np.diff(points, axis=0), axis=2)
    return norms


def _pca_input(
    keypoints_pred: np.ndarray | Tensor, pca: KeypointPCA, loss_type: str
) -> Float[Tensor, "num_frames two_x_num_keypoints"]:
    """Checks, then predictions ``(N, K, 2)`` -> float32 ``(N, 2K)`` on the PCA's device."""
    if not pca.fitted:
        raise ValueError(f"the {loss_type} KeypointPCA is not fitted; call fit() first")
    if pca.loss_type != loss_type:
        raise ValueError(
            f"expected a {loss_type!r} KeypointPCA, got one of type {pca.loss_type!r}"
        )
    points = torch.as_tensor(keypoints_pred, dtype=torch.float32, device=pca.mean.device)
    if points.ndim != 3 or points.shape[2] != 2:
        raise ValueError(
            f"keypoints_pred must have shape (frames, keypoints, 2), got {tuple(points.shape)}"
        )
    return points.reshape(points.shape[0], -1)


def _check_columns(columns: np.ndarray, num_keypoints: int, key: str) -> None:
    bad = columns[(columns < 0) | (columns >= num_keypoints)]
    if bad.size:
        raise ValueError(
            f"the PCA's {key} refers to keypoints {sorted(set(bad.tolist()))} but the predictions "
            f"have {num_keypoints} keypoints"
        )


def pca_singleview_reprojection_error(
    keypoints_pred: Float[np.ndarray, "num_frames num_keypoints 2"]
    | Float[Tensor, "num_frames num_keypoints 2"],
    pca: KeypointPCA,
) -> Float[np.ndarray, "num_frames num_keypoints"]:
    """Distance of each keypoint to its reprojection onto a fitted single-view PCA subspace.

    Keypoints outside ``pca.columns_for_singleview_pca`` are NaN. The observation is formatted
    as for fitting (column selection, then per-frame centering if the PCA uses it).
    """
    flat = _pca_input(keypoints_pred, pca, "pca_singleview")
    num_frames, num_keypoints = flat.shape[0], flat.shape[1] // 2
    columns = np.arange(num_keypoints)
    if pca.columns_for_singleview_pca is not None:
        columns = np.asarray(pca.columns_for_singleview_pca, dtype=np.int64)
    _check_columns(columns, num_keypoints, "columns_for_singleview_pca")
    errors = pca.compute_reprojection_error(pca.format_data(flat))  # (N, len(columns))
    out = np.full((num_frames, num_keypoints), np.nan, dtype=np.float64)
    out[:, columns] = errors.detach().cpu().numpy()
    return out


def pca_multiview_reprojection_error(
    keypoints_pred: Float[np.ndarray, "num_frames num_keypoints 2"]
    | Float[Tensor, "num_frames num_keypoints 2"],
    pca: KeypointPCA,
) -> Float[np.ndarray, "num_frames num_keypoints"]:
    """Distance of each matched keypoint (in each view) to its multiview-PCA reprojection.

    The error of matched keypoint ``j`` in view ``v`` is written to column
    ``pca.mirrored_column_matches[v][j]``; keypoints not matched across views are NaN.
    """
    flat = _pca_input(keypoints_pred, pca, "pca_multiview")
    num_frames, num_keypoints = flat.shape[0], flat.shape[1] // 2
    matches = np.asarray(pca.mirrored_column_matches, dtype=np.int64)  # (views, matched)
    if matches.ndim != 2:
        raise ValueError(
            "pca.mirrored_column_matches must hold one index list per view, got "
            f"{pca.mirrored_column_matches}"
        )
    _check_columns(matches, num_keypoints, "mirrored_column_matches")
    errors = pca.compute_reprojection_error(pca.format_data(flat))  # (N * matched, views)
    errors = errors.detach().cpu().numpy().reshape(num_frames, matches.shape[1], matches.shape[0])
    out = np.full((num_frames, num_keypoints), np.nan, dtype=np.float64)
    out[:, matches.T] = errors
    return out


def _read_labels(labels_file: str | Path, index: pd.Index) -> Points:
    """``x, y`` label columns of a label CSV as (N, K, 2) float64; rows must match ``index``."""
    labels = fix_empty_first_row(pd.read_csv(labels_file, header=[0, 1, 2], index_col=0))
    if not labels.index.equals(index):
        raise ValueError(
            f"the rows of the labels file {str(labels_file)!r} ({len(labels)} rows, first "
            f"{list(labels.index[:3])}) do not match the predictions ({len(index)} rows, first "
            f"{list(index[:3])})"
        )
    xy = labels.loc[:, labels.columns.get_level_values(2).isin(["x", "y"])]
    return xy.to_numpy(dtype=np.float64).reshape(len(xy), -1, 2)


def _read_predictions(
    preds_path: Path, keypoint_names: Sequence[str] | None
) -> tuple[pd.Index, Points, np.ndarray | None, list[str]]:
    """(index, predicted keypoints (N, K, 2), ``set`` values or None, keypoint names)."""
    preds = read_predictions_csv(preds_path)
    split = preds.iloc[:, -1].to_numpy() if preds.columns[-1][0] == "set" else None
    xyl = preds.loc[:, preds.columns.get_level_values(2).isin(["x", "y", "likelihood"])]
    values = xyl.to_numpy(dtype=np.float64).reshape(len(xyl), -1, 3)
    if keypoint_names is None:
        keypoint_names = xyl.columns.get_level_values(1)[::3]
    names = [str(name) for name in keypoint_names]
    if len(names) != values.shape[1]:
        raise ValueError(
            f"keypoint_names has {len(names)} names but {str(preds_path)!r} has "
            f"{values.shape[1]} keypoints"
        )
    return preds.index, values[:, :, :2], split, names


def _metric_frame(
    values: PerKeypoint, index: pd.Index, keypoint_names: list[str], split: np.ndarray | None
) -> pd.DataFrame:
    df = pd.DataFrame(values, index=index, columns=pd.Index(keypoint_names))
    if split is not None:
        df["set"] = split
    return df


def compute_metrics_single(
    labels_file: str | Path | None,
    preds_file: str | Path,
    keypoint_names: Sequence[str] | None = None,
    pca_singleview: KeypointPCA | None = None,
    pca_multiview: KeypointPCA | None = None,
) -> dict[str, pd.DataFrame]:
    """Compute the metrics of one predictions CSV and write ``<stem>_<metric>.csv`` beside it.

    A trailing ``set`` column marks predictions on labeled frames: ``pixel_error`` is computed
    against ``labels_file`` (same rows). Otherwise the file is a video: ``temporal_norm``. The
    PCA errors are added for each fitted PCA given.

    Args:
        labels_file: label CSV with the same rows as the predictions (labeled data only).
        preds_file: predictions CSV (see :mod:`lightning_pose.utils.predictions`).
        keypoint_names: column names of the metric tables; None: the predictions' body parts.
        pca_singleview: fitted ``pca_singleview`` KeypointPCA, or None.
        pca_multiview: fitted ``pca_multiview`` KeypointPCA, or None.

    Returns:
        ``{"pixel_error" | "temporal_norm" | "pca_singleview" | "pca_multiview": DataFrame}``,
        one column per keypoint (plus ``set`` for labeled data), indexed like the predictions.
    """
    preds_path = Path(preds_file)
    index, keypoints_pred, split, names = _read_predictions(preds_path, keypoint_names)
    metrics: dict[str, PerKeypoint] = {}
    if split is not None:
        if labels_file is None:
            raise ValueError(
                f"{str(preds_path)!r} holds labeled-frame predictions; "
                "pixel_error needs labels_file"
            )
        metrics["pixel_error"] = pixel_error(_read_labels(labels_file, index), keypoints_pred)
    else:
        metrics["temporal_norm"] = temporal_norm(keypoints_pred)
    if pca_singleview is not None:
        metrics["pca_singleview"] = pca_singleview_reprojection_error(
            keypoints_pred, pca_singleview
        )
    if pca_multiview is not None:
        metrics["pca_multiview"] = pca_multiview_reprojection_error(keypoints_pred, pca_multiview)
    results = {}
    for key, per_keypoint in metrics.items():
        df = _metric_frame(per_keypoint, index, names, split)
        suffix = METRIC_FILE_SUFFIXES[key]
        df.to_csv(preds_path.with_name(f"{preds_path.stem}_{suffix}.csv"))
        results[key] = df
    return results


def _masked_mean(values: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """NaN-ignoring mean that gives NaN (no warning) where nothing is labeled."""
    valid = ~np.isnan(values)
    total = np.where(valid, values, 0.0).sum(axis=axis)
    count = valid.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def summarise_pixel_error(df: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Mean pixel error per split and per keypoint, over labeled keypoints only.

    Returns ``{split: {"mean": m, <keypoint>: m_k, ...}}`` for each of train / validation /
    test present in the ``set`` column (a table without ``set`` is summarised as ``"all"``).
    ``mean`` averages every labeled (frame, keypoint) error of the split; a keypoint with no
    label in a split is NaN.
    """
    if "set" in df.columns:
        keypoint_columns = [c for c in df.columns if c != "set"]
        split = df["set"].to_numpy()
        groups = [(name, split == name) for name in SPLIT_NAMES if (split == name).any()]
    else:
        keypoint_columns = list(df.columns)
        groups = [("all", np.ones(len(df), dtype=bool))]
    values = df[keypoint_columns].to_numpy(dtype=np.float64)
    summary = {}
    for name, rows in groups:
        per_keypoint = _masked_mean(values[rows], axis=0)
        summary[name] = {"mean": float(_masked_mean(values[rows]))}
        summary[name].update({str(k): float(v) for k, v in zip(keypoint_columns, per_keypoint)})
    return summary
