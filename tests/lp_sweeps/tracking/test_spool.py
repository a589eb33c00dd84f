"""lp_sweeps.tracking.spool: a trial's write-ahead log."""

from pathlib import Path

from lp_sweeps.tracking.spool import Spool


def test_spool_replays_only_unacknowledged_records(tmp_path: Path):
    spool = Spool(tmp_path, "k")
    for step in range(3):
        spool.append({"op": "metrics", "step": step, "timestamp": 0, "metrics": {"a": 1.0}})
    spool.acknowledge(2)
    with open(spool.path, "a") as handle:
        handle.write('{"seq": 4, "op": "metr')  # a write cut short by a crash
    again = Spool(tmp_path, "k")
    assert [r["seq"] for r in again.load_pending()] == [3]
    assert again.append({"op": "tags", "tags": {}})["seq"] == 4
    again.remove()
    assert not spool.path.exists() and not spool.ack_path.exists()


def test_spool_is_emptied_once_large_and_fully_acknowledged(tmp_path: Path):
    spool = Spool(tmp_path, "k")
    spool.append({"op": "tags", "tags": {"blob": "x" * (1 << 20)}})
    spool.compact()  # not acknowledged yet: kept
    assert spool.path.stat().st_size > 1 << 20
    spool.acknowledge(1)
    spool.compact()
    assert spool.path.read_text() == ""
    again = Spool(tmp_path, "k")
    assert again.load_pending() == [] and again.append({"op": "tags", "tags": {}})["seq"] == 2
