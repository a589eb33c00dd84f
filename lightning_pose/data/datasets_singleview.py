"""Single-view labeled-frame datasets: images + keypoints (regression) and Gaussian heatmap targets.

Images are decoded once (PIL, grayscale -> 3 identical channels) and kept in memory as uint8;
each ``__getitem__`` runs the augmentation pipeline (which ends with the resize to the model
input size), an optional random horizontal flip, and ImageNet normalisation. Returned keypoints
are in resized-image pixels; ``dataset.keypoints`` keeps the raw labels in frame pixels.
"""

import functools
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float, Int, UInt8
from PIL import Image
from torch import Tensor

from lightning_pose.data.augmentations import AugmentationPipeline
from lightning_pose.data.datatypes import BaseLabeledExampleDict, HeatmapLabeledExampleDict
from lightning_pose.data.heatmaps import generate_heatmaps
from lightning_pose.data.utils import imagenet_normalize
from lightning_pose.data.image_check import check_labeled_images
from lightning_pose.utils.io import (
    check_image_files_exist,
    get_context_img_paths,
    parse_label_csv,
    resolve_csv_path,
)

__all__ = ["BaseTrackingDataset", "HeatmapDataset", "load_image", "hflip_swap_indices"]


def load_image(path: Path) -> UInt8[Tensor, "3 height width"]:
    """Decode an image file to uint8 RGB ``(3, H, W)`` (grayscale becomes 3 equal channels)."""
    with Image.open(path) as img:
        array = np.asarray(img.convert("RGB"))
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def hflip_swap_indices(keypoint_names: Sequence[str]) -> list[int]:
    """Index permutation swapping ``<base>_left`` with ``<base>_right`` (others map to themselves)."""
    position = {name: i for i, name in enumerate(keypoint_names)}
    swap = []
    for i, name in enumerate(keypoint_names):
        if name.endswith("_left"):
            partner = name[: -len("_left")] + "_right"
        elif name.endswith("_right"):
            partner = name[: -len("_right")] + "_left"
        else:
            swap.append(i)
            continue
        if partner not in position:
            raise ValueError(
                f"horizontal flip needs left/right pairs: keypoint {name!r} has no {partner!r}"
            )
        swap.append(position[partner])
    return swap


def _load_bboxes(root_directory: Path, bbox_path: str | Path, image_names: list[str]) -> Tensor:
    """``(N, 4)`` float32 ``[x, y, h, w]`` per labeled image, rows in label-CSV order."""
    bbox_file = resolve_csv_path(root_directory, bbox_path)
    df = pd.read_csv(bbox_file, index_col=0)
    missing = [c for c in ("x", "y", "h", "w") if c not in df.columns]
    if missing:
        raise ValueError(f"bbox file {str(bbox_file)!r} lacks columns {missing} (needs x, y, h, w)")
    index = [str(i) for i in df.index]
    if index != list(image_names):
        row = next(
            (i for i, (a, b) in enumerate(zip(index, image_names)) if a != b), min(len(index), len(image_names))
        )
        raise ValueError(
            f"bbox file {str(bbox_file)!r} rows must list the labeled images in order; first "
            f"difference at row {row} ({len(index)} bbox rows, {len(image_names)} labeled images)"
        )
    return torch.tensor(df[["x", "y", "h", "w"]].to_numpy(dtype=np.float32))


@functools.lru_cache(maxsize=8192)
def _decoded_image(path: str, mtime_ns: int) -> UInt8[Tensor, "3 height width"]:
    """Decoded frames shared by every dataset of the process (sweep trials reusing a worker
    process decode a project's images once); the modification time invalidates stale entries."""
    return load_image(Path(path))


class BaseTrackingDataset(torch.utils.data.Dataset):
    """Labeled frames with keypoints as ``(x, y)`` pairs, for regression models."""

    def __init__(
        self,
        root_directory: str | Path,
        csv_path: str | Path,
        image_resize_height: int,
        image_resize_width: int,
        header_rows: Sequence[int] | None = None,
        imgaug_transform: AugmentationPipeline | None = None,
        do_context: bool = False,
        resize: bool = True,
        bbox_path: str | Path | None = None,
        imgaug_hflip: bool = False,
        num_keypoints: int | None = None,
    ) -> None:
        if image_resize_height <= 0 or image_resize_width <= 0:
            raise ValueError(
                f"image_resize_height/width must be positive, got {image_resize_height}x{image_resize_width}"
            )
        self.root_directory = Path(root_directory)
        self.csv_path = csv_path
        self.csv_file = resolve_csv_path(self.root_directory, csv_path)
        self.header_rows = list(header_rows) if header_rows is not None else [0, 1, 2]
        self.image_resize_height = int(image_resize_height)
        self.image_resize_width = int(image_resize_width)
        self.do_context = do_context
        self.resize = resize
        self.imgaug_hflip = imgaug_hflip
        pipeline = imgaug_transform if imgaug_transform is not None else AugmentationPipeline()
        self.imgaug_transform = pipeline.with_resize(*self.resize_dims) if resize else pipeline

        labels = parse_label_csv(self.csv_file, self.header_rows)
        if num_keypoints is not None and len(labels.keypoint_names) != num_keypoints:
            raise ValueError(
                f"{str(self.csv_file)!r} has {len(labels.keypoint_names)} keypoints but "
                f"num_keypoints={num_keypoints}"
            )
        check_image_files_exist(self.root_directory, labels.image_names, self.csv_file, len(self.header_rows))
        check_labeled_images(self.root_directory, labels.image_names, labels.keypoints, labels.keypoint_names,
                             self.csv_file, len(self.header_rows))
        self.keypoint_names = labels.keypoint_names
        self.image_names = labels.image_names
        self.keypoints = torch.from_numpy(labels.keypoints)  # (N, K, 2) frame pixels
        self.visibility = None if labels.visibility is None else torch.from_numpy(labels.visibility)
        self._warn_visibility_one_with_coords()
        self.num_keypoints = len(self.keypoint_names)
        self.num_targets = 2 * self.num_keypoints
        self.data_length = len(self.image_names)
        self.bbox = None if bbox_path is None else _load_bboxes(self.root_directory, bbox_path, self.image_names)
        self.hflip_swap_idxs = hflip_swap_indices(self.keypoint_names) if imgaug_hflip else None
        self._image_cache: dict[str, Tensor] = {}

    def _warn_visibility_one_with_coords(self) -> None:
        if self.visibility is None:
            return
        labeled = ~self.keypoints.isnan().any(dim=-1)
        count = int(((self.visibility == 1) & labeled).sum())
        if count:
            warnings.warn(
                f"{str(self.csv_file)!r}: {count} keypoints have visibility 1 but coordinates; "
                "they get uniform heatmap targets",
                stacklevel=3,
            )

    @property
    def resize_dims(self) -> tuple[int, int]:
        return self.image_resize_height, self.image_resize_width

    @property
    def height(self) -> int:
        """Model-input image height."""
        return self.image_resize_height

    @property
    def width(self) -> int:
        """Model-input image width."""
        return self.image_resize_width

    def __len__(self) -> int:
        return self.data_length

    def _cached_image(self, path: Path) -> UInt8[Tensor, "3 height width"]:
        key = str(path)
        image = self._image_cache.get(key)
        if image is None:
            image = _decoded_image(key, path.stat().st_mtime_ns)
            self._image_cache[key] = image
        return image

    def frame_paths(self, idx: int) -> list[Path]:
        """The file(s) read for example ``idx``: the frame, or its 5 context frames."""
        center = self.root_directory / self.image_names[idx]
        if not self.do_context:
            return [center]
        return [p if p.is_file() else center for p in get_context_img_paths(center)]

    def preload_images(self) -> None:
        """Decode every frame the dataset reads (e.g. before forking data-loader workers)."""
        for idx in range(len(self)):
            for path in self.frame_paths(idx):
                self._cached_image(path)

    def load_images(
        self, idx: int
    ) -> UInt8[Tensor, "3 height width"] | UInt8[Tensor, "5 3 height width"]:
        """Un-augmented uint8 pixels of example ``idx`` (a ``(5, 3, H, W)`` stack with context)."""
        paths = self.frame_paths(idx)
        images = [self._cached_image(p) for p in paths]
        if not self.do_context:
            return images[0]
        sizes = {tuple(img.shape) for img in images}
        if len(sizes) > 1:
            raise ValueError(f"context frames of {self.image_names[idx]!r} differ in size: {paths} -> {sizes}")
        return torch.stack(images)

    def _hflip(
        self,
        images: UInt8[Tensor, "*frames 3 height width"],
        keypoints: Float[Tensor, "num_keypoints 2"],
        visibility: Int[Tensor, " n"],
    ) -> tuple[UInt8[Tensor, "*frames 3 height width"], Float[Tensor, "num_keypoints 2"], Int[Tensor, " n"]]:
        swap = torch.tensor(self.hflip_swap_idxs, dtype=torch.long)
        flipped = keypoints.clone()
        flipped[:, 0] = images.shape[-1] - flipped[:, 0]
        visibility = visibility[swap] if visibility.numel() else visibility
        return images.flip(-1), flipped[swap], visibility

    def __getitem__(self, idx: int) -> BaseLabeledExampleDict:
        images = self.load_images(idx)
        orig_height, orig_width = images.shape[-2:]
        images, keypoints = self.imgaug_transform(images, self.keypoints[idx].clone())
        if self.visibility is not None:
            visibility = self.visibility[idx].clone()
        else:
            visibility = torch.empty(0, dtype=torch.int64)
        if self.hflip_swap_idxs is not None and float(torch.rand(())) < 0.5:
            images, keypoints, visibility = self._hflip(images, keypoints, visibility)
        if self.bbox is not None:
            bbox = self.bbox[idx].clone()
        else:
            bbox = torch.tensor([0.0, 0.0, float(orig_height), float(orig_width)])
        return BaseLabeledExampleDict(
            images=imagenet_normalize(images),
            keypoints=keypoints.reshape(-1),
            idxs=idx,
            bbox=bbox,
            visibility=visibility,
        )


def _check_multiple_of_128(height: int, width: int) -> None:
    for name, value in (("image_resize_height", height), ("image_resize_width", width)):
        if value % 128 != 0:
            raise ValueError(f"{name}={value} must be a multiple of 128 (128, 256, 384, ...)")


class HeatmapDataset(BaseTrackingDataset):
    """Labeled frames with Gaussian heatmap targets of size ``(H, W) / 2**downsample_factor``.

    Without a ``visible`` column the visibility is synthesised: 2 for labeled keypoints, and for
    missing ones 1 (uniform target) if ``uniform_heatmaps`` else 0 (all-zero target).
    """

    def __init__(
        self,
        root_directory: str | Path,
        csv_path: str | Path,
        image_resize_height: int,
        image_resize_width: int,
        header_rows: Sequence[int] | None = None,
        imgaug_transform: AugmentationPipeline | None = None,
        downsample_factor: int = 2,
        do_context: bool = False,
        resize: bool = True,
        uniform_heatmaps: bool = False,
        bbox_path: str | Path | None = None,
        imgaug_hflip: bool = False,
        num_keypoints: int | None = None,
    ) -> None:
        _check_multiple_of_128(image_resize_height, image_resize_width)
        if downsample_factor not in (1, 2, 3):
            raise ValueError(f"downsample_factor must be 1, 2 or 3, got {downsample_factor}")
        super().__init__(
            root_directory=root_directory,
            csv_path=csv_path,
            image_resize_height=image_resize_height,
            image_resize_width=image_resize_width,
            header_rows=header_rows,
            imgaug_transform=imgaug_transform,
            do_context=do_context,
            resize=resize,
            bbox_path=bbox_path,
            imgaug_hflip=imgaug_hflip,
            num_keypoints=num_keypoints,
        )
        self.downsample_factor = downsample_factor
        self.output_sigma = 1.25
        self.uniform_heatmaps = uniform_heatmaps
        if self.visibility is None:
            missing = self.keypoints.isnan().any(dim=-1)
            fill = torch.tensor(1 if uniform_heatmaps else 0, dtype=torch.int64)
            self.visibility = torch.where(missing, fill, torch.tensor(2, dtype=torch.int64))

    @property
    def output_shape(self) -> tuple[int, int]:
        """Heatmap ``(height, width)``."""
        factor = 2**self.downsample_factor
        return self.height // factor, self.width // factor

    def compute_heatmap(
        self, example_dict: BaseLabeledExampleDict, ignore_nans: bool = False
    ) -> Float[Tensor, "num_keypoints heatmap_height heatmap_width"]:
        """Heatmap targets of one example.

        Unless ``ignore_nans``, keypoints outside ``[0, W) x [0, H)`` are first set to NaN in
        ``example_dict["keypoints"]`` itself (so the example's keypoints show them as missing).
        """
        keypoints = example_dict["keypoints"].view(self.num_keypoints, 2)
        if not ignore_nans:
            x, y = keypoints[:, 0], keypoints[:, 1]
            outside = (x < 0) | (y < 0) | (x >= self.width) | (y >= self.height)
            keypoints[outside] = float("nan")
        visibility = example_dict["visibility"]
        heatmaps = generate_heatmaps(
            keypoints[None],
            height=self.height,
            width=self.width,
            output_shape=self.output_shape,
            sigma=self.output_sigma,
            visibility=visibility[None] if visibility.numel() else None,
        )
        return heatmaps[0]

    def __getitem__(self, idx: int, ignore_nans: bool = False) -> HeatmapLabeledExampleDict:
        example = super().__getitem__(idx)
        example["heatmaps"] = self.compute_heatmap(example, ignore_nans=ignore_nans)
        return example
