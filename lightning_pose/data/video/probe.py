"""Checking video files before any training starts: existence, decodability, size, frame count.

Every failure is a ``ValueError`` whose message names the file (a missing file raises
:class:`VideoFileNotFoundError`, which is both a ``ValueError`` and a ``FileNotFoundError``).
"""

import os
from dataclasses import dataclass

import cv2

__all__ = [
    "VideoFileNotFoundError",
    "VideoInfo",
    "count_frames",
    "open_capture",
    "probe_video",
    "video_size",
]


class VideoFileNotFoundError(FileNotFoundError, ValueError):
    """A video path that does not name an existing file."""


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found out about a readable video."""

    path: str
    num_frames: int
    height: int
    width: int


def open_capture(path: str | os.PathLike) -> cv2.VideoCapture:
    """An opened ``cv2.VideoCapture`` for ``path``; ``ValueError`` naming the file otherwise."""
    path = str(path)
    if not os.path.exists(path):
        raise VideoFileNotFoundError(f"video file not found: {path!r}")
    if not os.path.isfile(path):
        raise ValueError(f"video path is not a file: {path!r}")
    if os.path.getsize(path) == 0:
        raise ValueError(f"video file is empty (0 bytes): {path!r}")
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise ValueError(f"cannot open video file (not a video, or an unsupported codec): {path!r}")
    return cap


def _capture_size(cap: cv2.VideoCapture) -> tuple[int, int, int]:
    """(num_frames, height, width) from the container metadata."""
    return (
        int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
        int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
    )


def count_frames(path: str | os.PathLike) -> int:
    """Frame count from the container metadata (as OpenCV reports it); ``ValueError`` if none."""
    cap = open_capture(path)
    try:
        num_frames = _capture_size(cap)[0]
    finally:
        cap.release()
    if num_frames <= 0:
        raise ValueError(f"video file has no frames: {str(path)!r}")
    return num_frames


def video_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(height, width)`` of the frames of a video file."""
    cap = open_capture(path)
    try:
        _, height, width = _capture_size(cap)
    finally:
        cap.release()
    if height <= 0 or width <= 0:
        raise ValueError(f"video file reports no frame size: {str(path)!r}")
    return height, width


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Open a video, check it reports frames and that its first frame decodes.

    Raises ``ValueError`` naming the file when it is missing, empty, not a video, has no frames
    or its first frame cannot be decoded.
    """
    cap = open_capture(path)
    try:
        num_frames, height, width = _capture_size(cap)
        if num_frames <= 0:
            raise ValueError(f"video file has no frames: {str(path)!r}")
        ok, frame = cap.read()
    finally:
        cap.release()
    if not ok or frame is None:
        raise ValueError(f"cannot decode the first frame of video file {str(path)!r}")
    if frame.shape[:2] != (height, width):
        height, width = int(frame.shape[0]), int(frame.shape[1])
    return VideoInfo(path=str(path), num_frames=num_frames, height=height, width=width)
