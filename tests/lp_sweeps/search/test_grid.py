"""lp_sweeps.search.grid: each grid combination gets exactly num_samples trials, in turn."""

import pytest

from lp_sweeps.search import GridPlan, grid_points
from lp_sweeps.study.space import parse_parameter


def test_grid_points_are_the_cartesian_product_in_file_order():
    parameters = [parse_parameter("a", {"grid": [1, 2]}), parse_parameter("b", {"uniform": [0.0, 1.0]}),
                  parse_parameter("c", {"grid": ["x", "y", "z"]})]
    assert grid_points(parameters) == [{"a": 1, "c": "x"}, {"a": 1, "c": "y"}, {"a": 1, "c": "z"},
                                       {"a": 2, "c": "x"}, {"a": 2, "c": "y"}, {"a": 2, "c": "z"}]
    assert grid_points([parameters[1]]) == [{}]


def test_plan_hands_out_points_round_robin_num_samples_each():
    plan = GridPlan(num_points=3, num_samples=2)
    assigned = [plan.assign(f"t{i}") for i in range(6)]
    assert assigned == [0, 1, 2, 0, 1, 2]
    assert plan.counts() == [2, 2, 2] and plan.total == 6
    assert plan.assign("t6") is None  # every point has its trials
    assert plan.assign("t4") == 1 and plan.point_of("t4") == 1  # a trial keeps its point
    assert plan.point_of("unknown") is None


def test_plan_without_grid_parameters_is_one_point():
    plan = GridPlan(num_points=1, num_samples=4)
    assert [plan.assign(str(i)) for i in range(5)] == [0, 0, 0, 0, None]


@pytest.mark.parametrize("points, samples", [(0, 1), (1, 0)])
def test_plan_needs_points_and_samples(points, samples):
    with pytest.raises(ValueError, match="at least one grid point and one sample"):
        GridPlan(points, samples)
