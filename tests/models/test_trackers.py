"""All 8 tracker classes built through ``get_model`` from a config; forward and one training step."""

import pytest
import torch
from omegaconf import OmegaConf

from lightning_pose.config import load_config
from lightning_pose.losses.factory import get_loss_factories
from lightning_pose.models import ALLOWED_MODELS, get_model
from tests.models.batches import labeled_batch, unlabeled_batch

K = 3
MODEL_TYPES = ["regression", "heatmap", "heatmap_mhcrnn", "heatmap_multiview_transformer"]


def make_config(model_type: str, semi: bool, backbone: str | None = None):
    multiview = model_type == "heatmap_multiview_transformer"
    user = {
        "data": {
            "image_resize_dims": {"height": 128, "width": 128},
            "data_dir": "/tmp/unused",
            "video_dir": "/tmp/unused",
            "num_keypoints": K,
            "keypoint_names": [f"kp{i}" for i in range(K)],
        },
        "model": {
            "model_type": model_type,
            "backbone": backbone or ("vits_dino" if multiview else "resnet18"),
            "backbone_pretrained": False,
            "losses_to_use": ["temporal"] if semi else [],
        },
        "training": {"rng_seed_model_pt": 7},
    }
    if multiview:
        user["data"]["view_names"] = ["top", "bottom"]
        user["data"]["csv_file"] = ["top.csv", "bottom.csv"]
    return load_config(OmegaConf.create(user))


def build(model_type: str, semi: bool):
    cfg = make_config(model_type, semi)
    return get_model(cfg, data_module=None, loss_factories=get_loss_factories(cfg, data_module=None))


def batch_for(model_type: str, semi: bool) -> dict:
    views = 2 if model_type == "heatmap_multiview_transformer" else 1
    labeled = labeled_batch(2, K, views=views, context=model_type == "heatmap_mhcrnn")
    if not semi:
        return labeled
    return {"labeled": labeled, "unlabeled": unlabeled_batch(6, views=views)}


@pytest.mark.parametrize("semi", [False, True], ids=["supervised", "semi"])
@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_build_forward_and_training_step(model_type, semi):
    model = build(model_type, semi)
    assert type(model) in ALLOWED_MODELS
    assert type(model).__name__.startswith("SemiSupervised") == semi
    batch = batch_for(model_type, semi)
    labeled = batch["labeled"] if semi else batch
    keypoints, confidences = model.predict_step(labeled, 0)[:2]
    views = 2 if model_type == "heatmap_multiview_transformer" else 1
    assert keypoints.shape == (2, 2 * K * views) and confidences.shape == (2, K * views)
    out = model.training_step(batch, 0)
    loss = out["loss"]
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    head_params = dict(model.head.named_parameters())
    assert head_params
    for name, param in head_params.items():
        assert param.grad is not None, f"head parameter {name} got no gradient"
        assert torch.isfinite(param.grad).all(), name
    if model_type == "heatmap_multiview_transformer":
        assert model.view_embeddings.grad is not None and model.view_embeddings.grad.abs().sum() > 0


def test_semi_supervised_unlabeled_outputs_are_frame_pixels_without_augmentation():
    """Undoing the affine: the same frames with an identity transform give the same keypoints."""
    model = build("heatmap", semi=True).eval()
    batch = unlabeled_batch(4)
    identity = dict(batch, transforms=torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    with torch.no_grad():
        plain = model.get_loss_inputs_unlabeled(identity)
        augmented = model.get_loss_inputs_unlabeled(batch)
    # same heatmaps, so the augmented-space keypoints agree; the un-augmented ones differ by the inverse affine
    torch.testing.assert_close(plain["keypoints_pred_augmented"], augmented["keypoints_pred_augmented"])
    matrix = batch["transforms"]
    kp_aug = augmented["keypoints_pred_augmented"].reshape(4, K, 2)
    expected = torch.linalg.solve(matrix[:, :2], (kp_aug - matrix[:, 2]).reshape(-1, 2).T).T.reshape(4, K, 2)
    expected = expected * torch.tensor([240 / 128, 200 / 128])
    torch.testing.assert_close(augmented["keypoints_pred"].reshape(4, K, 2), expected, atol=1e-3, rtol=1e-4)


def test_same_seed_same_weights():
    a, b = build("heatmap", False), build("heatmap", False)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name


def test_param_groups_and_optimizer():
    model = build("heatmap_multiview_transformer", False)
    groups = model.get_parameters()
    assert [g["name"] for g in groups] == ["backbone", "head", "view_embeddings"]
    assert groups[0]["lr"] == 0
    config = model.configure_optimizers()
    assert config["monitor"] == "val_supervised_loss"
    assert [g["lr"] for g in config["optimizer"].param_groups] == [0, 1e-3, 1e-3]
    assert config["lr_scheduler"].milestones == {150: 1, 200: 1, 250: 1}
