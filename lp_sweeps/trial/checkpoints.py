"""Which checkpoint a restarted trial continues from: the newest one that is complete.

A trial's checkpoints are its durable state: the scheduler keeps one per validation epoch, and a
restarted trial (a retry after its process died, or a resumed sweep) continues from the newest
checkpoint whose file is whole, even when the scheduler's own record of the trial is older (its
experiment state is saved every few seconds, so a killed driver can lag behind its trials).
"""

import logging
from collections.abc import Callable, Sequence
from typing import Optional

import torch

__all__ = ["checkpoint_progress", "newest_checkpoint"]

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
