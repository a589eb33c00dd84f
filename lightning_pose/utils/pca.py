"""Keypoint PCA: a low-dimensional pose subspace fitted on training labels.

:class:`KeypointPCA` pulls the training-split labels from the data module
(``data_module.get_training_keypoints()``: ``(N, 2 * K_total)`` in original-frame pixels, NaN
where unlabeled), arranges them as PCA observations, fits :class:`NaNPCA` and keeps the mean,
the kept / discarded eigenvectors and an empirical epsilon (a percentile of the training
reprojection errors). These are non-persistent buffers, so they follow ``.to(device)``.

Observations:

* ``pca_singleview``: one row per frame, columns ``x0, y0, x1, y1, ...`` of the selected
  keypoints (``columns_for_singleview_pca``, all if None), optionally centred per frame.
* ``pca_multiview``: one row per (frame, matched keypoint), columns
  ``x_view0, y_view0, x_view1, y_view1, ...`` (``mirrored_column_matches``: one index list per
  view); the subspace is always 3-D (a 3-D point seen from several cameras).
"""

import logging
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor, nn

__all__ = [
    "KeypointPCA",
    "NaNPCA",
    "choose_n_components",
    "flip_component_signs",
    "format_multiview_data_for_pca",
]

logger = logging.getLogger(__name__)

PCALossType = Literal["pca_singleview", "pca_multiview"]
_MULTIVIEW_COMPONENTS = 3


def flip_component_signs(components: np.ndarray) -> np.ndarray:
    """Flip each row so that its largest-magnitude entry is positive (deterministic signs)."""
    rows = np.arange(components.shape[0])
    signs = np.sign(components[rows, np.abs(components).argmax(axis=1)])
    return components * signs[:, None]


class NaNPCA:
    """PCA that tolerates NaN entries (attribute names follow scikit-learn's ``PCA``).

    ``mean_`` is the NaN-ignoring column mean; the covariance is computed pairwise-complete
    (``numpy.ma.cov`` on the NaN-masked data); its eigenvectors, sorted by decreasing
    eigenvalue (negative eigenvalues clipped to 0) and sign-fixed with
    :func:`flip_component_signs`, are the components.
    """

    def __init__(self, n_components: int | None = None) -> None:
        self.n_components = n_components

    def fit(self, X: np.ndarray) -> "NaNPCA":
        data = np.asarray(X)
        if data.ndim != 2:
            raise ValueError(f"NaNPCA.fit expects a 2-D array, got shape {data.shape}")
        n_samples, n_features = data.shape
        n_components = self.n_components
        if n_components is None:
            n_components = min(n_samples, n_features)
        if not 0 <= n_components <= min(n_samples, n_features):
            raise ValueError(
                f"n_components={n_components} must be between 0 and "
                f"min(n_samples, n_features)={min(n_samples, n_features)}"
            )
        self.mean_ = np.nanmean(data, axis=0)
        covariance = np.atleast_2d(np.ma.cov(np.ma.masked_invalid(data), rowvar=False).data)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        eigenvalues = np.clip(eigenvalues[::-1], 0.0, None)
        components = flip_component_signs(eigenvectors[:, ::-1].T)
        ratio = eigenvalues / eigenvalues.sum()

        self.n_samples_ = n_samples
        self.n_features_in_ = n_features
        self.n_components_ = n_components
        self.components_ = components[:n_components].copy()
        self.explained_variance_ = eigenvalues[:n_components].copy()
        self.explained_variance_ratio_ = ratio[:n_components].copy()
        self.singular_values_ = np.sqrt(eigenvalues * (n_samples - 1))[:n_components]
        discarded = eigenvalues[n_components:]
        self.noise_variance_ = float(discarded.mean()) if discarded.size else 0.0
        return self


def choose_n_components(
    explained_variance_ratio: np.ndarray, components_to_keep: int | float
) -> int:
    """Number of components: an int as is; a float in [0, 1] as a cumulative-variance threshold.

    A float keeps the fewest leading components whose explained-variance ratio sums to at
    least the threshold (1.0 keeps all).
    """
    available = len(explained_variance_ratio)
    if isinstance(components_to_keep, bool) or not isinstance(components_to_keep, (int, float)):
        raise ValueError(
            f"components_to_keep must be an int or a float, got {components_to_keep!r}"
        )
    if isinstance(components_to_keep, int):
        if not 1 <= components_to_keep <= available:
            raise ValueError(
                f"components_to_keep was set to {components_to_keep}; it must lie in "
                f"[1, {available}] (the number of observation dimensions)"
            )
        return components_to_keep
    if not 0.0 <= components_to_keep <= 1.0:
        raise ValueError(
            f"components_to_keep was set to {components_to_keep}; a float must lie in [0, 1]"
        )
    if components_to_keep == 1.0:
        return available
    crossed = np.nonzero(np.cumsum(explained_variance_ratio) >= components_to_keep)[0]
    return int(crossed[0]) + 1 if crossed.size else available


def format_multiview_data_for_pca(
    data_arr: Float[Tensor, "batch num_keypoints 2"],
    mirrored_column_matches: Sequence[Sequence[int]],
) -> Float[Tensor, "batch_times_num_matched two_times_num_views"]:
    """One row per (frame, matched keypoint), columns ``x_v0, y_v0, x_v1, y_v1, ...``.

    ``mirrored_column_matches[v][j]`` is the keypoint index of matched keypoint ``j`` in view
    ``v``; rows are ordered frame-major (``row = frame * num_matched + j``).
    """
    index = torch.as_tensor(
        [list(view) for view in mirrored_column_matches], dtype=torch.long, device=data_arr.device
    )  # (views, matched)
    selected = data_arr[:, index, :]  # (batch, views, matched, 2)
    return selected.permute(0, 2, 1, 3).reshape(-1, 2 * index.shape[0])


def _plain_column_matches(matches: Sequence) -> list[list[int]] | list[int]:
    """OmegaConf lists -> plain lists; a flat list of ints stays flat."""
    if len(matches) == 0:
        raise ValueError("mirrored_column_matches is empty")
    if all(isinstance(m, (int, np.integer)) for m in matches):
        return [int(m) for m in matches]
    views = [[int(i) for i in view] for view in matches]
    if len({len(view) for view in views}) != 1:
        raise ValueError(
            f"mirrored_column_matches must list the same number of keypoints for every view, "
            f"got lengths {[len(view) for view in views]}"
        )
    return views


def _check_settings(
    loss_type: str, centering_method: str | None, mirrored_column_matches: Sequence | None
) -> None:
    if loss_type not in ("pca_singleview", "pca_multiview"):
        raise ValueError(
            f"loss_type must be 'pca_singleview' or 'pca_multiview', got {loss_type!r}"
        )
    if centering_method not in (None, "mean", "median"):
        raise ValueError(
            f"centering_method must be None, 'mean' or 'median', got {centering_method!r}"
        )
    if loss_type == "pca_multiview" and mirrored_column_matches is None:
        raise ValueError("pca_multiview needs data.mirrored_column_matches")


class KeypointPCA(nn.Module):
    """PCA of training keypoints, used by the PCA losses and the PCA metrics.

    Construct, then call :meth:`fit` (reads ``data_module.get_training_keypoints()``).

    Args:
        loss_type: ``"pca_singleview"`` or ``"pca_multiview"``.
        data_module: object with ``get_training_keypoints() -> (N, 2*K_total)`` (original-frame
            pixels); a flat ``mirrored_column_matches`` also needs its ``is_multiview`` and
            ``num_views`` attributes.
        components_to_keep: int, or float in [0, 1] (explained-variance threshold);
            ignored for multiview (always 3).
        empirical_epsilon_percentile: percentile (0-100) of the training reprojection errors
            stored as ``epsilon``.
        mirrored_column_matches: one keypoint-index list per view, or (multiview datasets) one
            flat per-view list, expanded to ``[v*K + i for i in list]`` per view.
        columns_for_singleview_pca: keypoint indices used by the singleview PCA (None: all).
        device: optional device for the fitted tensors; they also follow ``.to(device)``.
        centering_method: None, ``"mean"`` or ``"median"``: subtract each frame's keypoint
            centre before the singleview PCA.
    """

    def __init__(
        self,
        loss_type: PCALossType,
        data_module: object,
        components_to_keep: int | float = 0.99,
        empirical_epsilon_percentile: float | int = 99.0,
        mirrored_column_matches: Sequence | None = None,
        columns_for_singleview_pca: Sequence[int] | None = None,
        device: str | torch.device | None = None,
        centering_method: Literal["mean", "median"] | None = None,
    ) -> None:
        super().__init__()
        _check_settings(loss_type, centering_method, mirrored_column_matches)
        self.loss_type = loss_type
        self.data_module = data_module
        self.components_to_keep = components_to_keep
        self.empirical_epsilon_percentile = float(empirical_epsilon_percentile)
        self.mirrored_column_matches = None
        if mirrored_column_matches is not None:
            self.mirrored_column_matches = _plain_column_matches(mirrored_column_matches)
            if isinstance(self.mirrored_column_matches[0], int):
                if not getattr(data_module, "is_multiview", False):
                    raise ValueError(
                        "mirrored_column_matches must contain one list of indices per mirrored "
                        "view; a flat list is only allowed with a multiview data module"
                    )
        self.columns_for_singleview_pca = None
        if columns_for_singleview_pca is not None:
            self.columns_for_singleview_pca = [int(c) for c in columns_for_singleview_pca]
        self.centering_method = centering_method
        self.pca_object: NaNPCA | None = None
        self.n_components_kept: int | None = None
        self.data_arr: Tensor | None = None
        for name in ("mean", "kept_eigenvectors", "discarded_eigenvectors", "epsilon"):
            self.register_buffer(name, torch.zeros(0), persistent=False)
        if device is not None:
            self.to(device)

    @property
    def fitted(self) -> bool:
        return self.pca_object is not None

    def _training_keypoints(self) -> Float[Tensor, "num_frames two_x_num_keypoints"]:
        keypoints = self.data_module.get_training_keypoints()
        if not isinstance(keypoints, Tensor) or keypoints.ndim != 2 or keypoints.shape[1] % 2:
            raise ValueError(
                "data_module.get_training_keypoints() must return a (N, 2*K) float tensor, got "
                f"{type(keypoints).__name__} {tuple(getattr(keypoints, 'shape', ()))}"
            )
        return keypoints.detach().to("cpu", torch.float32)

    def _resolve_columns(self, num_keypoints: int) -> None:
        """Expand a flat per-view match list and check every index against ``num_keypoints``."""
        matches = self.mirrored_column_matches
        if matches is not None and isinstance(matches[0], int):
            num_views = int(self.data_module.num_views)
            if num_keypoints % num_views:
                raise ValueError(
                    f"{num_keypoints} keypoints cannot be split into {num_views} views"
                )
            per_view = num_keypoints // num_views
            self.mirrored_column_matches = [
                [v * per_view + i for i in matches] for v in range(num_views)
            ]
        for key, columns in (
            ("mirrored_column_matches", sum(self.mirrored_column_matches or [], [])),
            ("columns_for_singleview_pca", self.columns_for_singleview_pca or []),
        ):
            bad = [c for c in columns if not 0 <= c < num_keypoints]
            if bad:
                raise ValueError(f"{key} has indices {bad} outside [0, {num_keypoints})")

    def format_data(
        self, data_arr: Float[Tensor, "num_frames two_x_num_keypoints"]
    ) -> Float[Tensor, "num_rows observation_dim"]:
        """Keypoints ``(N, 2K)`` -> PCA observations (see the module docstring)."""
        points = data_arr.reshape(data_arr.shape[0], -1, 2)
        if self.loss_type == "pca_multiview":
            return format_multiview_data_for_pca(points, self.mirrored_column_matches)
        if self.columns_for_singleview_pca is not None:
            points = points[:, self.columns_for_singleview_pca, :]
        if self.centering_method == "mean":
            points = points - points.mean(dim=1, keepdim=True)
        elif self.centering_method == "median":
            # quantile averages the two middle values for an even count (median would not)
            points = points - points.quantile(q=0.5, dim=1, keepdim=True)
        return points.reshape(points.shape[0], -1)

    def _num_components_to_keep(self, pca: NaNPCA) -> int:
        if self.loss_type == "pca_singleview":
            return choose_n_components(pca.explained_variance_ratio_, self.components_to_keep)
        if self.components_to_keep != _MULTIVIEW_COMPONENTS:
            warnings.warn(
                f"pca_multiview always keeps {_MULTIVIEW_COMPONENTS} components; "
                f"components_to_keep={self.components_to_keep} is ignored"
            )
        if pca.n_components_ < _MULTIVIEW_COMPONENTS:
            raise ValueError("pca_multiview needs at least two views (observation dim >= 3)")
        return _MULTIVIEW_COMPONENTS

    def fit(self) -> "KeypointPCA":
        """Fit on the training labels and store mean, eigenvectors and epsilon."""
        keypoints = self._training_keypoints()
        self._resolve_columns(keypoints.shape[1] // 2)
        data = self.format_data(keypoints)
        if data.shape[0] < data.shape[1]:
            raise ValueError(
                f"cannot fit PCA with {data.shape[0]} samples < {data.shape[1]} "
                "observation dimensions"
            )
        pca = NaNPCA().fit(data.numpy())
        n_kept = self._num_components_to_keep(pca)
        device = self.mean.device
        components = torch.tensor(pca.components_, dtype=torch.float, device=device)
        self.mean = torch.tensor(pca.mean_, dtype=torch.float, device=device)
        self.kept_eigenvectors = components[:n_kept].clone()
        self.discarded_eigenvectors = components[n_kept:].clone()
        self.pca_object, self.n_components_kept, self.data_arr = pca, n_kept, data
        errors = self.compute_reprojection_error(data.to(device)).cpu().numpy().ravel()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN errors -> NaN epsilon
            epsilon = float(np.nanpercentile(errors, self.empirical_epsilon_percentile))
        self.epsilon = torch.tensor(epsilon, dtype=torch.float, device=device)
        logger.info(
            "PCA (%s): kept %d/%d components, explained variance ratio %s (kept total %.3f), "
            "empirical epsilon %.3f",
            self.loss_type, n_kept, pca.n_components_, np.round(pca.explained_variance_ratio_, 3),
            float(np.sum(pca.explained_variance_ratio_[:n_kept])), epsilon,
        )
        return self

    def _check_input(self, data_arr: Tensor | None) -> Tensor:
        if not self.fitted:
            raise RuntimeError("KeypointPCA is not fitted; call fit() first")
        data = self.data_arr.to(self.mean.device) if data_arr is None else data_arr
        if data.shape[1] != self.mean.shape[0]:
            raise ValueError(
                f"PCA was fitted on {self.mean.shape[0]}-dimensional observations, "
                f"got data with {data.shape[1]} columns"
            )
        return data

    def reproject(
        self, data_arr: Float[Tensor, "num_samples observation_dim"] | None = None
    ) -> Float[Tensor, "num_samples observation_dim"]:
        """Project onto the kept subspace and back: ``((x - mean) E^T) E + mean``."""
        data = self._check_input(data_arr)
        mean = self.mean.unsqueeze(0)
        low_dimensional = (data - mean) @ self.kept_eigenvectors.T
        return low_dimensional @ self.kept_eigenvectors + mean

    def compute_reprojection_error(
        self, data_arr: Float[Tensor, "num_samples observation_dim"] | None = None
    ) -> Float[Tensor, "num_samples num_points"]:
        """Distance of each 2-D point to its reprojection (on the training data if None)."""
        data = self._check_input(data_arr)
        diff = data - self.reproject(data)
        return torch.linalg.norm(diff.reshape(diff.shape[0], -1, 2), dim=2)
