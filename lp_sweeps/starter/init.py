"""``lp-sweep init DATA_DIR``: read a project and the machine, write ``config.yaml`` where there is
none and a starter study, then dry-run the study and print the command that launches it."""

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from lightning_pose.config import load_config
from lp_sweeps.starter.config_file import write_config
from lp_sweeps.starter.machine import MachineInfo, inspect_machine
from lp_sweeps.starter.project import CONFIG_FILE, ProjectInfo, StarterError, inspect_project
from lp_sweeps.starter.study import starter_study, study_text

__all__ = ["STUDY_FILE", "InitResult", "init_project", "launch_command"]

STUDY_FILE = "starter_study.yaml"


@dataclass(frozen=True)
class InitResult:
    project: ProjectInfo
    machine: MachineInfo
    config_path: Path
    config_written: bool
    study_path: Path
    command: str


def launch_command(study_path: Path, project_dir: Optional[str] = None) -> str:
    """The shell command that launches the study (``--project-dir`` when not the default); overrides
    (``budget.num_samples=2``) may be appended to it."""
    words = ["lp-sweep", "launch"]
    if project_dir is not None:
        words += ["--project-dir", str(project_dir)]
    return shlex.join([*words, str(study_path)])


def _study_path(project: ProjectInfo, output: Optional[str | os.PathLike], force: bool) -> Path:
    path = Path(output).expanduser().resolve() if output else project.data_dir / STUDY_FILE
    if path.suffix not in (".yaml", ".yml"):
        raise StarterError(f"--output {str(output)!r}: a study file ends in .yaml")
    if path.exists() and not force:
        raise StarterError(f"study file {str(path)!r} exists; pass --force to replace it, or --output a new file")
    if not path.parent.is_dir():
        raise StarterError(f"--output {str(output)!r}: folder {str(path.parent)!r} does not exist")
    return path


def _summary(project: ProjectInfo, machine: MachineInfo) -> list[str]:
    views = (f"{len(project.views)} views ({', '.join(v.name for v in project.views)})" if project.multiview
             else "one view")
    lines = [
        f"project {project.data_dir}: {len(project.keypoint_names)} keypoints {project.keypoint_names}, {views}, "
        f"{project.num_labeled} labeled frames, images {project.image_size[1]}x{project.image_size[0]} (w x h)",
        f"videos in {project.video_dir}: " + (", ".join(f"{n} ({f} frames)" for n, f in project.videos.items())
                                              or "none (no unsupervised losses)"),
        f"machine: {machine.describe()}",
    ]
    return lines


def init_project(
    data_dir: str | os.PathLike,
    output: Optional[str | os.PathLike] = None,
    force: bool = False,
    project_dir: Optional[str] = None,
    printer: Callable[[str], None] = print,
    machine: Optional[MachineInfo] = None,
) -> InitResult:
    """Inspect, write ``config.yaml`` (only where there is none) and the study; returns what was
    done. The study is not dry-run here (the CLI does that through ``lp-sweep launch --dry-run``'s
    code). ``machine``: the machine to size for (default: this one)."""
    project = inspect_project(data_dir)
    study_path = _study_path(project, output, force)
    machine = machine or inspect_machine()
    for line in _summary(project, machine):
        printer(line)
    config_path = project.data_dir / CONFIG_FILE
    written = project.config is None
    if written:
        write_config(project)
        printer(f"wrote {config_path}")
    else:
        printer(f"using the existing {config_path} (not changed)")
    study = starter_study(project, machine, load_config(config_path), study_path)
    study_path.write_text(study_text(study, project, machine))
    printer(f"wrote {study_path}")
    return InitResult(project, machine, config_path, written, study_path, launch_command(study_path, project_dir))
