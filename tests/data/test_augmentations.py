"""Augmentation pipelines keep keypoints on the image content they label (lightning_pose.data.augmentations)."""

import pickle

import cv2
import numpy as np
import pytest
import torch

from lightning_pose.data.augmentation_warps import Affine, ElasticTransformation, rotation_scale_shear_matrix
from lightning_pose.data.augmentation_ops import (
    CoarseDropout,
    CoarseSalt,
    Emboss,
    MotionBlur,
    _motion_kernel,
    resize_image_cubic,
)
from lightning_pose.data.augmentations import (
    AUGMENTATION_PRESETS,
    AugmentationPipeline,
    build_augmentation,
    expand_imgaug_str_to_dict,
    imgaug_transform,
)

H0, W0 = 72, 56  # non-square on purpose
SQUARE_X, SQUARE_Y, HALF = 18, 26, 3


def square_image() -> torch.Tensor:
    """Dark image with a bright square covering [x-3, x+3) x [y-3, y+3): its centre is (x, y)."""
    img = torch.zeros(3, H0, W0, dtype=torch.uint8)
    img[:, SQUARE_Y - HALF:SQUARE_Y + HALF, SQUARE_X - HALF:SQUARE_X + HALF] = 255
    return img


def bright_centroid(image: torch.Tensor) -> torch.Tensor:
    """Intensity-weighted centre of the image in continuous pixel coordinates (x, y)."""
    m = image[0].float()
    ys = torch.arange(m.shape[0], dtype=torch.float32)[:, None] + 0.5
    xs = torch.arange(m.shape[1], dtype=torch.float32)[None, :] + 0.5
    return torch.stack([(m * xs).sum() / m.sum(), (m * ys).sum() / m.sum()])


def assert_keypoint_on_square(pipeline: AugmentationPipeline, draws: int, tol: float) -> None:
    keypoints = torch.tensor([[float(SQUARE_X), float(SQUARE_Y)]])
    for _ in range(draws):
        out, kps = pipeline(square_image(), keypoints)
        x, y = kps[0].tolist()
        assert 0 <= x < out.shape[-1] and 0 <= y < out.shape[-2], (x, y)
        assert out[0, int(y), int(x)] > 127, "keypoint is not on the bright square"
        assert torch.linalg.norm(kps[0] - bright_centroid(out)) < tol


@pytest.mark.parametrize(
    ("name", "kwargs", "tol"),
    [
        ("Rot90", {"k": [[0, 1, 2, 3]]}, 0.2),  # dlc-top-down quarter turns (kept at input size)
        ("Rot90", {"k": [[1, 3]], "keep_size": False}, 0.25),
        ("Affine", {"rotate": [-25, 25]}, 0.3),  # dlc rotation
        ("CropAndPad", {"percent": [-0.15, 0.15], "keep_size": False}, 0.25),  # dlc crop/pad
        ("ElasticTransformation", {"alpha": [0, 10], "sigma": 5}, 0.6),
    ],
)
def test_geometric_ops_move_keypoints_with_the_image(name, kwargs, tol):
    torch.manual_seed(0)
    pipeline = imgaug_transform({name: {"p": 1.0, "kwargs": kwargs}}).with_resize(64, 64)
    assert_keypoint_on_square(pipeline, draws=12, tol=tol)


def test_affine_rotates_clockwise_on_screen_about_the_centre_as_imgaug():
    """A 90-degree rotation of a square image is a quarter turn: pixel (row r, column c) of an
    N x N image goes to (row c, column N-1-r), clockwise on screen; its keypoint follows exactly."""
    image = torch.zeros(3, 9, 9, dtype=torch.uint8)
    image[:, 2, 6] = 200  # row 2, column 6 -> centre (6.5, 2.5)
    op = Affine(rotate=90.0)
    out, kps = AugmentationPipeline([op])(image, torch.tensor([[6.5, 2.5]]))
    assert torch.equal(out, torch.rot90(image, k=-1, dims=(-2, -1)))  # k=-1: clockwise
    assert out[0, 6, 6] == 200 and torch.allclose(kps, torch.tensor([[6.5, 6.5]]), atol=1e-5)


def test_affine_matrix_scales_and_shears_about_the_centre():
    m = rotation_scale_shear_matrix(0.0, 2.0, 0.0, height=5, width=7)  # centre (3, 2) in OpenCV coordinates
    assert np.allclose(m, [[2.0, 0.0, -3.0], [0.0, 2.0, -2.0]])
    m = rotation_scale_shear_matrix(0.0, 1.0, 45.0, height=5, width=7)  # x += tan(45 deg) * (y - 2)
    assert np.allclose(m @ np.array([3.0, 4.0, 1.0]), [5.0, 4.0])


def test_elastic_with_zero_alpha_is_the_identity_and_keeps_nan_keypoints():
    torch.manual_seed(3)
    image = square_image()
    kps = torch.tensor([[10.0, 20.0], [float("nan"), float("nan")]])
    out, moved = AugmentationPipeline([ElasticTransformation(alpha=0.0, sigma=5.0)])(image, kps)
    assert torch.equal(out, image)
    assert torch.equal(moved[0], kps[0]) and moved[1].isnan().all()


def test_warps_apply_the_same_warp_to_every_context_frame():
    torch.manual_seed(4)
    frames = torch.stack([square_image()] * 5)
    for op in (Affine(rotate=(-25.0, 25.0)), ElasticTransformation(alpha=(5.0, 10.0), sigma=5.0)):
        out, _ = AugmentationPipeline([op])(frames, torch.tensor([[18.0, 26.0]]))
        assert out.shape == frames.shape and not torch.equal(out[0], frames[0])
        assert all(torch.equal(out[0], out[t]) for t in range(1, 5))


def test_rot90_quarter_turn_is_exact():
    torch.manual_seed(0)
    pipeline = imgaug_transform({"Rot90": {"p": 1.0, "kwargs": {"k": 1, "keep_size": False}}})
    image = torch.zeros(3, 4, 6, dtype=torch.uint8)
    image[:, 1, 4] = 200  # pixel row 1, column 4 -> centre (4.5, 1.5)
    out, kps = pipeline(image, torch.tensor([[4.5, 1.5]]))
    assert out.shape == (3, 6, 4)
    row, col = (int(v) for v in torch.nonzero(out[0])[0])
    assert kps[0].tolist() == [col + 0.5, row + 0.5]


def test_full_dlc_geometry_keeps_alignment():
    torch.manual_seed(1)
    params = {k: v for k, v in expand_imgaug_str_to_dict("dlc-top-down").items()
              if k in ("Rot90", "Affine", "ElasticTransformation", "CropAndPad")}
    pipeline = build_augmentation(params, 64, 64)
    assert_keypoint_on_square(pipeline, draws=12, tol=1.0)


def test_presets_end_with_resize_and_keep_nans():
    torch.manual_seed(2)
    keypoints = torch.tensor([[10.0, 20.0], [float("nan"), float("nan")], [40.0, 60.0]])
    lengths = {"default": 1, "none": 1, "dlc": 11, "dlc-lr": 12, "dlc-top-down": 12, "dlc-mv": 8}
    for name, length in lengths.items():
        pipeline = build_augmentation(name, 128, 256)
        assert len(pipeline) == length, name
        for _ in range(3):
            out, kps = pipeline(square_image(), keypoints)
            assert out.shape == (3, 128, 256) and out.dtype == torch.uint8
            assert kps[1].isnan().all() and not kps[[0, 2]].isnan().any()
    assert len(build_augmentation("dlc", 128, 128, resize=False)) == 10


def test_resize_only_pipeline_scales_keypoints_exactly():
    out, kps = build_augmentation("default", 144, 112)(square_image(), torch.tensor([[14.0, 36.0]]))
    assert out.shape == (3, 144, 112)
    assert kps.tolist() == [[28.0, 72.0]]


def test_context_stack_gets_identical_augmentation():
    torch.manual_seed(3)
    stack = square_image().expand(5, 3, H0, W0).contiguous()
    stack[:, 0, 0, 0] = 0  # keep frames identical
    pipeline = build_augmentation("dlc-top-down", 64, 64)
    for _ in range(5):
        out, _ = pipeline(stack, torch.tensor([[18.0, 26.0]]))
        assert out.shape == (5, 3, 64, 64)
        assert all(torch.equal(out[0], out[t]) for t in range(1, 5))


def test_pixel_ops_do_not_move_keypoints():
    torch.manual_seed(4)
    keypoints = torch.tensor([[3.25, 7.5], [float("nan"), float("nan")]])
    for name in ("MotionBlur", "CoarseDropout", "CoarseSalt", "CoarsePepper", "AllChannelsHistogramEqualization",
                 "AllChannelsCLAHE", "Emboss"):
        spec = expand_imgaug_str_to_dict("dlc")[name] | {"p": 1.0}
        _, kps = imgaug_transform({name: spec})(square_image(), keypoints)
        assert kps[0].tolist() == [3.25, 7.5] and kps[1].isnan().all(), name


def test_pixel_op_values():
    torch.manual_seed(5)
    image = torch.full((3, 20, 30), 100, dtype=torch.uint8)
    kps = torch.zeros(1, 2)
    dropped, _ = AugmentationPipeline([CoarseDropout(p=1.0, size_percent=0.5)])(image, kps)
    assert (dropped == 0).all()
    salted, _ = AugmentationPipeline([CoarseSalt(p=1.0, size_percent=0.5)])(image, kps)
    assert (salted >= 127).all()
    same, _ = AugmentationPipeline([Emboss(alpha=0.0, strength=1.0)])(image, kps)
    assert torch.equal(same, image)
    blurred, _ = AugmentationPipeline([MotionBlur(k=5, angle=0.0, direction=0.0)])(image, kps)
    assert torch.equal(blurred, image)  # blurring a constant image changes nothing


def test_coarse_salt_replaces_whole_cells_with_bright_values_shared_by_the_channels():
    torch.manual_seed(5)
    image = torch.full((3, 40, 50), 60, dtype=torch.uint8)
    out, _ = AugmentationPipeline([CoarseSalt(p=0.3, size_percent=0.1)])(image, torch.zeros(1, 2))
    changed = (out != image).any(0)
    assert 0 < int(changed.sum()) < changed.numel()
    assert (out[:, changed] >= 127).all() and (out[:, ~changed] == 60).all()
    assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])  # one mask, one value per pixel
    cells = changed.reshape(4, 10, 5, 10).permute(0, 2, 1, 3).reshape(20, 100)  # 10 x 10-pixel cells
    assert set(cells.sum(1).tolist()) <= {0, 100}  # a cell is replaced whole or not at all


def test_motion_kernel_is_a_normalised_line():
    vertical = _motion_kernel(5, angle=0.0, direction=0.0)
    assert torch.allclose(vertical.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert torch.allclose(vertical[:, 2], torch.full((5,), 0.2, dtype=torch.float64))
    horizontal = _motion_kernel(5, angle=90.0, direction=0.0)
    assert torch.allclose(horizontal[2], torch.full((5,), 0.2, dtype=torch.float64), atol=1e-12)


def test_cubic_resize_matches_opencv_on_rgb():
    rng = np.random.default_rng(0)
    hwc = rng.integers(0, 256, size=(41, 37, 3), dtype=np.uint8)
    expected = cv2.resize(hwc, (16, 24), interpolation=cv2.INTER_CUBIC)
    out = resize_image_cubic(torch.from_numpy(hwc).permute(2, 0, 1), 24, 16)
    assert np.array_equal(out.permute(1, 2, 0).numpy(), expected)


def test_torchvision_transform_from_config_moves_keypoints():
    pipeline = build_augmentation({"RandomHorizontalFlip": {"p": 1.0}}, 72, 56)
    _, kps = pipeline(square_image(), torch.tensor([[18.0, 26.0]]))
    assert kps.tolist() == [[56 - 1 - 18.0, 26.0]]  # torchvision's pixel-index flip convention


def test_config_dict_rules():
    pipeline = imgaug_transform({
        "Affine": {"p": 0.4, "kwargs": {"rotate": [-25, 25]}},
        "ColorJitter": {"p": 0.0, "kwargs": {"brightness": 0.5}},  # p == 0 -> dropped
        "RandomEqualize": {"p": 1.0, "kwargs": {"p": 1.0}},
    })
    assert len(pipeline) == 2
    affine = pipeline.transforms[0].transforms[0]  # wrapped in RandomApply(p=0.4)
    assert pipeline.transforms[0].p == 0.4 and affine.rotate == (-25.0, 25.0)


def test_bad_configs_raise_with_names():
    with pytest.raises(ValueError, match=r"unknown augmentation 'Sharpen'.*'CropAndPad'.*'RandomAffine'"):
        imgaug_transform({"Sharpen": {"p": 0.5}})
    with pytest.raises(ValueError, match=r"'Affine': unknown keys \['prob'\]"):
        imgaug_transform({"Affine": {"prob": 0.5}})
    with pytest.raises(ValueError, match=r"'Affine': bad args"):
        imgaug_transform({"Affine": {"kwargs": {"rotation": 5}}})
    with pytest.raises(ValueError, match=r"unknown augmentation preset 'dlc2'.*'dlc-top-down'"):
        build_augmentation("dlc2", 128, 128)
    assert set(AUGMENTATION_PRESETS.names()) == {"default", "none", "dlc", "dlc-lr", "dlc-top-down", "dlc-mv"}


def test_pipeline_pickles_and_derives_eval_copy():
    pipeline = build_augmentation("dlc", 128, 128)
    clone = pickle.loads(pickle.dumps(pipeline))
    assert len(clone) == len(pipeline) and clone.resize_dims == (128, 128)
    eval_pipeline = pipeline.resize_only()
    assert len(eval_pipeline) == 1 and eval_pipeline.is_resize_only
    assert not pipeline.is_resize_only
    assert pipeline.with_resize(256, 384).resize_dims == (256, 384)
