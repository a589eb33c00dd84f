"""Decoding a whole video once, resized, and keeping the result (in memory and optionally on disk).

Frames are resized while decoding (bilinear, ``align_corners=False``, computed in float on
``[0, 1]`` values, then rounded back to ``uint8``), so full-resolution float frames are never held.
The result is cached per ``(file, height, width)``:

- in memory, per process (:class:`DecodeCache`; :data:`DEFAULT_DECODE_CACHE` is shared by all
  datasets of a process);
- on disk, when a ``cache_dir`` is given, as ``.npy`` files that are memory-mapped on load, so
  several sweep trials on one node decode each video once and share the pages.

The cache key includes the file's size and modification time, so an edited video is decoded again.
"""

import hashlib
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float, UInt8
from torch import Tensor

from lightning_pose.data.video.base import build_video_reader

__all__ = [
    "DEFAULT_DECODE_CACHE",
    "DecodeCache",
    "decode_resized",
    "disk_cache_path",
    "resize_frames",
]


def resize_frames(
    frames: UInt8[Tensor, "frames 3 in_height in_width"], height: int, width: int
) -> Float[Tensor, "frames 3 height width"]:
    """``uint8`` frames -> float in ``[0, 1]``, bilinearly resized (``align_corners=False``).

    Same order of operations as Lightning Pose's OpenCV prediction reader (divide, then resize).
    """
    x = frames.to(torch.float32).div(255.0)
    if x.shape[-2:] != (height, width):
        x = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
    return x


def _to_uint8(x: Tensor) -> Tensor:
    return x.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


def decode_resized(
    path: str | os.PathLike, height: int, width: int, reader: str = "opencv", chunk_size: int = 64
) -> UInt8[np.ndarray, "frames 3 height width"]:
    """All frames of a video resized to ``(height, width)``: ``uint8`` ``(N, 3, H, W)`` RGB."""
    with build_video_reader(reader, path) as video:
        out = np.empty((video.num_frames, 3, height, width), dtype=np.uint8)
        extra: list[np.ndarray] = []
        filled = 0
        for chunk in video.iter_chunks(chunk_size):
            small = _to_uint8(resize_frames(chunk, height, width)).numpy()
            take = min(len(small), len(out) - filled)
            out[filled:filled + take] = small[:take]
            filled += take
            if take < len(small):
                extra.append(small[take:])
    if filled == 0:
        raise ValueError(f"no frame of video file {str(path)!r} could be decoded")
    if extra:  # the container under-reported its frame count
        return np.concatenate([out, *extra])
    return out[:filled]


def _file_key(path: str) -> tuple[str, int, int]:
    real = os.path.realpath(path)
    stat = os.stat(real)
    return real, stat.st_size, stat.st_mtime_ns


def disk_cache_path(
    cache_dir: str | os.PathLike, path: str | os.PathLike, height: int, width: int
) -> str:
    """File in ``cache_dir`` that holds the decoded, resized frames of ``path``."""
    real, size, mtime = _file_key(str(path))
    digest = hashlib.sha1(f"{real}|{size}|{mtime}".encode()).hexdigest()[:16]
    stem = os.path.splitext(os.path.basename(real))[0]
    return os.path.join(str(cache_dir), f"{stem}-{digest}-{height}x{width}.npy")


def _load_npy(file: str, height: int, width: int) -> np.ndarray | None:
    """Memory-mapped cached frames, or None if the file is absent or not what we expect."""
    if not os.path.isfile(file):
        return None
    try:
        frames = np.load(file, mmap_mode="r")
    except (ValueError, OSError):
        return None
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (3, height, width):
        return None
    return frames


def _save_npy(file: str, frames: np.ndarray) -> None:
    """Write atomically (temporary file + rename) so concurrent readers never see a partial file."""
    directory = os.path.dirname(file)
    os.makedirs(directory, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.save(stream, frames)
        os.replace(tmp, file)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


@dataclass
class DecodeCache:
    """Per-process cache of decoded, resized videos; counters tell what each lookup did."""

    decodes: int = 0
    memory_hits: int = 0
    disk_hits: int = 0
    _frames: dict[tuple, np.ndarray] = field(default_factory=dict, repr=False)

    def get(
        self,
        path: str | os.PathLike,
        height: int,
        width: int,
        cache_dir: str | os.PathLike | None = None,
        reader: str = "opencv",
    ) -> UInt8[np.ndarray, "frames 3 height width"]:
        """``uint8`` frames ``(N, 3, height, width)`` of ``path`` (may be a read-only memmap)."""
        key = (*_file_key(str(path)), int(height), int(width))
        if key in self._frames:
            self.memory_hits += 1
            return self._frames[key]
        file = disk_cache_path(cache_dir, path, height, width) if cache_dir is not None else None
        frames = _load_npy(file, height, width) if file is not None else None
        if frames is not None:
            self.disk_hits += 1
        else:
            frames = decode_resized(path, height, width, reader=reader)
            self.decodes += 1
            if file is not None:
                _save_npy(file, frames)
                frames = np.load(file, mmap_mode="r")
        self._frames[key] = frames
        return frames

    def clear(self) -> None:
        """Forget every cached video (counters are kept)."""
        self._frames.clear()

    def __len__(self) -> int:
        return len(self._frames)


DEFAULT_DECODE_CACHE = DecodeCache()
