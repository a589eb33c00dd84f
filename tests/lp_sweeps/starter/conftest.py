import shutil
import stat
from pathlib import Path

import pytest

from tests.data.multiview_fixture import mirror_mouse_split  # noqa: F401  (a session fixture)


def copy_project(source: Path, destination: Path) -> Path:
    """A writable copy of a project (``lp-sweep init`` writes config.yaml and the study into it)."""
    shutil.copytree(source, destination)
    for path in [destination, *destination.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return destination


@pytest.fixture
def mirror_mouse_copy(mirror_mouse_dir: Path, tmp_path: Path) -> Path:
    return copy_project(mirror_mouse_dir, tmp_path / "mirror-mouse-example")
