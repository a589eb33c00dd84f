"""OpenCV (``cv2.VideoCapture``) implementation of :class:`VideoReader`.

Reads are strictly sequential: ``CAP_PROP_POS_FRAMES`` seeking is not frame-exact for codecs with
B-frames or an estimated frame rate, so a forward jump skips frames with ``grab()`` and a
backward jump re-opens the file. Frames come out RGB (OpenCV decodes BGR).
"""

import os

import cv2
import numpy as np
import torch
from jaxtyping import UInt8
from torch import Tensor

from lightning_pose.data.video.base import VIDEO_READERS, VideoReader
from lightning_pose.data.video.probe import open_capture

__all__ = ["OpenCVVideoReader"]


@VIDEO_READERS.register("opencv")
class OpenCVVideoReader(VideoReader):
    """Sequential ``cv2.VideoCapture`` reader; cheap for in-order access, exact for any access."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(path)
        self._cap: cv2.VideoCapture | None = open_capture(self.path)
        self._num_frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self._width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        if self._num_frames <= 0:
            self.close()
            raise ValueError(f"video file has no frames: {self.path!r}")
        self._next = 0  # index of the frame the next cap.read() returns

    @property
    def num_frames(self) -> int:
        return self._num_frames

    @property
    def height(self) -> int:
        return self._height

    @property
    def width(self) -> int:
        return self._width

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _capture(self) -> cv2.VideoCapture:
        if self._cap is None:
            raise ValueError(f"reader of {self.path!r} is closed")
        return self._cap

    def _seek(self, start: int) -> None:
        """Position the decoder so that the next read returns frame ``start`` (no seeking)."""
        if start < self._next:
            self._capture().release()
            self._cap = open_capture(self.path)
            self._next = 0
        cap = self._capture()
        while self._next < start:
            if not cap.grab():
                break
            self._next += 1

    def read_frames(self, start: int, count: int) -> UInt8[Tensor, "frames 3 height width"]:
        self._check_range(start, count)
        self._seek(start)
        cap = self._capture()
        frames: list[np.ndarray] = []
        if self._next == start:
            for _ in range(count):
                ok, frame = cap.read()
                if not ok:
                    break
                frames.append(frame)
                self._next += 1
        if not frames:
            return torch.empty((0, 3, self._height, self._width), dtype=torch.uint8)
        bgr = torch.from_numpy(np.stack(frames))  # (N, H, W, 3) BGR
        return bgr.flip(-1).permute(0, 3, 1, 2).contiguous()
