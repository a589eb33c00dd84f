"""What a sweep keeps of its Ray session folder, and what the next sweep frees of the folders that
killed sweeps left (real folders, real processes)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lp_sweeps.sweep.session_folder import KEEP_RAY_LOGS, Keep, SessionFolder, reap_dead_sessions, session_pid


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _session(root: Path, name: str, pid: int, files: dict[str, str]) -> Path:
    session = root / name / f"session_2026-12-07_03-57-18_919882_{pid}"
    for relative, text in files.items():
        (session / relative).parent.mkdir(parents=True, exist_ok=True)
        (session / relative).write_text(text)
    (session / "sockets").mkdir(parents=True, exist_ok=True)
    return session


FILES = {"artifacts/trial_0/model/model.ckpt": "weights", "logs/worker-1.err": "Traceback"}


def test_the_session_pid_is_read_from_rays_folder_name():
    assert session_pid(Path("session_2026-12-07_04-57-47_607633_4028")) == 4028
    assert session_pid(Path("session_latest")) is None


def test_only_sessions_of_dead_drivers_lose_their_working_folders(tmp_path):
    dead = _dead_pid()
    killed = _session(tmp_path, "lpray-killed", dead, FILES)
    running = _session(tmp_path, "lpray-running", os.getpid(), FILES)
    emptied = _session(tmp_path, "lpray-emptied", dead, {})  # folders only: what Ray wrote after a clean-up
    (tmp_path / "lpray-starting").mkdir()  # no session yet: a sweep that is starting Ray
    (tmp_path / "other").mkdir()

    assert reap_dead_sessions(str(tmp_path)) == [tmp_path / "lpray-emptied", tmp_path / "lpray-killed"]
    assert not (killed / "artifacts").exists() and (killed / "logs" / "worker-1.err").read_text() == "Traceback"
    assert not emptied.parent.exists()
    assert (running / "artifacts" / "trial_0" / "model" / "model.ckpt").is_file()
    assert (tmp_path / "lpray-starting").is_dir() and (tmp_path / "other").is_dir()
    assert reap_dead_sessions(str(tmp_path)) == []  # nothing more to free: not reported again


@pytest.mark.parametrize("failed, keep_env, left", [
    (False, None, None),
    (True, None, ["logs/worker-1.err"]),
    (False, "1", ["artifacts/trial_0/model/model.ckpt", "logs/worker-1.err"]),
    (True, "1", ["artifacts/trial_0/model/model.ckpt", "logs/worker-1.err"]),
    (False, "0", None),
])
def test_a_sweep_keeps_its_logs_after_failed_trials_and_all_when_asked(tmp_path, monkeypatch, failed, keep_env, left):
    if keep_env is None:
        monkeypatch.delenv(KEEP_RAY_LOGS, raising=False)
    else:
        monkeypatch.setenv(KEEP_RAY_LOGS, keep_env)
    session = _session(tmp_path, "lpray-mine", 1, FILES)
    folder = SessionFolder(str(session.parent))
    if failed:
        folder.keep_logs()
    assert folder.keep is {None: Keep.NOTHING, "logs": Keep.LOGS, "all": Keep.ALL}[
        "all" if keep_env == "1" else "logs" if failed else None]
    folder.settle()
    if left is None:
        assert not session.parent.exists()
    else:
        assert sorted(str(p.relative_to(session)) for p in session.rglob("*") if p.is_file()) == left
