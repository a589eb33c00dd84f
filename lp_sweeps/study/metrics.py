"""The metrics a trial reports, declared once: their names, which way is better, and when they
are measured. The objective's allowed metrics, the trial's video stage, the leaderboard and the
report all read this table.

* ``epoch`` metrics are reported after every validation epoch (schedulers can stop trials on them);
* ``video`` metrics are measured once, after training, on held-out videos (the video stage:
  :mod:`lp_sweeps.trial.evaluation`), and reported with the trial's last validation epoch.
"""

from dataclasses import dataclass

__all__ = ["EPOCH", "METRICS", "MetricSpec", "VIDEO", "VIDEO_METRICS", "better", "metric_spec"]

EPOCH, VIDEO = "epoch", "video"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    mode: str  # "min" | "max": which way is better
    stage: str  # EPOCH | VIDEO
    label: str  # what it measures, for people (the report, docs)


METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in (
    MetricSpec("val_pixel_error", "min", EPOCH, "mean pixel error on the validation frames"),
    MetricSpec("val_supervised_loss", "min", EPOCH, "supervised loss on the validation frames"),
    MetricSpec("val_supervised_rmse", "min", EPOCH, "root-mean-square keypoint error on the validation frames"),
    MetricSpec("video_temporal_norm", "min", VIDEO,
               "mean distance (px) a keypoint moves between consecutive frames of the held-out videos"),
    MetricSpec("video_pca_singleview_error", "min", VIDEO,
               "mean reprojection error (px) of the video predictions on the single-view pose PCA"),
    MetricSpec("video_pca_multiview_error", "min", VIDEO,
               "mean reprojection error (px) of the video predictions on the multiview (mirrored) PCA"),
    MetricSpec("video_confidence", "max", VIDEO, "mean keypoint confidence on the held-out videos"),
    MetricSpec("video_pixel_error", "min", VIDEO,
               "mean pixel error on video frames that have ground truth (<video>_ground_truth.csv)"),
)}

VIDEO_METRICS = tuple(name for name, spec in METRICS.items() if spec.stage == VIDEO)


def metric_spec(name: str) -> MetricSpec:
    """The declared metric ``name``; ValueError listing the known ones."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {list(METRICS)}")
    return METRICS[name]


def better(value: float, other: float, mode: str) -> bool:
    """Whether ``value`` is better than ``other`` for a metric of ``mode``."""
    return value < other if mode == "min" else value > other
