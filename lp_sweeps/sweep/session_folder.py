"""Ray's local session folder of a sweep (``lpray-*`` in the temp dir): what the sweep keeps of it
once Ray has shut down, and what sweeps that were killed left behind.

A session folder holds Ray's logs and the trials' working folders (``session_*/artifacts``: their
model folders, hundreds of MB each, whose checkpoints are in the run's storage and whose results
are in MLflow). A sweep without failures removes the folder; after failed trials it keeps the
logs, which say why, and drops the working folders; ``LP_SWEEPS_KEEP_RAY_LOGS=1`` keeps it all.
A sweep that was killed cleans nothing: the next sweep on the machine drops the working folders of
every session whose driver process is gone, keeping their logs.
"""

import enum
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import psutil

__all__ = ["KEEP_RAY_LOGS", "PREFIX", "Keep", "SessionFolder", "reap_dead_sessions", "session_pid"]

KEEP_RAY_LOGS = "LP_SWEEPS_KEEP_RAY_LOGS"  # set (to 1) to keep Ray's session logs of a sweep without failures
PREFIX = "lpray-"


class Keep(enum.Enum):
    NOTHING = "nothing"
    LOGS = "logs"
    ALL = "all"


def session_pid(session: Path) -> Optional[int]:
    """The process that started a Ray session, from its folder's name
    (``session_<date>_<time>_<microseconds>_<pid>``); None for other names."""
    last = session.name.rsplit("_", 1)[-1]
    return int(last) if session.name.startswith("session_2") and last.isdigit() else None


def _drop_working_folders(folder: Path) -> None:
    for artifacts in folder.glob("session_2*/artifacts"):
        shutil.rmtree(artifacts, ignore_errors=True)


def _holds_files(folder: Path) -> bool:
    return any(path.is_file() for path in folder.rglob("*"))


class SessionFolder:
    """A sweep's Ray session folder and what to keep of it; :meth:`settle` applies that after Ray
    has shut down (before, Ray's processes are still writing into it)."""

    def __init__(self, path: str, keep: Keep = Keep.NOTHING) -> None:
        self.path = path
        self.keep = Keep.ALL if os.environ.get(KEEP_RAY_LOGS, "") not in ("", "0") else keep

    def keep_logs(self) -> None:
        """Trials failed: their logs stay (unless everything stays already)."""
        if self.keep is Keep.NOTHING:
            self.keep = Keep.LOGS

    def settle(self) -> None:
        if self.keep is Keep.NOTHING:
            shutil.rmtree(self.path, ignore_errors=True)
        elif self.keep is Keep.LOGS:
            _drop_working_folders(Path(self.path))


def reap_dead_sessions(temp_root: Optional[str] = None) -> list[Path]:
    """Drop the trials' working folders from the session folders (in ``temp_root``, default the temp
    dir) of sweeps whose driver is gone, keeping their logs; a folder left with no file at all is
    removed. Returns the folders it changed."""
    reaped = []
    for folder in sorted(Path(temp_root or tempfile.gettempdir()).glob(f"{PREFIX}*")):
        pids = [session_pid(session) for session in folder.glob("session_2*")]
        if not pids or any(pid is None or psutil.pid_exists(pid) for pid in pids):
            continue
        changed = any(folder.glob("session_2*/artifacts"))
        _drop_working_folders(folder)
        if not _holds_files(folder):
            shutil.rmtree(folder, ignore_errors=True)
            changed = True
        if changed:
            reaped.append(folder)
    return reaped
