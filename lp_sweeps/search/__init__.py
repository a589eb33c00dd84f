"""How a sweep searches: the searcher and scheduler registries (:mod:`.registry`), the builders
registered in them (:mod:`.searchers`, :mod:`.schedulers`, :mod:`.pbt`), their option declarations
(:mod:`.options`), the grid rule (:mod:`.grid`), the values that may change mid-training
(:mod:`.mutable`) and Pareto fronts (:mod:`.pareto`). Pure Python: the adapters turn the plans
into Optuna and Ray Tune objects."""

from lp_sweeps.search import pbt, schedulers, searchers  # noqa: F401  (fill the registries)
from lp_sweeps.search.grid import GridPlan, grid_points
from lp_sweeps.search.mutable import MUTABLE_KEYS, mutability
from lp_sweeps.search.options import Option, OptionError, parse_options
from lp_sweeps.search.pareto import dominates, pareto_front
from lp_sweeps.search.registry import (
    SCHEDULERS, SEARCHERS, SamplerPlan, SchedulerPlan, TrialLayout, mutations_of, one_objective_reason, options_of,
    per_report_reason, runs_without_searcher, space_check_of, study_check_of,
)

__all__ = [
    "GridPlan", "MUTABLE_KEYS", "Option", "OptionError", "SCHEDULERS", "SEARCHERS", "SamplerPlan", "SchedulerPlan",
    "TrialLayout", "dominates", "grid_points", "mutability", "mutations_of", "one_objective_reason", "options_of",
    "pareto_front", "parse_options", "per_report_reason", "runs_without_searcher", "space_check_of", "study_check_of",
]
