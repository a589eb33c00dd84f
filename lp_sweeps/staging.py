"""Data staging: a node-local copy of a project's data folder, made once per node.

On a cluster the project data sits on shared storage (NFS, a ReadWriteMany volume). Every trial
reads every labeled frame each epoch and decodes the videos for its unlabeled batches, so reading
them over the network once per trial multiplies the load on the file server by the number of
trials. :func:`stage_data` copies the folder to the node's scratch space (``$TMPDIR``, else the
system temp dir, under ``lp_sweeps_data/``) the first time a trial on that node needs it; later
trials, and the other DDP workers on the node, use the copy. A lock file serialises the trials
that arrive together, and the copy is keyed by the source's path and a fingerprint of its files
(count, sizes, modification times), so changed data gets a new copy instead of a stale one.
"""

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

__all__ = ["MARKER_FILE", "default_stage_root", "fingerprint", "stage_data"]

MARKER_FILE = ".lp_sweeps_staged.json"


def default_stage_root() -> Path:
    """``<$TMPDIR or the system temp dir>/lp_sweeps_data``: the node's own scratch space."""
    return Path(tempfile.gettempdir()) / "lp_sweeps_data"


def fingerprint(folder: Path) -> str:
    """A digest of every file's relative path, size and modification time under ``folder``."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root, name)
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def stage_data(source: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """The node-local copy of the folder ``source`` under ``root`` (default
    :func:`default_stage_root`), copying it first if this node has no current copy."""
    source = Path(source).resolve()
    if not source.is_dir():
        raise FileNotFoundError(f"cannot stage {source}: not a directory")
    root = Path(root) if root is not None else default_stage_root()
    root.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(f"{source}\0{fingerprint(source)}".encode()).hexdigest()[:16]
    target = root / f"{source.name}-{key}"
    if (target / MARKER_FILE).is_file():
        return target
    with open(root / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first trial on the node copies; the others wait here
        if (target / MARKER_FILE).is_file():
            return target
        partial = root / f".{target.name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        started = time.perf_counter()
        shutil.copytree(source, partial, symlinks=True)
        marker = {"source": str(source), "copied_s": round(time.perf_counter() - started, 3), "pid": os.getpid()}
        (partial / MARKER_FILE).write_text(json.dumps(marker))
        shutil.rmtree(target, ignore_errors=True)  # a copy an interrupted trial left without its marker
        os.replace(partial, target)
    return target
