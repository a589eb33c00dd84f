"""Single-view labeled datasets on the mirror-mouse example and tiny synthetic projects."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lightning_pose.data.augmentation_ops import resize_image_cubic
from lightning_pose.data.augmentations import build_augmentation
from lightning_pose.data.datasets import (
    BaseTrackingDataset,
    HeatmapDataset,
    hflip_swap_indices,
    load_image,
)
from lightning_pose.data.utils import imagenet_normalize

ORIG_H, ORIG_W = 406, 396


def write_project(root: Path, rows: list[str], names: list[str], visible: bool = False, size=(40, 50)) -> str:
    """Tiny project: grayscale PNGs ``labeled-data/img<i>.png`` of ``size`` (h, w) and a label CSV."""
    (root / "labeled-data").mkdir(parents=True, exist_ok=True)
    group = 3 if visible else 2
    coords = ["x", "y", "visible"][:group]
    header = [
        "scorer," + ",".join(["me"] * group * len(names)),
        "bodyparts," + ",".join(n for n in names for _ in range(group)),
        "coords," + ",".join(coords * len(names)),
    ]
    for i, row in enumerate(rows):
        image_name = row.split(",")[0]
        pixels = np.full(size, 20 * (i + 1), dtype=np.uint8)
        Image.fromarray(pixels).save(root / image_name)
    (root / "labels.csv").write_text("\n".join(header + rows) + "\n")
    return "labels.csv"


@pytest.fixture(scope="module")
def heatmap_dataset(mirror_mouse_dir) -> HeatmapDataset:
    return HeatmapDataset(mirror_mouse_dir, "CollectedData.csv", 128, 128)


def test_heatmap_dataset_item_shapes_and_attributes(heatmap_dataset):
    ds = heatmap_dataset
    assert len(ds) == 90 and ds.num_keypoints == 17 and ds.num_targets == 34
    assert (ds.height, ds.width, ds.output_shape) == (128, 128, (32, 32))
    assert ds.keypoints.shape == (90, 17, 2) and ds.keypoints.dtype == torch.float32
    assert ds.keypoint_names[0] == "paw1LH_top" and ds.image_names[0] == "labeled-data/img01.png"
    assert not ds.do_context and len(ds.imgaug_transform) == 1
    ex = ds[0]
    assert ex["images"].shape == (3, 128, 128) and ex["images"].dtype == torch.float32
    assert ex["heatmaps"].shape == (17, 32, 32)
    assert ex["keypoints"].shape == (34,) and ex["idxs"] == 0
    assert ex["bbox"].tolist() == [0.0, 0.0, float(ORIG_H), float(ORIG_W)]
    assert ex["visibility"].dtype == torch.int64


def test_keypoints_and_pixels_are_resized_frames(heatmap_dataset, mirror_mouse_dir):
    ex = heatmap_dataset[0]
    # imgaug's projection, in float32: (x / W0) * W
    expected = heatmap_dataset.keypoints[0] / torch.tensor([float(ORIG_W), float(ORIG_H)]) * 128
    assert torch.equal(ex["keypoints"].view(17, 2).nan_to_num(-1), expected.nan_to_num(-1))
    raw = load_image(mirror_mouse_dir / "labeled-data" / "img01.png")
    assert torch.equal(raw[0], raw[1]) and torch.equal(raw[0], raw[2])  # grayscale -> 3 equal channels
    assert torch.equal(ex["images"], imagenet_normalize(resize_image_cubic(raw, 128, 128)))


def test_heatmap_targets_peak_at_keypoints(heatmap_dataset):
    ex = heatmap_dataset[0]
    kps = ex["keypoints"].view(17, 2) / 4  # heatmap pixel i <-> image coordinate 4 i
    labeled = ~kps.isnan().any(dim=1)
    assert labeled.tolist()[4:6] == [False, False]  # tailBase_top, tailMid_top unlabeled in img01
    hm = ex["heatmaps"]
    assert torch.allclose(hm[labeled].sum(dim=(1, 2)), torch.ones(int(labeled.sum())), atol=1e-5)
    assert (hm[~labeled] == 0).all()
    assert ex["visibility"].tolist() == torch.where(labeled, 2, 0).tolist()
    peak = hm[labeled].flatten(1).argmax(dim=1)
    rows, cols = peak // 32, peak % 32
    inside = (kps[labeled] < 31.5).all(dim=1)  # keypoints near the far border peak on the last pixel
    assert (cols - kps[labeled, 0]).abs()[inside].max() <= 0.5
    assert (rows - kps[labeled, 1]).abs()[inside].max() <= 0.5


def test_uniform_heatmaps_for_missing_labels(mirror_mouse_dir):
    ds = HeatmapDataset(mirror_mouse_dir, "CollectedData.csv", 128, 128, uniform_heatmaps=True)
    ex = ds[0]
    assert ex["visibility"][4:6].tolist() == [1, 1]
    assert torch.allclose(ex["heatmaps"][4], torch.full((32, 32), 1 / 1024))


def test_visibility_column_and_out_of_frame_keypoints(tmp_path):
    csv = write_project(tmp_path, [
        "labeled-data/img0.png,10,10,2,20,20,1,-5,8,2,30,30,0",
        "labeled-data/img1.png,5,5,2,,,0,48,38,2,1,1,2",
    ], ["a", "b", "c", "d"], visible=True)
    with pytest.warns(UserWarning, match="visibility 1 but coordinates"):
        ds = HeatmapDataset(tmp_path, csv, 128, 128)
    ex = ds[0]
    hm = ex["heatmaps"]
    assert hm[0].sum() == pytest.approx(1.0, abs=1e-5)  # visible -> Gaussian
    assert torch.allclose(hm[1], torch.full((32, 32), 1 / 1024))  # visibility 1 -> uniform
    assert (hm[2] == 0).all() and ex["keypoints"][4:6].isnan().all()  # left the frame -> NaN, zeros
    assert (hm[3] == 0).all()  # visibility 0 -> zeros
    assert ex["visibility"].tolist() == [2, 1, 2, 0]


def test_context_frames(mirror_mouse_dir):
    ds = HeatmapDataset(mirror_mouse_dir, "CollectedData.csv", 128, 128, do_context=True)
    assert [p.name for p in ds.frame_paths(0)] == ["img00.png", "img00.png", "img01.png", "img02.png", "img03.png"]
    ex = ds[0]
    assert ex["images"].shape == (5, 3, 128, 128) and ex["heatmaps"].shape == (17, 32, 32)
    # frames 0 and 1 are both img00 (floored); img02 differs from it
    assert torch.equal(ex["images"][0], ex["images"][1]) and not torch.equal(ex["images"][1], ex["images"][3])
    assert torch.equal(ex["images"][2], ds.__class__(mirror_mouse_dir, "CollectedData.csv", 128, 128)[0]["images"])
    assert [p.name for p in ds.frame_paths(89)] == ["img88.png", "img89.png", "img90.png", "img91.png", "img92.png"]


def test_missing_context_frames_fall_back_to_centre(tmp_path):
    csv = write_project(tmp_path, ["labeled-data/img5.png,1,2"], ["a"])
    ds = BaseTrackingDataset(tmp_path, csv, 128, 128, do_context=True)
    assert [p.name for p in ds.frame_paths(0)] == ["img5.png"] * 5
    assert ds[0]["images"].shape == (5, 3, 128, 128)


def test_regression_dataset_and_bbox_file(tmp_path):
    csv = write_project(tmp_path, ["labeled-data/img0.png,10,20", "labeled-data/img1.png,30,10"], ["a"])
    (tmp_path / "bbox.csv").write_text(
        ",x,y,h,w\nlabeled-data/img0.png,5,6,40,50\nlabeled-data/img1.png,7,8,40,50\n"
    )
    ds = BaseTrackingDataset(tmp_path, csv, 128, 256, bbox_path="bbox.csv")
    ex = ds[1]
    assert "heatmaps" not in ex
    assert ex["images"].shape == (3, 128, 256)
    assert ex["keypoints"].tolist() == pytest.approx([30 * 256 / 50, 10 * 128 / 40])
    assert ex["bbox"].tolist() == [7.0, 8.0, 40.0, 50.0]
    assert ex["visibility"].shape == (0,) and ex["visibility"].dtype == torch.int64
    (tmp_path / "bad_bbox.csv").write_text(",x,y,h,w\nlabeled-data/img1.png,5,6,40,50\n")
    with pytest.raises(ValueError, match=r"bad_bbox\.csv.*first difference at row 0"):
        BaseTrackingDataset(tmp_path, csv, 128, 256, bbox_path="bad_bbox.csv")


def test_horizontal_flip_swaps_left_and_right(tmp_path):
    names = ["ear_left", "nose", "ear_right"]
    assert hflip_swap_indices(names) == [2, 1, 0]
    with pytest.raises(ValueError, match="'paw_left' has no 'paw_right'"):
        hflip_swap_indices(["paw_left", "nose"])
    csv = write_project(tmp_path, ["labeled-data/img0.png,10,4,25,20,40,36"], names, size=(40, 50))
    ds = HeatmapDataset(tmp_path, csv, 128, 128, imgaug_hflip=True)
    plain = torch.tensor([[10.0, 4.0], [25.0, 20.0], [40.0, 36.0]]) * torch.tensor([128 / 50, 128 / 40])
    flipped = torch.stack([128 - plain[:, 0], plain[:, 1]], dim=1)[[2, 1, 0]]
    torch.manual_seed(0)
    seen = set()
    for _ in range(8):
        kps = ds[0]["keypoints"].view(3, 2)
        seen.add("flip" if torch.allclose(kps, flipped) else "plain" if torch.allclose(kps, plain) else "bad")
    assert seen == {"flip", "plain"}


def test_dataset_pickles_with_cache_and_collates(heatmap_dataset):
    heatmap_dataset.preload_images()
    clone = pickle.loads(pickle.dumps(heatmap_dataset))
    assert len(clone._image_cache) == 90
    assert torch.equal(clone[3]["heatmaps"], heatmap_dataset[3]["heatmaps"])
    batch = next(iter(torch.utils.data.DataLoader(heatmap_dataset, batch_size=2)))
    assert batch["images"].shape == (2, 3, 128, 128) and batch["idxs"].tolist() == [0, 1]
    assert batch["visibility"].shape == (2, 17) and batch["heatmaps"].shape == (2, 17, 32, 32)


def test_augmented_items_keep_shapes(mirror_mouse_dir):
    torch.manual_seed(0)
    ds = HeatmapDataset(
        mirror_mouse_dir, "CollectedData.csv", 128, 128,
        imgaug_transform=build_augmentation("dlc", 128, 128), do_context=True,
    )
    ex = ds[10]
    assert ex["images"].shape == (5, 3, 128, 128) and ex["heatmaps"].shape == (17, 32, 32)
    kps = ex["keypoints"].view(17, 2)
    assert ((kps >= 0) & (kps < 128)).all(dim=1)[~kps.isnan().any(dim=1)].all()


# ----------------------------------------------------------------------------- bad input


def test_missing_image_is_reported(tmp_path):
    csv = write_project(tmp_path, ["labeled-data/img0.png,1,2", "labeled-data/img1.png,3,4"], ["a"])
    (tmp_path / "labeled-data" / "img1.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"labels\.csv.*line 5: 'labeled-data/img1\.png'"):
        HeatmapDataset(tmp_path, csv, 128, 128)


def test_wrong_header_is_reported(tmp_path):
    write_project(tmp_path, ["labeled-data/img0.png,1,2"], ["a"])
    lines = (tmp_path / "labels.csv").read_text().splitlines()
    (tmp_path / "labels.csv").write_text("\n".join(lines[1:]) + "\n")  # drop the scorer row
    with pytest.raises(ValueError, match=r"labels\.csv.*column 2"):
        HeatmapDataset(tmp_path, "labels.csv", 128, 128)


def test_keypoint_count_mismatch_names_csv(tmp_path):
    csv = write_project(tmp_path, ["labeled-data/img0.png,1,2,3,4"], ["a", "b"])
    with pytest.raises(ValueError, match=r"labels\.csv' has 2 keypoints but num_keypoints=3"):
        HeatmapDataset(tmp_path, csv, 128, 128, num_keypoints=3)


@pytest.mark.parametrize(
    ("height", "width", "key"),
    [(100, 128, "image_resize_height=100"), (128, 200, "image_resize_width=200")],
)
def test_resize_must_be_multiple_of_128(tmp_path, height, width, key):
    csv = write_project(tmp_path, ["labeled-data/img0.png,1,2"], ["a"])
    with pytest.raises(ValueError, match=key):
        HeatmapDataset(tmp_path, csv, height, width)


def test_missing_csv_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.csv"):
        BaseTrackingDataset(tmp_path, "nothere.csv", 128, 128)
