"""``lp-sweep init``: a starter study for a user's own Lightning Pose project.

:mod:`.project` reads the project (views, keypoints, labeled frames, image size, videos),
:mod:`.machine` the machine (CPUs, GPUs and their memory), :mod:`.config_file` writes a
``config.yaml`` where there is none, :mod:`.study` builds the study and :mod:`.init` does all of it.
"""

from lp_sweeps.starter.init import STUDY_FILE, InitResult, init_project, launch_command
from lp_sweeps.starter.machine import GpuInfo, MachineInfo, inspect_machine
from lp_sweeps.starter.project import ProjectInfo, StarterError, inspect_project

__all__ = [
    "GpuInfo", "InitResult", "MachineInfo", "ProjectInfo", "STUDY_FILE", "StarterError", "init_project",
    "inspect_machine", "inspect_project", "launch_command",
]
