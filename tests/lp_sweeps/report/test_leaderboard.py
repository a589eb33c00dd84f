"""lp_sweeps.report.leaderboard and the Pareto front: rankings with hand-computed numbers."""

import pytest

from lp_sweeps.report.figures import pareto_front
from lp_sweeps.report.leaderboard import Entry, build_leaderboard, markdown_leaderboard, replicate_candidates


def _entries() -> list[Entry]:
    return [
        Entry("a", "t01 heatmap", "t01", 10.0, {"lr": 1}),
        Entry("b", "t02 regression", "t02", 8.0, {"lr": 2}),
        Entry("c", "t03 heatmap", "t03", 12.0, {"lr": 3}),
        Entry("d", "t04 heatmap", "t04", None, {"lr": 4}),  # failed: no value
        Entry("b1", "t02.s1 regression", "t02", 9.0, {"lr": 2}, seed=1),
        Entry("b2", "t02.s2 regression", "t02", 13.0, {"lr": 2}, seed=2),
        Entry("a1", "t01.s1 heatmap", "t01", 10.5, {"lr": 1}, seed=1),
        Entry("a2", "t01.s2 heatmap", "t01", 11.5, {"lr": 1}, seed=2),
    ]


def test_replicated_configurations_rank_first_by_their_mean_then_the_rest():
    rows = build_leaderboard(_entries(), "min")
    assert [r.group for r in rows] == ["t01", "t02", "t03", "t04"]
    # t01: mean(10.5, 11.5) = 11.0, sd = sqrt(((-0.5)^2 + 0.5^2) / 1) = 0.7071; t02: mean(9, 13) = 11.0 too,
    # sd = 2.8284 -- ties by mean keep the group order; the search trial (picked for being good) is left out
    assert rows[0].mean == 11.0 and rows[0].sd == pytest.approx(0.5 ** 0.5)
    assert rows[1].mean == 11.0 and rows[1].sd == pytest.approx(8 ** 0.5)
    assert (rows[2].mean, rows[2].sd, rows[2].replicates) == (12.0, None, ())
    assert rows[3].mean is None
    assert [e.trial_id for e in rows[1].runs("min")] == ["b", "b1", "b2"]
    assert [r.group for r in build_leaderboard(_entries(), "max")][:3] == ["t01", "t02", "t03"]


def test_candidates_are_the_best_distinct_configurations():
    entries = [*_entries(), Entry("e", "t05 regression", "t05", 7.0, {"lr": 2})]  # t02's values again
    assert [e.trial_id for e in replicate_candidates(entries, "min", 2)] == ["e", "a"]
    assert [e.trial_id for e in replicate_candidates(entries, "max", 1)] == ["c"]


def test_markdown_table():
    rows = build_leaderboard(_entries(), "min")
    text = markdown_leaderboard(rows, "val_pixel_error", {"t01": {"eks_video_pixel_error": 3.14159}}, limit=2)
    assert text.splitlines() == [
        "| rank | configuration | seeds | val_pixel_error (mean ± sd) | search trial | eks_video_pixel_error |",
        "|---:|---|---:|---|---:|---:|",
        "| 1 | t01 heatmap | 2 | 11.000 ± 0.707 | 10.000 | 3.142 |",
        "| 2 | t02 regression | 2 | 11.000 ± 2.828 | 8.000 | - |",
        "",
        "2 more configurations in the report.",
    ]


def test_pareto_front():
    points = [(1.0, 5.0), (2.0, 2.0), (3.0, 3.0), (4.0, 1.0), (2.0, 2.0), (5.0, 0.5)]
    assert pareto_front(points, ("min", "min")) == [0, 1, 3, 4, 5]  # (3, 3) is beaten by (2, 2)
    assert pareto_front(points, ("min", "max")) == [0]
    assert pareto_front(points, ("max", "min")) == [5]
