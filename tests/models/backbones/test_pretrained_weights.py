"""Pretrained weights: read from the local caches and loaded exactly, or a clear error."""

import logging
import pathlib

import huggingface_hub.constants
import pytest
import torch
import torchvision.models as tvm
from transformers import ViTConfig, ViTModel

from lightning_pose.models.backbones.base import UnsafeCheckpointError, allow_unsafe_checkpoints, load_weights_file
from lightning_pose.models.backbones import (
    PretrainedWeightsNotFoundError,
    build_backbone,
    is_offline,
    torch_hub_checkpoint_path,
)

RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
AP10K_URL = (
    "https://download.openmmlab.com/mmpose/animal/resnet/res50_ap10k_256x256-35760eb8_20211029.pth"
)


@pytest.fixture
def caches(monkeypatch, tmp_path) -> dict[str, pathlib.Path]:
    """Offline mode with empty torch and HuggingFace caches under ``tmp_path``."""
    monkeypatch.setenv("LP_OFFLINE", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    return {
        "torch": tmp_path / "torch" / "hub" / "checkpoints",
        "hf": tmp_path / "hf" / "hub",
    }


def test_offline_switches(monkeypatch):
    monkeypatch.delenv("LP_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert not is_offline()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert is_offline()
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("LP_OFFLINE", "1")
    assert is_offline()


def test_cache_path_follows_torch_home(caches):
    assert torch_hub_checkpoint_path(RESNET18_URL) == caches["torch"] / "resnet18-f37072fd.pth"


@pytest.mark.parametrize(
    ("name", "url", "file_name"),
    [
        ("resnet18", RESNET18_URL, "resnet18-f37072fd.pth"),
        ("resnet50_animal_ap10k", AP10K_URL, "res50_ap10k_256x256-35760eb8_20211029.pth"),
    ],
)
def test_missing_convnet_weights_name_backbone_path_and_url(caches, name, url, file_name):
    with pytest.raises(PretrainedWeightsNotFoundError) as info:
        build_backbone(name, pretrained=True)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert repr(name) in message
    assert str(caches["torch"] / file_name) in message
    assert url in message


def test_hf_offline_alone_also_prevents_downloads(caches, monkeypatch):
    monkeypatch.delenv("LP_OFFLINE")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PretrainedWeightsNotFoundError, match="downloads are disabled"):
        build_backbone("efficientnet_b0", pretrained=True)


def _resnet18_weights(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return tvm.resnet18(weights=None).state_dict()


def _assert_resnet18_backbone_holds(backbone: torch.nn.Module, weights: dict) -> None:
    state = backbone.state_dict()
    assert torch.equal(state["0.weight"], weights["conv1.weight"])
    assert torch.equal(state["1.running_mean"], weights["bn1.running_mean"])
    assert torch.equal(state["4.0.conv1.weight"], weights["layer1.0.conv1.weight"])
    assert torch.equal(state["7.1.bn2.bias"], weights["layer4.1.bn2.bias"])


def test_cached_torchvision_file_is_loaded(caches):
    weights = _resnet18_weights(seed=11)
    caches["torch"].mkdir(parents=True)
    torch.save(weights, caches["torch"] / "resnet18-f37072fd.pth")
    torch.manual_seed(0)  # a different random initialisation underneath
    backbone, channels = build_backbone("resnet18", pretrained=True)
    assert channels == 512
    _assert_resnet18_backbone_holds(backbone, weights)


def test_explicit_backbone_checkpoint_is_loaded(caches, tmp_path):
    weights = _resnet18_weights(seed=12)
    path = tmp_path / "my_resnet18.pth"
    torch.save(weights, path)
    backbone, _ = build_backbone("resnet18", pretrained=True, backbone_checkpoint=str(path))
    _assert_resnet18_backbone_holds(backbone, weights)
    with pytest.raises(PretrainedWeightsNotFoundError, match="missing.pth"):
        build_backbone("resnet18", backbone_checkpoint=str(tmp_path / "missing.pth"))


def test_weights_of_another_architecture_are_rejected(caches, tmp_path):
    path = tmp_path / "b0.pth"
    torch.save(tvm.efficientnet_b0(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match="b0.pth"):
        build_backbone("resnet18", backbone_checkpoint=path)


def test_cached_mmpose_checkpoint_loads_its_backbone_part(caches):
    torch.manual_seed(5)
    conv1 = torch.randn(64, 3, 7, 7)
    conv3 = torch.randn(2048, 512, 1, 1)
    checkpoint = {
        "meta": {"epoch": 210},
        "state_dict": {
            "backbone.conv1.weight": conv1,
            "backbone.layer4.2.conv3.weight": conv3,
            "keypoint_head.final_layer.weight": torch.randn(17, 256, 1, 1),
        },
    }
    caches["torch"].mkdir(parents=True)
    torch.save(checkpoint, caches["torch"] / "res50_ap10k_256x256-35760eb8_20211029.pth")
    backbone, _ = build_backbone("resnet50_animal_ap10k", pretrained=True)
    state = backbone.state_dict()
    assert torch.equal(state["0.weight"], conv1)
    assert torch.equal(state["7.2.conv3.weight"], conv3)
    assert torch.equal(state["1.weight"], torch.ones(64))  # not in the file: default init

    checkpoint["state_dict"] = {"keypoint_head.final_layer.weight": torch.randn(17, 256, 1, 1)}
    torch.save(checkpoint, caches["torch"] / "res50_ap10k_256x256-35760eb8_20211029.pth")
    with pytest.raises(ValueError, match="no backbone weights"):
        build_backbone("resnet50_animal_ap10k", pretrained=True)


def test_missing_vit_weights_name_hf_id_and_cache(caches):
    with pytest.raises(PretrainedWeightsNotFoundError) as info:
        build_backbone("vits_dino", pretrained=True)
    message = str(info.value)
    assert "'vits_dino'" in message and "facebook/dino-vits16" in message
    assert str(caches["hf"]) in message


def _put_in_hf_cache(cache: pathlib.Path, hf_id: str, model: ViTModel) -> None:
    repo = cache / f"models--{hf_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    model.save_pretrained(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


def test_cached_hf_vit_is_loaded(caches):
    config = ViTConfig(
        hidden_size=384, num_hidden_layers=1, num_attention_heads=6, intermediate_size=64
    )
    saved = ViTModel(config, add_pooling_layer=False)
    _put_in_hf_cache(caches["hf"], "facebook/dino-vits16", saved)
    backbone, channels = build_backbone("vits_dino", pretrained=True)
    assert channels == 384
    loaded = backbone.state_dict()
    for key, value in saved.state_dict().items():
        assert torch.equal(loaded[f"vision_encoder.{key}"], value)


def test_cached_hf_vit_of_the_wrong_width_is_rejected(caches):
    config = ViTConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    narrow = ViTModel(config, add_pooling_layer=False)
    _put_in_hf_cache(caches["hf"], "facebook/dino-vitb16", narrow)
    with pytest.raises(ValueError, match="768"):
        build_backbone("vitb_dino", pretrained=True)


class _Pickled:
    """An object torch's weights-only unpickler refuses (loading it runs arbitrary code)."""

    def __init__(self) -> None:
        self.note = "metadata"


def test_pickled_objects_are_refused_unless_explicitly_allowed(tmp_path, caplog):
    path = tmp_path / "weights.pth"
    torch.save({"state_dict": {"w": torch.ones(2)}, "meta": _Pickled()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"weights.pth cannot be read with torch.load\(weights_only=True\)"
                       r".*set model.allow_unsafe_checkpoints: true"):
        load_weights_file(path)
    with caplog.at_level(logging.WARNING), allow_unsafe_checkpoints(True):
        loaded = load_weights_file(path)
    assert torch.equal(loaded["state_dict"]["w"], torch.ones(2)) and loaded["meta"].note == "metadata"
    assert "weights_only=False (model.allow_unsafe_checkpoints is true)" in caplog.text
    with pytest.raises(UnsafeCheckpointError):  # the permission ends with the block
        load_weights_file(path)
    torch.save({"state_dict": {"w": torch.ones(2)}}, tmp_path / "plain.pth")
    assert torch.equal(load_weights_file(tmp_path / "plain.pth")["state_dict"]["w"], torch.ones(2))
