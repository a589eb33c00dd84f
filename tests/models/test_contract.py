"""Registry-wide contract: every backbone x model type either builds and trains, or is rejected
at build time with a clear error."""

import pytest
import torch
from omegaconf import OmegaConf

from lightning_pose.config import load_config
from lightning_pose.losses.factory import get_loss_factories
from lightning_pose.models import get_model
from lightning_pose.models.backbones import ALLOWED_TRANSFORMER_BACKBONES_MULTIVIEW, BACKBONES
from lightning_pose.models.performance import apply_speed_options
from lightning_pose.models.registry import SUPERVISED_TRACKERS
from tests.models.batches import labeled_batch

K = 2
SIZE = 64


def expected_rejection(backbone: str, model_type: str) -> str | None:
    family = BACKBONES.metadata(backbone)["family"]
    if model_type == "regression" and family == "transformer":
        return "does not support transformer backbones"
    if model_type == "heatmap_multiview_transformer" and backbone not in ALLOWED_TRANSFORMER_BACKBONES_MULTIVIEW:
        return "cannot be used by the multiview transformer"
    return None


def config_for(backbone: str, model_type: str, ds: int = 2):
    multiview = model_type == "heatmap_multiview_transformer"
    user = {
        "data": {
            "image_resize_dims": {"height": 128, "width": 128},
            "data_dir": "/unused",
            "num_keypoints": K,
            "downsample_factor": ds,
            "view_names": ["a", "b"] if multiview else None,
            "csv_file": ["a.csv", "b.csv"] if multiview else "CollectedData.csv",
        },
        "model": {"model_type": model_type, "backbone": backbone, "backbone_pretrained": False},
    }
    return load_config(OmegaConf.create(user))


def build(backbone: str, model_type: str, ds: int = 2):
    cfg = config_for(backbone, model_type, ds)
    return get_model(cfg, None, get_loss_factories(cfg, None))


def check_trains(model, model_type: str, ds: int = 2) -> None:
    views = 2 if model_type == "heatmap_multiview_transformer" else 1
    batch = labeled_batch(2, K, size=SIZE, ds=ds, views=views, context=model_type == "heatmap_mhcrnn")
    model.train()
    loss = model.loss_factory(stage=None, **model.get_loss_inputs_labeled(batch))[0]
    assert torch.isfinite(loss), loss
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(param.grad).all(), f"{name} has a non-finite gradient"


@pytest.mark.parametrize("model_type", SUPERVISED_TRACKERS.names())
@pytest.mark.parametrize("backbone", BACKBONES.names())
def test_backbone_x_model_type(backbone, model_type):
    reason = expected_rejection(backbone, model_type)
    if reason is not None:
        with pytest.raises(ValueError, match=reason):
            build(backbone, model_type)
        return
    check_trains(build(backbone, model_type), model_type)


@pytest.mark.parametrize("backbone, ds", [("resnet18", 1), ("resnet18", 3), ("vits_dino", 1)])
def test_other_downsample_factors(backbone, ds):
    model = build(backbone, "heatmap", ds)
    check_trains(model, "heatmap", ds)


def test_stride16_ds3_rejected_at_build_time():
    with pytest.raises(ValueError, match="stride 16.*downsample_factor=3"):
        build("vits_dino", "heatmap", 3)


def test_mhcrnn_needs_downsample_factor_2():
    with pytest.raises(NotImplementedError, match="downsample_factor=2 only"):
        build("resnet18", "heatmap_mhcrnn", 3)


@pytest.mark.parametrize("model_type", SUPERVISED_TRACKERS.names())
def test_speed_options_reach_the_modules_the_forward_pass_runs(model_type):
    """compile and channels-last act on ``backbone_entry_modules``: the forward pass must call each
    of them (else compiling them does nothing), and images in NHWC reach the first convolution."""
    backbone = "vits_dino" if model_type == "heatmap_multiview_transformer" else "resnet18"
    model = apply_speed_options(build(backbone, model_type), channels_last=True, compile=True)
    modules = model.backbone_entry_modules()
    assert modules and all(module._compiled_call_impl is not None for module in modules)
    calls = [0] * len(modules)
    for index, module in enumerate(modules):
        module.register_forward_pre_hook(lambda *_, index=index: calls.__setitem__(index, calls[index] + 1))
    first_conv = next(m for m in modules[0].modules() if isinstance(m, torch.nn.Conv2d))
    layouts = []
    first_conv.register_forward_pre_hook(
        lambda _, args: layouts.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    for module in modules:  # run them eagerly: compiling is not what this test is about
        module._compiled_call_impl = None
    views = 2 if model_type == "heatmap_multiview_transformer" else 1
    batch = labeled_batch(2, K, size=SIZE, views=views, context=model_type == "heatmap_mhcrnn")
    with torch.no_grad():
        model.eval().get_loss_inputs_labeled(batch)
    assert calls == [1] * len(modules)  # one batched backbone pass (context frames and views included)
    assert layouts == [True]
