"""KeypointPCA and NaNPCA on small hand-made label sets."""

import math

import numpy as np
import pytest
import torch

from lightning_pose.utils.pca import (
    KeypointPCA,
    NaNPCA,
    choose_n_components,
    format_multiview_data_for_pca,
)

NAN = float("nan")
MEAN = torch.tensor([10.0, 20.0, 30.0, 40.0])
ALONG = torch.tensor([0.5, 0.5, 0.5, 0.5])  # unit direction of the pose subspace
ACROSS = torch.tensor([1.0, -1.0, 0.0, 0.0]) / math.sqrt(2)  # orthogonal to ALONG


class FixedLabels:
    """Test data module: fixed training labels (frames, 2 * keypoints)."""

    def __init__(self, keypoints: torch.Tensor, num_views: int = 1) -> None:
        self.keypoints = keypoints
        self.num_views = num_views
        self.is_multiview = num_views > 1

    def get_training_keypoints(self) -> torch.Tensor:
        return self.keypoints.clone()


def line_labels() -> torch.Tensor:
    """Five frames of two keypoints on the line MEAN + t * ALONG, t = -2..2."""
    t = torch.arange(-2.0, 3.0)[:, None]
    return MEAN + t * ALONG


def noisy_line_labels() -> torch.Tensor:
    """MEAN + 10 t ALONG + s ACROSS with t = -2..2, s = (1, -2, 2, -2, 1) (sum s = sum t s = 0)."""
    t = 10 * torch.arange(-2.0, 3.0)[:, None]
    s = torch.tensor([1.0, -2.0, 2.0, -2.0, 1.0])[:, None]
    return MEAN + t * ALONG + s * ACROSS


def test_exact_subspace_has_zero_reprojection_error():
    pca = KeypointPCA("pca_singleview", FixedLabels(line_labels()), components_to_keep=1).fit()
    assert pca.n_components_kept == 1
    assert torch.allclose(pca.mean, MEAN)
    assert torch.allclose(pca.kept_eigenvectors, ALONG[None], atol=1e-6)
    assert pca.discarded_eigenvectors.shape == (3, 4)
    on_line = (MEAN + 7.0 * ALONG)[None]
    assert torch.allclose(pca.compute_reprojection_error(on_line), torch.zeros(1, 2), atol=1e-4)
    assert float(pca.epsilon) == pytest.approx(0.0, abs=1e-4)


def test_off_subspace_reprojection_error():
    pca = KeypointPCA("pca_singleview", FixedLabels(line_labels()), components_to_keep=1).fit()
    # 3 * (1, -1, 0, 0) is orthogonal to the line: reprojects to MEAN; keypoint 0 off by 3 sqrt2
    point = (MEAN + torch.tensor([3.0, -3.0, 0.0, 0.0]))[None]
    assert torch.allclose(pca.reproject(point), MEAN[None], atol=1e-4)
    errors = pca.compute_reprojection_error(point)
    assert errors[0].tolist() == pytest.approx([3 * math.sqrt(2), 0.0], abs=1e-4)


def test_empirical_epsilon_is_percentile_of_training_errors():
    # training errors: keypoint 0 -> |s| = 1, 2, 2, 2, 1; keypoint 1 -> 0 (x5)
    # sorted (0,0,0,0,0,1,1,2,2,2): 70th percentile at rank 6.3 -> 1 + 0.3 * (2 - 1) = 1.3
    labels = FixedLabels(noisy_line_labels())
    pca = KeypointPCA("pca_singleview", labels, components_to_keep=1, empirical_epsilon_percentile=70.0)
    pca.fit()
    assert float(pca.epsilon) == pytest.approx(1.3, abs=1e-4)
    pca50 = KeypointPCA("pca_singleview", labels, components_to_keep=1, empirical_epsilon_percentile=50)
    assert float(pca50.fit().epsilon) == pytest.approx(0.5, abs=1e-4)  # (0 + 1) / 2


def test_components_to_keep_float_threshold():
    # variances: 250 along the line, 3.5 across -> ratios 0.98619, 0.01381, 0, 0
    labels = FixedLabels(noisy_line_labels())
    assert KeypointPCA("pca_singleview", labels, components_to_keep=0.95).fit().n_components_kept == 1
    assert KeypointPCA("pca_singleview", labels, components_to_keep=0.99).fit().n_components_kept == 2
    assert KeypointPCA("pca_singleview", labels, components_to_keep=1.0).fit().n_components_kept == 4
    ratio = KeypointPCA("pca_singleview", labels).fit().pca_object.explained_variance_ratio_
    assert ratio[:2] == pytest.approx([250 / 253.5, 3.5 / 253.5], rel=1e-4)


def test_choose_n_components_errors():
    ratio = np.array([0.7, 0.2, 0.1])
    assert choose_n_components(ratio, 2) == 2
    assert choose_n_components(ratio, 0.85) == 2
    with pytest.raises(ValueError, match="components_to_keep"):
        choose_n_components(ratio, 4)
    with pytest.raises(ValueError, match="components_to_keep"):
        choose_n_components(ratio, 1.5)


def test_too_few_rows():
    with pytest.raises(ValueError, match="cannot fit PCA with 3 samples < 4 observation dimensions"):
        KeypointPCA("pca_singleview", FixedLabels(line_labels()[:3])).fit()


def test_singleview_column_selection_and_centering():
    labels = torch.tensor([[0.0, 0.0, 2.0, 4.0, 10.0, 10.0]])  # 3 keypoints
    pca = KeypointPCA("pca_singleview", FixedLabels(labels), columns_for_singleview_pca=[0, 1])
    assert pca.format_data(labels).tolist() == [[0.0, 0.0, 2.0, 4.0]]
    centred = KeypointPCA("pca_singleview", FixedLabels(labels), centering_method="mean")
    # centre (4, 14/3): x - 4, y - 14/3
    expected = [-4.0, -14 / 3, -2.0, 4 - 14 / 3, 6.0, 10 - 14 / 3]
    assert centred.format_data(labels)[0].tolist() == pytest.approx(expected)
    median = KeypointPCA("pca_singleview", FixedLabels(labels), centering_method="median")
    assert median.format_data(labels)[0].tolist() == pytest.approx([-2, -4, 0, 0, 8, 6])


def test_multiview_format_rows_are_frame_keypoint_columns_are_views():
    # 2 frames, 2 views x 3 keypoints; value = 100 * frame + 10 * keypoint + coordinate
    data = torch.tensor(
        [[100.0 * f + 10 * k + c for k in range(6) for c in range(2)] for f in range(2)]
    )
    out = format_multiview_data_for_pca(data.reshape(2, 6, 2), [[0, 2], [3, 5]])
    assert out.shape == (4, 4)  # (frames * matched keypoints, 2 * views)
    assert out.tolist() == [
        [0, 1, 30, 31],
        [20, 21, 50, 51],
        [100, 101, 130, 131],
        [120, 121, 150, 151],
    ]


def test_flat_column_matches_expand_per_view():
    data = torch.randn(8, 12)  # 2 views x 3 keypoints
    pca = KeypointPCA("pca_multiview", FixedLabels(data, num_views=2), components_to_keep=3,
                      mirrored_column_matches=[0, 2]).fit()
    assert pca.mirrored_column_matches == [[0, 2], [3, 5]]
    assert pca.data_arr.shape == (16, 4)
    assert pca.kept_eigenvectors.shape == (3, 4)


def test_flat_column_matches_need_a_multiview_data_module():
    with pytest.raises(ValueError, match="one list of indices per mirrored view"):
        KeypointPCA("pca_multiview", FixedLabels(torch.zeros(8, 12)), mirrored_column_matches=[0, 2])


def test_out_of_range_columns():
    pca = KeypointPCA("pca_singleview", FixedLabels(line_labels()), columns_for_singleview_pca=[0, 5])
    with pytest.raises(ValueError, match=r"columns_for_singleview_pca has indices \[5\]"):
        pca.fit()


def test_fit_with_nan_labels_uses_available_values():
    # one keypoint; x = 0, 2, 4, nan and y = 0, 2, nan, 4: means (2, 2), variances 4 and 4,
    # covariance from the two complete rows: ((-2)(-2) + 0 * 0) / (2 - 1) = 4
    labels = torch.tensor([[0.0, 0.0], [2.0, 2.0], [4.0, NAN], [NAN, 4.0]])
    pca = KeypointPCA("pca_singleview", FixedLabels(labels), components_to_keep=1).fit()
    assert pca.mean.tolist() == pytest.approx([2.0, 2.0])
    assert pca.pca_object.explained_variance_ == pytest.approx([8.0, 0.0], abs=1e-9)
    assert pca.kept_eigenvectors[0].tolist() == pytest.approx([1 / math.sqrt(2)] * 2)
    assert float(pca.epsilon) == pytest.approx(0.0, abs=1e-5)  # NaN rows are ignored
    errors = pca.compute_reprojection_error(torch.tensor([[3.0, 1.0]]))
    assert float(errors[0, 0]) == pytest.approx(math.sqrt(2), rel=1e-5)


def test_nanpca_matches_svd_on_complete_data():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(20, 4)) @ np.diag([5.0, 3.0, 1.0, 0.5])
    pca = NaNPCA().fit(data)
    centred = data - data.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    variance = singular**2 / (len(data) - 1)
    assert pca.explained_variance_ == pytest.approx(variance, rel=1e-9)
    assert pca.explained_variance_ratio_ == pytest.approx(variance / variance.sum(), rel=1e-9)
    assert pca.singular_values_ == pytest.approx(singular, rel=1e-9)
    # same axes up to sign; the sign makes each component's largest-magnitude entry positive
    assert np.allclose(np.abs(pca.components_ @ vt.T), np.eye(4), atol=1e-9)
    largest = pca.components_[np.arange(4), np.abs(pca.components_).argmax(axis=1)]
    assert np.all(largest > 0)


def test_buffers_follow_to_and_stay_out_of_the_state_dict():
    pca = KeypointPCA("pca_singleview", FixedLabels(line_labels()), components_to_keep=1).fit()
    assert pca.state_dict() == {}
    pca.to(torch.float64)
    assert pca.mean.dtype == torch.float64 and pca.kept_eigenvectors.dtype == torch.float64


def test_unfitted_pca_and_wrong_width():
    pca = KeypointPCA("pca_singleview", FixedLabels(line_labels()))
    with pytest.raises(RuntimeError, match="fit"):
        pca.reproject(torch.zeros(1, 4))
    pca.fit()
    with pytest.raises(ValueError, match="4-dimensional"):
        pca.reproject(torch.zeros(1, 6))
