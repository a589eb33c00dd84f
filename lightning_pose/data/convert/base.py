"""What every source-format converter hands to the project writer, and the converter registry.

A converter reads and checks a labeled dataset of another tool without writing anything, and
returns a :class:`SourceProject`: the keypoint table (exact source values), the images to copy
or to encode, the videos to copy and the frame size. :mod:`lightning_pose.data.convert.writer`
then writes the Lightning Pose project from it. Adding a source format is one module that
registers a :class:`Converter` in :data:`CONVERTERS`.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

import numpy as np
from jaxtyping import Float64

from lightning_pose.registry import Registry

__all__ = [
    "CONVERTERS",
    "ConversionError",
    "Converter",
    "EncodedFrame",
    "SourceProject",
    "check_project",
    "detect_format",
]


class ConversionError(ValueError):
    """A source dataset that cannot be converted; the message names the file and what is wrong."""


@dataclass(frozen=True)
class EncodedFrame:
    """An image that exists only inside the source (e.g. a frame embedded in a SLEAP package).

    ``read`` returns it as uint8 ``(H, W)``, ``(H, W, 1)`` or RGB ``(H, W, 3)``; the writer saves
    it losslessly as a PNG at ``dest`` (relative to the new project).
    """

    dest: str
    read: Callable[[], np.ndarray]


@dataclass(frozen=True)
class SourceProject:
    """A checked source dataset, ready to be written as a Lightning Pose project.

    Paths in ``image_names``, ``copies`` destinations and ``frames`` are POSIX paths relative to
    the new project. ``keypoints[i, k]`` is ``(x, y)`` of keypoint ``k`` in image ``i`` exactly as
    the source stores it (NaN: unlabeled). ``frame_size`` is ``(height, width)`` in pixels.
    """

    format: str
    source: Path
    scorer: str
    keypoint_names: list[str]
    image_names: list[str]
    keypoints: Float64[np.ndarray, "frames keypoints 2"]
    frame_size: tuple[int, int]
    copies: list[tuple[Path, str]]
    frames: list[EncodedFrame]
    notes: list[str]


class Converter(Protocol):
    """A source format: ``detect`` is a cheap look at the path; ``read`` checks everything and
    raises :class:`ConversionError` naming the user's file, key and value, writing nothing."""

    description: str

    def detect(self, source: Path) -> bool: ...

    def read(self, source: Path) -> SourceProject: ...


# name -> converter class (instantiated without arguments); filled by @CONVERTERS.register
CONVERTERS: Registry[type[Converter]] = Registry("source format")


def detect_format(source: Path) -> str:
    """Name of the one registered format that recognises ``source``, else a ConversionError."""
    if not source.exists():
        raise ConversionError(f"source not found: {str(source)!r}")
    matches = [name for name in CONVERTERS if CONVERTERS.get(name)().detect(source)]
    if len(matches) == 1:
        return matches[0]
    accepted = "; ".join(f"{name}: {CONVERTERS.get(name).description}" for name in CONVERTERS)
    if not matches:
        raise ConversionError(f"{str(source)!r} is not a dataset format litpose convert reads ({accepted})")
    raise ConversionError(f"{str(source)!r} looks like several formats {matches}; accepted: {accepted}")


def _check_destination_path(name: str, where: str) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or "\\" in name:
        raise ConversionError(f"{where}: {name!r} is not a relative path inside the project")


def check_project(project: SourceProject) -> None:
    """Consistency of a converter's output (shapes, unique names, safe relative paths)."""
    where = str(project.source)
    num_frames, num_keypoints = len(project.image_names), len(project.keypoint_names)
    if project.keypoints.shape != (num_frames, num_keypoints, 2):
        raise ConversionError(
            f"{where}: keypoint array of shape {project.keypoints.shape} does not match "
            f"{num_frames} images x {num_keypoints} keypoints"
        )
    for kind, names in (("keypoint", project.keypoint_names), ("image", project.image_names)):
        duplicate = _first_duplicate(names)
        if duplicate is not None:
            raise ConversionError(f"{where}: {kind} {duplicate!r} appears more than once")
    destinations = [dest for _, dest in project.copies] + [frame.dest for frame in project.frames]
    for name in destinations:
        _check_destination_path(name, where)
    duplicate = _first_duplicate(destinations)
    if duplicate is not None:
        raise ConversionError(f"{where}: two source files would be written to {duplicate!r}")
    written = set(destinations)
    unwritten = [name for name in project.image_names if name not in written]
    if unwritten:
        raise ConversionError(f"{where}: no image is written for the labeled frame {unwritten[0]!r}")


def _first_duplicate(names: Sequence[str]) -> str | None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None
