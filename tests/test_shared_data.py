"""The shared example data: a test that needs it skips on a developer's machine without it, and
fails in CI (``CI=true``), where a missing data set must not pass silently."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NEEDS_DATA = "tests/data/test_datasets.py::test_uniform_heatmaps_for_missing_labels"


@pytest.mark.parametrize("ci, outcome", [("true", "1 error"), ("", "1 skipped")])
def test_missing_shared_data_fails_in_ci_and_skips_elsewhere(tmp_path, ci, outcome):
    env = {**os.environ, "LP_MIRROR_MOUSE_DIR": str(tmp_path / "absent"), "CI": ci}
    result = subprocess.run([sys.executable, "-m", "pytest", NEEDS_DATA, "-q", "-p", "no:cacheprovider", "-rA"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert outcome in result.stdout, result.stdout[-2000:]
    assert f"mirror-mouse-example not found at {tmp_path / 'absent'}" in result.stdout
    assert (result.returncode != 0) == (ci == "true")
