"""Small source datasets for the convert tests, written with the tools' own writers.

DeepLabCut projects are written the way DeepLabCut writes them (pandas ``to_csv`` / ``to_hdf``
with the ``scorer / bodyparts / coords`` columns and either index style); SLEAP packages with
sleap-io's ``save_slp(..., embed="user")``. Each builder returns the exact labels it wrote, keyed
by the image path Lightning Pose should list, so tests compare values, not shapes.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import yaml

BODYPARTS = ["nose", "left_ear", "right_ear", "tail_base"]
SCORER = "alice"
FRAME_SIZE = (48, 64)  # height, width
# values that do not survive a float32 or a short decimal representation
AWKWARD = [0.1 + 0.2, 1e-7, 12.345678901234567, 2.0 ** -30 + 7.0, 47.99999999999999]


@dataclass(frozen=True)
class WrittenLabels:
    root: Path
    keypoint_names: list[str]
    labels: dict[str, np.ndarray]  # project-relative image path -> (K, 2) float64


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root`` (to show a source is untouched)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def random_labels(rng: np.random.Generator, num_frames: int, num_keypoints: int) -> np.ndarray:
    """(N, K, 2) float64 coordinates inside the frame, some awkward values, some NaN cells."""
    height, width = FRAME_SIZE
    values = rng.uniform(0, 1, (num_frames, num_keypoints, 2)) * [width - 1, height - 1]
    flat = values.reshape(-1)
    picks = rng.choice(flat.size, size=len(AWKWARD), replace=False)
    flat[picks] = AWKWARD
    values[rng.random((num_frames, num_keypoints)) < 0.2] = np.nan
    values[0, 1] = np.nan  # at least one unlabeled keypoint
    return values


def write_video(path: Path, num_frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    height, width = FRAME_SIZE
    frames = [rng.integers(0, 255, (height, width, 3), dtype=np.uint8) for _ in range(num_frames)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return frames


def dlc_table(values: np.ndarray, images: list[str], index_style: str, bodyparts: list[str],
              scorer: str = SCORER) -> pd.DataFrame:
    """DeepLabCut's label DataFrame; ``index_style`` 'path' or 'levels' (3-level row index)."""
    columns = pd.MultiIndex.from_product([[scorer], bodyparts, ["x", "y"]], names=["scorer", "bodyparts", "coords"])
    if index_style == "levels":
        index = pd.MultiIndex.from_tuples([tuple(name.split("/")) for name in images])
    else:
        index = pd.Index(images)
    return pd.DataFrame(values.reshape(len(images), -1), index=index, columns=columns)


def write_dlc_table(table: pd.DataFrame, folder: Path, file_format: str, scorer: str = SCORER) -> Path:
    path = folder / f"CollectedData_{scorer}.{file_format}"
    if file_format == "h5":
        table.to_hdf(path, key="df_with_missing", mode="w")
    else:
        table.to_csv(path)
    return path


def write_dlc_project(
    root: Path,
    formats: tuple[str, ...] = ("csv", "h5"),
    index_styles: tuple[str, ...] = ("levels", "path"),
    frames_per_video: int = 6,
    seed: int = 0,
) -> WrittenLabels:
    """One video folder per (format, index style) pair, each with its own label file, a few
    unlabeled extracted frames, and its video in ``videos/``."""
    rng = np.random.default_rng(seed)
    labels = {}
    video_sets = {}
    for i, (file_format, index_style) in enumerate(zip(formats, index_styles)):
        video = f"vid{i + 1}"
        folder = root / "labeled-data" / video
        folder.mkdir(parents=True)
        (root / "videos").mkdir(exist_ok=True)
        frames = write_video(root / "videos" / f"{video}.mp4", frames_per_video + 4, rng)
        for index, frame in enumerate(frames):  # every extracted frame; the last 4 are not labeled
            cv2.imwrite(str(folder / f"img{index:03d}.png"), frame)
        images = [f"labeled-data/{video}/img{index:03d}.png" for index in range(frames_per_video)]
        values = random_labels(rng, frames_per_video, len(BODYPARTS))
        write_dlc_table(dlc_table(values, images, index_style, BODYPARTS), folder, file_format)
        labels.update(zip(images, values))
        video_sets[str(root / "videos" / f"{video}.mp4")] = {"crop": f"0, {FRAME_SIZE[1]}, 0, {FRAME_SIZE[0]}"}
    write_dlc_config(root, BODYPARTS, video_sets)
    return WrittenLabels(root=root, keypoint_names=list(BODYPARTS), labels=labels)


def write_dlc_config(root: Path, bodyparts: list[str], video_sets: dict, **extra) -> Path:
    config = {
        "Task": "test", "scorer": SCORER, "date": "Jan1", "multianimalproject": False,
        "project_path": str(root), "video_sets": video_sets, "bodyparts": bodyparts,
        "numframes2pick": 20, "skeleton": [], **extra,
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _sleap_instance(sio, skeleton, points: np.ndarray, predicted: bool = False):
    if predicted:
        return sio.PredictedInstance.from_numpy(points, skeleton=skeleton, score=0.5)
    return sio.Instance.from_numpy(points, skeleton=skeleton)


def write_sleap_package(
    path: Path,
    labeled: tuple[int, ...] = (1, 2, 3, 5, 6, 7, 8, 10, 11, 12),
    instances_on_frame: dict[int, int] | None = None,
    num_videos: int = 1,
    num_skeletons: int = 1,
    cameras: bool = False,
    embed: bool = True,
    seed: int = 1,
) -> WrittenLabels:
    """A SLEAP package of ``num_videos`` videos (``<path stem>_video<i>.mp4`` beside it), each
    with user labels on ``labeled`` frames, plus one predicted instance on frame 0 of the first
    (not a label) and one point marked not visible. ``instances_on_frame`` adds user instances
    (multi-animal); ``cameras`` puts the videos in one multi-camera recording session."""
    import sleap_io as sio

    rng = np.random.default_rng(seed)
    skeletons = [sio.Skeleton(list(BODYPARTS))] + [sio.Skeleton(["a", "b"]) for _ in range(num_skeletons - 1)]
    frames, expected, videos = [], {}, []
    for v in range(num_videos):
        video_path = path.parent / f"{path.name.split('.')[0]}_video{v or ''}.mp4"
        write_video(video_path, max(labeled) + 3, rng)
        videos.append(sio.Video.from_filename(str(video_path)))
        for frame_idx, points in zip(labeled, random_labels(rng, len(labeled), len(BODYPARTS))):
            count = (instances_on_frame or {}).get(frame_idx, 1)
            instances = [_sleap_instance(sio, skeletons[0], points) for _ in range(count)]
            frames.append(sio.LabeledFrame(video=videos[v], frame_idx=frame_idx, instances=instances))
            expected[f"labeled-data/{video_path.stem}/img{frame_idx:08d}.png"] = points
    frames[-1].instances[0].points["visible"][2] = False  # coordinates kept, but not visible
    expected[list(expected)[-1]][2] = np.nan
    predicted = _sleap_instance(sio, skeletons[0], np.full((len(BODYPARTS), 2), 3.0), predicted=True)
    frames.append(sio.LabeledFrame(video=videos[0], frame_idx=0, instances=[predicted]))
    sessions = []
    if cameras:
        group = sio.CameraGroup(cameras=[sio.Camera(name=f"cam{v}") for v in range(num_videos)])
        sessions = [sio.RecordingSession(camera_group=group)]
        for video, camera in zip(videos, group.cameras):
            sessions[0].add_video(video, camera)
    labels = sio.Labels(labeled_frames=frames, videos=videos, skeletons=skeletons, sessions=sessions)
    sio.save_slp(labels, str(path), embed="user" if embed else False, verbose=False)
    return WrittenLabels(root=path, keypoint_names=list(BODYPARTS), labels=expected)


def read_lp_labels(csv_file: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """(keypoint names, image -> (K, 2)) of a written CollectedData.csv, parsed independently of
    the code under test (header rows apart, numbers with Python's exact parser)."""
    header = pd.read_csv(csv_file, header=None, nrows=3, dtype=str, keep_default_na=False)
    assert list(header.iloc[:, 0]) == ["scorer", "bodyparts", "coords"]
    names = list(header.iloc[1, 1::2])
    assert list(header.iloc[1, 2::2]) == names
    assert set(header.iloc[2, 1::2]) == {"x"} and set(header.iloc[2, 2::2]) == {"y"}
    rows = pd.read_csv(csv_file, header=None, skiprows=3, index_col=0, float_precision="round_trip")
    values = rows.to_numpy(dtype=np.float64).reshape(len(rows), len(names), 2)
    return names, dict(zip([str(i) for i in rows.index], values))


def assert_same_labels(csv_file: Path, written: WrittenLabels) -> None:
    """Same keypoint names, same images in the same order, every value equal (NaN where NaN)."""
    names, got = read_lp_labels(csv_file)
    assert names == written.keypoint_names
    assert list(got) == list(written.labels)
    for image, expected in written.labels.items():
        assert np.array_equal(got[image], expected, equal_nan=True), (image, got[image], expected)
    assert any(np.isnan(v).any() for v in got.values()) and any(not np.isnan(v).all() for v in got.values())
