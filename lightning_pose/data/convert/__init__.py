"""``litpose convert``: labeled datasets of other pose tools -> Lightning Pose projects.

    from lightning_pose.data.convert import convert_dataset
    result = convert_dataset("dlc_project/", "lp_project/")      # or "labels.pkg.slp"
    result.config_path                                            # lp_project/config.yaml

Source formats are registered in :data:`CONVERTERS` (``deeplabcut``, ``sleap``), one module each;
the format of a source is the one whose ``detect`` accepts it. The destination is checked first,
then the converter reads and checks the whole source (nothing is written if anything is wrong),
then :func:`~lightning_pose.data.convert.writer.write_project` writes the project.
"""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from lightning_pose.data.convert import deeplabcut, sleap  # noqa: F401  (register the formats)
from lightning_pose.data.convert.base import (
    CONVERTERS,
    ConversionError,
    SourceProject,
    check_project,
    detect_format,
)
from lightning_pose.data.convert.writer import check_destination, write_project

__all__ = [
    "CONVERTERS",
    "ConversionError",
    "ConversionResult",
    "SourceProject",
    "convert_dataset",
    "detect_format",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConversionResult:
    format: str
    lp_dir: Path
    config_path: Path
    num_frames: int
    keypoint_names: list[str]
    notes: list[str]


def convert_dataset(
    source: str | os.PathLike, lp_dir: str | os.PathLike, overwrite: bool = False
) -> ConversionResult:
    """Convert ``source`` into a Lightning Pose project in ``lp_dir`` (see the module docstring).

    Raises :class:`ConversionError` naming the file and what is wrong; the source is only read.
    """
    source_path = Path(source).expanduser().resolve()
    target = Path(lp_dir).expanduser().resolve()
    fmt = detect_format(source_path)
    check_destination(source_path, target, overwrite)
    project = CONVERTERS.get(fmt)().read(source_path)
    check_project(project)
    try:
        config_path, write_notes = write_project(project, target, overwrite)
    except OSError as err:  # disk full, no permission, ...: nothing was installed
        raise ConversionError(f"cannot write the project into {str(target)!r}: {err}") from err
    notes = list(project.notes) + write_notes
    for note in notes:
        logger.warning(note)
    return ConversionResult(
        format=fmt,
        lp_dir=target,
        config_path=config_path,
        num_frames=len(project.image_names),
        keypoint_names=list(project.keypoint_names),
        notes=notes,
    )
