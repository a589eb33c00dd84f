"""SLEAP labels package (``.pkg.slp``) -> :class:`~lightning_pose.data.convert.base.SourceProject`.

Read with `sleap-io <https://io.sleap.ai>`_. Only single-view, single-animal packages convert:
one skeleton, no multi-camera recording sessions (several videos of the one camera are fine: one
``labeled-data/<video stem>/`` folder each), at most one user-labeled instance per frame, and the
labeled frames embedded in the package (SLEAP: *Export Labels Package*).
User instances are the labels; predicted instances are ignored, and a point marked not visible is
an unlabeled keypoint. Every embedded frame of a labeled video is written
as ``labeled-data/<video stem>/img<frame index, 8 digits>.png``; a source video is copied to
``videos/`` when it is found (at its recorded path, or by name beside the package).
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lightning_pose.data.convert.base import CONVERTERS, ConversionError, EncodedFrame, SourceProject

__all__ = ["SCORER", "SleapConverter", "frame_image_name"]

SCORER = "lightning_tracker"  # the scorer Lightning Pose's converter writes


def frame_image_name(video_stem: str, frame_idx: int) -> str:
    """Project-relative path of an embedded frame."""
    return f"labeled-data/{video_stem}/img{frame_idx:08d}.png"


def _load(path: Path):
    try:
        import sleap_io
    except ImportError as err:
        raise ConversionError(
            f"{str(path)!r}: reading SLEAP packages needs sleap-io "
            "(pip install 'lp-sweeps[convert]', or pip install 'sleap-io>=0.9')"
        ) from err
    try:
        return sleap_io.load_slp(str(path))
    except Exception as err:  # h5py/sleap-io raise many types for a file that is not a package
        raise ConversionError(f"{str(path)!r}: cannot be read as a SLEAP labels file: {err}") from err


def _check_single_view(path: Path, labels) -> None:
    if len(labels.skeletons) != 1:
        names = [list(s.node_names) for s in labels.skeletons]
        raise ConversionError(
            f"{str(path)!r}: {len(labels.skeletons)} skeletons {names}; litpose convert reads "
            "packages with exactly one skeleton"
        )
    if len(labels.sessions) > 0:
        raise ConversionError(
            f"{str(path)!r}: {len(labels.sessions)} multi-camera recording session(s); litpose "
            "convert reads single-view packages only (one camera; its videos may be several sessions)"
        )


def _embedded_frames(path: Path, video) -> dict[int, int]:
    """frame index -> position in the package, of every frame embedded for ``video``."""
    backend = video.backend
    frame_map = getattr(backend, "frame_map", None)
    if backend is None or not getattr(backend, "has_embedded_images", False) or not frame_map:
        raise ConversionError(
            f"{str(path)!r}: the video {_video_name(video)!r} has no frames embedded in the file; "
            "export a labels package with the labeled frames (SLEAP: File > Export Labels Package)"
        )
    return {int(k): int(v) for k, v in frame_map.items()}


def _video_name(video) -> str:
    """The original video's file name as the package records it."""
    source = video.source_video if video.source_video is not None else video
    return str(source.filename)


@dataclass(frozen=True)
class _VideoLabels:
    """User labels of one video: its folder name, labeled frame indices, their keypoints (N, K, 2),
    and its embedded frames (frame index -> position)."""

    video: Any
    stem: str
    indices: list[int]
    keypoints: np.ndarray
    embedded: dict[int, int]


def _user_frames(path: Path, labels) -> tuple[dict[int, list], int]:
    """video position -> its frames with a user instance (by frame index); frames with only
    predictions are counted and left out. More than one user instance in a frame is refused."""
    position = {id(video): i for i, video in enumerate(labels.videos)}
    by_video: dict[int, list] = {}
    predicted_only = 0
    for frame in labels.labeled_frames:
        instances = frame.user_instances
        if not instances:
            predicted_only += 1
            continue
        if len(instances) > 1:
            raise ConversionError(
                f"{str(path)!r}: frame {int(frame.frame_idx)} of video {_video_name(frame.video)!r} has "
                f"{len(instances)} labeled instances; litpose convert reads single-animal packages "
                "(at most one instance per frame)"
            )
        by_video.setdefault(position[id(frame.video)], []).append(frame)
    return by_video, predicted_only


def _video_labels(path: Path, video, frames: list, stem: str) -> _VideoLabels:
    embedded = _embedded_frames(path, video)
    frames = sorted(frames, key=lambda f: int(f.frame_idx))
    indices = [int(f.frame_idx) for f in frames]
    for previous, frame_idx in zip(indices, indices[1:]):
        if previous == frame_idx:
            raise ConversionError(f"{str(path)!r}: frame {frame_idx} of video {_video_name(video)!r} is labeled twice")
    missing = [i for i in indices if i not in embedded]
    if missing:
        raise ConversionError(
            f"{str(path)!r}: labeled frame {missing[0]} of video {_video_name(video)!r} is not embedded "
            "in the package; export it with the labeled frames included"
        )
    keypoints = np.asarray([f.user_instances[0].numpy(invisible_as_nan=True) for f in frames], dtype=np.float64)
    return _VideoLabels(video, stem, indices, keypoints, embedded)


def _stems(path: Path, videos: list) -> list[str]:
    """One labeled-data folder name per video: the stem of its original file name."""
    stems = []
    for video in videos:
        name = Path(_video_name(video)).name
        stem = name.split(".")[0] if name.endswith(".slp") else Path(name).stem
        if stem in stems:
            raise ConversionError(
                f"{str(path)!r}: two videos are named {stem!r}; their frames would share "
                f"labeled-data/{stem}/"
            )
        stems.append(stem)
    return stems


def _source_video(path: Path, video) -> Path | None:
    """The package's original video, at its recorded path or by name beside the package."""
    source = video.source_video
    if source is None or not isinstance(source.filename, str):
        return None
    recorded = Path(source.filename)
    for candidate in (path.parent / recorded, path.parent / recorded.name):
        if candidate.is_file():
            return candidate
    return None


def _reader(video, frame_idx: int) -> Callable[[], np.ndarray]:
    return lambda: np.asarray(video[frame_idx])


def _media(path: Path, parts: list[_VideoLabels]) -> tuple[list[tuple[Path, str]], list[EncodedFrame], list[str]]:
    """(source videos to copy, embedded frames to write, notes)."""
    copies, frames, notes = [], [], []
    for part in parts:
        original = _source_video(path, part.video)
        if original is None:
            notes.append(f"source video {_video_name(part.video)!r} not found; not copied to videos/")
        else:
            copies.append((original, f"videos/{original.name}"))
        frames += [EncodedFrame(frame_image_name(part.stem, i), _reader(part.video, i)) for i in sorted(part.embedded)]
    return copies, frames, notes


@CONVERTERS.register("sleap")
class SleapConverter:
    """A SLEAP labels package with embedded frames (``.pkg.slp``)."""

    description = "a SLEAP labels package with embedded frames (.pkg.slp; single view, single animal)"

    def detect(self, source: Path) -> bool:
        return source.is_file() and source.suffix.lower() == ".slp"

    def read(self, source: Path) -> SourceProject:
        labels = _load(source)
        _check_single_view(source, labels)
        by_video, predicted_only = _user_frames(source, labels)
        if not by_video:
            raise ConversionError(f"{str(source)!r}: no user-labeled frames (only predictions or none at all)")
        videos = [labels.videos[i] for i in sorted(by_video)]
        parts = [
            _video_labels(source, video, by_video[i], stem)
            for i, video, stem in zip(sorted(by_video), videos, _stems(source, videos))
        ]
        copies, frames, notes = _media(source, parts)
        if predicted_only:
            notes.append(f"{predicted_only} frame(s) with predictions only (no user labels) skipped")
        sizes = sorted({(int(p.video.shape[1]), int(p.video.shape[2])) for p in parts})
        if len(sizes) > 1:
            notes.append(f"the videos have {len(sizes)} frame sizes (height, width) {sizes}")
        return SourceProject(
            format="sleap",
            source=source,
            scorer=SCORER,
            keypoint_names=[str(name) for name in labels.skeletons[0].node_names],
            image_names=[frame_image_name(p.stem, i) for p in parts for i in p.indices],
            keypoints=np.concatenate([p.keypoints for p in parts]),
            frame_size=(max(h for h, _ in sizes), max(w for _, w in sizes)),
            copies=copies,
            frames=frames,
            notes=notes,
        )
