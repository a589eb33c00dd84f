"""A sweep's report: one self-contained HTML page (``lp-sweep report SWEEP``), also logged to the
sweep's parent run.

    collect.py   what MLflow holds of the sweep: runs, values, curves, groups, ensembles, leaderboard
    figures.py   the plotly figures (leaderboard, parallel coordinates, importance, curves, ...)
    frames.py    pictures of a run's predictions on labeled and video frames
    page.py      the HTML page (plotly.js inlined, pictures embedded)
    build.py     collect + pictures + page
"""

from lp_sweeps.report.build import REPORT_FILE, build_report, run_pictures
from lp_sweeps.report.collect import RunSummary, SweepResults, collect

__all__ = ["REPORT_FILE", "RunSummary", "SweepResults", "build_report", "collect", "run_pictures"]
