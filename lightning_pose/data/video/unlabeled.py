"""Unlabeled video sequences for training semi-supervised models (LP's DALI train pipe, in torch).

Each item is one window of ``sequence_length`` consecutive frames of one video (for multiview
data: the same session and frames in every view), resized to the model input size, optionally
augmented (:mod:`lightning_pose.data.video.augment`) and ImageNet-normalised:

- single view: ``{frames (L, 3, H, W), transforms (2, 3) | [-1.], bbox (L, 4), is_multiview False}``
- multiview: ``{frames (L, V, 3, H, W), transforms (V, 2, 3) | (V, 1, 1) of -1, bbox (L, 4V),
  is_multiview True}``

``bbox`` rows are ``[0, 0, H0, W0]``, the original frame size. Windows start at ``0, L, 2L, ...``
in every video and never cross videos. The "base" models use ``L = dali.base.train.sequence_length``
and ``ceil(F / L)`` items per epoch, the context models ``L = dali.context.train.batch_size`` and
``floor(F / L)`` (``F`` = total frames of the first view's videos), as Lightning Pose does.
:class:`UnlabeledWindowSampler` draws the windows in a seeded random order and one augmentation
seed per item; :meth:`UnlabeledVideoDataset.dataloader` puts the two together.
"""

import math
import os
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from lightning_pose.data.datatypes import MultiviewUnlabeledBatchDict, UnlabeledBatchDict
from lightning_pose.data.video.augment import (
    augment_sequence,
    imagenet_normalize_255,
    uses_unlabeled_augmentation,
)
from lightning_pose.data.video.cache import DEFAULT_DECODE_CACHE, DecodeCache
from lightning_pose.data.video.paths import check_video_paths
from lightning_pose.data.video.probe import VideoInfo, probe_video

VideoSource = str | os.PathLike | Sequence[str | os.PathLike]

__all__ = [
    "UnlabeledVideoDataset",
    "UnlabeledWindowSampler",
    "train_num_iters",
    "train_window_starts",
]


def train_num_iters(total_frames: int, sequence_length: int, context: bool) -> int:
    """Items per epoch: ``ceil(F / L)`` (base models) or ``floor(F / L)`` (context models)."""
    if sequence_length <= 0:
        raise ValueError(f"sequence_length must be positive, got {sequence_length}")
    if context:
        return total_frames // sequence_length
    return math.ceil(total_frames / sequence_length)


def train_window_starts(num_frames: int, sequence_length: int) -> list[int]:
    """First frames of the complete windows ``[s, s + L)`` of a video (``[0]`` if it is shorter)."""
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    return list(range(0, max(num_frames - sequence_length, 0) + 1, sequence_length))


class UnlabeledWindowSampler(Sampler):
    """Yields ``(window index, augmentation seed)`` pairs, ``num_iters`` per epoch.

    Windows come in random permutations (a new one whenever the previous is used up); the
    generator, seeded once, keeps its state across epochs, so every epoch differs and the whole
    run is reproducible from ``seed``. Under DDP, Lightning wraps it in a
    ``DistributedSamplerWrapper``: every process draws the same sequence (same seed) and takes its
    own share of it, so the processes train on different windows.
    """

    def __init__(self, num_windows: int, num_iters: int, seed: int) -> None:
        if num_windows <= 0:
            raise ValueError(f"num_windows must be positive, got {num_windows}")
        self.num_windows = num_windows
        self.num_iters = num_iters
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.num_iters

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order: list[int] = []
        while len(order) < self.num_iters:
            order += torch.randperm(self.num_windows, generator=self.generator).tolist()
        seeds = torch.randint(0, 2**62, (self.num_iters,), generator=self.generator).tolist()
        return iter(list(zip(order[: self.num_iters], seeds)))


def _as_views(videos: object, view_names: Sequence[str] | None) -> dict[str, list[str]]:
    """{view: [paths]} from a single-view source or a {view: [paths]} mapping."""
    if isinstance(videos, Mapping):
        views = {str(v): check_video_paths(list(paths)) for v, paths in videos.items()}
        if view_names is not None and list(views) != list(view_names):
            raise ValueError(
                f"videos are given for views {list(views)}, expected {list(view_names)}"
            )
        counts = {len(paths) for paths in views.values()}
        if len(counts) != 1:
            raise ValueError(
                f"every view needs the same number of videos, got "
                f"{ {v: len(p) for v, p in views.items()} }"
            )
        return views
    return {"": check_video_paths(videos)}


class UnlabeledVideoDataset(Dataset):
    """Windows of consecutive unlabeled frames; see the module docstring for the item format."""

    def __init__(
        self,
        videos: VideoSource | Mapping[str, Sequence[str | os.PathLike]],
        resize_height: int,
        resize_width: int,
        sequence_length: int,
        context: bool = False,
        imgaug: object = "default",
        seed: int = 123456,
        cache_dir: str | os.PathLike | None = None,
        reader: str = "opencv",
        decode_cache: DecodeCache | None = None,
        view_names: Sequence[str] | None = None,
    ) -> None:
        """``videos``: a file, a list of files or a directory (single view), or ``{view: [files]}``
        with the same sessions in the same order for every view (multiview)."""
        if sequence_length <= 0:
            raise ValueError(f"sequence_length must be positive, got {sequence_length}")
        self.views = _as_views(videos, view_names)
        self.is_multiview = len(self.views) > 1
        self.height, self.width = int(resize_height), int(resize_width)
        self.sequence_length = int(sequence_length)
        self.context = context
        self.augment = uses_unlabeled_augmentation(imgaug)
        self.seed = seed
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        self.reader = reader
        self.decode_cache = DEFAULT_DECODE_CACHE if decode_cache is None else decode_cache
        self.infos: dict[str, list[VideoInfo]] = {
            view: [probe_video(p) for p in paths] for view, paths in self.views.items()
        }
        self._check_frame_counts()
        first = next(iter(self.infos.values()))
        self.windows: list[tuple[int, int]] = [
            (video, start)
            for video, info in enumerate(first)
            for start in train_window_starts(info.num_frames, self.sequence_length)
        ]
        self.total_frames = sum(info.num_frames for info in first)
        self.num_iters = train_num_iters(self.total_frames, self.sequence_length, context)

    def _check_frame_counts(self) -> None:
        views = list(self.infos)
        for session, infos in enumerate(zip(*self.infos.values())):
            if len({info.num_frames for info in infos}) != 1:
                counts = ", ".join(f"{v}: {i.path!r} {i.num_frames}" for v, i in zip(views, infos))
                raise ValueError(
                    f"session {session} has different frame counts across views: {counts}"
                )

    def __len__(self) -> int:
        return self.num_iters

    def preload(self) -> None:
        """Decode (or load from the caches) every video now, e.g. before forking workers."""
        for paths in self.views.values():
            for path in paths:
                self.decode_cache.get(path, self.height, self.width, self.cache_dir, self.reader)

    def sampler(self) -> UnlabeledWindowSampler:
        """A fresh sampler of (window, augmentation seed) pairs seeded with ``self.seed``."""
        return UnlabeledWindowSampler(len(self.windows), self.num_iters, self.seed)

    def dataloader(self, num_workers: int = 0) -> DataLoader:
        """Loader of one item (a sequence, no batch axis) per step, ``num_iters`` per epoch."""
        return DataLoader(
            self,
            batch_size=None,
            sampler=self.sampler(),
            num_workers=num_workers,
            persistent_workers=num_workers > 0,
        )

    def _window_frames(
        self, view: str, video: int, start: int
    ) -> Float[Tensor, "seq 3 height width"]:
        """Frames ``[start, start + L)`` as ``[0, 255]`` float; a short window repeats its end."""
        path = self.views[view][video]
        frames = self.decode_cache.get(path, self.height, self.width, self.cache_dir, self.reader)
        window = np.array(frames[start:start + self.sequence_length])
        if len(window) == 0:
            raise ValueError(f"window at frame {start} is past the decoded end of {path!r}")
        if len(window) < self.sequence_length:
            pad = np.repeat(window[-1:], self.sequence_length - len(window), axis=0)
            window = np.concatenate([window, pad])
        return torch.from_numpy(window).to(torch.float32)

    def _view_item(
        self, view: str, video: int, start: int, generator: torch.Generator
    ) -> tuple[Tensor, Tensor, Tensor]:
        """(normalised frames, transform, bbox rows) of one view."""
        frames = self._window_frames(view, video, start)
        if self.augment:
            frames, transform = augment_sequence(frames, generator)
        else:
            transform = torch.tensor([-1.0])
        info = self.infos[view][video]
        bbox = torch.tensor([0.0, 0.0, info.height, info.width]).repeat(self.sequence_length, 1)
        return imagenet_normalize_255(frames), transform, bbox

    def __getitem__(
        self, index: int | tuple[int, int]
    ) -> UnlabeledBatchDict | MultiviewUnlabeledBatchDict:
        """Item ``index`` (a plain int takes window ``index % num_windows``, augmentation seeded by
        ``(seed, index)``), or a ``(window, augmentation seed)`` pair from the sampler."""
        if isinstance(index, int):
            window, aug_seed = index % len(self.windows), self.seed * 1_000_003 + index
        else:
            window, aug_seed = index
        if not 0 <= window < len(self.windows):
            raise IndexError(f"window {window} out of range [0, {len(self.windows)})")
        video, start = self.windows[window]
        generator = torch.Generator().manual_seed(int(aug_seed) % 2**63)
        parts = [self._view_item(view, video, start, generator) for view in self.views]
        if not self.is_multiview:
            frames, transform, bbox = parts[0]
            return UnlabeledBatchDict(
                frames=frames, transforms=transform, bbox=bbox, is_multiview=False
            )
        transforms = torch.stack([p[1] if self.augment else p[1].view(1, 1) for p in parts])
        return MultiviewUnlabeledBatchDict(
            frames=torch.stack([p[0] for p in parts], dim=1),
            transforms=transforms,
            bbox=torch.cat([p[2] for p in parts], dim=1),
            is_multiview=True,
        )
