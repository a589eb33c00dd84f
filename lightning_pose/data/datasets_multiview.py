"""Multiview labeled frames: one :class:`HeatmapDataset` per camera view, stacked per example."""

from collections.abc import Sequence
from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor

from lightning_pose.data.augmentations import AugmentationPipeline
from lightning_pose.data.datasets_singleview import HeatmapDataset
from lightning_pose.data.datatypes import MultiviewHeatmapLabeledExampleDict

__all__ = ["MultiviewHeatmapDataset"]


def _check_view_args(
    view_names: Sequence[str],
    csv_paths: Sequence[str | Path],
    bbox_paths: Sequence[str | Path] | None,
    camera_params_path: str | Path | None,
) -> None:
    if len(view_names) != len(csv_paths):
        raise ValueError(f"{len(view_names)} view names {list(view_names)} but {len(csv_paths)} csv files")
    if bbox_paths is not None and len(bbox_paths) != len(view_names):
        raise ValueError(f"{len(bbox_paths)} bbox files for {len(view_names)} views")
    if camera_params_path is not None:
        raise NotImplementedError(
            f"camera calibration ({str(camera_params_path)!r}) is not supported: 3-D keypoints "
            "and 3-D augmentation are not implemented"
        )


class MultiviewHeatmapDataset(torch.utils.data.Dataset):
    """Synchronised labeled frames from several views (one label CSV per view).

    Row ``i`` of every CSV must describe the same instant: the CSVs must have equal row counts,
    the same keypoint names in the same order and the same image file names per row. Each view is
    augmented independently with the shared pipeline. Camera calibration is not supported: the
    3-D fields of each example hold Lightning Pose's no-calibration placeholders.
    """

    def __init__(
        self,
        root_directory: str | Path,
        csv_paths: Sequence[str | Path],
        view_names: Sequence[str],
        image_resize_height: int,
        image_resize_width: int,
        header_rows: Sequence[int] | None = None,
        imgaug_transform: AugmentationPipeline | None = None,
        downsample_factor: int = 2,
        do_context: bool = False,
        resize: bool = False,
        uniform_heatmaps: bool = False,
        camera_params_path: str | Path | None = None,
        bbox_paths: Sequence[str | Path] | None = None,
        num_keypoints: int | None = None,
    ) -> None:
        _check_view_args(view_names, csv_paths, bbox_paths, camera_params_path)
        self.root_directory = Path(root_directory)
        self.csv_paths = list(csv_paths)
        self.view_names = list(view_names)
        self.do_context = do_context
        self.downsample_factor = downsample_factor
        self.image_resize_height = int(image_resize_height)
        self.image_resize_width = int(image_resize_width)
        pipeline = imgaug_transform if imgaug_transform is not None else AugmentationPipeline()
        self.imgaug_transform = pipeline.with_resize(*self.resize_dims) if resize else pipeline
        self.imgaug_hflip = False
        self.dataset: dict[str, HeatmapDataset] = {}
        for v, (view, csv_path) in enumerate(zip(self.view_names, self.csv_paths)):
            self.dataset[view] = HeatmapDataset(
                root_directory=root_directory,
                csv_path=csv_path,
                image_resize_height=image_resize_height,
                image_resize_width=image_resize_width,
                header_rows=header_rows,
                imgaug_transform=self.imgaug_transform,
                downsample_factor=downsample_factor,
                do_context=do_context,
                resize=False,
                uniform_heatmaps=uniform_heatmaps,
                bbox_path=None if bbox_paths is None else bbox_paths[v],
                num_keypoints=num_keypoints,
            )
        self._check_views_match()
        self.keypoint_names = {view: ds.keypoint_names for view, ds in self.dataset.items()}
        self.num_keypoints = sum(ds.num_keypoints for ds in self.dataset.values())
        self.num_targets = 2 * self.num_keypoints
        self.data_length = len(self.dataset[self.view_names[0]])

    def _check_views_match(self) -> None:
        first_view = self.view_names[0]
        first = self.dataset[first_view]
        for view, ds in self.dataset.items():
            if len(ds) != len(first):
                raise ValueError(
                    f"label CSVs differ in row count: {str(first.csv_file)!r} ({first_view}) has "
                    f"{len(first)} rows, {str(ds.csv_file)!r} ({view}) has {len(ds)}"
                )
            if ds.keypoint_names != first.keypoint_names:
                pos = next(
                    (i for i, (a, b) in enumerate(zip(first.keypoint_names, ds.keypoint_names)) if a != b),
                    min(len(first.keypoint_names), len(ds.keypoint_names)),
                )
                raise ValueError(
                    f"keypoint names differ between views {first_view!r} and {view!r} at position "
                    f"{pos}: {first.keypoint_names} vs {ds.keypoint_names}"
                )
            for row, (a, b) in enumerate(zip(first.image_names, ds.image_names)):
                if Path(a).name != Path(b).name:
                    raise ValueError(
                        f"image file names differ at row {row}: {a!r} ({first_view}) vs {b!r} ({view})"
                    )

    @property
    def resize_dims(self) -> tuple[int, int]:
        return self.image_resize_height, self.image_resize_width

    @property
    def height(self) -> int:
        return self.image_resize_height

    @property
    def width(self) -> int:
        return self.image_resize_width

    @property
    def output_shape(self) -> tuple[int, int]:
        factor = 2**self.downsample_factor
        return self.height // factor, self.width // factor

    @property
    def num_views(self) -> int:
        return len(self.view_names)

    @property
    def image_names(self) -> list[str]:
        """Image paths of the first view (rows are synchronised across views)."""
        return self.dataset[self.view_names[0]].image_names

    @property
    def keypoints(self) -> Float[Tensor, "num_frames num_keypoints 2"]:
        """Raw labels in frame pixels, views concatenated along the keypoint axis."""
        return torch.cat([self.dataset[v].keypoints for v in self.view_names], dim=1)

    def __len__(self) -> int:
        return self.data_length

    def preload_images(self) -> None:
        for ds in self.dataset.values():
            ds.preload_images()

    def __getitem__(self, idx: int) -> MultiviewHeatmapLabeledExampleDict:
        examples = [self.dataset[view][idx] for view in self.view_names]
        return MultiviewHeatmapLabeledExampleDict(
            images=torch.stack([ex["images"] for ex in examples]),
            keypoints=torch.cat([ex["keypoints"] for ex in examples]),
            heatmaps=torch.cat([ex["heatmaps"] for ex in examples]),
            bbox=torch.cat([ex["bbox"] for ex in examples]),
            idxs=idx,
            num_views=self.num_views,
            concat_order=list(self.view_names),
            view_names=list(self.view_names),
            keypoints_3d=torch.ones(1),
            intrinsic_matrix=torch.eye(3)[None],
            extrinsic_matrix=torch.zeros(1, 3, 4),
            distortions=torch.zeros(1, 5),
        )
