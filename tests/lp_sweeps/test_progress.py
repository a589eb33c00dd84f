"""The driver's progress board: what it prints, and that Tune can pickle it with the experiment."""

import builtins
import pickle

from lp_sweeps.progress import ProgressBoard, print_line, read_ended


def test_board_pickles_after_builtins_print_was_replaced(tmp_path, monkeypatch):
    """Ray's tqdm support swaps ``builtins.print`` on a driver that joins a cluster; the board
    handed the original ``print`` must still pickle (Tune saves it with the experiment)."""
    original = builtins.print
    monkeypatch.setattr(builtins, "print", lambda *args, **kwargs: original(*args, **kwargs))
    board = ProgressBoard("val_pixel_error", "min", 4, 2, original, str(tmp_path / "ended"))
    assert board.printer is print_line
    restored = pickle.loads(pickle.dumps(board))
    assert restored.printer is print_line and restored.total == 2


def test_board_counts_and_records_ended_trials(tmp_path, capsys):
    ended = tmp_path / "ended"
    board = ProgressBoard("val_pixel_error", "min", 2, 2, print, str(ended))
    board.started("a")
    board.result("a", 1, 30.0)
    board.result("a", 2, 20.0)
    board.completed("a")
    board.started("b")
    board.errored("b")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert "trial a finished | done 1/2 (stopped early 0, failed 0), running 0" in lines[1]
    assert "best val_pixel_error: 20.000 (trial a)" in lines[1]
    assert "trial b failed | done 1/2 (stopped early 0, failed 1), running 0" in lines[3]
    assert read_ended(str(ended)) == {"a", "b"}
