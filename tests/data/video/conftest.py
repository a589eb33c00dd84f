"""Small synthetic videos written on the fly (never copies of the example data)."""

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest


def write_video(
    path: Path, frames: Sequence[np.ndarray], fps: float = 30.0, codec: str = "mp4v"
) -> Path:
    """Write BGR uint8 frames ``(H, W, 3)`` with OpenCV; returns ``path``."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    assert writer.isOpened(), f"cannot write {path}"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def ramp_frames(num_frames: int, height: int, width: int, seed: int = 0) -> list[np.ndarray]:
    """Smooth random-looking frames whose content changes from frame to frame."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(40, 215, size=(num_frames, 4, 5, 3)).astype(np.float32)
    smooth = [cv2.resize(c, (width, height), interpolation=cv2.INTER_LINEAR) for c in coarse]
    return [np.clip(frame, 0, 255).astype(np.uint8) for frame in smooth]


@pytest.fixture
def make_video(tmp_path: Path) -> Callable[..., Path]:
    """``make_video(name, num_frames, height, width, seed=0, codec='mp4v')`` -> path in tmp_path."""

    def make(
        name: str, num_frames: int, height: int, width: int, seed: int = 0, codec: str = "mp4v"
    ) -> Path:
        frames = ramp_frames(num_frames, height, width, seed)
        return write_video(tmp_path / name, frames, codec=codec)

    return make


@pytest.fixture
def bad_videos(tmp_path: Path) -> dict[str, Path]:
    """A missing path, an empty .mp4 and a text file renamed .mp4."""
    empty = tmp_path / "empty_video.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes_renamed.mp4"
    text.write_text("this is not a video\n")
    return {"missing": tmp_path / "does_not_exist.mp4", "empty": empty, "text": text}
