"""Node-local data staging: one copy per node and data version, even when trials arrive together."""

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from lp_sweeps.staging import MARKER_FILE, fingerprint, stage_data


def make_project(folder: Path) -> Path:
    (folder / "labeled-data" / "session0").mkdir(parents=True)
    (folder / "videos").mkdir()
    (folder / "CollectedData.csv").write_text("scorer,a,b\n")
    for i in range(5):
        (folder / "labeled-data" / "session0" / f"img{i}.png").write_bytes(bytes([i]) * 1000)
    (folder / "videos" / "session0.mp4").write_bytes(b"\0" * 4096)
    return folder


def _stage(args: tuple[str, str]) -> str:
    return str(stage_data(*args))


def test_concurrent_trials_on_a_node_share_one_copy(tmp_path):
    source = make_project(tmp_path / "project")
    root = tmp_path / "scratch"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        targets = pool.map(_stage, [(str(source), str(root))] * 4)
    assert len(set(targets)) == 1
    target = Path(targets[0])
    copies = [p for p in root.iterdir() if p.is_dir()]
    assert copies == [target]  # one copy, no partial folder left behind
    assert fingerprint(target) != "" and sorted(p.name for p in target.rglob("*.png")) == [f"img{i}.png" for i in range(5)]
    assert (target / "videos" / "session0.mp4").stat().st_size == 4096
    marker = json.loads((target / MARKER_FILE).read_text())
    assert marker["source"] == str(source.resolve())


def test_unchanged_data_is_not_copied_again_and_changed_data_is(tmp_path):
    source = make_project(tmp_path / "project")
    root = tmp_path / "scratch"
    first = stage_data(source, root)
    marker = (first / MARKER_FILE).read_text()
    assert stage_data(source, root) == first and (first / MARKER_FILE).read_text() == marker
    (source / "CollectedData.csv").write_text("scorer,a,b,c\n")  # new labels
    os.utime(source / "CollectedData.csv", ns=(1, 1))
    second = stage_data(source, root)
    assert second != first and (second / "CollectedData.csv").read_text() == "scorer,a,b,c\n"


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        stage_data(tmp_path / "nowhere", tmp_path / "scratch")
