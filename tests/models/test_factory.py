"""Model factory: class lookup, semi-supervision rule, loss compatibility, checkpoint loading."""

import pytest
import torch
import torchvision
from omegaconf import OmegaConf

from lightning_pose.losses.factory import LossFactory
from lightning_pose.losses.temporal import TemporalHeatmapLoss
from lightning_pose.models import (
    HeatmapTracker,
    HeatmapTrackerMHCRNN,
    HeatmapTrackerMultiviewTransformer,
    RegressionTracker,
    SemiSupervisedHeatmapTracker,
    SemiSupervisedHeatmapTrackerMHCRNN,
    SemiSupervisedHeatmapTrackerMultiviewTransformer,
    SemiSupervisedRegressionTracker,
    check_if_semi_supervised,
    get_model,
    get_model_class,
    load_checkpoint,
)
from lightning_pose.models.base import LrNotImplementedError, OptimizerNotImplementedError
from lightning_pose.models.factory import tracker_output_keys, validate_loss_model_compatibility
from tests.models.test_trackers import make_config


@pytest.mark.parametrize(
    "model_type, semi, cls",
    [
        ("regression", False, RegressionTracker),
        ("heatmap", False, HeatmapTracker),
        ("heatmap_mhcrnn", False, HeatmapTrackerMHCRNN),
        ("heatmap_multiview_transformer", False, HeatmapTrackerMultiviewTransformer),
        ("regression", True, SemiSupervisedRegressionTracker),
        ("heatmap", True, SemiSupervisedHeatmapTracker),
        ("heatmap_mhcrnn", True, SemiSupervisedHeatmapTrackerMHCRNN),
        ("heatmap_multiview_transformer", True, SemiSupervisedHeatmapTrackerMultiviewTransformer),
    ],
)
def test_get_model_class(model_type, semi, cls):
    assert get_model_class(model_type, semi) is cls


def test_get_model_class_errors():
    with pytest.raises(NotImplementedError, match="invalid model_type for a fully supervised model"):
        get_model_class("context", False)
    with pytest.raises(NotImplementedError, match="invalid model_type for a semi-supervised model"):
        get_model_class("context", True)


@pytest.mark.parametrize(
    "losses, expected",
    [(None, False), ([], False), ([""], False), (["temporal"], True), (["pca_singleview", "temporal"], True)],
)
def test_check_if_semi_supervised(losses, expected):
    assert check_if_semi_supervised(losses) is expected
    if losses is not None:
        assert check_if_semi_supervised(OmegaConf.create(losses)) is expected


def test_output_keys_by_introspection():
    assert tracker_output_keys(RegressionTracker, "get_loss_inputs_labeled") == {"keypoints_targ", "keypoints_pred"}
    assert tracker_output_keys(SemiSupervisedHeatmapTrackerMHCRNN, "get_loss_inputs_unlabeled") == {
        "heatmaps_pred", "keypoints_pred", "confidences",
    }
    assert "keypoints_pred_augmented" in tracker_output_keys(SemiSupervisedHeatmapTracker, "get_loss_inputs_unlabeled")


def test_incompatible_loss_rejected_at_build_time():
    factory = LossFactory({"temporal_heatmap_mse": {"loss_name": "temporal_heatmap_mse"}}, data_module=None)
    assert isinstance(factory.loss_instance_dict["temporal_heatmap_mse"], TemporalHeatmapLoss)
    with pytest.raises(ValueError, match=r"loss 'temporal_heatmap_mse' requires \['confidences', 'heatmaps_pred'\]"):
        validate_loss_model_compatibility(SemiSupervisedRegressionTracker, None, factory)
    validate_loss_model_compatibility(SemiSupervisedHeatmapTracker, None, factory)  # compatible: no error


def test_optimizer_and_scheduler_errors():
    with pytest.raises(OptimizerNotImplementedError) as err:
        HeatmapTracker(num_keypoints=2, backbone="resnet18", pretrained=False, optimizer="SGD")
    assert err.value.optimizer == "SGD"
    with pytest.raises(LrNotImplementedError) as err:
        HeatmapTracker(num_keypoints=2, backbone="resnet18", pretrained=False, lr_scheduler="cosine")
    assert err.value.lr_scheduler == "cosine"


def lightning_pose_style_state_dict(num_keypoints: int) -> dict:
    """State dict named as Lightning Pose 2.4 names a resnet18 HeatmapTracker (ds=2):
    the torchvision children without avgpool/fc under ``backbone.``, the head's
    PixelShuffle + 2 ConvTranspose layers under ``head.upsampling_layers.``."""
    resnet = torchvision.models.resnet18(weights=None)
    trunk = torch.nn.Sequential(*list(resnet.children())[:-2])
    state = {f"backbone.{k}": v.clone() for k, v in trunk.state_dict().items()}
    state["head.upsampling_layers.1.weight"] = torch.randn(128, num_keypoints, 3, 3)
    state["head.upsampling_layers.1.bias"] = torch.randn(num_keypoints)
    state["head.upsampling_layers.2.weight"] = torch.randn(num_keypoints, num_keypoints, 3, 3)
    state["head.upsampling_layers.2.bias"] = torch.randn(num_keypoints)
    return state


def test_lightning_pose_checkpoint_loads_strictly(tmp_path):
    state = lightning_pose_style_state_dict(3)
    hparams = {
        "num_keypoints": 3, "num_targets": 6, "backbone": "resnet18", "downsample_factor": 2,
        "pretrained": False, "torch_seed": 0, "optimizer": "Adam", "optimizer_params": {"learning_rate": 1e-3},
        "lr_scheduler": "multisteplr", "lr_scheduler_params": {"milestones": [150, 200, 250], "gamma": 0.5},
        "image_size": 128, "backbone_checkpoint": None,
    }
    path = tmp_path / "epoch=1-step=10-best.ckpt"
    torch.save({"state_dict": state, "hyper_parameters": hparams, "pytorch-lightning_version": "2.5.0"}, path)
    model = HeatmapTracker.load_from_checkpoint(str(path), strict=True)
    for key, value in state.items():
        assert torch.equal(model.state_dict()[key], value), key
    # the factory loader: strict by default, from the file or from its directory
    other = HeatmapTracker(num_keypoints=3, backbone="resnet18", pretrained=False, image_size=128)
    report = load_checkpoint(other, str(tmp_path))
    assert report.complete and report.path == str(path)
    torch.testing.assert_close(other.head.upsampling_layers[2].bias, state["head.upsampling_layers.2.bias"])


def test_legacy_head_keys_are_renamed(tmp_path):
    state = lightning_pose_style_state_dict(3)
    legacy = {k.replace("head.upsampling_layers", "upsampling_layers"): v for k, v in state.items()}
    torch.save({"state_dict": legacy}, tmp_path / "old.ckpt")
    model = HeatmapTracker(num_keypoints=3, backbone="resnet18", pretrained=False)
    assert load_checkpoint(model, str(tmp_path / "old.ckpt")).complete
    assert torch.equal(model.head.upsampling_layers[1].weight, state["head.upsampling_layers.1.weight"])


def test_mismatched_checkpoint_is_strict_by_default_and_partial_on_request(tmp_path):
    torch.save({"state_dict": lightning_pose_style_state_dict(3)}, tmp_path / "k3.ckpt")
    model = HeatmapTracker(num_keypoints=5, backbone="resnet18", pretrained=False)
    before = model.head.upsampling_layers[1].weight.clone()
    with pytest.raises(RuntimeError, match="shape mismatch.*head.upsampling_layers.1.weight.*checkpoint_strict=false"):
        load_checkpoint(model, str(tmp_path / "k3.ckpt"))
    report = load_checkpoint(model, str(tmp_path / "k3.ckpt"), strict=False)
    assert report.mismatched_keys == sorted(k for k in lightning_pose_style_state_dict(3) if k.startswith("head."))
    assert not report.missing_keys and not report.unexpected_keys
    assert torch.equal(model.head.upsampling_layers[1].weight, before)  # skipped, not overwritten
    loaded = torch.load(tmp_path / "k3.ckpt")["state_dict"]["backbone.0.weight"]
    assert torch.equal(model.backbone[0].weight, loaded)


def test_get_model_loads_checkpoint_from_config(tmp_path):
    cfg = make_config("heatmap", semi=False)
    source = get_model(cfg)
    torch.save({"state_dict": source.state_dict()}, tmp_path / "model.ckpt")
    cfg.model.checkpoint = str(tmp_path / "model.ckpt")
    cfg.training.rng_seed_model_pt = 99  # different init, then overwritten by the checkpoint
    restored = get_model(cfg)
    for (name, a), b in zip(source.state_dict().items(), restored.state_dict().values()):
        assert torch.equal(a, b), name
    with pytest.raises(FileNotFoundError, match="no .ckpt file found under"):
        cfg.model.checkpoint = str(tmp_path / "empty_dir")
        (tmp_path / "empty_dir").mkdir()
        get_model(cfg)
