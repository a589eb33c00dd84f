"""Video probing (frame count, size, bad files) and resolution of single/multiview video paths."""

import os
import re

import pytest

from lightning_pose.data.video import (
    VideoFileNotFoundError,
    check_multiview_video_paths,
    check_video_paths,
    count_frames,
    probe_video,
    video_size,
)
from lightning_pose.data.video.paths import match_view_name, session_name


def test_real_video_frame_count_and_size(mirror_mouse_dir):
    path = mirror_mouse_dir / "videos" / "test_vid.mp4"
    assert count_frames(path) == 994
    assert video_size(path) == (406, 396)
    info = probe_video(path)
    assert (info.num_frames, info.height, info.width) == (994, 406, 396)


def test_synthetic_video_frame_count_and_size(make_video):
    path = make_video("clip.mp4", 17, 40, 56)
    assert count_frames(path) == 17
    assert video_size(path) == (40, 56)


@pytest.mark.parametrize("kind", ["missing", "empty", "text"])
@pytest.mark.parametrize("check", [count_frames, video_size, probe_video, check_video_paths])
def test_bad_video_raises_value_error_naming_file(bad_videos, kind, check):
    path = bad_videos[kind]
    with pytest.raises(ValueError, match=re.escape(path.name)):
        check(str(path))


def test_missing_video_is_also_file_not_found(bad_videos):
    with pytest.raises(FileNotFoundError):
        count_frames(bad_videos["missing"])
    assert issubclass(VideoFileNotFoundError, ValueError)


def test_check_video_paths_file_list_and_sorted_directory(make_video, tmp_path):
    b = make_video("b_session.mp4", 6, 24, 32)
    a = make_video("a_session.avi", 5, 24, 32, codec="MJPG")
    (tmp_path / "readme.txt").write_text("not a video")
    assert check_video_paths(str(b)) == [str(b)]
    assert check_video_paths([b, a]) == [str(b), str(a)]
    assert check_video_paths(tmp_path) == [str(a), str(b)]


def test_check_video_paths_directory_with_a_bad_file_names_it(make_video, tmp_path):
    make_video("good.mp4", 5, 24, 32)
    (tmp_path / "broken.mp4").write_text("garbage")
    with pytest.raises(ValueError, match="broken.mp4"):
        check_video_paths(tmp_path)


def test_check_video_paths_empty_inputs(tmp_path):
    with pytest.raises(ValueError, match="no .mp4/.avi videos"):
        check_video_paths(tmp_path)
    with pytest.raises(ValueError, match="empty"):
        check_video_paths([])


def test_match_view_name_needs_delimiters():
    views = ["top", "bottom"]
    assert match_view_name("session1_top", views) == "top"
    assert match_view_name("top-session1", views) == "top"
    assert match_view_name("s1.bottom.cam", views) == "bottom"
    assert match_view_name("session1top", views) is None
    assert match_view_name("stopwatch", views) is None
    with pytest.raises(ValueError, match="several views"):
        match_view_name("top_bottom", views)


def test_session_name_drops_the_view_token():
    assert session_name("session1_top", "top") == "session1"
    assert session_name("top_session1", "top") == "session1"
    assert session_name("s1_top_cam2", "top") == "s1_cam2"


def test_multiview_paths_grouped_by_view_and_session(make_video, tmp_path):
    for session, n in (("s1", 7), ("s0", 9)):
        make_video(f"{session}_top.mp4", n, 24, 32)
        make_video(f"{session}_bottom.mp4", n, 20, 28, seed=1)
    make_video("unrelated.mp4", 3, 24, 32)
    out = check_multiview_video_paths(tmp_path, ["top", "bottom"])
    assert list(out) == ["top", "bottom"]
    assert [os.path.basename(p) for p in out["top"]] == ["s0_top.mp4", "s1_top.mp4"]
    assert [os.path.basename(p) for p in out["bottom"]] == ["s0_bottom.mp4", "s1_bottom.mp4"]


def test_multiview_frame_count_mismatch(make_video, tmp_path):
    make_video("s0_top.mp4", 7, 24, 32)
    make_video("s0_bottom.mp4", 8, 24, 32)
    with pytest.raises(ValueError, match=r"different frame counts.*s0_top\.mp4.*7.*s0_bottom\.mp4.*8"):
        check_multiview_video_paths(tmp_path, ["top", "bottom"])


def test_multiview_session_mismatch_and_missing_view(make_video, tmp_path):
    make_video("s0_top.mp4", 5, 24, 32)
    make_video("s1_bottom.mp4", 5, 24, 32)
    with pytest.raises(ValueError, match="different sessions"):
        check_multiview_video_paths(tmp_path, ["top", "bottom"])
    with pytest.raises(ValueError, match="no video for view 'side'"):
        check_multiview_video_paths(tmp_path, ["top", "side"])
    with pytest.raises(ValueError, match="two or more distinct views"):
        check_multiview_video_paths(tmp_path, ["top"])
