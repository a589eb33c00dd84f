"""Resolving and validating the videos of a project (single view and multiview).

Both resolvers open every video and check that it has frames, so a missing, empty or corrupt
file is reported (``ValueError`` naming the file) before any training starts.
"""

import os
import re
from collections.abc import Sequence

from lightning_pose.data.video.probe import VideoInfo, probe_video

__all__ = [
    "VIDEO_EXTENSIONS",
    "check_multiview_video_paths",
    "check_video_paths",
    "list_videos_in_dir",
    "match_view_name",
    "session_name",
]

VIDEO_EXTENSIONS = (".mp4", ".avi")

VideoSource = str | os.PathLike | Sequence[str | os.PathLike]


def list_videos_in_dir(video_dir: str | os.PathLike) -> list[str]:
    """Sorted paths of the ``.mp4``/``.avi`` files directly inside ``video_dir``."""
    video_dir = str(video_dir)
    if not os.path.isdir(video_dir):
        raise ValueError(f"video directory not found: {video_dir!r}")
    names = sorted(
        name for name in os.listdir(video_dir)
        if name.lower().endswith(VIDEO_EXTENSIONS) and os.path.isfile(os.path.join(video_dir, name))
    )
    if not names:
        raise ValueError(f"no {'/'.join(VIDEO_EXTENSIONS)} videos in directory {video_dir!r}")
    return [os.path.join(video_dir, name) for name in names]


def _expand(videos: VideoSource) -> list[str]:
    """A file, a directory of videos, or a list of files -> list of file paths (unchecked)."""
    if isinstance(videos, (str, os.PathLike)):
        path = str(videos)
        return list_videos_in_dir(path) if os.path.isdir(path) else [path]
    if isinstance(videos, Sequence):
        files = [str(v) for v in videos]
        if not files:
            raise ValueError("the list of video files is empty")
        return files
    raise ValueError(
        f"videos must be a file, a directory or a list of files, got {type(videos).__name__}"
    )


def check_video_paths(videos: VideoSource) -> list[str]:
    """Absolute paths of the videos named by a file, a list of files or a directory.

    A directory contributes its ``.mp4``/``.avi`` files in sorted order. Every file is opened and
    must report at least one frame and decode its first frame, else ``ValueError`` naming it.
    """
    files = _expand(videos)
    for path in files:
        probe_video(path)
    return [os.path.abspath(path) for path in files]


def _view_pattern(view: str) -> re.Pattern:
    return re.compile(rf"(?<![0-9A-Za-z]){re.escape(view)}(?![0-9A-Za-z])")


def match_view_name(file_stem: str, view_names: Sequence[str]) -> str | None:
    """The view whose name appears in ``file_stem`` delimited by non-alphanumerics, or None.

    ``session1_top`` matches view ``top``; ``session1top`` does not. A stem matching several
    views is an error.
    """
    matches = [view for view in view_names if _view_pattern(view).search(file_stem)]
    if len(matches) > 1:
        raise ValueError(f"video {file_stem!r} matches several views: {matches}")
    return matches[0] if matches else None


def session_name(file_stem: str, view: str) -> str:
    """``file_stem`` without the view token and one delimiter next to it (``s1_top`` -> ``s1``)."""
    match = _view_pattern(view).search(file_stem)
    if match is None:
        raise ValueError(f"view {view!r} does not appear in {file_stem!r}")
    before, after = file_stem[: match.start()], file_stem[match.end():]
    if before and not before[-1].isalnum():
        before = before[:-1]
    elif after and not after[0].isalnum():
        after = after[1:]
    return before + after


def _group_by_view(files: list[str], view_names: Sequence[str]) -> dict[str, dict[str, str]]:
    """{view: {session: path}} for the files that name a view (others are ignored)."""
    grouped: dict[str, dict[str, str]] = {view: {} for view in view_names}
    for path in files:
        stem = os.path.splitext(os.path.basename(path))[0]
        view = match_view_name(stem, view_names)
        if view is None:
            continue
        session = session_name(stem, view)
        if session in grouped[view]:
            raise ValueError(
                f"two videos for view {view!r} and session {session!r}: "
                f"{grouped[view][session]!r} and {path!r}"
            )
        grouped[view][session] = path
    return grouped


def _check_sessions(grouped: dict[str, dict[str, str]]) -> list[str]:
    """The session names (sorted); every view must have exactly the same sessions."""
    views = list(grouped)
    for view in views:
        if not grouped[view]:
            raise ValueError(
                f"no video for view {view!r}: file names must contain the view name delimited "
                f"by non-alphanumeric characters, e.g. 'session0_{view}.mp4'"
            )
    reference = set(grouped[views[0]])
    for view in views[1:]:
        if set(grouped[view]) != reference:
            raise ValueError(
                f"views have different sessions: {views[0]!r} has {sorted(reference)}, "
                f"{view!r} has {sorted(grouped[view])}"
            )
    return sorted(reference)


def check_multiview_video_paths(
    videos: VideoSource, view_names: Sequence[str]
) -> dict[str, list[str]]:
    """``{view: [absolute video path per session]}``, sessions in the same order for every view.

    Each file is assigned to the view whose name it contains (see :func:`match_view_name`); the
    rest of the file name is the session. All views need the same sessions, and the videos of one
    session must have equal frame counts across views, else ``ValueError``.
    """
    view_names = [str(v) for v in view_names]
    if len(view_names) < 2 or len(set(view_names)) != len(view_names):
        raise ValueError(f"view_names must list two or more distinct views, got {view_names}")
    grouped = _group_by_view(_expand(videos), view_names)
    sessions = _check_sessions(grouped)
    for session in sessions:
        infos: list[VideoInfo] = [probe_video(grouped[view][session]) for view in view_names]
        if len({info.num_frames for info in infos}) != 1:
            counts = ", ".join(f"{info.path!r}: {info.num_frames}" for info in infos)
            raise ValueError(
                f"session {session!r} has different frame counts across views: {counts}"
            )
    return {
        view: [os.path.abspath(grouped[view][session]) for session in sessions]
        for view in view_names
    }
