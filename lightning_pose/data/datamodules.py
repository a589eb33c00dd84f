"""Lightning data modules: labeled splits, and labeled + unlabeled video batches per step."""

import copy
import os

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.utilities import CombinedLoader
from torch.utils.data import DataLoader, Dataset, Subset

from lightning_pose.data.utils import compute_num_train_frames, split_indices, split_sizes_from_probabilities
from lightning_pose.data.video.unlabeled import UnlabeledVideoDataset

__all__ = ["BaseDataModule", "UnlabeledDataModule", "default_num_workers", "without_augmentation"]


def default_num_workers() -> int:
    """``$SLURM_CPUS_PER_TASK`` or the CPU count, less one for the training process."""
    cpus = int(os.environ.get("SLURM_CPUS_PER_TASK", os.cpu_count() or 1))
    return max(cpus - 1, 0)


def without_augmentation(dataset: Dataset) -> Dataset:
    """A copy of a labeled dataset that only resizes (no augmentation, no flips), views included.

    The decoded-image cache is shared with the original, so frames are decoded once.
    """
    plain = copy.copy(dataset)
    plain.imgaug_transform = dataset.imgaug_transform.resize_only()
    plain.imgaug_hflip = False
    children = getattr(dataset, "dataset", None)
    if isinstance(children, dict):
        plain.dataset = {view: without_augmentation(child) for view, child in children.items()}
    return plain


class BaseDataModule(pl.LightningDataModule):
    """Seeded train/val/test split of a labeled dataset; val/test see un-augmented images."""

    def __init__(
        self,
        dataset: Dataset,
        train_batch_size: int = 16,
        val_batch_size: int = 16,
        test_batch_size: int = 1,
        num_workers: int | None = None,
        train_probability: float = 0.8,
        val_probability: float | None = None,
        test_probability: float | None = None,
        train_frames: float | int | None = None,
        torch_seed: int = 42,
    ) -> None:
        super().__init__()
        self.dataset = dataset
        self.train_batch_size = train_batch_size
        self.val_batch_size = val_batch_size
        self.test_batch_size = test_batch_size
        self.num_workers = default_num_workers() if num_workers is None else num_workers
        self.train_probability = train_probability
        self.val_probability = val_probability
        self.test_probability = test_probability
        self.train_frames = train_frames
        self.torch_seed = torch_seed
        self._split()

    def _split(self) -> None:
        n = len(self.dataset)
        sizes = split_sizes_from_probabilities(n, self.train_probability, self.val_probability, self.test_probability)
        train, val, test = split_indices(n, sizes, self.torch_seed)
        keep = compute_num_train_frames(len(train), self.train_frames)
        self.train_indices, self.val_indices, self.test_indices = list(train[:keep]), list(val), list(test)
        plain = self.dataset if self.dataset.imgaug_transform.is_resize_only and not self.dataset.imgaug_hflip \
            else without_augmentation(self.dataset)
        self.train_dataset = Subset(self.dataset, self.train_indices)
        self.val_dataset = Subset(plain, self.val_indices)
        self.test_dataset = Subset(plain, self.test_indices)
        self.plain_dataset = plain

    # --- facts the losses and metrics need --------------------------------------------------
    @property
    def is_multiview(self) -> bool:
        return isinstance(getattr(self.dataset, "dataset", None), dict)

    @property
    def num_views(self) -> int:
        return len(self.dataset.view_names) if self.is_multiview else 1

    def get_training_keypoints(self) -> torch.Tensor:
        """Training-split labels ``(N, 2K)`` in original-frame pixels (NaN where unlabeled)."""
        keypoints = np.asarray(self.dataset.keypoints)[self.train_indices]
        return torch.as_tensor(keypoints, dtype=torch.float32).reshape(len(self.train_indices), -1)

    # --- loaders ------------------------------------------------------------------------------
    def _loader(self, dataset: Dataset, batch_size: int, shuffle: bool) -> DataLoader:
        generator = torch.Generator().manual_seed(self.torch_seed) if shuffle else None
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            generator=generator,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self):
        return self._loader(self.train_dataset, self.train_batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_dataset, self.val_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_dataset, self.test_batch_size, shuffle=False)

    def full_labeled_dataloader(self) -> DataLoader:
        """Every labeled frame, un-augmented, in file order."""
        return self._loader(self.plain_dataset, self.val_batch_size, shuffle=False)


class UnlabeledDataModule(BaseDataModule):
    """Each training step gets ``{"labeled": batch, "unlabeled": video window}``."""

    def __init__(self, dataset: Dataset, unlabeled_dataset: UnlabeledVideoDataset, **kwargs) -> None:
        self.unlabeled_dataset = unlabeled_dataset
        super().__init__(dataset, **kwargs)

    def train_dataloader(self) -> CombinedLoader:
        loaders = {
            "labeled": super().train_dataloader(),
            "unlabeled": self.unlabeled_dataset.dataloader(num_workers=0),  # shares the decode cache
        }
        return CombinedLoader(loaders, mode="max_size_cycle")
