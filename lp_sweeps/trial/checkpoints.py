"""Which checkpoint a restarted trial continues from: the newest one that is complete.

A trial's checkpoints are its durable state: the scheduler keeps one per validation epoch, and a
restarted trial (a retry after its process died, or a resumed sweep) continues from the newest
checkpoint whose file is whole, even when the scheduler's own record of the trial is older (its
experiment state is saved every few seconds, so a killed driver can lag behind its trials).

Before Tune takes an epoch's checkpoint, the trial writes it to a scratch folder in the temp dir
whose name carries the process id; a process killed in between leaves that folder, which no one
will read (the checkpoint was never reported), and the next trial on the machine removes it.
"""

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional

import psutil
import torch

__all__ = ["SCRATCH_PREFIX", "checkpoint_progress", "newest_checkpoint", "reap_orphan_scratch", "scratch_folder"]

SCRATCH_PREFIX = "lp-trial-ckpt-"

logger = logging.getLogger(__name__)


def checkpoint_progress(path: str) -> Optional[tuple[int, int]]:
    """``(epoch, global_step)`` of a Lightning checkpoint file, or None if it cannot be read
    (a copy cut short by a crash)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        return int(state["epoch"]), int(state["global_step"])
    except Exception as err:  # noqa: BLE001 - any unreadable file is skipped, with its reason
        logger.warning("skipping unreadable checkpoint %s: %s", path, err)
        return None


def newest_checkpoint(candidates: Sequence[Callable[[], Optional[str]]]) -> Optional[str]:
    """The local file of the newest readable checkpoint; each candidate fetches its file (or None)."""
    best: Optional[tuple[tuple[int, int], str]] = None
    for fetch in candidates:
        path = fetch()
        progress = None if path is None else checkpoint_progress(path)
        if progress is not None and (best is None or progress > best[0]):
            best = (progress, path)
    return None if best is None else best[1]


def scratch_folder() -> str:
    """A new folder in the temp dir for one epoch's checkpoint until Tune takes it over."""
    return tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")


def reap_orphan_scratch(temp_root: Optional[str] = None) -> list[Path]:
    """Remove the checkpoint scratch folders (in ``temp_root``, default the temp dir) of processes
    that are gone; returns them."""
    reaped = []
    for folder in sorted(Path(temp_root or tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*")):
        pid = folder.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            reaped.append(folder)
    return reaped
