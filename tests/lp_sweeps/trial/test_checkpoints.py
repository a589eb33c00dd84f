"""Epoch checkpoints wait in scratch folders named after their process; those of processes that
died are removed by the next trial, those of live ones and foreign folders are not."""

import os
import subprocess
import sys
from pathlib import Path

import psutil

from lp_sweeps.trial.checkpoints import SCRATCH_PREFIX, reap_orphan_scratch, scratch_folder


def test_a_scratch_folder_carries_its_process_id():
    folder = Path(scratch_folder())
    try:
        assert folder.name.startswith(f"{SCRATCH_PREFIX}{os.getpid()}-") and folder.is_dir()
    finally:
        folder.rmdir()


def test_scratch_folders_of_dead_processes_are_removed(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert not psutil.pid_exists(process.pid) and psutil.pid_exists(os.getpid())
    orphan = tmp_path / f"{SCRATCH_PREFIX}{process.pid}-k3j_2x"
    live = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}-a8_bq1"
    unnamed = tmp_path / f"{SCRATCH_PREFIX}k3j_2x"  # the older naming: whose it is cannot be told
    for folder in (orphan, live, unnamed):
        folder.mkdir()
        (folder / "model.ckpt").write_bytes(b"weights")
    assert reap_orphan_scratch(str(tmp_path)) == [orphan]
    assert not orphan.exists() and (live / "model.ckpt").is_file() and (unnamed / "model.ckpt").is_file()
    assert reap_orphan_scratch(str(tmp_path)) == []
