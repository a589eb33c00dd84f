"""lp_sweeps.study.space: distributions, conditions, per-keypoint parameters, grids, suggesters."""

from typing import Any, List, Optional

import pytest

from lp_sweeps.study.space import (
    Condition,
    Parameter,
    RandomSuggester,
    Suggester,
    check_groups,
    clean_param_names,
    dependency_order,
    expand_groups,
    fits_type,
    parse_parameter,
    render_value,
    sample_space,
    sample_value,
)
from lp_sweeps.search.grid import grid_points as grid_space
from lp_sweeps.study.errors import StudyError, study_source


class RecordingSuggester:
    """Answers from a fixed table (else the first option / low end) and records every call."""

    def __init__(self, answers: Optional[dict] = None) -> None:
        self.answers = answers or {}
        self.calls: list[tuple] = []

    def categorical(self, name: str, choices: Any) -> Any:
        self.calls.append(("categorical", name, list(choices)))
        return self.answers.get(name, choices[0])

    def uniform(self, name: str, low: float, high: float) -> float:
        self.calls.append(("uniform", name, low, high))
        return self.answers.get(name, low)

    def loguniform(self, name: str, low: float, high: float) -> float:
        self.calls.append(("loguniform", name, low, high))
        return self.answers.get(name, low)

    def integer(self, name: str, low: int, high: int, step: int) -> int:
        self.calls.append(("integer", name, low, high, step))
        return self.answers.get(name, low)


def draw(spec: dict, n: int = 300, seed: int = 0) -> list:
    parameter = parse_parameter("training.x", spec)
    suggester = RandomSuggester(seed)
    return [sample_value(parameter, suggester) for _ in range(n)]


# ------------------------------------------------------------------------------------------
# distributions
# ------------------------------------------------------------------------------------------


def test_uniform_values_are_floats_in_range():
    values = draw({"uniform": [3, 8]})
    assert all(type(v) is float and 3.0 <= v < 8.0 for v in values)
    assert min(values) < 3.5 and max(values) > 7.5  # the whole range is used


def test_loguniform_is_positive_and_uniform_in_log_space():
    values = draw({"loguniform": [1.0e-4, 1.0e-2]}, n=2000)
    assert all(type(v) is float and 1.0e-4 <= v <= 1.0e-2 for v in values)
    # half of the draws below the geometric middle 1e-3 (a uniform draw would put ~9% there)
    below = sum(v < 1.0e-3 for v in values) / len(values)
    assert 0.45 < below < 0.55


def test_int_respects_step_and_inclusive_bounds():
    values = draw({"int": [4, 16], "step": 4})
    assert all(type(v) is int for v in values)
    assert set(values) == {4, 8, 12, 16}


def test_int_default_step_is_one():
    assert set(draw({"int": [0, 3]})) == {0, 1, 2, 3}


def test_choice_returns_each_option_and_copies_lists():
    options = [[], ["temporal"], ["pca_singleview", "temporal"]]
    values = draw({"choice": options})
    assert all(v in options for v in values)
    assert {render_value(v) for v in values} == {"[]", "[temporal]", "[pca_singleview, temporal]"}
    values[1].append("mutated")
    assert parse_parameter("k", {"choice": options}).values[1] == ["temporal"]


def test_random_suggester_is_reproducible_with_a_seed():
    assert draw({"uniform": [0, 1]}, n=5, seed=3) == draw({"uniform": [0, 1]}, n=5, seed=3)
    assert draw({"uniform": [0, 1]}, n=5, seed=3) != draw({"uniform": [0, 1]}, n=5, seed=4)


def test_random_suggester_is_a_suggester():
    assert isinstance(RandomSuggester(0), Suggester)
    assert isinstance(RecordingSuggester(), Suggester)


def test_primitive_choices_go_to_the_suggester_unchanged():
    suggester = RecordingSuggester({"model.model_type": "regression"})
    p = parse_parameter("model.model_type", {"choice": ["heatmap", "regression"]})
    assert sample_value(p, suggester) == "regression"
    assert suggester.calls == [("categorical", "model.model_type", ["heatmap", "regression"])]


def test_list_choices_go_to_the_suggester_as_text():
    # Optuna's suggest_categorical takes only None/bool/int/float/str
    suggester = RecordingSuggester({"model.losses_to_use": "[pca_singleview, temporal]"})
    p = parse_parameter("model.losses_to_use", {"choice": [[], ["pca_singleview", "temporal"]]})
    assert sample_value(p, suggester) == ["pca_singleview", "temporal"]
    assert suggester.calls[0][2] == ["[]", "[pca_singleview, temporal]"]


def test_suggestion_calls_carry_the_bounds():
    suggester = RecordingSuggester()
    for spec in ({"uniform": [1, 2]}, {"loguniform": [0.1, 1.0]}, {"int": [2, 10], "step": 2}):
        sample_value(parse_parameter("k", spec), suggester)
    assert suggester.calls == [
        ("uniform", "k", 1.0, 2.0), ("loguniform", "k", 0.1, 1.0), ("integer", "k", 2, 10, 2),
    ]


# ------------------------------------------------------------------------------------------
# parsing errors (structure and ranges)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, key, message",
    [
        ({"choice": []}, "parameters.k.choice", "non-empty list"),
        ({"grid": [1, 1]}, "parameters.k.grid", "more than once"),
        ({"uniform": [3.0, 3.0]}, "parameters.k.uniform", "empty range: low (3.0) must be below high (3.0)"),
        ({"uniform": [8, 3]}, "parameters.k.uniform", "empty range"),
        ({"uniform": [1]}, "parameters.k.uniform", "[low, high]"),
        ({"loguniform": [0.0, 1.0]}, "parameters.k.loguniform", "low > 0"),
        ({"int": [1.5, 3]}, "parameters.k.int", "integer bounds"),
        ({"int": [4, 6], "step": 4}, "parameters.k.step", "step 4 is larger than the range [4, 6]"),
        ({"int": [4, 16], "step": 5}, "parameters.k.step", "multiple of step"),
        ({"int": [4, 16], "step": 0}, "parameters.k.step", "int >= 1"),
        ({"uniform": [1, 2], "step": 1}, "parameters.k.step", "only allowed with int"),
        ({"uniform": [1, 2], "choice": [1]}, "parameters.k", "exactly one distribution of ['choice'"),
        ({"normal": [0, 1]}, "parameters.k.normal", "allowed: ['choice', 'uniform', 'loguniform', 'int'"),
        (3, "parameters.k", "overrides"),
        ({"grid": [1, 2], "per_keypoint_groups": [[0]]}, "parameters.k", "cannot be combined with grid"),
        ({"uniform": [1, 2], "per_keypoint_groups": [[0], []]}, "parameters.k.per_keypoint_groups", "lists"),
        ({"uniform": [1, 2], "when": {"a": {"equals": 1}}}, "parameters.k.when.a", "['in', 'contains']"),
        ({"uniform": [1, 2], "when": {"a": {"in": []}}}, "parameters.k.when.a", "non-empty list"),
        ({"uniform": [1, 2], "when": []}, "parameters.k.when", "expected a mapping"),
    ],
)
def test_bad_parameter_specs_are_rejected(spec, key, message):
    with pytest.raises(StudyError) as err:
        parse_parameter("k", spec)
    assert err.value.key == key
    assert message in err.value.detail


def test_study_source_adds_the_file_to_errors_without_one():
    with pytest.raises(StudyError, match=r"^study.yaml: parameters.k.choice: choice needs"):
        with study_source("study.yaml"):
            parse_parameter("k", {"choice": []})
    with pytest.raises(StudyError, match=r"^first.yaml: k: d$"):
        with study_source("second.yaml"):
            raise StudyError("k", "d", "first.yaml")


# ------------------------------------------------------------------------------------------
# conditions
# ------------------------------------------------------------------------------------------


def test_condition_operators():
    assert Condition("k", "eq", "heatmap").holds("heatmap")
    assert not Condition("k", "eq", "heatmap").holds("regression")
    assert Condition("k", "eq", ["temporal"]).holds(["temporal"])
    assert not Condition("k", "eq", 1).holds(True)  # booleans are not numbers here
    assert Condition("k", "in", [1, 2]).holds(2)
    assert not Condition("k", "in", [1, 2]).holds(3)
    assert Condition("k", "contains", "temporal").holds(["pca_singleview", "temporal"])
    assert not Condition("k", "contains", "temporal").holds(["pca_singleview"])
    assert not Condition("k", "contains", "temporal").holds(None)


def conditional_space() -> list[Parameter]:
    # listed before the parameter it depends on: sampling must still see losses_to_use first
    return [
        parse_parameter(
            "losses.temporal.log_weight",
            {"uniform": [3.0, 8.0], "when": {"model.losses_to_use": {"contains": "temporal"}}},
        ),
        parse_parameter("model.losses_to_use", {"choice": [[], ["temporal"]]}),
        parse_parameter(
            "data.downsample_factor",
            {"choice": [2, 3], "when": {"model.model_type": {"in": ["heatmap", "heatmap_mhcrnn"]}}},
        ),
        parse_parameter("training.train_batch_size", {"int": [4, 8], "when": {"model.backbone": "resnet18"}}),
    ]


def test_dependency_order_puts_conditions_first():
    keys = [p.key for p in dependency_order(conditional_space())]
    assert keys.index("model.losses_to_use") < keys.index("losses.temporal.log_weight")


def test_condition_true_samples_and_false_leaves_out():
    base = {"model.model_type": "regression", "model.backbone": "resnet18"}
    on = RecordingSuggester({"model.losses_to_use": "[temporal]", "losses.temporal.log_weight": 5.5})
    sampled = sample_space(conditional_space(), on, base)
    assert sampled == {
        "model.losses_to_use": ["temporal"], "losses.temporal.log_weight": 5.5, "training.train_batch_size": 4,
    }
    off = RecordingSuggester({"model.losses_to_use": "[]"})
    sampled = sample_space(conditional_space(), off, {"model.model_type": "heatmap", "model.backbone": "resnet50"})
    assert sampled == {"model.losses_to_use": [], "data.downsample_factor": 2}
    assert [c[1] for c in off.calls] == ["model.losses_to_use", "data.downsample_factor"]  # nothing else asked


def test_fixed_values_are_used_and_conditions_see_them():
    sampled = sample_space(
        conditional_space(), RandomSuggester(0), {"model.model_type": "regression"},
        fixed={"model.losses_to_use": ["temporal"]},
    )
    assert sampled["model.losses_to_use"] == ["temporal"]
    assert 3.0 <= sampled["losses.temporal.log_weight"] < 8.0


def test_condition_on_an_unsampled_parameter_reads_the_base_value():
    space = [
        parse_parameter("model.model_type", {"choice": ["heatmap"], "when": {"model.backbone": "vit"}}),
        parse_parameter("data.downsample_factor", {"choice": [3], "when": {"model.model_type": "regression"}}),
    ]
    sampled = sample_space(space, RandomSuggester(0), {"model.backbone": "resnet18", "model.model_type": "regression"})
    assert sampled == {"data.downsample_factor": 3}


def test_a_cycle_of_conditions_is_rejected():
    space = [
        parse_parameter("a.x", {"choice": [1], "when": {"a.y": 1}}),
        parse_parameter("a.y", {"choice": [1], "when": {"a.x": 1}}),
    ]
    with pytest.raises(StudyError, match=r"\['a.x', 'a.y'\] form a cycle"):
        dependency_order(space)


# ------------------------------------------------------------------------------------------
# per-keypoint (vector) parameters
# ------------------------------------------------------------------------------------------


def test_expand_groups_gives_each_keypoint_its_group_value():
    assert expand_groups([[0, 1], [2, 3, 4]], [10.0, 20.0]) == [10.0, 10.0, 20.0, 20.0, 20.0]
    assert expand_groups([[3, 1], [0, 2]], ["a", "b"]) == ["b", "a", "b", "a"]


def test_vector_parameter_one_suggestion_per_group():
    p = parse_parameter("losses.temporal.epsilon", {"uniform": [2.0, 20.0], "per_keypoint_groups": [[0, 1], [2, 3, 4]]})
    assert p.suggestion_names == ["losses.temporal.epsilon[g0]", "losses.temporal.epsilon[g1]"]
    suggester = RecordingSuggester({"losses.temporal.epsilon[g0]": 4.0, "losses.temporal.epsilon[g1]": 12.0})
    assert sample_value(p, suggester) == [4.0, 4.0, 12.0, 12.0, 12.0]
    assert [c[1] for c in suggester.calls] == p.suggestion_names


def test_vector_parameter_random_values_are_constant_within_groups():
    p = parse_parameter("k", {"int": [1, 9], "per_keypoint_groups": [[0, 2], [1]]})
    values = sample_value(p, RandomSuggester(1))
    assert len(values) == 3 and values[0] == values[2] and all(type(v) is int and 1 <= v <= 9 for v in values)


@pytest.mark.parametrize(
    "groups, message",
    [
        ([[0, 1], [2, 3]], "missing [4], repeated [], out of range []"),
        ([[0, 1, 2], [2, 3, 4]], "missing [], repeated [2], out of range []"),
        ([[0, 1, 2, 3, 4, 5]], "missing [], repeated [], out of range [5]"),
    ],
)
def test_groups_must_cover_every_keypoint_once(groups, message):
    with pytest.raises(StudyError, match=r"cover keypoints 0..4 exactly once") as err:
        check_groups(groups, 5, "parameters.k.per_keypoint_groups")
    assert message in str(err.value)
    check_groups([[4, 0], [1, 2, 3]], 5, "ok")


# ------------------------------------------------------------------------------------------
# grids, names, types
# ------------------------------------------------------------------------------------------


def test_grid_space_is_the_cartesian_product_in_file_order():
    space = [
        parse_parameter("data.downsample_factor", {"grid": [1, 2]}),
        parse_parameter("training.x", {"uniform": [0, 1]}),
        parse_parameter("model.losses_to_use", {"grid": [[], ["temporal"], ["pca_singleview"]]}),
    ]
    points = grid_space(space)
    assert len(points) == 6
    assert points[0] == {"data.downsample_factor": 1, "model.losses_to_use": []}
    assert points[-1] == {"data.downsample_factor": 2, "model.losses_to_use": ["pca_singleview"]}
    assert grid_space([parse_parameter("training.x", {"uniform": [0, 1]})]) == [{}]


def test_clean_param_names_for_mlflow():
    clean = clean_param_names({
        "model.losses_to_use": ["pca_singleview", "temporal"],
        "losses.temporal.epsilon": [2.5, 2.5, 7.0],
        "training.optimizer_params.learning_rate": 0.001,
        "training.train_batch_size": 8,
        "model.backbone_pretrained": False,
        "data.columns_for_singleview_pca": None,
        "weird[key]:x": "v",
    })
    assert clean == {
        "model.losses_to_use": "[pca_singleview, temporal]",
        "losses.temporal.epsilon": "[2.5, 2.5, 7.0]",
        "training.optimizer_params.learning_rate": 0.001,
        "training.train_batch_size": 8,
        "model.backbone_pretrained": "false",
        "data.columns_for_singleview_pca": "null",
        "weird_key__x": "v",
    }


def test_fits_type():
    assert fits_type(int, 3) and not fits_type(int, 3.5) and not fits_type(int, True)
    assert fits_type(float, 3) and fits_type(float, 0.5) and not fits_type(float, "x")
    assert fits_type(Optional[int], None) and not fits_type(int, None)
    assert fits_type(Optional[List[str]], ["temporal"]) and not fits_type(List[str], [1])
    assert fits_type(Any, [1.0, 2.0]) and fits_type(Any, None)
    assert fits_type(bool, False) and not fits_type(bool, 0)
