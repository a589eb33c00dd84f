"""The report's plotly figures, one function each, from :class:`~lp_sweeps.report.collect.SweepResults`."""

import math
from collections.abc import Sequence
from typing import Any, Optional

import pandas as pd
import plotly.graph_objects as go

from lp_sweeps.adapters.optuna import param_importances
from lp_sweeps.report.collect import CURVE_METRIC, RunSummary, SweepResults
from lp_sweeps.study.space import Parameter, render_value
from lp_sweeps.report.leaderboard import GroupRow

__all__ = [
    "importance_figure", "keypoint_error_figure", "learning_curves_figure", "leaderboard_figure",
    "parallel_coordinates_figure", "pareto_figure", "pareto_front",
]

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 30, "t": 30, "b": 50}, "height": 420}


def _fmt(value: Optional[float]) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.3f}"


def leaderboard_figure(results: SweepResults, ensemble_columns: Sequence[str]) -> go.Figure:
    """Configurations best first: mean ± sd over seeds where replicated, the search trial's value,
    and each configuration's ensemble metrics."""
    rows: list[GroupRow] = results.leaderboard
    cells: dict[str, list[Any]] = {
        "rank": list(range(1, len(rows) + 1)),
        "configuration": [r.label for r in rows],
        "seeds": [len(r.replicates) or 1 for r in rows],
        f"{results.metric} mean ± sd": [_fmt(r.mean) + (f" ± {_fmt(r.sd)}" if r.sd is not None else "") for r in rows],
        "search trial": [_fmt(r.search.value) if r.search else "" for r in rows],
    }
    for column in ensemble_columns:
        cells[column] = [_fmt(results.ensembles.get(r.group, {}).get(column)) for r in rows]
    widths = [0.5, 3.2, 0.6, 1.6, 1.0] + [1.2] * len(ensemble_columns)
    figure = go.Figure(go.Table(
        columnwidth=widths,
        header={"values": list(cells), "fill_color": "#2a3f5f", "font": {"color": "white"}, "align": "left",
                "height": 40},
        cells={"values": list(cells.values()), "align": "left", "height": 28},
    ))
    figure.update_layout(**{**_LAYOUT, "margin": {"l": 10, "r": 10, "t": 10, "b": 10}, "height": 80 + 34 * len(rows)})
    return figure


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _dimension(name: str, values: list[Any]) -> dict:
    if _numeric(values):
        return {"label": name, "values": values}
    labels = sorted({render_value(v) for v in values})
    codes = [labels.index(render_value(v)) for v in values]
    return {"label": name, "values": codes, "tickvals": list(range(len(labels))), "ticktext": labels}


def _short(key: str) -> str:
    return ".".join(key.split(".")[-2:])


def parallel_coordinates_figure(results: SweepResults, parameters: Sequence[Parameter]) -> go.Figure:
    """One line per run with a value, across its sampled values, to the objective (colour)."""
    runs = [r for r in results.runs if results.metric in r.values]
    dimensions = []
    for p in parameters:
        values = [r.params.get(p.key) for r in runs]
        if any(v is not None for v in values):
            dimensions.append(_dimension(_short(p.key), [v if v is not None else "n/a" for v in values]))
    objective = [r.values[results.metric] for r in runs]
    dimensions.append({"label": results.metric, "values": objective})
    figure = go.Figure(go.Parcoords(
        dimensions=dimensions,
        line={"color": objective, "colorscale": "Viridis", "reversescale": results.mode == "min", "showscale": True},
    ))
    figure.update_layout(**{**_LAYOUT, "margin": {"l": 80, "r": 60, "t": 70, "b": 40}})
    return figure


def _space(parameters: Sequence[Parameter], runs: Sequence[RunSummary]) -> dict[str, tuple]:
    space = {}
    for p in parameters:
        values = [r.params[p.key] for r in runs if p.key in r.params]
        if p.kind in ("uniform", "loguniform") and values and _numeric(values):
            space[p.key] = ("float", float(min(p.low, *values)), float(max(p.high, *values)), p.kind == "loguniform")
        elif p.kind == "int" and values and _numeric(values):
            space[p.key] = ("int", int(min(p.low, *values)), int(max(p.high, *values)))
        elif values:
            space[p.key] = ("categorical", tuple(sorted({render_value(v) for v in values})))
    return space


def importance_figure(results: SweepResults, parameters: Sequence[Parameter]) -> tuple[go.Figure, str]:
    """fANOVA importance of each parameter for the objective; (figure, a note on what it rests on)."""
    runs = [r for r in results.runs if r.seed is None and results.metric in r.values]
    space = _space(parameters, runs)
    samples = [({k: (v if space[k][0] != "categorical" else render_value(v)) for k, v in r.params.items() if k in space},
                r.values[results.metric]) for r in runs]
    try:
        importances = param_importances(samples, space)
        note = f"fANOVA (Optuna) over {len(samples)} search trials"
    except (ValueError, RuntimeError) as err:
        importances, note = {}, f"no importance: {err}"
    names = sorted(importances, key=importances.get)
    figure = go.Figure(go.Bar(x=[importances[n] for n in names], y=[_short(n) for n in names], orientation="h",
                              marker_color="#636efa"))
    figure.update_layout(xaxis_title=f"importance for {results.metric} (sums to 1)", **_LAYOUT)
    return figure, note


def learning_curves_figure(results: SweepResults) -> go.Figure:
    """Every run's validation pixel error per epoch; runs the scheduler stopped early dashed, with
    an x where they stopped."""
    figure = go.Figure()
    for run in results.runs:
        if not run.curve:
            continue
        epochs, values = zip(*run.curve)
        style = {"dash": "dash"} if run.stopped_early else {}
        figure.add_trace(go.Scatter(x=epochs, y=values, mode="lines+markers", name=run.name, line=style,
                                    legendgroup=run.group))
        if run.stopped_early:
            figure.add_trace(go.Scatter(x=[epochs[-1]], y=[values[-1]], mode="markers", showlegend=False,
                                        marker={"symbol": "x", "size": 11, "color": "black"},
                                        hovertext=f"{run.name}: stopped early", hoverinfo="text"))
    figure.update_layout(xaxis_title="epoch", yaxis_title=CURVE_METRIC, **{**_LAYOUT, "height": 480})
    return figure


def keypoint_error_figure(tables: dict[str, pd.DataFrame], split: str = "validation") -> go.Figure:
    """Mean pixel error per keypoint on ``split`` of a few runs (name -> per-keypoint table)."""
    figure = go.Figure()
    for name, table in tables.items():
        row = table.loc[split] if split in table.index else table.iloc[0]
        keypoints = [c for c in table.columns if c != "mean"]
        figure.add_trace(go.Bar(x=keypoints, y=[row[k] for k in keypoints], name=f"{name} (mean {row['mean']:.2f})"))
    figure.update_layout(barmode="group", yaxis_title=f"pixels ({split} frames)", **_LAYOUT)
    return figure


def pareto_front(points: Sequence[tuple[float, float]], modes: tuple[str, str]) -> list[int]:
    """Indices of the points no other point beats in both objectives (each ``min`` or ``max``)."""
    signs = [1.0 if m == "min" else -1.0 for m in modes]
    scored = [(signs[0] * a, signs[1] * b) for a, b in points]
    return [i for i, (a, b) in enumerate(scored)
            if not any(c <= a and d <= b and (c < a or d < b) for c, d in scored)]


def pareto_figure(results: SweepResults) -> go.Figure:
    """The runs in the plane of the first two objectives, the Pareto front joined."""
    (first, mode_a), (second, mode_b) = results.objectives[:2]
    runs = [r for r in results.runs if first in r.values and second in r.values]
    points = [(r.values[first], r.values[second]) for r in runs]
    front = sorted(pareto_front(points, (mode_a, mode_b)), key=lambda i: points[i][0])
    figure = go.Figure([
        go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="markers", name="runs",
                   text=[r.name for r in runs], marker={"color": "#9aa5b1", "size": 9}),
        go.Scatter(x=[points[i][0] for i in front], y=[points[i][1] for i in front], mode="lines+markers",
                   name="Pareto front", text=[runs[i].name for i in front], marker={"color": "#ef553b", "size": 11}),
    ])
    figure.update_layout(xaxis_title=f"{first} ({mode_a})", yaxis_title=f"{second} ({mode_b})", **_LAYOUT)
    return figure
