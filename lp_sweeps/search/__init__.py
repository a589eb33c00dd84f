"""How a sweep searches: the searcher and scheduler registries (:mod:`.registry`), the builders
registered in them (:mod:`.searchers`, :mod:`.schedulers`), their option declarations
(:mod:`.options`) and the grid rule (:mod:`.grid`). Pure Python: the adapters turn the plans
into Optuna and Ray Tune objects."""

from lp_sweeps.search import schedulers, searchers  # noqa: F401  (fill the registries)
from lp_sweeps.search.grid import GridPlan, grid_points
from lp_sweeps.search.options import Option, OptionError, parse_options
from lp_sweeps.search.registry import SCHEDULERS, SEARCHERS, SamplerPlan, SchedulerPlan, options_of, space_check_of

__all__ = [
    "GridPlan", "Option", "OptionError", "SCHEDULERS", "SEARCHERS", "SamplerPlan", "SchedulerPlan",
    "grid_points", "options_of", "parse_options", "space_check_of",
]
