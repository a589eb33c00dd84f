"""The ``config.yaml`` ``lp-sweep init`` writes into a project that has none (never over one)."""

from pathlib import Path

import yaml
from omegaconf import OmegaConf

from lightning_pose.config import default_config, load_config, validate_config
from lp_sweeps.starter.project import CONFIG_FILE, ProjectInfo

__all__ = ["MAX_CONFIG_SIDE", "project_config", "resize_dims", "write_config"]

RESIZE_MULTIPLE = 128  # Lightning Pose's resize dims are multiples of 128
MAX_CONFIG_SIDE = 384  # the model input of the written config: at most this many pixels a side


def resize_dims(height: int, width: int, max_side: int) -> tuple[int, int]:
    """Model input ``(height, width)``: each side the largest multiple of 128 that is at most the
    image side and ``max_side`` (128 for an image smaller than that)."""
    return tuple(max(RESIZE_MULTIPLE, RESIZE_MULTIPLE * (min(side, max_side) // RESIZE_MULTIPLE))
                 for side in (height, width))


def project_config(project: ProjectInfo) -> dict:
    """Lightning Pose's defaults with this project's data section (a plain dict, validated)."""
    config = OmegaConf.to_container(default_config(), resolve=False)
    height, width = project.image_size
    resize_height, resize_width = resize_dims(height, width, MAX_CONFIG_SIDE)
    config["data"].update(
        image_orig_dims={"height": height, "width": width},
        image_resize_dims={"height": resize_height, "width": resize_width},
        data_dir=str(project.data_dir),
        video_dir=str(project.video_dir),
        csv_file=project.csv_files if project.multiview else project.csv_files[0],
        view_names=project.view_names,
        num_keypoints=len(project.keypoint_names),
        keypoint_names=list(project.keypoint_names),
    )
    config["eval"]["predict_vids_after_training"] = bool(project.videos)
    config["eval"]["test_videos_directory"] = str(project.video_dir) if project.videos else None
    validate_config(load_config(config, source_name="the config lp-sweep init writes"))
    return config


def write_config(project: ProjectInfo) -> Path:
    """Write ``DATA_DIR/config.yaml``; ``FileExistsError`` if one appeared meanwhile (it is kept)."""
    path = project.data_dir / CONFIG_FILE
    text = "# written by lp-sweep init from the project's labels and videos\n" + yaml.safe_dump(
        project_config(project), sort_keys=False)
    with open(path, "x") as stream:  # exclusive: never replaces a user's file
        stream.write(text)
    return path
