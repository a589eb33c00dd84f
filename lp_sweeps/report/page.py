"""``lp-sweep report``: one self-contained HTML page of a sweep.

plotly.js is inlined once and the pictures are embedded as data URIs, so the page shows the same
offline, from an e-mail attachment or as an MLflow artifact: nothing is fetched when it is viewed.
"""

import base64
import datetime
import html
import logging
import tempfile
from pathlib import Path
from typing import Optional

import pandas as pd
import plotly.graph_objects as go
import plotly.offline

from lp_sweeps.report.collect import SweepResults
from lp_sweeps.report.figures import (
    importance_figure, keypoint_error_figure, learning_curves_figure, leaderboard_figure,
    parallel_coordinates_figure, pareto_figure,
)
from lp_sweeps.study import Study
from lp_sweeps.study.metrics import METRICS
from lp_sweeps.report.ensembles import ENSEMBLE_METRICS
from lp_sweeps.tracking import TrackingStore
from lp_sweeps.trial.evaluation import LABELED_ARTIFACTS, PER_KEYPOINT_FILE

__all__ = ["TOP_RUNS", "Pictures", "render_page", "top_keypoint_tables"]

logger = logging.getLogger(__name__)

TOP_RUNS = 3  # runs shown in the per-keypoint chart
_STYLE = """
body { font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; margin: 24px auto;
       max-width: 1180px; color: #1f2933; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #e4e7eb; }
.meta { color: #52606d; } .note { color: #52606d; font-size: 0.9em; } figure { margin: 0; }
img { max-width: 100%; border: 1px solid #e4e7eb; }
"""


class Pictures:
    """PNG bytes of the best run's predictions (either may be None)."""

    def __init__(self, run_name: str, labeled: Optional[bytes], video: Optional[bytes]) -> None:
        self.run_name, self.labeled, self.video = run_name, labeled, video


def top_keypoint_tables(results: SweepResults, store: TrackingStore, count: int = TOP_RUNS) -> dict[str, pd.DataFrame]:
    """Run name -> per-keypoint pixel error table of the ``count`` best runs that logged one."""
    tables = {}
    with tempfile.TemporaryDirectory(prefix="lp-report-") as folder:
        for run in results.ranked_runs():
            if len(tables) == count:
                break
            try:
                path = store.download(run.run_id, f"{LABELED_ARTIFACTS}/{PER_KEYPOINT_FILE}", Path(folder) / run.run_id)
            except Exception as err:  # an older run without the file
                logger.info(f"run {run.name}: no per-keypoint errors ({err})")
                continue
            tables[run.name] = pd.read_csv(path, index_col=0)
    return tables


def _figure_html(figure: go.Figure, div_id: str) -> str:
    return figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                          config={"displaylogo": False, "responsive": True})


def _section(title: str, body: str, note: str = "") -> str:
    remark = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return f"<section><h2>{html.escape(title)}</h2>{body}{remark}</section>"


def _image(png: Optional[bytes], alt: str) -> str:
    if png is None:
        return f'<p class="note">{html.escape(alt)}: none</p>'
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _plots(results: SweepResults, study: Study, tables: dict[str, pd.DataFrame]) -> list[str]:
    ensemble_columns = [m for m in ENSEMBLE_METRICS if any(m in e for e in results.ensembles.values())]
    importance, importance_note = importance_figure(results, study.parameters)
    sections = [
        _section("Leaderboard", _figure_html(leaderboard_figure(results, ensemble_columns), "plot-leaderboard"),
                 "Replicated configurations are ranked by the mean over their seeds (the search trial, picked for "
                 "being good, is not in the mean); the others by their search trial. A run's value is its best report."),
        _section("Parameters against the objective",
                 _figure_html(parallel_coordinates_figure(results, study.parameters), "plot-parallel")),
        _section("Parameter importance", _figure_html(importance, "plot-importance"), importance_note),
        _section("Learning curves", _figure_html(learning_curves_figure(results), "plot-curves"),
                 "Dashed, ending in an x: runs the scheduler stopped early."),
    ]
    if tables:
        sections.append(_section("Pixel error per keypoint of the best runs",
                                 _figure_html(keypoint_error_figure(tables), "plot-keypoints")))
    if len(results.objectives) >= 2:
        sections.append(_section("Pareto front", _figure_html(pareto_figure(results), "plot-pareto"),
                                 "Red: the runs no other run beats on both objectives."))
    return sections


def render_page(results: SweepResults, study: Study, tables: dict[str, pd.DataFrame], pictures: Optional[Pictures],
                output: Path) -> Path:
    """Write the report of ``results`` to ``output`` and return it."""
    counts = ", ".join(f"{n} {state.lower().replace('_', ' ')}" for state, n in sorted(results.state_counts.items()))
    objectives = "; ".join(f"{mode} {m} ({METRICS[m].label})" for m, mode in results.objectives)
    header = (f"<h1>Sweep {html.escape(results.sweep_name)}</h1>"
              f'<p class="meta">study {html.escape(results.study_name)} · {len(results.runs)} runs: {counts} · '
              f"objective: {html.escape(objectives)} · written {datetime.datetime.now():%Y-%m-%d %H:%M}</p>")
    sections = _plots(results, study, tables)
    if pictures is not None:
        body = (f"<h3>Labeled frames (green rings: labels, red dots: predictions)</h3>"
                f"{_image(pictures.labeled, 'labeled frames')}"
                "<h3>Video frames (green rings: ground truth where the video has it)</h3>"
                f"{_image(pictures.video, 'video frames')}")
        sections.append(_section(f"Predictions of the best run: {pictures.run_name}", body))
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(results.sweep_name)}</title>"
            f"<style>{_STYLE}</style><script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script></head>"
            f"<body>{header}{''.join(sections)}</body></html>")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    return output
