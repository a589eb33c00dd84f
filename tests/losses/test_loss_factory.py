"""LossFactory weighting / annealing / logs, and get_loss_factories from a config."""

import math

import pytest
import torch
from omegaconf import OmegaConf

from lightning_pose.losses.factory import LossFactory, get_loss_classes, get_loss_factories, per_view_epsilon
from lightning_pose.losses.losses import (
    HeatmapKLLoss,
    PCALoss,
    RegressionMSELoss,
    ReprojectionHeatmapLoss,
    TemporalLoss,
)

SQRT2 = math.sqrt(2)


class FixedLabels:
    """Test data module: fixed training labels (frames, 2 * keypoints)."""

    def __init__(self, keypoints: torch.Tensor, num_views: int = 1) -> None:
        self.keypoints = keypoints
        self.num_views = num_views
        self.is_multiview = num_views > 1

    def get_training_keypoints(self) -> torch.Tensor:
        return self.keypoints.clone()


def loss_inputs():
    """Heatmap MSE = 0.5 (see test_heatmap_losses), temporal = 2, regression MSE = 4."""
    return {
        "heatmaps_targ": torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]]),
        "heatmaps_pred": torch.tensor([[[[0.5, 0.5], [0.0, 0.0]]]]),
        "keypoints_pred": torch.tensor([[0.0, 0.0], [SQRT2, SQRT2]]),
        "keypoints_targ": torch.tensor([[2.0, 2.0], [2.0 + SQRT2, 2.0 + SQRT2]]),
    }


def test_total_is_weighted_sum_with_anneal_only_on_unsupervised_losses():
    factory = LossFactory(
        {"heatmap_mse": {"log_weight": 0.0}, "temporal": {"log_weight": 1.0}}, data_module=None
    )
    total, logs = factory(stage="train", anneal_weight=0.3, **loss_inputs())
    # 0.5 * 0.5 (supervised, not annealed) + 0.3 * (1 / (2e)) * 2
    assert float(total) == pytest.approx(0.25 + 0.3 / math.e)
    names = [entry["name"] for entry in logs]
    assert names == [
        "train_heatmap_mse_loss", "heatmap_mse_weight", "train_heatmap_mse_loss_weighted",
        "train_temporal_loss", "temporal_weight", "train_temporal_loss_weighted",
    ]
    assert float(logs[2]["value"]) == pytest.approx(0.25)
    assert float(logs[5]["value"]) == pytest.approx(1 / math.e)  # weighted, not annealed


def test_anneal_none_means_one():
    factory = LossFactory(
        {"heatmap_mse": {"log_weight": 0.0}, "temporal": {"log_weight": 1.0}}, data_module=None
    )
    total, _ = factory(stage=None, anneal_weight=None, **loss_inputs())
    assert float(total) == pytest.approx(0.25 + 1 / math.e)


def test_supervised_regression_loss_is_not_annealed():
    # Lightning Pose would multiply this by the anneal weight (0 at the start of training)
    factory = LossFactory({"regression": {"log_weight": 0.0}}, data_module=None)
    total, logs = factory(stage="train", anneal_weight=torch.tensor(0.0), **loss_inputs())
    assert float(total) == pytest.approx(0.5 * 4.0)
    assert logs[0]["name"] == "train_regression_loss"


def test_empty_factory_returns_zero_and_factories_hold_no_state():
    total, logs = LossFactory({}, data_module=None)(stage="train", **loss_inputs())
    assert float(total) == 0.0 and logs == []
    factory = LossFactory({"temporal": {"epsilon": [1.0, 2.0]}}, data_module=None)
    assert factory.state_dict() == {} and list(factory.parameters()) == []
    factory.to(torch.float64)
    assert factory.loss_instance_dict["temporal"].epsilon.dtype == torch.float64


def test_unknown_loss_name_lists_allowed_names():
    with pytest.raises(ValueError, match="allowed"):
        LossFactory({"heatmap_wasserstein": {}}, data_module=None)
    assert set(get_loss_classes()) >= {"regression", "temporal", "pca_multiview"}


def make_cfg(model_type="heatmap", losses_to_use=(), view_names=None, camera_params_file=None,
             heatmap_loss_type="mse", mirrored_column_matches=None, pairwise_log_weight=None):
    return OmegaConf.create({
        "model": {
            "model_type": model_type,
            "heatmap_loss_type": heatmap_loss_type,
            "losses_to_use": list(losses_to_use),
        },
        "data": {
            "view_names": view_names,
            "camera_params_file": camera_params_file,
            "num_keypoints": 2,
            "mirrored_column_matches": mirrored_column_matches,
            "columns_for_singleview_pca": [0, 1],
            "image_resize_dims": {"height": 64, "width": 128},
            "downsample_factor": 2,
        },
        "losses": {
            "pca_singleview": {"log_weight": 5.0, "components_to_keep": 1, "epsilon": None,
                               "empirical_epsilon_percentile": 99.0},
            "pca_multiview": {"log_weight": 5.0, "components_to_keep": 3, "epsilon": None},
            "temporal": {"log_weight": 5.0, "epsilon": [1.0, 2.0], "prob_threshold": 0.05},
            "temporal_heatmap_mse": {"log_weight": 5.0, "epsilon": 0.0, "prob_threshold": 0.0},
            "supervised_pairwise_projections": {"log_weight": pairwise_log_weight},
            "supervised_reprojection_heatmap_mse": {"log_weight": 3.0},
        },
    })


def keys(factory):
    return list(factory.loss_instance_dict.keys())


@pytest.mark.parametrize(
    "model_type, loss_type, expected",
    [
        ("heatmap", "mse", ["heatmap_mse"]),
        ("heatmap", "kl", ["heatmap_kl"]),
        ("heatmap_mhcrnn", "js", ["heatmap_js"]),
        ("regression", "mse", ["regression"]),
        ("heatmap_multiview_transformer", "mse", ["heatmap_mse"]),  # no camera file
    ],
)
def test_supervised_factory_per_model_type(model_type, loss_type, expected):
    factories = get_loss_factories(make_cfg(model_type, heatmap_loss_type=loss_type), None)
    assert set(factories) == {"supervised", "unsupervised"}
    assert keys(factories["supervised"]) == expected
    assert keys(factories["unsupervised"]) == []
    assert float(factories["supervised"].loss_instance_dict[expected[0]].weight) == 0.5
    if loss_type == "kl":
        assert isinstance(factories["supervised"].loss_instance_dict["heatmap_kl"], HeatmapKLLoss)
    if model_type == "regression":
        assert isinstance(factories["supervised"].loss_instance_dict["regression"], RegressionMSELoss)


def test_multiview_3d_losses_with_camera_params():
    cfg = make_cfg("heatmap_multiview_transformer", view_names=["top", "bot"],
                   camera_params_file="calib.csv")
    supervised = get_loss_factories(cfg, None)["supervised"]
    assert keys(supervised) == ["heatmap_mse", "supervised_reprojection_heatmap_mse"]
    reprojection = supervised.loss_instance_dict["supervised_reprojection_heatmap_mse"]
    assert isinstance(reprojection, ReprojectionHeatmapLoss)
    assert (reprojection.original_image_height, reprojection.original_image_width) == (64, 128)
    assert (reprojection.downsampled_image_height, reprojection.downsampled_image_width) == (16, 32)
    assert float(reprojection.log_weight) == 3.0
    cfg = make_cfg("heatmap_multiview_transformer", view_names=["top", "bot"],
                   camera_params_file="calib.csv", pairwise_log_weight=2.0)
    assert keys(get_loss_factories(cfg, None)["supervised"]) == [
        "heatmap_mse", "supervised_pairwise_projections", "supervised_reprojection_heatmap_mse",
    ]


def test_unsupervised_losses_from_config():
    labels = torch.arange(-2.0, 3.0)[:, None] * torch.tensor([1.0, 2.0, 3.0, 4.0])
    cfg = make_cfg("heatmap", losses_to_use=["pca_singleview", "temporal"])
    unsupervised = get_loss_factories(cfg, FixedLabels(labels))["unsupervised"]
    assert keys(unsupervised) == ["pca_singleview", "temporal"]
    pca = unsupervised.loss_instance_dict["pca_singleview"]
    assert isinstance(pca, PCALoss) and pca.pca.columns_for_singleview_pca == [0, 1]
    temporal = unsupervised.loss_instance_dict["temporal"]
    assert isinstance(temporal, TemporalLoss)
    assert temporal.epsilon.tolist() == [1.0, 2.0]
    assert float(temporal.prob_threshold) == pytest.approx(0.05)
    _, logs = unsupervised(stage="train", keypoints_pred=labels)
    assert [entry["name"] for entry in logs] == [
        "train_pca_singleview_loss", "pca_singleview_weight", "train_pca_singleview_loss_weighted",
        "train_temporal_loss", "temporal_weight", "train_temporal_loss_weighted",
    ]


def test_pca_multiview_matches_are_expanded_per_view():
    labels = torch.randn(6, 8, generator=torch.Generator().manual_seed(1))  # 2 views x 2 kps
    cfg = make_cfg("heatmap_multiview_transformer", losses_to_use=["pca_multiview"],
                   view_names=["top", "bot"], mirrored_column_matches=[0, 1])
    unsupervised = get_loss_factories(cfg, FixedLabels(labels, num_views=2))["unsupervised"]
    pca = unsupervised.loss_instance_dict["pca_multiview"]
    assert pca.pca.mirrored_column_matches == [[0, 1], [2, 3]]


def test_per_keypoint_temporal_epsilon_is_repeated_for_every_view():
    """``epsilon: [1, 2]`` names the 2 keypoints of a view; with 2 views the tracker predicts 4."""
    cfg = make_cfg("heatmap", losses_to_use=["temporal"], view_names=["top", "bot"])
    temporal = get_loss_factories(cfg, None)["unsupervised"].loss_instance_dict["temporal"]
    assert temporal.epsilon.tolist() == [1.0, 2.0, 1.0, 2.0]
    # one value per keypoint of every view passes through; single-view data is unchanged
    assert per_view_epsilon([1.0, 2.0, 3.0, 4.0], 2, 2) == [1.0, 2.0, 3.0, 4.0]
    assert per_view_epsilon(5.0, 2, 2) == 5.0
    single = get_loss_factories(make_cfg("heatmap", losses_to_use=["temporal"]), None)["unsupervised"]
    assert single.loss_instance_dict["temporal"].epsilon.tolist() == [1.0, 2.0]


def test_pca_singleview_with_several_views_is_not_implemented():
    cfg = make_cfg("heatmap_multiview_transformer", losses_to_use=["pca_singleview"],
                   view_names=["top", "bot"])
    with pytest.raises(NotImplementedError, match="pca_singleview"):
        get_loss_factories(cfg, FixedLabels(torch.zeros(6, 8), num_views=2))


def test_loss_without_config_section_and_unknown_loss():
    cfg = make_cfg(losses_to_use=["temporal_heatmap_kl"])
    with pytest.raises(KeyError, match="temporal_heatmap_kl"):
        get_loss_factories(cfg, None)
    with pytest.raises(ValueError, match="allowed"):
        get_loss_factories(make_cfg(losses_to_use=["unimodal_mse"]), None)


def test_temporal_heatmap_loss_needs_a_heatmap_model():
    heatmap = get_loss_factories(make_cfg(losses_to_use=["temporal_heatmap_mse"]), None)
    assert keys(heatmap["unsupervised"]) == ["temporal_heatmap_mse"]
    with pytest.raises(NotImplementedError, match="temporal_heatmap_mse"):
        get_loss_factories(make_cfg("regression", losses_to_use=["temporal_heatmap_mse"]), None)
