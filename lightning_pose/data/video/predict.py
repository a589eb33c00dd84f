"""Fixed-size, in-order frame windows of a video for prediction (LP's OpenCV prediction reader).

- base models: windows ``[0, L), [L, 2L), ...``, ``ceil(F / L)`` of them;
- context models: step ``L - 4``; a window re-uses the last 4 frames of the previous one (they are
  kept, not decoded again); ``ceil((F - L) / (L - 4)) + 1`` windows (at least 1);
- the last window is padded to ``L`` frames by repeating its last real frame.

Frames are read strictly sequentially, converted to float ``/ 255``, resized bilinearly
(``align_corners=False``) and ImageNet-normalised; ``transforms`` is ``[-1.]`` (``(V, 1, 1)`` for
multiview) and ``bbox`` rows are ``[0, 0, H0, W0]`` (the original frame size). Iterating yields
the batch dicts; :meth:`PredictionVideoLoader.iter_with_windows` also yields, per batch, the
:class:`PredictionWindow` that says which video frames it holds.
"""

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from lightning_pose.data.datatypes import MultiviewUnlabeledBatchDict, UnlabeledBatchDict
from lightning_pose.data.video.augment import imagenet_normalize_01
from lightning_pose.data.video.base import VideoReader, build_video_reader
from lightning_pose.data.video.cache import resize_frames
from lightning_pose.data.video.probe import VideoInfo, probe_video

__all__ = [
    "CONTEXT_OVERLAP",
    "PredictionVideoLoader",
    "PredictionWindow",
    "prediction_num_iters",
    "prediction_windows",
]

CONTEXT_OVERLAP = 4  # frames shared by consecutive context windows
_CHUNK = 16  # frames decoded and resized at a time (bounds full-resolution memory)


def prediction_num_iters(num_frames: int, sequence_length: int, context: bool) -> int:
    """``ceil(F / L)`` (base) or ``ceil((F - L) / (L - 4)) + 1`` (context, needs ``L > 4``)."""
    if num_frames <= 0 or sequence_length <= 0:
        raise ValueError(
            f"num_frames and sequence_length must be positive, got {num_frames}, {sequence_length}"
        )
    if not context:
        return math.ceil(num_frames / sequence_length)
    step = sequence_length - CONTEXT_OVERLAP
    if step <= 0:
        raise ValueError(
            f"context prediction needs sequence_length > {CONTEXT_OVERLAP}, got {sequence_length} "
            "(dali.context.predict.sequence_length)"
        )
    return max(math.ceil((num_frames - sequence_length) / step) + 1, 1)


@dataclass(frozen=True)
class PredictionWindow:
    """Frames ``start .. start + num_real - 1`` are in the batch (the rest is padding); the last
    ``num_new`` of them were not in the previous batch."""

    start: int
    num_real: int
    num_new: int


def prediction_windows(
    num_frames: int, sequence_length: int, context: bool
) -> list[PredictionWindow]:
    """The windows :class:`PredictionVideoLoader` yields, in order."""
    step = sequence_length - CONTEXT_OVERLAP if context else sequence_length
    windows = []
    for i in range(prediction_num_iters(num_frames, sequence_length, context)):
        start = i * step
        num_real = min(sequence_length, num_frames - start)
        num_new = num_real if i == 0 else num_real - (sequence_length - step)
        windows.append(PredictionWindow(start=start, num_real=num_real, num_new=num_new))
    return windows


def _as_paths(videos: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    if isinstance(videos, (str, os.PathLike)):
        return [str(videos)]
    paths = [str(v) for v in videos]
    if not paths:
        raise ValueError("no video given for prediction")
    return paths


class PredictionVideoLoader:
    """Iterable of prediction batches for one video (or one synchronised video per view)."""

    def __init__(
        self,
        videos: str | os.PathLike | Sequence[str | os.PathLike],
        resize_height: int,
        resize_width: int,
        sequence_length: int,
        context: bool = False,
        reader: str = "opencv",
        max_frames: int | None = None,
    ) -> None:
        """``videos``: one file (single view) or one file per view (multiview, same lengths);
        ``max_frames``: predict only the first that many frames (None: all)."""
        self.paths = _as_paths(videos)
        self.infos: list[VideoInfo] = [probe_video(p) for p in self.paths]
        counts = {info.num_frames for info in self.infos}
        if len(counts) != 1:
            detail = ", ".join(f"{i.path!r}: {i.num_frames}" for i in self.infos)
            raise ValueError(
                f"multiview prediction needs equal frame counts per view, got {detail}"
            )
        self.is_multiview = len(self.paths) > 1
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
        self.num_frames = self.infos[0].num_frames
        if max_frames is not None:
            self.num_frames = min(self.num_frames, int(max_frames))
        self.height, self.width = int(resize_height), int(resize_width)
        self.sequence_length = int(sequence_length)
        self.context = context
        self.reader = reader
        self.windows = prediction_windows(self.num_frames, self.sequence_length, context)

    @property
    def num_iters(self) -> int:
        return len(self.windows)

    def __len__(self) -> int:
        return len(self.windows)

    def _read(
        self, reader: VideoReader, start: int, count: int
    ) -> Float[Tensor, "frames 3 height width"]:
        """Up to ``count`` frames from ``start``, resized, ``[0, 1]`` float, a chunk at a time."""
        parts = []
        for offset in range(0, count, _CHUNK):
            chunk = reader.read_frames(start + offset, min(_CHUNK, count - offset))
            if chunk.shape[0] > 0:
                parts.append(resize_frames(chunk, self.height, self.width))
            if chunk.shape[0] < min(_CHUNK, count - offset):
                break
        if not parts:
            return torch.empty((0, 3, self.height, self.width))
        return torch.cat(parts)

    def _next_window(
        self, reader: VideoReader, tail: Tensor, position: int
    ) -> tuple[Float[Tensor, "seq 3 height width"], int]:
        """(window of L frames, next read position); pads by repeating the last frame."""
        new = self._read(reader, position, self.sequence_length - tail.shape[0])
        window = torch.cat([tail, new])
        if window.shape[0] == 0:
            raise ValueError(
                f"{reader.path!r}: no frame left to read at frame {position} although the file "
                f"reports {self.num_frames} frames"
            )
        missing = self.sequence_length - window.shape[0]
        if missing > 0:
            window = torch.cat([window, window[-1:].expand(missing, -1, -1, -1)])
        return window, position + new.shape[0]

    def _batch(self, windows: list[Tensor]) -> UnlabeledBatchDict | MultiviewUnlabeledBatchDict:
        seq = self.sequence_length
        bboxes = [torch.tensor([0.0, 0.0, i.height, i.width]).repeat(seq, 1) for i in self.infos]
        frames = [imagenet_normalize_01(w) for w in windows]
        if not self.is_multiview:
            return UnlabeledBatchDict(
                frames=frames[0],
                transforms=torch.tensor([-1.0]),
                bbox=bboxes[0],
                is_multiview=False,
            )
        return MultiviewUnlabeledBatchDict(
            frames=torch.stack(frames, dim=1),
            transforms=torch.full((len(windows), 1, 1), -1.0),
            bbox=torch.cat(bboxes, dim=1),
            is_multiview=True,
        )

    def iter_with_windows(
        self,
    ) -> Iterator[tuple[UnlabeledBatchDict | MultiviewUnlabeledBatchDict, PredictionWindow]]:
        """Yield ``(batch, window)`` pairs, reading every view's file once, front to back."""
        readers = [build_video_reader(self.reader, p) for p in self.paths]
        try:
            empty = torch.empty((0, 3, self.height, self.width))
            tails, positions = [empty] * len(readers), [0] * len(readers)
            for window in self.windows:
                frames = []
                for v, reader in enumerate(readers):
                    frames_v, positions[v] = self._next_window(reader, tails[v], positions[v])
                    tails[v] = frames_v[-CONTEXT_OVERLAP:] if self.context else empty
                    frames.append(frames_v)
                yield self._batch(frames), window
        finally:
            for reader in readers:
                reader.close()

    def __iter__(self) -> Iterator[UnlabeledBatchDict | MultiviewUnlabeledBatchDict]:
        for batch, _ in self.iter_with_windows():
            yield batch
