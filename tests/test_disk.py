"""tests/disk.py: a shared fixture's folder is deleted right after its last test, and kept when a
test that used it failed (a real inner pytest session)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CONFTEST = "from tests.disk import pytest_collection_finish, pytest_runtest_makereport, pytest_runtest_protocol\n"
TESTS = '''
import pytest
from tests.disk import release_when_unused

SEEN = {}

@pytest.fixture(scope="session")
def shared(request, tmp_path_factory):
    return release_when_unused(request, tmp_path_factory.mktemp("shared"))

@pytest.fixture(scope="session")
def through_shared(shared):
    return shared / "file"

@pytest.fixture(scope="session")
def kept(request, tmp_path_factory):
    return release_when_unused(request, tmp_path_factory.mktemp("kept"))

def test_1_writes(shared):
    (shared / "file").write_text("x")
    SEEN["shared"] = shared

def test_2_reads_through_another_fixture(through_shared):
    assert through_shared.read_text() == "x"

def test_3_after_the_last_user():
    assert not SEEN["shared"].exists()

def test_4_fails(kept):
    SEEN["kept"] = kept
    assert False

def test_5_after_a_failed_user():
    assert SEEN["kept"].is_dir()
'''


def test_shared_folders_go_after_their_last_test_unless_one_failed(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_inner.py").write_text(TESTS)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           "--basetemp", str(tmp_path / "base"), str(tmp_path / "test_inner.py")],
                          cwd=tmp_path, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1].startswith("1 failed, 4 passed"), done.stdout[-2000:]
    assert "test_4_fails" in done.stdout and (tmp_path / "base" / "kept0").is_dir()
    assert not (tmp_path / "base" / "shared0").exists()
