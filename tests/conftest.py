"""Test-session set-up.

jaxtyping's import hook is installed before anything from the product is imported, so every
annotated tensor shape in ``lightning_pose`` and ``lp_sweeps`` is checked at run time (beartype)
for the whole session.
"""

import os

from jaxtyping import install_import_hook

install_import_hook(["lightning_pose", "lp_sweeps"], "beartype.beartype")

import pathlib  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from tests.ci import missing  # noqa: E402
from tests.disk import (  # noqa: E402,F401 (hooks: shared test folders freed after their last test)
    pytest_collection_finish,
    pytest_runtest_makereport,
    pytest_runtest_protocol,
)

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
MIRROR_MOUSE = pathlib.Path(
    os.environ.get("LP_MIRROR_MOUSE_DIR", REPO_ROOT.parent / "shared" / "data" / "mirror-mouse-example")
)

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def mirror_mouse_dir() -> pathlib.Path:
    """The public Lightning Pose example set. Tests using it skip when it is absent on a
    developer's machine, and fail in CI (``CI=true``), where it must be there."""
    if not (MIRROR_MOUSE / "CollectedData.csv").is_file():
        message = f"mirror-mouse-example not found at {MIRROR_MOUSE} (set LP_MIRROR_MOUSE_DIR)"
        missing(message)
    return MIRROR_MOUSE
