"""The video-reader interface and its registry.

A reader gives random access to the RGB frames of one video file as ``uint8`` tensors
``(frames, 3, height, width)``. Everything above it (decode cache, unlabeled training dataset,
prediction loader) only talks to this interface, so a GPU decoder (DALI, NVDEC) is added by
registering another :class:`VideoReader` subclass in :data:`VIDEO_READERS`; nothing else changes.

    @VIDEO_READERS.register("my_decoder")
    class MyDecoderReader(VideoReader): ...

    reader = build_video_reader("my_decoder", "session0.mp4")
"""

import abc
import os
from collections.abc import Iterator
from types import TracebackType

from jaxtyping import UInt8
from torch import Tensor

from lightning_pose.registry import Registry

__all__ = ["VIDEO_READERS", "VideoReader", "build_video_reader"]


class VideoReader(abc.ABC):
    """Frame access to one video file.

    Subclasses open the file in ``__init__`` and raise ``ValueError`` naming it when it cannot be
    decoded. Frame indices are 0-based decode order.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(path)

    @property
    @abc.abstractmethod
    def num_frames(self) -> int:
        """Number of frames in the file."""

    @property
    @abc.abstractmethod
    def height(self) -> int:
        """Frame height in pixels (original resolution)."""

    @property
    @abc.abstractmethod
    def width(self) -> int:
        """Frame width in pixels (original resolution)."""

    @abc.abstractmethod
    def read_frames(self, start: int, count: int) -> UInt8[Tensor, "frames 3 height width"]:
        """Frames ``start .. start + count - 1`` as RGB ``uint8``.

        Fewer than ``count`` frames come back only when the end of the file is reached first.
        """

    def iter_chunks(
        self, chunk_size: int = 32, start: int = 0
    ) -> Iterator[UInt8[Tensor, "frames 3 height width"]]:
        """All frames from ``start`` to the end, in order, ``chunk_size`` at a time."""
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        position = start
        while True:
            chunk = self.read_frames(position, chunk_size)
            if chunk.shape[0] == 0:
                return
            yield chunk
            position += chunk.shape[0]
            if chunk.shape[0] < chunk_size:
                return

    def close(self) -> None:
        """Release the decoder (idempotent)."""

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_range(self, start: int, count: int) -> None:
        if start < 0 or count < 0:
            raise ValueError(
                f"{self.path!r}: frame range needs start >= 0 and count >= 0, got start={start}, "
                f"count={count}"
            )


VIDEO_READERS: Registry[type[VideoReader]] = Registry("video reader")


def build_video_reader(name: str, path: str | os.PathLike) -> VideoReader:
    """Open ``path`` with the reader registered as ``name`` (``"opencv"``, ...)."""
    return VIDEO_READERS.get(name)(path)
